/**
 * Removable events a station's interest tracker holds for a reader
 * (`interest.ts`), kept as keys where the history compresses: an event held
 * as its place in the frame it came in keeps that whole frame alive (and one
 * found in a compressed block, the block's decompressed frame) until the
 * reader reads, next to the block the history keeps it in. A key is its
 * arrival number, stamp and id (packed as `ArrivalKeys` pack them), and its
 * type and sender as slots in tables shared by one tracker: 32 bytes an
 * event. What the tracker decides needs only those (`Interest` `#holder`);
 * the history finds the event again when it is released.
 */
import type { BusEvent } from '../../types.js';
import { PackedIds } from '../store/packed-ids.js';
import type { EventKey } from './arrivals.js';

/** Strings kept once by slot (types, senders): few distinct ones, each referred to by many keys. */
class Slots {
  readonly #slots = new Map<string, number>();
  readonly #values: string[] = [];

  slot(value: string): number {
    let slot = this.#slots.get(value);
    if (slot === undefined) this.#slots.set(value, (slot = this.#values.push(value) - 1));
    return slot;
  }

  at(slot: number): string {
    return this.#values[slot]!;
  }

  get size(): number {
    return this.#values.length;
  }
}

/** The tables one tracker's keys share: made again (the keys held repacked) once they keep far more than is held, so that ids and types that went do not pile up. */
export class KeyTables {
  readonly ids = new PackedIds();
  readonly types = new Slots();
  /** Senders (`originKey`s); slot 0 stands for none. */
  readonly senders = new Slots();

  constructor() {
    this.senders.slot('');
  }

  /** Strings kept that no key may need any more once none is held (ids that do not pack, types, senders). */
  get kept(): number {
    return this.ids.strings + this.types.size + this.senders.size;
  }
}

/** Events held for one reader as keys, in the order filed. */
export class WaitingKeys {
  readonly #tables: KeyTables;
  #arrivals = new Float64Array(16);
  #stamps = new Float64Array(16);
  #ids = new Float64Array(16);
  #types = new Uint32Array(16);
  #senders = new Uint32Array(16);
  #length = 0;

  constructor(tables: KeyTables) {
    this.#tables = tables;
  }

  get length(): number {
    return this.#length;
  }

  /** Files `event`, arrival `arrival`, sent by `sender`. */
  push(arrival: number, event: BusEvent, sender: string | undefined): void {
    const tables = this.#tables;
    this.#append(arrival, event.timestamp, tables.ids.pack(event.id), tables.types.slot(event.type), sender === undefined ? 0 : tables.senders.slot(sender));
  }

  /** Files key `i` of `from` (which shares these tables) here. */
  copy(from: WaitingKeys, i: number): void {
    this.#append(from.#arrivals[i]!, from.#stamps[i]!, from.#ids[i]!, from.#types[i]!, from.#senders[i]!);
  }

  arrivalAt(i: number): number {
    return this.#arrivals[i]!;
  }

  typeAt(i: number): string {
    return this.#tables.types.at(this.#types[i]!);
  }

  /** The sender of key `i`, undefined for none. */
  senderAt(i: number): string | undefined {
    const slot = this.#senders[i]!;
    return slot === 0 ? undefined : this.#tables.senders.at(slot);
  }

  keyAt(i: number): EventKey {
    return { timestamp: this.#stamps[i]!, id: this.#tables.ids.unpack(this.#ids[i]!) };
  }

  /** The keys for which `keep` holds, in order (the others' events are gone). */
  filter(keep: (i: number) => boolean): WaitingKeys {
    const kept = new WaitingKeys(this.#tables);
    for (let i = 0; i < this.#length; i++) if (keep(i)) kept.copy(this, i);
    return kept;
  }

  /** These keys, in order, in `tables` (fresh ones: what went no longer takes room in them). */
  repacked(tables: KeyTables): WaitingKeys {
    const from = this.#tables;
    const keys = new WaitingKeys(tables);
    for (let i = 0; i < this.#length; i++) {
      const slot = this.#senders[i]!;
      // Every id again: a packed one's prefix is a slot of the old tables too.
      keys.#append(this.#arrivals[i]!, this.#stamps[i]!, tables.ids.pack(from.ids.unpack(this.#ids[i]!)), tables.types.slot(from.types.at(this.#types[i]!)), slot === 0 ? 0 : tables.senders.slot(from.senders.at(slot)));
    }
    return keys;
  }

  #append(arrival: number, stamp: number, id: number, type: number, sender: number): void {
    if (this.#length === this.#arrivals.length) this.#grow(2 * this.#length);
    const at = this.#length++;
    this.#arrivals[at] = arrival;
    this.#stamps[at] = stamp;
    this.#ids[at] = id;
    this.#types[at] = type;
    this.#senders[at] = sender;
  }

  #grow(capacity: number): void {
    const grown = <T extends Float64Array | Uint32Array>(column: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(column);
      return next;
    };
    this.#arrivals = grown(this.#arrivals, (n) => new Float64Array(n));
    this.#stamps = grown(this.#stamps, (n) => new Float64Array(n));
    this.#ids = grown(this.#ids, (n) => new Float64Array(n));
    this.#types = grown(this.#types, (n) => new Uint32Array(n));
    this.#senders = grown(this.#senders, (n) => new Uint32Array(n));
  }
}
