/**
 * A Bloom filter of the ids a history segment has held (`event-segment.ts`):
 * `EventHistory.get(id)` asks each segment's filter and scans only those that
 * say "maybe". It is fed the 32-bit `idHash` the index keys are made from,
 * probes 3 bits by double hashing, and only ever says "maybe" (removals
 * leave their bits, as the segment's type mask does).
 *
 * Why a filter per segment and not a map of ids: a map costs an entry (tens
 * of bytes) per event, where a station keeps an event in little more than
 * its encoded bytes; the filter costs about a byte per event.
 */

/** Bits per event a filter is sized for: about 2 % false "maybe"s with 3 probes when it holds that many. */
const BITS_PER_EVENT = 8;
/** Fewest events a filter is sized for (32 bytes). */
const MIN_EVENTS = 32;

/**
 * A Bloom filter of id hashes, sized for a number of events (rounded up to a
 * power of two, so a probe is a mask, not a division).
 *
 * @example
 * const ids = new IdFilter(2048)       // 2 KiB
 * ids.add(idHash('0.0.7'))
 * ids.mayHold(idHash('0.0.7'))          // true
 * ids.mayHold(idHash('0.0.8'))          // false, mostly
 */
export class IdFilter {
  readonly #words: Uint32Array;
  /** Bits - 1 (bits is a power of two). */
  readonly #mask: number;
  #added = 0;

  constructor(events: number) {
    let bits = 32;
    while (bits < Math.max(MIN_EVENTS, events) * BITS_PER_EVENT) bits *= 2;
    this.#words = new Uint32Array(bits >>> 5);
    this.#mask = bits - 1;
  }

  /** True once it holds as many hashes as it was sized for: more would raise its false "maybe"s. */
  get full(): boolean {
    return this.#added * BITS_PER_EVENT >= this.#mask + 1;
  }

  /** Bytes it keeps. */
  get byteLength(): number {
    return this.#words.byteLength;
  }

  add(hash: number): void {
    // Double hashing: the second hash is the first turned by 16 bits (odd, so the 3 probes differ).
    const step = ((hash >>> 16) | (hash << 16) | 1) >>> 0;
    let bit = hash >>> 0;
    for (let k = 0; k < 3; k++) {
      const at = bit & this.#mask;
      this.#words[at >>> 5]! |= 1 << (at & 31);
      bit = (bit + step) >>> 0;
    }
    this.#added++;
  }

  /** False when no id with this hash was added; true when one may have been. */
  mayHold(hash: number): boolean {
    const step = ((hash >>> 16) | (hash << 16) | 1) >>> 0;
    let bit = hash >>> 0;
    for (let k = 0; k < 3; k++) {
      const at = bit & this.#mask;
      if ((this.#words[at >>> 5]! & (1 << (at & 31))) === 0) return false;
      bit = (bit + step) >>> 0;
    }
    return true;
  }
}
