/**
 * Frames: how a `WireMessage` crosses a thread or process boundary.
 *
 * A frame is a fixed 20-byte header followed by the body, a FlatBuffers
 * `Envelope` (`schemas/busline.fbs`), snappy-compressed when the header says so:
 *
 * ```
 * offset size  field
 *  0     4     magic "BLF1" (0x42 0x4C 0x46 0x31)
 *  4     1     version (1)
 *  5     1     flags: bit 0 = body is snappy-compressed (raw snappy); bits 1-7 are 0
 *  6     2     reserved, 0
 *  8     4     body length in bytes as transmitted (u32 LE)
 * 12     4     body length in bytes uncompressed (u32 LE; equals the above when not compressed)
 * 16     4     CRC32C (Castagnoli) of the body as transmitted (u32 LE)
 * 20     ...   body
 * ```
 *
 * The FlatBuffers JS runtime has no verifier (out-of-range offsets read as 0,
 * random bytes "decode"), so this module reads bodies with its own verifying
 * reader: every offset, length, enum, string and union is checked against the
 * body and the `FrameLimits` before it is read, and anything wrong is a
 * `FrameError`. Control messages are encoded through the generated builders;
 * event batches, the data plane, are written by hand in the same layout (see
 * "event batches: written by hand"). This is the only module that touches
 * `schemas/generated/`.
 *
 * Where the time goes, for a 256-event batch of small events: encoding is one
 * walk per event writing straight into a reused buffer, plus one allocation
 * per frame (the frame must own its ArrayBuffer to be transferred); decoding is
 * mostly one `JSON.parse` for all the batch's small payloads. Types, topics and
 * meta keys are written once per body and decoded once per body.
 *
 * A reader that keeps what it receives, and looks at little of it, reads
 * batches with `scanFrame` instead: the same verification, but the history
 * stays bytes (`EncodedBatch`), indexed, and no object is made per event.
 * `decodeEvents` and the `event*At` accessors decode what is asked for, and
 * `encodeForwardFrame` sends events on by copying their bytes.
 */
import { crc32c } from '@node-rs/crc32';
import * as flatbuffers from 'flatbuffers';
import { isUtf8 } from 'node:buffer';
import { compressSync, uncompressSync } from 'snappy';
import { FrameError, InvalidEventError, InvalidOptionError, isBusError } from '../errors.js';
import type { Ack, BridgeState, ClearSide, EventBatch, SyncRequest, WireMessage } from '../runtime/wire/protocol.js';
import {
  MAX_LABEL_LENGTH,
  MAX_META_ENTRIES,
  MAX_PAYLOAD_DEPTH,
  eventIdProblem,
  eventTypeProblem,
  isEventTimestamp,
} from '../runtime/validate.js';
import type { BridgeDirection, BusEvent, Endpoint, Origin, Payload, Priority, Side } from '../types.js';
import * as wire from './generated/busline_generated.js';

// ---------------------------------------------------------------------------
// Public constants and types
// ---------------------------------------------------------------------------

/** Bytes of the fixed frame header that precedes every body. */
export const FRAME_HEADER_BYTES = 20;

/** The frame format version this module writes and reads. */
export const FRAME_VERSION = 1;

/** The four bytes every frame starts with. */
export const FRAME_MAGIC = 'BLF1';
const MAGIC_BYTES = [0x42, 0x4c, 0x46, 0x31];

/** Header flag: the body is raw-snappy compressed. */
export const FLAG_SNAPPY = 0x01;

/** With `compress: 'auto'`, bodies smaller than this are never compressed. */
export const AUTO_COMPRESS_MIN_BYTES = 1024;

/**
 * With `compress: 'auto'`, a compressed body is sent only when it is at most
 * this fraction of the original: saving a few bytes is not worth the
 * receiver's decompression.
 */
export const AUTO_COMPRESS_MAX_RATIO = 0.875;

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

/** How `encodeFrame` writes a frame. */
export interface EncodeOptions {
  /**
   * `true`: always snappy-compress the body; `false` (default): never;
   * `'auto'`: compress bodies of at least `AUTO_COMPRESS_MIN_BYTES` when that
   * makes them at least 1/8 smaller (`AUTO_COMPRESS_MAX_RATIO`).
   */
  readonly compress?: boolean | 'auto';
  /** The receiver's limits; a message they would refuse is refused here. Default `DEFAULT_FRAME_LIMITS`. */
  readonly limits?: Partial<FrameLimits>;
}

/** What a frame's header says, once checked (see `readFrameHeader`). */
export interface FrameHeader {
  readonly version: number;
  /** The body is snappy-compressed. */
  readonly compressed: boolean;
  /** Body bytes as transmitted. */
  readonly bodyBytes: number;
  /** Body bytes after decompression. */
  readonly uncompressedBytes: number;
  /** CRC32C of the body as transmitted. */
  readonly checksum: number;
  /** Header plus body: how many bytes the whole frame takes. */
  readonly frameBytes: number;
}

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
  /** Per history event, in frame order: its table position in `body`, its timestamp, its side (0 internal, 1 external). */
  readonly positions: Int32Array;
  readonly timestamps: Float64Array;
  readonly sides: Uint8Array;
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

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

const LIMIT_KEYS = Object.keys(DEFAULT_FRAME_LIMITS) as (keyof FrameLimits)[];
/** The u32 length fields and the FlatBuffers builder (2 GiB) cap every limit. */
const MAX_LIMIT = 0x7fff_ffff;

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

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/**
 * Deepest nesting of a JSON payload that `encodeFrame` accepts and `decodeFrame`
 * returns (root = depth 1): post()'s rule, from `runtime/validate.ts`.
 */
export { MAX_PAYLOAD_DEPTH };

/** Strings up to this many characters take the ASCII fast path of `writeString` and `BodyWriter.string`. */
const SHORT_ASCII_CHARS = 256;
/** `BodyWriter.byteVector` copies up to this many bytes by hand. */
const SHORT_COPY_BYTES = 64;

/** Builders and writers above this capacity are dropped after use instead of being kept for the next frame. */
const KEEP_BUILDER_BYTES = 1024 * 1024;
/** One builder kept between calls; taken while in use, so a re-entrant call gets its own. */
let spareBuilder: flatbuffers.Builder | null = null;
/** The same for the batch writer. */
let spareWriter: BodyWriter | null = null;

/**
 * Encodes a message as one frame. The frame owns its `ArrayBuffer` exactly
 * (offset 0, full length), so it can be transferred to a worker as is. A
 * batch's events that are still encoded (`EncodedEventRef`s: what a station
 * keeps) are copied as `encodeForwardFrame` copies them, never decoded.
 *
 * Throws `InvalidEventError` for what the wire cannot carry exactly (a payload
 * that is not JSON-compatible data or a `Uint8Array`, NaN or Infinity, a cycle,
 * a string with a lone surrogate, a bad side or priority, ...), naming the event
 * id and the reason; and `FrameError` (`TOO_LARGE`) for a message larger than
 * `options.limits` allow.
 *
 * Round trips are exact for everything accepted, except that `-0` (in a JSON
 * payload, or as a timestamp) decodes as `0`, a `Buffer` payload decodes as a
 * plain `Uint8Array`, and optional fields set to `undefined` decode as absent.
 *
 * @example
 * const frame = encodeFrame({ kind: 'ack', seq: 7, ok: true, credits: 16 })
 * worker.postMessage(frame, [frame.buffer])
 */
export function encodeFrame(message: WireMessage, options?: EncodeOptions): Uint8Array {
  const compress = compressOption(options);
  const limits = resolveFrameLimits(options?.limits);
  // A batch's events may still be encoded (a station keeps what it received so): their bytes are copied.
  if (typeof message === 'object' && message !== null && message.kind === 'batch') return encodeBatch(message, compress, limits);
  const builder = spareBuilder ?? new flatbuffers.Builder(4096);
  spareBuilder = null;
  try {
    builder.clear();
    const messageOffset = writeMessage(builder, message, limits);
    wire.Envelope.finishEnvelopeBuffer(builder, wire.Envelope.createEnvelope(builder, messageTypeOf(message), messageOffset));
    return finishFrame(builder.asUint8Array(), message, compress, limits);
  } catch (error) {
    throw asEncodingError(error, message);
  } finally {
    if (builder.dataBuffer().capacity() <= KEEP_BUILDER_BYTES) spareBuilder = builder;
  }
}

/**
 * Encodes a batch as one frame, as `encodeFrame` does, except that its history
 * may also hold events still in encoded batches (`EncodedEventRef`s, as a
 * station keeps what it received from `scanFrame`). A ref is copied field by
 * field from its batch's body (id, type, side, timestamp, origin, priority,
 * topic, the payload's JSON text or bytes as they are, meta), never decoded
 * into objects; types, topics and meta keys stay shared within the new body.
 *
 * When the refs' batches were written by `encodeFrame`, the frame is byte for
 * byte the one `encodeFrame` writes for the same events decoded. Bodies
 * written otherwise may give other bytes: the copy keeps their JSON text
 * (whitespace, say) and the order of their meta entries, where `encodeFrame`
 * of the decoded events writes `JSON.stringify`'s text and JavaScript's key
 * order (keys like "0" and "17" first). Either way the frames decode to equal
 * events. A JSON payload is copied unparsed: one that does not parse (which
 * `scanFrame` leaves to `decodeEvents`) makes the receiver refuse the frame.
 *
 * Throws what `encodeFrame` throws, for refs as for events (`FrameError`
 * `TOO_LARGE` beyond `options.limits.maxEvents` or `maxFrameBytes`,
 * `InvalidEventError` for a ref whose string or payload is longer than the
 * limits allow), and `InvalidOptionError` for a ref whose index is not an
 * event of its batch.
 *
 * @example
 * const received = scanFrame(frame)
 * if (received.kind === 'encodedBatch') {
 *   const history = Array.from({ length: received.count }, (_, index) => ({ batch: received, index }))
 *   reader.postMessage(encodeForwardFrame({ kind: 'batch', seq: 0, from: station, history, queue: [] }))
 * }
 */
export function encodeForwardFrame(batch: ForwardBatch, options?: EncodeOptions): Uint8Array {
  const compress = compressOption(options);
  const limits = resolveFrameLimits(options?.limits);
  if (typeof batch !== 'object' || batch === null || batch.kind !== 'batch') {
    throw new InvalidEventError(`Cannot encode ${describe(batch)} as a forward batch: expected { kind: 'batch', ... }.`);
  }
  return encodeBatch(batch, compress, limits);
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

function compressOption(options: EncodeOptions | undefined): boolean | 'auto' {
  const compress = options?.compress ?? false;
  if (compress !== true && compress !== false && compress !== 'auto') {
    throw new InvalidOptionError('compress', `expected true, false or 'auto', got ${describe(compress)}.`);
  }
  return compress;
}

/** Writes a batch with the spare `BodyWriter`; its history may hold `EncodedEventRef`s. */
function encodeBatch(batch: EventBatch | ForwardBatch, compress: boolean | 'auto', limits: FrameLimits): Uint8Array {
  const writer = spareWriter ?? new BodyWriter(64 * 1024);
  spareWriter = null;
  try {
    return finishFrame(writeBatchBody(writer, batch, limits), batch, compress, limits);
  } catch (error) {
    throw asEncodingError(error, batch);
  } finally {
    if (writer.bytes.length <= KEEP_BUILDER_BYTES) spareWriter = writer;
  }
}

/** A payload getter that throws, or an allocation that fails, as an `InvalidEventError`; our own errors as they are. */
function asEncodingError(error: unknown, message: { readonly kind: string }): unknown {
  if (isBusError(error)) return error;
  return new InvalidEventError(`Cannot encode the ${describe(message?.kind)} message: ${String(error)}`, { cause: error });
}

/** Checks the body's size, compresses it if asked, and puts the header in front of it. */
function finishFrame(body: Uint8Array, message: { readonly kind: string }, compress: boolean | 'auto', limits: FrameLimits): Uint8Array {
  if (body.length > limits.maxFrameBytes) {
    throw new FrameError(
      'TOO_LARGE',
      `the ${message.kind} body is ${body.length} bytes, more than limits.maxFrameBytes (${limits.maxFrameBytes}). ` +
        'Send the events in smaller batches.',
    );
  }
  let transmitted = body;
  if (compress === true || (compress === 'auto' && body.length >= AUTO_COMPRESS_MIN_BYTES)) {
    const compressed = compressSync(body);
    if (compress === true || compressed.length <= body.length * AUTO_COMPRESS_MAX_RATIO) transmitted = compressed;
  }
  return assembleFrame(transmitted, body.length, transmitted !== body);
}

function assembleFrame(transmitted: Uint8Array, uncompressedBytes: number, compressed: boolean): Uint8Array {
  // A frame owns its ArrayBuffer (it may be transferred). Left uninitialised:
  // every byte is written below, and zero-filling a large frame first cost
  // as much as writing it.
  const frame = new Uint8Array(Buffer.allocUnsafeSlow(FRAME_HEADER_BYTES + transmitted.length).buffer);
  const view = new DataView(frame.buffer);
  frame.set(MAGIC_BYTES, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = compressed ? FLAG_SNAPPY : 0;
  frame[6] = 0; // reserved
  frame[7] = 0;
  view.setUint32(8, transmitted.length, true);
  view.setUint32(12, uncompressedBytes, true);
  frame.set(transmitted, FRAME_HEADER_BYTES);
  // The checksum of the copy in the frame: the bytes sent are the bytes summed.
  view.setUint32(16, crc32c(frame.subarray(FRAME_HEADER_BYTES)) >>> 0, true);
  return frame;
}

// --- event batches: written by hand -----------------------------------------
//
// Batches are the data plane, so they do not go through the generated
// builders: profiled on 256 small events, the builder's bookkeeping (prep,
// vtable search in endObject, one call per field) and a JSON.stringify after a
// separate validation walk took three quarters of the time. `BodyWriter`
// writes the same FlatBuffers tables front to back into one reused buffer:
//
//   root offset, "BLW1", Envelope, EventBatch, Endpoint, history and queue
//   vectors; then per event its table (after its vtable, the first time an
//   event of that shape appears), id, payload and meta; then the shared
//   strings (types, topics, meta keys), each written once.
//
// FlatBuffers asks only that offsets point forward (uoffset is unsigned), that
// vtables be reachable through the signed soffset, and that scalars be aligned
// to their size from the start of the body; back to front is the builder's
// convenience, not the format. tests/schemas/codec.test.ts reads these bodies
// with the generated accessors, which pins the layout to busline.fbs.

// Table layouts: byte offsets of fields inside each table, and table sizes.
// Vtables list them in the field order of busline.fbs (`*_VTABLE` arrays).
const ENVELOPE_TABLE_BYTES = 12; // soffset, message, message_type (u8), padding
const ENVELOPE_VTABLE = [8, 4]; // message_type, message
const BATCH_TABLE_BYTES = 24; // soffset, from, seq (u64, at 8), history, queue
const BATCH_VTABLE = [8, 4, 16, 20]; // seq, from, history, queue
/** A batch that says `more`: the bool at 24, then padding. */
const MORE_BATCH_TABLE_BYTES = 28;
const MORE_BATCH_VTABLE = [8, 4, 16, 20, 24]; // seq, from, history, queue, more
const ENDPOINT_TABLE_BYTES = 20; // soffset, processor, thread, generation, side (u8), padding
const ENDPOINT_VTABLE = [4, 8, 12, 16];
const META_TABLE_BYTES = 12; // soffset, key, value
const META_VTABLE = [4, 8];
/**
 * An event table: soffset, id (4), timestamp (f64 at 8: tables start at a
 * multiple of 8), type (16), payload_json or payload_bytes (20), origin (24,
 * 12 bytes), side (36), priority (37), payload_kind (38), padding (39), then
 * topic and meta when present. Eight shapes, by which optional fields are set.
 */
const EVENT_BASE_BYTES = 40;
const SHAPE_TOPIC = 1;
const SHAPE_META = 2;
const SHAPE_BYTES = 4;
const EVENT_SHAPES = 8;

/** The table size of an event of `shape`. */
function eventTableBytes(shape: number): number {
  return EVENT_BASE_BYTES + ((shape & SHAPE_TOPIC) !== 0 ? 4 : 0) + ((shape & SHAPE_META) !== 0 ? 4 : 0);
}

/** The vtable fields of an event of `shape`, in busline.fbs order, trailing absent fields left out (as flatc does). */
function eventVtable(shape: number): number[] {
  const bytes = (shape & SHAPE_BYTES) !== 0;
  const topic = (shape & SHAPE_TOPIC) !== 0 ? 40 : 0;
  //        id type side timestamp origin priority topic kind json             bytes
  const fields = [4, 16, 36, 8, 24, 37, topic, 38, bytes ? 0 : 20, bytes ? 20 : 0];
  if ((shape & SHAPE_META) !== 0) fields.push(topic === 0 ? 40 : 44);
  else if (!bytes) fields.pop();
  return fields;
}
const EVENT_VTABLES = Array.from({ length: EVENT_SHAPES }, (_, shape) => eventVtable(shape));

/**
 * One FlatBuffers body under construction, front to back. Reused across
 * frames (`spareWriter`): `reset()` forgets the last body, and every byte of
 * the new one, padding included, is written again, so nothing of an earlier
 * frame leaks into a later one.
 */
class BodyWriter {
  bytes: Uint8Array;
  view: DataView;
  /** The same memory as a Buffer, for its native UTF-8 writer. */
  buffer: Buffer;
  pos = 0;
  /** Where the event vtable of each shape is in this body; 0 until written. */
  readonly eventVtables: number[] = new Array<number>(EVENT_SHAPES).fill(0);
  metaVtable = 0;
  /** Strings written once per body and pointed at by many fields: text → index in `sharedTexts`. */
  readonly sharedIndex = new Map<string, number>();
  readonly sharedTexts: string[] = [];
  /** Pairs (position of an offset field, index of the shared string it points at), linked at the end. */
  readonly sharedRefs: number[] = [];
  /** The arrays and objects around the JSON value being written: the cycle check. */
  readonly ancestors: object[] = [];

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.buffer = Buffer.from(this.bytes.buffer);
  }

  reset(): void {
    this.pos = 0;
    this.eventVtables.fill(0);
    this.metaVtable = 0;
    // Map#clear allocates a new table even when empty: one-event frames are common.
    if (this.sharedTexts.length > 0) {
      this.sharedIndex.clear();
      this.sharedTexts.length = 0;
      this.sharedRefs.length = 0;
    }
    this.ancestors.length = 0;
  }

  /** Makes room for `count` more bytes. */
  reserve(count: number): void {
    if (this.pos + count > this.bytes.length) this.grow(this.pos + count);
  }

  grow(needed: number): void {
    if (needed > MAX_LIMIT) {
      throw new FrameError('TOO_LARGE', `the batch body would exceed ${MAX_LIMIT} bytes. Send the events in smaller batches.`);
    }
    const bytes = new Uint8Array(Math.min(MAX_LIMIT, Math.max(needed, 2 * this.bytes.length)));
    bytes.set(this.bytes.subarray(0, this.pos));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
    this.buffer = Buffer.from(bytes.buffer);
  }

  /** Zeros up to a multiple of `alignment` (1, 2, 4 or 8); the room must be reserved. */
  pad(alignment: number): void {
    while ((this.pos & (alignment - 1)) !== 0) this.bytes[this.pos++] = 0;
  }

  /** Writes a vtable for tables of `tableBytes` with these field offsets (0: absent); returns its position. */
  vtable(tableBytes: number, fields: readonly number[]): number {
    this.reserve(6 + 2 * fields.length);
    this.pad(2);
    const at = this.pos;
    const view = this.view;
    view.setUint16(at, 4 + 2 * fields.length, true);
    view.setUint16(at + 2, tableBytes, true);
    for (let i = 0; i < fields.length; i++) view.setUint16(at + 4 + 2 * i, fields[i] as number, true);
    this.pos = at + 4 + 2 * fields.length;
    return at;
  }

  /**
   * Starts a table of `tableBytes` at a multiple of `alignment`, pointing at
   * `vtable`; returns its position. The caller writes every field and padding byte.
   */
  table(vtable: number, tableBytes: number, alignment: number): number {
    this.reserve(tableBytes + alignment);
    this.pad(alignment);
    const at = this.pos;
    this.view.setInt32(at, at - vtable, true);
    this.pos = at + tableBytes;
    return at;
  }

  /** A vector of `length` offsets, to be linked one by one; returns its position. */
  offsetVector(length: number): number {
    this.reserve(7 + 4 * length);
    this.pad(4);
    const at = this.pos;
    this.view.setUint32(at, length, true);
    this.pos = at + 4 + 4 * length;
    return at;
  }

  /** Points the offset field at `field` to `target`, which lies after it. */
  link(field: number, target: number): void {
    this.view.setUint32(field, target - field, true);
  }

  /**
   * Writes `text` as a FlatBuffers string (u32 byte length, UTF-8, NUL) and
   * returns its position, or -1 when it holds a lone surrogate, which UTF-8
   * cannot carry (it would be written as U+FFFD).
   */
  string(text: string): number {
    const length = text.length;
    this.reserve(3 * length + 8);
    this.pad(4);
    const at = this.pos;
    const bytes = this.bytes;
    let end = at + 4;
    let ascii = length <= SHORT_ASCII_CHARS;
    if (ascii) {
      // Short ASCII strings (ids, types, keys) are copied here: a native
      // call costs more than the copy. Anything else takes Buffer's writer.
      for (let i = 0; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code > 0x7f) {
          ascii = false;
          break;
        }
        bytes[end++] = code;
      }
    }
    if (!ascii) {
      const written = this.buffer.write(text, at + 4, 'utf8');
      // Only a string with non-ASCII characters writes more bytes than it has characters.
      if (written !== length && !isWellFormed(text)) return -1;
      end = at + 4 + written;
    }
    this.view.setUint32(at, end - at - 4, true);
    bytes[end] = 0;
    this.pos = end + 1;
    return at;
  }

  /** Writes bytes `start..end` of `source` as a `[ubyte]` vector; returns its position. */
  byteVector(source: Uint8Array, start = 0, end = source.length): number {
    const length = end - start;
    // Room for the padding, the length, the bytes and the NUL that `copyString` adds.
    this.reserve(length + 8);
    this.pad(4);
    const at = this.pos;
    this.view.setUint32(at, length, true);
    if (length <= SHORT_COPY_BYTES) {
      // A subarray view for `set` costs more than copying a few bytes by hand.
      const bytes = this.bytes;
      for (let i = start, to = at + 4; i < end; i++, to++) bytes[to] = source[i] as number;
    } else {
      this.bytes.set(start === 0 && end === source.length ? source : source.subarray(start, end), at + 4);
    }
    this.pos = at + 4 + length;
    return at;
  }

  /** Writes bytes `start..end` of `source`, valid UTF-8, as a FlatBuffers string; returns its position. */
  copyString(source: Uint8Array, start: number, end: number): number {
    const at = this.byteVector(source, start, end);
    this.bytes[this.pos++] = 0;
    return at;
  }

  /** A vector for `length` meta entries, and the meta vtable if this body has none yet; returns the vector's position. */
  metaVector(length: number): number {
    const vector = this.offsetVector(length);
    if (this.metaVtable === 0) this.metaVtable = this.vtable(META_TABLE_BYTES, META_VTABLE);
    return vector;
  }

  /** Starts meta entry `i` of the vector at `vector`; returns its table's position. The caller writes its key and value. */
  metaEntry(vector: number, i: number): number {
    const entry = this.table(this.metaVtable, META_TABLE_BYTES, 4);
    this.link(vector + 4 + 4 * i, entry);
    return entry;
  }

  /** Writes the shared strings and links every field that points at one. */
  writeShared(): void {
    const positions = this.sharedTexts.map((text) => this.string(text));
    const refs = this.sharedRefs;
    for (let i = 0; i < refs.length; i += 2) this.link(refs[i] as number, positions[refs[i + 1] as number] as number);
  }
}

/**
 * Writes a batch's body; returns it (a view of the writer's memory, valid until
 * the writer's next use). History entries may be `EncodedEventRef`s.
 */
function writeBatchBody(w: BodyWriter, batch: EventBatch | ForwardBatch, limits: FrameLimits): Uint8Array {
  const seq = checkSeq(batch.seq, 'batch');
  const { history, queue } = batch;
  if (!Array.isArray(history) || !Array.isArray(queue)) {
    throw new InvalidEventError('Cannot encode batch: history and queue must be arrays of events.');
  }
  const historyLength = history.length;
  const queueLength = queue.length;
  if (historyLength + queueLength > limits.maxEvents) {
    throw new FrameError(
      'TOO_LARGE',
      `the batch holds ${historyLength + queueLength} events, more than limits.maxEvents (${limits.maxEvents}). ` +
        'Send the events in smaller batches.',
    );
  }
  const from = checkEndpoint(batch.from, 'batch.from');
  w.reset();
  w.reserve(8);
  w.bytes.set(FILE_IDENTIFIER, 4);
  w.pos = 8;
  const envelope = w.table(w.vtable(ENVELOPE_TABLE_BYTES, ENVELOPE_VTABLE), ENVELOPE_TABLE_BYTES, 4);
  w.link(0, envelope);
  w.view.setUint32(envelope + 8, wire.Message.EventBatch, true); // message_type and its padding
  const more = (batch as EventBatch).more === true;
  const tableBytes = more ? MORE_BATCH_TABLE_BYTES : BATCH_TABLE_BYTES;
  const table = w.table(w.vtable(tableBytes, more ? MORE_BATCH_VTABLE : BATCH_VTABLE), tableBytes, 8);
  if (more) w.view.setUint32(table + 24, 1, true); // more, and its padding
  w.link(envelope + 4, table);
  w.view.setUint32(table + 8, seq % 0x1_0000_0000, true);
  w.view.setUint32(table + 12, Math.floor(seq / 0x1_0000_0000), true);
  const endpoint = w.table(w.vtable(ENDPOINT_TABLE_BYTES, ENDPOINT_VTABLE), ENDPOINT_TABLE_BYTES, 4);
  w.link(table + 4, endpoint);
  w.view.setUint32(endpoint + 4, from.processor, true);
  w.view.setUint32(endpoint + 8, from.thread, true);
  w.view.setUint32(endpoint + 12, from.generation, true);
  w.view.setUint32(endpoint + 16, from.side, true); // side and its padding
  const historyVector = w.offsetVector(historyLength);
  w.link(table + 16, historyVector);
  const queueVector = w.offsetVector(queueLength);
  w.link(table + 20, queueVector);
  const maxBytes = limits.maxFrameBytes;
  for (let i = 0; i < historyLength; i++) {
    const entry = history[i];
    const table = isEncodedEventRef(entry) ? copyEvent(w, entry, limits) : writeEvent(w, entry as BusEvent, limits);
    w.link(historyVector + 4 + 4 * i, table);
    // Refused as soon as it is too large, not once all of it is written: a sender cuts such a batch and tries again.
    if (w.pos > maxBytes) throw batchTooLarge(w.pos, maxBytes);
  }
  for (let i = 0; i < queueLength; i++) {
    w.link(queueVector + 4 + 4 * i, writeEvent(w, queue[i] as BusEvent, limits));
    if (w.pos > maxBytes) throw batchTooLarge(w.pos, maxBytes);
  }
  w.writeShared();
  return w.bytes.subarray(0, w.pos);
}

function batchTooLarge(written: number, maxBytes: number): FrameError {
  return new FrameError(
    'TOO_LARGE',
    `the batch body exceeds limits.maxFrameBytes (${maxBytes}) after ${written} bytes. Send the events in smaller batches.`,
  );
}

/** Writes one event (after its vtable, if its shape is new in this body); returns the table's position. */
function writeEvent(w: BodyWriter, event: BusEvent, limits: FrameLimits): number {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidEventError(`Cannot encode ${describe(event)} as an event: expected a BusEvent object.`);
  }
  const { id, type, origin, payload, meta, topic } = event;
  if (typeof id !== 'string') {
    throw new InvalidEventError(`Cannot encode an event whose id is ${describe(id)}: the id must be a string.`);
  }
  // What post() would refuse is never written: a receiver would refuse the whole frame.
  const idProblem = eventIdProblem(id);
  if (idProblem !== undefined) throw eventError(id, idProblem);
  const side = eventSideToWire(id, event.side);
  const priority = priorityToWire(id, event.priority);
  const timestamp = event.timestamp;
  if (!isEventTimestamp(timestamp)) {
    throw eventError(id, `its timestamp is ${describe(timestamp)}; it must be a finite number, not negative`);
  }
  // What post() would refuse is never written: a receiver would refuse the whole frame.
  const typeProblem = typeof type === 'string' ? eventTypeProblem(type, 'its type') : undefined;
  if (typeProblem !== undefined) throw eventError(id, typeProblem.slice(0, -1));
  if (typeof origin !== 'object' || origin === null) {
    throw eventError(id, `its origin is ${describe(origin)}; expected { processor, thread, generation }`);
  }
  const { processor, thread, generation } = origin;
  if (!isUint32(processor) || !isUint32(thread) || !isUint32(generation)) {
    throw eventError(id, 'origin.processor, origin.thread and origin.generation must be integers from 0 to 4294967295');
  }
  const bytesPayload = payload instanceof Uint8Array;
  const shape = (topic === undefined ? 0 : SHAPE_TOPIC) | (meta === undefined ? 0 : SHAPE_META) | (bytesPayload ? SHAPE_BYTES : 0);
  const table = writeEventTable(w, shape, timestamp, processor, thread, generation, side, priority);
  w.link(table + 4, writeEventString(w, id, id, 'id', limits.maxStringBytes));
  shareEventString(w, table + 16, id, type, 'type', limits.maxStringBytes);
  if (topic !== undefined) {
    shareEventString(w, table + 40, id, topic, 'topic', limits.maxStringBytes);
    checkLabelLength(id, topic as string, 'topic');
  }
  if (bytesPayload) {
    if (payload.length > limits.maxPayloadBytes) {
      throw eventError(id, `its payload is ${payload.length} bytes, more than limits.maxPayloadBytes (${limits.maxPayloadBytes})`);
    }
    w.link(table + 20, w.byteVector(payload));
  } else {
    w.link(table + 20, writeJsonPayload(w, id, payload, limits));
  }
  if (meta !== undefined) w.link(table + eventMetaField(shape), writeMeta(w, id, meta, limits));
  return table;
}

/**
 * Starts the table of an event of `shape` (after its vtable, the first time
 * this body has the shape) and writes its scalars; returns the table's
 * position. The caller links its id, type, payload, topic and meta.
 */
function writeEventTable(
  w: BodyWriter,
  shape: number,
  timestamp: number,
  processor: number,
  thread: number,
  generation: number,
  side: number,
  priority: number,
): number {
  let vtable = w.eventVtables[shape] as number;
  if (vtable === 0) {
    vtable = w.vtable(eventTableBytes(shape), EVENT_VTABLES[shape] as number[]);
    w.eventVtables[shape] = vtable;
  }
  const table = w.table(vtable, eventTableBytes(shape), 8);
  const view = w.view;
  view.setFloat64(table + 8, timestamp, true);
  view.setUint32(table + 24, processor, true);
  view.setUint32(table + 28, thread, true);
  view.setUint32(table + 32, generation, true);
  // side, priority, payload_kind and the padding byte, as one little-endian word.
  const kind = (shape & SHAPE_BYTES) !== 0 ? wire.PayloadKind.Bytes : wire.PayloadKind.Json;
  view.setUint32(table + 36, side | (priority << 8) | (kind << 16), true);
  return table;
}

/** Where the meta field is in an event table of `shape` (which has meta). */
function eventMetaField(shape: number): number {
  return (shape & SHAPE_TOPIC) !== 0 ? 44 : 40;
}

/**
 * Writes history event `ref.index` of `ref.batch` by copying its fields from
 * the batch's body, in the layout and order `writeEvent` writes the same event
 * decoded, so that the bytes come out the same. Nothing is decoded but the
 * source body's shared strings (types, topics, meta keys: once per source
 * body), which this body shares again by their text. The encoder's limits
 * apply to the copy as to an event.
 */
function copyEvent(w: BodyWriter, ref: EncodedEventRef, limits: FrameLimits): number {
  const r = openEventAt(ref.batch, ref.index);
  const topicAt = r.eventAt(EVENT_FIELD_TOPIC);
  const metaAt = r.eventAt(EVENT_FIELD_META);
  const originAt = r.eventAt(EVENT_FIELD_ORIGIN);
  const bytesPayload = r.eventKind === wire.PayloadKind.Bytes;
  const shape = (topicAt === 0 ? 0 : SHAPE_TOPIC) | (metaAt === 0 ? 0 : SHAPE_META) | (bytesPayload ? SHAPE_BYTES : 0);
  const view = r.view;
  const processor = view.getUint32(originAt, true);
  const thread = view.getUint32(originAt + 4, true);
  const generation = view.getUint32(originAt + 8, true);
  const table = writeEventTable(w, shape, r.eventTimestamp, processor, thread, generation, r.eventSide, r.eventPriority);
  const sourceMax = r.limits.maxStringBytes;
  w.link(table + 4, copyEventString(w, r, ref, r.eventAt(EVENT_FIELD_ID), 'id', limits.maxStringBytes));
  const type = r.sharedString(r.eventAt(EVENT_FIELD_TYPE), sourceMax, 'type', 'maxStringBytes');
  shareEventString(w, table + 16, ref, type, 'type', limits.maxStringBytes);
  if (topicAt !== 0) {
    const topic = r.sharedString(topicAt, sourceMax, 'topic', 'maxStringBytes');
    shareEventString(w, table + 40, ref, topic, 'topic', limits.maxStringBytes);
  }
  const end = locatePayload(r);
  const start = r.start;
  if (end - start > limits.maxPayloadBytes) {
    throw eventError(ref, `its payload is ${end - start} bytes, more than limits.maxPayloadBytes (${limits.maxPayloadBytes})`);
  }
  w.link(table + 20, bytesPayload ? w.byteVector(r.bytes, start, end) : w.copyString(r.bytes, start, end));
  if (metaAt !== 0) w.link(table + eventMetaField(shape), copyMeta(w, r, ref, metaAt, limits));
  return table;
}

/** Copies the meta entries of the source event open in `r`, as `writeMeta` writes them; returns the vector's position. */
function copyMeta(w: BodyWriter, r: BodyReader, ref: EncodedEventRef, metaAt: number, limits: FrameLimits): number {
  const source = metaVector(r, metaAt);
  const length = r.uint32(source);
  if (length > limits.maxMetaEntries) {
    throw eventError(ref, `its meta has ${length} entries, more than limits.maxMetaEntries (${limits.maxMetaEntries})`);
  }
  const vector = w.metaVector(length);
  for (let i = 0; i < length; i++) {
    const key = openMetaEntry(r, source, i);
    const entry = w.metaEntry(vector, i);
    shareEventString(w, entry + 4, ref, key, 'meta key', limits.maxStringBytes);
    w.link(entry + 8, copyEventString(w, r, ref, r.metaValueAt, 'meta value', limits.maxStringBytes));
  }
  return vector;
}

/** Copies the string the source field at `at` (in `r`) points at; returns its position in `w`. */
function copyEventString(w: BodyWriter, r: BodyReader, ref: EncodedEventRef, at: number, what: string, maxBytes: number): number {
  const end = r.stringAt(r.follow(at, what), r.limits.maxStringBytes, what, 'maxStringBytes');
  if (end - r.start > maxBytes) throw eventError(ref, `its ${what} is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8`);
  return w.copyString(r.bytes, r.start, end);
}

function writeMeta(w: BodyWriter, id: string, meta: unknown, limits: FrameLimits): number {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw eventError(id, `its meta is ${describe(meta)}; expected an object of strings`);
  }
  const proto = Object.getPrototypeOf(meta) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw eventError(id, 'its meta is not a plain object');
  }
  const record = meta as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > MAX_META_ENTRIES) throw eventError(id, `its meta has ${keys.length} entries, more than ${MAX_META_ENTRIES}`);
  if (keys.length > limits.maxMetaEntries) {
    throw eventError(id, `its meta has ${keys.length} entries, more than limits.maxMetaEntries (${limits.maxMetaEntries})`);
  }
  const vector = w.metaVector(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = record[key];
    if (typeof value !== 'string') {
      throw eventError(id, `its meta[${JSON.stringify(key)}] is ${describe(value)}; meta values must be strings`);
    }
    const entry = w.metaEntry(vector, i);
    shareEventString(w, entry + 4, id, key, 'meta key', limits.maxStringBytes);
    checkLabelLength(id, key, 'meta key');
    w.link(entry + 8, writeEventString(w, id, value, `meta[${JSON.stringify(key)}]`, limits.maxStringBytes));
    checkLabelLength(id, value, `meta[${JSON.stringify(key.slice(0, 80))}]`);
  }
  return vector;
}

/** Refuses a topic, meta key or meta value longer than post() allows (`MAX_LABEL_LENGTH`). */
function checkLabelLength(id: string, label: string, what: string): void {
  if (label.length > MAX_LABEL_LENGTH) throw eventError(id, `its ${what} is ${label.length} characters, more than ${MAX_LABEL_LENGTH}`);
}

/** Writes a string field of an event, or says why it cannot be written. */
function writeEventString(w: BodyWriter, id: string, value: unknown, field: string, maxBytes: number): number {
  if (typeof value !== 'string') throw eventError(id, `its ${field} is ${describe(value)}; it must be a string`);
  if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
    throw eventError(id, `its ${field} is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8`);
  }
  const at = w.string(value);
  if (at < 0) throw eventError(id, `its ${field} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
  return at;
}

/**
 * Points the field at `field` to `value` written once per body: types, topics
 * and meta keys repeat across a batch, so each distinct one is checked and
 * written once, and the decoder builds one JS string for it (see
 * `BodyReader.shared`). Values and ids are unique, and payloads are parsed
 * per event, so they are never shared.
 */
function shareEventString(
  w: BodyWriter,
  field: number,
  id: string | EncodedEventRef,
  value: unknown,
  what: string,
  maxBytes: number,
): void {
  if (typeof value !== 'string') throw eventError(id, `its ${what} is ${describe(value)}; it must be a string`);
  let index = w.sharedIndex.get(value);
  if (index === undefined) {
    if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
      throw eventError(id, `its ${what} is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8`);
    }
    if (!isWellFormed(value)) throw eventError(id, `its ${what} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    index = w.sharedTexts.push(value) - 1;
    w.sharedIndex.set(value, index);
  }
  w.sharedRefs.push(field, index);
}

/** Writes a JSON payload as a string; returns its position, or says why the payload cannot be written. */
function writeJsonPayload(w: BodyWriter, id: string, payload: unknown, limits: FrameLimits): number {
  w.reserve(8);
  w.pad(4);
  const at = w.pos;
  w.pos += 4;
  if (!writeJson(w, payload, 0)) {
    w.ancestors.length = 0;
    // The writer only knows that it must refuse; the walk says why, and where.
    const problem = jsonProblem(payload, 0, []) ?? ' changed while it was being encoded (a getter?)';
    throw eventError(
      id,
      `its payload${problem}. A payload is JSON-compatible data (null, booleans, finite numbers, strings, ` +
        'arrays and plain objects of them) or a Uint8Array',
    );
  }
  const length = w.pos - at - 4;
  if (length > limits.maxPayloadBytes) {
    throw eventError(id, `its JSON payload is more than limits.maxPayloadBytes (${limits.maxPayloadBytes}) bytes`);
  }
  w.view.setUint32(at, length, true);
  w.reserve(1);
  w.bytes[w.pos++] = 0;
  return at;
}

/**
 * Writes `value` as the JSON text `JSON.stringify` would give, straight into
 * the body, checking as it goes what `jsonProblem` checks; returns false (with
 * part of the text written) where `jsonProblem` would find a problem. One
 * walk instead of a validation walk, a `JSON.stringify` and a copy of its text
 * into the body: this was a third of encoding a small event.
 */
function writeJson(w: BodyWriter, value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return writeJsonString(w, value);
    case 'number':
      if (!Number.isFinite(value)) return false;
      writeJsonNumber(w, value);
      return true;
    case 'boolean':
      writeAscii(w, value ? 'true' : 'false');
      return true;
    case 'object': {
      if (value === null) {
        writeAscii(w, 'null');
        return true;
      }
      if (depth >= MAX_PAYLOAD_DEPTH) return false;
      const ancestors = w.ancestors;
      if (ancestors.includes(value)) return false;
      if (Array.isArray(value)) {
        ancestors.push(value);
        writeByte(w, 0x5b); // [
        for (let i = 0; i < value.length; i++) {
          if (i > 0) writeByte(w, 0x2c); // ,
          if (!(i in value) || !writeJson(w, value[i], depth + 1)) return false;
        }
        writeByte(w, 0x5d); // ]
        ancestors.pop();
        return true;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      // JSON.stringify calls toJSON even when it is inherited or not enumerable.
      if (typeof record['toJSON'] === 'function') return false;
      ancestors.push(value);
      writeByte(w, 0x7b); // {
      let first = true;
      // for-in over own keys visits them in JSON.stringify's order.
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        if (!first) writeByte(w, 0x2c); // ,
        first = false;
        if (!writeJsonString(w, key)) return false;
        writeByte(w, 0x3a); // :
        if (!writeJson(w, record[key], depth + 1)) return false;
      }
      writeByte(w, 0x7d); // }
      ancestors.pop();
      return true;
    }
    default:
      return false;
  }
}

function writeByte(w: BodyWriter, byte: number): void {
  if (w.pos >= w.bytes.length) w.grow(w.pos + 1);
  w.bytes[w.pos++] = byte;
}

/** Writes an ASCII text as is. */
function writeAscii(w: BodyWriter, text: string): void {
  w.reserve(text.length);
  const bytes = w.bytes;
  let pos = w.pos;
  for (let i = 0; i < text.length; i++) bytes[pos++] = text.charCodeAt(i);
  w.pos = pos;
}

/**
 * A JSON string: printable ASCII without `"` or `\` is copied, anything else
 * quoted by JSON.stringify itself. False for a lone surrogate: JSON could
 * carry it as an escape, but post() refuses it, and so does the decoder.
 */
function writeJsonString(w: BodyWriter, text: string): boolean {
  const length = text.length;
  w.reserve(length + 2);
  const bytes = w.bytes;
  let pos = w.pos;
  bytes[pos++] = 0x22;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
      // Escapes, and non-ASCII: JSON.stringify's quoting, written as UTF-8.
      if (!isWellFormed(text)) return false;
      const quoted = JSON.stringify(text);
      w.reserve(3 * quoted.length);
      w.pos += w.buffer.write(quoted, w.pos, 'utf8');
      return true;
    }
    bytes[pos++] = code;
  }
  bytes[pos++] = 0x22;
  w.pos = pos;
  return true;
}

/** A finite number as JSON.stringify writes it: integers digit by digit, others through `String`. */
function writeJsonNumber(w: BodyWriter, value: number): void {
  // -0 passes (it writes "0", as JSON.stringify does).
  if ((value | 0) !== value) {
    writeAscii(w, String(value));
    return;
  }
  w.reserve(11);
  let n = value;
  if (n < 0) {
    w.bytes[w.pos++] = 0x2d; // -
    n = -n;
  }
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let pos = w.pos + digits;
  w.pos = pos;
  do {
    const digit = n % 10;
    w.bytes[--pos] = 0x30 + digit;
    n = (n - digit) / 10;
  } while (n > 0);
}

// --- control messages: through the generated builders -----------------------

function messageTypeOf(message: WireMessage): wire.Message {
  switch (message.kind) {
    case 'batch':
      return wire.Message.EventBatch;
    case 'syncRequest':
      return wire.Message.SyncRequest;
    case 'clearSide':
      return wire.Message.ClearSide;
    case 'bridgeState':
      return wire.Message.BridgeState;
    case 'ack':
      return wire.Message.Ack;
  }
}

function writeMessage(builder: flatbuffers.Builder, message: WireMessage, limits: FrameLimits): flatbuffers.Offset {
  if (typeof message !== 'object' || message === null) {
    throw new InvalidEventError(`Cannot encode ${describe(message)}: expected a WireMessage object.`);
  }
  switch (message.kind) {
    case 'syncRequest':
      return writeSyncRequest(builder, message, limits);
    case 'clearSide': {
      const seq = seqToWire(message.seq, 'clearSide');
      const remove = sideToWire(message.remove, 'clearSide.remove');
      const scope = sideToWire(message.scope, 'clearSide.scope');
      return wire.ClearSide.createClearSide(builder, seq, remove, scope);
    }
    case 'bridgeState': {
      const seq = seqToWire(message.seq, 'bridgeState');
      const direction = directionToWire(message.direction);
      if (typeof message.locked !== 'boolean') {
        throw new InvalidEventError(`Cannot encode bridgeState: locked must be a boolean, got ${describe(message.locked)}.`);
      }
      return wire.BridgeState.createBridgeState(builder, seq, direction, message.locked);
    }
    case 'ack':
      return writeAck(builder, message, limits);
    default:
      throw new InvalidEventError(
        `Cannot encode a message of kind ${describe((message as { kind?: unknown }).kind)}: ` +
          'expected batch, syncRequest, clearSide, bridgeState or ack.',
      );
  }
}

function writeSyncRequest(builder: flatbuffers.Builder, request: SyncRequest, limits: FrameLimits): flatbuffers.Offset {
  const seq = seqToWire(request.seq, 'syncRequest');
  const side = sideToWire(request.side, 'syncRequest.side');
  let typesOffset = 0;
  if (request.types !== undefined) {
    const types = request.types;
    if (!Array.isArray(types)) {
      throw new InvalidEventError(`Cannot encode syncRequest: types must be an array of strings, got ${describe(types)}.`);
    }
    if (types.length > limits.maxTypes) {
      throw new FrameError('TOO_LARGE', `the sync request names ${types.length} types, more than limits.maxTypes (${limits.maxTypes}).`);
    }
    const offsets: number[] = [];
    for (let i = 0; i < types.length; i++) {
      offsets.push(writeControlString(builder, types[i], limits.maxStringBytes, `syncRequest.types[${i}]`));
    }
    typesOffset = writeOffsetVector(builder, offsets);
  }
  const from = writeEndpoint(builder, request.from, 'syncRequest.from');
  const since = request.since === undefined ? undefined : seqToWire(request.since, 'syncRequest.since');
  if (request.limit !== undefined && (!isUint32(request.limit) || request.limit < 1)) {
    throw new InvalidEventError(`Cannot encode syncRequest: limit must be an integer from 1 to 4294967295, got ${describe(request.limit)}.`);
  }
  const deliveredThrough =
    request.deliveredThrough === undefined ? undefined : seqToWire(request.deliveredThrough, 'syncRequest.deliveredThrough');
  wire.SyncRequest.startSyncRequest(builder);
  wire.SyncRequest.addSeq(builder, seq);
  wire.SyncRequest.addFrom(builder, from);
  if (typesOffset !== 0) wire.SyncRequest.addTypes(builder, typesOffset);
  wire.SyncRequest.addSide(builder, side);
  // Written even when 0 (FlatBuffers would drop a default), so that absent and 0 stay apart.
  if (since !== undefined) builder.addFieldInt64(4, since, BigInt(-1));
  if (request.limit !== undefined) wire.SyncRequest.addLimit(builder, request.limit);
  // 0 (none) is the default and is left out.
  if (deliveredThrough !== undefined) wire.SyncRequest.addDeliveredThrough(builder, deliveredThrough);
  return wire.SyncRequest.endSyncRequest(builder);
}

function writeAck(builder: flatbuffers.Builder, ack: Ack, limits: FrameLimits): flatbuffers.Offset {
  const seq = seqToWire(ack.seq, 'ack');
  if (typeof ack.ok !== 'boolean') {
    throw new InvalidEventError(`Cannot encode ack: ok must be a boolean, got ${describe(ack.ok)}.`);
  }
  if (!isUint32(ack.credits)) {
    throw new InvalidEventError(`Cannot encode ack: credits must be an integer from 0 to 4294967295, got ${describe(ack.credits)}.`);
  }
  if (ack.alreadyDelivered !== undefined && !isUint32(ack.alreadyDelivered)) {
    throw new InvalidEventError(
      `Cannot encode ack: alreadyDelivered must be an integer from 0 to 4294967295, got ${describe(ack.alreadyDelivered)}.`,
    );
  }
  const errorCode =
    ack.errorCode === undefined ? 0 : writeControlString(builder, ack.errorCode, limits.maxStringBytes, 'ack.errorCode');
  const errorMessage =
    ack.errorMessage === undefined
      ? 0
      : writeControlString(builder, ack.errorMessage, limits.maxStringBytes, 'ack.errorMessage');
  wire.Ack.startAck(builder);
  wire.Ack.addSeq(builder, seq);
  wire.Ack.addOk(builder, ack.ok);
  if (errorCode !== 0) wire.Ack.addErrorCode(builder, errorCode);
  if (errorMessage !== 0) wire.Ack.addErrorMessage(builder, errorMessage);
  wire.Ack.addCredits(builder, ack.credits);
  // Written even when 0 (FlatBuffers would drop a default), so that absent and 0 stay apart.
  if (ack.through !== undefined) builder.addFieldInt64(5, seqToWire(ack.through, 'ack.through'), BigInt(-1));
  if (ack.parked !== undefined) builder.addFieldInt64(6, seqToWire(ack.parked, 'ack.parked'), BigInt(-1));
  // 0 (none) is the default and is left out.
  if (ack.alreadyDelivered !== undefined) wire.Ack.addAlreadyDelivered(builder, ack.alreadyDelivered);
  return wire.Ack.endAck(builder);
}


/** Checks an endpoint; returns it with its side as the wire enum. */
function checkEndpoint(endpoint: Endpoint, what: string): { processor: number; thread: number; generation: number; side: wire.Side } {
  if (typeof endpoint !== 'object' || endpoint === null) {
    throw new InvalidEventError(`Cannot encode ${what}: expected an Endpoint, got ${describe(endpoint)}.`);
  }
  const { processor, thread, generation } = endpoint;
  if (!isUint32(processor) || !isUint32(thread) || !isUint32(generation)) {
    throw new InvalidEventError(
      `Cannot encode ${what}: processor, thread and generation must be integers from 0 to 4294967295.`,
    );
  }
  return { processor, thread, generation, side: sideToWire(endpoint.side, `${what}.side`) };
}

function writeEndpoint(builder: flatbuffers.Builder, endpoint: Endpoint, what: string): flatbuffers.Offset {
  const { processor, thread, generation, side } = checkEndpoint(endpoint, what);
  return wire.Endpoint.createEndpoint(builder, processor, thread, generation, side);
}

/** A vector of offsets (tables or strings), written the way the generated `create*Vector` helpers do. */
function writeOffsetVector(builder: flatbuffers.Builder, offsets: readonly number[]): flatbuffers.Offset {
  builder.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) builder.addOffset(offsets[i] as number);
  return builder.endVector();
}

/**
 * `builder.createString(text)`, byte for byte, without its `TextEncoder`
 * allocation for short ASCII strings (ids, types, small JSON payloads: most of
 * a batch). Uses only the builder's public API, as `createString` itself does.
 * Returns 0 (never a valid offset) when `text` holds a lone surrogate, which
 * UTF-8 cannot carry: `TextEncoder` would silently write U+FFFD instead.
 */
function writeString(builder: flatbuffers.Builder, text: string): flatbuffers.Offset {
  const length = text.length;
  if (length <= SHORT_ASCII_CHARS) {
    let ascii = true;
    for (let i = 0; i < length; i++) {
      if (text.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      builder.addInt8(0);
      builder.startVector(1, length, 1);
      for (let i = length - 1; i >= 0; i--) builder.writeInt8(text.charCodeAt(i));
      return builder.endVector();
    }
  }
  return isWellFormed(text) ? builder.createString(text) : 0;
}

/**
 * Why `value` cannot travel as JSON and come back equal, as a path and a reason
 * (e.g. `.user.age is NaN`), or `undefined` when it can. Allocates nothing on
 * success; `ancestors` catches cycles.
 */
function jsonProblem(value: unknown, depth: number, ancestors: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? undefined : ' is a string with a lone UTF-16 surrogate';
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : ` is ${value}, which JSON cannot carry`;
    case 'object': {
      if (value === null) return undefined;
      if (depth >= MAX_PAYLOAD_DEPTH) return ` is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
      if (ancestors.includes(value)) return ' is a circular reference';
      if (Array.isArray(value)) {
        ancestors.push(value);
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return `[${i}] is a hole in a sparse array`;
          const problem = jsonProblem(value[i], depth + 1, ancestors);
          if (problem !== undefined) return `[${i}]${problem}`;
        }
        ancestors.pop();
        return undefined;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        if (value instanceof Uint8Array) return ' is a Uint8Array inside data (bytes may only be the whole payload)';
        const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
        return ` is ${typeof name === 'string' && name !== '' ? `a ${name}` : 'a class instance'}, not a plain object`;
      }
      ancestors.push(value);
      const record = value as Record<string, unknown>;
      // JSON.stringify calls toJSON even when it is inherited or not enumerable.
      if (typeof record['toJSON'] === 'function') return '.toJSON is a function, which would change the value on the wire';
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        if (!isWellFormed(key)) return ' has a key with a lone UTF-16 surrogate';
        const problem = jsonProblem(record[key], depth + 1, ancestors);
        if (problem !== undefined) return `.${key}${problem}`;
      }
      ancestors.pop();
      return undefined;
    }
    case 'undefined':
      return ' is undefined (use null)';
    default:
      return ` is a ${typeof value}`;
  }
}

const isWellFormedNative = (String.prototype as unknown as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** False when `text` holds a lone surrogate, which UTF-8 cannot carry (it would come back as U+FFFD). */
function isWellFormed(text: string): boolean {
  return isWellFormedNative !== undefined ? isWellFormedNative.call(text) : !LONE_SURROGATE.test(text);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Writes a string field of a control message, or says why it cannot be written. */
function writeControlString(builder: flatbuffers.Builder, value: unknown, maxBytes: number, what: string): flatbuffers.Offset {
  if (typeof value !== 'string') throw new InvalidEventError(`Cannot encode ${what}: expected a string, got ${describe(value)}.`);
  if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
    throw new InvalidEventError(`Cannot encode ${what}: it is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8.`);
  }
  const offset = writeString(builder, value);
  if (offset === 0) {
    throw new InvalidEventError(`Cannot encode ${what}: it holds a lone UTF-16 surrogate, which UTF-8 cannot carry.`);
  }
  return offset;
}

/** The error for an event that cannot be encoded; a ref's id is read only here, to say which event. */
function eventError(event: string | EncodedEventRef, reason: string): InvalidEventError {
  const id = typeof event === 'string' ? event : eventIdAt(event.batch, event.index);
  return new InvalidEventError(`Event ${JSON.stringify(id.slice(0, 120))} cannot be encoded: ${reason}.`);
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

function checkSeq(seq: unknown, what: string): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidEventError(`Cannot encode ${what}: seq must be an integer from 0 to 2^53 - 1, got ${describe(seq)}.`);
  }
  return seq;
}

function seqToWire(seq: unknown, what: string): bigint {
  return BigInt(checkSeq(seq, what));
}

function sideToWire(side: unknown, what: string): wire.Side {
  if (side === 'internal') return wire.Side.Internal;
  if (side === 'external') return wire.Side.External;
  throw new InvalidEventError(`Cannot encode ${what}: expected 'internal' or 'external', got ${describe(side)}.`);
}

function eventSideToWire(id: string, side: unknown): wire.Side {
  if (side === 'internal') return wire.Side.Internal;
  if (side === 'external') return wire.Side.External;
  throw eventError(id, `its side is ${describe(side)}; expected 'internal' or 'external'`);
}

function priorityToWire(id: string, priority: unknown): wire.Priority {
  if (priority === 'normal') return wire.Priority.Normal;
  if (priority === 'immediate') return wire.Priority.Immediate;
  if (priority === 'deferred') return wire.Priority.Deferred;
  throw eventError(id, `its priority is ${describe(priority)}; expected 'immediate', 'normal' or 'deferred'`);
}

function directionToWire(direction: unknown): wire.BridgeDirection {
  switch (direction) {
    case 'closed':
      return wire.BridgeDirection.Closed;
    case 'open':
      return wire.BridgeDirection.Open;
    case 'oneWayExternal':
      return wire.BridgeDirection.OneWayExternal;
    case 'oneWayInternal':
      return wire.BridgeDirection.OneWayInternal;
    default:
      throw new InvalidEventError(
        `Cannot encode bridgeState: direction must be 'closed', 'open', 'oneWayExternal' or 'oneWayInternal', got ${describe(direction)}.`,
      );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    default:
      return typeof value;
  }
}
// ---------------------------------------------------------------------------
// Decoding: header
// ---------------------------------------------------------------------------

/**
 * Checks a frame's header (the first `FRAME_HEADER_BYTES` of `bytes`) and
 * returns what it says; a stream transport uses `frameBytes` to know how many
 * bytes to wait for. Checks nothing past the header. Throws `FrameError` only.
 *
 * @example
 * if (received.length >= FRAME_HEADER_BYTES) {
 *   const { frameBytes } = readFrameHeader(received)
 *   if (received.length >= frameBytes) handle(decodeFrame(received.subarray(0, frameBytes)))
 * }
 */
export function readFrameHeader(bytes: Uint8Array, limits?: Partial<FrameLimits>): FrameHeader {
  if (!(bytes instanceof Uint8Array)) throw new FrameError('MALFORMED', `expected a Uint8Array, got ${describe(bytes)}.`);
  return checkHeader(bytes, resolveFrameLimits(limits));
}

function checkHeader(bytes: Uint8Array, limits: FrameLimits): FrameHeader {
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw new FrameError('TRUNCATED', `${bytes.length} bytes are fewer than the ${FRAME_HEADER_BYTES}-byte header.`);
  }
  if (bytes[0] !== MAGIC_BYTES[0] || bytes[1] !== MAGIC_BYTES[1] || bytes[2] !== MAGIC_BYTES[2] || bytes[3] !== MAGIC_BYTES[3]) {
    throw new FrameError('BAD_MAGIC', 'the frame does not start with "BLF1"; it is not a busline frame or the stream lost sync.');
  }
  const version = bytes[4] as number;
  if (version !== FRAME_VERSION) {
    throw new FrameError('BAD_VERSION', `version ${version} is not supported; this build reads version ${FRAME_VERSION}.`);
  }
  const flags = bytes[5] as number;
  if ((flags & ~FLAG_SNAPPY) !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new FrameError('BAD_FLAGS', `unknown flags 0x${flags.toString(16)} or non-zero reserved bytes.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
  const bodyBytes = view.getUint32(8, true);
  const uncompressedBytes = view.getUint32(12, true);
  const checksum = view.getUint32(16, true);
  const compressed = (flags & FLAG_SNAPPY) !== 0;
  if (bodyBytes > limits.maxFrameBytes || uncompressedBytes > limits.maxFrameBytes) {
    throw new FrameError(
      'TOO_LARGE',
      `the body claims ${Math.max(bodyBytes, uncompressedBytes)} bytes, more than limits.maxFrameBytes (${limits.maxFrameBytes}).`,
    );
  }
  if (!compressed && uncompressedBytes !== bodyBytes) {
    throw new FrameError('LENGTH_MISMATCH', `an uncompressed body of ${bodyBytes} bytes claims ${uncompressedBytes} uncompressed.`);
  }
  return { version, compressed, bodyBytes, uncompressedBytes, checksum, frameBytes: FRAME_HEADER_BYTES + bodyBytes };
}

/**
 * Snappy turns at most 3 input bytes into 64 output bytes (a 2-byte-offset copy),
 * so a compressed body can never honestly claim more than about 21.4 times its size.
 */
const SNAPPY_MAX_EXPANSION = 22;

// ---------------------------------------------------------------------------
// Decoding: frame
// ---------------------------------------------------------------------------

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
 * body, indexed by position, timestamp and side, and no JS object or string is
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

/** Our own errors as they are; anything else thrown while reading (a bug) as a `FrameError`, so that callers need catch no other. */
function asFrameError(error: unknown): unknown {
  if (isBusError(error)) return error;
  return new FrameError('MALFORMED', `decoding failed unexpectedly: ${String(error)}`, { cause: error });
}

/**
 * Checks a whole frame (type, header, length, CRC32C) and returns its body,
 * decompressed: a view of `bytes` unless it was compressed or in shared memory.
 */
function frameBody(bytes: Uint8Array, limits: FrameLimits): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new FrameError('MALFORMED', `expected a Uint8Array, got ${describe(bytes)}.`);
  const header = checkHeader(bytes, limits);
  if (bytes.length < header.frameBytes) {
    throw new FrameError('TRUNCATED', `the frame has ${bytes.length} bytes; its header announces ${header.frameBytes}.`);
  }
  if (bytes.length > header.frameBytes) {
    throw new FrameError(
      'LENGTH_MISMATCH',
      `the frame has ${bytes.length} bytes; its header announces ${header.frameBytes}. Pass exactly one frame.`,
    );
  }
  // A plain view of exactly the body. Bodies in shared memory are copied
  // first, so that the bytes checksummed are the bytes verified and read.
  let body = new Uint8Array(bytes.buffer, bytes.byteOffset + FRAME_HEADER_BYTES, header.bodyBytes);
  if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) body = body.slice();
  if (crc32c(body) >>> 0 !== header.checksum) {
    throw new FrameError('CHECKSUM', 'the body does not match its CRC32C; it was damaged in transit.');
  }
  return header.compressed ? decompress(body, header) : body;
}

function decompress(body: Uint8Array, header: FrameHeader): Uint8Array {
  // Raw snappy starts with the uncompressed length as a little-endian base-128 varint.
  let claimed = 0;
  let i = 0;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= body.length || i >= 5) throw new FrameError('DECOMPRESS', 'the snappy length prefix is truncated or too long.');
    const byte = body[i] as number;
    claimed += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (claimed !== header.uncompressedBytes) {
    throw new FrameError(
      'LENGTH_MISMATCH',
      `the snappy body claims ${claimed} uncompressed bytes; the header says ${header.uncompressedBytes}.`,
    );
  }
  if (claimed > body.length * SNAPPY_MAX_EXPANSION) {
    throw new FrameError('DECOMPRESS', `${body.length} snappy bytes cannot expand to the ${claimed} they claim.`);
  }
  let output: Uint8Array;
  try {
    output = uncompressSync(body, { asBuffer: true }) as Uint8Array;
  } catch (cause) {
    throw new FrameError('DECOMPRESS', `snappy refused the body: ${String(cause)}`, { cause });
  }
  if (output.length !== claimed) {
    throw new FrameError('DECOMPRESS', `snappy produced ${output.length} bytes instead of ${claimed}.`);
  }
  return new Uint8Array(output.buffer, output.byteOffset, output.length);
}

// ---------------------------------------------------------------------------
// Decoding: the verifying reader
// ---------------------------------------------------------------------------

// Field slots (vtable offsets: 4 + 2 × the field's position in its table in
// busline.fbs). The round trips through the generated builders (control
// messages) and tests/schemas/codec-batch.test.ts, which reads batches with
// the generated accessors, pin these.
const ENVELOPE_MESSAGE_TYPE = 4;
const ENVELOPE_MESSAGE = 6;
const BATCH_SEQ = 4;
const BATCH_FROM = 6;
const BATCH_HISTORY = 8;
const BATCH_QUEUE = 10;
const BATCH_MORE = 12;
const SYNC_SEQ = 4;
const SYNC_FROM = 6;
const SYNC_TYPES = 8;
const SYNC_SIDE = 10;
const SYNC_SINCE = 12;
const SYNC_LIMIT = 14;
const SYNC_DELIVERED_THROUGH = 16;
const CLEAR_SEQ = 4;
const CLEAR_REMOVE = 6;
const CLEAR_SCOPE = 8;
const BRIDGE_SEQ = 4;
const BRIDGE_DIRECTION = 6;
const BRIDGE_LOCKED = 8;
const ACK_SEQ = 4;
const ACK_OK = 6;
const ACK_ERROR_CODE = 8;
const ACK_ERROR_MESSAGE = 10;
const ACK_CREDITS = 12;
const ACK_THROUGH = 14;
const ACK_PARKED = 16;
const ACK_ALREADY_DELIVERED = 18;
const ENDPOINT_PROCESSOR = 4;
const ENDPOINT_THREAD = 6;
const ENDPOINT_GENERATION = 8;
const ENDPOINT_SIDE = 10;
const EVENT_ID = 4;
const EVENT_TYPE = 6;
const EVENT_SIDE = 8;
const EVENT_TIMESTAMP = 10;
const EVENT_ORIGIN = 12;
const EVENT_PRIORITY = 14;
const EVENT_TOPIC = 16;
const EVENT_PAYLOAD_KIND = 18;
const EVENT_PAYLOAD_JSON = 20;
const EVENT_PAYLOAD_BYTES = 22;
const EVENT_META = 24;
const META_KEY = 4;
const META_VALUE = 6;
const ORIGIN_BYTES = 12;
/** The envelope's file identifier, at body offset 4. */
const FILE_IDENTIFIER = [0x42, 0x4c, 0x57, 0x31]; // "BLW1"

// Wire enum value -> protocol value, built from the generated enums.
const SIDE_FROM_WIRE: Side[] = [];
SIDE_FROM_WIRE[wire.Side.Internal] = 'internal';
SIDE_FROM_WIRE[wire.Side.External] = 'external';
const PRIORITY_FROM_WIRE: Priority[] = [];
PRIORITY_FROM_WIRE[wire.Priority.Immediate] = 'immediate';
PRIORITY_FROM_WIRE[wire.Priority.Normal] = 'normal';
PRIORITY_FROM_WIRE[wire.Priority.Deferred] = 'deferred';
const DIRECTION_FROM_WIRE: BridgeDirection[] = [];
DIRECTION_FROM_WIRE[wire.BridgeDirection.Closed] = 'closed';
DIRECTION_FROM_WIRE[wire.BridgeDirection.Open] = 'open';
DIRECTION_FROM_WIRE[wire.BridgeDirection.OneWayExternal] = 'oneWayExternal';
DIRECTION_FROM_WIRE[wire.BridgeDirection.OneWayInternal] = 'oneWayInternal';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/**
 * A JSON number that could overflow to ±Infinity needs an exponent, and a
 * lone surrogate (which post() refuses) an escape from \\uD800 to \\uDFFF...
 */
const JSON_NEEDS_WALK = /\d[eE]|\\u[dD][89a-fA-F]/;
/**
 * ...or 309+ digits; and nesting deeper than `MAX_PAYLOAD_DEPTH` needs twice
 * as many brackets. Shorter JSON texts without an exponent need no walk.
 */
const JSON_WALK_CHARS = Math.min(309, 2 * (MAX_PAYLOAD_DEPTH + 1));
/** Strings up to this many bytes are built from their char codes, four at a time. */
const TINY_STRING_BYTES = 12;
/** Strings up to this many bytes are checked for ASCII here, then decoded by Buffer's native latin1 decoder. */
const SHORT_STRING_BYTES = 64;
/** JSON payloads up to this many bytes are parsed together with the others of their batch (`JsonBatch`). */
const JSON_BATCH_MAX_BYTES = 1024;
/** 1 for the bytes `JsonBatch.add` has nothing to track for: printable ASCII but `"` `\\` `[` `]` `{` `}` `,` `e` `E`. */
const JSON_PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) JSON_PLAIN[c] = '"\\[]{},eE'.includes(String.fromCharCode(c)) ? 0 : 1;

/** Strings longer than this are checked by Node's native UTF-8 validator (one view object each); shorter ones by `isUtf8Range`. */
const NATIVE_UTF8_MIN_BYTES = 256;

/**
 * Whether bytes `start..end` are well-formed UTF-8 as the fatal `TextDecoder`
 * judges it (no overlong forms, no surrogates, nothing above U+10FFFF),
 * without making a string, or for short strings any object at all.
 */
function isUtf8Range(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > NATIVE_UTF8_MIN_BYTES) return isUtf8(bytes.subarray(start, end));
  let i = start;
  while (i < end) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    // The second byte's range depends on the first (Unicode, table 3-7); the others are 80..BF.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (i + length > end) return false;
    const second = bytes[i + 1] as number;
    if (second < low || second > high) return false;
    for (let k = 2; k < length; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return false;
    i += length;
  }
  return true;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Reads one body, checking before every read. Holds the table opened last
 * (`table`, `vtable`, ...): readers take the positions of all fields of a
 * table before they open a nested one.
 *
 * `budget` is the body length minus every table, vector and distinct string
 * read so far, so what a body decodes to is bounded by its size. A string
 * read as shared (types, topics, meta keys: `sharedString`) is decoded and
 * paid for once per position; later references get the same JS string, which
 * costs no more memory than the table that points at it, and tables are paid
 * for at every visit. Every other string (ids, payloads, meta values) is paid
 * for at every reference, so a crafted frame whose events all point at one
 * big payload would decode to far more than it holds, and is refused.
 */
class BodyReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The body as a Buffer (same memory), for its native latin1 decoder; made on first use. */
  #text: Buffer | undefined = undefined;
  readonly size: number;
  readonly limits: FrameLimits;
  budget: number;
  table = 0;
  vtable = 0;
  vtableSize = 0;
  tableSize = 0;
  /** Where the reader is, for error messages. */
  where = 'envelope';
  index = -1;
  /** Set by `stringAt`: where the bytes of the string just checked start, and end. */
  start = 0;
  end = 0;
  /** Shared strings read so far, by position. */
  readonly shared = new Map<number, string>();
  /**
   * The event vtable `eventFields` was learned from, or -1. Events of one
   * batch share a few vtables, and the same vtable gives the same checked
   * field offsets, so they are checked once per vtable, not once per event.
   */
  eventVtable = -1;
  /** Field offsets (from the table start; 0 = absent) of `eventVtable`, in `EVENT_FIELDS` order. */
  readonly eventFields: number[] = new Array<number>(EVENT_FIELDS.length).fill(0);
  /** The last event's origin: consecutive events of one origin share one frozen object, as a bus's own events do. */
  origin: Origin | undefined = undefined;
  /** Small JSON payloads waiting to be parsed together (batches only). */
  json: JsonBatch | undefined = undefined;
  /** Set by `openEvent`: the open event's side, priority and payload kind (wire values), and its timestamp. */
  eventSide = 0;
  eventPriority = 0;
  eventKind = 0;
  eventTimestamp = 0;
  /** Set by `openMetaEntry`: the position of the open meta entry's value field. */
  metaValueAt = 0;
  /** The keys `scanMeta` has checked so far in a small meta; made on first use. */
  metaKeys: string[] | undefined = undefined;

  constructor(bytes: Uint8Array, limits: FrameLimits) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.length;
    this.limits = limits;
    this.budget = bytes.length;
  }

  fail(what: string): never {
    const at = this.index >= 0 ? `${this.where}[${this.index}]` : this.where;
    throw new FrameError('MALFORMED', `${at}: ${what}.`);
  }

  tooLarge(what: string): never {
    const at = this.index >= 0 ? `${this.where}[${this.index}]` : this.where;
    throw new FrameError('TOO_LARGE', `${at}: ${what}.`);
  }

  spend(bytes: number): void {
    this.budget -= bytes;
    if (this.budget < 0) this.fail('the body decodes to more than it holds (shared or overlapping data)');
  }

  /** Opens the table at `pos`: checks its vtable and its inline size. */
  openTable(pos: number, what: string): void {
    if (pos + 4 > this.size) this.fail(`the ${what} table lies outside the body`);
    const vtable = pos - this.view.getInt32(pos, true);
    if (vtable < 0 || vtable + 4 > this.size) this.fail(`the ${what} vtable lies outside the body`);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || (vtableSize & 1) !== 0 || vtable + vtableSize > this.size) this.fail(`the ${what} vtable is damaged`);
    if (tableSize < 4 || pos + tableSize > this.size) this.fail(`the ${what} table is damaged`);
    this.spend(tableSize);
    this.table = pos;
    this.vtable = vtable;
    this.vtableSize = vtableSize;
    this.tableSize = tableSize;
  }

  /** The position of a field of the open table, or 0 when it is absent. */
  field(slot: number, size: number): number {
    if (slot >= this.vtableSize) return 0;
    const offset = this.view.getUint16(this.vtable + slot, true);
    if (offset === 0) return 0;
    if (offset < 4 || offset + size > this.tableSize) this.fail(`field ${(slot - 4) / 2} lies outside its table`);
    return this.table + offset;
  }

  /** Follows the offset stored at `at` (a string, vector or table reference). */
  follow(at: number, what: string): number {
    const offset = this.view.getUint32(at, true);
    const to = at + offset;
    if (offset === 0 || to + 4 > this.size) this.fail(`the ${what} lies outside the body`);
    return to;
  }

  /** Length of the vector at `at`, checked against the body and `max`. */
  vectorLength(at: number, elementBytes: number, max: number, what: string, limit: keyof FrameLimits): number {
    const length = this.view.getUint32(at, true);
    if (at + 4 + length * elementBytes > this.size) this.fail(`the ${what} claims ${length} elements, more than the body holds`);
    if (length > max) this.tooLarge(`the ${what} has ${length} elements, more than limits.${limit} (${max})`);
    this.spend(4 + length * elementBytes);
    return length;
  }

  /** The string the field at `at` refers to. */
  string(at: number, maxBytes: number, what: string, limit: keyof FrameLimits): string {
    const end = this.stringAt(this.follow(at, what), maxBytes, what, limit);
    return this.decode(this.start, end, what);
  }

  /** Checks the string the field at `at` refers to as `string` does, without decoding it. */
  checkString(at: number, maxBytes: number, what: string, limit: keyof FrameLimits): void {
    const end = this.stringAt(this.follow(at, what), maxBytes, what, limit);
    this.checkUtf8(this.start, end, what);
  }

  /** Refuses bytes `start..end` unless they are valid UTF-8, as `decode` would, without decoding them. */
  checkUtf8(start: number, end: number, what: string): void {
    // ASCII, four bytes at a time, is most of what a scan checks.
    const view = this.view;
    let i = start;
    while (i + 4 <= end && (view.getUint32(i, true) & 0x8080_8080) === 0) i += 4;
    if (i < end && !isUtf8Range(this.bytes, i, end)) this.fail(`the ${what} is not valid UTF-8`);
  }

  /** The position of field `k` (in `EVENT_FIELDS` order) of the event `openEvent` opened, or 0 when it is absent. */
  eventAt(k: number): number {
    const offset = this.eventFields[k] as number;
    return offset === 0 ? 0 : this.table + offset;
  }

  /** The string the field at `at` refers to, decoded (and paid for) once however many fields share it. */
  sharedString(at: number, maxBytes: number, what: string, limit: keyof FrameLimits): string {
    const position = this.follow(at, what);
    const known = this.shared.get(position);
    if (known !== undefined) return known;
    const end = this.stringAt(position, maxBytes, what, limit);
    const text = this.decode(this.start, end, what);
    this.shared.set(position, text);
    return text;
  }

  /** A topic or meta key (shared) or, with `shared` false, a meta value, refused when post() would refuse it as too long. */
  label(at: number, what: string, shared = true): string {
    const text = shared
      ? this.sharedString(at, this.limits.maxStringBytes, what, 'maxStringBytes')
      : this.string(at, this.limits.maxStringBytes, what, 'maxStringBytes');
    if (text.length > MAX_LABEL_LENGTH) this.fail(`the ${what} is ${text.length} characters, more than ${MAX_LABEL_LENGTH}`);
    return text;
  }

  /** Checks a meta value as `label` does, decoding it only when its UTF-8 could be too long. */
  checkLabel(at: number, what: string): void {
    this.checkString(at, this.limits.maxStringBytes, what, 'maxStringBytes');
    // No string has more UTF-16 code units than its UTF-8 has bytes.
    if (this.end - this.start > MAX_LABEL_LENGTH) {
      const length = this.decode(this.start, this.end, what).length;
      if (length > MAX_LABEL_LENGTH) this.fail(`the ${what} is ${length} characters, more than ${MAX_LABEL_LENGTH}`);
    }
  }

  /** The open event's type, refused unless `post()` would accept it (the rule of `runtime/validate.ts`). */
  eventType(maxBytes: number): string {
    const type = this.sharedString(this.eventAt(EVENT_FIELD_TYPE), maxBytes, 'type', 'maxStringBytes');
    const problem = eventTypeProblem(type, 'the type');
    if (problem !== undefined) this.fail(problem.slice(0, -1));
    return type;
  }

  /**
   * Checks the string at `position` (its length, then its bytes and a NUL) and
   * pays for it; returns where its bytes end, and sets `start` to where they start.
   */
  stringAt(position: number, maxBytes: number, what: string, limit: keyof FrameLimits): number {
    const start = position + 4;
    const length = this.view.getUint32(position, true);
    const end = start + length;
    if (end >= this.size) this.fail(`the ${what} claims ${length} bytes, more than the body holds`);
    if (this.bytes[end] !== 0) this.fail(`the ${what} is not NUL-terminated`);
    if (length > maxBytes) this.tooLarge(`the ${what} is ${length} bytes, more than limits.${limit} (${maxBytes})`);
    this.spend(length + 5);
    this.start = start;
    this.end = end;
    return end;
  }

  /** The UTF-8 text of bytes `start..end`, refused when it is not valid UTF-8. */
  decode(start: number, end: number, what: string): string {
    const bytes = this.bytes;
    const length = end - start;
    if (length <= TINY_STRING_BYTES) {
      // Four char codes per call: about twice as fast as a native decoder's
      // call overhead, or one char at a time, for ids like "0.1.1234".
      let text = '';
      let i = start;
      for (; i + 4 <= end; i += 4) {
        const a = bytes[i] as number;
        const b = bytes[i + 1] as number;
        const c = bytes[i + 2] as number;
        const d = bytes[i + 3] as number;
        if ((a | b | c | d) >= 0x80) return this.utf8(start, end, what);
        text += String.fromCharCode(a, b, c, d);
      }
      for (; i < end; i++) {
        const a = bytes[i] as number;
        if (a >= 0x80) return this.utf8(start, end, what);
        text += String.fromCharCode(a);
      }
      return text;
    }
    if (length <= SHORT_STRING_BYTES) {
      for (let i = start; i < end; i++) if ((bytes[i] as number) >= 0x80) return this.utf8(start, end, what);
      // ASCII is latin1, and Buffer's latin1 decoder is native and fast.
      this.#text ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
      return this.#text.toString('latin1', start, end);
    }
    return this.utf8(start, end, what);
  }

  utf8(start: number, end: number, what: string): string {
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, end));
    } catch {
      return this.fail(`the ${what} is not valid UTF-8`);
    }
  }

  uint8Enum(at: number, fallback: number, count: number, what: string): number {
    if (at === 0) return fallback;
    const value = this.bytes[at] as number;
    if (value >= count) this.fail(`${what} ${value} is not a valid value`);
    return value;
  }

  bool(at: number, what: string): boolean {
    if (at === 0) return false;
    const value = this.bytes[at] as number;
    if (value > 1) this.fail(`${what} ${value} is not a boolean`);
    return value === 1;
  }

  uint32(at: number): number {
    return at === 0 ? 0 : this.view.getUint32(at, true);
  }

  /** A `uint64` sequence number that must fit a safe integer. */
  seq(at: number): number {
    if (at === 0) return 0;
    const high = this.view.getUint32(at + 4, true);
    if (high > 0x1f_ffff) this.fail('seq is larger than 2^53 - 1');
    return high * 0x1_0000_0000 + this.view.getUint32(at, true);
  }
}

/** Scratch memory for `JsonBatch`, kept between frames while small. */
let jsonScratch = new Uint8Array(16 * 1024);

/**
 * The small JSON payloads of one batch, parsed by one `JSON.parse` of
 * `[p1,p2,...]`: on 256 small events, one call per payload spent more time
 * in the call than in parsing. Joining is safe only if each payload is
 * exactly one JSON value, so `add` scans each one: outside strings (tracked
 * with their escapes, as JSON lexes them) its brackets must balance without
 * going below zero and it must hold no comma at its top level, and it must
 * not end inside a string. Then, if the joined text parses, every comma at
 * the array's level is one we put there, so element i is payload i, parsed as
 * `JSON.parse` would parse it alone; payloads that do not parse alone cannot
 * parse joined. A scan that fails sends the payload to `JSON.parse` alone;
 * a joined text that fails to parse is parsed again payload by payload, to
 * say which event is wrong.
 */
class JsonBatch {
  /** `[`, the payloads joined by `,`, `]`: built in `jsonScratch`. */
  length = 0;
  ascii = true;
  /** The events waiting for their payload, and for each: where its text is, whether it needs a walk, where it was read. */
  readonly events: Mutable<BusEvent>[] = [];
  readonly spans: number[] = [];
  readonly walks: boolean[] = [];
  readonly wheres: string[] = [];
  readonly indexes: number[] = [];

  /** Takes the payload at `start..end` of `r.bytes` for `event`, or returns false if it must be parsed alone. */
  add(r: BodyReader, start: number, end: number, event: Mutable<BusEvent>): boolean {
    const bytes = r.bytes;
    if (end - start > JSON_BATCH_MAX_BYTES) return false;
    if (this.length + (end - start) + 2 > jsonScratch.length) {
      const larger = new Uint8Array(Math.max(2 * jsonScratch.length, this.length + (end - start) + 2));
      larger.set(jsonScratch.subarray(0, this.length));
      jsonScratch = larger;
    }
    const out = jsonScratch;
    let pos = this.length;
    out[pos++] = this.events.length === 0 ? 0x5b : 0x2c; // [ or ,
    let depth = 0;
    let inString = false;
    let ascii = true;
    let walk = end - start >= JSON_WALK_CHARS;
    for (let i = start; i < end; i++) {
      const c = bytes[i] as number;
      out[pos++] = c;
      // Most bytes are letters, digits and the like: one table lookup each.
      if (JSON_PLAIN[c] === 1) continue;
      if (c >= 0x80) {
        ascii = false;
      } else if (c === 0x65 || c === 0x45) {
        // JSON_EXPONENT (a digit, then e or E), tested where the regular expression would match.
        if (i > start) {
          const before = bytes[i - 1] as number;
          if (before >= 0x30 && before <= 0x39) walk = true;
        }
      } else if (inString) {
        if (c === 0x22) {
          inString = false;
        } else if (c === 0x5c && i + 1 < end) {
          // An escape: the next byte is taken as it is, whatever it is.
          const escaped = bytes[++i] as number;
          out[pos++] = escaped;
          if (escaped >= 0x80) ascii = false;
          // JSON_NEEDS_WALK's surrogate escape: \uD800 to \uDFFF.
          else if (escaped === 0x75 && (bytes[i + 1] === 0x64 || bytes[i + 1] === 0x44)) walk = true;
        }
      } else if (c === 0x22) {
        inString = true;
      } else if (c === 0x5b || c === 0x7b) {
        depth++;
      } else if (c === 0x5d || c === 0x7d) {
        if (--depth < 0) return false;
      } else if (c === 0x2c && depth === 0) {
        return false;
      }
    }
    if (inString || depth !== 0) return false;
    this.length = pos;
    this.ascii &&= ascii;
    this.events.push(event);
    this.spans.push(start, end);
    this.walks.push(walk);
    this.wheres.push(r.where);
    this.indexes.push(r.index);
    return true;
  }

  /** Parses the payloads taken and gives each event its own. */
  finish(r: BodyReader): void {
    const count = this.events.length;
    if (count === 0) return;
    jsonScratch[this.length] = 0x5d; // ]
    const joined = jsonScratch.subarray(0, this.length + 1);
    let values: unknown;
    try {
      const text = this.ascii ? Buffer.from(joined.buffer, 0, joined.length).toString('latin1') : utf8Decoder.decode(joined);
      values = JSON.parse(text);
    } catch {
      values = undefined;
    } finally {
      if (jsonScratch.length > KEEP_BUILDER_BYTES) jsonScratch = new Uint8Array(16 * 1024);
    }
    if (!Array.isArray(values) || values.length !== count) {
      this.parseOneByOne(r);
      return r.fail('the JSON payloads do not parse');
    }
    for (let k = 0; k < count; k++) {
      const value = values[k] as Payload;
      if (this.walks[k]) {
        const problem = parsedPayloadProblem(value);
        if (problem !== undefined) {
          r.where = this.wheres[k] as string;
          r.index = this.indexes[k] as number;
          r.fail(`the JSON payload ${problem}`);
        }
      }
      (this.events[k] as Mutable<BusEvent>).payload = value;
    }
  }

  /** Parses each payload alone: the first one that is wrong fails, with its own location. */
  parseOneByOne(r: BodyReader): void {
    for (let k = 0; k < this.events.length; k++) {
      r.where = this.wheres[k] as string;
      r.index = this.indexes[k] as number;
      const start = this.spans[2 * k] as number;
      const end = this.spans[2 * k + 1] as number;
      parseJsonPayload(r, r.decode(start, end, 'JSON payload'));
    }
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
 * body (`scanEvent`), indexed; see `scanFrame`. The reader is kept for the
 * batch's later reads (`readerOf`).
 */
function scanBatch(r: BodyReader, position: number): EncodedBatch {
  const head = readBatchHead(r, position);
  const count = head.historyLength;
  const positions = new Int32Array(count);
  const timestamps = new Float64Array(count);
  const sides = new Uint8Array(count);
  r.where = 'batch.history';
  for (let i = 0; i < count; i++) {
    r.index = i;
    const event = r.follow(head.history + 4 + 4 * i, 'event');
    scanEvent(r, event);
    positions[i] = event;
    timestamps[i] = r.eventTimestamp;
    sides[i] = r.eventSide;
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
    positions,
    timestamps,
    sides,
    queue,
    ...(head.more ? { more: true } : {}),
  };
  keepReader(batch, r);
  return batch;
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

function readEvents(r: BodyReader, vector: number, length: number, where: string): BusEvent[] {
  r.where = where;
  const events: BusEvent[] = [];
  for (let i = 0; i < length; i++) {
    r.index = i;
    const at = vector + 4 + 4 * i;
    events.push(readEvent(r, r.follow(at, 'event')));
  }
  r.index = -1;
  return events;
}

/** The fields of an event: slot, and inline size. */
const EVENT_FIELDS: ReadonlyArray<readonly [slot: number, size: number]> = [
  [EVENT_ID, 4],
  [EVENT_TYPE, 4],
  [EVENT_SIDE, 1],
  [EVENT_TIMESTAMP, 8],
  [EVENT_ORIGIN, ORIGIN_BYTES],
  [EVENT_PRIORITY, 1],
  [EVENT_TOPIC, 4],
  [EVENT_PAYLOAD_KIND, 1],
  [EVENT_PAYLOAD_JSON, 4],
  [EVENT_PAYLOAD_BYTES, 4],
  [EVENT_META, 4],
];
// Indices into `EVENT_FIELDS` (and `BodyReader.eventFields`).
const EVENT_FIELD_ID = 0;
const EVENT_FIELD_TYPE = 1;
const EVENT_FIELD_SIDE = 2;
const EVENT_FIELD_TIMESTAMP = 3;
const EVENT_FIELD_ORIGIN = 4;
const EVENT_FIELD_PRIORITY = 5;
const EVENT_FIELD_TOPIC = 6;
const EVENT_FIELD_KIND = 7;
const EVENT_FIELD_JSON = 8;
const EVENT_FIELD_BYTES = 9;
const EVENT_FIELD_META = 10;

/** Checks the fields of the open event table's vtable and keeps their offsets for the next events that share it. */
function learnEventFields(r: BodyReader): void {
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const [slot, size] = EVENT_FIELDS[i] as readonly [number, number];
    const at = r.field(slot, size);
    r.eventFields[i] = at === 0 ? 0 : at - r.table;
  }
  r.eventVtable = r.vtable;
}

function readEvent(r: BodyReader, position: number): BusEvent {
  openEvent(r, position);
  // Positions taken before readMeta opens other tables. (No helper closure
  // here: tsx, like any build with esbuild's keepNames, names each closure
  // with a defineProperty call at creation, which cost more than the rest of
  // this function.)
  const topicAt = r.eventAt(EVENT_FIELD_TOPIC);
  const metaAt = r.eventAt(EVENT_FIELD_META);
  const origin = readOrigin(r, r.eventAt(EVENT_FIELD_ORIGIN));
  const maxString = r.limits.maxStringBytes;
  const id = r.string(r.eventAt(EVENT_FIELD_ID), maxString, 'id', 'maxStringBytes');
  const idProblem = id.length === 0 ? eventIdProblem(id) : undefined;
  if (idProblem !== undefined) r.fail(idProblem);
  const type = r.eventType(maxString);
  const topic = topicAt === 0 ? undefined : r.label(topicAt, 'topic');

  const event: Mutable<BusEvent> = {
    id,
    type,
    side: SIDE_FROM_WIRE[r.eventSide] as Side,
    timestamp: r.eventTimestamp,
    origin,
    priority: PRIORITY_FROM_WIRE[r.eventPriority] as Priority,
    payload: null,
  };
  const end = locatePayload(r);
  const start = r.start;
  if (r.eventKind === wire.PayloadKind.Json) {
    // Parsed later with the batch's other small payloads, or now.
    r.json ??= new JsonBatch();
    if (!r.json.add(r, start, end, event)) event.payload = parseJsonPayload(r, r.decode(start, end, 'JSON payload'));
  } else {
    event.payload = r.bytes.slice(start, end);
  }
  if (topic !== undefined) event.topic = topic;
  if (metaAt !== 0) event.meta = readMeta(r, metaAt);
  return event;
}

/**
 * Checks the event at `position` as `readEvent` does, but builds nothing
 * except the body's shared strings (`sharedString`), and checks its JSON
 * payload to be UTF-8 without parsing it. The checks come in `readEvent`'s
 * order, so that a damaged event is refused for the same reason.
 */
function scanEvent(r: BodyReader, position: number): void {
  openEvent(r, position);
  const topicAt = r.eventAt(EVENT_FIELD_TOPIC);
  const metaAt = r.eventAt(EVENT_FIELD_META);
  const maxString = r.limits.maxStringBytes;
  r.checkString(r.eventAt(EVENT_FIELD_ID), maxString, 'id', 'maxStringBytes');
  if (r.end === r.start) r.fail(eventIdProblem('') as string);
  r.eventType(maxString);
  if (topicAt !== 0) r.label(topicAt, 'topic');
  const end = locatePayload(r);
  if (r.eventKind === wire.PayloadKind.Json) r.checkUtf8(r.start, end, 'JSON payload');
  if (metaAt !== 0) scanMeta(r, metaAt);
}

/**
 * Opens the event table at `position` and checks what every reader of an
 * event needs before its strings: the fields of its vtable (once per vtable),
 * that id, type and origin are present, and its scalars, left in
 * `r.eventSide`, `eventPriority`, `eventTimestamp` (finite) and `eventKind`.
 * Field positions are then `r.eventAt(EVENT_FIELD_...)`.
 */
function openEvent(r: BodyReader, position: number): void {
  r.openTable(position, 'event');
  if (r.vtable !== r.eventVtable) learnEventFields(r);
  const fields = r.eventFields;
  if (fields[EVENT_FIELD_ID] === 0 || fields[EVENT_FIELD_TYPE] === 0 || fields[EVENT_FIELD_ORIGIN] === 0) {
    r.fail('id, type and origin are required');
  }
  r.eventSide = r.uint8Enum(r.eventAt(EVENT_FIELD_SIDE), wire.Side.Internal, SIDE_FROM_WIRE.length, 'side');
  r.eventPriority = r.uint8Enum(r.eventAt(EVENT_FIELD_PRIORITY), wire.Priority.Immediate, PRIORITY_FROM_WIRE.length, 'priority');
  const timestampAt = r.eventAt(EVENT_FIELD_TIMESTAMP);
  const timestamp = timestampAt === 0 ? 0 : r.view.getFloat64(timestampAt, true);
  if (!isEventTimestamp(timestamp)) r.fail(`timestamp ${timestamp} is not finite and not negative, as a clock stamps`);
  r.eventTimestamp = timestamp;
  r.eventKind = r.uint8Enum(r.eventAt(EVENT_FIELD_KIND), wire.PayloadKind.Json, 2, 'payload kind');
}

/** The origin at `at`: consecutive events of one origin share one frozen object, as a bus's own events do. */
function readOrigin(r: BodyReader, at: number): Origin {
  const view = r.view;
  const processor = view.getUint32(at, true);
  const thread = view.getUint32(at + 4, true);
  const generation = view.getUint32(at + 8, true);
  let origin = r.origin;
  if (origin === undefined || origin.processor !== processor || origin.thread !== thread || origin.generation !== generation) {
    origin = Object.freeze({ processor, thread, generation });
    r.origin = origin;
  }
  return origin;
}

/**
 * Checks the payload field of the event `openEvent` opened (JSON text or
 * bytes, as its kind says, and the other field absent) and its length;
 * returns where its bytes end, and sets `r.start` to where they start.
 */
function locatePayload(r: BodyReader): number {
  const jsonAt = r.eventAt(EVENT_FIELD_JSON);
  const bytesAt = r.eventAt(EVENT_FIELD_BYTES);
  const max = r.limits.maxPayloadBytes;
  if (r.eventKind === wire.PayloadKind.Json) {
    if (jsonAt === 0 || bytesAt !== 0) r.fail('a JSON payload must be in payload_json alone');
    return r.stringAt(r.follow(jsonAt, 'JSON payload'), max, 'JSON payload', 'maxPayloadBytes');
  }
  if (bytesAt === 0 || jsonAt !== 0) r.fail('a bytes payload must be in payload_bytes alone');
  const vector = r.follow(bytesAt, 'bytes payload');
  const length = r.vectorLength(vector, 1, max, 'bytes payload', 'maxPayloadBytes');
  r.start = vector + 4;
  return vector + 4 + length;
}

function parseJsonPayload(r: BodyReader, text: string): Payload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return r.fail('the JSON payload does not parse');
  }
  if (text.length >= JSON_WALK_CHARS || JSON_NEEDS_WALK.test(text)) {
    const problem = parsedPayloadProblem(value);
    if (problem !== undefined) r.fail(`the JSON payload ${problem}`);
  }
  return value as Payload;
}

/**
 * What `encodeFrame` (and post()) would refuse in a parsed JSON payload (a
 * number beyond the range of a double, nesting deeper than
 * `MAX_PAYLOAD_DEPTH`, a string or key with a lone surrogate), so that
 * whatever decodes can be encoded again. Iterative: the value may be deep.
 */
function parsedPayloadProblem(root: unknown): string | undefined {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop() as number;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return 'holds a number beyond the range of a double';
    } else if (typeof value === 'string') {
      if (!isWellFormed(value)) return 'holds a string with a lone UTF-16 surrogate';
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_PAYLOAD_DEPTH) return `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
      if (!Array.isArray(value)) for (const key in value) if (!isWellFormed(key)) return 'holds a key with a lone UTF-16 surrogate';
      const items = Array.isArray(value) ? value : Object.values(value);
      for (const item of items) {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}

function readMeta(r: BodyReader, metaAt: number): Record<string, string> {
  const vector = metaVector(r, metaAt);
  const length = r.uint32(vector);
  const meta: Record<string, string> = {};
  for (let i = 0; i < length; i++) {
    const key = openMetaEntry(r, vector, i);
    const value = r.label(r.metaValueAt, 'meta value', false);
    if (Object.hasOwn(meta, key)) duplicateMetaKey(r, key);
    // A plain assignment to "__proto__" would set the prototype instead of a key.
    if (key === '__proto__') Object.defineProperty(meta, key, { value, enumerable: true, writable: true, configurable: true });
    else meta[key] = value;
  }
  return meta;
}

/** Metas up to this many entries are checked for duplicate keys by comparing each key with the ones before it. */
const SCAN_META_KEYS = 16;

/** Checks the meta at `metaAt` as `readMeta` does (every entry, distinct keys), building nothing but shared key strings. */
function scanMeta(r: BodyReader, metaAt: number): void {
  const vector = metaVector(r, metaAt);
  const length = r.uint32(vector);
  const keys = (r.metaKeys ??= new Array<string>(SCAN_META_KEYS).fill(''));
  // Large metas are rare: a Set for them, so that a hostile one costs linear time.
  const seen = length > SCAN_META_KEYS ? new Set<string>() : undefined;
  for (let i = 0; i < length; i++) {
    const key = openMetaEntry(r, vector, i);
    r.checkLabel(r.metaValueAt, 'meta value');
    if (seen === undefined) {
      for (let k = 0; k < i; k++) if (keys[k] === key) duplicateMetaKey(r, key);
      keys[i] = key;
    } else {
      if (seen.has(key)) duplicateMetaKey(r, key);
      seen.add(key);
    }
  }
}

/** Follows the meta field at `metaAt` and checks its vector; returns the vector's position (its first word is its length). */
function metaVector(r: BodyReader, metaAt: number): number {
  const vector = r.follow(metaAt, 'meta vector');
  const length = r.view.getUint32(vector, true);
  // post()'s rule before this receiver's limit: more is not an event at all.
  if (length > MAX_META_ENTRIES && vector + 4 + 4 * length <= r.size) r.fail(`the meta has ${length} entries, more than ${MAX_META_ENTRIES}`);
  r.vectorLength(vector, 4, r.limits.maxMetaEntries, 'meta', 'maxMetaEntries');
  return vector;
}

/** Opens entry `i` of the meta vector at `vector`; returns its key (a shared string) and leaves its value field in `r.metaValueAt`. */
function openMetaEntry(r: BodyReader, vector: number, i: number): string {
  r.openTable(r.follow(vector + 4 + 4 * i, 'meta entry'), 'meta entry');
  const keyAt = r.field(META_KEY, 4);
  const valueAt = r.field(META_VALUE, 4);
  if (keyAt === 0 || valueAt === 0) r.fail('a meta entry needs a key and a value');
  r.metaValueAt = valueAt;
  return r.label(keyAt, 'meta key');
}

function duplicateMetaKey(r: BodyReader, key: string): never {
  return r.fail(`meta key ${JSON.stringify(key.slice(0, 80))} appears twice`);
}

function readEndpoint(r: BodyReader, position: number): Endpoint {
  r.openTable(position, 'endpoint');
  const processor = r.uint32(r.field(ENDPOINT_PROCESSOR, 4));
  const thread = r.uint32(r.field(ENDPOINT_THREAD, 4));
  const generation = r.uint32(r.field(ENDPOINT_GENERATION, 4));
  const side = SIDE_FROM_WIRE[r.uint8Enum(r.field(ENDPOINT_SIDE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  return { processor, thread, generation, side };
}

function readSyncRequest(r: BodyReader, position: number): SyncRequest {
  r.where = 'syncRequest';
  r.openTable(position, 'syncRequest');
  const seqAt = r.field(SYNC_SEQ, 8);
  const fromAt = r.field(SYNC_FROM, 4);
  const typesAt = r.field(SYNC_TYPES, 4);
  const sideAt = r.field(SYNC_SIDE, 1);
  const sinceAt = r.field(SYNC_SINCE, 8);
  const limitAt = r.field(SYNC_LIMIT, 4);
  const deliveredThroughAt = r.field(SYNC_DELIVERED_THROUGH, 8);
  if (fromAt === 0) r.fail('from is required');
  const seq = r.seq(seqAt);
  const side = SIDE_FROM_WIRE[r.uint8Enum(sideAt, wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  const limit = limitAt === 0 ? 0 : r.uint32(limitAt);
  const deliveredThrough = deliveredThroughAt === 0 ? 0 : r.seq(deliveredThroughAt);
  // Opens the endpoint's table: every field of this one is located before.
  const from = readEndpoint(r, r.follow(fromAt, 'from endpoint'));
  const since = {
    ...(sinceAt === 0 ? {} : { since: r.seq(sinceAt) }),
    ...(limit === 0 ? {} : { limit }),
    ...(deliveredThrough === 0 ? {} : { deliveredThrough }),
  };
  if (typesAt === 0) return { kind: 'syncRequest', seq, from, side, ...since };
  const vector = r.follow(typesAt, 'types vector');
  const length = r.vectorLength(vector, 4, r.limits.maxTypes, 'types', 'maxTypes');
  const types: string[] = [];
  r.where = 'syncRequest.types';
  for (let i = 0; i < length; i++) {
    r.index = i;
    types.push(r.string(vector + 4 + 4 * i, r.limits.maxStringBytes, 'type', 'maxStringBytes'));
  }
  r.index = -1;
  return { kind: 'syncRequest', seq, from, types, side, ...since };
}

function readClearSide(r: BodyReader, position: number): ClearSide {
  r.where = 'clearSide';
  r.openTable(position, 'clearSide');
  const seq = r.seq(r.field(CLEAR_SEQ, 8));
  const remove = SIDE_FROM_WIRE[r.uint8Enum(r.field(CLEAR_REMOVE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'remove')] as Side;
  const scope = SIDE_FROM_WIRE[r.uint8Enum(r.field(CLEAR_SCOPE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'scope')] as Side;
  return { kind: 'clearSide', seq, remove, scope };
}

function readBridgeState(r: BodyReader, position: number): BridgeState {
  r.where = 'bridgeState';
  r.openTable(position, 'bridgeState');
  const seq = r.seq(r.field(BRIDGE_SEQ, 8));
  const direction = DIRECTION_FROM_WIRE[
    r.uint8Enum(r.field(BRIDGE_DIRECTION, 1), wire.BridgeDirection.Closed, DIRECTION_FROM_WIRE.length, 'direction')
  ] as BridgeDirection;
  const locked = r.bool(r.field(BRIDGE_LOCKED, 1), 'locked');
  return { kind: 'bridgeState', seq, direction, locked };
}

function readAck(r: BodyReader, position: number): Ack {
  r.where = 'ack';
  r.openTable(position, 'ack');
  const seq = r.seq(r.field(ACK_SEQ, 8));
  const ok = r.bool(r.field(ACK_OK, 1), 'ok');
  const errorCodeAt = r.field(ACK_ERROR_CODE, 4);
  const errorMessageAt = r.field(ACK_ERROR_MESSAGE, 4);
  const credits = r.uint32(r.field(ACK_CREDITS, 4));
  const throughAt = r.field(ACK_THROUGH, 8);
  const parkedAt = r.field(ACK_PARKED, 8);
  const alreadyDeliveredAt = r.field(ACK_ALREADY_DELIVERED, 4);
  const ack: Mutable<Ack> = { kind: 'ack', seq, ok, credits };
  if (throughAt !== 0) ack.through = r.seq(throughAt);
  if (parkedAt !== 0) ack.parked = r.seq(parkedAt);
  if (alreadyDeliveredAt !== 0) {
    const alreadyDelivered = r.uint32(alreadyDeliveredAt);
    if (alreadyDelivered > 0) ack.alreadyDelivered = alreadyDelivered;
  }
  const max = r.limits.maxStringBytes;
  if (errorCodeAt !== 0) ack.errorCode = r.string(errorCodeAt, max, 'errorCode', 'maxStringBytes');
  if (errorMessageAt !== 0) ack.errorMessage = r.string(errorMessageAt, max, 'errorMessage', 'maxStringBytes');
  return ack;
}

// ---------------------------------------------------------------------------
// Encoded batches: read lazily
// ---------------------------------------------------------------------------

/**
 * The reader of each batch `scanFrame` returned, kept for the batch's later
 * reads: it knows the limits of the scan, the vtables of the body and its
 * shared strings already decoded, so that reading a type again allocates
 * nothing.
 */
const batchReaders = new WeakMap<EncodedBatch, BodyReader>();

function keepReader(batch: EncodedBatch, r: BodyReader): void {
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

/** Where history event `index` of `batch` is; refuses an index that is not one of its events. */
function eventPosition(batch: EncodedBatch, r: BodyReader, index: number): number {
  const position = Number.isInteger(index) && index >= 0 && index < batch.count ? batch.positions[index] : undefined;
  if (position === undefined || position < 0 || position >= r.size) {
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

/** Opens history event `index` of `batch` (`openEvent`) with the batch's reader, and returns the reader. */
function openEventAt(batch: EncodedBatch, index: number): BodyReader {
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
 *   const externals = [...batch.sides.keys()].filter((i) => batch.sides[i] === 1)
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
