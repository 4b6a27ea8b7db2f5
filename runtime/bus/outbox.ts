/**
 * A bus's outbox: the history its station has not seen, in the order it
 * joined — what the bus posted, drained from its queue, or took over from a
 * predecessor whose `toStation()` failed. A sync sends it and keeps what
 * joined meanwhile, so a sync costs what is new, not what the history holds.
 */
import type { BusEvent } from '../../types.js';
import { compareEvents } from '../store/history.js';

export class Outbox {
  #events: BusEvent[] = [];
  /** False once an event joined out of order (a drained one is stamped at post time). */
  #sorted = true;

  /** Events the station has not seen. */
  get length(): number {
    return this.#events.length;
  }

  /** A post: stamped after everything its thread has seen, so the outbox stays sorted. */
  push(event: BusEvent): void {
    this.#events.push(event);
  }

  /** An event that joined the history with an older stamp (a drained one): it may sort before what is here. */
  add(event: BusEvent): void {
    const last = this.#events[this.#events.length - 1];
    if (last !== undefined && compareEvents(last, event) > 0) this.#sorted = false;
    this.#events.push(event);
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
      this.#events = outbox.slice(count);
    } else {
      const sent = new Set(events);
      this.#events = outbox.filter((event) => !sent.has(event));
    }
    if (this.#events.length === 0) this.#sorted = true;
  }

  /** Takes back what a failed `toStation()` of the previous generation carried: older, so it goes first. */
  takeBack(unsent: readonly BusEvent[]): void {
    // A drained event may be older still than what a predecessor carried.
    if (unsent.length > 0 && this.#events.length > 0) this.#sorted = false;
    this.#events = [...unsent, ...this.#events];
  }
}
