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
 *    A history that does not compress starts its queues once it holds
 *    `LIST_FROM` of its budget, listing what it holds a bounded chunk at a
 *    time as more joins (`#list`), so that the listing is done by the
 *    first eviction and no step lists the whole history: most histories
 *    never come near their budget, and their posts then cost no queue entry.
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
import { compareEvents } from './history-query.js';
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
/** Share of the budget from which a history that does not compress lists what it holds into its queues. */
export const LIST_FROM = 0.5;
/**
 * Bytes listed per byte that joins meanwhile: listing from half the budget at twice the rate, what was held and
 * what joined since are listed by the time the history reaches its budget.
 */
const LIST_RATE = 2;
/** A listing step lists at least this many bytes (or a sixteenth of the budget, if less): few bisections, short steps. */
const LIST_CHUNK_BYTES = 64 * 1024;
/** Entries of events gone another way an eviction queue keeps, beyond a quarter of the events of its importance held. */
export const STALE_ENTRIES = 1024;


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
  /**
   * The last two types tallied and their tallies, the last first: posts of one type, or of two in turn
   * (a request and its reply), find theirs without a map lookup.
   */
  #lastType: string | undefined = undefined;
  #lastTally: TypeTally | undefined = undefined;
  #otherType: string | undefined = undefined;
  #otherTally: TypeTally | undefined = undefined;
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
   * True once the queues follow the history: once the listing is done, also with `keysOnly` (a compressing
   * history's blocks are listed once then; queuing every post from the start cost its posts 15–25 %).
   */
  #queuing: boolean;
  /**
   * While the history is listed into the queues (`#list`): the last event listed (a key: no place in a
   * frame is kept), null before the first; and the bytes the next steps may list. Undefined before and after.
   */
  #listing: { cursor: EventKey | null; credit: number } | undefined;
  /** Bytes a listing step lists at least. */
  readonly #listChunk: number;
  /** Events held by importance (the queues may also hold entries of events gone another way). */
  readonly #held = { low: 0, normal: 0 };
  readonly #remove: (keys: readonly EventKey[], sizes: readonly number[]) => BusEvent[];
  /** While an eviction runs: the types of the events it removed (`removed`), and the last one added. */
  #evictedTypes: Set<string> | undefined;
  #lastEvictedType: string | undefined;

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
    this.#listChunk = Math.min(LIST_CHUNK_BYTES, Math.ceil(this.budget / 16));
    // Keys stand for the events they name: the history finds events by stamp and id.
    this.#remove = options.remove ?? ((keys, sizes) => history.remove(keys as readonly BusEvent[], sizes));
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Events in the eviction queues, stale entries included (for tests: 0 below `LIST_FROM` of the budget). */
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
    // While listing, every event joining counts toward the next steps (the listing walks `high` ones too).
    const queueNow = this.#queuing || this.#listed(event, size);
    if (importance === 'high') return;
    this.#evictable += size;
    // Named, not `held[importance]`: a keyed access costs a lookup at every post.
    if (importance === 'low') this.#held.low++;
    else this.#held.normal++;
    if (!queueNow) return;
    const queue = this.#queues[importance];
    queue.push(event, size);
    // Entries of events gone another way (a quarter of the events held, and a constant) are dropped: each keeps
    // what it names alive, a bus's posted event (its payload) or a frame. A prune costs O(entries): O(5) a removal.
    const held = this.#held[importance];
    if (queue.length - held > (held >> 2) + STALE_ENTRIES) queue.prune((key) => this.#history.holds(key));
  }

  /** The history keeps `sent` as their places in frames from now on (`framed`, in the same order), counted at their bytes there: so do the queues. */
  adopted(sent: readonly BusEvent[], framed: readonly EncodedEvent[]): void {
    if (!this.#queuing && this.#listing === undefined) return;
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
    const type = event.type;
    const tally = this.#tally(type);
    // An eviction reports the types it evicted: read here once (a frame's event decodes its type at each read).
    if (this.#evictedTypes !== undefined && type !== this.#lastEvictedType) this.#evictedTypes.add((this.#lastEvictedType = type));
    tally.count--;
    tally.bytes -= size;
    this.#bytes -= size;
    if (tally.importance !== 'high') {
      this.#evictable -= size;
      this.#held[tally.importance]--;
    }
    this.#moved += size;
    if (tally.count === 0) this.#types.delete(type);
  }

  #tally(type: string): TypeTally {
    // A tally whose count fell to 0 left `#types`: it is not used again.
    if (type === this.#lastType && this.#lastTally!.count > 0) return this.#lastTally!;
    if (type === this.#otherType && this.#otherTally!.count > 0) return this.#otherTally!;
    let tally = this.#types.get(type);
    if (tally === undefined) {
      const policy = this.#policies.of(type);
      this.#types.set(type, (tally = { count: 0, bytes: 0, policy, importance: policy?.importance ?? 'normal' }));
    }
    this.#otherType = this.#lastType;
    this.#otherTally = this.#lastTally;
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
    throw this.error(size);
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

  /** The budget error for an event of `size` bytes refused (by `admit`, or the first a batch `fit` refused: a station's accept). */
  error(size?: number): BusFullError {
    return new BusFullError(this.#bytes, this.budget, 'budget', this.option, undefined, size === undefined ? undefined : { eventBytes: size });
  }

  /** True when `settle` has something to do: the history is over its budget, or a lowered multiplier may recover. */
  get due(): boolean {
    return this.#bytes > this.budget || this.#steps.size > 0 || (this.#listing !== undefined && this.#listing.credit >= this.#listChunk);
  }

  /**
   * After events joined or left: over budget, lowers the heaviest sized
   * type's multiplier (one step, spaced) and evicts; well under it,
   * recovers one multiplier step (spaced). O(1) in between. Returns what
   * was evicted.
   */
  settle(): BusEvent[] {
    const listing = this.#listing;
    if (listing !== undefined && listing.credit >= this.#listChunk && this.#bytes <= this.budget) this.#list(listing.credit);
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
    // Listed all along from half the budget; what is left of it (a merge that brought the history there at once) now.
    if (!this.#queuing) this.#list(Infinity);
    const target = Math.floor(this.budget * EVICT_TO);
    const before = this.#bytes;
    let removed: BusEvent[] = [];
    const types = (this.#evictedTypes = new Set());
    this.#lastEvictedType = undefined;
    try {
      for (const importance of ['low', 'normal'] as const) {
        const queue = this.#queues[importance];
        // Again while entries of events gone another way freed nothing.
        while (this.#bytes > target && queue.length > 0 && this.#held[importance] > 0) {
          const { keys, sizes } = queue.take(this.#bytes - target);
          const gone = this.#remove(keys, sizes);
          if (gone.length > 0) removed = removed.length === 0 ? gone : removed.concat(gone);
        }
      }
    } finally {
      this.#evictedTypes = undefined;
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
        types: [...types],
        bytes: this.#bytes,
        budget: this.budget,
      },
    });
    return removed;
  }

  /**
   * Whether an event that joined while the history is listed into the queues is to be queued now: one at or
   * before the last listed (a merge of older events), not one the listing will come to. Starts the listing
   * once the history holds `LIST_FROM` of its budget; each byte that joins adds `LIST_RATE` to list.
   */
  #listed(event: BusEvent, size: number): boolean {
    let listing = this.#listing;
    if (listing === undefined) {
      if (this.#bytes < this.budget * LIST_FROM) return false;
      this.#listing = listing = { cursor: null, credit: 0 };
    }
    listing.credit += size * LIST_RATE;
    return listing.cursor !== null && compareEvents(event, listing.cursor) <= 0;
  }

  /**
   * Lists the events the history holds after the last listed, oldest first (so in order), into the queues: at
   * least `bytes` of them (all with `Infinity`); once it reaches the newest, the queues follow the history. A
   * held event's size is the one it is counted at: `sizeOf` gives it again (the history's owner keeps it so,
   * as its removals measure events again too: `retention.ts` `#sizeOf`), so nothing per event was kept before.
   * Once a history has compressed some, the rest is listed at once, its blocks as bytes (`held()`, decompressed once).
   */
  #list(bytes: number): void {
    const listing = (this.#listing ??= { cursor: null, credit: 0 });
    if (this.#history.compressedCount > 0) {
      // The rest at once, blocks too: as bytes at the sizes they were counted at (no payload is decoded).
      const after = listing.cursor;
      for (const event of this.#history.held()) if (after === null || compareEvents(event, after) > 0) this.#enqueue(event, true);
      this.#queuing = true;
      this.#listing = undefined;
      return;
    }
    // Every type held has a tally: when none ranks its events, they are all `normal`, and no type is read.
    let ranked = false;
    for (const tally of this.#types.values()) ranked ||= tally.importance !== 'normal';
    const segments = this.#history.segments;
    let s = 0;
    let i = 0;
    const cursor = listing.cursor;
    if (cursor !== null) {
      // The first segment whose last event is after the cursor, and its first event after it.
      let high = segments.length;
      while (s < high) {
        const mid = (s + high) >>> 1;
        const segment = segments[mid]!;
        if (segment.length === 0 || segment.compareAt(segment.length - 1, cursor) <= 0) s = mid + 1;
        else high = mid;
      }
      const segment = segments[s];
      if (segment !== undefined) {
        i = segment.lowerBound(cursor);
        if (i < segment.length && segment.compareAt(i, cursor) === 0) i++;
      }
    }
    let listed = 0;
    // A `high` event is not queued, nor measured: it counts as an average one toward the step's bound.
    const average = this.#bytes / Math.max(1, this.#history.size);
    for (; s < segments.length && listed < bytes; s++, i = 0) {
      const segment = segments[s]!;
      for (; i < segment.length && listed < bytes; i++) listed += this.#enqueue(segment.at(i), ranked) || average;
      if (i > 0) listing.cursor = { timestamp: segment.timestampAt(i - 1), id: segment.idAt(i - 1) };
      if (i < segment.length) break;
    }
    listing.credit = Math.max(0, listing.credit - listed);
    if (s < segments.length) return;
    this.#queuing = true;
    this.#listing = undefined;
  }

  /** Queues a held event by its importance (never `high`), at the size it is counted at; returns that size (0 for `high`). */
  #enqueue(event: BusEvent, ranked: boolean): number {
    const importance = ranked ? (this.#types.get(event.type)?.importance ?? 'normal') : 'normal';
    if (importance === 'high') return 0;
    const size = this.#sizeOf(event);
    this.#queues[importance].push(event, size);
    return size;
  }

  /** The eviction queues follow events that moved out of sparse frames (`frame-moves.ts`); before the listing they hold nothing. */
  relocate(moves: FrameMoves): void {
    this.#queues.low.relocate(moves);
    this.#queues.normal.relocate(moves);
  }

  /**
   * What the history holds against its budget. `frameBytes` counts each buffer once: those of the history's
   * events, those the eviction queues still name, and those `alsoHeld` adds (what its owner keeps besides).
   */
  stats(count: number, alsoHeld?: (buffers: Set<ArrayBufferLike>) => void): MemoryStats {
    const multipliers: Record<string, number> = {};
    for (const policy of this.#steps.keys()) multipliers[policy.pattern] = this.multiplier(policy);
    const types: Record<string, TypeMemory> = {};
    for (const [type, { count: events, bytes }] of this.#types) types[type] = { count: events, bytes };
    const compressed = { count: this.#history.compressedCount, bytes: this.#history.compressedBytes };
    return { history: this.name, count, bytes: this.#bytes, budget: this.budget, multipliers, types, evicted: this.#evicted, frameBytes: this.#frameBytes(alsoHeld), compressed };
  }

  /** Bytes of the memory the frames of the history's events are in, and of those named besides (each buffer once: a frame may be a view of a larger one). */
  #frameBytes(alsoHeld: ((buffers: Set<ArrayBufferLike>) => void) | undefined): number {
    const frames = new Map<EncodedBatch, number>();
    for (const segment of this.#history.segments) segment.countFrames(frames);
    const buffers = new Set<ArrayBufferLike>();
    for (const batch of frames.keys()) buffers.add(batch.body.buffer);
    this.#queues.low.framesInto(buffers);
    this.#queues.normal.framesInto(buffers);
    alsoHeld?.(buffers);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    return bytes;
  }
}
