/**
 * What a history keeps under the memory policies (`memory-policy.ts`): one
 * per bus and per station, owning that history. It counts events and bytes
 * as they join and leave (per history, and per policy that sets limits),
 * admits or refuses new events at `discard: 'refuseNew'` limits, removes the
 * oldest at `discard: 'oldest'` ones, expires `ttlMs` and `maxAgeMs`, and
 * removes what a search returned when the policy says so. Removal after
 * delivery is the bus's (it knows when subscribers were called).
 *
 * Time is the runtime's injected clock; expiry runs when the history is next
 * used after the earliest expiry it knows of, not on a timer.
 */
import { Buffer } from 'node:buffer';
import { BusFullError, EventTooLargeError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import { EventHistory, type HistoryCompression, type HistoryObserver } from './history.js';
import type { AppliedPolicy, HistoryLimits, Importance, MemoryPolicies } from './memory-policy.js';

/** Bytes of an encoded event besides its strings and payload (its table, stamps, origin, vector slot). */
const EVENT_OVERHEAD_BYTES = 64;

/**
 * The size of an event as its history counts it against `maxBytes` and
 * `sizeLimit`: for an event still in a frame, the bytes it takes there; for
 * an object, its encoded size estimated from its strings and payload (JSON
 * text, or the bytes of a `Uint8Array`).
 */
export function eventBytes(event: BusEvent): number {
  if (event instanceof EncodedEvent) {
    const counted = event.countedBytes;
    if (counted !== undefined) return counted;
    const { batch, index } = event;
    const next = index + 1 < batch.count ? batch.positions[index + 1]! : -1;
    const span = next - batch.positions[index]!;
    return span > 0 ? span : Math.ceil(batch.body.byteLength / batch.count);
  }
  let bytes = EVENT_OVERHEAD_BYTES + Buffer.byteLength(event.id) + Buffer.byteLength(event.type);
  if (event.topic !== undefined) bytes += Buffer.byteLength(event.topic);
  if (event.meta !== undefined) for (const key in event.meta) bytes += 8 + Buffer.byteLength(key) + Buffer.byteLength(event.meta[key]!);
  const { payload } = event;
  return bytes + (payload instanceof Uint8Array ? payload.byteLength : Buffer.byteLength(JSON.stringify(payload) ?? 'null'));
}

/** Events and bytes held under one set of limits. */
interface Tally {
  count: number;
  bytes: number;
}

/** A limit that refused events: what was held, the bound, and the option that set it. */
interface Refusal {
  readonly held: number;
  readonly max: number;
  readonly limit: string;
}

const IMPORTANCE_ORDER: readonly Importance[] = ['low', 'normal', 'high'];

/**
 * One history and what its policies let it keep.
 *
 * @example
 * const retention = new Retention(new MemoryPolicies({ limits: { maxEvents: 2 } }), () => clock.now())
 * retention.history.merge(events)
 * retention.settle()   // the oldest beyond 2 leave; returns them
 */
export class Retention implements HistoryObserver {
  readonly history: EventHistory;
  readonly policies: MemoryPolicies;
  readonly #now: () => number;
  /** Bytes are counted only when some `maxBytes` needs them. */
  readonly #countBytes: boolean;
  readonly #limits: HistoryLimits | undefined;
  #bytes = 0;
  readonly #tallies = new Map<AppliedPolicy, Tally>();
  /** The earliest time an event held expires (Infinity: none does). */
  #nextExpiry = Infinity;
  /** True when some limit refuses new events: callers then find what is new before merging. */
  readonly refusing: boolean;
  /** Events removed by a policy or limit so far. */
  removedCount = 0;

  /**
   * `blocks`: how this history's compressed blocks give events back (`plain`
   * objects for a bus); without it, or with `memory.compression: false`, the
   * history compresses nothing.
   */
  constructor(
    policies: MemoryPolicies,
    now: () => number,
    options: { segmentSize?: number; blocks?: Pick<HistoryCompression, 'plain' | 'schedule' | 'allow'> } = {},
  ) {
    this.policies = policies;
    this.#now = now;
    this.#limits = policies.limits;
    this.refusing = [...policies.policies, ...(policies.limits === undefined ? [] : [policies.limits])].some((limits) => limits.discard === 'refuseNew');
    this.#countBytes = policies.limits?.maxBytes !== undefined || policies.policies.some((policy) => policy.maxBytes !== undefined);
    // Without policies the history has no observer: it costs what it did before policies existed.
    const { blocks, ...history } = options;
    const compression: HistoryCompression | undefined =
      blocks === undefined || policies.compression === false
        ? undefined
        : { ...policies.compression, ...blocks, now, compressible: (type) => policies.compressible(type) };
    this.history = new EventHistory({
      ...history,
      ...(policies.none ? {} : { observer: this }),
      ...(compression === undefined ? {} : { compression }),
      ...(this.#countBytes ? { sizeOf: eventBytes } : {}),
    });
  }

  /** Bytes held, as `eventBytes` counts them (0 unless some `maxBytes` is set). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The history's observer: an event joined. */
  added(event: BusEvent): void {
    const policy = this.policies.of(event.type);
    const size = this.#countBytes ? eventBytes(event) : 0;
    this.#bytes += size;
    if (policy !== undefined && (policy.maxEvents !== undefined || policy.maxBytes !== undefined)) {
      const tally = this.#tally(policy);
      tally.count++;
      tally.bytes += size;
    }
    if (this.policies.expiring) {
      const at = event.timestamp + this.#lifetime(policy);
      if (at < this.#nextExpiry) this.#nextExpiry = at;
    }
  }

  /** The history's observer: an event left. */
  removed(event: BusEvent, bytes?: number): void {
    const size = this.#countBytes ? (bytes ?? eventBytes(event)) : 0;
    this.#bytes -= size;
    const policy = this.policies.of(event.type);
    const tally = policy === undefined ? undefined : this.#tallies.get(policy);
    if (tally !== undefined) {
      tally.count--;
      tally.bytes -= size;
    }
  }

  #tally(policy: AppliedPolicy): Tally {
    let tally = this.#tallies.get(policy);
    if (tally === undefined) this.#tallies.set(policy, (tally = { count: 0, bytes: 0 }));
    return tally;
  }

  /** How long an event under `policy` may stay: its `ttlMs`, its `maxAgeMs`, the history's `maxAgeMs`, the least of them. */
  #lifetime(policy: AppliedPolicy | undefined): number {
    return Math.min(policy?.ttlMs ?? Infinity, policy?.maxAgeMs ?? Infinity, this.#limits?.maxAgeMs ?? Infinity);
  }

  /**
   * Refuses a post larger than its type's `sizeLimit` (`EventTooLargeError`)
   * or beyond a `refuseNew` limit (`BusFullError`, `bound: 'limit'`).
   */
  admitPost(event: BusEvent): void {
    if (this.policies.none) return;
    const policy = this.policies.of(event.type);
    if (policy?.sizeLimit !== undefined) {
      const size = eventBytes(event);
      if (size > policy.sizeLimit) {
        throw new EventTooLargeError(
          `post() of "${event.type}" was refused: the event takes ${size} bytes, over the size limit of ${policy.sizeLimit} ` +
            `(${policy.option}.sizeLimit). Post less, or raise the limit.`,
        );
      }
    }
    this.assertRoom([event]);
  }

  /** Throws `BusFullError` (`bound: 'limit'`) unless every event of `fresh` (events not held) fits the `refuseNew` limits. */
  assertRoom(fresh: readonly BusEvent[]): void {
    const refusal = this.#admit(fresh).refusal;
    if (refusal !== undefined) throw new BusFullError(refusal.held, refusal.max, 'limit', refusal.limit);
  }

  /** The events of `fresh` (sorted, not held) that the `refuseNew` limits let in: the older ones, up to the limits. */
  fit(fresh: readonly BusEvent[]): readonly BusEvent[] {
    return this.#admit(fresh).admitted;
  }


  #admit(fresh: readonly BusEvent[]): { admitted: readonly BusEvent[]; refusal?: Refusal } {
    if (!this.refusing || fresh.length === 0) return { admitted: fresh };
    const total: Tally = { count: this.history.size, bytes: this.#bytes };
    const groups = new Map<AppliedPolicy, Tally>();
    const admitted: BusEvent[] = [];
    let refusal: Refusal | undefined;
    for (const event of fresh) {
      const policy = this.policies.of(event.type);
      const size = this.#countBytes ? eventBytes(event) : 0;
      let group: Tally | undefined;
      if (policy?.discard === 'refuseNew') {
        group = groups.get(policy);
        if (group === undefined) groups.set(policy, (group = { ...(this.#tallies.get(policy) ?? { count: 0, bytes: 0 }) }));
      }
      const over =
        (policy?.discard === 'refuseNew' ? exceeds(group!, size, policy, policy.option) : undefined) ??
        (this.#limits?.discard === 'refuseNew' ? exceeds(total, size, this.#limits, 'memory.limits') : undefined);
      if (over !== undefined) {
        refusal ??= over;
        continue;
      }
      total.count++;
      total.bytes += size;
      if (group !== undefined) {
        group.count++;
        group.bytes += size;
      }
      admitted.push(event);
    }
    return refusal === undefined ? { admitted } : { admitted, refusal };
  }

  /** Expires what is due, then removes the oldest beyond `discard: 'oldest'` limits. Returns what left. */
  settle(): BusEvent[] {
    if (this.policies.none) return [];
    const expired = this.expire();
    const trimmed = this.policies.bounded ? this.#trim() : [];
    return expired.length === 0 ? trimmed : trimmed.length === 0 ? expired : expired.concat(trimmed);
  }

  /** Removes the events whose `ttlMs` or `maxAgeMs` has passed, if any is due. Returns them. */
  expire(): BusEvent[] {
    if (!this.policies.expiring) return [];
    const now = this.#now();
    if (now < this.#nextExpiry) return [];
    const history = this.history;
    const due: BusEvent[] = [];
    const maxAge = this.#limits?.maxAgeMs;
    if (maxAge !== undefined) due.push(...history.through(now - maxAge));
    for (const policy of this.policies.policies) {
      const lifetime = this.#lifetime(policy);
      if (lifetime === Infinity || lifetime === maxAge) continue;
      due.push(...history.oldestOf(policy.pattern, Infinity, this.#under(policy), now - lifetime));
    }
    const removed = this.#remove(due);
    // What is left expires later: the earliest of the oldest event overall and of each policy's oldest.
    let next = Infinity;
    if (maxAge !== undefined) next = (history.oldest(1)[0]?.timestamp ?? Infinity) + maxAge;
    for (const policy of this.policies.policies) {
      const lifetime = this.#lifetime(policy);
      if (lifetime === Infinity) continue;
      const first = history.oldestOf(policy.pattern, 1, this.#under(policy))[0];
      if (first !== undefined) next = Math.min(next, first.timestamp + lifetime);
    }
    this.#nextExpiry = next;
    return removed;
  }

  /** Removes the events of `results` whose policy says a search removes them. Returns them. */
  afterSearch(results: readonly BusEvent[]): BusEvent[] {
    if (!this.policies.afterSearch || results.length === 0) return [];
    const searched = results.filter((event) => this.policies.removesAfterSearch(event.type));
    return searched.length === 0 ? [] : this.#remove(searched);
  }

  /** Removes these events (a policy says so). */
  remove(events: readonly BusEvent[]): BusEvent[] {
    return events.length === 0 ? [] : this.#remove(events);
  }

  #remove(events: readonly BusEvent[]): BusEvent[] {
    if (events.length === 0) return [];
    const removed = this.history.remove(events);
    this.removedCount += removed.length;
    return removed;
  }

  /** The oldest events beyond `discard: 'oldest'` limits: each policy's first, then the history's, lowest importance first. */
  #trim(): BusEvent[] {
    const removed: BusEvent[] = [];
    for (const [policy, tally] of this.#tallies) {
      if (policy.discard === 'refuseNew') continue;
      for (let need = excess(tally, policy); need > 0; need = excess(tally, policy)) {
        const oldest = this.history.oldestOf(policy.pattern, need, this.#under(policy));
        if (oldest.length === 0) break;
        removed.push(...this.#remove(oldest));
      }
    }
    const limits = this.#limits;
    if (limits === undefined || limits.discard === 'refuseNew') return removed;
    const total: Tally = { count: this.history.size, bytes: this.#bytes };
    const ranked = this.policies.policies.some((policy) => policy.importance !== undefined);
    for (const importance of ranked ? IMPORTANCE_ORDER : [undefined]) {
      const matches = importance === undefined ? undefined : (event: BusEvent) => (this.policies.of(event.type)?.importance ?? 'normal') === importance;
      for (let need = excess(total, limits); need > 0; need = excess(total, limits)) {
        const oldest = this.history.oldest(need, matches);
        if (oldest.length === 0) break;
        removed.push(...this.#remove(oldest));
        total.count = this.history.size;
        total.bytes = this.#bytes;
      }
    }
    return removed;
  }

  /** True for events whose policy is `policy` (not a more specific one under its type). */
  #under(policy: AppliedPolicy): (event: BusEvent) => boolean {
    return (event) => this.policies.of(event.type) === policy;
  }
}

/** How many events must leave for `tally` to be within `limits` (at least one while bytes are over). */
function excess(tally: Tally, limits: HistoryLimits): number {
  const byCount = limits.maxEvents === undefined ? 0 : tally.count - limits.maxEvents;
  const byBytes = limits.maxBytes !== undefined && tally.bytes > limits.maxBytes ? 1 : 0;
  return Math.max(byCount, byBytes);
}

/** The limit `tally` would pass with one more event of `size` bytes, if any. */
function exceeds(tally: Tally, size: number, limits: HistoryLimits, option: string): Refusal | undefined {
  if (limits.maxEvents !== undefined && tally.count + 1 > limits.maxEvents) {
    return { held: tally.count, max: limits.maxEvents, limit: `${option}.maxEvents` };
  }
  if (limits.maxBytes !== undefined && tally.bytes + size > limits.maxBytes) {
    return { held: tally.bytes, max: limits.maxBytes, limit: `${option}.maxBytes` };
  }
  return undefined;
}

/**
 * A bus's read, without the events whose policy removes them after delivery:
 * those never join a bus's history. `known` (the read's first events, which
 * the thread has delivered already) is counted again without them;
 * `transient` are the later ones, to deliver and let go.
 */
export function withoutTransient(
  history: readonly BusEvent[],
  known: number,
  policies: MemoryPolicies,
): { history: readonly BusEvent[]; known: number; transient: BusEvent[] } {
  const kept: BusEvent[] = [];
  const transient: BusEvent[] = [];
  let keptKnown = 0;
  history.forEach((event, i) => {
    if (!policies.removesAfterDelivery(event.type)) {
      kept.push(event);
      if (i < known) keptKnown++;
    } else if (i >= known) {
      transient.push(event);
    }
  });
  return transient.length === 0 && kept.length === history.length ? { history, known, transient } : { history: kept, known: keptKnown, transient };
}
