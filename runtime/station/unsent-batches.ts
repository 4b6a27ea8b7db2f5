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
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { EVICT_TO } from '../store/memory-budget.js';
import type { Importance } from '../store/memory-policy.js';
import type { UnsentDropReport } from '../store/memory-stats.js';

/** The option a refusal names. */
export const STATION_BYTES = 'memory.budget.stationBytes';

export class UnsentBatches {
  /** What each accepted batch added, oldest first. */
  #batches: BusEvent[][] = [];
  /** The batches a push under way took (`take()`), until it has `settled()`: they still wait for the main station. */
  #taken: BusEvent[][] = [];
  /** Bytes of `#batches` and of those taken by a push under way; counted only under a budget. */
  #bytes = 0;
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

  /** Bytes held (0 without a budget). */
  get bytes(): number {
    return this.#bytes;
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
    if (budget === undefined || this.#bytes < budget) return undefined;
    const report = drop ? this.#drop(budget) : undefined;
    if (this.#bytes >= budget) throw new BusFullError(this.#bytes, budget, 'outbox', STATION_BYTES);
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

  /** Every batch held, oldest first, for a push: their events still count until `settled()`. */
  take(): BusEvent[][] {
    this.#taken = this.#batches;
    this.#batches = [];
    return this.#taken;
  }

  /** A push of `taken` ended with its first `pushed` batches taken by the main station: they leave; the rest wait here again, first. */
  settled(taken: readonly BusEvent[][], pushed: number): void {
    this.#taken = [];
    if (pushed < taken.length) this.#batches = taken.slice(pushed).concat(this.#batches);
    if (this.#budget === undefined) return;
    for (let b = 0; b < pushed; b++) this.#bytes -= this.#sumOf(taken[b]!);
    // Nothing left: none is counted (a size that changed meanwhile leaves no drift behind).
    if (this.#batches.length === 0 || this.#bytes < 0) this.#bytes = this.#batches.length === 0 ? 0 : this.#sumOf(this.#batches.flat());
  }

  /** Drops every event of `side` (a bridge clearing). */
  removeSide(side: Side): void {
    this.#batches = this.#batches.map((batch) => batch.filter((event) => event.side !== side));
    // A push under way's batches still count until it has settled.
    if (this.#budget !== undefined) this.#bytes = this.#sumOf(this.all.flat());
  }

  #sumOf(events: readonly BusEvent[]): number {
    let bytes = 0;
    for (const event of events) bytes += this.#sizeOf(event);
    return bytes;
  }
}
