/**
 * JSON payloads written straight into a body, as the text `JSON.stringify`
 * gives, refused where the wire could not carry them exactly (`jsonProblem`
 * says why).
 */
import { MAX_PAYLOAD_DEPTH } from '../../runtime/payload/payload-copy.js';
import type { BodyWriter } from './body-writer.js';
import { decimalDigits, isPlainJsonChar, jsonNumberBytes, jsonStringBytes } from './json-size.js';
import { isWellFormed } from './utf8.js';

/**
 * Writes `value` as the JSON text `JSON.stringify` would give, straight into
 * the body, checking as it goes what `jsonProblem` checks; returns false (with
 * part of the text written) where `jsonProblem` would find a problem. One
 * walk instead of a validation walk, a `JSON.stringify` and a copy of its text
 * into the body: this was a third of encoding a small event.
 */
export function writeJson(w: BodyWriter, value: unknown, depth: number): boolean {
  // Tests of `typeof`, not a switch on it: optimized code checks the type in place instead of making its name.
  if (typeof value === 'string') return writeJsonString(w, value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return false;
    writeJsonNumber(w, value);
    return true;
  }
  if (typeof value === 'boolean') {
    writeAscii(w, value ? 'true' : 'false');
    return true;
  }
  if (typeof value !== 'object') return false;
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
  // for-in over own keys visits them in JSON.stringify's order; it visits inherited ones only when
  // Object.prototype has enumerable keys (`w.ownKeysOnly` is false then, see `inheritsEnumerableKeys`).
  const ownKeysOnly = w.ownKeysOnly;
  for (const key in record) {
    if (!ownKeysOnly && !Object.hasOwn(record, key)) continue;
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
 * A JSON string: printable ASCII without `"` or `\` is copied; from the
 * first other character on, `writeJsonStringRest` escapes and encodes.
 * False for a lone surrogate: JSON could carry it as an escape, but post()
 * refuses it, and so does the decoder.
 */
function writeJsonString(w: BodyWriter, text: string): boolean {
  const length = text.length;
  w.reserve(length + 2);
  const bytes = w.bytes;
  let pos = w.pos;
  bytes[pos++] = 0x22;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (!isPlainJsonChar(code)) return writeJsonStringRest(w, text, i, pos);
    bytes[pos++] = code;
  }
  bytes[pos++] = 0x22;
  w.pos = pos;
  return true;
}

const HEX_DIGITS = '0123456789abcdef';

/**
 * Characters `from..` of `text` and the closing quote, from `pos`, as
 * JSON.stringify quotes them (`\"`, `\\`, `\b \t \n \f \r`, other control
 * characters as `\u00xx`, the rest as themselves) in UTF-8. A loop of its
 * own, so that the ASCII one above stays small. (Quoting with JSON.stringify
 * and writing its text with Buffer's writer made a string and a native call
 * per string, and checked it for lone surrogates first.)
 */
function writeJsonStringRest(w: BodyWriter, text: string, from: number, pos: number): boolean {
  const length = text.length;
  // 6 bytes a code unit at most (an escape; 3 of UTF-8, 4 for a pair's 2), and the quote.
  w.pos = pos;
  w.reserve(6 * (length - from) + 1);
  const bytes = w.bytes;
  for (let i = from; i < length; i++) {
    const code = text.charCodeAt(i);
    if (isPlainJsonChar(code) || code === 0x7f) {
      bytes[pos++] = code;
    } else if (code === 0x22 || code === 0x5c) {
      bytes[pos++] = 0x5c; // \
      bytes[pos++] = code;
    } else if (code < 0x20) {
      bytes[pos++] = 0x5c; // \
      const letter = SHORT_ESCAPE_LETTERS[code]!;
      if (letter !== 0) {
        bytes[pos++] = letter;
      } else {
        bytes[pos++] = 0x75; // u
        bytes[pos++] = 0x30;
        bytes[pos++] = 0x30;
        bytes[pos++] = HEX_DIGITS.charCodeAt(code >> 4);
        bytes[pos++] = HEX_DIGITS.charCodeAt(code & 0xf);
      }
    } else if (code < 0x800) {
      bytes[pos++] = 0xc0 | (code >> 6);
      bytes[pos++] = 0x80 | (code & 0x3f);
    } else if (code < 0xd800 || code > 0xdfff) {
      bytes[pos++] = 0xe0 | (code >> 12);
      bytes[pos++] = 0x80 | ((code >> 6) & 0x3f);
      bytes[pos++] = 0x80 | (code & 0x3f);
    } else {
      const next = text.charCodeAt(i + 1);
      if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return false;
      const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
      bytes[pos++] = 0xf0 | (point >> 18);
      bytes[pos++] = 0x80 | ((point >> 12) & 0x3f);
      bytes[pos++] = 0x80 | ((point >> 6) & 0x3f);
      bytes[pos++] = 0x80 | (point & 0x3f);
      i++;
    }
  }
  bytes[pos++] = 0x22;
  w.pos = pos;
  return true;
}

/** The letter JSON.stringify escapes each control character with (`\n`...), or 0 for `\u00xx`. */
const SHORT_ESCAPE_LETTERS: Uint8Array = (() => {
  const letters = new Uint8Array(0x20);
  letters[0x08] = 0x62; // b
  letters[0x09] = 0x74; // t
  letters[0x0a] = 0x6e; // n
  letters[0x0c] = 0x66; // f
  letters[0x0d] = 0x72; // r
  return letters;
})();

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
  let pos = w.pos + decimalDigits(n);
  w.pos = pos;
  do {
    const digit = n % 10;
    w.bytes[--pos] = 0x30 + digit;
    n = (n - digit) / 10;
  } while (n > 0);
}

/** The arrays and objects around the value `jsonBytes` measures: its cycle check, reused. */
const measuring: object[] = [];

/**
 * The bytes `writeJson` writes for `value` — the UTF-8 length of the text
 * `JSON.stringify` gives — or -1 where `writeJson` refuses it; a size-only
 * walk that builds no string and no buffer (but `String` of a fractional
 * number, whose shortest digits only V8 knows).
 *
 * @example
 * jsonBytes({ name: 'Zoë' })   // 15, as Buffer.byteLength(JSON.stringify({ name: 'Zoë' }))
 */
export function jsonBytes(value: unknown): number {
  // Left empty by every walk that measured; a refused one may leave some behind.
  if (measuring.length > 0) measuring.length = 0;
  return measureJson(value, 0, measuring);
}

function measureJson(value: unknown, depth: number, ancestors: object[]): number {
  switch (typeof value) {
    case 'string':
      return jsonStringBytes(value);
    case 'number':
      return jsonNumberBytes(value);
    case 'boolean':
      return value ? 4 : 5;
    case 'object': {
      if (value === null) return 4;
      if (depth >= MAX_PAYLOAD_DEPTH || ancestors.includes(value)) return -1;
      if (Array.isArray(value)) {
        ancestors.push(value);
        // Brackets, and a comma between items.
        let bytes = value.length === 0 ? 2 : value.length + 1;
        for (let i = 0; i < value.length; i++) {
          const item = i in value ? measureJson(value[i], depth + 1, ancestors) : -1;
          if (item < 0) return -1;
          bytes += item;
        }
        ancestors.pop();
        return bytes;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return -1;
      const record = value as Record<string, unknown>;
      if (typeof record['toJSON'] === 'function') return -1;
      ancestors.push(value);
      // Braces; per member a key, a colon, and a comma before all but the first.
      let bytes = 1;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        const keyBytes = jsonStringBytes(key);
        const item = keyBytes < 0 ? -1 : measureJson(record[key], depth + 1, ancestors);
        if (item < 0) return -1;
        bytes += keyBytes + item + 2;
      }
      ancestors.pop();
      return bytes === 1 ? 2 : bytes;
    }
    default:
      return -1;
  }
}

/**
 * Why `value` cannot travel as JSON and come back equal, as a path and a reason
 * (e.g. `.user.age is NaN`), or `undefined` when it can. Allocates nothing on
 * success; `ancestors` catches cycles.
 */
export function jsonProblem(value: unknown, depth: number, ancestors: object[]): string | undefined {
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
        return ` is ${typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'a class instance'}, not a plain object`;
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
