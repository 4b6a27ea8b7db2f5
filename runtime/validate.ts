/**
 * Checks of user input at the public boundary. Every failure is a typed
 * `BusError` that names the bad value and what is allowed; nothing already
 * accepted is touched by a refused call.
 */
import { InvalidEventError, InvalidOptionError } from '../errors.js';
import type { Priority, Side } from '../types.js';
import { isWellFormed } from './payload/payload-copy.js';

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

/** The longest topic, meta key or meta value, in UTF-16 code units. */
export const MAX_LABEL_LENGTH = 64 * 1024;

/** The most entries an event's `meta` may have. */
export const MAX_META_ENTRIES = 256;

/** Throws unless `label` (a topic, a meta key or value) is a well-formed string of at most MAX_LABEL_LENGTH. */
export function assertLabel(label: unknown, option: string): asserts label is string {
  if (typeof label !== 'string' || label.length > MAX_LABEL_LENGTH || !isWellFormed(label)) {
    throw new InvalidOptionError(
      option,
      `expected a well-formed string of at most ${MAX_LABEL_LENGTH} characters, got ${describe(label)}.`,
    );
  }
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
