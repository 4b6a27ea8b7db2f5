/**
 * The events of one importance a memory budget may evict, with the size each was counted at (`memory-budget.ts`):
 * the budget's rule is the largest first and, of sizes in one class (`sizeClass`), the oldest, and `take` finds them
 * without sorting events by size. Entries are kept in order of `(timestamp, id)`; a history that merges older events
 * (a station, a bus reading its station) puts the queue out of order, and the next `take` sorts it once. Entries of
 * events that left the history another way (a policy, a limit, a clear) stay until `prune`, or until a `take` picks
 * them: removing them then frees nothing, and the budget takes again.
 *
 * The queue is columnar, and costs a few bytes per event, not an object:
 * - a run of events that follow each other in one frame (a station's `EncodedEvent`s, a bus's once a sync framed
 *   them: `adopt`) is one entry, the frame and an integer (first index, count), ~0.05 B an event in 256-event
 *   frames; their sizes are read from the frame (`framedBytes`);
 * - another event is an entry of its own: the object and its size, 12 B;
 * - with `keysOnly` (the history moves events into compressed blocks: a queued object or frame would outlive them),
 *   an event is its stamp, its id packed in a number (`<prefix><sequence>`, as threads stamp them; other ids as
 *   strings) and its size: 20 B, where a `{ timestamp, id }` object and the id string kept alive with it cost ~90.
 * `take` makes the keys again (an `EncodedEvent` of a run's frame, a `{ timestamp, id }`).
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import { movedKey, type FrameMoves } from './frame-moves.js';
import { compareEvents } from './history-query.js';
import { PackedIds } from './packed-ids.js';
import { QueueColumns, type EventKey, type Piece } from './queue-columns.js';
import { framedBytes, sizeClass } from './size-classes.js';

export { SIZE_STEP, framedBytes, sizeClass } from './size-classes.js';

export type { EventKey } from './queue-columns.js';

/** Entries dropped from the front are sliced off once this many have gone. */
const COMPACT_HEAD = 4096;

/** A run is `~(start * RUN_SPAN + count)` in `#nums` (negative); an entry of one event, its size (0 or more). */
const RUN_SPAN = 1 << 11;
const MAX_RUN = RUN_SPAN - 1;
/** Frame indices a run can start at: 2^20 × 2^11 stays within an int32. */
const MAX_START = 1 << 20;

/**
 * @example
 * const queue = new EvictionQueue()
 * queue.push(event, 120)
 * queue.take(1000)   // keys and sizes of the largest, then oldest, events that free ≥ 1000 bytes
 */
export class EvictionQueue {
  /** Queue stamps and ids, never events or their frames (see the module's note). */
  readonly #keysOnly: boolean;
  /** The entries (`queue-columns.ts`). */
  #c: QueueColumns;
  readonly #packed = new PackedIds();
  /** Events held (a run counts its events), stale ones included. */
  #events = 0;
  #sorted = true;
  /** The newest key pushed (the last in order after a sort): whether the next one comes after it. A take or a prune only leaves older ones. */
  #lastStamp = 0;
  #last: EventKey | undefined;
  /** The last id pushed, with `keysOnly` (no event is kept). */
  #lastId: string | undefined;
  /**
   * Entries held at each size (stale ones included), kept as they come and go: `take` finds the largest and the
   * bytes of each class from the distinct sizes, not by reading every event's size from its frame (which made a
   * round at a 32 MiB budget cost tens of ms).
   */
  #bySize = new Map<number, number>();

  /** @param options.keysOnly keep stamps and ids alone: the history may let go of the events and of their frames. */
  constructor(options: { keysOnly?: boolean } = {}) {
    this.#keysOnly = options.keysOnly ?? false;
    this.#c = new QueueColumns(this.#keysOnly);
  }

  /** Events held, stale ones included. */
  get length(): number {
    return this.#events;
  }

  /** Entries in the columns: a run of a frame's events is one (for tests). */
  get entries(): number {
    return this.#c.end - this.#c.head;
  }

  /** Queues `event` at `size` bytes. */
  push(event: EventKey, size: number): void {
    if (this.#keysOnly) {
      const id = event.id;
      if (this.#sorted && this.#events > 0 && this.#outOfOrder(event.timestamp, id)) this.#sorted = false;
      this.#lastStamp = event.timestamp;
      this.#last = undefined;
      this.#lastId = id;
      this.#c.append(undefined, size, event.timestamp, this.#packed.pack(id));
    } else {
      if (this.#sorted && this.#events > 0 && this.#outOfOrder(event.timestamp, event)) this.#sorted = false;
      this.#lastStamp = event.timestamp;
      this.#last = event;
      this.#lastId = undefined;
      this.#pushPlace(event, size);
    }
    this.#events++;
    this.#tally(size, 1);
  }

  /** `delta` entries more (or fewer) at `size`. */
  #tally(size: number, delta: number): void {
    const count = (this.#bySize.get(size) ?? 0) + delta;
    if (count > 0) this.#bySize.set(size, count);
    else this.#bySize.delete(size);
  }

  /** True when the key `(stamp, id)` comes before the last pushed; ids are read only on a tie of stamps. */
  #outOfOrder(stamp: number, id: string | EventKey): boolean {
    if (stamp !== this.#lastStamp) return stamp < this.#lastStamp;
    const last = this.#lastId ?? this.#last!.id;
    return (typeof id === 'string' ? id : id.id) < last;
  }

  /** An event of a frame joins the run it continues, or starts one; another is an entry of its own. */
  #pushPlace(event: EventKey, size: number): void {
    if (event instanceof EncodedEvent && event.constructor === EncodedEvent && event.index < MAX_START && framedBytes(event.batch, event.index) === size) {
      const last = this.#c.end - 1;
      if (last >= this.#c.head && this.#c.heads[last] === event.batch) {
        const num = this.#c.nums[last]!;
        if (num < 0) {
          const run = ~num;
          const count = run % RUN_SPAN;
          if ((run - count) / RUN_SPAN + count === event.index && count < MAX_RUN) {
            this.#c.nums[last] = num - 1;
            if (size > this.#c.peaks![last]!) this.#c.peaks![last] = size;
            return;
          }
        }
      }
      this.#c.append(event.batch, ~(event.index * RUN_SPAN + 1), 0, 0, size);
      return;
    }
    this.#c.append(event, size, 0, 0, 0);
  }

  /** Events in entry `i`: a run's count, or 1. */
  #countOf(i: number): number {
    const num = this.#c.nums[i]!;
    return this.#keysOnly || num >= 0 ? 1 : ~num % RUN_SPAN;
  }

  /** The size of event `k` of entry `i`. */
  #sizeAt(i: number, k: number): number {
    const num = this.#c.nums[i]!;
    if (this.#keysOnly || num >= 0) return num;
    const run = ~num;
    return framedBytes(this.#c.heads[i] as EncodedBatch, (run - (run % RUN_SPAN)) / RUN_SPAN + k);
  }

  /** The key of event `k` of entry `i`: the one queued, its event made again from its frame, or its stamp and id. */
  #keyAt(i: number, k: number): EventKey {
    if (this.#keysOnly) return { timestamp: this.#c.stamps![i]!, id: this.#packed.unpack(this.#c.ids![i]!) };
    const num = this.#c.nums[i]!;
    if (num >= 0) return this.#c.heads[i] as EventKey;
    const run = ~num;
    return new EncodedEvent(this.#c.heads[i] as EncodedBatch, (run - (run % RUN_SPAN)) / RUN_SPAN + k);
  }

  /** Entry `i`, or the events `[from, from + count)` of its run, as a piece to write back. */
  #piece(i: number, from: number, count: number): Piece {
    const num = this.#c.nums[i]!;
    if (this.#keysOnly) return { head: undefined, num, stamp: this.#c.stamps![i]!, id: this.#c.ids![i]!, peak: 0 };
    if (num >= 0) return { head: this.#c.heads[i], num, stamp: 0, id: 0, peak: 0 };
    const run = ~num;
    const start = (run - (run % RUN_SPAN)) / RUN_SPAN;
    return { head: this.#c.heads[i], num: ~((start + from) * RUN_SPAN + count), stamp: 0, id: 0, peak: this.#c.peaks![i]! };
  }

  /**
   * Takes entries whose sizes sum to at least `bytes` (all of them if they
   * do not): the largest first, by size class (`sizeClass`), and within a
   * class the oldest. Returns their keys and sizes, in queue order. The bytes
   * of each class come from the sizes tallied as entries came and went; one
   * pass, from the oldest and only as far as the last entry taken, picks and
   * moves what stays, in place, as an array of each column would; no sort,
   * no object per entry kept. A run's sizes are read from its frame, and the
   * class of a size is worked out again only when the size changes.
   */
  take(bytes: number): { keys: EventKey[]; sizes: number[] } {
    if (!this.#sorted) this.#sort();
    const head = this.#c.head;
    const end = this.#c.end;
    const nums = this.#c.nums;
    const heads = this.#c.heads;
    const largest = this.#largest();
    // Bytes held in each class, from the largest (class 0) down.
    const perClass = this.#bytesPerClass(largest);
    let lastSize = -1;
    let lastClass = 0;
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
    // What stays of the entries looked at is written again from `head` on (`kept`: the next slot), in order:
    // whole entries, and the parts of runs between taken events. A run cut in more parts than the slots
    // looked at frees spills them (`spill`), and the columns are made again.
    const keysOnly = this.#keysOnly;
    const stamps = this.#c.stamps;
    const ids = this.#c.ids;
    const peaks = this.#c.peaks;
    let kept = head;
    let spill: Piece[] | undefined;
    let i = head;
    for (; i < end && (whole > 0 || rest > 0); i++) {
      const num = nums[i]!;
      if (num >= 0) {
        if (num !== lastSize) lastClass = sizeClass(largest, (lastSize = num));
        if (lastClass > threshold || (lastClass === threshold && rest <= 0)) {
          if (spill !== undefined) spill.push(this.#piece(i, 0, 1));
          else {
            if (keysOnly) {
              stamps![kept] = stamps![i]!;
              ids![kept] = ids![i]!;
            } else heads[kept] = heads[i];
            nums[kept++] = num;
          }
          continue;
        }
        if (lastClass < threshold) whole -= num;
        else rest -= num;
        takenKeys.push(this.#keyAt(i, 0));
        takenSizes.push(num);
        this.#tally(num, -1);
        continue;
      }
      const { batch, start, count } = this.#run(i, num);
      const peak = peaks![i]!;
      const peakClass = sizeClass(largest, peak);
      if (peakClass > threshold || (peakClass === threshold && rest <= 0)) {
        // No event of this run is taken: it stays whole, its sizes unread.
        if (spill !== undefined) spill.push(this.#piece(i, 0, count));
        else [heads[kept], peaks![kept], nums[kept++]] = [batch, peak, num];
        continue;
      }
      let keptFrom = 0;
      for (let k = 0; k <= count; k++) {
        let taken = false;
        if (k < count && (whole > 0 || rest > 0)) {
          const size = framedBytes(batch, start + k);
          if (size !== lastSize) lastClass = sizeClass(largest, (lastSize = size));
          if (lastClass < threshold || (lastClass === threshold && rest > 0)) {
            if (lastClass < threshold) whole -= size;
            else rest -= size;
            takenKeys.push(new EncodedEvent(batch, start + k));
            takenSizes.push(size);
            this.#tally(size, -1);
            taken = true;
          } else continue;
        }
        // The part kept before event `k` (taken, or the end of the run), if any.
        const part = (taken ? k : count) - keptFrom;
        if (part > 0) {
          const partNum = ~((start + keptFrom) * RUN_SPAN + part);
          if (spill === undefined && kept <= i) {
            heads[kept] = batch;
            peaks![kept] = peak;
            nums[kept++] = partNum;
          } else (spill ??= []).push({ head: batch, num: partNum, stamp: 0, id: 0, peak });
        }
        if (!taken) break;
        keptFrom = k + 1;
      }
    }
    this.#events -= takenKeys.length;
    if (spill === undefined) {
      // What was kept moves up against the untouched rest; the slots left behind let go of what they held (a frame of many events).
      const gap = i - kept;
      for (let k = kept - 1; k >= head; k--) {
        if (keysOnly) {
          stamps![k + gap] = stamps![k]!;
          ids![k + gap] = ids![k]!;
        } else {
          heads[k + gap] = heads[k];
          peaks![k + gap] = peaks![k]!;
        }
        nums[k + gap] = nums[k]!;
      }
      if (!keysOnly) heads.fill(undefined, head, head + gap);
      this.#c.head = head + gap;
    } else {
      this.#rebuild([...this.#pieces(head, kept), ...spill, ...this.#pieces(i, end)]);
    }
    this.#compactHead();
    return { keys: takenKeys, sizes: takenSizes };
  }

  /** The largest size held. */
  #largest(): number {
    let largest = 0;
    for (const size of this.#bySize.keys()) if (size > largest) largest = size;
    return largest;
  }

  /** Bytes held in each size class below `largest` (`sizeClass`; class 0 first). */
  #bytesPerClass(largest: number): number[] {
    const perClass: number[] = [];
    for (const [size, count] of this.#bySize) {
      const c = sizeClass(largest, size);
      perClass[c] = (perClass[c] ?? 0) + size * count;
    }
    return perClass;
  }

  /** The run of entry `i` (`num`: its number, negative). */
  #run(i: number, num: number): { batch: EncodedBatch; start: number; count: number } {
    const run = ~num;
    const count = run % RUN_SPAN;
    return { batch: this.#c.heads[i] as EncodedBatch, start: (run - count) / RUN_SPAN, count };
  }

  /** Entries `[from, to)` as pieces. */
  #pieces(from: number, to: number): Piece[] {
    const pieces: Piece[] = [];
    for (let i = from; i < to; i++) pieces.push(this.#piece(i, 0, this.#countOf(i)));
    return pieces;
  }

  /** The columns made again of `pieces`, in order. */
  #rebuild(pieces: readonly Piece[]): void {
    const columns = (this.#c = new QueueColumns(this.#keysOnly, Math.max(16, pieces.length)));
    columns.end = pieces.length;
    for (let p = 0; p < pieces.length; p++) columns.write(p, pieces[p]!);
  }

  /**
   * The entries of `sent` hold their places in frames from now on (`framed[k]` is `sent[k]` in a frame: a bus's
   * history after a sync, `history.ts` `adopt`), at their bytes there, as the budget counts them then: each joins the
   * run of its frame before it, or starts one (with `keysOnly`, only sizes change). Sorted, only the entries from the
   * oldest of `sent` to its newest are read (bisection); else all.
   */
  adopt(sent: readonly BusEvent[], framed: readonly EncodedEvent[]): void {
    const places = new Map<string, EncodedEvent>();
    let [oldest, newest] = [sent[0]!, sent[0]!];
    sent.forEach((event, k) => {
      places.set(event.id, framed[k]!);
      if (compareEvents(event, oldest) < 0) oldest = event;
      if (compareEvents(event, newest) > 0) newest = event;
    });
    if (this.#last !== undefined) this.#last = places.get(this.#last.id) ?? this.#last;
    const [nums, heads, peaks, end] = [this.#c.nums, this.#c.heads, this.#c.peaks, this.#c.end];
    // What stays is written again from `kept` on, runs joined up; nothing is added, so it never passes `i`.
    let i = sent.length === 0 ? end : this.#sorted ? this.#lowerBound(oldest) : this.#c.head;
    let kept = i;
    for (; i < end && places.size > 0; i++) {
      const num = nums[i]!;
      const key = num >= 0 || this.#keysOnly ? this.#keyAt(i, 0) : undefined;
      const place = key === undefined ? undefined : places.get(key.id);
      if (place !== undefined) places.delete(key!.id);
      else if (key !== undefined && this.#sorted && compareEvents(key, newest) > 0) break;
      const size = place === undefined ? num : framedBytes(place.batch, place.index);
      if (place !== undefined && size !== num) {
        this.#tally(num, -1);
        this.#tally(size, 1);
      }
      if (this.#keysOnly || place === undefined || place.constructor !== EncodedEvent || place.index >= MAX_START) {
        if (!this.#keysOnly) [heads[kept], peaks![kept]] = [place ?? heads[i], peaks![i]!];
        nums[kept++] = size;
        continue;
      }
      const run = kept > this.#c.head && heads[kept - 1] === place.batch && nums[kept - 1]! < 0 ? ~nums[kept - 1]! : -1;
      if (run >= 0 && (run - (run % RUN_SPAN)) / RUN_SPAN + (run % RUN_SPAN) === place.index && run % RUN_SPAN < MAX_RUN) {
        nums[kept - 1] = ~(run + 1);
        peaks![kept - 1] = Math.max(peaks![kept - 1]!, size);
      } else [heads[kept], peaks![kept], nums[kept++]] = [place.batch, size, ~(place.index * RUN_SPAN + 1)];
    }
    if (kept === i) return;
    // The rest moves up against what was kept; the slots left behind go (a sync's objects became a few runs).
    for (; i < end; i++) {
      heads[kept] = heads[i];
      if (peaks !== undefined) peaks[kept] = peaks[i]!;
      nums[kept++] = nums[i]!;
    }
    heads.length = this.#c.end = kept;
    if (nums.length > 4 * (kept - this.#c.head) + 64) this.#c.grow(Math.max(16, 2 * (kept - this.#c.head)));
  }

  /** The entry before the first whose first event is not before `key` (a run there may reach past it); sorted. */
  #lowerBound(key: EventKey): number {
    let low = this.#c.head;
    let high = this.#c.end;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareEvents(this.#keyAt(mid, 0), key) < 0) low = mid + 1;
      else high = mid;
    }
    return Math.max(this.#c.head, low - 1);
  }

  /** Keeps only the events for which `held` holds (the others' events left the history another way). */
  prune(held: (key: EventKey) => boolean): void {
    const keys: EventKey[] = [];
    const sizes: number[] = [];
    for (let i = this.#c.head; i < this.#c.end; i++) {
      for (let k = 0, count = this.#countOf(i); k < count; k++) {
        const key = this.#keyAt(i, k);
        if (!held(key)) continue;
        keys.push(key);
        sizes.push(this.#sizeAt(i, k));
      }
    }
    this.#refill(keys, sizes);
  }

  /** The queue made again of `keys` (in order) at `sizes`: runs join up again, unused id strings go. */
  #refill(keys: readonly EventKey[], sizes: readonly number[]): void {
    const last = this.#last;
    const [lastStamp, lastId] = [this.#lastStamp, this.#lastId];
    this.clear();
    for (let i = 0; i < keys.length; i++) this.push(keys[i]!, sizes[i]!);
    if (keys.length > 0) [this.#last, this.#lastStamp, this.#lastId] = [last, lastStamp, lastId];
  }

  /**
   * Entries of events that moved out of sparse frames (`frame-moves.ts`) follow
   * them; an entry of such a frame's event that did not move goes: it left the
   * history (a queue that is not `keysOnly` is a history's that compresses
   * nothing, so every event it holds in a frame is in its segments, and moved).
   * Kept, it would be a `{ timestamp, id }` object of its own until a prune, at
   * the size it was counted at. None holds an old frame after this. Rare (a
   * station repacks once as many events have left as it holds), so the queue
   * is made again: a moved event at its size in its new frame (a frame's last
   * event was counted to the body's end).
   */
  relocate(moves: FrameMoves): void {
    if (this.#keysOnly || moves.size === 0) return;
    let touched = false;
    for (let i = this.#c.head; i < this.#c.end && !touched; i++) {
      const head = this.#c.heads[i];
      touched = this.#c.nums[i]! < 0 ? moves.has(head as EncodedBatch) : head instanceof EncodedEvent && moves.has(head.batch);
    }
    if (touched) {
      const keys: EventKey[] = [];
      const sizes: number[] = [];
      for (let i = this.#c.head; i < this.#c.end; i++) {
        for (let k = 0, count = this.#countOf(i); k < count; k++) {
          const key = this.#keyAt(i, k);
          const moved = movedKey(moves, key);
          if (moved === key) {
            keys.push(key);
            sizes.push(this.#sizeAt(i, k));
          } else if (moved instanceof EncodedEvent) {
            keys.push(moved);
            // At its new place: the budget ranks it at the size it is counted at now (`Retention.relocate`).
            sizes.push(framedBytes(moved.batch, moved.index));
          }
        }
      }
      this.#refill(keys, sizes);
    }
    if (this.#last !== undefined) this.#last = { timestamp: this.#last.timestamp, id: this.#last.id };
  }

  /** Adds the memory of the frames its entries name (runs, and events of frames queued one by one) to `buffers`. */
  framesInto(buffers: Set<ArrayBufferLike>): void {
    if (this.#keysOnly) return;
    const { heads, nums } = this.#c;
    let last: EncodedBatch | undefined;
    for (let i = this.#c.head; i < this.#c.end; i++) {
      const head = heads[i];
      const batch = nums[i]! < 0 ? (head as EncodedBatch) : head instanceof EncodedEvent ? head.batch : undefined;
      if (batch === undefined || batch === last) continue;
      buffers.add((last = batch).body.buffer);
    }
  }

  /** Forgets every entry. */
  clear(): void {
    this.#c = new QueueColumns(this.#keysOnly);
    this.#packed.clearStrings();
    this.#bySize = new Map();
    this.#events = 0;
    this.#sorted = true;
    this.#last = undefined;
    this.#lastId = undefined;
  }

  #compactHead(): void {
    const length = this.#c.end - this.#c.head;
    // Id strings of taken entries stay in the table until the queue is made again.
    if (this.#packed.strings > 2 * this.#events + COMPACT_HEAD) {
      this.prune(() => true);
      return;
    }
    if (this.#c.head < COMPACT_HEAD || this.#c.head < length) return;
    this.#c.grow(Math.max(16, length + (length >> 1)));
  }

  /** Puts the events in `(timestamp, id)` order, sizes along. */
  #sort(): void {
    const keys: EventKey[] = [];
    const sizes: number[] = [];
    for (let i = this.#c.head; i < this.#c.end; i++) {
      for (let k = 0, count = this.#countOf(i); k < count; k++) {
        keys.push(this.#keyAt(i, k));
        sizes.push(this.#sizeAt(i, k));
      }
    }
    const order = Array.from({ length: keys.length }, (_, i) => i);
    order.sort((a, b) => compareEvents(keys[a]!, keys[b]!));
    this.#refill(
      order.map((i) => keys[i]!),
      order.map((i) => sizes[i]!),
    );
    // The newest pushed may not be the last in order.
    const last = order.length === 0 ? undefined : keys[order[order.length - 1]!]!;
    this.#lastStamp = last?.timestamp ?? 0;
    this.#last = this.#keysOnly ? undefined : last;
    this.#lastId = this.#keysOnly ? last?.id : undefined;
    this.#sorted = true;
  }
}
