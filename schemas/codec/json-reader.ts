/**
 * JSON payloads read back: parsed together per batch where that is safe
 * (`JsonBatch`), alone otherwise, and refused where `encodeFrame` would have
 * refused the parsed value.
 */
import { MAX_PAYLOAD_DEPTH } from '../../runtime/payload/payload-copy.js';
import type { BusEvent, Payload } from '../../types.js';
import { KEEP_BUILDER_BYTES } from './limits.js';
import { isWellFormed, utf8Decoder } from './utf8.js';

/**
 * `T` with its readonly properties writable: for an object being built before
 * it is handed out. Here, not beside the wire enums, so that the published
 * types of what stations keep never reach the generated FlatBuffers code.
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * What `JsonBatch` needs of the reader of the body its payloads are in (a
 * `BodyReader`, which imports this module for its `json` field).
 */
export interface JsonSource {
  readonly bytes: Uint8Array;
  where: string;
  index: number;
  fail(what: string): never;
  decode(start: number, end: number, what: string): string;
}

/**
 * A JSON number that could overflow to ±Infinity needs an exponent, and a
 * lone surrogate (which post() refuses) an escape from \\uD800 to \\uDFFF...
 */
const JSON_NEEDS_WALK = /\d[eE]|\\u[dD][89a-fA-F]/;
/**
 * ...or 309+ digits; and nesting deeper than `MAX_PAYLOAD_DEPTH` needs twice
 * as many brackets. Shorter JSON texts without an exponent need no walk.
 */
const JSON_WALK_CHARS = Math.min(309, 2 * (MAX_PAYLOAD_DEPTH + 1));

/** JSON payloads up to this many bytes are parsed together with the others of their batch (`JsonBatch`). */
const JSON_BATCH_MAX_BYTES = 1024;
/** 1 for the bytes `JsonBatch.add` has nothing to track for: printable ASCII but `"` `\\` `[` `]` `{` `}` `,` `e` `E`. */
const JSON_PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) JSON_PLAIN[c] = '"\\[]{},eE'.includes(String.fromCharCode(c)) ? 0 : 1;

/** Scratch memory for `JsonBatch`, kept between frames while small. */
let jsonScratch = new Uint8Array(16 * 1024);

/**
 * The small JSON payloads of one batch, parsed by one `JSON.parse` of
 * `[p1,p2,...]`: on 256 small events, one call per payload spent more time
 * in the call than in parsing. Joining is safe only if each payload is
 * exactly one JSON value, so `add` scans each one: outside strings (tracked
 * with their escapes, as JSON lexes them) its brackets must balance without
 * going below zero and it must hold no comma at its top level, and it must
 * not end inside a string. Then, if the joined text parses, every comma at
 * the array's level is one we put there, so element i is payload i, parsed as
 * `JSON.parse` would parse it alone; payloads that do not parse alone cannot
 * parse joined. A scan that fails sends the payload to `JSON.parse` alone;
 * a joined text that fails to parse is parsed again payload by payload, to
 * say which event is wrong.
 */
export class JsonBatch {
  /** `[`, the payloads joined by `,`, `]`: built in `jsonScratch`. */
  length = 0;
  ascii = true;
  /** The events waiting for their payload, and for each: where its text is, whether it needs a walk, where it was read. */
  readonly events: Mutable<BusEvent>[] = [];
  readonly spans: number[] = [];
  readonly walks: boolean[] = [];
  readonly wheres: string[] = [];
  readonly indexes: number[] = [];

  /** Takes the payload at `start..end` of `r.bytes` for `event`, or returns false if it must be parsed alone. */
  add(r: JsonSource, start: number, end: number, event: Mutable<BusEvent>): boolean {
    const bytes = r.bytes;
    if (end - start > JSON_BATCH_MAX_BYTES) return false;
    if (this.length + (end - start) + 2 > jsonScratch.length) {
      const larger = new Uint8Array(Math.max(2 * jsonScratch.length, this.length + (end - start) + 2));
      larger.set(jsonScratch.subarray(0, this.length));
      jsonScratch = larger;
    }
    const out = jsonScratch;
    let pos = this.length;
    out[pos++] = this.events.length === 0 ? 0x5b : 0x2c; // [ or ,
    let depth = 0;
    let inString = false;
    let ascii = true;
    let walk = end - start >= JSON_WALK_CHARS;
    for (let i = start; i < end; i++) {
      const c = bytes[i] as number;
      out[pos++] = c;
      // Most bytes are letters, digits and the like: one table lookup each.
      if (JSON_PLAIN[c] === 1) continue;
      if (c >= 0x80) {
        ascii = false;
      } else if (c === 0x65 || c === 0x45) {
        // JSON_EXPONENT (a digit, then e or E), tested where the regular expression would match.
        if (i > start) {
          const before = bytes[i - 1] as number;
          if (before >= 0x30 && before <= 0x39) walk = true;
        }
      } else if (inString) {
        if (c === 0x22) {
          inString = false;
        } else if (c === 0x5c && i + 1 < end) {
          // An escape: the next byte is taken as it is, whatever it is.
          const escaped = bytes[++i] as number;
          out[pos++] = escaped;
          if (escaped >= 0x80) ascii = false;
          // JSON_NEEDS_WALK's surrogate escape: \uD800 to \uDFFF.
          else if (escaped === 0x75 && (bytes[i + 1] === 0x64 || bytes[i + 1] === 0x44)) walk = true;
        }
      } else if (c === 0x22) {
        inString = true;
      } else if (c === 0x5b || c === 0x7b) {
        depth++;
      } else if (c === 0x5d || c === 0x7d) {
        if (--depth < 0) return false;
      } else if (c === 0x2c && depth === 0) {
        return false;
      }
    }
    if (inString || depth !== 0) return false;
    this.length = pos;
    this.ascii &&= ascii;
    this.events.push(event);
    this.spans.push(start, end);
    this.walks.push(walk);
    this.wheres.push(r.where);
    this.indexes.push(r.index);
    return true;
  }

  /** Parses the payloads taken and gives each event its own. */
  finish(r: JsonSource): void {
    const count = this.events.length;
    if (count === 0) return;
    jsonScratch[this.length] = 0x5d; // ]
    const joined = jsonScratch.subarray(0, this.length + 1);
    let values: unknown;
    try {
      const text = this.ascii ? Buffer.from(joined.buffer, 0, joined.length).toString('latin1') : utf8Decoder.decode(joined);
      values = JSON.parse(text);
    } catch {
      values = undefined;
    } finally {
      if (jsonScratch.length > KEEP_BUILDER_BYTES) jsonScratch = new Uint8Array(16 * 1024);
    }
    if (!Array.isArray(values) || values.length !== count) {
      this.parseOneByOne(r);
      return r.fail('the JSON payloads do not parse');
    }
    for (let k = 0; k < count; k++) {
      const value = values[k] as Payload;
      if (this.walks[k]) {
        const problem = parsedPayloadProblem(value);
        if (problem !== undefined) {
          r.where = this.wheres[k] as string;
          r.index = this.indexes[k] as number;
          r.fail(`the JSON payload ${problem}`);
        }
      }
      (this.events[k] as Mutable<BusEvent>).payload = value;
    }
  }

  /** Parses each payload alone: the first one that is wrong fails, with its own location. */
  parseOneByOne(r: JsonSource): void {
    for (let k = 0; k < this.events.length; k++) {
      r.where = this.wheres[k] as string;
      r.index = this.indexes[k] as number;
      const start = this.spans[2 * k] as number;
      const end = this.spans[2 * k + 1] as number;
      parseJsonPayload(r, r.decode(start, end, 'JSON payload'));
    }
  }
}

export function parseJsonPayload(r: JsonSource, text: string): Payload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return r.fail('the JSON payload does not parse');
  }
  if (text.length >= JSON_WALK_CHARS || JSON_NEEDS_WALK.test(text)) {
    const problem = parsedPayloadProblem(value);
    if (problem !== undefined) r.fail(`the JSON payload ${problem}`);
  }
  return value as Payload;
}

/**
 * What `encodeFrame` (and post()) would refuse in a parsed JSON payload (a
 * number beyond the range of a double, nesting deeper than
 * `MAX_PAYLOAD_DEPTH`, a string or key with a lone surrogate), so that
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
    } else if (typeof value === 'string') {
      if (!isWellFormed(value)) return 'holds a string with a lone UTF-16 surrogate';
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_PAYLOAD_DEPTH) return `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
      if (!Array.isArray(value)) for (const key in value) if (!isWellFormed(key)) return 'holds a key with a lone UTF-16 surrogate';
      const items = Array.isArray(value) ? value : Object.values(value);
      for (const item of items) {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}
