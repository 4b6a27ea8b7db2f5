/**
 * Memory budgets: `createRuntime({ memory: { budget: { busBytes, stationBytes } } })`.
 * Every bus and every station has a budget of bytes (events counted by their
 * encoded size, as `maxBytes` counts them). A `MemoryBudget` per history
 * keeps running totals per event type, so the check at each post (a bus) or
 * accepted batch (a station) costs O(1) while the history is within it.
 *
 * Over the budget, in this order:
 * 1. The size-limit multiplier of the heaviest type with a `sizeLimit` goes
 *    one step down (`MULTIPLIER_STEPS`: 1 → 0.8 → 0.6 → 0.4 → 0.25, the
 *    floor): new events of that type are then limited to
 *    `sizeLimit × multiplier`. Events already held are not touched.
 * 2. Events are evicted until the history is at `EVICT_TO` of its budget:
 *    lowest importance first, then the largest (sizes within `SIZE_STEP`
 *    of the largest count as equal: `eviction-queue.ts`), then the oldest. `high`
 *    events are never evicted to meet a budget; new events that would need
 *    it are refused (`BusFullError`, `bound: 'budget'`). Each evictable
 *    event's size is kept, counted once as it joined, in an `EvictionQueue`
 *    per importance, which finds the largest without sorting the history.
 *    A history that does not compress starts its queues at its first
 *    eviction, from what it holds then (`#startQueues`): most never fill
 *    their budget, and their posts then cost no queue entry.
 *
 * Below `RECOVER_BELOW` of the budget, multipliers go back up one step at a
 * time. Two multiplier changes are at least `budget × CHANGE_EVERY` bytes of
 * traffic (events in and out) apart, so a history at its budget does not
 * swing, and the reports of changes stay few.
 */
import { BusFullError } from '../../errors.js';
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import type { EncodedEvent } from './encoded-events.js';
import { EvictionQueue, type EventKey } from './eviction-queue.js';
import type { FrameMoves } from './frame-moves.js';
import type { EventHistory } from './history.js';
import type { EvictionReport, HistoryKind, MemoryChange, MemoryStats, MultiplierChange, RefusalReport, TypeMemory } from './memory-stats.js';

export type { EvictionReport, HistoryKind, MemoryChange, MemoryStats, MultiplierChange, RefusalReport, TypeMemory };
import { DEFAULT_BUS_BUDGET_BYTES, DEFAULT_STATION_BUDGET_BYTES, type AppliedPolicy, type Importance, type MemoryPolicies } from './memory-policy.js';

/** The multipliers a type's `sizeLimit` steps through under pressure, down to the last (the floor), and back. */
export const MULTIPLIER_STEPS: readonly number[] = Object.freeze([1, 0.8, 0.6, 0.4, 0.25]);
/** Multipliers recover while the history holds less than this share of its budget (hysteresis). */
export const RECOVER_BELOW = 0.8;
/** Eviction frees down to this share of the budget, so that it runs once per tenth of the budget, not at every post. */
export const EVICT_TO = 0.9;
/** Share of the budget that must move (in and out) between two multiplier changes. */
export const CHANGE_EVERY = 1 / 8;


/** Events and bytes of one exact type, and what its policy says of it. */
interface TypeTally {
  count: number;
  bytes: number;
  readonly policy: AppliedPolicy | undefined;
  readonly importance: Importance;
}

/**
 * The budget of one history (owned by its `Retention`).
 *
 * @example
 * const budget = new MemoryBudget(policies, 'bus', history, sizeOf, 'bus:0.0:external')
 * budget.admit(event, size)   // throws BusFullError (bound 'budget') if only `high` events could make room
 * history.insert(event)       // the history's observer calls budget.added()
 * budget.settle()             // over budget: lower a multiplier, evict; returns what left
 */
export class MemoryBudget {
  readonly budget: number;
  readonly option: string;
  readonly #policies: MemoryPolicies;
  readonly #history: EventHistory;
  readonly #sizeOf: (event: BusEvent) => number;
  readonly name: string;
  #bytes = 0;
  /** Bytes of events that may be evicted (not `high`). */
  #evictable = 0;
  readonly #types = new Map<string, TypeTally>();
  /** The last type tallied and its tally: two fields, not an object, since posts of two types in turn switch at every post. */
  #lastType: string | undefined = undefined;
  #lastTally: TypeTally | undefined = undefined;
  /** Multiplier step by policy; a policy absent is at step 0 (1). */
  readonly #steps = new Map<AppliedPolicy, number>();
  /** Bytes in and out since the last multiplier change. */
  #moved = Infinity;
  #evicted = 0;
  /** A refusal was reported since the last change: the next waits for one. */
  #refusalReported = false;
  /** Told of every change (the owner posts it as an internal event). */
  onChange: ((change: MemoryChange) => void) | undefined;

  /** The evictable events by importance, with their sizes. */
  readonly #queues: { readonly low: EvictionQueue; readonly normal: EvictionQueue };
  /**
   * True once the queues follow the history: from the first eviction, which lists what the history holds
   * (its compressed blocks decompressed once then; queuing every post from the start cost a compressing
   * history's posts 15–25 % of their throughput).
   */
  #queuing: boolean;
  /** Events held by importance (the queues may also hold entries of events gone another way). */
  readonly #held = { low: 0, normal: 0 };
  readonly #remove: (keys: readonly EventKey[], sizes: readonly number[]) => BusEvent[];

  /**
   * @param options.remove removes these events (found by stamp and id) from the history, at these sizes; returns what it removed.
   * @param options.keysOnly queue stamps and ids, not events: where the history moves events into blocks, an event
   *   object queued here would be kept alive.
   */
  constructor(
    policies: MemoryPolicies,
    kind: HistoryKind,
    history: EventHistory,
    sizeOf: (event: BusEvent) => number,
    name: string,
    options: { remove?: (keys: readonly EventKey[], sizes: readonly number[]) => BusEvent[]; keysOnly?: boolean } = {},
  ) {
    const given = policies.budget ?? {};
    this.budget = kind === 'bus' ? (given.busBytes ?? DEFAULT_BUS_BUDGET_BYTES) : (given.stationBytes ?? DEFAULT_STATION_BUDGET_BYTES);
    this.option = `memory.budget.${kind === 'bus' ? 'busBytes' : 'stationBytes'}`;
    this.#policies = policies;
    this.#history = history;
    this.#sizeOf = sizeOf;
    this.name = name;
    const keysOnly = options.keysOnly ?? false;
    this.#queues = { low: new EvictionQueue({ keysOnly }), normal: new EvictionQueue({ keysOnly }) };
    this.#queuing = false;
    // Keys stand for the events they name: the history finds events by stamp and id.
    this.#remove = options.remove ?? ((keys) => history.remove(keys as readonly BusEvent[]));
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Events in the eviction queues, stale entries included (for tests: 0 until the first eviction). */
  get queued(): number {
    return this.#queues.low.length + this.#queues.normal.length;
  }

  /** An event of `size` bytes joined the history. O(1): a map lookup and sums. */
  added(event: BusEvent, size: number): void {
    const tally = this.#tally(event.type);
    tally.count++;
    tally.bytes += size;
    this.#bytes += size;
    this.#moved += size;
    const importance = tally.importance;
    if (importance === 'high') return;
    this.#evictable += size;
    this.#held[importance]++;
    if (!this.#queuing) return;
    const queue = this.#queues[importance];
    queue.push(event, size);
    // Entries of events gone another way are dropped once they outnumber the events held.
    if (queue.length > 2 * this.#held[importance] + 1024) queue.prune((key) => this.#history.holds(key));
  }

  /** The history keeps `sent` as their places in frames from now on (`framed`, in the same order), counted at their bytes there: so do the queues. */
  adopted(sent: readonly BusEvent[], framed: readonly EncodedEvent[]): void {
    if (!this.#queuing) return;
    this.#queues.low.adopt(sent, framed);
    this.#queues.normal.adopt(sent, framed);
  }

  /** An event of `type`, held, is counted at `delta` bytes more from now on (kept in a frame since a sync: `Retention.adopt`). */
  resized(type: string, delta: number): void {
    const tally = this.#tally(type);
    tally.bytes += delta;
    this.#bytes += delta;
    if (tally.importance !== 'high') this.#evictable += delta;
  }

  /** An event of `size` bytes left the history. */
  removed(event: BusEvent, size: number): void {
    const tally = this.#tally(event.type);
    tally.count--;
    tally.bytes -= size;
    this.#bytes -= size;
    if (tally.importance !== 'high') {
      this.#evictable -= size;
      this.#held[tally.importance]--;
    }
    this.#moved += size;
    if (tally.count === 0) this.#types.delete(event.type);
  }

  #tally(type: string): TypeTally {
    // Posts of one type often follow each other: the last tally is kept at hand.
    if (type === this.#lastType && this.#lastTally!.count > 0) return this.#lastTally!;
    let tally = this.#types.get(type);
    if (tally === undefined) {
      const policy = this.#policies.of(type);
      this.#types.set(type, (tally = { count: 0, bytes: 0, policy, importance: policy?.importance ?? 'normal' }));
    }
    this.#lastType = type;
    this.#lastTally = tally;
    return tally;
  }

  /** The multiplier in force for `policy`'s `sizeLimit` (1 unless the budget lowered it). */
  multiplier(policy: AppliedPolicy): number {
    return MULTIPLIER_STEPS[this.#steps.get(policy) ?? 0]!;
  }

  /** The size limit in force for `policy`: `sizeLimit × multiplier`, whole bytes. */
  limitOf(policy: AppliedPolicy & { readonly sizeLimit: number }): number {
    return Math.floor(policy.sizeLimit * this.multiplier(policy));
  }

  /**
   * Room for new events of these sizes and importances, held bytes given:
   * false when the history would be over its budget even with every
   * evictable event gone.
   */
  fits(held: number, evictable: number, size: number): boolean {
    return held + size <= this.budget || held + size - this.budget <= evictable;
  }

  /** Throws `BusFullError` (`bound: 'budget'`) unless one new event of `size` bytes can be made room for. */
  admit(event: BusEvent, size: number): void {
    if (this.fits(this.#bytes, this.#evictable, size)) return;
    this.refused('budget', event.type, size, this.budget);
    throw new BusFullError(this.#bytes, this.budget, 'budget', this.option);
  }

  /**
   * The events of `fresh` (sorted, not held) that fit, in order, each
   * counted before the next; `refusedAt` is the first that did not.
   */
  fit(fresh: readonly BusEvent[], importance: (event: BusEvent) => Importance): { admitted: BusEvent[]; refused?: BusEvent; size?: number } {
    let held = this.#bytes;
    let evictable = this.#evictable;
    const admitted: BusEvent[] = [];
    for (const event of fresh) {
      const size = this.#sizeOf(event);
      if (!this.fits(held, evictable, size)) {
        this.refused('budget', event.type, size, this.budget);
        return { admitted, refused: event, size };
      }
      held += size;
      if (importance(event) !== 'high') evictable += size;
      admitted.push(event);
    }
    return { admitted };
  }

  /** Reports a refusal, once per episode (until the next change). */
  refused(reason: 'budget' | 'sizeLimit', type: string, size: number, limit: number): void {
    if (this.#refusalReported) return;
    this.#refusalReported = true;
    this.onChange?.({ type: 'busline.memory.refused', payload: { history: this.name, reason, type, size, limit, bytes: this.#bytes } });
  }

  /** The budget error of a batch `fit` refused (a station's accept). */
  error(): BusFullError {
    return new BusFullError(this.#bytes, this.budget, 'budget', this.option);
  }

  /** True when `settle` has something to do: the history is over its budget, or a lowered multiplier may recover. */
  get due(): boolean {
    return this.#bytes > this.budget || this.#steps.size > 0;
  }

  /**
   * After events joined or left: over budget, lowers the heaviest sized
   * type's multiplier (one step, spaced) and evicts; well under it,
   * recovers one multiplier step (spaced). O(1) in between. Returns what
   * was evicted.
   */
  settle(): BusEvent[] {
    if (this.#bytes > this.budget) {
      if (this.#moved >= this.budget * CHANGE_EVERY) this.#lower();
      return this.#evict();
    }
    if (this.#steps.size > 0 && this.#bytes < this.budget * RECOVER_BELOW && this.#moved >= this.budget * CHANGE_EVERY) this.#recover();
    return [];
  }

  /** Lowers the multiplier of the policy with a `sizeLimit` whose events take the most bytes here, if any is above the floor. */
  #lower(): void {
    const byPolicy = new Map<AppliedPolicy, number>();
    for (const tally of this.#types.values()) {
      const policy = tally.policy;
      if (policy?.sizeLimit === undefined || (this.#steps.get(policy) ?? 0) >= MULTIPLIER_STEPS.length - 1) continue;
      byPolicy.set(policy, (byPolicy.get(policy) ?? 0) + tally.bytes);
    }
    let heaviest: AppliedPolicy | undefined;
    let most = 0;
    for (const [policy, bytes] of byPolicy) {
      if (bytes > most) [heaviest, most] = [policy, bytes];
    }
    if (heaviest !== undefined) this.#step(heaviest, (this.#steps.get(heaviest) ?? 0) + 1);
  }

  /** Raises the lowest multiplier one step. */
  #recover(): void {
    let lowest: AppliedPolicy | undefined;
    let deepest = 0;
    for (const [policy, step] of this.#steps) {
      if (step > deepest) [lowest, deepest] = [policy, step];
    }
    if (lowest !== undefined) this.#step(lowest, deepest - 1);
  }

  #step(policy: AppliedPolicy, step: number): void {
    const previous = this.multiplier(policy);
    if (step === 0) this.#steps.delete(policy);
    else this.#steps.set(policy, step);
    this.#moved = 0;
    this.#refusalReported = false;
    const multiplier = this.multiplier(policy);
    this.onChange?.({
      type: 'busline.memory.multiplier',
      payload: {
        history: this.name,
        type: policy.pattern,
        multiplier,
        previous,
        limit: Math.floor(policy.sizeLimit! * multiplier),
        bytes: this.#bytes,
        budget: this.budget,
      },
    });
  }

  /**
   * Evicts down to `EVICT_TO` of the budget: `low` events first, then
   * `normal`, never `high`; within one importance the largest first, and
   * of equal size the oldest (`EvictionQueue.take`). A round frees a tenth
   * of the budget, so its cost is spread over the posts that filled it.
   */
  #evict(): BusEvent[] {
    if (!this.#queuing) this.#startQueues();
    const target = Math.floor(this.budget * EVICT_TO);
    const before = this.#bytes;
    let removed: BusEvent[] = [];
    for (const importance of ['low', 'normal'] as const) {
      const queue = this.#queues[importance];
      // Again while entries of events gone another way freed nothing.
      while (this.#bytes > target && queue.length > 0 && this.#held[importance] > 0) {
        const { keys, sizes } = queue.take(this.#bytes - target);
        const gone = this.#remove(keys, sizes);
        if (gone.length > 0) removed = removed.length === 0 ? gone : removed.concat(gone);
      }
    }
    if (removed.length === 0) return removed;
    this.#evicted += removed.length;
    this.#refusalReported = false;
    this.onChange?.({
      type: 'busline.memory.evicted',
      payload: {
        history: this.name,
        count: removed.length,
        freed: before - this.#bytes,
        types: [...new Set(removed.map((event) => event.type))],
        bytes: this.#bytes,
        budget: this.budget,
      },
    });
    return removed;
  }

  /**
   * The queues made of the events the history holds, oldest first, so in
   * order. A held event's size is the one it is counted at: `sizeOf` gives
   * it again (the history's owner keeps it so, as its removals measure
   * events again too: `retention.ts` `#sizeOf`), so nothing per event was
   * kept before. A history that compresses is listed in full too: its blocks
   * are decompressed, once (queued as keys, `keysOnly`, so that nothing keeps
   * the decoded events alive).
   */
  #startQueues(): void {
    this.#queuing = true;
    const history = this.#history;
    // Every type held has a tally: when none ranks its events, they are all `normal`, and no type is read.
    let ranked = false;
    for (const tally of this.#types.values()) ranked ||= tally.importance !== 'normal';
    if (history.compressedCount > 0) {
      for (const event of history.held()) this.#enqueue(event, ranked);
      return;
    }
    for (const segment of history.segments) for (let i = 0, length = segment.length; i < length; i++) this.#enqueue(segment.at(i), ranked);
  }

  /** Queues a held event by its importance (never `high`), at the size it is counted at. */
  #enqueue(event: BusEvent, ranked: boolean): void {
    const importance = ranked ? (this.#types.get(event.type)?.importance ?? 'normal') : 'normal';
    if (importance !== 'high') this.#queues[importance].push(event, this.#sizeOf(event));
  }

  /** The eviction queues follow events that moved out of sparse frames (`frame-moves.ts`); before the first eviction they hold nothing. */
  relocate(moves: FrameMoves): void {
    this.#queues.low.relocate(moves);
    this.#queues.normal.relocate(moves);
  }

  /** What the history holds against its budget. */
  stats(count: number): MemoryStats {
    const multipliers: Record<string, number> = {};
    for (const policy of this.#steps.keys()) multipliers[policy.pattern] = this.multiplier(policy);
    const types: Record<string, TypeMemory> = {};
    for (const [type, { count: events, bytes }] of this.#types) types[type] = { count: events, bytes };
    return { history: this.name, count, bytes: this.#bytes, budget: this.budget, multipliers, types, evicted: this.#evicted, frameBytes: this.#frameBytes() };
  }

  /** Bytes of the memory the frames of the history's events are in (each buffer once: a frame may be a view of a larger one). */
  #frameBytes(): number {
    const frames = new Map<EncodedBatch, number>();
    for (const segment of this.#history.segments) segment.countFrames(frames);
    const buffers = new Set<ArrayBufferLike>();
    for (const batch of frames.keys()) buffers.add(batch.body.buffer);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    return bytes;
  }
}
