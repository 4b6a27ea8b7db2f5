/**
 * Memory policies: `createRuntime({ memory: { policies, limits } })`. A
 * policy is per event type, with subtype rules (a policy for `user` covers
 * `user.login`; the most specific policy applies, whole); limits bound every
 * history (each bus and station) the way JetStream bounds a stream: at most
 * so many events, bytes or milliseconds of age, and at a limit either the
 * oldest events go or new ones are refused.
 *
 * This module is plain data and its checks: it travels to worker threads and
 * child processors in their start data, and is checked again there.
 */
import { InvalidOptionError } from '../../errors.js';
import { assertKnownKeys, describe, eventTypeProblem } from '../validate.js';
import { typeMatches } from '../type-patterns.js';

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
  /** On a bus, the event leaves the history once every subscriber of that bus has been called (a throwing or rejecting one counts). */
  readonly removeAfterDelivery?: boolean;
  /** The event leaves a history once a `history()` or `get()` of that history has returned it. */
  readonly removeAfterSearch?: boolean;
  /** The event leaves every history this many milliseconds after its timestamp (by the runtime's clock). Only types that set it expire. */
  readonly ttlMs?: number;
  /** Order of eviction at a history's limits: `low` first, `high` last. Default `normal`. */
  readonly importance?: Importance;
  /**
   * Compress the event when it stays (default true): blocks of older events
   * are snappy-compressed (`memory.compression`); `false` keeps the blocks
   * that hold events of this type as bytes, uncompressed (cheaper to read).
   */
  readonly compress?: boolean;
}

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

/** `createRuntime({ memory })`: policies by event type, and limits of every history. */
export interface MemoryOptions {
  /** Policies by event type (subtype rules: the most specific type with a policy applies, whole). */
  readonly policies?: { readonly [type: string]: EventPolicy };
  /** Limits of each history: every bus and every station holds at most this much. */
  readonly limits?: HistoryLimits;
  /** When histories compress their older events (default: `DEFAULT_COMPRESSION`); `false`: never. */
  readonly compression?: CompressionOptions | false;
}

/** A policy as it applies to an event, with the type it was given for. */
export interface AppliedPolicy extends EventPolicy {
  /** The type the policy was given for (its events are counted together for its limits). */
  readonly pattern: string;
  /** Where the policy was given, for errors: `memory.policies["user"]`. */
  readonly option: string;
}

const POLICY_KEYS = ['sizeLimit', 'removeAfterDelivery', 'removeAfterSearch', 'ttlMs', 'importance', 'compress', 'maxEvents', 'maxBytes', 'maxAgeMs', 'discard'] as const;
const LIMIT_KEYS = ['maxEvents', 'maxBytes', 'maxAgeMs', 'discard'] as const;
const MEMORY_KEYS = ['policies', 'limits', 'compression'] as const;
const COMPRESSION_KEYS = ['keepEvents', 'keepMs', 'blockEvents', 'maxBlockBytes'] as const;
const IMPORTANCES: readonly Importance[] = ['low', 'normal', 'high'];

/**
 * Checks `memory` options (`where` names them in errors) and returns a frozen
 * copy. Throws `InvalidOptionError` naming the field and what it allows.
 */
export function checkMemoryOptions(memory: unknown, where = 'memory'): MemoryOptions {
  if (memory === undefined) return Object.freeze({});
  assertKnownKeys(memory, MEMORY_KEYS, where);
  const { policies, limits, compression } = memory as MemoryOptions;
  const checked: Record<string, EventPolicy> = {};
  if (policies !== undefined) {
    if (!isPlainObject(policies)) {
      throw new InvalidOptionError(`${where}.policies`, `expected an object of policies by event type, e.g. { 'user.login': { removeAfterDelivery: true } }, got ${describe(policies)}.`);
    }
    for (const [type, policy] of Object.entries(policies)) {
      const option = `${where}.policies[${JSON.stringify(type)}]`;
      const problem = eventTypeProblem(type, 'The policy type');
      if (problem !== undefined) throw new InvalidOptionError(option, problem);
      checked[type] = checkPolicy(policy, option);
    }
  }
  return Object.freeze({
    ...(policies === undefined ? {} : { policies: Object.freeze(checked) }),
    ...(limits === undefined ? {} : { limits: checkLimits(limits, `${where}.limits`, LIMIT_KEYS) }),
    ...(compression === undefined ? {} : { compression: checkCompression(compression, `${where}.compression`) }),
  });
}

function checkCompression(compression: unknown, option: string): CompressionOptions | false {
  if (compression === false) return false;
  if (!isPlainObject(compression)) throw new InvalidOptionError(option, `expected false or an object of ${COMPRESSION_KEYS.join(', ')}, got ${describe(compression)}.`);
  assertKnownKeys(compression, COMPRESSION_KEYS, option);
  const { keepEvents, keepMs, blockEvents, maxBlockBytes } = compression as CompressionOptions;
  if (keepEvents !== undefined && !(Number.isSafeInteger(keepEvents) && keepEvents >= 0)) {
    throw new InvalidOptionError(`${option}.keepEvents`, `expected a whole number of events from 0, got ${describe(keepEvents)}.`);
  }
  if (keepMs !== undefined && !(typeof keepMs === 'number' && Number.isFinite(keepMs) && keepMs >= 0)) {
    throw new InvalidOptionError(`${option}.keepMs`, `expected a number of milliseconds from 0, got ${describe(keepMs)}.`);
  }
  if (blockEvents !== undefined) positiveInteger(blockEvents, `${option}.blockEvents`, 'events');
  if (maxBlockBytes !== undefined) positiveInteger(maxBlockBytes, `${option}.maxBlockBytes`, 'bytes');
  return Object.freeze(pick(compression as CompressionOptions, COMPRESSION_KEYS));
}

function checkPolicy(policy: unknown, option: string): EventPolicy {
  const limits = checkLimits(policy, option, POLICY_KEYS);
  const { sizeLimit, removeAfterDelivery, removeAfterSearch, ttlMs, importance, compress } = policy as EventPolicy;
  if (sizeLimit !== undefined) positiveInteger(sizeLimit, `${option}.sizeLimit`, 'bytes');
  for (const [key, value] of [['removeAfterDelivery', removeAfterDelivery], ['removeAfterSearch', removeAfterSearch], ['compress', compress]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(`${option}.${key}`, `expected true or false, got ${describe(value)}.`);
  }
  if (ttlMs !== undefined) positiveMs(ttlMs, `${option}.ttlMs`);
  if (importance !== undefined && !IMPORTANCES.includes(importance)) {
    throw new InvalidOptionError(`${option}.importance`, `expected 'low', 'normal' or 'high', got ${describe(importance)}.`);
  }
  return Object.freeze({ ...limits, ...pick(policy as EventPolicy, ['sizeLimit', 'removeAfterDelivery', 'removeAfterSearch', 'ttlMs', 'importance', 'compress']) });
}

function checkLimits(limits: unknown, option: string, keys: readonly string[]): HistoryLimits {
  if (!isPlainObject(limits)) throw new InvalidOptionError(option, `expected an object, got ${describe(limits)}.`);
  assertKnownKeys(limits, keys, option);
  const { maxEvents, maxBytes, maxAgeMs, discard } = limits as HistoryLimits;
  if (maxEvents !== undefined) positiveInteger(maxEvents, `${option}.maxEvents`, 'events');
  if (maxBytes !== undefined) positiveInteger(maxBytes, `${option}.maxBytes`, 'bytes');
  if (maxAgeMs !== undefined) positiveMs(maxAgeMs, `${option}.maxAgeMs`);
  if (discard !== undefined) {
    if (discard !== 'oldest' && discard !== 'refuseNew') {
      throw new InvalidOptionError(`${option}.discard`, `expected 'oldest' or 'refuseNew', got ${describe(discard)}.`);
    }
    if (maxEvents === undefined && maxBytes === undefined) {
      throw new InvalidOptionError(`${option}.discard`, 'applies at maxEvents or maxBytes; set one of them (maxAgeMs always removes).');
    }
  }
  return Object.freeze(pick(limits as HistoryLimits, ['maxEvents', 'maxBytes', 'maxAgeMs', 'discard']));
}

function positiveInteger(value: unknown, option: string, unit: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `expected a positive whole number of ${unit}, got ${describe(value)}.`);
  }
}

function positiveMs(value: unknown, option: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(option, `expected a number of milliseconds > 0, got ${describe(value)}.`);
  }
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const result = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) result[key] = source[key];
  return result;
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
  /** Every policy, most specific type first (longest; a subtype is longer than its type). */
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

  constructor(options: MemoryOptions = {}) {
    this.options = options;
    this.limits = options.limits;
    this.policies = Object.entries(options.policies ?? {})
      .map(([pattern, policy]): AppliedPolicy => ({ ...policy, pattern, option: `memory.policies[${JSON.stringify(pattern)}]` }))
      .sort((a, b) => b.pattern.length - a.pattern.length);
    const all: readonly HistoryLimits[] = [...this.policies, ...(this.limits === undefined ? [] : [this.limits])];
    this.afterDelivery = this.policies.some((policy) => policy.removeAfterDelivery === true);
    this.afterSearch = this.policies.some((policy) => policy.removeAfterSearch === true);
    this.expiring = this.policies.some((policy) => policy.ttlMs !== undefined) || all.some((limits) => limits.maxAgeMs !== undefined);
    this.bounded = all.some((limits) => limits.maxEvents !== undefined || limits.maxBytes !== undefined);
    this.sized = all.some((limits) => limits.maxBytes !== undefined) || this.policies.some((policy) => policy.sizeLimit !== undefined);
    this.compression = options.compression === false ? false : { ...DEFAULT_COMPRESSION, ...options.compression };
  }

  /** False for a type whose policy says `compress: false`. */
  compressible(type: string): boolean {
    return this.of(type)?.compress !== false;
  }

  /** True when nothing is configured: histories keep everything, as before policies existed (compressing by default). */
  get none(): boolean {
    return this.policies.length === 0 && this.limits === undefined && this.options.compression === undefined;
  }

  /** The policy events of `type` fall under: the most specific one whose type is `type` or a supertype. */
  of(type: string): AppliedPolicy | undefined {
    let found = this.#byType.get(type);
    if (found === undefined) {
      found = this.policies.find((policy) => typeMatches(policy.pattern, type)) ?? null;
      if (this.#byType.size < 100_000) this.#byType.set(type, found);
    }
    return found ?? undefined;
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

/** The policies of a runtime without `memory` options: nothing is removed, as before. */
export const NO_MEMORY_POLICIES = new MemoryPolicies();
