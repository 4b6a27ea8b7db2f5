/**
 * Removal after delivery at a station, by interest (JetStream's interest
 * retention): an event whose policy says `removeAfterDelivery` leaves a
 * station's history once every reader that may want it has read it.
 *
 * A station's readers are the buses that read it (one per thread and side of
 * the reading bus) and, at a main station, the local stations that read it.
 * What a station knows of a reader's interest is what its reads ask for:
 *
 * - a reader that has read unfiltered (the sync policy's reads,
 *   `fromStation()` without `types`) may want every type: it holds an event
 *   until it has read through the event's arrival (a limited read, through
 *   where it stopped);
 * - a reader that has only read filtered wants the union of the types it
 *   asked for: a later filtered read of a matching type gives it the event;
 *   after a read that came once the event had arrived, an event of a type it
 *   never asked for does not wait for it;
 * - a reader the station expects (its thread or processor is connected) but
 *   that has not read yet may want anything: it holds every event.
 *
 * A station cannot see a thread's subscriptions (they live in the thread and
 * change between reads), so subscription-level interest is not used: an
 * unfiltered reader counts as interested in everything. The sender of an
 * event never holds it (it has it; its reads skip it). An event no reader
 * holds leaves at once, as under JetStream's interest retention: a thread
 * that connects later does not get it.
 */
import type { BusEvent, Endpoint, Side } from '../../types.js';
import { originKey, typeMatchesAny } from '../store/history.js';
import type { MemoryPolicies } from '../store/memory-policy.js';
import type { Arrivals } from './arrivals.js';

/** One reader of a station, as far as the station knows it. */
interface Reader {
  /** Its thread (an `originKey`): events that thread sent here do not wait for it. */
  readonly origin: string;
  /** The side of the reading bus or station (a reader of the other side never sent the events it reads). */
  readonly side: Side;
  /** It has read everything through this arrival number (unfiltered reads). */
  through: number;
  /** The station's arrival count at its last read of any kind (0: none yet). */
  seen: number;
  /** It has read unfiltered once: it may want every type. */
  unfiltered: boolean;
  /** The types it asked for in filtered reads; undefined once it read unfiltered, or before it read (every type). */
  types: string[] | undefined;
  /** Its last filtered read: it got every event of these types that had arrived by `seen`. */
  filtered: { readonly types: readonly string[]; readonly seen: number } | undefined;
}

/** A removable event held for a reader, filed under that reader until it reads again. */
interface Waiting {
  readonly arrival: number;
  readonly event: BusEvent;
  readonly sender: string | undefined;
}

/** The readers of one station and what of its history they still hold. */
export class Interest {
  readonly #side: Side;
  readonly #policies: MemoryPolicies;
  readonly #readers = new Map<string, Reader>();
  /** Every event that arrived through this number has been looked at once. */
  #scanned = 0;
  /** Events held, by the key of the first reader found holding each: only that reader's reads look at them again. */
  readonly #waiting = new Map<string, Waiting[]>();
  /** Readers that read (or left) since the last `release()`: what they held is looked at again. */
  readonly #moved = new Set<string>();
  /** Entries of `#waiting`, removed events included until a sweep. */
  #waitingCount = 0;

  constructor(side: Side, policies: MemoryPolicies) {
    this.#side = side;
    this.#policies = policies;
  }

  /** True when some policy removes after delivery: otherwise the station needs none of this. */
  get active(): boolean {
    return this.#policies.afterDelivery;
  }

  /** Events held for readers (for tests and stats). */
  get waiting(): number {
    return this.#waitingCount;
  }

  /**
   * A reader that will read: a connected thread's bus of `side`, or a
   * processor's local station. Until its first read it holds everything.
   */
  expect(origin: { readonly processor: number; readonly thread: number }, side: Side): void {
    const key = readerKey(originKey(origin), side);
    if (!this.#readers.has(key)) this.#readers.set(key, newReader(originKey(origin), side));
  }

  /** The reader's thread or processor is gone: it holds nothing any more. */
  forget(origin: { readonly processor: number; readonly thread: number }): void {
    const thread = originKey(origin);
    for (const side of ['internal', 'external'] as const) {
      const key = readerKey(thread, side);
      if (this.#readers.delete(key)) this.#moved.add(key);
    }
  }

  /**
   * Notes a read: `types` as asked, `through` as answered (where an
   * unfiltered read is complete), `count` the station's arrival count then.
   */
  noteRead(from: Endpoint, types: readonly string[] | undefined, through: number, count: number): void {
    const key = readerKey(originKey(from), from.side);
    let reader = this.#readers.get(key);
    if (reader === undefined) this.#readers.set(key, (reader = newReader(originKey(from), from.side)));
    if (types === undefined) {
      reader.through = Math.max(reader.through, through);
      reader.unfiltered = true;
      reader.types = undefined;
    } else {
      // Interest only grows: a reader that asked for a type once may ask again.
      if (!reader.unfiltered) reader.types = [...new Set([...(reader.types ?? []), ...types])];
      reader.filtered = { types: [...types], seen: count };
    }
    reader.seen = count;
    this.#moved.add(key);
  }

  /**
   * The events of `arrivals` that every reader that may want them has read,
   * among those whose policy removes them after delivery. Looks at each new
   * arrival once, and at a held event again only when the reader holding it
   * has read (amortized: a reader that never reads costs nothing per read of
   * the others). `held`: the station's history size.
   */
  release(arrivals: Arrivals, held: number): BusEvent[] {
    const released: BusEvent[] = [];
    for (const key of this.#moved) {
      const held = this.#waiting.get(key);
      if (held === undefined) continue;
      this.#waiting.delete(key);
      this.#waitingCount -= held.length;
      for (const waiting of held) if (arrivals.isLive(waiting.event)) this.#file(waiting, released);
    }
    this.#moved.clear();
    if (arrivals.count > this.#scanned) {
      for (const { first, events, sender } of arrivals.runsAfter(this.#scanned)) {
        for (let i = Math.max(0, this.#scanned + 1 - first); i < events.length; i++) {
          const event = events.at(i);
          if (!arrivals.isLive(event) || !this.#policies.removesAfterDelivery(event.type)) continue;
          this.#file({ arrival: first + i, event, sender }, released);
        }
      }
      this.#scanned = arrivals.count;
    }
    // Events that left otherwise (TTL, limits, a clearing) while held for a reader that does not read: swept now and then.
    if (this.#waitingCount > 2 * held + 4096) this.#sweep(arrivals);
    return released;
  }

  #sweep(arrivals: Arrivals): void {
    this.#waitingCount = 0;
    for (const [key, list] of this.#waiting) {
      const live = list.filter((waiting) => arrivals.isLive(waiting.event));
      if (live.length === 0) this.#waiting.delete(key);
      else this.#waiting.set(key, live);
      this.#waitingCount += live.length;
    }
  }

  /** Releases `waiting`, or files it under the first reader that holds it. */
  #file(waiting: Waiting, released: BusEvent[]): void {
    const holder = this.#holder(waiting);
    if (holder === undefined) {
      released.push(waiting.event);
      return;
    }
    let list = this.#waiting.get(holder);
    if (list === undefined) this.#waiting.set(holder, (list = []));
    list.push(waiting);
    this.#waitingCount++;
  }

  /** The key of a reader that may still want the event, if any. */
  #holder({ arrival, event, sender }: Waiting): string | undefined {
    for (const [key, reader] of this.#readers) {
      if (reader.origin === sender && reader.side === this.#side) continue;
      if (arrival <= reader.through) continue;
      const { filtered, types } = reader;
      if (filtered !== undefined && arrival <= filtered.seen && typeMatchesAny(filtered.types, event.type)) continue;
      if (types !== undefined && arrival <= reader.seen && !typeMatchesAny(types, event.type)) continue;
      return key;
    }
    return undefined;
  }
}

function readerKey(origin: string, side: Side): string {
  return `${origin}:${side}`;
}

function newReader(origin: string, side: Side): Reader {
  return { origin, side, through: 0, seen: 0, unfiltered: false, types: undefined, filtered: undefined };
}

/**
 * A read's history (its first `alreadyDelivered` events are what the reader
 * has delivered) without those of the first part that leave once delivered:
 * a new bus generation merges that part and delivers none of it, so they
 * would only be read back.
 */
export function withoutDeliveredTransient(
  history: BusEvent[],
  alreadyDelivered: number,
  policies: MemoryPolicies,
): { history: BusEvent[]; alreadyDelivered: number } {
  let kept = 0;
  const out: BusEvent[] = [];
  history.forEach((event, i) => {
    if (i >= alreadyDelivered) out.push(event);
    else if (!policies.removesAfterDelivery(event.type)) {
      out.push(event);
      kept++;
    }
  });
  return out.length === history.length ? { history, alreadyDelivered } : { history: out, alreadyDelivered: kept };
}
