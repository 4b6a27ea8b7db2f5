/**
 * A local station's batches accepted from its threads that its main station
 * has not taken yet (`toMain()` pushes them). With a memory budget they are
 * held to the station's budget on their own, as a bus's outbox is to the
 * bus's (`bus/outbox.ts`): an event the history lets go (evicted, removed
 * after delivery) still waits here for the main station, so a station that
 * nobody pushes (manual syncs) would otherwise keep every batch, and the
 * frames they came in. At the budget, as at a bus's outbox:
 *
 * - under the automatic sync policy, which pushes every period, batches from
 *   the threads are refused (`BusFullError`, `bound: 'outbox'`): they stay
 *   unsent in their buses, whose own bounds then apply, until a push makes room;
 * - under manual syncs, where nothing may ever call `toMain()` (threads that
 *   share events through their station alone), the oldest unsent events go,
 *   `low` first, then `normal`, down to `EVICT_TO` of the budget (the main
 *   station never gets them; each round is reported), and only a batch that
 *   `high` events alone keep out is refused. Their threads' syncs go on.
 *
 * A push under way (`take()` to `settled()`) holds its batches apart. A
 * refusal counts them (it loses nothing, and keeps what is held to the
 * budget); a drop does not: it would drop newer events for older ones that
 * are on their way out, and the main station would then lack events that
 * fit once the push went. What a push brings back (refused, or its link
 * failed) waits again, first, counted once more, and the next batch's
 * admission drops from it, oldest first, as if it had never been pushed.
 * Meanwhile the station holds at most the push and a budget's worth.
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { EVICT_TO } from '../store/memory-budget.js';
import type { Importance } from '../store/memory-policy.js';
import type { UnsentDropReport } from '../store/memory-stats.js';
import type { EventHistory } from '../store/history.js';
import { Need } from '../store/journal.js';

/** The option a refusal names. */
export const STATION_BYTES = 'memory.budget.stationBytes';

export class UnsentBatches {
  /** What each accepted batch added, oldest first. */
  #batches: BusEvent[][] = [];
  /** The batches a push under way took (`take()`), until it has `settled()`: they still wait for the main station. */
  #taken: BusEvent[][] = [];
  /** Bytes of `#batches`; counted only under a budget. */
  #bytes = 0;
  /** Bytes of `#taken`, as counted when they were taken. */
  #takenBytes = 0;
  /** The station's budget in bytes; undefined: no bound, and no bytes counted. */
  readonly #budget: number | undefined;
  readonly #sizeOf: (event: BusEvent) => number;
  /** An event type's importance, for drops; undefined: `normal`. */
  readonly #importance: (type: string) => Importance | undefined;
  /** The station's history's name, in drop reports. */
  readonly #history: string;

  constructor(budget: number | undefined, sizeOf: (event: BusEvent) => number, importance: (type: string) => Importance | undefined, history: string) {
    this.#budget = budget;
    this.#sizeOf = sizeOf;
    this.#importance = importance;
    this.#history = history;
  }

  /** Bytes held, a push under way's included (0 without a budget). */
  get bytes(): number {
    return this.#bytes + this.#takenBytes;
  }

  /**
   * Every batch the main station has not taken, a push under way's first:
   * what a journal compaction must keep and a frame compaction move, since a
   * push may end with some of them refused.
   */
  get all(): BusEvent[][] {
    return this.#taken.length === 0 ? this.#batches : this.#taken.concat(this.#batches);
  }

  /** Events held, not counting those of a push under way. */
  get count(): number {
    let count = 0;
    for (const batch of this.#batches) count += batch.length;
    return count;
  }

  /**
   * Makes room for the next batch while the budget's worth waits: under
   * manual syncs (`drop`) by letting the oldest `low`, then `normal`, events
   * go (returns what went, for `busline.memory.dropped`); throws `BusFullError`
   * (`bound: 'outbox'`) when that is not allowed or not enough.
   */
  admit(drop: boolean): UnsentDropReport | undefined {
    const budget = this.#budget;
    // A drop counts what waits, a refusal a push under way too (see the module note).
    const counted = drop ? 0 : this.#takenBytes;
    if (budget === undefined || this.#bytes + counted < budget) return undefined;
    const report = drop ? this.#drop(budget) : undefined;
    if (this.#bytes + counted >= budget) throw new BusFullError(this.#bytes + counted, budget, 'outbox', STATION_BYTES);
    return report;
  }

  /** Drops the oldest `low` events, then `normal` ones, down to `EVICT_TO` of `budget`; `high` ones stay. */
  #drop(budget: number): UnsentDropReport | undefined {
    const importance = this.#importance;
    const target = Math.floor(budget * EVICT_TO);
    const types = new Set<string>();
    let count = 0;
    let freed = 0;
    for (const rank of ['low', 'normal'] as const) {
      for (let b = 0; b < this.#batches.length && this.#bytes - freed > target; b++) {
        this.#batches[b] = this.#batches[b]!.filter((event) => {
          if (this.#bytes - freed <= target || (importance(event.type) ?? 'normal') !== rank) return true;
          const size = this.#sizeOf(event);
          freed += size;
          count++;
          types.add(event.type);
          return false;
        });
      }
    }
    if (count === 0) return undefined;
    this.#batches = this.#batches.filter((batch) => batch.length > 0);
    this.#bytes -= freed;
    return { history: this.#history, count, freed, types: [...types], bytes: this.#bytes, budget };
  }

  /** What an accepted (or restored) batch added. */
  push(added: BusEvent[]): void {
    this.#batches.push(added);
    if (this.#budget !== undefined) this.#bytes += this.#sumOf(added);
  }

  /** Every batch held, oldest first, for a push: they are held apart until `settled()`, and no drop takes them. */
  take(): BusEvent[][] {
    this.#taken = this.#batches;
    this.#takenBytes = this.#bytes;
    this.#batches = [];
    this.#bytes = 0;
    return this.#taken;
  }

  /** A push of `taken` ended with its first `pushed` batches taken by the main station: they leave; the rest wait here again, first. */
  settled(taken: readonly BusEvent[][], pushed: number): void {
    this.#taken = [];
    this.#takenBytes = 0;
    if (pushed < taken.length) {
      const back = taken.slice(pushed);
      this.#batches = back.concat(this.#batches);
      if (this.#budget !== undefined) this.#bytes += this.#sumOf(back.flat());
    }
    // Nothing left: none is counted (a size that changed meanwhile leaves no drift behind).
    if (this.#batches.length === 0) this.#bytes = 0;
  }

  /** Drops every event of `side` (a bridge clearing) of what waits; a push under way carries its own. */
  removeSide(side: Side): void {
    this.#batches = this.#batches.map((batch) => batch.filter((event) => event.side !== side));
    if (this.#budget !== undefined) this.#bytes = this.#sumOf(this.#batches.flat());
  }

  #sumOf(events: readonly BusEvent[]): number {
    let bytes = 0;
    for (const event of events) bytes += this.#sizeOf(event);
    return bytes;
  }
}

/**
 * Whether a replay of a local station's journal still needs an event it
 * accepted: held in `history`, or let go and not yet taken by the main
 * station (in `unsent`, a push under way's batches included), which it must
 * still reach.
 */
export function journalNeeds(history: EventHistory, unsent: readonly (readonly BusEvent[])[]): (event: BusEvent) => Need {
  const left = unsent.length === 0 ? undefined : new Set(history.missing(unsent.flat()).map((event) => event.id));
  return (event) => (history.holds(event) ? Need.held : left?.has(event.id) === true ? Need.unsent : Need.dead);
}
