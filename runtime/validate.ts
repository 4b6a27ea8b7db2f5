/**
 * Checks of user input at the public boundary. Every failure is a typed
 * `BusError` that names the bad value and what is allowed; nothing already
 * accepted is touched by a refused call.
 */
import { InvalidEventError, InvalidOptionError } from '../errors.js';
import type { Payload, Priority, Side } from '../types.js';

/** The longest event type accepted, in UTF-16 code units. */
export const MAX_TYPE_LENGTH = 256;

const TYPE_PATTERN = /^[A-Za-z0-9_\-:/$@]+(\.[A-Za-z0-9_\-:/$@]+)*$/;
/** Types already checked: they are few, and `post` is hot. */
const knownTypes = new Set<string>();

/** Throws `InvalidEventError` unless `type` is a dot-separated event type. */
export function assertEventType(type: unknown, what = 'Event type'): asserts type is string {
  if (typeof type === 'string' && knownTypes.has(type)) return;
  if (typeof type !== 'string') {
    throw new InvalidEventError(`${what} must be a string like "user.login", got ${describe(type)}.`);
  }
  if (type.length === 0 || type.length > MAX_TYPE_LENGTH || !TYPE_PATTERN.test(type)) {
    throw new InvalidEventError(
      `${what} ${JSON.stringify(type.slice(0, 80))} is not valid: use 1-${MAX_TYPE_LENGTH} characters of ` +
        'letters, digits and _-:/$@, in dot-separated parts with no empty part (e.g. "user.login").',
    );
  }
  if (knownTypes.size < 100_000) knownTypes.add(type);
}

/** Throws `InvalidEventError` unless `payload` is JSON-compatible data or a `Uint8Array`. */
export function assertPayload(payload: unknown): asserts payload is Payload {
  if (typeof payload !== 'object' || payload === null) {
    if (typeof payload === 'string' || typeof payload === 'boolean' || payload === null) return;
    if (typeof payload === 'number' && Number.isFinite(payload)) return;
  } else if (payload instanceof Uint8Array || plainDataProblem(payload, 0) === null) {
    return;
  }
  const problem = payloadProblem(payload, '$', new Set()) ?? 'it is not plain data';
  {
    throw new InvalidEventError(
      `Payload cannot be encoded: ${problem}. Payloads are JSON-compatible data (objects, arrays, strings, ` +
        'finite numbers, booleans, null) or a Uint8Array.',
    );
  }
}

/** The most nesting a payload may have; deeper is refused (it would also be a cycle). */
export const MAX_PAYLOAD_DEPTH = 256;

/**
 * The fast check, without allocation: null when `value` is plain JSON data no
 * deeper than MAX_PAYLOAD_DEPTH (a cycle exceeds it). Only on failure does
 * `payloadProblem` walk again to say where and why.
 */
function plainDataProblem(value: object, depth: number): true | null {
  if (depth > MAX_PAYLOAD_DEPTH) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!plainValue(value[i], depth)) return true;
    return null;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return true;
  for (const key in value) if (!plainValue((value as Record<string, unknown>)[key], depth)) return true;
  return null;
}

function plainValue(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      return value === null || (!(value instanceof Uint8Array) && plainDataProblem(value, depth + 1) === null);
    default:
      return false;
  }
}

function payloadProblem(value: unknown, path: string, seen: Set<object>, depth = 0): string | null {
  if (depth > MAX_PAYLOAD_DEPTH) return `${path} is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot carry`;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Uint8Array) return path === '$' ? null : `${path} is a Uint8Array inside data (bytes are allowed only as the whole payload)`;
      if (seen.has(value)) return `${path} is a circular reference`;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const problem = payloadProblem(value[i], `${path}[${i}]`, seen, depth + 1);
          if (problem !== null) return problem;
        }
      } else {
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          return `${path} is a ${(value as object).constructor?.name ?? 'class instance'}, not a plain object`;
        }
        for (const key in value) {
          const problem = payloadProblem((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1);
          if (problem !== null) return problem;
        }
      }
      seen.delete(value);
      return null;
    }
    default:
      return `${path} is a ${typeof value}`;
  }
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  return typeof value;
}

/** Throws `InvalidOptionError` for keys of `options` not in `allowed`, or when it is not an object. */
export function assertKnownKeys(options: unknown, allowed: readonly string[], where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(where, `expected an options object, got ${describe(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(`${where}.${key}`, `unknown option. Allowed: ${allowed.join(', ')}.`);
    }
  }
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

/** Throws unless `types` is a non-empty array of valid event types. */
export function assertTypeList(types: unknown, option: string): asserts types is readonly string[] {
  if (!Array.isArray(types) || types.length === 0) {
    throw new InvalidOptionError(option, `expected a non-empty array of event types, got ${describe(types)}.`);
  }
  for (const type of types) {
    try {
      assertEventType(type, `${option} entry`);
    } catch (error) {
      throw new InvalidOptionError(option, (error as Error).message);
    }
  }
}

/** Throws unless `value` is a function. */
export function assertFunction(value: unknown, option: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') {
    throw new InvalidOptionError(option, `expected a function, got ${describe(value)}.`);
  }
}
