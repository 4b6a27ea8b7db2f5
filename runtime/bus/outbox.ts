/**
 * A bus's outbox: the history its station has not seen, in the order it
 * joined — what the bus posted, drained from its queue, or took over from a
 * predecessor whose `toStation()` failed. A sync sends it and keeps what
 * joined meanwhile, so a sync costs what is new, not what the history holds.
 *
 * With a memory budget (`memory.budget.busBytes`, on by default) the outbox
 * is held to that budget on its own: the history evicts to meet its budget,
 * but an event it lets go (evicted, removed after delivery) still waits here
 * for the station, so a bus that never syncs would otherwise grow without
 * bound. At the budget:
 *
 * - under the automatic sync policy, a post is refused (`BusFullError`,
 *   `bound: 'outbox'`) and a sync is asked for, as at `sync.maxUnsent`:
 *   the station sets the pace (`back-pressure.ts`);
 * - under manual syncs, the oldest unsent events go, `low` ones first, then
 *   `normal`, down to `EVICT_TO` of the budget, as the budget evicts a
 *   history (but oldest first: the outbox is a queue to the station), each
 *   round reported (`busline.memory.dropped`); `high` events never go, and a
 *   post that only their going would make room for is refused.
 *
 * Nothing accepted is lost silently: a refused post was not accepted, and
 * what is dropped is reported.
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { compareEvents } from '../store/history.js';
import { EVICT_TO } from '../store/memory-budget.js';
import type { Importance } from '../store/memory-policy.js';
import type { UnsentDropReport } from '../store/memory-stats.js';

/** What bounds an outbox: its bus's memory budget. */
export interface OutboxBound {
  /** Bytes of unsent events the outbox may hold. */
  readonly budget: number;
  /** The option that set it, for errors: `memory.budget.busBytes`. */
  readonly option: string;
  /** The bus in reports: `bus:<processor>.<thread>:<side>`. */
  readonly name: string;
  /** True under the automatic sync policy: at the budget posts are refused, nothing is dropped. */
  readonly refuse: boolean;
  /** An event's size as its history counts it. */
  sizeOf(event: BusEvent): number;
  importance(type: string): Importance;
  /** Told of each round of drops. */
  dropped(report: UnsentDropReport): void;
}

export class Outbox {
  #events: BusEvent[] = [];
  /** False once an event joined out of order (a drained one is stamped at post time). */
  #sorted = true;
  readonly #bound: OutboxBound | undefined;
  /** With a bound: each event's size, beside `#events`, and their sum. */
  #sizes: number[] = [];
  #bytes = 0;
  /** Bytes of events that may be dropped (not `high`). */
  #droppable = 0;

  constructor(bound?: OutboxBound) {
    this.#bound = bound;
  }

  /** Events the station has not seen. */
  get length(): number {
    return this.#events.length;
  }

  /** Bytes of the events the station has not seen (0 without a budget). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Under the sync policy: true when at most half of the budget is taken,
   * so producers waiting in `room()` may go on. Always true otherwise: there
   * no sync comes by itself to wait for, and the oldest events make room.
   */
  get halfFree(): boolean {
    return this.#bound?.refuse !== true || this.#bytes <= this.#bound.budget / 2;
  }

  /**
   * Throws `BusFullError` (`bound: 'outbox'`) unless `event` may join: it
   * fits the budget, or (under manual syncs) dropping events that are not
   * `high` would make room for it.
   */
  admit(event: BusEvent): void {
    const bound = this.#bound;
    if (bound === undefined) return;
    const size = bound.sizeOf(event);
    const over = this.#bytes + size - bound.budget;
    if (over <= 0 || (!bound.refuse && over <= this.#droppable)) return;
    throw new BusFullError(this.#bytes, bound.budget, 'outbox', bound.option);
  }

  /** A post: stamped after everything its thread has seen, so the outbox stays sorted. */
  push(event: BusEvent): void {
    this.#events.push(event);
    if (this.#bound !== undefined) this.#count(event);
  }

  /** An event that joined the history with an older stamp (a drained one): it may sort before what is here. */
  add(event: BusEvent): void {
    const last = this.#events[this.#events.length - 1];
    if (last !== undefined && compareEvents(last, event) > 0) this.#sorted = false;
    this.#events.push(event);
    if (this.#bound !== undefined) this.#count(event);
  }

  #count(event: BusEvent): void {
    const bound = this.#bound!;
    const size = bound.sizeOf(event);
    this.#sizes.push(size);
    this.#bytes += size;
    if (bound.importance(event.type) !== 'high') this.#droppable += size;
    if (this.#bytes > bound.budget && !bound.refuse) this.#drop();
  }

  /** Drops the oldest `low` events, then `normal` ones, down to `EVICT_TO` of the budget, and reports it. */
  #drop(): void {
    const bound = this.#bound!;
    const target = Math.floor(bound.budget * EVICT_TO);
    const events = this.#events;
    const sizes = this.#sizes;
    const gone = new Set<number>();
    const types = new Set<string>();
    const before = this.#bytes;
    for (const importance of ['low', 'normal'] as const) {
      for (let i = 0; i < events.length && this.#bytes > target; i++) {
        if (gone.has(i) || bound.importance(events[i]!.type) !== importance) continue;
        gone.add(i);
        types.add(events[i]!.type);
        this.#bytes -= sizes[i]!;
        this.#droppable -= sizes[i]!;
      }
    }
    if (gone.size === 0) return;
    this.#events = events.filter((_, i) => !gone.has(i));
    this.#sizes = sizes.filter((_, i) => !gone.has(i));
    bound.dropped({
      history: bound.name,
      count: gone.size,
      freed: before - this.#bytes,
      types: [...types],
      bytes: this.#bytes,
      budget: bound.budget,
    });
  }

  /** What the station has not seen, sorted (a copy). */
  unsent(): BusEvent[] {
    const unsent = this.#events.slice();
    return this.#sorted ? unsent : unsent.sort(compareEvents);
  }

  /** Forgets events a sync delivered to the station; what joined meanwhile stays. */
  sent(events: readonly BusEvent[]): void {
    const count = events.length;
    const outbox = this.#events;
    if (count > 0 && outbox[0] === events[0] && outbox[count - 1] === events[count - 1] && this.#sorted) {
      // Sent in outbox order, and only appended to since: the sent ones are its first `count`.
      if (this.#bound !== undefined) this.#uncount(count);
      this.#events = outbox.slice(count);
    } else {
      const sent = new Set(events);
      if (this.#bound === undefined) this.#events = outbox.filter((event) => !sent.has(event));
      else this.#keep((event) => !sent.has(event));
    }
    if (this.#events.length === 0) this.#sorted = true;
  }

  /** Takes back what a failed `toStation()` of the previous generation carried: older, so it goes first. */
  takeBack(unsent: readonly BusEvent[]): void {
    // A drained event may be older still than what a predecessor carried.
    if (unsent.length > 0 && this.#events.length > 0) this.#sorted = false;
    this.#events = [...unsent, ...this.#events];
    const bound = this.#bound;
    if (bound === undefined) return;
    const sizes = unsent.map((event) => bound.sizeOf(event));
    unsent.forEach((event, i) => {
      this.#bytes += sizes[i]!;
      if (bound.importance(event.type) !== 'high') this.#droppable += sizes[i]!;
    });
    this.#sizes = [...sizes, ...this.#sizes];
    if (this.#bytes > bound.budget && !bound.refuse) this.#drop();
  }

  /** Forgets the counts of the first `count` events (the caller removes the events). */
  #uncount(count: number): void {
    const bound = this.#bound!;
    for (let i = 0; i < count; i++) {
      const size = this.#sizes[i]!;
      this.#bytes -= size;
      if (bound.importance(this.#events[i]!.type) !== 'high') this.#droppable -= size;
    }
    this.#sizes = this.#sizes.slice(count);
  }

  /** Keeps the events `keep` says to keep, with their sizes and counts. */
  #keep(keep: (event: BusEvent) => boolean): void {
    const bound = this.#bound!;
    const events: BusEvent[] = [];
    const sizes: number[] = [];
    this.#events.forEach((event, i) => {
      const size = this.#sizes[i]!;
      if (keep(event)) {
        events.push(event);
        sizes.push(size);
        return;
      }
      this.#bytes -= size;
      if (bound.importance(event.type) !== 'high') this.#droppable -= size;
    });
    this.#events = events;
    this.#sizes = sizes;
  }
}
