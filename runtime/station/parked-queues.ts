/**
 * A station's queue: the deferred events threads sent with their batches,
 * parked under the thread they came from until that thread (or, at a main
 * station, its processor's local station) reads them back. Parked entries are
 * handed back, never delivered here.
 */
import type { BusEvent, Endpoint, Side } from '../../types.js';
import { compareEvents, originKey } from '../store/history.js';

/** Which parked entries a read hands back to the reader. */
export type HandBack = 'thread' | 'processor' | 'none';

/** A station's parked entries, by origin thread (`<processor>.<thread>`), each list sorted and free of duplicate ids. */
export class ParkedQueues {
  #byThread = new Map<string, BusEvent[]>();
  /**
   * Local stations: how many parked entries of each origin thread this
   * station pushed to the main station and has not taken back. An own-side
   * `fromMain()` takes back all of this processor's, so it resets them.
   */
  readonly #upstream = new Map<string, number>();

  /** How many entries are parked here. */
  get size(): number {
    let count = 0;
    for (const events of this.#byThread.values()) count += events.length;
    return count;
  }

  /** Every parked entry, in no particular order (no copy). */
  *entries(): IterableIterator<BusEvent> {
    for (const events of this.#byThread.values()) yield* events;
  }

  /** Parked entries, oldest first: all, or those of one origin thread. */
  list(origin?: { readonly processor: number; readonly thread: number }): BusEvent[] {
    if (origin !== undefined) return [...(this.#byThread.get(originKey(origin)) ?? [])];
    return [...this.#byThread.values()].flat().sort(compareEvents);
  }

  /** How many entries of `origin`'s thread are parked here or pushed on upstream and not taken back. */
  countFor(origin: { readonly processor: number; readonly thread: number }): number {
    const key = originKey(origin);
    return (this.#byThread.get(key)?.length ?? 0) + (this.#upstream.get(key) ?? 0);
  }

  /** Files events under their origin thread. */
  park(events: readonly BusEvent[]): void {
    const touched = new Set<BusEvent[]>();
    for (const event of events) {
      const key = originKey(event.origin);
      let list = this.#byThread.get(key);
      if (list === undefined) this.#byThread.set(key, (list = []));
      list.push(event);
      touched.add(list);
    }
    for (const list of touched) {
      list.sort(compareEvents);
      let write = 0;
      for (let read = 0; read < list.length; read++) {
        if (write === 0 || list[write - 1]!.id !== list[read]!.id) list[write++] = list[read]!;
      }
      list.length = write;
    }
  }

  /** Removes parked entries by id, or (ids undefined) all of one side. */
  remove(ids: ReadonlySet<string> | undefined, side?: Side): void {
    for (const [key, events] of this.#byThread) {
      const kept = events.filter((event) => !(ids?.has(event.id) ?? event.side === side));
      if (kept.length === 0) this.#byThread.delete(key);
      else this.#byThread.set(key, kept);
    }
  }

  /** Takes out what a read by `from` gets back: its thread's entries, its processor's threads', or none. Sorted. */
  take(from: Endpoint, handBack: HandBack): BusEvent[] {
    if (handBack === 'none') return [];
    if (handBack === 'thread') {
      const key = originKey(from);
      const events = this.#byThread.get(key) ?? [];
      this.#byThread.delete(key);
      return events;
    }
    const taken: BusEvent[] = [];
    for (const [key, events] of this.#byThread) {
      if (events[0]?.origin.processor === from.processor) {
        taken.push(...events);
        this.#byThread.delete(key);
      }
    }
    return taken.sort(compareEvents);
  }

  /** Takes out every parked entry, sorted (a local station pushing them to the main station). */
  takeAll(): BusEvent[] {
    const all = this.list();
    this.#byThread = new Map();
    return all;
  }

  /** Counts `events` as pushed on to the main station: their threads still have them parked, upstream. */
  pushedUpstream(events: readonly BusEvent[]): void {
    for (const event of events) {
      const key = originKey(event.origin);
      this.#upstream.set(key, (this.#upstream.get(key) ?? 0) + 1);
    }
  }

  /** The main station handed back every parked entry of this processor's threads. */
  takenBackFromUpstream(): void {
    this.#upstream.clear();
  }
}
