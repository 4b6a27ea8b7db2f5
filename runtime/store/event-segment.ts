/**
 * One segment of a history (`history.ts`): events in `(timestamp, id)` order,
 * kept as compactly as they came. A station keeps what it received as frames
 * (`EncodedEvent`s): holding one object per event next to its frame cost
 * more than the event's bytes, so a segment keeps such an event as a small
 * integer (its frame's slot in the segment's table of frames and its index
 * there) and makes an `EncodedEvent` again each time it is read. Those
 * objects are short-lived: readers that keep them (an index, a snapshot) pay
 * for them, the history does not. Plain objects (a bus's) are kept as they are.
 */
import { eventIdAt, type EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import { typeBit, type HistoryIndices } from './history-indices.js';
import { compareEvents } from './history-query.js';

/** The order key of an event. */
type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

/**
 * An entry: a plain event, or `slot * INDEX_SPAN + index` of an event in a
 * frame. Both fit in one array slot (a number below 2^30 is a small integer,
 * never a heap object).
 */
type Entry = BusEvent | number;

const INDEX_BITS = 20;
const INDEX_SPAN = 1 << INDEX_BITS;
/** Frames one segment refers to: more distinct frames than this and events are kept as objects (correct, less compact). */
const MAX_SOURCES = 1 << (30 - INDEX_BITS);

/** True for an event that a segment can keep as its place in a frame (a plain `EncodedEvent`, not one that carries more). */
function isFramed(event: BusEvent): event is EncodedEvent {
  return event instanceof EncodedEvent && event.constructor === EncodedEvent && event.index < INDEX_SPAN;
}

/**
 * Events in order, each an object or a place in a frame.
 *
 * @example
 * const segment = EventSegment.of(batch.history)   // EncodedEvents: one integer each
 * segment.at(0)                                    // an EncodedEvent, made now
 */
export class EventSegment {
  #entries: Entry[] = [];
  /** The frames the entries refer to; a slot is never reused while an entry may refer to it. */
  #sources: EncodedBatch[] = [];
  /** True while the table is shared with the other half of a split: copied before it changes. */
  #sharedSources = false;
  /** Each event's index key, once the history is indexed (`history-indices.ts`). */
  #keys: number[] | undefined;
  #codes: HistoryIndices | undefined;
  /** The type bits of every key this segment has held (removals leave theirs: it only says "maybe"). */
  #typeMask = 0;

  /** An empty segment; indexed from the start with `codes`. */
  constructor(codes?: HistoryIndices) {
    if (codes !== undefined) {
      this.#codes = codes;
      this.#keys = [];
    }
  }

  /** A segment of `events` (sorted). */
  static of(events: readonly BusEvent[], codes?: HistoryIndices): EventSegment {
    const segment = new EventSegment(codes);
    for (const event of events) segment.push(event);
    return segment;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** Event `i`: the object kept, or an `EncodedEvent` made for this read. */
  at(i: number): BusEvent {
    const entry = this.#entries[i]!;
    return typeof entry === 'number' ? new EncodedEvent(this.#sources[(entry / INDEX_SPAN) | 0]!, entry % INDEX_SPAN) : entry;
  }

  /** True when event `i` is `event` itself, or its place in the same frame. */
  isAt(i: number, event: BusEvent): boolean {
    const entry = this.#entries[i]!;
    if (typeof entry !== 'number') return entry === event;
    return event instanceof EncodedEvent && event.batch === this.#sources[(entry / INDEX_SPAN) | 0] && event.index === entry % INDEX_SPAN;
  }

  timestampAt(i: number): number {
    const entry = this.#entries[i]!;
    return typeof entry === 'number' ? this.#sources[(entry / INDEX_SPAN) | 0]!.timestamps[entry % INDEX_SPAN]! : entry.timestamp;
  }

  idAt(i: number): string {
    const entry = this.#entries[i]!;
    return typeof entry === 'number' ? eventIdAt(this.#sources[(entry / INDEX_SPAN) | 0]!, entry % INDEX_SPAN) : entry.id;
  }

  /** Makes the index keys of every event with `codes`; kept up to date from then on. */
  index(codes: HistoryIndices): void {
    this.#codes = codes;
    this.#typeMask = 0;
    const keys = new Array<number>(this.#entries.length);
    for (let i = 0; i < keys.length; i++) keys[i] = this.#keyOf(this.at(i));
    this.#keys = keys;
  }

  /** The index key of event `i` (the segment is indexed). */
  keyAt(i: number): number {
    return this.#keys![i]!;
  }

  /** The type bits of the keys this segment has held (`typeBit`). */
  get typeMask(): number {
    return this.#typeMask;
  }

  #keyOf(event: BusEvent): number {
    const key = this.#codes!.keyOf(event);
    this.#typeMask |= typeBit(key);
    return key;
  }

  /** Event `i` against `key` in the order; ids are read only on a tie of stamps. */
  compareAt(i: number, key: EventKey): number {
    const entry = this.#entries[i]!;
    if (typeof entry !== 'number') return compareEvents(entry, key);
    const stamp = this.timestampAt(i);
    if (stamp !== key.timestamp) return stamp - key.timestamp;
    const id = this.idAt(i);
    return id < key.id ? -1 : id > key.id ? 1 : 0;
  }

  /** The first index whose event is not before `key`. */
  lowerBound(key: EventKey): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compareAt(mid, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The first index whose event is stamped at or after `stamp`. */
  lowerBoundStamp(stamp: number): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.timestampAt(mid) < stamp) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The index of the event equal to `key` in the order, or -1. */
  indexOf(key: EventKey): number {
    const at = this.lowerBound(key);
    return at < this.#entries.length && this.compareAt(at, key) === 0 ? at : -1;
  }

  /** Appends an event (after every event held). */
  push(event: BusEvent): void {
    // The entry first: making it may rebuild the entries (`#dropUnusedSources`).
    const entry = this.#entry(event);
    this.#entries.push(entry);
    this.#keys?.push(this.#keyOf(event));
  }

  /** Inserts an event at `at`. */
  insertAt(at: number, event: BusEvent): void {
    const entry = this.#entry(event);
    this.#entries.splice(at, 0, entry);
    this.#keys?.splice(at, 0, this.#keyOf(event));
  }

  /** Removes event `at`. */
  removeAt(at: number): void {
    // The oldest go first mostly: V8 shifts an array's start without moving its elements.
    if (at === 0) {
      this.#entries.shift();
      this.#keys?.shift();
    } else {
      this.#entries.splice(at, 1);
      this.#keys?.splice(at, 1);
    }
  }

  /** Removes the events from `from` on and returns them. */
  cutFrom(from: number): BusEvent[] {
    const events = this.slice(from);
    this.#entries.length = from;
    if (this.#keys !== undefined) this.#keys.length = from;
    return events;
  }

  /** Removes the `count` oldest events. */
  dropFirst(count: number): void {
    this.#entries.splice(0, count);
    this.#keys?.splice(0, count);
  }

  /** Drops the spare capacity of a segment that is full (arrays grow by half again). */
  trim(): void {
    this.#entries = this.#entries.slice();
    if (this.#keys !== undefined) this.#keys = this.#keys.slice();
  }

  /** Events `[from, to)` in a new array. */
  slice(from = 0, to = this.#entries.length): BusEvent[] {
    const end = Math.min(to, this.#entries.length);
    const events = new Array<BusEvent>(Math.max(0, end - from));
    for (let i = from; i < end; i++) events[i - from] = this.at(i);
    return events;
  }

  /** This segment in two halves (it grew past twice the segment size). */
  split(): [EventSegment, EventSegment] {
    const half = this.#entries.length >> 1;
    return [this.#part(0, half), this.#part(half, this.#entries.length)];
  }

  #part(from: number, to: number): EventSegment {
    const part = new EventSegment();
    part.#sources = this.#sources;
    part.#sharedSources = true;
    part.#entries = this.#entries.slice(from, to);
    if (this.#keys !== undefined) {
      part.#codes = this.#codes;
      part.#keys = this.#keys.slice(from, to);
      part.#typeMask = this.#typeMask;
    }
    return part;
  }

  #entry(event: BusEvent): Entry {
    if (!isFramed(event)) return event;
    const slot = this.#slotOf(event.batch);
    return slot < 0 ? event : slot * INDEX_SPAN + event.index;
  }

  /** The slot of `batch` in the table of frames (added if new); -1 when the table is full. */
  #slotOf(batch: EncodedBatch): number {
    const sources = this.#sources;
    // Events of one frame mostly come together: look at the newest slots only.
    for (let s = sources.length - 1; s >= 0 && s >= sources.length - 8; s--) if (sources[s] === batch) return s;
    if (sources.length >= MAX_SOURCES) {
      this.#dropUnusedSources();
      if (this.#sources.length >= MAX_SOURCES) return -1;
      return this.#slotOf(batch);
    }
    if (this.#sharedSources) {
      this.#sources = sources.slice();
      this.#sharedSources = false;
    }
    return this.#sources.push(batch) - 1;
  }

  /** Rebuilds the table of frames with those still referred to. */
  #dropUnusedSources(): void {
    const slots = new Map<EncodedBatch, number>();
    const sources: EncodedBatch[] = [];
    this.#entries = this.#entries.map((entry) => {
      if (typeof entry !== 'number') return entry;
      const batch = this.#sources[(entry / INDEX_SPAN) | 0]!;
      let slot = slots.get(batch);
      if (slot === undefined) {
        slot = sources.push(batch) - 1;
        slots.set(batch, slot);
      }
      return slot * INDEX_SPAN + (entry % INDEX_SPAN);
    });
    this.#sources = sources;
    this.#sharedSources = false;
  }
}
