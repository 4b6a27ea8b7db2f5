/**
 * What a payload may be, checked and copied at `post()`: JSON-compatible
 * data or a `Uint8Array`, at most `MAX_PAYLOAD_BYTES`. The copy is what the
 * event keeps; what the wire cannot carry is refused here with a typed
 * `BusError` that says where and why, never later at a sync.
 */
import { EventTooLargeError, InvalidEventError, isBusError, thrownText } from '../../errors.js';
import type { Payload } from '../../types.js';
import { inheritsEnumerableKeys, jsonNumberBytes, jsonStringBytes } from '../../schemas/codec/json-size.js';

/**
 * The largest payload accepted, in bytes (JSON text, or raw bytes). Frames
 * carry at most 64 MiB; a payload is kept well inside that so that a batch
 * can always be cut into frames that fit.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/**
 * Throws `InvalidEventError` unless `payload` is JSON-compatible data or a
 * `Uint8Array`, and `EventTooLargeError` when it is over `MAX_PAYLOAD_BYTES`:
 * what the wire cannot carry is refused here, never later at a sync.
 */
export function assertPayload(payload: unknown): asserts payload is Payload {
  let bound: number;
  if (typeof payload !== 'object' || payload === null) {
    bound = valueBound(payload, 0);
  } else if (payload instanceof Uint8Array) {
    bound = payload.byteLength;
  } else {
    bound = objectBound(payload, 0);
  }
  if (bound >= 0 && bound <= MAX_PAYLOAD_BYTES) return;
  if (bound < 0) {
    const problem = payloadProblem(payload, '$', new Set()) ?? 'it is not plain data';
    throw new InvalidEventError(
      `Payload cannot be encoded: ${problem}. Payloads are JSON-compatible data (objects, arrays, strings, ` +
        'finite numbers, booleans, null) or a Uint8Array.',
    );
  }
  // The bound is generous (every character counted as an escape); measure exactly before refusing.
  const bytes = payload instanceof Uint8Array ? payload.byteLength : Buffer.byteLength(JSON.stringify(payload));
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new EventTooLargeError(
      `The payload is ${bytes} bytes, more than the ${MAX_PAYLOAD_BYTES} bytes an event may carry. ` +
        'Store large data elsewhere and post a reference to it.',
    );
  }
}

/**
 * `assertPayload`, and the payload's value taken in the same walk: a copy of
 * plain data (new objects and arrays; strings, numbers, booleans and null as
 * they are) or of bytes. An event keeps the copy, so what the application
 * does to its own object after `post()` reaches neither the event nor the
 * stations: what `post()` accepted can always be sent. Throws as `assertPayload`.
 * The same walk measures the copy's JSON text exactly (`copiedPayloadBytes`).
 */
export function copyPayload<P extends Payload>(payload: P): P {
  if (typeof payload !== 'object' || payload === null) {
    assertPayload(payload);
    lastCopyBytes = -1;
    return payload;
  }
  // A getter may post while this copy is under way: that post's copy counts from 0 and gives back this one's count,
  // also when it throws (a getter of its payload), which the getter that posted may catch and carry on.
  const outer = copiedBytes;
  copiedBytes = 0;
  let copy: unknown;
  let bytes: number;
  // A getter or a proxy's trap may throw anywhere here (`instanceof` asks a proxy for its prototype): the post is
  // refused as a payload that cannot be read, what was thrown its cause. A BusError (a getter's own post refused) stays.
  try {
    if (payload instanceof Uint8Array) {
      assertPayload(payload);
      // Not slice(): a Buffer's slice() is a view of the same memory, not a copy. The copy is a plain Uint8Array,
      // as the event is everywhere else (what a read or a sync decodes).
      lastCopyBytes = -1;
      return new Uint8Array(payload) as P;
    }
    copy = copyObject(payload, 0);
    bytes = copiedBytes;
    // Refused by assertPayload, which says why.
    if (copy === NOT_PLAIN || bytes > MAX_PAYLOAD_BYTES) assertPayload(payload);
  } catch (error) {
    throw isBusError(error) ? error : unreadablePayload(error);
  } finally {
    copiedBytes = outer;
  }
  lastCopyBytes = bytes;
  return copy as P;
}

/**
 * The refusal of a payload whose reading threw (a getter, a proxy's trap):
 * the post is refused as any other bad payload, with what was thrown as its
 * `cause`.
 */
function unreadablePayload(error: unknown): InvalidEventError {
  const reason = thrownText(error);
  return new InvalidEventError(
    `Payload cannot be read: reading it threw ${reason}. Post plain data (objects, arrays, strings, finite numbers, ` +
      'booleans, null) or a Uint8Array: no getters or proxies that throw.',
    { cause: error },
  );
}

/** The bytes of the JSON text of the last payload `copyPayload` copied; -1 when it was bytes or not an object. */
let lastCopyBytes = -1;

/**
 * The bytes of the JSON text (as `encodeFrame` writes it) of the payload
 * `copyPayload` copied last, measured in that walk; -1 when it was bytes or
 * not an object or array. A post takes it right after its copy and hands it
 * on, so no second walk measures it (memory budgets and `sizeLimit` need
 * it). A number, not the copy kept to recognise it by: storing an object
 * into a long-lived one at every post costs the garbage collector's write barrier.
 */
export function copiedPayloadBytes(): number {
  return lastCopyBytes;
}

/** What `copyObject` returns for data that is not plain: `assertPayload` then says where and why. */
const NOT_PLAIN = Symbol('not plain data');
/** The JSON bytes of what `copyObject` has copied so far (one walk, no tuple per value; rules of schemas/codec/json-size.ts). */
let copiedBytes = 0;

/**
 * `objectBound`'s walk over a copy of `value`, made first and then checked
 * (so every value is read once: a getter cannot hand the check one value and
 * the copy another); nested objects are copied in turn. NOT_PLAIN where
 * `objectBound` would give -1. A spread is V8's fastest clone of a small
 * object; it defines keys, so an own "__proto__" key stays a key.
 */
function copyObject(value: object, depth: number): unknown {
  if (depth >= MAX_PAYLOAD_DEPTH) return NOT_PLAIN;
  // Brackets or braces, and a comma between items (one too many counted here when there are none).
  copiedBytes += 1;
  if (Array.isArray(value)) {
    const copy: unknown[] = value.slice();
    for (let i = 0; i < copy.length; i++) {
      const item = copy[i];
      const checked = copyValue(item, depth);
      if (checked === NOT_PLAIN) return NOT_PLAIN;
      if (checked !== item) copy[i] = checked;
      copiedBytes += 1;
    }
    if (copy.length === 0) copiedBytes += 1;
    return copy;
  }
  // No property read before this call, though a read of a symbol of this module's would let the
  // optimizing compiler fold it (~110 instructions a copy): a proxy's get trap would be asked for a key
  // the payload lacks, and a strict proxy throws. A brand check (`#probe in value`), which no trap
  // sees, measured slower than none.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const copy: Record<string, unknown> = { ...value };
  // Asked per object, after the spread that ran its getters: for-in visits Object.prototype's enumerable keys too.
  const ownKeysOnly = !inheritsEnumerableKeys();
  let empty = true;
  for (const key in copy) {
    if (!ownKeysOnly && !Object.hasOwn(copy, key)) continue;
    const item = copy[key];
    const checked = copyValue(item, depth);
    // A key with a lone surrogate has no size.
    const keyBytes = jsonStringBytes(key);
    if (checked === NOT_PLAIN || keyBytes < 0) return NOT_PLAIN;
    empty = false;
    if (checked !== item) {
      // Assigning to "__proto__" would set the copy's prototype.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: checked, enumerable: true, writable: true, configurable: true });
      else copy[key] = checked;
    }
    // The key, its colon and a comma.
    copiedBytes += keyBytes + 2;
  }
  if (empty) copiedBytes += 1;
  return copy;
}

/** `valueBound`, copying objects. */
function copyValue(value: unknown, depth: number): unknown {
  // Tests of `typeof`, not a switch on it: optimized code checks the type in place instead of making its name.
  if (typeof value === 'string') {
    // -1 for a lone surrogate, which UTF-8 cannot carry.
    const bytes = jsonStringBytes(value);
    if (bytes < 0) return NOT_PLAIN;
    copiedBytes += bytes;
    return value;
  }
  if (typeof value === 'number') {
    const bytes = jsonNumberBytes(value);
    if (bytes < 0) return NOT_PLAIN;
    copiedBytes += bytes;
    return value;
  }
  if (typeof value === 'boolean') {
    copiedBytes += value ? 4 : 5;
    return value;
  }
  if (typeof value === 'object') {
    if (value === null) {
      copiedBytes += 4;
      return value;
    }
    return value instanceof Uint8Array ? NOT_PLAIN : copyObject(value, depth + 1);
  }
  return NOT_PLAIN;
}

/**
 * The most levels of nesting a payload may have (a top-level object or array
 * is level 1); deeper is refused (it would also be a cycle). The frame codec
 * holds decoded payloads to the same limit.
 */
export const MAX_PAYLOAD_DEPTH = 256;

/** True when `text` has no lone surrogate (UTF-8 can carry it). */
export const isWellFormed: (text: string) => boolean = (text) =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The fast check, without allocation: an upper bound of the JSON size of
 * `value`, or -1 when it is not plain data, has a lone surrogate, or nests
 * deeper than MAX_PAYLOAD_DEPTH (a cycle does). Only on failure does
 * `payloadProblem` walk again to say where and why.
 */
function objectBound(value: object, depth: number): number {
  if (depth >= MAX_PAYLOAD_DEPTH) return -1;
  let bound = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = valueBound(value[i], depth);
      if (item < 0) return -1;
      bound += item + 1;
    }
    return bound;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return -1;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = valueBound((value as Record<string, unknown>)[key], depth);
    if (item < 0 || !isWellFormed(key)) return -1;
    bound += item + 6 * key.length + 4;
  }
  return bound;
}

function valueBound(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? 6 * value.length + 2 : -1;
    case 'boolean':
      return 5;
    case 'number':
      return Number.isFinite(value) ? 24 : -1;
    case 'object':
      if (value === null) return 4;
      return value instanceof Uint8Array ? -1 : objectBound(value, depth + 1);
    default:
      return -1;
  }
}

function payloadProblem(value: unknown, path: string, seen: Set<object>, depth = 0): string | null {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? null : `${path} is a string with a lone surrogate, which UTF-8 cannot carry`;
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot carry`;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Uint8Array) return path === '$' ? null : `${path} is a Uint8Array inside data (bytes are allowed only as the whole payload)`;
      if (depth >= MAX_PAYLOAD_DEPTH) return `${path} is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
      if (seen.has(value)) return `${path} is a circular reference`;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return `${path}[${i}] is a hole in a sparse array, which JSON cannot carry (use null)`;
          const problem = payloadProblem(value[i], `${path}[${i}]`, seen, depth + 1);
          if (problem !== null) return problem;
        }
      } else {
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) return `${path} is ${instanceProblem(value)}`;
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue;
          if (!isWellFormed(key)) return `${path} has a key with a lone surrogate`;
          const problem = payloadProblem((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1);
          if (problem !== null) return problem;
        }
      }
      seen.delete(value);
      return null;
    }
    case 'undefined':
      return `${path} is undefined, which JSON cannot carry (use null, or leave the key out)`;
    default:
      return `${path} is a ${typeof value}`;
  }
}

/** What an instance of a class is, and what to post instead where there is an obvious plain form. */
function instanceProblem(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== 'string' || name === '') return 'a class instance, not a plain object';
  const what = `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}, not a plain object`;
  if (value instanceof Date) return `${what} (post its toISOString() or getTime(), or give the type a schema that converts it)`;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `${what} (bytes travel as a Uint8Array: wrap its buffer in one)`;
  if (value instanceof Map) return `${what} (post Object.fromEntries(map))`;
  if (value instanceof Set) return `${what} (post [...set])`;
  return what;
}
