/**
 * Memory policies: `createRuntime({ memory: { policies, limits } })`. A
 * policy is per event type, with subtype rules (a policy for `user` covers
 * `user.login`), or per type pattern, as subscriptions select types
 * (`type-patterns.ts`: `'>'` every type, `user.*`, `user.>`); the most
 * specific policy applies, whole (`byPrecedence`). Limits bound every
 * history (each bus and station) the way JetStream bounds a stream: at most
 * so many events, bytes or milliseconds of age, and at a limit either the
 * oldest events go or new ones are refused.
 *
 * This module is plain data and its checks: it travels to worker threads and
 * child processors in their start data, and is checked again there.
 */
import { InvalidOptionError } from '../../errors.js';
import { assertKnownKeys, describe, readEntries, readOnce, throwReport, typePatternProblem, type Report } from '../validate.js';
import { hasWildcard, typeMatches } from '../type-patterns.js';

/** How much an event type matters when a history must let events go: `low` ones go first, `high` ones last. */
export type Importance = 'low' | 'normal' | 'high';

/** What happens when a limit is reached: the oldest events leave, or new ones are refused. */
export type DiscardPolicy = 'oldest' | 'refuseNew';

/** Bounds of one history, or of one policy's events within a history (JetStream's stream limits). */
export interface HistoryLimits {
  /** At most this many events. */
  readonly maxEvents?: number;
  /** At most this many bytes of events (their encoded size). */
  readonly maxBytes?: number;
  /** Events older than this (by their timestamp) leave, whatever `discard` says. */
  readonly maxAgeMs?: number;
  /** At `maxEvents` or `maxBytes`: `'oldest'` (default) removes the oldest events, `'refuseNew'` refuses new ones with `BusFullError` (`bound: 'limit'`). */
  readonly discard?: DiscardPolicy;
}

/** The policy of an event type and its subtypes. */
export interface EventPolicy extends HistoryLimits {
  /** Largest encoded size of a new event of this type, in bytes; a larger post is refused with `EventTooLargeError`. */
  readonly sizeLimit?: number;
  /**
   * On a bus, the event leaves the history once every subscriber of that bus has been called (a throwing or rejecting one counts);
   * at a station, once every reader that may want it (by the types its reads asked for) has read it.
   */
  readonly removeAfterDelivery?: boolean;
  /** The event leaves a history once a `history()` or `get()` of that history has returned it. */
  readonly removeAfterSearch?: boolean;
  /** The event leaves every history this many milliseconds after its timestamp (by the runtime's clock). Only types that set it expire. */
  readonly ttlMs?: number;
  /** Order of eviction at a history's limits: `low` first, `high` last. Default `normal`. */
  readonly importance?: Importance;
  /**
   * Compress the event when it stays (default true, once `memory.compression` is on): blocks of older events
   * are snappy-compressed (`memory.compression`); `false` keeps the blocks
   * that hold events of this type as bytes, uncompressed (cheaper to read).
   */
  readonly compress?: boolean;
}

/**
 * `memory.budget`: the bytes of events each history may hold, counted as
 * `sizeLimit` counts them (`eventBytes` in `retention.ts`: about what a
 * batch frame spends on each event).
 */
export interface MemoryBudgetOptions {
  /** Bytes of events each bus may hold. Default `DEFAULT_BUS_BUDGET_BYTES` (32 MiB). */
  readonly busBytes?: number;
  /** Bytes of events each station (local or main) may hold. Default `DEFAULT_STATION_BUDGET_BYTES` (128 MiB). */
  readonly stationBytes?: number;
}

/**
 * A bus's budget unless `memory.budget.busBytes` says otherwise: 32 MiB. A
 * bus keeps events as objects, two to three times their encoded size in
 * heap, and a thread has two buses: about 200 MB of heap per thread at most.
 */
export const DEFAULT_BUS_BUDGET_BYTES = 32 * 1024 * 1024;
/**
 * A station's budget unless `memory.budget.stationBytes` says otherwise:
 * 128 MiB. A station keeps events as the bytes they arrived in (about their
 * encoded size); a process has at most four stations (local and main, two sides).
 */
export const DEFAULT_STATION_BUDGET_BYTES = 128 * 1024 * 1024;
/** The budget when `memory.budget` is not given. */
const DEFAULT_BUDGET: MemoryBudgetOptions = Object.freeze({});

/** When a history compresses its older events into blocks (`memory.compression`). */
export interface CompressionOptions {
  /** The newest events stay uncompressed: at least this many (default 4096). */
  readonly keepEvents?: number;
  /** ...and every event younger than this, in ms by the runtime's clock (default 0). */
  readonly keepMs?: number;
  /** Events per new block (default 1024): small events compress badly one by one. */
  readonly blockEvents?: number;
  /** Neighbouring blocks merge (and are compressed again) up to this many uncompressed bytes (default 256 KiB). */
  readonly maxBlockBytes?: number;
}

/** The defaults of `CompressionOptions`. */
export const DEFAULT_COMPRESSION: Required<CompressionOptions> = Object.freeze({
  keepEvents: 4096,
  keepMs: 0,
  blockEvents: 1024,
  maxBlockBytes: 256 * 1024,
});

/** `createRuntime({ memory })`: policies by event type, limits, the memory budget and compression of every history. */
export interface MemoryOptions {
  /**
   * Policies by event type or type pattern, as subscriptions select types: `user` covers `user` and its
   * subtypes, `user.*` one part below, `user.>` any depth below, `'>'` (or `'*'`) every type but the
   * runtime's own `busline.*` ones, which only a key whose first part is `busline` covers. The most specific
   * key applies, whole: a key without wildcards (the longest), then the pattern with more literal parts, then
   * one without a final `>`, then the first given.
   */
  readonly policies?: { readonly [typeOrPattern: string]: EventPolicy };
  /** Limits of each history: every bus and every station holds at most this much. */
  readonly limits?: HistoryLimits;
  /**
   * The bytes each bus and each station may hold (`memory-budget.ts` says what happens over it). On by default:
   * `DEFAULT_BUS_BUDGET_BYTES` and `DEFAULT_STATION_BUDGET_BYTES`; `false`: no budget, histories keep what
   * their policies and limits let them.
   */
  readonly budget?: MemoryBudgetOptions | false;
  /** Compress older events of every history in blocks: `true` (`DEFAULT_COMPRESSION`) or when to. Default off. */
  readonly compression?: CompressionOptions | boolean;
}

/** A policy as it applies to an event, with the type it was given for. */
export interface AppliedPolicy extends EventPolicy {
  /** The key the policy was given for, a type or a pattern (its events are counted together for its limits). */
  readonly pattern: string;
  /** Where the policy was given, for errors: `memory.policies["user"]`. */
  readonly option: string;
}

const LIMIT_KEYS = ['maxEvents', 'maxBytes', 'maxAgeMs', 'discard'] as const;
/** A policy's own fields; with `LIMIT_KEYS`, all it may hold. */
const OWN_POLICY_KEYS = ['sizeLimit', 'removeAfterDelivery', 'removeAfterSearch', 'ttlMs', 'importance', 'compress'] as const;
const POLICY_KEYS = [...OWN_POLICY_KEYS, ...LIMIT_KEYS] as const;
const MEMORY_KEYS = ['policies', 'limits', 'budget', 'compression'] as const;
const COMPRESSION_KEYS = ['keepEvents', 'keepMs', 'blockEvents', 'maxBlockBytes'] as const;
const IMPORTANCES: readonly Importance[] = ['low', 'normal', 'high'];

/**
 * Checks `memory` options (`where` names them in errors) and returns a frozen
 * copy. Throws `InvalidOptionError` naming the field and what it allows
 * (or sends every such refusal to `report`, and the result is then not to be used).
 */
export function checkMemoryOptions(memory: unknown, where = 'memory', report: Report = throwReport): MemoryOptions {
  if (memory === undefined) return Object.freeze({});
  if (!isPlainObject(memory)) {
    assertKnownKeys(memory, MEMORY_KEYS, where, report);
    return Object.freeze({});
  }
  assertKnownKeys(memory, MEMORY_KEYS, where, report);
  // Each object read once, here and below: what is checked is what is kept (a getter that throws is refused as an option).
  const { policies, limits, budget, compression } = read(memory as MemoryOptions, MEMORY_KEYS, where, report);
  const checked: Record<string, EventPolicy> = {};
  if (policies !== undefined) {
    if (!isPlainObject(policies)) {
      report(new InvalidOptionError(`${where}.policies`, `expected an object of policies by event type or pattern, e.g. { 'user.login': { removeAfterDelivery: true } }, got ${describe(policies)}.`));
    } else {
      for (const [type, policy] of Object.entries(readEntries(policies, `${where}.policies`, report))) {
        const option = `${where}.policies[${JSON.stringify(type)}]`;
        const problem = typePatternProblem(type, 'The policy key');
        if (problem !== undefined) report(new InvalidOptionError(option, problem));
        Object.defineProperty(checked, type, { value: checkPolicy(policy, option, report), enumerable: true }); // "__proto__" too
      }
    }
  }
  return Object.freeze({
    ...(policies === undefined ? {} : { policies: Object.freeze(checked) }),
    ...(limits === undefined ? {} : { limits: checkLimits(limits, `${where}.limits`, LIMIT_KEYS, report) }),
    ...(budget === undefined ? {} : { budget: checkBudgetOptions(budget, `${where}.budget`, report) }),
    ...(compression === undefined ? {} : { compression: checkCompression(compression, `${where}.compression`, report) }),
  });
}

/** Checks `memory.budget` (`where` names it in errors) and returns a frozen copy of what is right in it. */
export function checkBudgetOptions(budget: unknown, where: string, report: Report = throwReport): MemoryBudgetOptions | false {
  if (budget === false) return false;
  if (!isPlainObject(budget)) {
    report(new InvalidOptionError(where, `expected { busBytes?, stationBytes? }, or false for no budget, got ${describe(budget)}.`));
    return Object.freeze({});
  }
  assertKnownKeys(budget, ['busBytes', 'stationBytes'], where, report);
  const given = read(budget as MemoryBudgetOptions, ['busBytes', 'stationBytes'], where, report);
  const checked: { busBytes?: number; stationBytes?: number } = {};
  for (const key of ['busBytes', 'stationBytes'] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      report(new InvalidOptionError(`${where}.${key}`, `expected a positive whole number of bytes, got ${describe(value)}.`));
    } else checked[key] = value;
  }
  return Object.freeze(checked);
}

function checkCompression(compression: unknown, option: string, report: Report): CompressionOptions | boolean {
  if (typeof compression === 'boolean') return compression;
  if (!isPlainObject(compression)) {
    report(new InvalidOptionError(option, `expected true, false or an object of ${COMPRESSION_KEYS.join(', ')}, got ${describe(compression)}.`));
    return false;
  }
  assertKnownKeys(compression, COMPRESSION_KEYS, option, report);
  const given = read(compression as CompressionOptions, COMPRESSION_KEYS, option, report);
  const { keepEvents, keepMs, blockEvents, maxBlockBytes } = given;
  if (keepEvents !== undefined && !(Number.isSafeInteger(keepEvents) && keepEvents >= 0)) {
    report(new InvalidOptionError(`${option}.keepEvents`, `expected a whole number of events from 0, got ${describe(keepEvents)}.`));
  }
  if (keepMs !== undefined && !(typeof keepMs === 'number' && Number.isFinite(keepMs) && keepMs >= 0)) {
    report(new InvalidOptionError(`${option}.keepMs`, `expected a number of milliseconds from 0, got ${describe(keepMs)}.`));
  }
  if (blockEvents !== undefined) positiveInteger(blockEvents, `${option}.blockEvents`, 'events', report);
  if (maxBlockBytes !== undefined) positiveInteger(maxBlockBytes, `${option}.maxBlockBytes`, 'bytes', report);
  return Object.freeze(given);
}

function checkPolicy(policy: unknown, option: string, report: Report): EventPolicy {
  const limits = checkLimits(policy, option, POLICY_KEYS, report);
  if (!isPlainObject(policy)) return limits;
  const own = read(policy as EventPolicy, OWN_POLICY_KEYS, option, report);
  const { sizeLimit, removeAfterDelivery, removeAfterSearch, ttlMs, importance, compress } = own;
  if (sizeLimit !== undefined) positiveInteger(sizeLimit, `${option}.sizeLimit`, 'bytes', report);
  for (const [key, value] of [['removeAfterDelivery', removeAfterDelivery], ['removeAfterSearch', removeAfterSearch], ['compress', compress]] as const) {
    if (value !== undefined && typeof value !== 'boolean') report(new InvalidOptionError(`${option}.${key}`, `expected true or false, got ${describe(value)}.`));
  }
  if (ttlMs !== undefined) positiveMs(ttlMs, `${option}.ttlMs`, report);
  if (importance !== undefined && !IMPORTANCES.includes(importance)) {
    report(new InvalidOptionError(`${option}.importance`, `expected 'low', 'normal' or 'high', got ${describe(importance)}.`));
  }
  return Object.freeze({ ...limits, ...own });
}

function checkLimits(limits: unknown, option: string, keys: readonly string[], report: Report): HistoryLimits {
  if (!isPlainObject(limits)) {
    report(new InvalidOptionError(option, `expected an object, got ${describe(limits)}.`));
    return Object.freeze({});
  }
  assertKnownKeys(limits, keys, option, report);
  const given = read(limits as HistoryLimits, LIMIT_KEYS, option, report);
  const { maxEvents, maxBytes, maxAgeMs, discard } = given;
  if (maxEvents !== undefined) positiveInteger(maxEvents, `${option}.maxEvents`, 'events', report);
  if (maxBytes !== undefined) positiveInteger(maxBytes, `${option}.maxBytes`, 'bytes', report);
  if (maxAgeMs !== undefined) positiveMs(maxAgeMs, `${option}.maxAgeMs`, report);
  if (discard !== undefined) {
    if (discard !== 'oldest' && discard !== 'refuseNew') {
      report(new InvalidOptionError(`${option}.discard`, `expected 'oldest' or 'refuseNew', got ${describe(discard)}.`));
    } else if (maxEvents === undefined && maxBytes === undefined) {
      report(new InvalidOptionError(`${option}.discard`, 'applies at maxEvents or maxBytes; set one of them (maxAgeMs always removes).'));
    }
  }
  return Object.freeze(given);
}

function positiveInteger(value: unknown, option: string, unit: string, report: Report): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    report(new InvalidOptionError(option, `expected a positive whole number of ${unit}, got ${describe(value)}.`));
  }
}

function positiveMs(value: unknown, option: string, report: Report): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    report(new InvalidOptionError(option, `expected a number of milliseconds > 0, got ${describe(value)}.`));
  }
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `source`'s `keys` read once (`readOnce`): a getter that throws is refused (`report`ed) naming its path under `where`. */
function read<T extends object, K extends keyof T & string>(source: T, keys: readonly K[], where: string, report: Report): Pick<T, K> {
  return readOnce(source, keys, [], where, report) as Pick<T, K>;
}

/**
 * The policies of one runtime, as a history applies them: which policy an
 * event type falls under (cached per type: types are few), and what any of
 * them asks for, so that a history without such policies pays nothing.
 */
export class MemoryPolicies {
  /** The options as checked: what travels to workers and child processors. */
  readonly options: MemoryOptions;
  /** Limits of every history, if any. */
  readonly limits: HistoryLimits | undefined;
  /** The memory budget of every history (defaults unless given); undefined with `budget: false`. */
  readonly budget: MemoryBudgetOptions | undefined;
  /** Every policy, most specific first (`byPrecedence`): the first that covers a type is its policy. */
  readonly policies: readonly AppliedPolicy[];
  /** Some policy removes after delivery. */
  readonly afterDelivery: boolean;
  /** Some policy removes after search. */
  readonly afterSearch: boolean;
  /** Some policy or the history limits let events expire (`ttlMs`, `maxAgeMs`). */
  readonly expiring: boolean;
  /** Some policy or the history limits bound events or bytes. */
  readonly bounded: boolean;
  /** Some policy or the history limits count bytes (`maxBytes`, `sizeLimit`). */
  readonly sized: boolean;
  /** When histories compress their older events; `false`: never. */
  readonly compression: Required<CompressionOptions> | false;
  readonly #byType = new Map<string, AppliedPolicy | null>();
  /** The type looked up last and its policy: posts of one type often follow each other, and a post may ask twice. */
  #lastType: string | undefined;
  #lastPolicy: AppliedPolicy | undefined;

  constructor(options: MemoryOptions = {}) {
    this.options = options;
    this.limits = options.limits;
    this.budget = options.budget === false ? undefined : (options.budget ?? DEFAULT_BUDGET);
    this.policies = Object.entries(options.policies ?? {})
      .map(([pattern, policy]): AppliedPolicy => ({ ...policy, pattern, option: `memory.policies[${JSON.stringify(pattern)}]` }))
      .sort(byPrecedence);
    const all: readonly HistoryLimits[] = [...this.policies, ...(this.limits === undefined ? [] : [this.limits])];
    this.afterDelivery = this.policies.some((policy) => policy.removeAfterDelivery === true);
    this.afterSearch = this.policies.some((policy) => policy.removeAfterSearch === true);
    this.expiring = this.policies.some((policy) => policy.ttlMs !== undefined) || all.some((limits) => limits.maxAgeMs !== undefined);
    this.bounded = all.some((limits) => limits.maxEvents !== undefined || limits.maxBytes !== undefined);
    this.sized = all.some((limits) => limits.maxBytes !== undefined) || this.policies.some((policy) => policy.sizeLimit !== undefined);
    // Off unless asked for: compressing costs CPU on the posting path's idle turns (see docs/PERFORMANCE.md, memory).
    const { compression } = options;
    this.compression = compression === undefined || compression === false ? false : { ...DEFAULT_COMPRESSION, ...(compression === true ? {} : compression) };
    // Read at every post: a field, not a getter.
    this.none = this.policies.length === 0 && this.limits === undefined && this.budget === undefined && this.compression === false;
  }

  /** False for a type whose policy says `compress: false`. */
  compressible(type: string): boolean {
    return this.of(type)?.compress !== false;
  }

  /** True when the options are the defaults: workers and processors need not be sent them. */
  get defaults(): boolean {
    return Object.keys(this.options).length === 0;
  }

  /** True when nothing applies (`budget: false` and nothing else): histories keep everything, and pay nothing for policies. */
  readonly none: boolean;

  /** The policy events of `type` fall under: the most specific one that covers it (`covers`), cached per type. */
  of(type: string): AppliedPolicy | undefined {
    // The default (a budget, no policies) asks at every post: no lookup then.
    if (this.policies.length === 0) return undefined;
    if (type === this.#lastType) return this.#lastPolicy;
    let found = this.#byType.get(type);
    if (found === undefined) {
      found = this.policies.find((policy) => covers(policy.pattern, type)) ?? null;
      if (this.#byType.size < 100_000) this.#byType.set(type, found);
    }
    this.#lastType = type;
    return (this.#lastPolicy = found ?? undefined);
  }

  /** True when events of `type` leave a bus once delivered. */
  removesAfterDelivery(type: string): boolean {
    return this.afterDelivery && this.of(type)?.removeAfterDelivery === true;
  }

  /** True when events of `type` leave a history once a search returned them. */
  removesAfterSearch(type: string): boolean {
    return this.afterSearch && this.of(type)?.removeAfterSearch === true;
  }
}

/**
 * Most specific first, so that the first policy covering a type is the one it
 * falls under: keys without wildcards, longest first (of two that cover one
 * type, the longer is a subtype of the other, so no tie); then patterns with
 * more literal parts (`user.*.failed` before `user.>`, before `>`); then one
 * without a final `>` (`user.*` before `user.>`; `*` alone is `>`); then the first given (the
 * sort is stable, and a pattern is never an integer-like key, which objects
 * would order first: key order survives the trip to workers and processors).
 */
function byPrecedence(a: AppliedPolicy, b: AppliedPolicy): number {
  const [wildA, wildB] = [hasWildcard(a.pattern), hasWildcard(b.pattern)];
  if (wildA !== wildB) return wildA ? 1 : -1;
  if (!wildA) return b.pattern.length - a.pattern.length;
  const literals = literalParts(b.pattern) - literalParts(a.pattern);
  if (literals !== 0) return literals;
  return Number(endsOpen(a.pattern)) - Number(endsOpen(b.pattern));
}

/** True when the last part of `pattern` takes any depth: a final `>`, or `*` alone (every type, as `>` alone). */
function endsOpen(pattern: string): boolean {
  return pattern.endsWith('>') || pattern === '*';
}

function literalParts(pattern: string): number {
  let count = 0;
  for (const part of pattern.split('.')) if (part !== '*' && part !== '>') count++;
  return count;
}

/**
 * True when a policy given for `key` covers events of `type`: as a
 * subscription to `key` would select them, except that the runtime's own
 * types (`busline`, `busline.*`: crash reports, memory reports, replies) are
 * covered only by a key whose first part is `busline`. A `'>'` meant for the
 * application's events must not let crash reports go once delivered, nor
 * refuse them at a `refuseNew` limit or a `sizeLimit`.
 */
function covers(key: string, type: string): boolean {
  if (!typeMatches(key, type)) return false;
  return !isInternalType(type) || key === INTERNAL || key.startsWith(INTERNAL_PREFIX);
}

const INTERNAL = 'busline';
const INTERNAL_PREFIX = 'busline.';

function isInternalType(type: string): boolean {
  return type === INTERNAL || type.startsWith(INTERNAL_PREFIX);
}

/** The policies of a runtime without `memory` options: nothing is removed, as before. */
export const NO_MEMORY_POLICIES = new MemoryPolicies();
