/**
 * `encodeFrame` and `encodeForwardFrame`: a message to one frame, with the
 * builder and the batch writer kept between calls.
 */
import * as flatbuffers from 'flatbuffers';
import { InvalidEventError, InvalidOptionError, isBusError } from '../../errors.js';
import type { EventBatch, WireMessage } from '../../runtime/wire/protocol.js';
import * as wire from '../generated/busline_generated.js';
import { writeBatchBody } from './batch-writer.js';
import { BodyWriter, type EventSizeRule } from './body-writer.js';
import { messageTypeOf, writeMessage } from './control-messages.js';
import type { ForwardBatch } from './encoded-batch.js';
import { compressOption, finishFrame, type EncodeOptions } from './frame.js';
import { KEEP_BUILDER_BYTES, resolveFrameLimits, type FrameLimits } from './limits.js';
import { describe } from './wire-values.js';

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
  return encodeBatch(checkedForwardBatch(batch), compress, limits);
}

/**
 * `encodeForwardFrame`, that also sizes each history event it writes from an
 * object by `sizes`' rule as it writes it, into `sizes.into` (`NOT_MEASURED`
 * for a ref, which is copied): a history that compresses its events into
 * blocks keeps each one's size without walking its payload again.
 *
 * @example
 * const into = new Uint32Array(events.length)
 * const frame = encodeMeasuredFrame({ kind: 'batch', seq: 0, from, history: events, queue: [] }, { compress: 'auto' }, { eventBytes: 64, metaEntryBytes: 8, into })
 */
export function encodeMeasuredFrame(batch: ForwardBatch, options: EncodeOptions | undefined, sizes: EventSizeRule): Uint8Array {
  if (!(sizes.into instanceof Uint32Array) || sizes.into.length < (batch?.history?.length ?? 0)) {
    throw new InvalidOptionError('sizes.into', 'expected a Uint32Array with room for every history event.');
  }
  return encodeBatch(checkedForwardBatch(batch), compressOption(options), resolveFrameLimits(options?.limits), sizes);
}

/** `batch`, checked to be a forward batch. */
function checkedForwardBatch(batch: ForwardBatch): ForwardBatch {
  if (typeof batch !== 'object' || batch === null || batch.kind !== 'batch') {
    throw new InvalidEventError(`Cannot encode ${describe(batch)} as a forward batch: expected { kind: 'batch', ... }.`);
  }
  return batch;
}

/** Writes a batch with the spare `BodyWriter`; its history may hold `EncodedEventRef`s. `sizes`: measure it so. */
function encodeBatch(batch: EventBatch | ForwardBatch, compress: boolean | 'auto', limits: FrameLimits, sizes?: EventSizeRule): Uint8Array {
  const writer = spareWriter ?? new BodyWriter(64 * 1024);
  spareWriter = null;
  writer.measure = sizes;
  try {
    return finishFrame(writeBatchBody(writer, batch, limits), batch, compress, limits);
  } catch (error) {
    throw asEncodingError(error, batch);
  } finally {
    writer.measure = undefined;
    if (writer.bytes.length <= KEEP_BUILDER_BYTES) spareWriter = writer;
  }
}

/** A payload getter that throws, or an allocation that fails, as an `InvalidEventError`; our own errors as they are. */
function asEncodingError(error: unknown, message: { readonly kind: string }): unknown {
  if (isBusError(error)) return error;
  return new InvalidEventError(`Cannot encode the ${describe(message?.kind)} message: ${String(error)}`, { cause: error });
}
