/**
 * The events of one importance a memory budget may evict, with the size each
 * was counted at when it joined (`memory-budget.ts`): the budget's rule is
 * the largest first and, of equal size, the oldest, and `take` finds them
 * without sorting events by size. Entries are kept in order of `(timestamp,
 * id)`; a history that merges older events (a station, a bus reading its
 * station) puts the queue out of order, and the next `take` sorts it once
 * (runs of ordered entries: nearly linear).
 *
 * Entries of events that left the history another way (a policy, a limit, a
 * clear) stay until `prune`, or until a `take` picks them: removing them then
 * frees nothing, and the budget takes again.
 */
import type { BusEvent } from '../../types.js';
import { compareEvents } from './history-query.js';

/** What finds an event in a history: its stamp and id. */
export type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

/** Entries dropped from the front are sliced off once this many have gone. */
const COMPACT_HEAD = 4096;

/** Sorts sizes for `take`; reused, grown as needed. */
let scratch = new Float64Array(1024);

/**
 * @example
 * const queue = new EvictionQueue()
 * queue.push(event, 120)
 * queue.take(1000)   // keys and sizes of the largest, then oldest, events that free ≥ 1000 bytes
 */
export class EvictionQueue {
  #keys: EventKey[] = [];
  #sizes: number[] = [];
  #head = 0;
  #sorted = true;

  /** Entries held, stale ones included. */
  get length(): number {
    return this.#keys.length - this.#head;
  }

  /** Queues `key` (the event, or its stamp and id alone when the history may let go of the event object) at `size` bytes. */
  push(key: EventKey, size: number): void {
    const keys = this.#keys;
    if (this.#sorted && keys.length > this.#head && compareEvents(keys[keys.length - 1]!, key) > 0) this.#sorted = false;
    keys.push(key);
    this.#sizes.push(size);
  }

  /**
   * Takes entries whose sizes sum to at least `bytes` (all of them if they
   * do not): every entry larger than a threshold size, and the oldest of
   * that size, as many as still needed. Returns their keys and sizes, in
   * queue order. One pass over the sizes, a native sort of a copy only
   * when sizes differ, and one pass to pick.
   */
  take(bytes: number): { keys: EventKey[]; sizes: number[] } {
    if (!this.#sorted) this.#sort();
    const keys = this.#keys;
    const sizes = this.#sizes;
    const head = this.#head;
    const end = keys.length;
    let min = Infinity;
    let max = 0;
    let total = 0;
    for (let i = head; i < end; i++) {
      const size = sizes[i]!;
      if (size < min) min = size;
      if (size > max) max = size;
      total += size;
    }
    // Entries larger than `threshold` all go, and `atThreshold` of those of that size, the oldest.
    let threshold = max;
    let above = 0;
    let atThreshold = Math.ceil(bytes / Math.max(1, max));
    if (total <= bytes) {
      threshold = min;
      above = end - head;
      atThreshold = end - head;
    } else if (min !== max) {
      const n = end - head;
      if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
      const sorted = scratch.subarray(0, n);
      for (let i = 0; i < n; i++) sorted[i] = sizes[head + i]!;
      sorted.sort();
      let freed = 0;
      let i = n - 1;
      while (i >= 0) {
        // The run of one size, from the largest down.
        const size = sorted[i]!;
        let j = i;
        while (j >= 0 && sorted[j] === size) j--;
        const run = i - j;
        if (freed + run * size >= bytes) {
          threshold = size;
          above = n - 1 - i;
          atThreshold = Math.ceil((bytes - freed) / size);
          break;
        }
        freed += run * size;
        i = j;
      }
    }
    const takenKeys: EventKey[] = [];
    const takenSizes: number[] = [];
    let kept = head;
    let i = head;
    for (; i < end && (above > 0 || atThreshold > 0); i++) {
      const size = sizes[i]!;
      if (size > threshold || (size === threshold && atThreshold > 0)) {
        if (size > threshold) above--;
        else atThreshold--;
        takenKeys.push(keys[i]!);
        takenSizes.push(size);
      } else {
        keys[kept] = keys[i]!;
        sizes[kept] = size;
        kept++;
      }
    }
    // What was kept before `i` moves up against the untouched rest.
    const gap = i - kept;
    for (let k = kept - 1; k >= head; k--) {
      keys[k + gap] = keys[k]!;
      sizes[k + gap] = sizes[k]!;
    }
    this.#head = head + gap;
    this.#compactHead();
    return { keys: takenKeys, sizes: takenSizes };
  }

  /** Keeps only the entries for which `held` holds (the others' events left the history another way). */
  prune(held: (key: EventKey) => boolean): void {
    const keys: EventKey[] = [];
    const sizes: number[] = [];
    for (let i = this.#head; i < this.#keys.length; i++) {
      if (!held(this.#keys[i]!)) continue;
      keys.push(this.#keys[i]!);
      sizes.push(this.#sizes[i]!);
    }
    this.#keys = keys;
    this.#sizes = sizes;
    this.#head = 0;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#keys = [];
    this.#sizes = [];
    this.#head = 0;
    this.#sorted = true;
  }

  #compactHead(): void {
    if (this.#head < COMPACT_HEAD || this.#head < this.#keys.length >> 1) return;
    this.#keys = this.#keys.slice(this.#head);
    this.#sizes = this.#sizes.slice(this.#head);
    this.#head = 0;
  }

  /** Puts the entries in `(timestamp, id)` order, sizes along. */
  #sort(): void {
    const keys = this.#keys.slice(this.#head);
    const sizes = this.#sizes.slice(this.#head);
    const order = Array.from(keys, (_, i) => i).sort((a, b) => compareEvents(keys[a]!, keys[b]!));
    this.#keys = order.map((i) => keys[i]!);
    this.#sizes = order.map((i) => sizes[i]!);
    this.#head = 0;
    this.#sorted = true;
  }
}
