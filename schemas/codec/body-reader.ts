/**
 * `BodyReader`: the verifier. The FlatBuffers JS runtime has none, so every
 * offset, length, enum, string and union of a body is checked against the body
 * and the `FrameLimits` before it is read.
 */
import { FrameError } from '../../errors.js';
import { MAX_LABEL_LENGTH, eventTypeProblem } from '../../runtime/validate.js';
import type { Origin } from '../../types.js';
import type { JsonBatch } from './json-reader.js';
import { EVENT_FIELDS, EVENT_FIELD_TYPE } from './layout.js';
import type { FrameLimits } from './limits.js';
import { isUtf8Range, utf8Decoder } from './utf8.js';

/** Strings up to this many bytes are built from their char codes, four at a time. */
const TINY_STRING_BYTES = 12;
/** Strings up to this many bytes are checked for ASCII here, then decoded by Buffer's native latin1 decoder. */
const SHORT_STRING_BYTES = 64;

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
export class BodyReader {
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

  /** Refuses the body (`MALFORMED`), saying where and what. */
  fail(what: string): never {
    throw new FrameError('MALFORMED', `${this.location()}: ${what}.`);
  }

  /** Refuses the body for exceeding a limit (`TOO_LARGE`), saying where and what. */
  tooLarge(what: string): never {
    throw new FrameError('TOO_LARGE', `${this.location()}: ${what}.`);
  }

  /** Where the reader is, as error messages name it. */
  location(): string {
    return this.index >= 0 ? `${this.where}[${this.index}]` : this.where;
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
