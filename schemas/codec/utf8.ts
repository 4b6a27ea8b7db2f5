/**
 * UTF-16 and UTF-8 checks both directions need: what JavaScript strings the
 * wire can carry (no lone surrogates), and which bytes are valid UTF-8.
 */
import { isUtf8 } from 'node:buffer';

/** Strings up to this many characters take the ASCII fast path of `writeString` and `BodyWriter.string`. */
export const SHORT_ASCII_CHARS = 256;

const isWellFormedNative = (String.prototype as unknown as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** False when `text` holds a lone surrogate, which UTF-8 cannot carry (it would come back as U+FFFD). */
export function isWellFormed(text: string): boolean {
  return isWellFormedNative !== undefined ? isWellFormedNative.call(text) : !LONE_SURROGATE.test(text);
}

/** Bytes of `text` in UTF-8 (a lone surrogate counts 3, as the U+FFFD that Buffer writes for it). */
export function utf8Length(text: string): number {
  const length = text.length;
  // Short strings (ids, types, keys) are counted here: a native call costs more than the loop.
  if (length > SHORT_ASCII_CHARS) return Buffer.byteLength(text, 'utf8');
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Refuses what is not UTF-8 instead of writing U+FFFD, and keeps a BOM as text. */
export const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strings longer than this are checked by Node's native UTF-8 validator (one view object each); shorter ones by `isUtf8Range`. */
const NATIVE_UTF8_MIN_BYTES = 256;

/**
 * Whether bytes `start..end` are well-formed UTF-8 as the fatal `TextDecoder`
 * judges it (no overlong forms, no surrogates, nothing above U+10FFFF),
 * without making a string, or for short strings any object at all.
 */
export function isUtf8Range(bytes: Uint8Array, start: number, end: number): boolean {
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
