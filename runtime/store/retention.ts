/**
 * What a history keeps under the memory policies (`memory-policy.ts`): one
 * per bus and per station, owning that history. It counts events and bytes
 * as they join and leave (per history, and per policy that sets limits),
 * admits or refuses new events at `discard: 'refuseNew'` limits, removes the
 * oldest at `discard: 'oldest'` ones, expires `ttlMs` and `maxAgeMs`, and
 * removes what a search returned when the policy says so. Removal after
 * delivery is the bus's (it knows when subscribers were called) and, at
 * stations, `runtime/station/interest.ts`'s (it knows who has read what).
 *
 * Time is the runtime's injected clock; expiry runs when the history is next
 * used after the earliest expiry it knows of, not on a timer.
 */
import { BusFullError, EventTooLargeError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import { eventBytes, postBytes } from './event-bytes.js';
import { EventHistory, type HistoryCompression, type HistoryObserver } from './history.js';
import type { EventKey } from './eviction-queue.js';
import { framedBytes } from './size-classes.js';
import { FrameCompactor } from './frame-compactor.js';
import type { FrameMoves } from './frame-moves.js';
import { MemoryBudget, type HistoryKind, type MemoryChange, type MemoryStats } from './memory-budget.js';
import type { AppliedPolicy, HistoryLimits, Importance, MemoryPolicies } from './memory-policy.js';

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

/** What `settle()` returns when nothing left (at nearly every post): one frozen array, not one per call. */
const NOTHING_LEFT: BusEvent[] = Object.freeze([]) as unknown as BusEvent[];

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
  /** The memory budget of this history (`memory.budget`), if set. */
  readonly #budget: MemoryBudget | undefined;
  /** A budget, and neither a `sizeLimit` nor a `refuseNew` limit (the default): `admitPost` only measures and admits. */
  readonly #budgetOnly: boolean;
  /** A bus's: repacks the frames a sync left its events in once most of their events are gone (`adopt`, `frame-compactor.ts`). */
  readonly #frames: FrameCompactor | undefined;
  /** Places in frames held besides the history and its budget (a bus's outbox): they move when `#frames` repacks. */
  relocateAlso: ((moves: FrameMoves) => void) | undefined;

  /**
   * @param options.kind which budget applies (`memory.budget.busBytes` or `stationBytes`);
   * @param options.name the history in reports and stats, e.g. `bus:0.0:external`.
   * @param options.blocks how this history's compressed blocks give events back (`plain` objects for a bus);
   *   without it, or without `memory.compression`, the history compresses nothing.
   */
  constructor(
    policies: MemoryPolicies,
    now: () => number,
    options: { segmentSize?: number; kind?: HistoryKind; name?: string; blocks?: Pick<HistoryCompression, 'plain' | 'schedule' | 'allow'> } = {},
  ) {
    this.policies = policies;
    this.#now = now;
    this.#limits = policies.limits;
    this.refusing = [...policies.policies, ...(policies.limits === undefined ? [] : [policies.limits])].some((limits) => limits.discard === 'refuseNew');
    this.#countBytes =
      policies.budget !== undefined || policies.limits?.maxBytes !== undefined || policies.policies.some((policy) => policy.maxBytes !== undefined);
    // Without policies the history has no observer: it costs what it did before policies existed.
    const { kind = 'station', name = kind, blocks, ...historyOptions } = options;
    this.#frames = kind === 'bus' ? new FrameCompactor(() => this.history, (moves) => (this.relocate(moves), this.relocateAlso?.(moves))) : undefined;
    const compression: HistoryCompression | undefined =
      blocks === undefined || policies.compression === false
        ? undefined
        : { ...policies.compression, ...blocks, now, compressible: (type) => policies.compressible(type) };
    this.history = new EventHistory({
      ...historyOptions,
      ...(policies.none ? {} : { observer: this }),
      ...(compression === undefined ? {} : { compression }),
      ...(this.#countBytes ? { sizeOf: (event: BusEvent) => this.#sizeOf(event) } : {}),
    });
    if (policies.budget !== undefined) {
      this.#budget = new MemoryBudget(policies, kind, this.history, (event) => this.#sizeOf(event), name, {
        remove: (keys, sizes) => this.#evict(keys, sizes),
        keysOnly: compression !== undefined,
      });
    }
    this.#budgetOnly = this.#budget !== undefined && !policies.policies.some((policy) => policy.sizeLimit !== undefined) && !this.refusing;
  }

  /** Told of every change of the budget's state (multiplier, eviction, refusal): the owner posts it as an internal event. */
  set onMemoryChange(report: ((change: MemoryChange) => void) | undefined) {
    if (this.#budget !== undefined) this.#budget.onChange = report;
  }

  /** What this history holds against its budget (`alsoHeld`: frames its owner keeps besides); undefined without `memory.budget`. */
  memoryStats(alsoHeld?: (buffers: Set<ArrayBufferLike>) => void): MemoryStats | undefined {
    return this.#budget?.stats(this.history.size, alsoHeld);
  }

  /**
   * What the budget keeps of events follows those that moved out of sparse
   * frames (`frame-moves.ts`); each moved event is counted at its new place
   * (the same bytes, but for a frame's last event, counted to the body's end).
   */
  relocate(moves: FrameMoves): void {
    this.#budget?.relocate(moves);
    if (!this.#countBytes) return;
    for (const [batch, places] of moves) {
      places.forEach((place, index) => place !== undefined && this.#resize(place, framedBytes(batch, index), eventBytes(place)));
    }
  }

  /** `event`, held, counted at `from` bytes, is counted at `to` from now on. */
  #resize(event: BusEvent, from: number, to: number): void {
    if (from === to) return;
    this.#bytes += to - from;
    this.#budget?.resized(event.type, to - from);
    const policy = this.policies.policies.length === 0 ? undefined : this.policies.of(event.type);
    const tally = policy === undefined ? undefined : this.#tallies.get(policy);
    if (tally !== undefined) tally.bytes += to - from;
  }

  /**
   * An event's size as counted here: a frame's event knows it; a post's
   * `admitPost` measured is handed on by the bus; an evicted one's, kept by the budget, the history hands
   * to `removed`; others (an event a policy removes, a read's) are measured (`jsonBytes`: no
   * string is built, and cheaper than keeping a size per event in a map).
   * An event in a frame is counted at its bytes there, also a bus's since a sync (`adopt` counted it again).
   */
  #sizeOf(event: BusEvent): number {
    return eventBytes(event);
  }

  /** A bus's: repacks its sparse frames now (`FrameCompactor.compact`); returns how many events moved. */
  compactFrames(): number {
    return this.#frames?.compact() ?? 0;
  }

  /** An event's size as this history counts it. */
  sizeOf(event: BusEvent): number {
    return this.#sizeOf(event);
  }

  /**
   * The history keeps `sent` (objects it holds) as their places in frames
   * from now on: `framed[k]` is `sent[k]` in a frame a sync built; the
   * objects can go. Each is counted at its bytes in the frame from then on,
   * as a station counts it (the budget, `maxBytes` and per-type tallies move
   * by the difference), so the budget's queues keep them as runs of a frame,
   * not an entry each. Returns the ones adopted.
   */
  adopt(sent: readonly BusEvent[], framed: readonly EncodedEvent[]): BusEvent[] {
    // Events in frames already (the outbox framed them) stay in those: another copy would free nothing.
    if (sent.some((event) => event instanceof EncodedEvent)) {
      framed = framed.filter((_, k) => !(sent[k] instanceof EncodedEvent));
      sent = sent.filter((event) => !(event instanceof EncodedEvent));
    }
    const adopted = this.history.adopt(sent, framed);
    if (adopted.length === 0) return adopted;
    let places = framed;
    if (adopted.length < sent.length) {
      // `adopted` is a part of `sent`, in order.
      const found: EncodedEvent[] = [];
      for (let k = 0, j = 0; k < sent.length && j < adopted.length; k++) if (sent[k] === adopted[j]) (found.push(framed[k]!), j++);
      places = found;
    }
    if (this.#countBytes) for (let k = 0; k < adopted.length; k++) this.#resize(adopted[k]!, eventBytes(adopted[k]!), eventBytes(places[k]!));
    this.#budget?.adopted(adopted, places);
    // Events of those frames the history does not hold (removed, once delivered, before the sync) count as gone.
    this.#frames?.arrived(places, adopted.length);
    return adopted;
  }

  /**
   * A bus's read merged: of `events` (what the station sent), `kept` joined
   * the history. Those in frames stay places there; the frames' other
   * events (held already, left out, the reply's queue) count as gone.
   */
  arrived(events: readonly BusEvent[], ...kept: ReadonlyArray<readonly BusEvent[]>): void {
    if (this.#frames === undefined || !events.some((event) => event instanceof EncodedEvent)) return;
    let held = 0;
    for (const part of kept) for (const event of part) if (event instanceof EncodedEvent) held++;
    this.#frames.arrived(events, held);
  }

  /** Removes what the budget chose to evict (keys: stamp and id), counting them at the sizes it kept. */
  #evict(keys: readonly EventKey[], sizes: readonly number[]): BusEvent[] {
    // The history finds events by stamp and id: a key stands for its event.
    return this.history.remove(keys as readonly BusEvent[], sizes);
  }

  /** True when the history holds at least half its budget: memory is worth CPU (a bus frames its unsent events). No budget: false. */
  get pressed(): boolean {
    const budget = this.#budget;
    return budget !== undefined && budget.bytes >= budget.budget / 2;
  }

  /** Bytes held, as `eventBytes` counts them (0 unless some `maxBytes` is set). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The history's observer: an event joined; `measured`, its size if the caller knows it (`admitPost`'s), else -1. */
  added(event: BusEvent, measured = -1): void {
    const size = !this.#countBytes ? 0 : measured >= 0 ? measured : this.#sizeOf(event);
    this.#bytes += size;
    if (this.#budget !== undefined) this.#budget.added(event, size);
    // Only limits per type (`#tallies`) and expiry read the policy: the default budget, or importance alone, count nothing more.
    if (!this.policies.bounded && !this.policies.expiring) return;
    const policy = this.policies.of(event.type);
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
    if (this.#frames !== undefined && event instanceof EncodedEvent) this.#frames.removed(1);
    const size = this.#countBytes ? (bytes ?? this.#sizeOf(event)) : 0;
    this.#bytes -= size;
    if (this.#budget !== undefined) this.#budget.removed(event, size);
    const policy = this.#tallies.size === 0 ? undefined : this.policies.of(event.type);
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
   * Refuses a post larger than its type's `sizeLimit` times the multiplier
   * the budget has set (`EventTooLargeError`), beyond a `refuseNew` limit
   * (`BusFullError`, `bound: 'limit'`), or for which the budget could make
   * room only by evicting `high` events (`BusFullError`, `bound: 'budget'`).
   * Returns the size it measured (-1 if none): the bus hands it on to the
   * history and the outbox (`insert`, `push`), so that neither measures the
   * post again, and nothing keeps the event to recognise it by. `joins`
   * false: the event never joins the history (an `immediate` one removed
   * after delivery), so only its size limit applies, not the history's room.
   */
  admitPost(event: BusEvent, joins = true, payloadBytes = -1): number {
    if (this.policies.none) return -1;
    // The default, on every post: kept small, so that it is inlined into the bus's post().
    if (this.#budgetOnly) {
      const size = postBytes(event, payloadBytes);
      if (joins) this.#budget!.admit(event, size);
      return size;
    }
    return this.#admitUnderPolicies(event, joins, payloadBytes);
  }

  /** `admitPost` where a policy or a `refuseNew` limit applies, or there is no budget. */
  #admitUnderPolicies(event: BusEvent, joins: boolean, payloadBytes: number): number {
    const policy = this.policies.of(event.type);
    const budget = this.#budget;
    let size: number | undefined;
    if (policy?.sizeLimit !== undefined) {
      // Measured as stored. Where a policy compresses (`compress`), the compressed size is what counts: measure it here.
      size = postBytes(event, payloadBytes);
      const limit = budget === undefined ? policy.sizeLimit : budget.limitOf(policy as AppliedPolicy & { sizeLimit: number });
      if (size > limit) {
        if (limit < policy.sizeLimit) budget!.refused('sizeLimit', event.type, size, limit);
        const lowered = limit < policy.sizeLimit ? ` × multiplier ${budget!.multiplier(policy)}, lowered while the history is over its memory budget` : '';
        throw new EventTooLargeError(
          `post() of "${event.type}" was refused: the event takes ${size} bytes, over the size limit of ${limit} ` +
            `(${policy.option}.sizeLimit ${policy.sizeLimit}${lowered}). Post less, or raise the limit.`,
          { type: event.type, size, limit },
        );
      }
    }
    if (budget !== undefined) {
      size ??= postBytes(event, payloadBytes);
      if (joins) budget.admit(event, size);
    }
    if (this.refusing && joins) this.assertRoom([event]);
    return size ?? -1;
  }

  /**
   * A station's check of a batch (`events`, any order, maybe held already):
   * `BusFullError` unless its new events fit the `refuseNew` limits and the
   * budget (`bound: 'budget'`: only evicting `high` events would make room).
   * Looks up what is new only when a limit refuses or the batch could pass the budget.
   */
  admitBatch(events: readonly BusEvent[]): void {
    const budget = this.#needsBudgetCheck(events);
    if (!this.refusing && !budget) return;
    const fresh = this.history.missing(events);
    if (this.refusing) this.assertRoom(fresh);
    if (budget) {
      const { refused, size } = this.#budget!.fit(fresh, (event) => this.#importance(event));
      if (refused !== undefined) throw this.#budget!.error(size);
    }
  }

  /** What of `events` (a read's reply) the `refuseNew` limits and the budget let in: the older new ones, up to them. */
  fitBatch(events: readonly BusEvent[]): readonly BusEvent[] {
    const budget = this.#needsBudgetCheck(events);
    if (!this.refusing && !budget) return events;
    let fresh: readonly BusEvent[] = this.history.missing(events);
    if (this.refusing) fresh = this.fit(fresh);
    return budget ? this.#budget!.fit(fresh, (event) => this.#importance(event)).admitted : fresh;
  }

  /** True when `events` could take the history over its budget (their sizes summed, duplicates included). */
  #needsBudgetCheck(events: readonly BusEvent[]): boolean {
    const budget = this.#budget;
    if (budget === undefined || events.length === 0) return false;
    let total = budget.bytes;
    for (const event of events) {
      total += this.#sizeOf(event);
      if (total > budget.budget) return true;
    }
    return false;
  }

  #importance(event: BusEvent): Importance {
    return this.policies.of(event.type)?.importance ?? 'normal';
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

  /**
   * Expires what is due, removes the oldest beyond `discard: 'oldest'`
   * limits, then meets the budget (multipliers, eviction). Returns what left
   * (a shared, frozen empty array when nothing did).
   */
  settle(): BusEvent[] {
    if (this.policies.none) return NOTHING_LEFT;
    const policies = this.policies;
    // Called at every post: nothing is allocated unless something is due.
    let left = policies.expiring ? this.expire() : undefined;
    if (policies.bounded) {
      const trimmed = this.#trim();
      left = left === undefined || left.length === 0 ? trimmed : left.concat(trimmed);
    }
    const budget = this.#budget;
    if (budget !== undefined && budget.due) {
      const evicted = budget.settle();
      this.removedCount += evicted.length;
      left = left === undefined || left.length === 0 ? evicted : left.concat(evicted);
    }
    return left ?? NOTHING_LEFT;
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
