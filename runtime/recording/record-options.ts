/**
 * The published types of `runtime.record()` and the check of its arguments,
 * apart from the recorder so that they reach no stream or codec module.
 */
import { InvalidOptionError } from '../../errors.js';
import { assertKnownKeys, describe } from '../validate.js';

/** Options of `runtime.record()`. */
export interface RecordOptions {
  /**
   * Bytes of records (encoded in chunks, compressed) held in memory while
   * the file is slower than the run; past it the oldest chunks are dropped
   * and their records counted (`RecordingSummary.dropped`). Default 64 MiB.
   */
  readonly maxBufferedBytes?: number;
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
    throw new InvalidOptionError('record options', `expected an object such as { maxBufferedBytes: 67108864 }, got ${describe(options)}.`);
  }
  assertKnownKeys(options, ['maxBufferedBytes'], 'record options');
  const { maxBufferedBytes } = options as Record<string, unknown>;
  if (maxBufferedBytes !== undefined && (typeof maxBufferedBytes !== 'number' || !Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < 0)) {
    throw new InvalidOptionError('record options.maxBufferedBytes', `expected an integer of at least 0 (bytes), got ${describe(maxBufferedBytes)}.`);
  }
  return options as RecordOptions;
}
