/**
 * Events read from a body: opened and checked field by field, then decoded
 * into plain objects (`readEvent`) or only verified and left as bytes
 * (`scanEvent`), with the same checks in the same order.
 */
import { MAX_META_ENTRIES, eventIdProblem, isEventTimestamp } from '../../runtime/validate.js';
import type { BusEvent, Origin, Priority, Side } from '../../types.js';
import * as wire from '../generated/busline_generated.js';
import type { BodyReader } from './body-reader.js';
import { JsonBatch, parseJsonPayload } from './json-reader.js';
import {
  EVENT_FIELDS,
  EVENT_FIELD_BYTES,
  EVENT_FIELD_ID,
  EVENT_FIELD_JSON,
  EVENT_FIELD_KIND,
  EVENT_FIELD_META,
  EVENT_FIELD_ORIGIN,
  EVENT_FIELD_PRIORITY,
  EVENT_FIELD_SIDE,
  EVENT_FIELD_TIMESTAMP,
  EVENT_FIELD_TOPIC,
  EVENT_FIELD_TYPE,
  META_KEY,
  META_VALUE,
} from './layout.js';
import { PRIORITY_FROM_WIRE, SIDE_FROM_WIRE } from './wire-values.js';
import type { Mutable } from './json-reader.js';

/** Decodes the `length` events of the offset vector at `vector`; `where` names it in errors. */
export function readEvents(r: BodyReader, vector: number, length: number, where: string): BusEvent[] {
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

/** Checks the fields of the open event table's vtable and keeps their offsets for the next events that share it. */
function learnEventFields(r: BodyReader): void {
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const [slot, size] = EVENT_FIELDS[i] as readonly [number, number];
    const at = r.field(slot, size);
    r.eventFields[i] = at === 0 ? 0 : at - r.table;
  }
  r.eventVtable = r.vtable;
}

/** Decodes the event at `position` into a plain object (its small JSON payload possibly left to `r.json`). */
export function readEvent(r: BodyReader, position: number): BusEvent {
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
export function scanEvent(r: BodyReader, position: number): void {
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
export function openEvent(r: BodyReader, position: number): void {
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
export function readOrigin(r: BodyReader, at: number): Origin {
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
export function locatePayload(r: BodyReader): number {
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
export function metaVector(r: BodyReader, metaAt: number): number {
  const vector = r.follow(metaAt, 'meta vector');
  const length = r.view.getUint32(vector, true);
  // post()'s rule before this receiver's limit: more is not an event at all.
  if (length > MAX_META_ENTRIES && vector + 4 + 4 * length <= r.size) r.fail(`the meta has ${length} entries, more than ${MAX_META_ENTRIES}`);
  r.vectorLength(vector, 4, r.limits.maxMetaEntries, 'meta', 'maxMetaEntries');
  return vector;
}

/** Opens entry `i` of the meta vector at `vector`; returns its key (a shared string) and leaves its value field in `r.metaValueAt`. */
export function openMetaEntry(r: BodyReader, vector: number, i: number): string {
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
