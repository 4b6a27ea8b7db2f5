/**
 * What a main station let go of the events child processors sent it
 * (evicted at its budget or a limit, expired, removed after delivery or
 * search), so that it does not take them again. A processor sends an event
 * again when it cannot know the main station has it: the Ack of a `toMain()`
 * the main station took was lost (the channel closed, the processor was
 * killed), so the batches stayed unsent and go with the next push; or a
 * restarted processor's journal restored them, as unsent. The history
 * deduplicates by id what it holds; what it let go would come back as new,
 * and a reader that let its copy go once delivered would deliver it again.
 *
 * Each event is remembered by its stamp and a 64-bit hash of its id, in its
 * processor's ring (16 bytes an event), found by stamp through a table of
 * references (4 bytes a slot, at most half full): an event is taken for one
 * let go only if both match, which two ids of one stamp do with a chance
 * near 2^-64 (the hash has one 64-bit state: `hashId`). Not a Bloom filter (`id-filter.ts`),
 * whose false "maybe"s (about 2 %) would drop new events: once an event is
 * gone nothing tells a false "maybe" from a resend. Not the id strings: each
 * a heap object for the collector to trace, and about three times the bytes
 * (docs/ARCHITECTURE.md). Not a per-origin push number acknowledged idempotently:
 * it needs a field on the wire and covers a lost Ack only, where a restarted
 * processor resends its whole journal, pushed long ago or not. Nor a
 * high-water mark of each thread's id sequence: a deferred event joins its
 * bus's outbox when it is delivered, after later posts went.
 *
 * Held events need nothing: only those let go are remembered, the last
 * `LET_GO_REMEMBERED` of each processor and `LET_GO_REMEMBERED_IN_ALL` in
 * all, a busy processor's oldest forgotten first, so that it does not push
 * out a quiet one's. Only child processors' events are remembered (1 to
 * `children`, the runtime's `processors`): the root's own processor (0) and
 * those added with `addProcessor()` (after the children) reach the main
 * stations in the same thread (no Ack to lose after a batch was taken) and
 * never restart with a journal, so none of theirs comes back. A push looks its events up by stamp (an `EncodedEvent` has it
 * without decoding), an event stamped after all those remembered (a new one,
 * mostly: what leaves a history was there before) not at all; only where a
 * stamp matches is the event's id hashed. An event still in its frame is
 * hashed from its id's bytes there (`eventIdSpanAt`), every other from its
 * id's UTF-8, so both hash alike: no string is made for what is let go.
 */
import type { BusEvent } from '../../types.js';
import { eventIdSpanAt } from '../../schemas/codec/index.js';
import { EncodedEvent } from '../store/encoded-events.js';

/** How many events it let go a main station remembers per child processor, at most. */
export const LET_GO_REMEMBERED = 16_384;
/** How many it remembers in all, at most: past that, a processor with more than its share forgets its oldest first. */
export const LET_GO_REMEMBERED_IN_ALL = 65_536;

/** Slots the table starts with; it doubles whenever it would be more than half full. */
const FIRST_SLOTS = 1024;
/** The fewest entries a processor's ring has room for. */
const FIRST_RING = 4;

/**
 * The events of one processor remembered, oldest first: its `first` to
 * `next` (counts of all it ever remembered), entry `k` at `k & (capacity - 1)`
 * of its ring, stamps and id hashes side by side.
 */
interface Remembered {
  readonly processor: number;
  /** Its place in `#rings`: an entry's reference in the table is `index × span + its place in the ring`. */
  readonly index: number;
  stamps: Float64Array;
  low: Int32Array;
  high: Int32Array;
  first: number;
  next: number;
}

/** A stamp's bits, for hashing it. */
const stampBits = new Float64Array(1);
const stampWords = new Int32Array(stampBits.buffer);
/** The id hash `hashId` wrote last. */
const idWords = new Int32Array(2);
/** Where `eventIdSpanAt` found an id. */
const idSpan = new Int32Array(2);

/**
 * A 64-bit hash of an event's id (its UTF-8 bytes) into `idWords`, one
 * 64-bit state: the high word takes in each step of the low one (FNV-1a) and
 * is shifted down, so that neither its low bits follow the ids' low bits
 * alone nor a collision of the low word carries it along. Two 32-bit hashes
 * run side by side are one of 32 bits to a search (Joux's multicollisions);
 * only equality counts here, so no finalizer. Returns the processor the id
 * names (`<processor>.<thread>.…`), or -1 where it names none; one named
 * that is not a child processor (0, or past `children`) is never
 * remembered, and the rest of its id is not hashed. An event still in its
 * frame is hashed from its bytes there: no string is made.
 */
function hashId(event: BusEvent, children: number): number {
  if (event instanceof EncodedEvent && event.plain === undefined) {
    eventIdSpanAt(event.batch, event.index, idSpan);
    return hashBytes(event.batch.body, idSpan[0]!, idSpan[1]!, children);
  }
  const id = event.id;
  let low = 0x811c9dc5;
  let high = 0x9e3779b1;
  let processor = 0;
  // 0: reading the processor's digits; 1: they ended with a dot; -1: the id names none.
  let named = 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 0x80) {
      const bytes = new TextEncoder().encode(id);
      return hashBytes(bytes, 0, bytes.length, children);
    }
    if (named === 0) {
      if (c === 46) named = i === 0 ? -1 : 1;
      else if (c < 48 || c > 57 || i === 10) named = -1;
      else processor = processor * 10 + c - 48;
      if (named === 1 && (processor === 0 || processor > children)) return processor;
    }
    low = Math.imul(low ^ c, 0x01000193);
    high = Math.imul(high ^ low, 0x5bd1e995);
    high ^= high >>> 15;
  }
  idWords[0] = low;
  idWords[1] = high;
  return named === 1 ? processor : -1;
}

/** `hashId` of the UTF-8 bytes `bytes[start..end)`. */
function hashBytes(bytes: Uint8Array, start: number, end: number, children: number): number {
  let low = 0x811c9dc5;
  let high = 0x9e3779b1;
  let processor = 0;
  let named = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (named === 0) {
      if (c === 46) named = i === start ? -1 : 1;
      else if (c < 48 || c > 57 || i - start === 10) named = -1;
      else processor = processor * 10 + c - 48;
      if (named === 1 && (processor === 0 || processor > children)) return processor;
    }
    low = Math.imul(low ^ c, 0x01000193);
    high = Math.imul(high ^ low, 0x5bd1e995);
    high ^= high >>> 15;
  }
  idWords[0] = low;
  idWords[1] = high;
  return named === 1 ? processor : -1;
}

/**
 * @example
 * const letGo = new LetGoIds(options.processors)   // remembers processors 1..processors
 * letGo.remember(evicted)              // a main station's removals
 * const history = letGo.notLetGo(batch.history)   // what a push brings, without those
 */
export class LetGoIds {
  /**
   * Every event remembered, by its stamp, in an open-addressed table (linear
   * probing) of references into the processors' rings, plus one (0: empty):
   * typed, so that remembering allocates nothing per event and the collector
   * has nothing in it to trace. Threads may stamp alike: one stamp may fill
   * several slots.
   */
  #slots = new Int32Array(0);
  /** 32 - log2(slots): a hash's top bits are its slot. */
  #shift = 32;
  /** Per origin processor holding any, for forgetting each one's oldest. */
  readonly #origins = new Map<number, Remembered>();
  /** The rings by their index; a processor that holds none gives its index back (`#free`). */
  readonly #rings: (Remembered | undefined)[] = [];
  readonly #free: number[] = [];
  /** The most a ring holds: `perOrigin` up to a power of two, `2^#spanBits`. */
  readonly #span: number;
  readonly #spanBits: number;
  #size = 0;
  /** No event remembered has a later stamp (those forgotten may have had). */
  #latest = -Infinity;
  readonly #perOrigin: number;
  readonly #inAll: number;
  readonly #firstSlots: number;
  /** Processors 1 to this are child processors, whose events are remembered. */
  readonly #children: number;

  /**
   * @param children the child processors (1 to `children`): only their events are remembered (0: none is).
   * @param slots the table's first size, a power of two (tests start it small); made once something is let go.
   */
  constructor(children: number, perOrigin = LET_GO_REMEMBERED, inAll = LET_GO_REMEMBERED_IN_ALL, slots = FIRST_SLOTS) {
    this.#children = children;
    this.#perOrigin = perOrigin;
    this.#inAll = inAll;
    this.#firstSlots = slots;
    this.#spanBits = Math.ceil(Math.log2(Math.max(perOrigin, FIRST_RING)));
    this.#span = 2 ** this.#spanBits;
  }

  /** Events remembered. */
  get size(): number {
    return this.#size;
  }

  /** @internal Bytes its table and rings take. */
  get bytes(): number {
    let bytes = this.#slots.byteLength;
    for (const r of this.#origins.values()) bytes += r.stamps.byteLength + r.low.byteLength + r.high.byteLength;
    return bytes;
  }

  /**
   * Remembers the child processors' events among `removed` (processors 1 to
   * `children`: the one an event's id names, else its origin). A processor at
   * its `perOrigin` forgets its oldest; at `inAll` in all, the processor that
   * adds does if it would hold its share (of those holding any) or more, else
   * the one that holds the most. Room is made before an event is added, so
   * that nothing grows past its bounds even for a moment.
   */
  remember(removed: readonly BusEvent[]): void {
    const children = this.#children;
    if (children === 0) return;
    for (const event of removed) {
      const named = hashId(event, children);
      const processor = named === -1 ? event.origin.processor : named;
      if (processor === 0 || processor > children) continue;
      let remembered = this.#origins.get(processor);
      const held = remembered === undefined ? 0 : remembered.next - remembered.first;
      if (held >= this.#perOrigin) this.#forgetOldest(remembered!);
      else if (this.#size >= this.#inAll) {
        const holding = this.#origins.size + (remembered === undefined ? 1 : 0);
        // Its own oldest: none when it holds none (the event it would add is its oldest).
        if ((held + 1) * holding < this.#inAll) this.#forgetOldest(this.#most());
        else if (held === 0) continue;
        else this.#forgetOldest(remembered!);
      }
      // Forgetting may have left it holding none, and gone.
      remembered = this.#origins.get(processor) ?? this.#add(processor);
      const stamp = event.timestamp;
      if (stamp > this.#latest) this.#latest = stamp;
      if (remembered.next - remembered.first === remembered.stamps.length) this.#resize(remembered, remembered.stamps.length * 2);
      const at = remembered.next++ & (remembered.stamps.length - 1);
      remembered.stamps[at] = stamp;
      remembered.low[at] = idWords[0]!;
      remembered.high[at] = idWords[1]!;
      if (++this.#size * 2 > this.#slots.length) this.#grow();
      this.#insert(stamp, remembered.index * this.#span + at);
    }
  }

  /** `history` without the events remembered here (the same array when none is). */
  notLetGo<T extends BusEvent>(history: readonly T[]): readonly T[] {
    if (this.#size === 0) return history;
    const latest = this.#latest;
    let kept: T[] | undefined;
    for (let i = 0; i < history.length; i++) {
      const event = history[i]!;
      if (event.timestamp <= latest && this.#holds(event)) kept ??= history.slice(0, i);
      else kept?.push(event);
    }
    return kept ?? history;
  }

  #add(processor: number): Remembered {
    const index = this.#free.pop() ?? this.#rings.length;
    const remembered: Remembered = { processor, index, stamps: new Float64Array(FIRST_RING), low: new Int32Array(FIRST_RING), high: new Int32Array(FIRST_RING), first: 0, next: 0 };
    this.#rings[index] = remembered;
    this.#origins.set(processor, remembered);
    return remembered;
  }

  /** The processor that holds the most (the first of them). */
  #most(): Remembered {
    let most: Remembered | undefined;
    for (const remembered of this.#origins.values()) {
      if (most === undefined || remembered.next - remembered.first > most.next - most.first) most = remembered;
    }
    return most!;
  }

  #forgetOldest(remembered: Remembered): void {
    const capacity = remembered.stamps.length;
    const at = remembered.first++ & (capacity - 1);
    this.#delete(remembered.stamps[at]!, remembered.index * this.#span + at);
    this.#size--;
    const held = remembered.next - remembered.first;
    if (held === 0) {
      this.#origins.delete(remembered.processor);
      this.#rings[remembered.index] = undefined;
      this.#free.push(remembered.index);
    } else if (held * 4 <= capacity && capacity > FIRST_RING) this.#resize(remembered, capacity / 2);
  }

  /** Moves a ring's entries into one of `capacity`, and their references in the table with them. */
  #resize(remembered: Remembered, capacity: number): void {
    const { stamps, low, high, index } = remembered;
    const [from, to] = [stamps.length - 1, capacity - 1];
    remembered.stamps = new Float64Array(capacity);
    remembered.low = new Int32Array(capacity);
    remembered.high = new Int32Array(capacity);
    const base = index * this.#span;
    for (let k = remembered.first; k < remembered.next; k++) {
      remembered.stamps[k & to] = stamps[k & from]!;
      remembered.low[k & to] = low[k & from]!;
      remembered.high[k & to] = high[k & from]!;
      this.#slots[this.#slotHolding(stamps[k & from]!, base + (k & from))] = base + (k & to) + 1;
    }
  }

  #slotOf(stamp: number): number {
    stampBits[0] = stamp;
    return Math.imul(stampWords[0]! ^ stampWords[1]!, 0x9e3779b1) >>> this.#shift;
  }

  /** The slot that holds reference `ref` to an entry of `stamp` (it is there). */
  #slotHolding(stamp: number, ref: number): number {
    const mask = this.#slots.length - 1;
    let slot = this.#slotOf(stamp);
    while (this.#slots[slot] !== ref + 1) slot = (slot + 1) & mask;
    return slot;
  }

  /** The ring of the entry `ref` refers to (its place there: `ref & (span - 1)`). */
  #ringOf(ref: number): Remembered {
    return this.#rings[ref >>> this.#spanBits]!;
  }

  #holds(event: BusEvent): boolean {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const stamp = event.timestamp;
    let hashed = false;
    for (let slot = this.#slotOf(stamp); slots[slot] !== 0; slot = (slot + 1) & mask) {
      const ref = slots[slot]! - 1;
      const ring = this.#ringOf(ref);
      const at = ref & (this.#span - 1);
      if (ring.stamps[at] !== stamp) continue;
      // Only where a stamp matches is the event's id read and hashed.
      // Events an id names as not a child processor's are never remembered.
      if (!hashed) {
        const named = hashId(event, this.#children);
        if (named === 0 || named > this.#children) return false;
      }
      hashed = true;
      if (ring.low[at] === idWords[0] && ring.high[at] === idWords[1]) return true;
    }
    return false;
  }

  #insert(stamp: number, ref: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = this.#slotOf(stamp);
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = ref + 1;
  }

  /** Empties the slot of this entry, moving back the entries after it that probed past it (no tombstones). */
  #delete(stamp: number, ref: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let hole = this.#slotHolding(stamp, ref);
    slots[hole] = 0;
    for (let slot = (hole + 1) & mask; slots[slot] !== 0; slot = (slot + 1) & mask) {
      const ref = slots[slot]! - 1;
      const home = this.#slotOf(this.#ringOf(ref).stamps[ref & (this.#span - 1)]!);
      // It stays unless the hole lies on its probe path, from its home slot to where it is.
      if (((slot - home) & mask) < ((slot - hole) & mask)) continue;
      slots[hole] = slots[slot]!;
      slots[slot] = 0;
      hole = slot;
    }
  }

  #grow(): void {
    const old = this.#slots;
    const slots = old.length === 0 ? this.#firstSlots : old.length * 2;
    this.#slots = new Int32Array(slots);
    this.#shift = 32 - Math.log2(slots);
    for (let slot = 0; slot < old.length; slot++) {
      if (old[slot] === 0) continue;
      const ref = old[slot]! - 1;
      this.#insert(this.#ringOf(ref).stamps[ref & (this.#span - 1)]!, ref);
    }
  }
}
