/**
 * A local station's batches accepted from its threads that its main station
 * has not taken yet (`toMain()` pushes them). With a memory budget they are
 * held to the station's budget on their own, as a bus's outbox is to the
 * bus's (`bus/outbox.ts`): an event the history lets go (evicted, removed
 * after delivery) still waits here for the main station, so a station that
 * nobody pushes (manual syncs) would otherwise keep every batch, and the
 * frames they came in. Once they reach the budget, batches from the threads
 * are refused (`BusFullError`, `bound: 'outbox'`): they stay unsent in their
 * buses, whose own outbox bounds then apply, until `toMain()` makes room.
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { compareEvents } from '../store/history.js';

/** The option a refusal names. */
export const STATION_BYTES = 'memory.budget.stationBytes';

export class UnsentBatches {
  /** What each accepted batch added, oldest first. */
  batches: BusEvent[][] = [];
  /** Bytes of `batches` and of those taken by a push under way; counted only under a budget. */
  #bytes = 0;
  /** The station's budget in bytes; undefined: no bound, and no bytes counted. */
  readonly #budget: number | undefined;
  readonly #sizeOf: (event: BusEvent) => number;

  constructor(budget: number | undefined, sizeOf: (event: BusEvent) => number) {
    this.#budget = budget;
    this.#sizeOf = sizeOf;
  }

  /** Bytes held (0 without a budget). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Events held, not counting those of a push under way. */
  get count(): number {
    let count = 0;
    for (const batch of this.batches) count += batch.length;
    return count;
  }

  /** Throws `BusFullError` (`bound: 'outbox'`) while the budget's worth waits: the next batch would go past it. */
  admit(): void {
    if (this.#budget !== undefined && this.#bytes >= this.#budget) throw new BusFullError(this.#bytes, this.#budget, 'outbox', STATION_BYTES);
  }

  /** What an accepted (or restored) batch added. */
  push(added: BusEvent[]): void {
    this.batches.push(added);
    if (this.#budget !== undefined) this.#bytes += this.#sumOf(added);
  }

  /** Every event held, in order, for a push: they still count until `settled()`. */
  take(): BusEvent[] {
    const events = this.batches.flat().sort(compareEvents);
    this.batches = [];
    return events;
  }

  /** A push of `taken` ended with its first `pushed` taken by the main station: they leave; the rest wait here again, first. */
  settled(taken: readonly BusEvent[], pushed: number): void {
    if (pushed < taken.length) this.batches.unshift(taken.slice(pushed));
    if (this.#budget === undefined) return;
    for (let i = 0; i < pushed; i++) this.#bytes -= this.#sizeOf(taken[i]!);
    // Nothing left: none is counted (a size that changed meanwhile leaves no drift behind).
    if (this.batches.length === 0 || this.#bytes < 0) this.#bytes = this.batches.length === 0 ? 0 : this.#sumOf(this.batches.flat());
  }

  /** Drops every event of `side` (a bridge clearing). */
  removeSide(side: Side): void {
    this.batches = this.batches.map((batch) => batch.filter((event) => event.side !== side));
    if (this.#budget !== undefined) this.#bytes = this.#sumOf(this.batches.flat());
  }

  #sumOf(events: readonly BusEvent[]): number {
    let bytes = 0;
    for (const event of events) bytes += this.#sizeOf(event);
    return bytes;
  }
}
