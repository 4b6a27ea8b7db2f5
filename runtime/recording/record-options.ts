/**
 * The published types of `runtime.record()` and the check of its arguments,
 * apart from the recorder so that they reach no stream or codec module.
 */
import { InvalidOptionError } from '../../errors.js';
import { assertKnownKeys, describe } from '../validate.js';

/** Options of `runtime.record()`. */
export interface RecordOptions {
  /**
   * Records held in memory while the file is slower than the run; past it
   * the oldest are dropped and counted (`RecordingSummary.dropped`).
   * Default 100 000.
   */
  readonly maxBuffered?: number;
}

/** What a recording wrote, once stopped. */
export interface RecordingSummary {
  /** The file. */
  readonly path: string;
  /** Inspection records written. */
  readonly inspections: number;
  /** Bus events written (events a main station accepted). */
  readonly events: number;
  /** Records lost: dropped because the file was slower than the run, or on their way to the root. */
  readonly dropped: number;
  /** Bytes in the file. */
  readonly bytes: number;
}

/** A recording under way (`runtime.record()`). */
export interface RecordingHandle {
  /** The file's path (a `file:` URL given is turned into its path). */
  readonly path: string;
  /** Writes what is held and the last chunk, and closes the file. `runtime.stop()` does it too. Idempotent. */
  stop(): Promise<RecordingSummary>;
}

/** Checks `runtime.record()`'s arguments; throws `InvalidOptionError` naming the wrong one. */
export function checkRecordArguments(path: unknown, options: unknown): RecordOptions {
  if (!(path instanceof URL && path.protocol === 'file:') && (typeof path !== 'string' || path.length === 0)) {
    throw new InvalidOptionError('record path', `expected the path (or file: URL) of the file to write, got ${describe(path)}.`);
  }
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('record options', `expected an object such as { maxBuffered: 100000 }, got ${describe(options)}.`);
  }
  assertKnownKeys(options, ['maxBuffered'], 'record options');
  const { maxBuffered } = options as Record<string, unknown>;
  if (maxBuffered !== undefined && (typeof maxBuffered !== 'number' || !Number.isInteger(maxBuffered) || maxBuffered < 1 || maxBuffered > 10_000_000)) {
    throw new InvalidOptionError('record options.maxBuffered', `expected an integer from 1 to 10000000, got ${describe(maxBuffered)}.`);
  }
  return options as RecordOptions;
}
