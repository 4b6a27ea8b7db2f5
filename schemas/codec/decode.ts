/**
 * `decodeFrame` and `scanFrame`: one frame verified and read, its batch
 * decoded into objects or kept as bytes.
 */
import type { EventBatch, WireMessage } from '../../runtime/wire/protocol.js';
import type { BusEvent, Endpoint } from '../../types.js';
import * as wire from '../generated/busline_generated.js';
import { BodyReader } from './body-reader.js';
import { readAck, readBridgeState, readClearSide, readEndpoint, readSyncRequest } from './control-messages.js';
import { keepReader, type EncodedBatch } from './encoded-batch.js';
import { readEvent, readEvents, scanEvent } from './event-reader.js';
import { asFrameError, frameBody } from './frame.js';
import { BATCH_FROM, BATCH_HISTORY, BATCH_MORE, BATCH_QUEUE, BATCH_SEQ, ENVELOPE_MESSAGE, ENVELOPE_MESSAGE_TYPE, FILE_IDENTIFIER } from './layout.js';
import { resolveFrameLimits, type FrameLimits } from './limits.js';

/**
 * Verifies and decodes one frame (exactly one: trailing bytes are refused).
 *
 * Throws `FrameError` and nothing else: with `reason` `TRUNCATED`, `BAD_MAGIC`,
 * `BAD_VERSION`, `BAD_FLAGS`, `LENGTH_MISMATCH`, `TOO_LARGE`, `CHECKSUM`,
 * `DECOMPRESS` or `MALFORMED`. Every length is checked against `limits` and
 * the bytes at hand before anything is allocated for it, and every offset,
 * string, enum and union of the body is checked before it is read. Decoded
 * events are fresh plain objects; byte payloads are copies, never views into
 * `bytes`. Throws `InvalidOptionError` only for invalid `limits`.
 *
 * @example
 * worker.on('message', (frame: Uint8Array) => {
 *   try { station.accept(decodeFrame(frame)) }
 *   catch (error) { if (isBusError(error, 'FRAME_CORRUPT')) report(error) }
 * })
 */
export function decodeFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): WireMessage {
  const resolved = resolveFrameLimits(limits);
  try {
    return readEnvelope(new BodyReader(frameBody(bytes, resolved), resolved), readBatch);
  } catch (error) {
    throw asFrameError(error);
  }
}

/**
 * Verifies one frame as `decodeFrame` does, every check included, but returns
 * a batch as an `EncodedBatch`: its history events stay bytes in the verified
 * body, their timestamps and sides in a compact table, and no JS object or string is
 * made for any of them (types, topics and meta keys, shared by the body, are
 * decoded once per body). The one check left for later is that each JSON
 * payload parses: its text is checked to be UTF-8 here, and parsed by
 * `decodeEvents`. The queue, and every other message, come back exactly as
 * `decodeFrame` returns them.
 *
 * Throws `FrameError` as `decodeFrame` does, with the same reasons (a frame
 * with several faults may be refused for another one of them: a JSON payload
 * that is not UTF-8 is refused where it is, not after the other events), and
 * `InvalidOptionError` only for invalid `limits`. The batch's `body` is a view
 * of `bytes` when the frame is not compressed: leave the frame unchanged.
 *
 * @example
 * const message = scanFrame(frame)
 * if (message.kind === 'encodedBatch') {
 *   store.add(message) // bytes, indexed; decoded only when someone asks
 *   const firstType = message.count > 0 ? eventTypeAt(message, 0) : undefined
 * }
 */
export function scanFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): WireMessage | EncodedBatch {
  const resolved = resolveFrameLimits(limits);
  try {
    return readEnvelope(new BodyReader(frameBody(bytes, resolved), resolved), scanBatch);
  } catch (error) {
    throw asFrameError(error);
  }
}

/** What `scanAndDecodeFrame` returns: the frame's message, and a batch's history events decoded. */
export interface ScannedAndDecoded {
  /** The message as `scanFrame` returns it. */
  readonly message: WireMessage | EncodedBatch;
  /** For an `encodedBatch`, its history events as `decodeEvents(message)` gives them; otherwise undefined. */
  readonly history: BusEvent[] | undefined;
}

/**
 * `scanFrame` and `decodeEvents` of the whole history in one walk of the
 * body: each history event is decoded as `decodeFrame` decodes it, and the
 * scan table is filled from what that read found (timestamp, side). For a
 * receiver that keeps the frame's events as places and needs every one of
 * them as an object now (a bus delivering what it read): scanning first and
 * decoding after cost ~1.5× the decode alone, as the event tables were
 * opened and their strings checked twice.
 *
 * Every check of `decodeFrame` is made, JSON payloads parsed included. Throws
 * as `decodeFrame` does. The batch's `body` is a view of `bytes` when the
 * frame is not compressed: leave the frame unchanged.
 *
 * @example
 * const { message, history } = scanAndDecodeFrame(frame)
 * if (message.kind === 'encodedBatch') deliver(history!) // and keep message's places
 */
export function scanAndDecodeFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): ScannedAndDecoded {
  const resolved = resolveFrameLimits(limits);
  let history: BusEvent[] | undefined;
  const scanDecoding = (r: BodyReader, position: number): EncodedBatch => {
    history = [];
    return scanBatch(r, position, history);
  };
  try {
    const message = readEnvelope(new BodyReader(frameBody(bytes, resolved), resolved), scanDecoding);
    return { message, history };
  } catch (error) {
    throw asFrameError(error);
  }
}

/** Reads the envelope and the message in it; a batch is read by `readBatchAt` (`readBatch` or `scanBatch`). */
function readEnvelope<B>(r: BodyReader, readBatchAt: (r: BodyReader, position: number) => B): B | Exclude<WireMessage, EventBatch> {
  const bytes = r.bytes;
  if (r.size < 8) r.fail('the body is shorter than a FlatBuffers root');
  if (
    bytes[4] !== FILE_IDENTIFIER[0] ||
    bytes[5] !== FILE_IDENTIFIER[1] ||
    bytes[6] !== FILE_IDENTIFIER[2] ||
    bytes[7] !== FILE_IDENTIFIER[3]
  ) {
    r.fail('the body is not a busline Envelope (file identifier "BLW1" missing)');
  }
  r.openTable(r.follow(0, 'root table'), 'envelope');
  const typeAt = r.field(ENVELOPE_MESSAGE_TYPE, 1);
  const messageAt = r.field(ENVELOPE_MESSAGE, 4);
  if (messageAt === 0) r.fail('the envelope has no message');
  const type = typeAt === 0 ? wire.Message.NONE : (bytes[typeAt] as number);
  const position = r.follow(messageAt, 'message');
  switch (type) {
    case wire.Message.EventBatch:
      return readBatchAt(r, position);
    case wire.Message.SyncRequest:
      return readSyncRequest(r, position);
    case wire.Message.ClearSide:
      return readClearSide(r, position);
    case wire.Message.BridgeState:
      return readBridgeState(r, position);
    case wire.Message.Ack:
      return readAck(r, position);
    default:
      return r.fail(`message type ${type} is not a known message`);
  }
}

/** A batch table, checked up to its event vectors: what `readBatch` and `scanBatch` share. */
interface BatchHead {
  readonly seq: number;
  readonly from: Endpoint;
  /** Positions of the history and queue vectors, and their lengths. */
  readonly history: number;
  readonly historyLength: number;
  readonly queue: number;
  readonly queueLength: number;
  readonly more: boolean;
}

function readBatch(r: BodyReader, position: number): EventBatch {
  const head = readBatchHead(r, position);
  const batch: EventBatch = {
    kind: 'batch',
    seq: head.seq,
    from: head.from,
    history: readEvents(r, head.history, head.historyLength, 'batch.history'),
    queue: readEvents(r, head.queue, head.queueLength, 'batch.queue'),
    ...(head.more ? { more: true } : {}),
  };
  r.json?.finish(r);
  return batch;
}

/**
 * Checks a batch as `readBatch` does, but leaves its history events in the
 * body (`scanEvent`), indexed; see `scanFrame`. With `decoded`, each history
 * event is decoded into it instead (`readEvent`, the same checks and more),
 * and indexed from that read. The reader is kept for the batch's later reads
 * (`readerOf`).
 */
function scanBatch(r: BodyReader, position: number, decoded?: BusEvent[]): EncodedBatch {
  const head = readBatchHead(r, position);
  const count = head.historyLength;
  const stamps = new StampColumn(count);
  const sideBits = new Uint8Array((count + 7) >> 3);
  r.where = 'batch.history';
  for (let i = 0; i < count; i++) {
    r.index = i;
    const event = r.follow(head.history + 4 + 4 * i, 'event');
    if (decoded === undefined) scanEvent(r, event);
    else decoded.push(readEvent(r, event));
    stamps.set(i, r.eventTimestamp);
    sideBits[i >> 3]! |= r.eventSide << (i & 7);
  }
  r.index = -1;
  const queue = readEvents(r, head.queue, head.queueLength, 'batch.queue');
  r.json?.finish(r);
  const { seq, from } = head;
  const batch: EncodedBatch = {
    kind: 'encodedBatch',
    seq,
    from,
    body: r.bytes,
    count,
    events: head.history + 4,
    stampBase: stamps.base,
    stampOffsets: stamps.offsets,
    exactStamps: stamps.exact,
    sideBits,
    queue,
    ...(head.more ? { more: true } : {}),
  };
  keepReader(batch, r);
  return batch;
}

const NO_OFFSETS = new Int32Array(0);

/**
 * A batch's timestamps as `EncodedBatch` keeps them: offsets of 4 bytes from
 * the first stamp (the events of a frame are stamped within milliseconds, or
 * days, of each other), or the stamps themselves, 8 bytes each, from the
 * first one that an offset cannot give back exactly.
 */
class StampColumn {
  base = 0;
  offsets: Int32Array;
  exact: Float64Array | undefined = undefined;

  constructor(count: number) {
    this.offsets = new Int32Array(count);
  }

  set(i: number, stamp: number): void {
    if (this.exact !== undefined) {
      this.exact[i] = stamp;
      return;
    }
    if (i === 0) this.base = stamp;
    const offset = stamp - this.base;
    // -0 would read back as +0; a fractional or far stamp, rounded or wrapped.
    if ((offset | 0) === offset && this.base + offset === stamp && !(stamp === 0 && 1 / stamp < 0)) {
      this.offsets[i] = offset;
      return;
    }
    const exact = new Float64Array(this.offsets.length);
    for (let k = 0; k < i; k++) exact[k] = this.base + this.offsets[k]!;
    exact[i] = stamp;
    this.exact = exact;
    this.base = 0;
    this.offsets = NO_OFFSETS;
  }
}

function readBatchHead(r: BodyReader, position: number): BatchHead {
  r.where = 'batch';
  r.openTable(position, 'batch');
  const seqAt = r.field(BATCH_SEQ, 8);
  const fromAt = r.field(BATCH_FROM, 4);
  const historyAt = r.field(BATCH_HISTORY, 4);
  const queueAt = r.field(BATCH_QUEUE, 4);
  if (fromAt === 0 || historyAt === 0 || queueAt === 0) r.fail('from, history and queue are required');
  const seq = r.seq(seqAt);
  const history = r.follow(historyAt, 'history vector');
  const queue = r.follow(queueAt, 'queue vector');
  const max = r.limits.maxEvents;
  const historyLength = r.vectorLength(history, 4, max, 'history', 'maxEvents');
  const queueLength = r.vectorLength(queue, 4, max, 'queue', 'maxEvents');
  if (historyLength + queueLength > max) {
    r.tooLarge(`the batch holds ${historyLength + queueLength} events, more than limits.maxEvents (${max})`);
  }
  const more = r.bool(r.field(BATCH_MORE, 1), 'more');
  const from = readEndpoint(r, r.follow(fromAt, 'from endpoint'));
  return { seq, from, history, historyLength, queue, queueLength, more };
}
