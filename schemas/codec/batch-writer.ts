/**
 * The batch writer: an `EventBatch` (or a `ForwardBatch`, whose history may
 * hold events still in encoded batches) written as a body with `BodyWriter`,
 * every event checked as post() checks it, so that a receiver never has to
 * refuse a whole frame for one bad event.
 */
import { FrameError, InvalidEventError } from '../../errors.js';
import type { EventBatch } from '../../runtime/wire/protocol.js';
import { MAX_LABEL_LENGTH, MAX_META_ENTRIES, eventIdProblem, eventTypeProblem, isEventTimestamp } from '../../runtime/validate.js';
import type { BusEvent } from '../../types.js';
import * as wire from '../generated/busline_generated.js';
import type { BodyReader } from './body-reader.js';
import { NOT_MEASURED, type BodyWriter } from './body-writer.js';
import { eventIdAt, isEncodedEventRef, openEventAt, type EncodedEventRef, type ForwardBatch } from './encoded-batch.js';
import { locatePayload, metaVector, openMetaEntry } from './event-reader.js';
import { inheritsEnumerableKeys } from './json-size.js';
import { jsonProblem, writeJson } from './json-writer.js';
import {
  BATCH_TABLE_BYTES,
  BATCH_VTABLE,
  ENDPOINT_TABLE_BYTES,
  ENDPOINT_VTABLE,
  ENVELOPE_TABLE_BYTES,
  ENVELOPE_VTABLE,
  EVENT_FIELD_ID,
  EVENT_FIELD_META,
  EVENT_FIELD_ORIGIN,
  EVENT_FIELD_TOPIC,
  EVENT_FIELD_TYPE,
  EVENT_VTABLES,
  FILE_IDENTIFIER,
  MORE_BATCH_TABLE_BYTES,
  MORE_BATCH_VTABLE,
  SHAPE_BYTES,
  SHAPE_META,
  SHAPE_TOPIC,
  eventMetaField,
  eventTableBytes,
} from './layout.js';
import type { FrameLimits } from './limits.js';
import { isWellFormed, utf8Length } from './utf8.js';
import { checkEndpoint, checkSeq, describe, isUint32 } from './wire-values.js';

/**
 * Writes a batch's body; returns it (a view of the writer's memory, valid until
 * the writer's next use). History entries may be `EncodedEventRef`s.
 */
export function writeBatchBody(w: BodyWriter, batch: EventBatch | ForwardBatch, limits: FrameLimits): Uint8Array {
  if (inheritsEnumerableKeys()) return writeBody(w, batch, limits, false);
  let body: Uint8Array;
  try {
    body = writeBody(w, batch, limits, true);
  } catch (error) {
    // Refused for an inherited key (not JSON, or too large), written after a getter gave Object.prototype one.
    if (inheritsEnumerableKeys()) return writeBody(w, batch, limits, false);
    throw error;
  }
  // A payload's getter gave Object.prototype an enumerable key meanwhile: some object may have been written with it.
  // A key added and deleted again within the body escapes this check: posts (Bus and RemoteBus) hand the encoder
  // copies (copyPayload), in which no getter runs; only a direct caller's own objects can do that.
  return inheritsEnumerableKeys() ? writeBody(w, batch, limits, false) : body;
}

function writeBody(w: BodyWriter, batch: EventBatch | ForwardBatch, limits: FrameLimits, ownKeysOnly: boolean): Uint8Array {
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
  w.ownKeysOnly = ownKeysOnly;
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
  const sizes = w.measure?.into;
  for (let i = 0; i < historyLength; i++) {
    const entry = history[i];
    const copied = isEncodedEventRef(entry);
    const table = copied ? copyEvent(w, entry, limits) : writeEvent(w, entry as BusEvent, limits);
    if (sizes !== undefined) sizes[i] = copied ? NOT_MEASURED : w.measured;
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
  const idAt = writeEventString(w, id, id, 'id', limits.maxStringBytes);
  w.link(table + 4, idAt);
  const typeIndex = shareEventString(w, table + 16, id, type, 'type', limits.maxStringBytes);
  let topicIndex = -1;
  if (topic !== undefined) {
    topicIndex = shareEventString(w, table + 40, id, topic, 'topic', limits.maxStringBytes);
    checkLabelLength(id, topic as string, 'topic');
  }
  let payloadAt: number;
  if (bytesPayload) {
    if (payload.length > limits.maxPayloadBytes) {
      throw eventError(id, `its payload is ${payload.length} bytes, more than limits.maxPayloadBytes (${limits.maxPayloadBytes})`);
    }
    payloadAt = w.byteVector(payload);
  } else {
    payloadAt = writeJsonPayload(w, id, payload, limits);
  }
  w.link(table + 20, payloadAt);
  const measure = w.measure;
  if (measure !== undefined) {
    // The lengths just written, and the shared strings' once per body: nothing is walked again.
    const view = w.view;
    w.measured =
      measure.eventBytes +
      view.getUint32(idAt, true) +
      w.sharedBytes[typeIndex]! +
      (topicIndex < 0 ? 0 : w.sharedBytes[topicIndex]!) +
      view.getUint32(payloadAt, true);
  }
  // writeMeta adds its entries' sizes while measuring.
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
    const keyIndex = shareEventString(w, entry + 4, id, key, 'meta key', limits.maxStringBytes);
    checkLabelLength(id, key, 'meta key');
    const valueAt = writeEventString(w, id, value, `meta[${JSON.stringify(key)}]`, limits.maxStringBytes);
    w.link(entry + 8, valueAt);
    checkLabelLength(id, value, `meta[${JSON.stringify(key.slice(0, 80))}]`);
    if (w.measure !== undefined) w.measured += w.measure.metaEntryBytes + w.sharedBytes[keyIndex]! + w.view.getUint32(valueAt, true);
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
 * per event, so they are never shared. Returns the string's index in
 * `sharedTexts` (and, while measuring, in `sharedBytes`).
 */
function shareEventString(
  w: BodyWriter,
  field: number,
  id: string | EncodedEventRef,
  value: unknown,
  what: string,
  maxBytes: number,
): number {
  if (typeof value !== 'string') throw eventError(id, `its ${what} is ${describe(value)}; it must be a string`);
  let index = w.sharedIndex.get(value);
  if (index === undefined) {
    const measured = w.measure === undefined ? -1 : utf8Length(value);
    if (value.length > maxBytes / 3 && (measured < 0 ? utf8Length(value) : measured) > maxBytes) {
      throw eventError(id, `its ${what} is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8`);
    }
    if (!isWellFormed(value)) throw eventError(id, `its ${what} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    index = w.sharedTexts.push(value) - 1;
    w.sharedIndex.set(value, index);
    if (measured >= 0) w.sharedBytes.push(measured);
  }
  w.shareRef(field, index);
  return index;
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

/** The error for an event that cannot be encoded; a ref's id is read only here, to say which event. */
function eventError(event: string | EncodedEventRef, reason: string): InvalidEventError {
  const id = typeof event === 'string' ? event : eventIdAt(event.batch, event.index);
  return new InvalidEventError(`Event ${JSON.stringify(id.slice(0, 120))} cannot be encoded: ${reason}.`);
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
