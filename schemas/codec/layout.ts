/**
 * Where the fields of each `busline.fbs` table are: the fixed layouts the
 * batch writer writes, and the field slots the reader looks up in vtables
 * (any layout a FlatBuffers writer may choose). Both must agree with
 * busline.fbs; tests/schemas/codec-batch.test.ts pins them to the generated
 * accessors.
 */

// Table layouts: byte offsets of fields inside each table, and table sizes.
// Vtables list them in the field order of busline.fbs (`*_VTABLE` arrays).
export const ENVELOPE_TABLE_BYTES = 12; // soffset, message, message_type (u8), padding
export const ENVELOPE_VTABLE = [8, 4]; // message_type, message
export const BATCH_TABLE_BYTES = 24; // soffset, from, seq (u64, at 8), history, queue
export const BATCH_VTABLE = [8, 4, 16, 20]; // seq, from, history, queue
/** A batch that says `more`: the bool at 24, then padding. */
export const MORE_BATCH_TABLE_BYTES = 28;
export const MORE_BATCH_VTABLE = [8, 4, 16, 20, 24]; // seq, from, history, queue, more
export const ENDPOINT_TABLE_BYTES = 20; // soffset, processor, thread, generation, side (u8), padding
export const ENDPOINT_VTABLE = [4, 8, 12, 16];
export const META_TABLE_BYTES = 12; // soffset, key, value
export const META_VTABLE = [4, 8];
/**
 * An event table: soffset, id (4), timestamp (f64 at 8: tables start at a
 * multiple of 8), type (16), payload_json or payload_bytes (20), origin (24,
 * 12 bytes), side (36), priority (37), payload_kind (38), padding (39), then
 * topic and meta when present. Eight shapes, by which optional fields are set.
 */
const EVENT_BASE_BYTES = 40;
export const SHAPE_TOPIC = 1;
export const SHAPE_META = 2;
export const SHAPE_BYTES = 4;
export const EVENT_SHAPES = 8;

/** The table size of an event of `shape`. */
export function eventTableBytes(shape: number): number {
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
export const EVENT_VTABLES = Array.from({ length: EVENT_SHAPES }, (_, shape) => eventVtable(shape));

/** Where the meta field is in an event table of `shape` (which has meta). */
export function eventMetaField(shape: number): number {
  return (shape & SHAPE_TOPIC) !== 0 ? 44 : 40;
}

// Field slots (vtable offsets: 4 + 2 × the field's position in its table in
// busline.fbs). The round trips through the generated builders (control
// messages) and tests/schemas/codec-batch.test.ts, which reads batches with
// the generated accessors, pin these.
export const ENVELOPE_MESSAGE_TYPE = 4;
export const ENVELOPE_MESSAGE = 6;
export const BATCH_SEQ = 4;
export const BATCH_FROM = 6;
export const BATCH_HISTORY = 8;
export const BATCH_QUEUE = 10;
export const BATCH_MORE = 12;
export const SYNC_SEQ = 4;
export const SYNC_FROM = 6;
export const SYNC_TYPES = 8;
export const SYNC_SIDE = 10;
export const SYNC_SINCE = 12;
export const SYNC_LIMIT = 14;
export const SYNC_DELIVERED_THROUGH = 16;
export const SYNC_INTEREST = 18;
export const CLEAR_SEQ = 4;
export const CLEAR_REMOVE = 6;
export const CLEAR_SCOPE = 8;
export const BRIDGE_SEQ = 4;
export const BRIDGE_DIRECTION = 6;
export const BRIDGE_LOCKED = 8;
export const ACK_SEQ = 4;
export const ACK_OK = 6;
export const ACK_ERROR_CODE = 8;
export const ACK_ERROR_MESSAGE = 10;
export const ACK_CREDITS = 12;
export const ACK_THROUGH = 14;
export const ACK_PARKED = 16;
export const ACK_ALREADY_DELIVERED = 18;
export const ACK_ERROR_DETAILS = 20;
export const ENDPOINT_PROCESSOR = 4;
export const ENDPOINT_THREAD = 6;
export const ENDPOINT_GENERATION = 8;
export const ENDPOINT_SIDE = 10;
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
export const META_KEY = 4;
export const META_VALUE = 6;
const ORIGIN_BYTES = 12;
/** The envelope's file identifier, at body offset 4. */
export const FILE_IDENTIFIER = [0x42, 0x4c, 0x57, 0x31]; // "BLW1"

/** The fields of an event: slot, and inline size. */
export const EVENT_FIELDS: ReadonlyArray<readonly [slot: number, size: number]> = [
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
export const EVENT_FIELD_ID = 0;
export const EVENT_FIELD_TYPE = 1;
export const EVENT_FIELD_SIDE = 2;
export const EVENT_FIELD_TIMESTAMP = 3;
export const EVENT_FIELD_ORIGIN = 4;
export const EVENT_FIELD_PRIORITY = 5;
export const EVENT_FIELD_TOPIC = 6;
export const EVENT_FIELD_KIND = 7;
export const EVENT_FIELD_JSON = 8;
export const EVENT_FIELD_BYTES = 9;
export const EVENT_FIELD_META = 10;
