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
 * Each event is remembered by its stamp and a 64-bit hash of its id: an
 * event is taken for one let go only if both match, which two ids of one
 * stamp do with a chance of 2^-64. Not a Bloom filter (`id-filter.ts`),
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
 * out a quiet one's. The root's own processor (0) is never remembered: its
 * local stations reach the main stations in the same thread (no Ack to lose)
 * and it never restarts on its own, and a runtime in one process pays
 * nothing. A push looks its events up by stamp (an `EncodedEvent` has it
 * without decoding), an event stamped after all those remembered (a new one,
 * mostly: what leaves a history was there before) not at all; only where a
 * stamp matches is the event's id read and hashed.
 */
import type { BusEvent } from '../../types.js';

/** How many events it let go a main station remembers per child processor, at most. */
export const LET_GO_REMEMBERED = 16_384;
/** How many it remembers in all, at most: past that, a processor with more than its share forgets its oldest first. */
export const LET_GO_REMEMBERED_IN_ALL = 65_536;

/** Slots the table starts with; it doubles whenever it would be more than half full. */
const FIRST_SLOTS = 1024;
/** Forgotten entries at the front of a `Remembered` that are cut off at once, when they are half of it. */
const CUT_FROM = 1024;

/** The events of one processor remembered, oldest first from `head`: stamps and id hashes side by side. */
interface Remembered {
  stamps: number[];
  low: number[];
  high: number[];
  head: number;
}

/** A stamp's bits, for hashing it. */
const stampBits = new Float64Array(1);
const stampWords = new Int32Array(stampBits.buffer);
/** The id hash `hashId` wrote last. */
const idWords = new Int32Array(2);

/** Two 32-bit hashes of `id` into `idWords`: FNV-1a and a second multiplicative one, each with murmur3's finalizer. */
function hashId(id: string): void {
  let low = 0x811c9dc5;
  let high = 0x9e3779b1;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    low = Math.imul(low ^ c, 0x01000193);
    high = Math.imul(high ^ c, 0x5bd1e995);
  }
  low = Math.imul(low ^ (low >>> 16), 0x85ebca6b);
  high = Math.imul(high ^ (high >>> 13), 0xc2b2ae35);
  idWords[0] = low ^ (low >>> 13);
  idWords[1] = high ^ (high >>> 16);
}

/**
 * @example
 * const letGo = new LetGoIds()
 * letGo.remember(evicted)              // a main station's removals
 * const history = letGo.notLetGo(batch.history)   // what a push brings, without those
 */
export class LetGoIds {
  /**
   * Every event remembered by its stamp, in an open-addressed table (linear
   * probing): typed, so that remembering allocates nothing per event and the
   * collector has nothing in it to trace. Threads may stamp alike: one stamp
   * may fill several slots.
   */
  #stamps: Float64Array;
  #low: Int32Array;
  #high: Int32Array;
  #used: Uint8Array;
  /** 32 - log2(slots): a hash's top bits are its slot. */
  #shift: number;
  /** Per origin processor, for forgetting each one's oldest. */
  readonly #origins = new Map<number, Remembered>();
  #size = 0;
  /** No event remembered has a later stamp (those forgotten may have had). */
  #latest = -Infinity;
  readonly #perOrigin: number;
  readonly #inAll: number;
  readonly #firstSlots: number;

  /** @param slots the table's first size, a power of two (tests start it small); made once something is let go. */
  constructor(perOrigin = LET_GO_REMEMBERED, inAll = LET_GO_REMEMBERED_IN_ALL, slots = FIRST_SLOTS) {
    this.#perOrigin = perOrigin;
    this.#inAll = inAll;
    this.#firstSlots = slots;
    this.#stamps = new Float64Array(0);
    this.#low = new Int32Array(0);
    this.#high = new Int32Array(0);
    this.#used = new Uint8Array(0);
    this.#shift = 32;
  }

  /** Events remembered. */
  get size(): number {
    return this.#size;
  }

  /**
   * Remembers the child processors' events among `removed`. A processor past
   * its `perOrigin` forgets its oldest; past `inAll` in all, the processor
   * that just added does if it holds its share or more, else the one that
   * holds the most.
   */
  remember(removed: readonly BusEvent[]): void {
    for (const event of removed) {
      const id = event.id;
      const processor = processorOf(id, event);
      if (processor === 0) continue;
      let remembered = this.#origins.get(processor);
      if (remembered === undefined) this.#origins.set(processor, (remembered = { stamps: [], low: [], high: [], head: 0 }));
      const stamp = event.timestamp;
      if (stamp > this.#latest) this.#latest = stamp;
      hashId(id);
      const low = idWords[0]!;
      const high = idWords[1]!;
      remembered.stamps.push(stamp);
      remembered.low.push(low);
      remembered.high.push(high);
      if (++this.#size * 2 > this.#used.length) this.#grow();
      this.#insert(stamp, low, high);
      const held = remembered.stamps.length - remembered.head;
      if (held > this.#perOrigin) this.#forgetOldest(remembered);
      else if (this.#size > this.#inAll) this.#forgetOldest(held * this.#origins.size >= this.#inAll ? remembered : this.#most());
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

  /** The processor that holds the most (the first of them). */
  #most(): Remembered {
    let most: Remembered | undefined;
    for (const remembered of this.#origins.values()) {
      if (most === undefined || remembered.stamps.length - remembered.head > most.stamps.length - most.head) most = remembered;
    }
    return most!;
  }

  #forgetOldest(remembered: Remembered): void {
    const at = remembered.head++;
    this.#delete(remembered.stamps[at]!, remembered.low[at]!, remembered.high[at]!);
    this.#size--;
    if (remembered.head >= CUT_FROM && remembered.head * 2 >= remembered.stamps.length) {
      remembered.stamps = remembered.stamps.slice(remembered.head);
      remembered.low = remembered.low.slice(remembered.head);
      remembered.high = remembered.high.slice(remembered.head);
      remembered.head = 0;
    }
  }

  #slotOf(stamp: number): number {
    stampBits[0] = stamp;
    return Math.imul(stampWords[0]! ^ stampWords[1]!, 0x9e3779b1) >>> this.#shift;
  }

  #holds(event: BusEvent): boolean {
    const stamps = this.#stamps;
    const used = this.#used;
    const mask = used.length - 1;
    const stamp = event.timestamp;
    let hashed = false;
    for (let slot = this.#slotOf(stamp); used[slot] === 1; slot = (slot + 1) & mask) {
      if (stamps[slot] !== stamp) continue;
      // Only where a stamp matches is the event's id read (an `EncodedEvent` decodes it) and hashed.
      if (!hashed) hashId(event.id);
      hashed = true;
      if (this.#low[slot] === idWords[0] && this.#high[slot] === idWords[1]) return true;
    }
    return false;
  }

  #insert(stamp: number, low: number, high: number): void {
    const used = this.#used;
    const mask = used.length - 1;
    let slot = this.#slotOf(stamp);
    while (used[slot] === 1) slot = (slot + 1) & mask;
    this.#stamps[slot] = stamp;
    this.#low[slot] = low;
    this.#high[slot] = high;
    used[slot] = 1;
  }

  /** Empties the slot of this entry, moving back the entries after it that probed past it (no tombstones). */
  #delete(stamp: number, low: number, high: number): void {
    const stamps = this.#stamps;
    const lows = this.#low;
    const highs = this.#high;
    const used = this.#used;
    const mask = used.length - 1;
    let hole = this.#slotOf(stamp);
    while (used[hole] === 1 && (stamps[hole] !== stamp || lows[hole] !== low || highs[hole] !== high)) hole = (hole + 1) & mask;
    if (used[hole] === 0) return;
    used[hole] = 0;
    for (let slot = (hole + 1) & mask; used[slot] === 1; slot = (slot + 1) & mask) {
      const home = this.#slotOf(stamps[slot]!);
      // It stays unless the hole lies on its probe path, from its home slot to where it is.
      if (((slot - home) & mask) < ((slot - hole) & mask)) continue;
      stamps[hole] = stamps[slot]!;
      lows[hole] = lows[slot]!;
      highs[hole] = highs[slot]!;
      used[hole] = 1;
      used[slot] = 0;
      hole = slot;
    }
  }

  #grow(): void {
    const [stamps, lows, highs, used] = [this.#stamps, this.#low, this.#high, this.#used];
    const slots = used.length === 0 ? this.#firstSlots : used.length * 2;
    this.#stamps = new Float64Array(slots);
    this.#low = new Int32Array(slots);
    this.#high = new Int32Array(slots);
    this.#used = new Uint8Array(slots);
    this.#shift = 32 - Math.log2(slots);
    for (let slot = 0; slot < used.length; slot++) if (used[slot] === 1) this.#insert(stamps[slot]!, lows[slot]!, highs[slot]!);
  }
}

/**
 * The processor of an event let go: read from its id where the id is one a
 * thread stamped (`<processor>.<thread>.…`), which is at hand, rather than
 * from its origin, which an `EncodedEvent` decodes into an object.
 */
function processorOf(id: string, event: BusEvent): number {
  let processor = 0;
  for (let i = 0; i < id.length && i < 10; i++) {
    const code = id.charCodeAt(i);
    if (code === 46) return i === 0 ? event.origin.processor : processor;
    if (code < 48 || code > 57) break;
    processor = processor * 10 + code - 48;
  }
  return event.origin.processor;
}
