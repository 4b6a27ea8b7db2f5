/**
 * Event ids packed in numbers, for an eviction queue that keeps stamps and ids
 * alone (`eviction-queue.ts`, `keysOnly`): an id `<prefix><sequence>`, as
 * threads stamp them, is its prefix's slot and its sequence in one double; any
 * other id is kept as its string, `~k`.
 */

/** A packed id: `prefix slot × ID_SPAN + sequence`; sequences of up to 9 digits, and 2^20 prefixes, stay exact in a double. */
const ID_SPAN = 2 ** 32;
const MAX_PREFIXES = 1 << 20;

/**
 * @example
 * const packed = new PackedIds()
 * packed.unpack(packed.pack('1.0.42'))   // '1.0.42'
 */
export class PackedIds {
  #strings: string[] = [];
  readonly #prefixes: string[] = [];
  readonly #prefixSlots = new Map<string, number>();
  #lastPrefix = -1;

  /** Ids kept as strings (those that do not pack), since the last `clearStrings`. */
  get strings(): number {
    return this.#strings.length;
  }

  /** Forgets the ids kept as strings: numbers `pack` gave for them mean nothing after this. */
  clearStrings(): void {
    this.#strings = [];
  }

  /** `id` as a number: `<prefix><sequence>` packed, another id as `~k` of its string kept here. */
  pack(id: string): number {
    let cut = id.length;
    let sequence = 0;
    let unit = 1;
    while (cut > 0) {
      const code = id.charCodeAt(cut - 1);
      if (code < 48 || code > 57) break;
      sequence += (code - 48) * unit;
      unit *= 10;
      cut--;
    }
    const digits = id.length - cut;
    // A leading zero ("x.007") would not come back as it was.
    if (digits === 0 || digits > 9 || (digits > 1 && id.charCodeAt(cut) === 48)) return ~(this.#strings.push(id) - 1);
    let slot = this.#lastPrefix;
    if (slot < 0 || this.#prefixes[slot]!.length !== cut || !id.startsWith(this.#prefixes[slot]!)) {
      const prefix = id.slice(0, cut);
      const known = this.#prefixSlots.get(prefix);
      if (known !== undefined) slot = known;
      else if (this.#prefixes.length < MAX_PREFIXES) {
        slot = this.#prefixes.push(prefix) - 1;
        this.#prefixSlots.set(prefix, slot);
      } else return ~(this.#strings.push(id) - 1);
      this.#lastPrefix = slot;
    }
    return slot * ID_SPAN + sequence;
  }

  /** The id `pack` gave `packed` for. */
  unpack(packed: number): string {
    if (packed < 0) return this.#strings[~packed]!;
    const slot = Math.floor(packed / ID_SPAN);
    return this.#prefixes[slot]! + String(packed - slot * ID_SPAN);
  }
}
