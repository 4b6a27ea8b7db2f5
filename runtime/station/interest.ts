/**
 * Removal after delivery at a station, by interest (JetStream's interest
 * retention): an event whose policy says `removeAfterDelivery` leaves a
 * station's history once every reader interested in it has read it.
 *
 * A station's readers are the buses that read it (one per thread and side of
 * the reading bus) and, at a main station, the local stations that read it.
 * A reader's interest is what its reads declare (`SyncRequest.interest`):
 *
 * - a bus declares the patterns of its thread's subscriptions on its side
 *   (`subscribe()`, `waitFor()`, request/reply, services, spawned actors'
 *   `subscribes`, `RemoteBus.subscribe()` listeners): an event that leaves
 *   once delivered never joins a bus history, so a subscriber is the only
 *   way a thread can use one. A local station declares the union of its own
 *   readers' interest, or every type while one of them has declared none;
 * - to that a reader adds the types it named in filtered reads
 *   (`fromStation({ types })`, `fromMain({ types })`): interest only grows
 *   that way, so a thread that pulls without subscribing names its types once;
 * - a declared interest holds for events that arrive until the reader's next
 *   read, which declares it again: a subscription added in between counts
 *   from that read on. An event that left before it is gone, as under
 *   JetStream (a consumer created later does not get it); one still held for
 *   another reader reaches it with that read. Under the sync policy a
 *   subscription that adds a pattern asks for that read at once
 *   (`Subscriptions.onWidened`, `thread/thread.ts`); under manual syncs the
 *   user syncs the subscribing thread. A local station declares a widening
 *   to its main station before it answers the read (`upstream-interest.ts`),
 *   so the read counts across processors from its return too.
 *
 * A reader that declares nothing (a station read without the field: tests,
 * more patterns than `MAX_DECLARED_PATTERNS`, a `*` subscription) is
 * inferred from its reads, as before interest was carried:
 *
 * - a reader that has read unfiltered may want every type: it holds an event
 *   until it has read through the event's arrival (a limited read, through
 *   where it stopped);
 * - a reader that has only read filtered wants the union of the types it
 *   asked for: a later filtered read of a matching type gives it the event;
 *   after a read that came once the event had arrived, an event of a type it
 *   never asked for does not wait for it.
 *
 * A reader the station expects (its thread or processor is connected) but
 * that has not read yet may want anything: it holds every event, so a thread
 * that subscribes before its first sync misses nothing. The sender of an
 * event never holds it (it has it; its reads skip it). An event no reader
 * holds leaves at once, as under JetStream's interest retention: a thread
 * that connects later does not get it.
 *
 * Where the history compresses, what a reader holds is kept as keys
 * (`waiting-keys.ts`), found in the history again when released: held as
 * places, events moved into blocks would keep the frames they came in alive
 * until that reader reads.
 */
import type { BusEvent, Endpoint, Side } from '../../types.js';
import { compareEvents, originKey, typeMatchesAny } from '../store/history.js';
import { matchesEverything } from '../type-patterns.js';
import type { MemoryPolicies } from '../store/memory-policy.js';
import { movedEvent, type FrameMoves } from '../store/frame-moves.js';
import { arrivalAt, firstAfter, type Arrivals, type EventKey } from './arrivals.js';
import { KeyTables, WaitingKeys } from './waiting-keys.js';

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
  /** The interest its last read declared; undefined: none (inferred from its reads, above). */
  declared: readonly string[] | undefined;
  /** Every type it named in a filtered read: part of its interest when it declares one. */
  asked: readonly string[];
  /** Whether it is interested in a type, by type: cleared when `declared` or `asked` change. */
  readonly wants: Map<string, boolean>;
}

/** A removable event held for a reader, filed under that reader until it reads again. */
interface Waiting {
  readonly arrival: number;
  readonly event: BusEvent;
  readonly sender: string | undefined;
}

/**
 * What one reader holds: events at their places, or, where the history
 * compresses (`Arrivals.keyed`), as keys (`waiting-keys.ts`): a place would
 * keep the frame it is in alive after the history moved the event into a block.
 */
interface Held {
  places: Waiting[];
  keys: WaitingKeys | undefined;
}

/** The readers of one station and what of its history they still hold. */
export class Interest {
  readonly #side: Side;
  readonly #policies: MemoryPolicies;
  readonly #readers = new Map<string, Reader>();
  /** Every event that arrived through this number has been looked at once. */
  #scanned = 0;
  /** Events held, by the key of the first reader found holding each: only that reader's reads look at them again. */
  readonly #waiting = new Map<string, Held>();
  /** The tables the keys held share (ids, types, senders). */
  #tables = new KeyTables();
  /** Readers that read (or left) since the last `release()`: what they held is looked at again. */
  readonly #moved = new Set<string>();
  /** Entries of `#waiting`, removed events included until a sweep. */
  #waitingCount = 0;
  /** Changes whenever what `upstream()` gives may have changed (readers, their declared or asked types). */
  #version = 0;

  constructor(side: Side, policies: MemoryPolicies) {
    this.#side = side;
    this.#policies = policies;
  }

  /** True when some policy removes after delivery: otherwise the station needs none of this. */
  get active(): boolean {
    return this.#policies.afterDelivery;
  }

  /** Changes whenever what `upstream()` gives may have changed: a local station looks again only then. */
  get version(): number {
    return this.#version;
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
    if (this.#readers.has(key)) return;
    this.#readers.set(key, newReader(originKey(origin), side));
    this.#version++;
  }

  /** The reader's thread or processor is gone: it holds nothing any more. */
  forget(origin: { readonly processor: number; readonly thread: number }): void {
    const thread = originKey(origin);
    for (const side of ['internal', 'external'] as const) {
      const key = readerKey(thread, side);
      if (!this.#readers.delete(key)) continue;
      this.#moved.add(key);
      this.#version++;
    }
  }

  /**
   * Notes a read: `types` as asked, `through` as answered (where an
   * unfiltered read is complete), `count` the station's arrival count then,
   * `interest` as the read declared it (undefined: none).
   */
  noteRead(
    from: Endpoint,
    types: readonly string[] | undefined,
    through: number,
    count: number,
    interest?: readonly string[],
  ): void {
    const key = readerKey(originKey(from), from.side);
    const reader = this.#reader(key, from);
    if (types === undefined) {
      reader.through = Math.max(reader.through, through);
      reader.unfiltered = true;
      reader.types = undefined;
    } else {
      // Interest only grows: a reader that asked for a type once may ask again.
      if (!reader.unfiltered) reader.types = [...new Set([...(reader.types ?? []), ...types])];
      reader.filtered = { types: [...types], seen: count };
      if (types.some((type) => !reader.asked.includes(type))) {
        reader.asked = [...new Set([...reader.asked, ...types])];
        reader.wants.clear();
        this.#version++;
      }
    }
    this.#declare(reader, interest);
    reader.seen = count;
    this.#moved.add(key);
  }

  /**
   * Notes a declaration (a read of no types, `declaration()`): the reader's
   * interest is `interest` from now on; where it has read, and the types it
   * asked for, stay as they were.
   */
  noteDeclared(from: Endpoint, interest: readonly string[] | undefined): void {
    const key = readerKey(originKey(from), from.side);
    this.#declare(this.#reader(key, from), interest);
    this.#moved.add(key);
  }

  #reader(key: string, from: Endpoint): Reader {
    let reader = this.#readers.get(key);
    if (reader === undefined) {
      this.#readers.set(key, (reader = newReader(originKey(from), from.side)));
      this.#version++;
    }
    return reader;
  }

  #declare(reader: Reader, interest: readonly string[] | undefined): void {
    if (samePatterns(reader.declared, interest)) return;
    reader.declared = interest === undefined ? undefined : [...interest];
    reader.wants.clear();
    this.#version++;
  }

  /**
   * The interest a local station declares to its main station, as the
   * fields of its read: the union of its readers' (patterns and types they
   * asked for), or none (every type) while one of them declares none, or
   * has not read yet.
   */
  upstream(): { interest?: readonly string[] } {
    const patterns = new Set<string>();
    for (const reader of this.#readers.values()) {
      if (reader.declared === undefined) return {};
      for (const pattern of reader.declared) patterns.add(pattern);
      for (const type of reader.asked) patterns.add(type);
    }
    const interest = declaredInterest([...patterns]);
    return interest === undefined ? {} : { interest };
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
    // Keys released: found in the history at the end, in one pass.
    const keys: EventKey[] = [];
    for (const key of this.#moved) {
      const held = this.#waiting.get(key);
      if (held === undefined) continue;
      this.#waiting.delete(key);
      this.#waitingCount -= held.places.length + (held.keys?.length ?? 0);
      for (const waiting of held.places) if (arrivals.isLive(waiting.event)) this.#file(waiting, released);
      const from = held.keys;
      if (from !== undefined) for (let i = 0; i < from.length; i++) this.#fileKey(from, i, keys);
    }
    this.#moved.clear();
    if (arrivals.count > this.#scanned) {
      const keyed = arrivals.keyed;
      for (const run of arrivals.runsAfter(this.#scanned)) {
        const { events, sender } = run;
        for (let i = firstAfter(run, this.#scanned); i < events.length; i++) {
          const event = arrivals.eventAt(events, i);
          if (event === undefined || !arrivals.isLive(event) || !this.#policies.removesAfterDelivery(event.type)) continue;
          const waiting = { arrival: arrivalAt(run, i), event, sender };
          if (!keyed) this.#file(waiting, released);
          else {
            const holder = this.#holder(waiting.arrival, event.type, sender);
            if (holder === undefined) released.push(event);
            else this.#held(holder).keys!.push(waiting.arrival, event, sender);
          }
        }
      }
      this.#scanned = arrivals.count;
    }
    if (keys.length > 0) {
      // Sorted, the history finds them in one pass over its blocks; those gone another way meanwhile are not found.
      for (const event of arrivals.find(keys.sort(compareEvents))) if (event !== undefined) released.push(event);
    }
    // Events that left otherwise (TTL, limits, a clearing) while held for a reader that does not read: swept now and then.
    if (this.#waitingCount > 2 * held + 4096) this.#sweep(arrivals);
    // Ids that do not pack (a bridge's, UUIDs), types and senders of keys that went stay in the tables until they are
    // made again: with traffic that never lets every key go, that is when they keep far more than is held.
    if (this.#tables.kept > 2 * this.#waitingCount + 4096) this.#repack();
    return released;
  }

  /** Events held for readers follow those that moved out of sparse frames (`frame-moves.ts`); keys need not. */
  relocate(moves: FrameMoves): void {
    for (const { places } of this.#waiting.values()) {
      places.forEach((waiting, i) => {
        const event = movedEvent(moves, waiting.event);
        if (event !== waiting.event) places[i] = { ...waiting, event };
      });
    }
  }

  #sweep(arrivals: Arrivals): void {
    this.#waitingCount = 0;
    for (const [key, held] of this.#waiting) {
      held.places = held.places.filter((waiting) => arrivals.isLive(waiting.event));
      const keys = held.keys;
      if (keys !== undefined) {
        const wanted = Array.from({ length: keys.length }, (_, i) => keys.keyAt(i));
        const found = arrivals.find(wanted);
        held.keys = keys.filter((i) => found[i] !== undefined);
      }
      const count = held.places.length + (held.keys?.length ?? 0);
      if (count === 0) this.#waiting.delete(key);
      this.#waitingCount += count;
    }
  }

  /** Fresh tables, with the keys held repacked into them (amortized: the tables grew by more than that since the last). */
  #repack(): void {
    const tables = new KeyTables();
    for (const held of this.#waiting.values()) if (held.keys !== undefined) held.keys = held.keys.repacked(tables);
    this.#tables = tables;
  }

  /** Strings the tables of held keys keep (ids that do not pack, types, senders): for tests. */
  get keptStrings(): number {
    return this.#tables.kept;
  }

  /** The keys reader `key` holds, made if none, counted one more: the caller files one there. */
  #held(key: string): Held {
    let held = this.#waiting.get(key);
    if (held === undefined) this.#waiting.set(key, (held = { places: [], keys: undefined }));
    held.keys ??= new WaitingKeys(this.#tables);
    this.#waitingCount++;
    return held;
  }

  /** Releases key `i` of `from` (into `released`, to be found), or files it under the first reader that holds it. */
  #fileKey(from: WaitingKeys, i: number, released: EventKey[]): void {
    const holder = this.#holder(from.arrivalAt(i), from.typeAt(i), from.senderAt(i));
    if (holder === undefined) released.push(from.keyAt(i));
    else this.#held(holder).keys!.copy(from, i);
  }

  /** Releases `waiting`, or files it under the first reader that holds it. */
  #file(waiting: Waiting, released: BusEvent[]): void {
    const holder = this.#holder(waiting.arrival, waiting.event.type, waiting.sender);
    if (holder === undefined) {
      released.push(waiting.event);
      return;
    }
    let held = this.#waiting.get(holder);
    if (held === undefined) this.#waiting.set(holder, (held = { places: [], keys: undefined }));
    held.places.push(waiting);
    this.#waitingCount++;
  }

  /** The key of a reader that may still want the event (of `type`, arrival `arrival`, sent by `sender`), if any. */
  #holder(arrival: number, type: string, sender: string | undefined): string | undefined {
    for (const [key, reader] of this.#readers) {
      if (reader.origin === sender && reader.side === this.#side) continue;
      if (arrival <= reader.through) continue;
      const { filtered, types } = reader;
      if (filtered !== undefined && arrival <= filtered.seen && typeMatchesAny(filtered.types, type)) continue;
      if (reader.declared !== undefined) {
        if (wants(reader, type)) return key;
        continue;
      }
      if (types !== undefined && arrival <= reader.seen && !typeMatchesAny(types, type)) continue;
      return key;
    }
    return undefined;
  }
}

/** The most patterns a read declares; a thread with more declares none (every type), which holds more but costs no matching. */
export const MAX_DECLARED_PATTERNS = 256;

/**
 * What a reader with these subscription patterns declares as its interest:
 * undefined (every type) when one matches everything or there are more than
 * `MAX_DECLARED_PATTERNS`.
 */
export function declaredInterest(patterns: readonly string[]): readonly string[] | undefined {
  if (patterns.length > MAX_DECLARED_PATTERNS || patterns.some(matchesEverything)) return undefined;
  return patterns;
}

/** Whether a reader that declared its interest wants events of `type`, cached per type. */
function wants(reader: Reader, type: string): boolean {
  let wanted = reader.wants.get(type);
  if (wanted === undefined) {
    wanted = typeMatchesAny(reader.declared!, type) || typeMatchesAny(reader.asked, type);
    // Types are few in practice; a flood of distinct ones must not grow the cache without bound.
    if (reader.wants.size >= 4096) reader.wants.clear();
    reader.wants.set(type, wanted);
  }
  return wanted;
}

function samePatterns(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readerKey(origin: string, side: Side): string {
  return `${origin}:${side}`;
}

function newReader(origin: string, side: Side): Reader {
  return {
    origin,
    side,
    through: 0,
    seen: 0,
    unfiltered: false,
    types: undefined,
    filtered: undefined,
    declared: undefined,
    asked: [],
    wants: new Map(),
  };
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
