/**
 * Where an eviction queue (`eviction-queue.ts`) keeps its entries: typed columns, an entry per event or per run of
 * a frame's events, held from `head` to `end`. A take leaves its taken entries' slots at the front; the columns use
 * them again, or move into columns twice the size of what they hold, once the end is reached.
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';

/** What finds an event in a history: its stamp and id. */
export type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

/** An entry taken out of the columns while a take moves what it keeps (a run cut where events were taken). */
export interface Piece {
  head: EventKey | EncodedBatch | undefined;
  num: number;
  stamp: number;
  id: number;
  peak: number;
}

/**
 * The columns; the queue reads and writes them in place (a take's loop keeps them in locals).
 *
 * @example
 * const columns = new QueueColumns(false)
 * columns.append(event, 120, 0, 0)   // an entry of one event, 120 bytes
 */
export class QueueColumns {
  /** Per entry: its event, or its run's frame (unused with `keysOnly`). */
  heads: Array<EventKey | EncodedBatch | undefined> = [];
  /** Per entry: a size, or a run (`eviction-queue.ts`, `RUN_SPAN`). With `keysOnly`, always a size. */
  nums: Int32Array;
  /** Per entry, with `keysOnly`: the stamp, and the id packed (`PackedIds`). */
  stamps: Float64Array | undefined;
  ids: Float64Array | undefined;
  /** Per entry, without `keysOnly`: a run's largest size, or more (a run cut keeps its peak), so a take passes over a run none of whose events it takes without reading their sizes. */
  peaks: Int32Array | undefined;
  head = 0;
  end = 0;

  /** @param keysOnly the queue keeps stamps and ids (`stamps`, `ids`), not events or frames (`heads`, `peaks`). */
  constructor(
    readonly keysOnly: boolean,
    capacity = 16,
  ) {
    this.nums = new Int32Array(capacity);
    if (keysOnly) {
      this.stamps = new Float64Array(capacity);
      this.ids = new Float64Array(capacity);
    } else this.peaks = new Int32Array(capacity);
  }

  /** Adds an entry at the end (`head`, `peak` unused with `keysOnly`; `stamp`, `id` used only with it). */
  append(head: EventKey | EncodedBatch | undefined, num: number, stamp: number, id: number, peak = 0): void {
    if (this.end === this.nums.length) this.#room();
    const at = this.end;
    if (!this.keysOnly) {
      this.heads[at] = head;
      this.peaks![at] = peak;
    }
    this.nums[at] = num;
    if (this.keysOnly) {
      this.stamps![at] = stamp;
      this.ids![at] = id;
    }
    this.end = at + 1;
  }

  /**
   * Room at the end: what is held moves to the front of these columns when it fills at most half of them (a
   * queue that takes empty often, a `low` one, made new columns every few pushes), else into columns twice its size.
   */
  #room(): void {
    const { head, end } = this;
    const live = end - head;
    if (head === 0 || 2 * live > this.nums.length) return this.grow(Math.max(16, 2 * live));
    this.nums.copyWithin(0, head, end);
    if (this.keysOnly) {
      this.stamps!.copyWithin(0, head, end);
      this.ids!.copyWithin(0, head, end);
    } else {
      this.peaks!.copyWithin(0, head, end);
      // A copy, not `copyWithin`: an array of objects is copied whole faster than moved within (and lets go of what the slots left behind held).
      this.heads = this.heads.slice(head, end);
    }
    this.head = 0;
    this.end = live;
  }

  /** Room for `capacity` entries, in new columns (what is held moves to the front). */
  grow(capacity: number): void {
    const { head, end } = this;
    const nums = new Int32Array(capacity);
    nums.set(this.nums.subarray(head, end));
    this.nums = nums;
    if (this.keysOnly) {
      const stamps = new Float64Array(capacity);
      stamps.set(this.stamps!.subarray(head, end));
      this.stamps = stamps;
      const ids = new Float64Array(capacity);
      ids.set(this.ids!.subarray(head, end));
      this.ids = ids;
    } else {
      const peaks = new Int32Array(capacity);
      peaks.set(this.peaks!.subarray(head, end));
      this.peaks = peaks;
      if (head > 0) this.heads = this.heads.slice(head, end);
    }
    this.head = 0;
    this.end = end - head;
  }

  /** Writes `piece` as entry `at`. */
  write(at: number, piece: Piece): void {
    if (this.keysOnly) {
      this.stamps![at] = piece.stamp;
      this.ids![at] = piece.id;
    } else {
      this.heads[at] = piece.head;
      this.peaks![at] = piece.peak;
    }
    this.nums[at] = piece.num;
  }
}
