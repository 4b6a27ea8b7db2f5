/**
 * How many bytes JSON text takes, value by value, as `JSON.stringify` writes
 * it and `writeJson` (json-writer.ts) writes it into a frame: the rules the
 * size-only walks share (`jsonBytes` in json-writer.ts, and the payload copy
 * a post makes in runtime/validate.ts). It imports nothing.
 */

/**
 * True when a for-in over a plain object would visit keys it does not own:
 * Object.prototype has enumerable keys (an application or a library added
 * some). While this is false `writeJson` and the payload copy do not ask of
 * each key whether the object owns it (a call per key, in the walks'
 * innermost loops).
 */
export function inheritsEnumerableKeys(): boolean {
  for (const key in Object.prototype) if (key !== undefined) return true;
  return false;
}

/** Printable ASCII but `"` and `\\`: a JSON string carries it as itself, one byte. */
export function isPlainJsonChar(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c;
}

/** Digits of a whole number from 0 below 1e21 (`String` writes those without an exponent). Powers of ten to 1e21 are exact doubles. */
export function decimalDigits(n: number): number {
  // Compared, not counted, below 1e8 (counts, sequence numbers, sizes): a few branches instead of a multiply a digit.
  if (n < 1e4) return n < 1e2 ? (n < 10 ? 1 : 2) : n < 1e3 ? 3 : 4;
  if (n < 1e8) return n < 1e6 ? (n < 1e5 ? 5 : 6) : n < 1e7 ? 7 : 8;
  let digits = 9;
  for (let power = 1e9; n >= power; power *= 10) digits++;
  return digits;
}

/**
 * Bytes of a number as JSON text, or -1 for NaN and infinities (which JSON
 * cannot carry): -0 writes "0", whole numbers below 1e21 their digits, the
 * rest as `String` writes them (their shortest digits only V8 knows).
 */
export function jsonNumberBytes(value: number): number {
  if (!Number.isFinite(value)) return -1;
  if (Number.isInteger(value) && value > -1e21 && value < 1e21) return value < 0 ? 1 + decimalDigits(-value) : decimalDigits(value);
  return String(value).length;
}

/**
 * Bytes of `text` as a JSON string in UTF-8, quotes included, escaped as
 * `JSON.stringify` escapes; -1 for a lone surrogate, which `writeJson` refuses.
 */
export function jsonStringBytes(text: string): number {
  let bytes = text.length + 2;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isPlainJsonChar(code)) continue;
    if (code === 0x22 || code === 0x5c) bytes += 1; // \" \\
    else if (code < 0x20) bytes += SHORT_ESCAPES.includes(code) ? 1 : 5; // \n, or \u00XX
    else if (code < 0x80) continue; // DEL
    else if (code < 0x800) bytes += 1;
    else if (code < 0xd800 || code > 0xdfff) bytes += 2;
    else {
      // A surrogate pair: two code units, four bytes.
      const next = text.charCodeAt(i + 1);
      if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return -1;
      bytes += 2;
      i++;
    }
  }
  return bytes;
}

/** Control characters JSON.stringify writes as a backslash and a letter (\b \t \n \f \r); the others as \u00XX. */
const SHORT_ESCAPES: readonly number[] = [0x08, 0x09, 0x0a, 0x0c, 0x0d];
