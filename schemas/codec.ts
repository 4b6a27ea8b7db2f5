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
 * `FrameError`. Encoding goes through the generated builders. This is the only
 * module that touches `schemas/generated/`.
 */
import { crc32c } from '@node-rs/crc32';
import * as flatbuffers from 'flatbuffers';
import { compressSync, uncompressSync } from 'snappy';
import { FrameError, InvalidEventError, InvalidOptionError, isBusError } from '../errors.js';
import type { Ack, BridgeState, ClearSide, EventBatch, SyncRequest, WireMessage } from '../runtime/protocol.js';
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
  /** Most meta entries on one event. */
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
  maxMetaEntries: 4096,
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

/** Deepest nesting of a JSON payload that `encodeFrame` accepts and `decodeFrame` returns (root = depth 1). */
export const MAX_PAYLOAD_DEPTH = 512;

/** Strings up to this many characters take the ASCII fast path of `writeString`. */
const SHORT_ASCII_CHARS = 256;

/** Builders above this capacity are dropped after use instead of being kept for the next frame. */
const KEEP_BUILDER_BYTES = 1024 * 1024;
/** One builder kept between calls; taken while in use, so a re-entrant call gets its own. */
let spareBuilder: flatbuffers.Builder | null = null;

/**
 * Encodes a message as one frame. The frame owns its `ArrayBuffer` exactly
 * (offset 0, full length), so it can be transferred to a worker as is.
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
  const compress = options?.compress ?? false;
  if (compress !== true && compress !== false && compress !== 'auto') {
    throw new InvalidOptionError('compress', `expected true, false or 'auto', got ${describe(compress)}.`);
  }
  const limits = resolveFrameLimits(options?.limits);
  const builder = spareBuilder ?? new flatbuffers.Builder(4096);
  spareBuilder = null;
  try {
    return encodeWith(builder, message, compress, limits);
  } catch (error) {
    if (isBusError(error)) throw error;
    // A payload getter that throws, or the builder's own 2 GiB cap.
    throw new InvalidEventError(`Cannot encode the ${describe(message?.kind)} message: ${String(error)}`, { cause: error });
  } finally {
    if (builder.dataBuffer().capacity() <= KEEP_BUILDER_BYTES) spareBuilder = builder;
  }
}

function encodeWith(
  builder: flatbuffers.Builder,
  message: WireMessage,
  compress: boolean | 'auto',
  limits: FrameLimits,
): Uint8Array {
  builder.clear();
  const messageOffset = writeMessage(builder, message, limits);
  wire.Envelope.finishEnvelopeBuffer(builder, wire.Envelope.createEnvelope(builder, messageTypeOf(message), messageOffset));
  const body = builder.asUint8Array();
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
  const frame = new Uint8Array(FRAME_HEADER_BYTES + transmitted.length);
  const view = new DataView(frame.buffer);
  frame.set(MAGIC_BYTES, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = compressed ? FLAG_SNAPPY : 0;
  view.setUint32(8, transmitted.length, true);
  view.setUint32(12, uncompressedBytes, true);
  view.setUint32(16, crc32c(transmitted) >>> 0, true);
  frame.set(transmitted, FRAME_HEADER_BYTES);
  return frame;
}

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
    case 'batch':
      return writeBatch(builder, message, limits);
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

function writeBatch(builder: flatbuffers.Builder, batch: EventBatch, limits: FrameLimits): flatbuffers.Offset {
  const seq = seqToWire(batch.seq, 'batch');
  const { history, queue } = batch;
  if (!Array.isArray(history) || !Array.isArray(queue)) {
    throw new InvalidEventError('Cannot encode batch: history and queue must be arrays of events.');
  }
  if (history.length + queue.length > limits.maxEvents) {
    throw new FrameError(
      'TOO_LARGE',
      `the batch holds ${history.length + queue.length} events, more than limits.maxEvents (${limits.maxEvents}). ` +
        'Send the events in smaller batches.',
    );
  }
  const offsets: number[] = [];
  for (let i = 0; i < history.length; i++) offsets.push(writeEvent(builder, history[i] as BusEvent, limits));
  const historyOffset = writeOffsetVector(builder, offsets);
  offsets.length = 0;
  for (let i = 0; i < queue.length; i++) offsets.push(writeEvent(builder, queue[i] as BusEvent, limits));
  const queueOffset = writeOffsetVector(builder, offsets);
  const from = writeEndpoint(builder, batch.from, 'batch.from');
  wire.EventBatch.startEventBatch(builder);
  wire.EventBatch.addSeq(builder, seq);
  wire.EventBatch.addFrom(builder, from);
  wire.EventBatch.addHistory(builder, historyOffset);
  wire.EventBatch.addQueue(builder, queueOffset);
  return wire.EventBatch.endEventBatch(builder);
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
  wire.SyncRequest.startSyncRequest(builder);
  wire.SyncRequest.addSeq(builder, seq);
  wire.SyncRequest.addFrom(builder, from);
  if (typesOffset !== 0) wire.SyncRequest.addTypes(builder, typesOffset);
  wire.SyncRequest.addSide(builder, side);
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
  return wire.Ack.endAck(builder);
}

function writeEndpoint(builder: flatbuffers.Builder, endpoint: Endpoint, what: string): flatbuffers.Offset {
  if (typeof endpoint !== 'object' || endpoint === null) {
    throw new InvalidEventError(`Cannot encode ${what}: expected an Endpoint, got ${describe(endpoint)}.`);
  }
  const { processor, thread, generation } = endpoint;
  if (!isUint32(processor) || !isUint32(thread) || !isUint32(generation)) {
    throw new InvalidEventError(
      `Cannot encode ${what}: processor, thread and generation must be integers from 0 to 4294967295.`,
    );
  }
  return wire.Endpoint.createEndpoint(builder, processor, thread, generation, sideToWire(endpoint.side, `${what}.side`));
}

function writeEvent(builder: flatbuffers.Builder, event: BusEvent, limits: FrameLimits): flatbuffers.Offset {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidEventError(`Cannot encode ${describe(event)} as an event: expected a BusEvent object.`);
  }
  const { id, origin, payload, meta, topic } = event;
  if (typeof id !== 'string') {
    throw new InvalidEventError(`Cannot encode an event whose id is ${describe(id)}: the id must be a string.`);
  }
  const idOffset = writeEventString(builder, id, id, 'id', limits.maxStringBytes);
  const typeOffset = writeEventString(builder, id, event.type, 'type', limits.maxStringBytes);
  const side = eventSideToWire(id, event.side);
  const priority = priorityToWire(id, event.priority);
  const timestamp = event.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw eventError(id, `its timestamp is ${describe(timestamp)}; it must be a finite number`);
  }
  if (typeof origin !== 'object' || origin === null) {
    throw eventError(id, `its origin is ${describe(origin)}; expected { processor, thread, generation }`);
  }
  const { processor, thread, generation } = origin;
  if (!isUint32(processor) || !isUint32(thread) || !isUint32(generation)) {
    throw eventError(id, 'origin.processor, origin.thread and origin.generation must be integers from 0 to 4294967295');
  }
  const topicOffset =
    topic === undefined ? 0 : writeEventString(builder, id, topic, 'topic', limits.maxStringBytes);

  let payloadKind: wire.PayloadKind;
  let payloadOffset: flatbuffers.Offset;
  if (payload instanceof Uint8Array) {
    if (payload.length > limits.maxPayloadBytes) {
      throw eventError(id, `its payload is ${payload.length} bytes, more than limits.maxPayloadBytes (${limits.maxPayloadBytes})`);
    }
    payloadKind = wire.PayloadKind.Bytes;
    payloadOffset = builder.createByteVector(payload);
  } else {
    const problem = jsonProblem(payload, 0, []);
    if (problem !== undefined) {
      throw eventError(
        id,
        `its payload${problem}. A payload is JSON-compatible data (null, booleans, finite numbers, strings, ` +
          'arrays and plain objects of them) or a Uint8Array',
      );
    }
    const text = JSON.stringify(payload);
    if (text.length > limits.maxPayloadBytes / 3 && utf8Length(text) > limits.maxPayloadBytes) {
      throw eventError(id, `its JSON payload is more than limits.maxPayloadBytes (${limits.maxPayloadBytes}) bytes`);
    }
    payloadKind = wire.PayloadKind.Json;
    // JSON.stringify escapes lone surrogates, so the text is always well-formed.
    payloadOffset = writeString(builder, text);
  }

  let metaOffset = 0;
  if (meta !== undefined) metaOffset = writeMeta(builder, id, meta, limits);

  wire.Event.startEvent(builder);
  wire.Event.addId(builder, idOffset);
  wire.Event.addType(builder, typeOffset);
  wire.Event.addSide(builder, side);
  wire.Event.addTimestamp(builder, timestamp);
  wire.Event.addOrigin(builder, wire.Origin.createOrigin(builder, processor, thread, generation));
  wire.Event.addPriority(builder, priority);
  if (topicOffset !== 0) wire.Event.addTopic(builder, topicOffset);
  wire.Event.addPayloadKind(builder, payloadKind);
  if (payloadKind === wire.PayloadKind.Json) wire.Event.addPayloadJson(builder, payloadOffset);
  else wire.Event.addPayloadBytes(builder, payloadOffset);
  if (metaOffset !== 0) wire.Event.addMeta(builder, metaOffset);
  return wire.Event.endEvent(builder);
}

function writeMeta(builder: flatbuffers.Builder, id: string, meta: unknown, limits: FrameLimits): flatbuffers.Offset {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw eventError(id, `its meta is ${describe(meta)}; expected an object of strings`);
  }
  const proto = Object.getPrototypeOf(meta) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw eventError(id, 'its meta is not a plain object');
  }
  const record = meta as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > limits.maxMetaEntries) {
    throw eventError(id, `its meta has ${keys.length} entries, more than limits.maxMetaEntries (${limits.maxMetaEntries})`);
  }
  const entries: number[] = [];
  for (const key of keys) {
    const value = record[key];
    if (typeof value !== 'string') {
      throw eventError(id, `its meta[${JSON.stringify(key)}] is ${describe(value)}; meta values must be strings`);
    }
    const keyOffset = writeEventString(builder, id, key, 'meta key', limits.maxStringBytes);
    const valueOffset = writeEventString(builder, id, value, `meta[${JSON.stringify(key)}]`, limits.maxStringBytes);
    entries.push(wire.MetaEntry.createMetaEntry(builder, keyOffset, valueOffset));
  }
  return writeOffsetVector(builder, entries);
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

/** Writes a string field of an event, or says why it cannot be written. */
function writeEventString(builder: flatbuffers.Builder, id: string, value: unknown, field: string, maxBytes: number): flatbuffers.Offset {
  if (typeof value !== 'string') throw eventError(id, `its ${field} is ${describe(value)}; it must be a string`);
  if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
    throw eventError(id, `its ${field} is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8`);
  }
  const offset = writeString(builder, value);
  if (offset === 0) throw eventError(id, `its ${field} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
  return offset;
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

function eventError(id: string, reason: string): InvalidEventError {
  return new InvalidEventError(`Event ${JSON.stringify(id.slice(0, 120))} cannot be encoded: ${reason}.`);
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

function seqToWire(seq: unknown, what: string): bigint {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidEventError(`Cannot encode ${what}: seq must be an integer from 0 to 2^53 - 1, got ${describe(seq)}.`);
  }
  return BigInt(seq);
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
    if (!(bytes instanceof Uint8Array)) throw new FrameError('MALFORMED', `expected a Uint8Array, got ${describe(bytes)}.`);
    const header = checkHeader(bytes, resolved);
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
    if (header.compressed) body = decompress(body, header);
    return readEnvelope(new BodyReader(body, resolved));
  } catch (error) {
    if (error instanceof FrameError) throw error;
    throw new FrameError('MALFORMED', `decoding failed unexpectedly: ${String(error)}`, { cause: error });
  }
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
// busline.fbs). The round-trip tests pin these against the generated builders.
const ENVELOPE_MESSAGE_TYPE = 4;
const ENVELOPE_MESSAGE = 6;
const BATCH_SEQ = 4;
const BATCH_FROM = 6;
const BATCH_HISTORY = 8;
const BATCH_QUEUE = 10;
const SYNC_SEQ = 4;
const SYNC_FROM = 6;
const SYNC_TYPES = 8;
const SYNC_SIDE = 10;
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
/** A JSON number that could overflow to ±Infinity needs an exponent... */
const JSON_EXPONENT = /\d[eE]/;
/**
 * ...or 309+ digits; and nesting deeper than `MAX_PAYLOAD_DEPTH` needs twice
 * as many brackets. Shorter JSON texts without an exponent need no walk.
 */
const JSON_WALK_CHARS = Math.min(309, 2 * (MAX_PAYLOAD_DEPTH + 1));
const SHORT_STRING_BYTES = 48;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Reads one body, checking before every read. Holds the table opened last
 * (`table`, `vtable`, ...): readers take the positions of all fields of a
 * table before they open a nested one.
 *
 * `budget` is the body length minus every table, string and vector read so
 * far. Frames written by `encodeFrame` never share data, so the budget never
 * runs out for them; a crafted frame whose events all point at one big string
 * would decode to far more than it holds, and is refused instead.
 */
class BodyReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
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
    const start = this.follow(at, what) + 4;
    const length = this.view.getUint32(start - 4, true);
    const end = start + length;
    if (end >= this.size) this.fail(`the ${what} claims ${length} bytes, more than the body holds`);
    if (this.bytes[end] !== 0) this.fail(`the ${what} is not NUL-terminated`);
    if (length > maxBytes) this.tooLarge(`the ${what} is ${length} bytes, more than limits.${limit} (${maxBytes})`);
    this.spend(length + 5);
    const bytes = this.bytes;
    if (length <= SHORT_STRING_BYTES) {
      let text = '';
      for (let i = start; i < end; i++) {
        const byte = bytes[i] as number;
        if (byte >= 0x80) return this.utf8(start, end, what);
        text += String.fromCharCode(byte);
      }
      return text;
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

function readEnvelope(r: BodyReader): WireMessage {
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
      return readBatch(r, position);
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

function readBatch(r: BodyReader, position: number): EventBatch {
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
  const from = readEndpoint(r, r.follow(fromAt, 'from endpoint'));
  return {
    kind: 'batch',
    seq,
    from,
    history: readEvents(r, history, historyLength, 'batch.history'),
    queue: readEvents(r, queue, queueLength, 'batch.queue'),
  };
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

function readEvent(r: BodyReader, position: number): BusEvent {
  r.openTable(position, 'event');
  const idAt = r.field(EVENT_ID, 4);
  const typeAt = r.field(EVENT_TYPE, 4);
  const sideAt = r.field(EVENT_SIDE, 1);
  const timestampAt = r.field(EVENT_TIMESTAMP, 8);
  const originAt = r.field(EVENT_ORIGIN, ORIGIN_BYTES);
  const priorityAt = r.field(EVENT_PRIORITY, 1);
  const topicAt = r.field(EVENT_TOPIC, 4);
  const kindAt = r.field(EVENT_PAYLOAD_KIND, 1);
  const jsonAt = r.field(EVENT_PAYLOAD_JSON, 4);
  const payloadBytesAt = r.field(EVENT_PAYLOAD_BYTES, 4);
  const metaAt = r.field(EVENT_META, 4);
  if (idAt === 0 || typeAt === 0 || originAt === 0) r.fail('id, type and origin are required');

  const view = r.view;
  const side = SIDE_FROM_WIRE[r.uint8Enum(sideAt, wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  const priority = PRIORITY_FROM_WIRE[
    r.uint8Enum(priorityAt, wire.Priority.Immediate, PRIORITY_FROM_WIRE.length, 'priority')
  ] as Priority;
  const timestamp = timestampAt === 0 ? 0 : view.getFloat64(timestampAt, true);
  if (!Number.isFinite(timestamp)) r.fail(`timestamp ${timestamp} is not finite`);
  const origin: Origin = {
    processor: view.getUint32(originAt, true),
    thread: view.getUint32(originAt + 4, true),
    generation: view.getUint32(originAt + 8, true),
  };
  const kind = r.uint8Enum(kindAt, wire.PayloadKind.Json, 2, 'payload kind');

  const maxString = r.limits.maxStringBytes;
  const id = r.string(idAt, maxString, 'id', 'maxStringBytes');
  const type = r.string(typeAt, maxString, 'type', 'maxStringBytes');
  const topic = topicAt === 0 ? undefined : r.string(topicAt, maxString, 'topic', 'maxStringBytes');

  let payload: Payload;
  if (kind === wire.PayloadKind.Json) {
    if (jsonAt === 0 || payloadBytesAt !== 0) r.fail('a JSON payload must be in payload_json alone');
    payload = parseJsonPayload(r, r.string(jsonAt, r.limits.maxPayloadBytes, 'JSON payload', 'maxPayloadBytes'));
  } else {
    if (payloadBytesAt === 0 || jsonAt !== 0) r.fail('a bytes payload must be in payload_bytes alone');
    const vector = r.follow(payloadBytesAt, 'bytes payload');
    const length = r.vectorLength(vector, 1, r.limits.maxPayloadBytes, 'bytes payload', 'maxPayloadBytes');
    payload = r.bytes.slice(vector + 4, vector + 4 + length);
  }

  const event: Mutable<BusEvent> = { id, type, side, timestamp, origin, priority, payload };
  if (topic !== undefined) event.topic = topic;
  if (metaAt !== 0) event.meta = readMeta(r, metaAt);
  return event;
}

function parseJsonPayload(r: BodyReader, text: string): Payload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return r.fail('the JSON payload does not parse');
  }
  if (text.length >= JSON_WALK_CHARS || JSON_EXPONENT.test(text)) {
    const problem = parsedPayloadProblem(value);
    if (problem !== undefined) r.fail(`the JSON payload ${problem}`);
  }
  return value as Payload;
}

/**
 * What `encodeFrame` would refuse in a parsed JSON payload (a number beyond
 * the range of a double, nesting deeper than `MAX_PAYLOAD_DEPTH`), so that
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
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_PAYLOAD_DEPTH) return `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
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
  const vector = r.follow(metaAt, 'meta vector');
  const max = r.limits.maxStringBytes;
  const length = r.vectorLength(vector, 4, r.limits.maxMetaEntries, 'meta', 'maxMetaEntries');
  const meta: Record<string, string> = {};
  for (let i = 0; i < length; i++) {
    r.openTable(r.follow(vector + 4 + 4 * i, 'meta entry'), 'meta entry');
    const keyAt = r.field(META_KEY, 4);
    const valueAt = r.field(META_VALUE, 4);
    if (keyAt === 0 || valueAt === 0) r.fail('a meta entry needs a key and a value');
    const key = r.string(keyAt, max, 'meta key', 'maxStringBytes');
    const value = r.string(valueAt, max, 'meta value', 'maxStringBytes');
    if (Object.hasOwn(meta, key)) r.fail(`meta key ${JSON.stringify(key.slice(0, 80))} appears twice`);
    // A plain assignment to "__proto__" would set the prototype instead of a key.
    if (key === '__proto__') Object.defineProperty(meta, key, { value, enumerable: true, writable: true, configurable: true });
    else meta[key] = value;
  }
  return meta;
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
  if (fromAt === 0) r.fail('from is required');
  const seq = r.seq(seqAt);
  const side = SIDE_FROM_WIRE[r.uint8Enum(sideAt, wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  const from = readEndpoint(r, r.follow(fromAt, 'from endpoint'));
  if (typesAt === 0) return { kind: 'syncRequest', seq, from, side };
  const vector = r.follow(typesAt, 'types vector');
  const length = r.vectorLength(vector, 4, r.limits.maxTypes, 'types', 'maxTypes');
  const types: string[] = [];
  r.where = 'syncRequest.types';
  for (let i = 0; i < length; i++) {
    r.index = i;
    types.push(r.string(vector + 4 + 4 * i, r.limits.maxStringBytes, 'type', 'maxStringBytes'));
  }
  r.index = -1;
  return { kind: 'syncRequest', seq, from, types, side };
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
  const ack: Mutable<Ack> = { kind: 'ack', seq, ok, credits };
  const max = r.limits.maxStringBytes;
  if (errorCodeAt !== 0) ack.errorCode = r.string(errorCodeAt, max, 'errorCode', 'maxStringBytes');
  if (errorMessageAt !== 0) ack.errorMessage = r.string(errorMessageAt, max, 'errorMessage', 'maxStringBytes');
  return ack;
}
