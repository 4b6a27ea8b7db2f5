/**
 * `BodyWriter`: a FlatBuffers body written front to back into one reused buffer.
 *
 * Batches are the data plane, so they do not go through the generated
 * builders: profiled on 256 small events, the builder's bookkeeping (prep,
 * vtable search in endObject, one call per field) and a JSON.stringify after a
 * separate validation walk took three quarters of the time. `BodyWriter`
 * writes the same FlatBuffers tables front to back into one reused buffer:
 *
 *   root offset, "BLW1", Envelope, EventBatch, Endpoint, history and queue
 *   vectors; then per event its table (after its vtable, the first time an
 *   event of that shape appears), id, payload and meta; then the shared
 *   strings (types, topics, meta keys), each written once.
 *
 * FlatBuffers asks only that offsets point forward (uoffset is unsigned), that
 * vtables be reachable through the signed soffset, and that scalars be aligned
 * to their size from the start of the body; back to front is the builder's
 * convenience, not the format. tests/schemas/codec-batch.test.ts reads these
 * bodies with the generated accessors, which pins the layout to busline.fbs.
 */
import { FrameError } from '../../errors.js';
import { EVENT_SHAPES, META_TABLE_BYTES, META_VTABLE } from './layout.js';
import { MAX_LIMIT } from './limits.js';
import { SHORT_ASCII_CHARS, isWellFormed } from './utf8.js';

/**
 * How `encodeMeasuredFrame` sizes each history event it writes from an
 * object, as it writes it: `eventBytes`, plus the UTF-8 bytes of its id,
 * type and topic, plus per meta entry `metaEntryBytes` and the UTF-8 bytes of
 * its key and value, plus its payload as written (the JSON text's bytes, or a
 * `Uint8Array`'s length). The rule of `runtime/store/event-bytes.ts`, whose
 * constants the caller passes, measured without walking the event again.
 */
export interface EventSizeRule {
  /** Bytes counted per event besides its strings and payload. */
  readonly eventBytes: number;
  /** Bytes counted per meta entry besides its key and value. */
  readonly metaEntryBytes: number;
  /** Filled: entry `i` is history event `i`'s size, or `NOT_MEASURED` for an `EncodedEventRef` (copied, not written). */
  readonly into: Uint32Array;
}

/** The size `encodeMeasuredFrame` reports for an event it copied as bytes: the caller knows what it counts such an event at. */
export const NOT_MEASURED = 0xffff_ffff;

/** `BodyWriter.byteVector` copies up to this many bytes by hand. */
const SHORT_COPY_BYTES = 64;

/**
 * One FlatBuffers body under construction, front to back. Reused across
 * frames (`spareWriter`): `reset()` forgets the last body, and every byte of
 * the new one, padding included, is written again, so nothing of an earlier
 * frame leaks into a later one.
 */
export class BodyWriter {
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
  /**
   * Pairs (position of an offset field, index of the shared string it points at), linked at the end: the first
   * `sharedRefCount` entries. Kept across bodies, as `bytes` is: a `number[]` emptied per body grew again in
   * every one, which was half of what compressing a block allocated on the heap (`runtime/store/blocks.ts`).
   */
  sharedRefs = new Uint32Array(256);
  sharedRefCount = 0;
  /** While a body is measured (`encodeMeasuredFrame`): how, else undefined. */
  measure: EventSizeRule | undefined = undefined;
  /** While measuring: the UTF-8 bytes of each shared string, by its index in `sharedTexts`. */
  readonly sharedBytes: number[] = [];
  /** While measuring: the size of the event being written, so far. */
  measured = 0;
  /** The arrays and objects around the JSON value being written: the cycle check. */
  readonly ancestors: object[] = [];
  /** No plain object inherits an enumerable key (`inheritsEnumerableKeys`): `writeJson` need not ask which keys are own. */
  ownKeysOnly = false;

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
      this.sharedRefCount = 0;
      this.sharedBytes.length = 0;
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
    for (let i = 0; i < this.sharedRefCount; i += 2) this.link(refs[i]!, positions[refs[i + 1]!]!);
  }

  /** Notes that the offset field at `field` points at shared string `index` (linked by `writeShared`). */
  shareRef(field: number, index: number): void {
    const count = this.sharedRefCount;
    if (count + 2 > this.sharedRefs.length) {
      const refs = new Uint32Array(2 * this.sharedRefs.length);
      refs.set(this.sharedRefs);
      this.sharedRefs = refs;
    }
    this.sharedRefs[count] = field;
    this.sharedRefs[count + 1] = index;
    this.sharedRefCount = count + 2;
  }
}
