/**
 * Encoded batches: what `scanFrame` returns and a station keeps, history
 * events still bytes in a verified body, read lazily (`decodeEvents`, the
 * `event*At` accessors) and forwarded by copying their bytes
 * (`EncodedEventRef`, `ForwardBatch`).
 */
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Endpoint, Origin } from '../../types.js';
import { BodyReader } from './body-reader.js';
import { openEvent, readEvent, readOrigin } from './event-reader.js';
import { asFrameError } from './frame.js';
import { EVENT_FIELD_ID, EVENT_FIELD_ORIGIN, EVENT_FIELD_TYPE } from './layout.js';
import { DEFAULT_FRAME_LIMITS } from './limits.js';
import { describe } from './wire-values.js';

/**
 * A batch frame verified and indexed by `scanFrame`, its history events still
 * bytes: read them with `decodeEvents`, `eventIdAt`, `eventTypeAt` and
 * `eventOriginAt`, forward them with `encodeForwardFrame`. Everything
 * `decodeFrame` checks has been checked, except that JSON payloads are known
 * to be UTF-8 but have not been parsed.
 */
export interface EncodedBatch {
  readonly kind: 'encodedBatch';
  readonly seq: number;
  readonly from: Endpoint;
  /**
   * The verified, decompressed body (a view; never written to). When the frame
   * was neither compressed nor in shared memory, this is a view of the frame
   * itself: leave the frame unchanged while the batch is in use.
   */
  readonly body: Uint8Array;
  /** Number of history events. */
  readonly count: number;
  /*
   * The scan table: what reads of the history need without opening an event,
   * as compact as a frame allows, for a station keeps it as long as any of
   * the frame's events. Read it with `eventTimestampAt`, `eventSideAt` and
   * `eventPositionAt`. Event positions are not copied: the body's history
   * vector holds them (`events`, verified by the scan).
   */
  /** Position in `body` of the history vector's first offset. */
  readonly events: number;
  /** Timestamps as offsets from `stampBase` (every stamp an integer within ±2^31 ms of the first), else empty. */
  readonly stampBase: number;
  readonly stampOffsets: Int32Array;
  /** The timestamps themselves when offsets cannot hold them (fractional stamps, a frame spanning weeks, -0). */
  readonly exactStamps: Float64Array | undefined;
  /** One bit per event, event `i` at bit `i & 7` of byte `i >> 3`: 1 external, 0 internal. */
  readonly sideBits: Uint8Array;
  /** The queue, decoded as decodeFrame would (queues are small). */
  readonly queue: BusEvent[];
  /** More parts of the same request follow (see `EventBatch.more`). */
  readonly more?: boolean;
}

/** An event still in an encoded batch: `encodeForwardFrame` copies its bytes instead of encoding an object. */
export interface EncodedEventRef {
  readonly batch: EncodedBatch;
  /** The event's index in `batch`'s history. */
  readonly index: number;
}

/** A batch to encode whose history mixes decoded events and events still in encoded batches. */
export interface ForwardBatch {
  readonly kind: 'batch';
  readonly seq: number;
  readonly from: Endpoint;
  readonly history: ReadonlyArray<BusEvent | EncodedEventRef>;
  readonly queue: readonly BusEvent[];
}

/**
 * True when `entry` of a `ForwardBatch` history is an `EncodedEventRef`, not an event.
 *
 * @example
 * const ids = history.map((entry) => (isEncodedEventRef(entry) ? eventIdAt(entry.batch, entry.index) : entry.id))
 */
export function isEncodedEventRef(entry: unknown): entry is EncodedEventRef {
  return (
    typeof entry === 'object' &&
    entry !== null &&
    (entry as { batch?: { kind?: unknown } | null }).batch?.kind === 'encodedBatch'
  );
}

/**
 * The reader of each batch `scanFrame` returned, kept for the batch's later
 * reads: it knows the limits of the scan, the vtables of the body and its
 * shared strings already decoded, so that reading a type again allocates
 * nothing.
 */
const batchReaders = new WeakMap<EncodedBatch, BodyReader>();

export function keepReader(batch: EncodedBatch, r: BodyReader): void {
  r.json = undefined;
  batchReaders.set(batch, r);
}

/**
 * The reader of `batch`; for a batch `scanFrame` did not return (a copy, say),
 * a new one with the default limits, every read still checked.
 */
function readerOf(batch: EncodedBatch): BodyReader {
  let r = batchReaders.get(batch);
  if (r === undefined) {
    if (typeof batch !== 'object' || batch === null || batch.kind !== 'encodedBatch' || !(batch.body instanceof Uint8Array)) {
      throw new InvalidOptionError('batch', `expected an EncodedBatch from scanFrame, got ${describe(batch)}.`);
    }
    r = new BodyReader(batch.body, DEFAULT_FRAME_LIMITS);
    keepReader(batch, r);
  }
  return r;
}

/** The table position of history event `index` in `batch`'s body, from its history vector; -1 when that is not one of its events. */
function positionIn(batch: EncodedBatch, r: BodyReader, index: number): number {
  if (!(Number.isInteger(index) && index >= 0 && index < batch.count)) return -1;
  const at = batch.events + 4 * index;
  if (!(at >= 0 && at + 4 <= r.size)) return -1;
  const position = at + r.view.getUint32(at, true);
  return position < r.size ? position : -1;
}

/** Where history event `index` of `batch` is; refuses an index that is not one of its events. */
function eventPosition(batch: EncodedBatch, r: BodyReader, index: number): number {
  const position = positionIn(batch, r, index);
  if (position < 0) {
    throw new InvalidOptionError('index', `expected an event index from 0 to ${batch.count - 1}, got ${describe(index)}.`);
  }
  r.where = 'batch.history';
  r.index = index;
  // Each later read of an event has the whole body as its budget: the scan
  // paid for the body once, and how often an event is read is up to the
  // caller. (A small integer, too: Infinity would box every spend.)
  r.budget = r.size;
  return position;
}

/**
 * The timestamp of history event `index` of an encoded batch, from its scan
 * table (no read of the body). The index is not checked: pass one of the
 * batch's events (`0 ≤ index < count`).
 *
 * @example
 * let latest = -Infinity
 * for (let i = 0; i < batch.count; i++) latest = Math.max(latest, eventTimestampAt(batch, i))
 */
export function eventTimestampAt(batch: EncodedBatch, index: number): number {
  const exact = batch.exactStamps;
  return exact === undefined ? batch.stampBase + batch.stampOffsets[index]! : exact[index]!;
}

/**
 * The side of history event `index` of an encoded batch as its wire value
 * (0 internal, 1 external), from its scan table. The index is not checked.
 *
 * @example
 * const externals = []
 * for (let i = 0; i < batch.count; i++) if (eventSideAt(batch, i) === 1) externals.push(i)
 */
export function eventSideAt(batch: EncodedBatch, index: number): number {
  return (batch.sideBits[index >> 3]! >> (index & 7)) & 1;
}

/**
 * Where the table of history event `index` of an encoded batch starts in its
 * body (events are laid out in order: the next one's position is where this
 * one's bytes end). Throws `InvalidOptionError` for an index that is not one
 * of the batch's events.
 *
 * @example
 * const span = eventPositionAt(batch, 1) - eventPositionAt(batch, 0)
 */
export function eventPositionAt(batch: EncodedBatch, index: number): number {
  return eventPosition(batch, readerOf(batch), index);
}

/** Opens history event `index` of `batch` (`openEvent`) with the batch's reader, and returns the reader. */
export function openEventAt(batch: EncodedBatch, index: number): BodyReader {
  const r = readerOf(batch);
  openEvent(r, eventPosition(batch, r, index));
  return r;
}

/**
 * Decodes history events `indices` of an encoded batch (default: all, in
 * order) into the plain objects `decodeFrame` gives: equal events, small JSON
 * payloads parsed together, consecutive events of one origin sharing one
 * frozen origin object. Decoding many events of one batch in one call is
 * much faster than one call each.
 *
 * Throws `FrameError` (`MALFORMED`) when a JSON payload does not parse (or
 * holds what `encodeFrame` would refuse: numbers beyond a double, nesting
 * deeper than `MAX_PAYLOAD_DEPTH`), the one check `scanFrame` leaves for
 * later; `InvalidOptionError` for an index that is not one of the batch's events.
 *
 * @example
 * const batch = scanFrame(frame)
 * if (batch.kind === 'encodedBatch') {
 *   const externals = [...Array(batch.count).keys()].filter((i) => eventSideAt(batch, i) === 1)
 *   deliver(decodeEvents(batch, externals))
 * }
 */
export function decodeEvents(batch: EncodedBatch, indices?: ArrayLike<number>): BusEvent[] {
  const r = readerOf(batch);
  const count = indices === undefined ? batch.count : indices.length;
  const events: BusEvent[] = [];
  try {
    for (let k = 0; k < count; k++) {
      const index = indices === undefined ? k : (indices[k] as number);
      events.push(readEvent(r, eventPosition(batch, r, index)));
    }
    r.json?.finish(r);
    return events;
  } catch (error) {
    throw asFrameError(error);
  } finally {
    r.json = undefined;
  }
}

/**
 * The id of history event `index` of an encoded batch, read from its bytes
 * (a new string each call). Throws `InvalidOptionError` for an index that is
 * not one of the batch's events.
 *
 * @example
 * const seen = new Set<string>()
 * for (let i = 0; i < batch.count; i++) seen.add(eventIdAt(batch, i))
 */
export function eventIdAt(batch: EncodedBatch, index: number): string {
  const r = openEventAt(batch, index);
  return r.string(r.eventAt(EVENT_FIELD_ID), r.limits.maxStringBytes, 'id', 'maxStringBytes');
}

/**
 * Where the id of history event `index` of an encoded batch lies, without
 * making a string of it: its UTF-8 bytes (checked by the scan) are
 * `batch.body[span[0]..span[1])`. Throws `InvalidOptionError` for an index
 * that is not one of the batch's events.
 *
 * @example
 * const span = new Int32Array(2)
 * eventIdSpanAt(batch, 0, span)
 * const idBytes = batch.body.subarray(span[0], span[1])
 */
export function eventIdSpanAt(batch: EncodedBatch, index: number, span: Int32Array): void {
  const r = openEventAt(batch, index);
  span[1] = r.stringAt(r.follow(r.eventAt(EVENT_FIELD_ID), 'id'), r.limits.maxStringBytes, 'id', 'maxStringBytes');
  span[0] = r.start;
}

/**
 * The type of history event `index` of an encoded batch. Types are shared
 * within a body and decoded once per batch: events of one type give the same
 * string, and repeated calls allocate nothing. Throws `InvalidOptionError`
 * for an index that is not one of the batch's events.
 *
 * @example
 * const logins = []
 * for (let i = 0; i < batch.count; i++) if (eventTypeAt(batch, i).startsWith('user.')) logins.push(i)
 * const events = decodeEvents(batch, logins)
 */
export function eventTypeAt(batch: EncodedBatch, index: number): string {
  const r = openEventAt(batch, index);
  return r.sharedString(r.eventAt(EVENT_FIELD_TYPE), r.limits.maxStringBytes, 'type', 'maxStringBytes');
}

/**
 * The origin of history event `index` of an encoded batch, as a frozen
 * object; consecutive calls for events of one origin return the same object.
 * Throws `InvalidOptionError` for an index that is not one of the batch's events.
 *
 * @example
 * const fromThread3 = eventOriginAt(batch, 0).thread === 3
 */
export function eventOriginAt(batch: EncodedBatch, index: number): Origin {
  const r = openEventAt(batch, index);
  return readOrigin(r, r.eventAt(EVENT_FIELD_ORIGIN));
}
