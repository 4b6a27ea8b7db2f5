/**
 * Checks of user input at the public boundary. Every failure is a typed
 * `BusError` that names the bad value and what is allowed; nothing already
 * accepted is touched by a refused call.
 */
import { EventTooLargeError, InvalidEventError, InvalidOptionError } from '../errors.js';
import type { Payload, Priority, Side } from '../types.js';
import { inheritsEnumerableKeys, jsonNumberBytes, jsonStringBytes } from '../schemas/codec/json-size.js';

/** The longest event type accepted, in UTF-16 code units. */
export const MAX_TYPE_LENGTH = 256;

const TYPE_PATTERN = /^[A-Za-z0-9_\-:/$@]+(\.[A-Za-z0-9_\-:/$@]+)*$/;
/** Types already checked: they are few, and `post` is hot. */
const knownTypes = new Set<string>();
/** The valid type found last (a valid one to begin with): always a string, never a bad type. */
let lastKnownType = 'busline';

/** Throws `InvalidEventError` unless `type` is a dot-separated event type. */
export function assertEventType(type: unknown, what = 'Event type'): asserts type is string {
  const problem = eventTypeProblem(type, what);
  if (problem !== undefined) throw new InvalidEventError(problem);
}

/**
 * Why `type` is not a valid event type (a sentence starting with `what`), or
 * undefined when it is one. The one rule for types: `post()`, subscriptions
 * and the frame codec (which refuses what a peer wrote) all ask here.
 */
export function eventTypeProblem(type: unknown, what = 'Event type'): string | undefined {
  // The type checked last, then the others: a run of posts of one type compares a pointer, not a hash.
  if (type === lastKnownType) return undefined;
  if (typeof type === 'string' && knownTypes.has(type)) {
    lastKnownType = type;
    return undefined;
  }
  if (typeof type !== 'string') return `${what} must be a string like "user.login", got ${describe(type)}.`;
  if (type.length === 0 || type.length > MAX_TYPE_LENGTH || !TYPE_PATTERN.test(type)) {
    if (/(^|\.)[*>](\.|$)/.test(type)) {
      return `${what} ${JSON.stringify(type.slice(0, 80))} is a pattern: an event has one type, such as "user.login"; patterns only select types (subscribe(), history({ types }), ...).`;
    }
    return (
      `${what} ${JSON.stringify(type.slice(0, 80))} is not valid: use 1-${MAX_TYPE_LENGTH} characters of ` +
      'letters, digits and _-:/$@, in dot-separated parts with no empty part (e.g. "user.login").'
    );
  }
  if (knownTypes.size < 100_000) knownTypes.add(type);
  lastKnownType = type;
  return undefined;
}

/**
 * Why `pattern` cannot select event types (a sentence starting with `what`),
 * or undefined when it can: an event type, `*` or `>` alone, or a type whose
 * parts may each be `*` (one part) and whose last part may be `>` (one or
 * more parts). See `type-patterns.ts` for what they match.
 */
export function typePatternProblem(pattern: unknown, what = 'Type pattern'): string | undefined {
  if (typeof pattern !== 'string' || !(pattern.includes('*') || pattern.includes('>'))) {
    const problem = eventTypeProblem(pattern, what);
    if (problem === undefined || typeof pattern !== 'string') return problem;
    if (pattern === '') return `${what} is empty: name a type like "user.login", or "*" for every type.`;
    return problem.replace('(e.g. "user.login").', '(e.g. "user.login"), or wildcard parts "*" (one part) and a last ">" (the rest), or "*" alone.');
  }
  if (pattern.length > MAX_TYPE_LENGTH) return `${what} is longer than ${MAX_TYPE_LENGTH} characters.`;
  if (pattern === '*' || pattern === '>') return undefined;
  const parts = pattern.split('.');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '*') continue;
    if (part === '>') {
      if (i === parts.length - 1) continue;
      return `${what} ${JSON.stringify(pattern)} is not valid: ">" stands for the rest of a type, so it must be the last part (e.g. "user.>").`;
    }
    if (part.includes('*') || part.includes('>')) {
      return `${what} ${JSON.stringify(pattern)} is not valid: a wildcard is a whole part, "*" or ">" between dots (e.g. "user.*"), not part of one.`;
    }
    if (eventTypeProblem(part) !== undefined) {
      return (
        `${what} ${JSON.stringify(pattern.slice(0, 80))} is not valid: use dot-separated parts of letters, digits and _-:/$@, ` +
        'with "*" for one part and a last ">" for the rest (e.g. "user.*.failed", "user.>").'
      );
    }
  }
  return undefined;
}

/** Throws `InvalidOptionError` naming `option` unless `pattern` is a type pattern (see `typePatternProblem`). */
export function assertTypePattern(pattern: unknown, option: string): asserts pattern is string {
  const problem = typePatternProblem(pattern, 'The pattern');
  if (problem !== undefined) throw new InvalidOptionError(option, problem);
}

/**
 * Why `id` cannot be an event's id, or undefined when it can. A thread stamps
 * `<processor>.<thread>.<sequence>` (see `Thread.nextId`); the frame codec
 * refuses ids a peer wrote that are not strings or are empty. The shape itself
 * is not enforced: tests and tools write events with ids of their own.
 */
export function eventIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return `its id is ${describe(id)}; the id must be a string`;
  if (id.length === 0) return 'its id is empty';
  return undefined;
}

/**
 * True when `timestamp` can be an event's stamp: finite and not negative, as
 * every clock stamps. The frame codec refuses other stamps a peer wrote.
 */
export function isEventTimestamp(timestamp: unknown): timestamp is number {
  return typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0;
}

/**
 * The largest payload accepted, in bytes (JSON text, or raw bytes). Frames
 * carry at most 64 MiB; a payload is kept well inside that so that a batch
 * can always be cut into frames that fit.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** The longest topic, meta key or meta value, in UTF-16 code units. */
export const MAX_LABEL_LENGTH = 64 * 1024;

/** The most entries an event's `meta` may have. */
export const MAX_META_ENTRIES = 256;

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
  if (payload instanceof Uint8Array) {
    assertPayload(payload);
    // Not slice(): a Buffer's slice() is a view of the same memory, not a copy. The copy is a plain Uint8Array,
    // as the event is everywhere else (what a read or a sync decodes).
    lastCopyBytes = -1;
    return new Uint8Array(payload) as P;
  }
  // A getter may post while this copy is under way: that post's copy counts from 0 and gives back this one's count,
  // also when it throws (a getter of its payload), which the getter that posted may catch and carry on.
  const outer = copiedBytes;
  copiedBytes = 0;
  let copy: unknown;
  let bytes: number;
  try {
    copy = copyObject(payload, 0);
  } finally {
    bytes = copiedBytes;
    copiedBytes = outer;
  }
  // Refused by assertPayload, which says why.
  if (copy === NOT_PLAIN || bytes > MAX_PAYLOAD_BYTES) assertPayload(payload);
  lastCopyBytes = bytes;
  return copy as P;
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

/** Throws unless `label` (a topic, a meta key or value) is a well-formed string of at most MAX_LABEL_LENGTH. */
export function assertLabel(label: unknown, option: string): asserts label is string {
  if (typeof label !== 'string' || label.length > MAX_LABEL_LENGTH || !isWellFormed(label)) {
    throw new InvalidOptionError(
      option,
      `expected a well-formed string of at most ${MAX_LABEL_LENGTH} characters, got ${describe(label)}.`,
    );
  }
}

/**
 * The most levels of nesting a payload may have (a top-level object or array
 * is level 1); deeper is refused (it would also be a cycle). The frame codec
 * holds decoded payloads to the same limit.
 */
export const MAX_PAYLOAD_DEPTH = 256;

const isWellFormed: (text: string) => boolean = (text) =>
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

/** A short description of a value for error messages: short values as they are, others by their kind. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/**
 * Where a check sends a refusal. By default (`throwReport`) the first one
 * throws; `createRuntime()` collects them all to explain a whole
 * configuration at once. A check that reports and goes on must not rely on
 * what it reported (its result is dropped when anything was reported).
 */
export type Report = (error: InvalidOptionError) => void;

/** The default `Report`: throws the refusal. */
export const throwReport: Report = (error) => {
  throw error;
};

/** Throws (or reports) `InvalidOptionError` for keys of `options` not in `allowed`, or when it is not an object. */
export function assertKnownKeys(options: unknown, allowed: readonly string[], where: string, report: Report = throwReport): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    report(new InvalidOptionError(where, `expected an options object, got ${describe(options)}.`));
    return;
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const near = nearestName(key, allowed);
      const guess = near === undefined ? '' : ` Did you mean "${near}"?`;
      report(new InvalidOptionError(`${where}.${key}`, `unknown option.${guess} Allowed: ${allowed.join(', ')}.`));
    }
  }
}

/**
 * `options` read once: a plain object with the value of each `allowed` key
 * it answers (undefined ones left out), for the checks and the call to read
 * instead, so a getter that answers otherwise when read again can neither
 * get past a check nor hand the call what was not checked. The `lists`
 * keys (`types`, `topics`) are read as they are now (`listNow`: each entry
 * once too). Check the keys first (`assertKnownKeys`); anything but an
 * object reads as undefined. With `where` (the object's path, '' at the top),
 * a getter that throws is refused (`report`ed) as `InvalidOptionError` naming
 * its path, and its key left out; without, its error goes through.
 */
export function readOnce<T extends object>(options: T | undefined, allowed: readonly string[], lists: readonly string[] = [], where?: string, report: Report = throwReport): T | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  const read: Record<string, unknown> = {};
  for (const key of allowed) {
    let value: unknown;
    try {
      value = (options as Record<string, unknown>)[key];
    } catch (error) {
      if (where === undefined) throw error;
      report(unreadable(where === '' ? key : `${where}.${key}`, error));
      continue;
    }
    if (value !== undefined) read[key] = lists.includes(key) ? listNow(value) : value;
  }
  return read as T;
}

/** An object of entries by any key (`memory.policies`) read once, each of its own enumerable keys; a getter that throws is refused as at `readOnce`. */
export function readEntries(entries: object, where: string, report: Report = throwReport): Record<string, unknown> {
  const read: Record<string, unknown> = {};
  for (const key of Object.keys(entries)) {
    try {
      // Defined, not assigned: a key "__proto__" (a valid event type) stays an entry instead of becoming the prototype.
      Object.defineProperty(read, key, { value: (entries as Record<string, unknown>)[key], enumerable: true, writable: true, configurable: true });
    } catch (error) {
      report(unreadable(`${where}[${JSON.stringify(key)}]`, error));
    }
  }
  return read;
}

/** The refusal of an option whose getter threw. */
function unreadable(path: string, error: unknown): InvalidOptionError {
  return new InvalidOptionError(path, `reading it threw: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
}

/** `assertKnownKeys`, then `readOnce`: the options a call checks and uses. */
export function knownOptions<T extends object>(options: T | undefined, allowed: readonly string[], where: string, lists: readonly string[] = []): T | undefined {
  assertKnownKeys(options, allowed, where);
  return readOnce(options, allowed, lists);
}

/** A list as it is now (a copy: an entry's getter is read once), or `list` itself when it is not an array (for the check to refuse). */
export function listNow<T>(list: T): T {
  return Array.isArray(list) ? ([...(list as unknown[])] as T) : list;
}

/**
 * The allowed name `key` was probably meant as: one it begins or that begins
 * it (`threads`, `processor`, `ttl`), or one a typo or two away (`transprt`);
 * undefined when none is close, or several are equally close.
 */
function nearestName(key: string, allowed: readonly string[]): string | undefined {
  const wanted = key.toLowerCase();
  // Case first: `threads` is the start of `threadsPerProcessor`, not of `threadStartDeadlineMs`.
  for (const fold of [(name: string) => name, (name: string) => name.toLowerCase()]) {
    const prefixed = allowed.filter((name) => {
      const [a, b] = [fold(name), fold(key)];
      return Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a));
    });
    if (prefixed.length === 1) return prefixed[0];
  }
  const within = Math.max(1, Math.min(2, Math.floor(wanted.length / 4)));
  const close = allowed.filter((name) => editDistance(wanted, name.toLowerCase()) <= within);
  return close.length === 1 ? close[0] : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** Throws `InvalidOptionError` unless `value` is a side. */
export function assertSide(value: unknown, option: string): asserts value is Side {
  if (value !== 'internal' && value !== 'external') {
    throw new InvalidOptionError(option, `expected 'internal' or 'external', got ${describe(value)}.`);
  }
}

/** Throws `InvalidOptionError` unless `value` is a priority. */
export function assertPriority(value: unknown, option: string): asserts value is Priority {
  if (value !== 'immediate' && value !== 'normal' && value !== 'deferred') {
    throw new InvalidOptionError(option, `expected 'immediate', 'normal' or 'deferred', got ${describe(value)}.`);
  }
}

/**
 * Throws `InvalidEventError` unless `type` is an event type or a type
 * pattern. For the subject of a call (what `subscribe()`, `waitFor()`,
 * `reply()` listen to): a bad type or pattern there is INVALID_EVENT, as
 * `post()` of a bad type is; in an options object or a query
 * (`history({ types })`, `fromStation({ types })`) it is INVALID_OPTION
 * naming the option (`assertTypeList`).
 */
export function assertSubjectType(type: unknown, what: string): asserts type is string {
  const problem = typePatternProblem(type, what);
  if (problem !== undefined) throw new InvalidEventError(problem);
}

/** `assertSubjectType` for a list given as a call's subject (`subscribe([...])`, `waitForEvents([...])`): INVALID_EVENT. */
export function assertSubjectTypes(types: unknown, what: string): asserts types is readonly string[] {
  if (!Array.isArray(types) || types.length === 0) {
    throw new InvalidEventError(`${what} must be an event type, a pattern or a non-empty array of them, got ${describe(types)}.`);
  }
  for (const type of types) assertSubjectType(type, `${what} entry`);
}

/** Throws `InvalidOptionError` unless `types` is a non-empty array of event types or type patterns (`user.*`, `user.>`, `*`). */
export function assertTypeList(types: unknown, option: string): asserts types is readonly string[] {
  if (!Array.isArray(types) || types.length === 0) {
    throw new InvalidOptionError(option, `expected a non-empty array of event types or patterns, got ${describe(types)}.`);
  }
  for (const type of types) {
    const problem = typePatternProblem(type, `${option} entry`);
    if (problem !== undefined) throw new InvalidOptionError(option, problem);
  }
}

/** Throws unless `value` is a function. */
export function assertFunction(value: unknown, option: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') {
    throw new InvalidOptionError(option, `expected a function, got ${describe(value)}.`);
  }
}
