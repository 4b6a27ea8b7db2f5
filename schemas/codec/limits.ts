/**
 * The caps a decoder enforces (`FrameLimits`), and what a writer may keep
 * between frames.
 */
import { InvalidOptionError } from '../../errors.js';
import { MAX_META_ENTRIES } from '../../runtime/validate.js';
import { describe } from './wire-values.js';

/**
 * Caps a decoder enforces before it allocates anything in proportion to what a
 * frame claims. `encodeFrame` refuses to write what these would refuse to read.
 */
export interface FrameLimits {
  /** Largest body, both as transmitted and uncompressed. */
  readonly maxFrameBytes: number;
  /** Most events in one batch (history + queue). */
  readonly maxEvents: number;
  /** Longest string in UTF-8 bytes: ids, types, topics, meta keys and values, sync types, ack errors. */
  readonly maxStringBytes: number;
  /** Longest payload of one event in bytes (JSON text or raw bytes). */
  readonly maxPayloadBytes: number;
  /** Most meta entries on one event (at most `MAX_META_ENTRIES`, post()'s rule, whatever this says). */
  readonly maxMetaEntries: number;
  /** Most types in one sync request. */
  readonly maxTypes: number;
}

/** The limits used when none are given. */
export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({
  maxFrameBytes: 64 * 1024 * 1024,
  maxEvents: 1_000_000,
  maxStringBytes: 1024 * 1024,
  maxPayloadBytes: 64 * 1024 * 1024,
  maxMetaEntries: MAX_META_ENTRIES,
  maxTypes: 65_536,
});

const LIMIT_KEYS = Object.keys(DEFAULT_FRAME_LIMITS) as (keyof FrameLimits)[];
/** The u32 length fields and the FlatBuffers builder (2 GiB) cap every limit. */
export const MAX_LIMIT = 0x7fff_ffff;

/**
 * `limits` completed with `DEFAULT_FRAME_LIMITS`. Throws `InvalidOptionError`
 * for a limit that is not an integer from 1 to 2^31 - 1.
 */
export function resolveFrameLimits(limits?: Partial<FrameLimits>): FrameLimits {
  if (limits === undefined || limits === DEFAULT_FRAME_LIMITS) return DEFAULT_FRAME_LIMITS;
  if (typeof limits !== 'object' || limits === null) {
    throw new InvalidOptionError('limits', `expected an object of FrameLimits, got ${describe(limits)}.`);
  }
  const resolved: Record<string, number> = { ...DEFAULT_FRAME_LIMITS };
  for (const key of LIMIT_KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
      throw new InvalidOptionError(`limits.${key}`, `expected an integer from 1 to ${MAX_LIMIT}, got ${describe(value)}.`);
    }
    resolved[key] = value;
  }
  return Object.freeze(resolved) as unknown as FrameLimits;
}

/**
 * Builders, writers and scratch memory above this capacity are dropped after
 * use instead of being kept for the next frame.
 */
export const KEEP_BUILDER_BYTES = 1024 * 1024;
