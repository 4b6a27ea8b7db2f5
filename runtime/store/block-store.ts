/**
 * The compressed part of a history: its oldest events, in blocks
 * (`blocks.ts`), every one of them before every event the history keeps
 * uncompressed. `EventHistory` asks it first and its newest events second.
 */
import type { BusEvent } from '../../types.js';
import { EventBlock, idHashes, type BlockFormat, type EventKey } from './blocks.js';
import { compareEvents, lowerBound, type HistoryQuery } from './history-query.js';

/** Told of each event that leaves a block, with the size its history counted it at (if it counts sizes). */
export type BlockRemoval = (event: BusEvent, bytes: number | undefined) => void;

/** Caps of block merges. */
export interface BlockCaps {
  /** A merge of two blocks makes at most this many uncompressed bytes. */
  readonly maxBlockBytes: number;
  /** ...and at most this many events. */
  readonly maxBlockEvents: number;
}

/**
 * Blocks in order, each after the one before.
 *
 * @example
 * store.append(EventBlock.of(oldest, format, true))
 * store.query({ types: ['user'] })   // reads only blocks that may hold `user` events
 */
export class BlockStore {
  readonly format: BlockFormat;
  readonly #removed: BlockRemoval;
  /** Replaced on every change (never changed in place): a view holds the array it was given. */
  #blocks: readonly EventBlock[] = [];
  #size = 0;

  constructor(format: BlockFormat, removed: BlockRemoval) {
    this.format = format;
    this.#removed = removed;
  }

  /** Events held in blocks. */
  get size(): number {
    return this.#size;
  }

  /** The blocks, oldest first (an array no change touches). */
  get blocks(): readonly EventBlock[] {
    return this.#blocks;
  }

  /** Bytes the blocks keep. */
  get storedBytes(): number {
    return this.#blocks.reduce((sum, block) => sum + block.storedBytes, 0);
  }

  /** The end of the range the blocks cover (the newest event ever put in one, removed or not). */
  get lastKey(): EventKey | undefined {
    const blocks = this.#blocks;
    // Never `blocks[-1]`: a negative index is a named property to V8, looked up along the prototypes (every post asks, by `within`).
    return blocks.length === 0 ? undefined : blocks[blocks.length - 1]!.last;
  }

  /** True when `key` is at or before the end of the blocks' range: it belongs here, not after. */
  within(key: EventKey): boolean {
    const last = this.lastKey;
    return last !== undefined && compareEvents(key, last) <= 0;
  }

  /** The newest event held in blocks. */
  last(): BusEvent | undefined {
    const blocks = this.#blocks;
    if (blocks.length === 0) return undefined;
    const block = blocks[blocks.length - 1]!;
    const events = block.events();
    return events[events.length - 1];
  }

  /** Appends a block after every event held. */
  append(block: EventBlock): void {
    this.#blocks = [...this.#blocks, block];
    this.#size += block.live;
  }

  /** The block whose range may hold `key`: the last one that starts at or before it (-1 if none). */
  #blockFor(key: EventKey): number {
    let low = 0;
    let high = this.#blocks.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (compareEvents(this.#blocks[mid]!.first, key) <= 0) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /** True when an event equal to `key` in the order is held. */
  holds(key: EventKey): boolean {
    const at = this.#blockFor(key);
    return at >= 0 && this.#blocks[at]!.indexOf(key) >= 0;
  }

  /**
   * The live events equal to `keys` in the order, undefined where none is
   * held. Sorted keys (an arrival run's) are found in one pass over the
   * blocks they fall in, without their id filters; others one by one.
   */
  findAll(keys: readonly EventKey[]): Array<BusEvent | undefined> {
    const found = new Array<BusEvent | undefined>(keys.length);
    let at = -1;
    let all: readonly BusEvent[] = [];
    let position = 0;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (!this.within(key)) continue;
      if (k > 0 && compareEvents(keys[k - 1]!, key) > 0) at = -1;
      // Onto the block that may hold it: the next ones, while they start at or before it.
      const next = at >= 0 && compareEvents(this.#blocks[at]!.first, key) <= 0 ? this.#nextBlockFor(at, key) : this.#blockFor(key);
      if (next < 0) continue;
      if (next !== at) {
        at = next;
        all = this.#blocks[at]!.all();
        position = 0;
      }
      // A run's next key is most often the block's next event.
      const stop = Math.min(all.length, position + 8);
      while (position < stop && compareEvents(all[position]!, key) < 0) position++;
      if (position === stop && stop < all.length) position = lowerBound(all, key, position);
      if (position < all.length && compareEvents(all[position]!, key) === 0 && this.#blocks[at]!.isLive(position)) found[k] = all[position];
    }
    return found;
  }

  /** From block `at` (which starts at or before `key`), the last block that starts at or before it. */
  #nextBlockFor(at: number, key: EventKey): number {
    const blocks = this.#blocks;
    while (at + 1 < blocks.length && compareEvents(blocks[at + 1]!.first, key) <= 0) at++;
    return at;
  }

  /** The event with this id, if held (blocks whose id filter may hold it are read, newest first). */
  get(id: string): BusEvent | undefined {
    // Hashed once, not once per block.
    const hashes = idHashes(id);
    for (let b = this.#blocks.length - 1; b >= 0; b--) {
      const block = this.#blocks[b]!;
      if (!block.mayHold(id, hashes)) continue;
      const all = block.all();
      for (let i = 0; i < all.length; i++) if (all[i]!.id === id && block.isLive(i)) return all[i];
    }
    return undefined;
  }

  /** Every event held, oldest first. */
  all(): BusEvent[] {
    return this.#blocks.flatMap((block) => block.events());
  }

  /** The events that match `query`, oldest first; a block that cannot match is not read. */
  query(query: HistoryQuery): BusEvent[] {
    return this.#blocks.flatMap((block) => block.query(query));
  }

  /**
   * Takes out every block from the one that may hold `key` to the last, and
   * returns their events, oldest first: what the history keeps uncompressed
   * again, because an event arrived in their range. No event leaves.
   */
  thawFrom(key: EventKey): BusEvent[] {
    const at = Math.max(0, this.#blockFor(key));
    const thawed = this.#blocks.slice(at);
    this.#blocks = this.#blocks.slice(0, at);
    const events = thawed.flatMap((block) => block.events());
    this.#size -= events.length;
    return events;
  }

  /** Removes these events (those not held are skipped). Returns the removed ones. */
  remove(events: readonly BusEvent[]): BusEvent[] {
    const byBlock = new Map<number, number[]>();
    const removed: BusEvent[] = [];
    for (const event of events) {
      const at = this.#blockFor(event);
      if (at < 0) continue;
      const index = this.#blocks[at]!.indexOf(event);
      if (index < 0) continue;
      const marks = byBlock.get(at);
      if (marks === undefined) byBlock.set(at, [index]);
      else if (!marks.includes(index)) marks.push(index);
      else continue;
    }
    if (byBlock.size === 0) return removed;
    const blocks = this.#blocks.slice();
    for (const [at, indices] of byBlock) {
      const block = blocks[at]!;
      const all = block.all();
      indices.sort((a, b) => a - b);
      for (const index of indices) {
        removed.push(all[index]!);
        this.#removed(all[index]!, block.sizeAt(index));
      }
      this.#size -= indices.length;
      blocks[at] = block.without(indices) as EventBlock;
    }
    this.#blocks = blocks.filter((block) => block !== undefined);
    return removed.sort(compareEvents);
  }

  /** Removes every event for which `predicate` holds; returns them, oldest first. */
  removeWhere(predicate: (event: BusEvent) => boolean): BusEvent[] {
    const found: BusEvent[] = [];
    for (const block of this.#blocks) for (const event of block.events()) if (predicate(event)) found.push(event);
    return found.length === 0 ? found : this.remove(found);
  }

  /** Up to `count` events for which `predicate` holds, oldest first (nothing changes). */
  oldest(count: number, predicate?: (event: BusEvent) => boolean, pattern?: string, until = Infinity): BusEvent[] {
    const found: BusEvent[] = [];
    for (const block of this.#blocks) {
      if (found.length >= count || block.first.timestamp > until) break;
      if (pattern !== undefined && !block.mayHoldType(pattern)) continue;
      for (const event of block.events()) {
        if (event.timestamp > until) return found;
        if (predicate !== undefined && !predicate(event)) continue;
        found.push(event);
        if (found.length >= count) return found;
      }
    }
    return found;
  }

  /** Removes everything; returns what was held, oldest first. */
  clear(): BusEvent[] {
    const all = this.all();
    this.#blocks = [];
    this.#size = 0;
    return all;
  }

  /**
   * One step of recompression: merges the first two neighbouring blocks that
   * fit `caps` together and are of about one size (`mergeable`), or rewrites
   * the first block that has lost most of its events. Returns false when
   * there was nothing to do.
   */
  mergeStep(caps: BlockCaps, compressible: (events: readonly BusEvent[]) => boolean): boolean {
    const blocks = this.#blocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      const next = blocks[i + 1];
      if (next !== undefined && mergeable(block, next, caps)) {
        // Copied as bytes: a merge decodes no payload.
        const events = block.storedEvents().concat(next.storedEvents());
        this.#blocks = [...blocks.slice(0, i), EventBlock.of(events, this.format, compressible(events)), ...blocks.slice(i + 2)];
        return true;
      }
      if (block.live * 2 < block.count) {
        const events = block.storedEvents();
        this.#blocks = [...blocks.slice(0, i), EventBlock.of(events, this.format, compressible(events)), ...blocks.slice(i + 1)];
        return true;
      }
    }
    return false;
  }
}

/** Below this many uncompressed bytes a block merges with a neighbour of any size (a block that removals left small). */
const SMALL_BLOCK_BYTES = 8 * 1024;

/**
 * True when `a` and `b` (neighbours) may merge: together within `caps`, and
 * the larger at most twice the smaller (size-tiered: the block an event is in
 * then grows by half at least at each merge, so an event is recompressed a
 * logarithmic number of times; merging each new block into one growing block
 * recompressed its events up to `maxBlockBytes / blockBytes` times), or the
 * smaller one is small.
 */
function mergeable(a: EventBlock, b: EventBlock, caps: BlockCaps): boolean {
  const [small, large] = a.liveBodyBytes <= b.liveBodyBytes ? [a.liveBodyBytes, b.liveBodyBytes] : [b.liveBodyBytes, a.liveBodyBytes];
  if (small + large > caps.maxBlockBytes || a.live + b.live > caps.maxBlockEvents) return false;
  return large <= 2 * small || small < SMALL_BLOCK_BYTES;
}
