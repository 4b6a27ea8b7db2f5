/**
 * The events of one importance a memory budget may evict, with the size each
 * was counted at when it joined (`memory-budget.ts`): the budget's rule is
 * the largest first and, of sizes in one class (`sizeClass`), the oldest,
 * and `take` finds them without sorting events by size. Entries are kept in order of `(timestamp,
 * id)`; a history that merges older events (a station, a bus reading its
 * station) puts the queue out of order, and the next `take` sorts it once
 * (runs of ordered entries: nearly linear).
 *
 * Entries of events that left the history another way (a policy, a limit, a
 * clear) stay until `prune`, or until a `take` picks them: removing them then
 * frees nothing, and the budget takes again.
 *
 * An event still in its frame (a station's `EncodedEvent`) is queued as its
 * place there, the frame and an index, not as the object: a station keeps
 * such events as places (`event-segment.ts`), and an object per queued event
 * would cost more than the event's own bytes. `take` makes the object again.
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import type { FrameMoves } from './frame-moves.js';
import { compareEvents } from './history-query.js';

/** What finds an event in a history: its stamp and id. */
export type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

/** Entries dropped from the front are sliced off once this many have gone. */
const COMPACT_HEAD = 4096;

/** Sizes within this factor of the largest (and of each other, below it) count as equal for eviction: then the oldest goes first. */
export const SIZE_STEP = 1.25;
const LOG_STEP = Math.log(SIZE_STEP);

/**
 * An event's size class below the largest (0: within `SIZE_STEP` of it). Exact bytes would let a byte more
 * (an id one digit longer, a frame laid out differently) put every new event before every old one: a history
 * at its budget would then evict each new event as it comes and keep its old ones for good.
 */
export function sizeClass(largest: number, size: number): number {
  return size >= largest ? 0 : Math.floor(Math.log(largest / size) / LOG_STEP);
}

/**
 * @example
 * const queue = new EvictionQueue()
 * queue.push(event, 120)
 * queue.take(1000)   // keys and sizes of the largest, then oldest, events that free ≥ 1000 bytes
 */
export class EvictionQueue {
  /** Each entry's key, or the frame its event is in (then `#places` has its index there). */
  #keys: Array<EventKey | EncodedBatch> = [];
  /** The index of an entry's event in its frame, or -1 when `#keys` holds the key itself. */
  #places: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  #sorted = true;
  /** The newest key pushed (the last in order after a sort): whether the next one comes after it. A take or a prune only leaves older ones. */
  #last: EventKey | undefined;

  /** Entries held, stale ones included. */
  get length(): number {
    return this.#keys.length - this.#head;
  }

  /** Queues `key` (the event, or its stamp and id alone when the history may let go of the event object) at `size` bytes. */
  push(key: EventKey, size: number): void {
    if (this.#sorted && this.#last !== undefined && this.#keys.length > this.#head && compareEvents(this.#last, key) > 0) this.#sorted = false;
    this.#last = key;
    if (key instanceof EncodedEvent && key.constructor === EncodedEvent) {
      this.#keys.push(key.batch);
      this.#places.push(key.index);
    } else {
      this.#keys.push(key);
      this.#places.push(-1);
    }
    this.#sizes.push(size);
  }

  /** The key of entry `i`: the one queued, or its event made again from its place in its frame. */
  #keyAt(i: number): EventKey {
    const place = this.#places[i]!;
    return place < 0 ? (this.#keys[i] as EventKey) : new EncodedEvent(this.#keys[i] as EncodedBatch, place);
  }

  /**
   * Takes entries whose sizes sum to at least `bytes` (all of them if they
   * do not): the largest first, by size class (`sizeClass`), and within a
   * class the oldest. Returns their keys and sizes, in queue order. Two
   * passes over the sizes (bytes per class, then the pick) and one to move
   * what stays; no sort.
   */
  take(bytes: number): { keys: EventKey[]; sizes: number[] } {
    if (!this.#sorted) this.#sort();
    const keys = this.#keys;
    const places = this.#places;
    const sizes = this.#sizes;
    const head = this.#head;
    const end = keys.length;
    let largest = 0;
    for (let i = head; i < end; i++) if (sizes[i]! > largest) largest = sizes[i]!;
    // Bytes held in each class, from the largest (class 0) down.
    const perClass: number[] = [];
    for (let i = head; i < end; i++) {
      const c = sizeClass(largest, sizes[i]!);
      perClass[c] = (perClass[c] ?? 0) + sizes[i]!;
    }
    // Every class before `threshold` goes whole; of `threshold`, the oldest until `rest` bytes are freed.
    let threshold = perClass.length;
    let rest = 0;
    let freed = 0;
    for (let c = 0; c < perClass.length; c++) {
      const held = perClass[c] ?? 0;
      if (freed + held >= bytes) {
        threshold = c;
        rest = bytes - freed;
        break;
      }
      freed += held;
    }
    let whole = 0;
    for (let c = 0; c < threshold && c < perClass.length; c++) whole += perClass[c] ?? 0;
    const takenKeys: EventKey[] = [];
    const takenSizes: number[] = [];
    let kept = head;
    let i = head;
    for (; i < end && (whole > 0 || rest > 0); i++) {
      const size = sizes[i]!;
      const c = sizeClass(largest, size);
      if (c < threshold || (c === threshold && rest > 0)) {
        if (c < threshold) whole -= size;
        else rest -= size;
        takenKeys.push(this.#keyAt(i));
        takenSizes.push(size);
      } else {
        keys[kept] = keys[i]!;
        places[kept] = places[i]!;
        sizes[kept] = size;
        kept++;
      }
    }
    // What was kept before `i` moves up against the untouched rest.
    const gap = i - kept;
    for (let k = kept - 1; k >= head; k--) {
      keys[k + gap] = keys[k]!;
      places[k + gap] = places[k]!;
      sizes[k + gap] = sizes[k]!;
    }
    // The slots left behind let go of what they held (a key may be a frame of many events).
    keys.fill(undefined as never, head, head + gap);
    this.#head = head + gap;
    this.#compactHead();
    return { keys: takenKeys, sizes: takenSizes };
  }

  /** Keeps only the entries for which `held` holds (the others' events left the history another way). */
  prune(held: (key: EventKey) => boolean): void {
    const keys: Array<EventKey | EncodedBatch> = [];
    const places: number[] = [];
    const sizes: number[] = [];
    for (let i = this.#head; i < this.#keys.length; i++) {
      if (!held(this.#keyAt(i))) continue;
      keys.push(this.#keys[i]!);
      places.push(this.#places[i]!);
      sizes.push(this.#sizes[i]!);
    }
    this.#keys = keys;
    this.#places = places;
    this.#sizes = sizes;
    this.#head = 0;
  }

  /**
   * Entries of events that moved out of sparse frames (`frame-moves.ts`) follow
   * them; an entry of such a frame whose event did not move (it left the
   * history, or sits in a compressed block) keeps its stamp and id alone. None
   * holds an old frame after this.
   */
  relocate(moves: FrameMoves): void {
    const keys = this.#keys;
    const places = this.#places;
    for (let i = this.#head; i < keys.length; i++) {
      const place = places[i]!;
      const moved = place < 0 ? undefined : moves.get(keys[i] as EncodedBatch);
      if (moved === undefined) continue;
      const to = moved[place];
      if (to !== undefined) {
        keys[i] = to.batch;
        places[i] = to.index;
      } else {
        const { timestamp, id } = this.#keyAt(i);
        keys[i] = { timestamp, id };
        places[i] = -1;
      }
    }
    if (this.#last !== undefined) this.#last = { timestamp: this.#last.timestamp, id: this.#last.id };
  }

  /** Forgets every entry. */
  clear(): void {
    this.#keys = [];
    this.#places = [];
    this.#sizes = [];
    this.#head = 0;
    this.#sorted = true;
    this.#last = undefined;
  }

  #compactHead(): void {
    if (this.#head < COMPACT_HEAD || this.#head < this.#keys.length >> 1) return;
    this.#keys = this.#keys.slice(this.#head);
    this.#places = this.#places.slice(this.#head);
    this.#sizes = this.#sizes.slice(this.#head);
    this.#head = 0;
  }

  /** Puts the entries in `(timestamp, id)` order, sizes along. */
  #sort(): void {
    const head = this.#head;
    const order = Array.from({ length: this.#keys.length - head }, (_, i) => head + i);
    const at = order.map((i) => this.#keyAt(i));
    order.sort((a, b) => compareEvents(at[a - head]!, at[b - head]!));
    this.#keys = order.map((i) => this.#keys[i]!);
    this.#places = order.map((i) => this.#places[i]!);
    this.#sizes = order.map((i) => this.#sizes[i]!);
    this.#head = 0;
    this.#sorted = true;
    // The newest pushed may not be the last in order.
    this.#last = at.length === 0 ? undefined : this.#keyAt(this.#keys.length - 1);
  }
}
