/**
 * The keys (stamp and id) an arrival run keeps of events the history moved
 * into compressed blocks (`arrivals.ts`).
 */
import type { BusEvent } from '../../types.js';
import type { PackedIds } from '../store/packed-ids.js';

/** The order key of an event: what a run keeps of one that moved into a compressed block. */
export type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

/**
 * Events of a run that the history moved into compressed blocks, as their
 * stamps and ids alone (16 bytes an event; ids packed as `keysOnly` eviction
 * queues pack them): their places would keep the frames they came in alive
 * next to the blocks. A read finds them in the history (`Arrivals` `find`).
 */
export class ArrivalKeys {
  #stamps: Float64Array;
  #ids: Float64Array;
  #length = 0;
  readonly #packed: PackedIds;

  constructor(events: readonly EventKey[], packed: PackedIds) {
    this.#stamps = new Float64Array(events.length);
    this.#ids = new Float64Array(events.length);
    this.#packed = packed;
    this.append(events);
  }

  get length(): number {
    return this.#length;
  }

  /** Adds keys at the end (the run grows: the keys that continue it). */
  append(events: readonly EventKey[]): void {
    if (this.#length + events.length > this.#stamps.length) {
      const capacity = Math.max(this.#length + events.length, this.#stamps.length * 2);
      const stamps = new Float64Array(capacity);
      const ids = new Float64Array(capacity);
      stamps.set(this.#stamps.subarray(0, this.#length));
      ids.set(this.#ids.subarray(0, this.#length));
      this.#stamps = stamps;
      this.#ids = ids;
    }
    for (const event of events) {
      this.#stamps[this.#length] = event.timestamp;
      this.#ids[this.#length++] = this.#packed.pack(event.id);
    }
  }

  keyAt(i: number): EventKey {
    return { timestamp: this.#stamps[i]!, id: this.#packed.unpack(this.#ids[i]!) };
  }

  /** The keys at `indices` (ascending), copied as they are packed (they share this run's `PackedIds`). */
  pick(indices: readonly number[]): ArrivalKeys {
    const keys = new ArrivalKeys([], this.#packed);
    keys.#stamps = Float64Array.from(indices, (i) => this.#stamps[i]!);
    keys.#ids = Float64Array.from(indices, (i) => this.#ids[i]!);
    keys.#length = indices.length;
    return keys;
  }

  /** These keys with their ids packed again in `packed` (the old table let go). */
  repacked(packed: PackedIds): ArrivalKeys {
    const keys: EventKey[] = [];
    for (let i = 0; i < this.#length; i++) keys.push(this.keyAt(i));
    return new ArrivalKeys(keys, packed);
  }

  /** Keys `from` to `to`, copied as they are packed (they share this run's `PackedIds`). */
  slice(from: number, to = this.length): ArrivalKeys {
    const keys = new ArrivalKeys([], this.#packed);
    keys.#stamps = this.#stamps.slice(from, to);
    keys.#ids = this.#ids.slice(from, to);
    keys.#length = keys.#stamps.length;
    return keys;
  }
}
