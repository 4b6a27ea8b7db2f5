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
import { eventIdAt, eventTimestampAt, type EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import type { FrameMoves } from './frame-moves.js';
import { idHash, keyMayHaveId, typeBit, type HistoryIndices } from './history-indices.js';
import { IdFilter } from './id-filter.js';

/** The order key of an event. */
type EventKey = Pick<BusEvent, 'timestamp' | 'id'>;

const INDEX_BITS = 20;
const INDEX_SPAN = 1 << INDEX_BITS;
/** Frames one segment refers to: more distinct frames than this and events are kept as objects (correct, less compact). */
const MAX_SOURCES = 1 << (30 - INDEX_BITS);
/** The ref of an event kept as an object (in the segment's objects, at the same index). */
const OBJECT_REF = -1;

/**
 * Work done by `findId` since the process started: segments whose id filter
 * said "maybe" and were scanned, and ids read in them. For tests, to see that
 * the filters spare the scans.
 *
 * @internal
 */
export const idLookups = { scanned: 0, decoded: 0 };

/** True for an event that a segment can keep as its place in a frame (a plain `EncodedEvent`, not one that carries more). */
function isFramed(event: BusEvent): event is EncodedEvent {
  return event instanceof EncodedEvent && event.constructor === EncodedEvent && event.index < INDEX_SPAN;
}

/**
 * A growable column of 32-bit integers: 4 bytes an entry, where an array of
 * numbers takes 8 (Node's V8 does not compress pointers).
 */
class IntColumn {
  data: Int32Array;
  length = 0;

  constructor(capacity = 16) {
    this.data = new Int32Array(capacity);
  }

  static from(data: Int32Array): IntColumn {
    const column = new IntColumn(0);
    column.data = data;
    column.length = data.length;
    return column;
  }

  #room(): void {
    if (this.length < this.data.length) return;
    const data = new Int32Array(Math.max(16, this.data.length * 2));
    data.set(this.data);
    this.data = data;
  }

  push(value: number): void {
    this.#room();
    this.data[this.length++] = value;
  }

  insert(at: number, value: number): void {
    this.#room();
    this.data.copyWithin(at + 1, at, this.length);
    this.data[at] = value;
    this.length++;
  }

  remove(from: number, count = 1): void {
    this.data.copyWithin(from, from + count, this.length);
    this.length -= count;
  }

  slice(from: number, to: number): IntColumn {
    return IntColumn.from(this.data.slice(from, to));
  }

  /** Drops the spare capacity. */
  trim(): void {
    if (this.data.length > this.length) this.data = this.data.slice(0, this.length);
  }
}

/**
 * Events in order, each an object or a place in a frame. A segment whose
 * first event is in a frame keeps places (`#refs`, objects only where an
 * event has none); one whose first event is an object keeps objects, as an
 * array (a bus's: nothing to gain, and its post path stays as it was).
 *
 * @example
 * const segment = EventSegment.of(batch.history)   // EncodedEvents: 4 bytes each
 * segment.at(0)                                    // an EncodedEvent, made now
 */
export class EventSegment {
  /** Places in frames, `slot * INDEX_SPAN + index` (or OBJECT_REF); undefined while the segment keeps objects. */
  #refs: IntColumn | undefined;
  /** The events kept as objects: every one (no `#refs`), or those at OBJECT_REF refs (a sparse array beside them). */
  #objects: Array<BusEvent | undefined> | undefined;
  /** The frames the refs refer to; a slot is never reused while a ref may refer to it. */
  #sources: EncodedBatch[] = [];
  /** True while the table is shared with the other half of a split: copied before it changes. */
  #sharedSources = false;
  /** Each event's index key, once the history is indexed (`history-indices.ts`). */
  #keys: IntColumn | undefined;
  #codes: HistoryIndices | undefined;
  /** The type bits of every key this segment has held (removals leave theirs: it only says "maybe"). */
  #typeMask = 0;
  /**
   * The ids this segment has held (removals leave theirs), while indexed.
   * Undefined when it is to be made again from the ids held, on the next
   * lookup: it filled up, or this is half of a split.
   */
  #ids: IdFilter | undefined;

  /** An empty segment; indexed from the start with `codes`, its id filter sized for `capacity` events. */
  constructor(codes?: HistoryIndices, capacity = 0) {
    if (codes !== undefined) {
      this.#codes = codes;
      this.#keys = new IntColumn();
      this.#ids = new IdFilter(capacity);
    }
  }

  /** A segment of `events` (sorted). */
  static of(events: readonly BusEvent[], codes?: HistoryIndices): EventSegment {
    const segment = new EventSegment(codes);
    for (const event of events) segment.push(event);
    // Made whole at once (an arrival run): no room to grow.
    segment.trim();
    return segment;
  }

  /**
   * The frames this segment's places may be in (some, after a move, none of them), when it keeps nothing as an
   * object: an event in no other frame is not here. Undefined when it may keep objects.
   */
  get frames(): readonly EncodedBatch[] | undefined {
    return this.#objects === undefined ? this.#sources : undefined;
  }

  get length(): number {
    return this.#refs === undefined ? (this.#objects?.length ?? 0) : this.#refs.length;
  }

  /** Event `i`: the object kept, or an `EncodedEvent` made for this read. */
  at(i: number): BusEvent {
    const refs = this.#refs;
    if (refs === undefined) return this.#objects![i]!;
    const ref = refs.data[i]!;
    return ref === OBJECT_REF ? this.#objects![i]! : new EncodedEvent(this.#sources[(ref / INDEX_SPAN) | 0]!, ref % INDEX_SPAN);
  }

  /** True when event `i` is `event` itself, or its place in the same frame. */
  isAt(i: number, event: BusEvent): boolean {
    const ref = this.#refs === undefined ? OBJECT_REF : this.#refs.data[i]!;
    if (ref === OBJECT_REF) return this.#objects![i] === event;
    return event instanceof EncodedEvent && event.batch === this.#sources[(ref / INDEX_SPAN) | 0] && event.index === ref % INDEX_SPAN;
  }

  /**
   * The position of `event` itself (the object, or its place in the same frame) among the `limit` events from
   * `from` on, or -1: integers compared, no stamp or id read. Its frame's slot is looked up once.
   */
  findItself(event: BusEvent, from: number, limit: number): number {
    const end = Math.min(this.length, from + limit);
    const refs = this.#refs;
    if (refs === undefined) {
      const objects = this.#objects!;
      for (let i = from; i < end; i++) if (objects[i] === event) return i;
      return -1;
    }
    const data = refs.data;
    if (!(event instanceof EncodedEvent)) {
      const objects = this.#objects;
      if (objects !== undefined) for (let i = from; i < end && i < objects.length; i++) if (data[i] === OBJECT_REF && objects[i] === event) return i;
      return -1;
    }
    const slot = this.#sources.lastIndexOf(event.batch);
    if (slot < 0 || event.index >= INDEX_SPAN) return -1;
    const ref = slot * INDEX_SPAN + event.index;
    for (let i = from; i < end; i++) if (data[i] === ref) return i;
    return -1;
  }

  timestampAt(i: number): number {
    const ref = this.#refs === undefined ? OBJECT_REF : this.#refs.data[i]!;
    return ref === OBJECT_REF ? this.#objects![i]!.timestamp : eventTimestampAt(this.#sources[(ref / INDEX_SPAN) | 0]!, ref % INDEX_SPAN);
  }

  idAt(i: number): string {
    const ref = this.#refs === undefined ? OBJECT_REF : this.#refs.data[i]!;
    return ref === OBJECT_REF ? this.#objects![i]!.id : eventIdAt(this.#sources[(ref / INDEX_SPAN) | 0]!, ref % INDEX_SPAN);
  }

  /** Makes the index keys of every event with `codes`; kept up to date from then on. */
  index(codes: HistoryIndices): void {
    this.#codes = codes;
    this.#typeMask = 0;
    this.#ids = new IdFilter(this.length);
    const keys = new IntColumn(Math.max(16, this.length));
    for (let i = 0; i < this.length; i++) keys.push(this.#keyOf(this.at(i)));
    this.#keys = keys;
  }

  /** The index key of event `i` (the segment is indexed). */
  keyAt(i: number): number {
    return this.#keys!.data[i]!;
  }

  /** The type bits of the keys this segment has held (`typeBit`). */
  get typeMask(): number {
    return this.#typeMask;
  }

  #keyOf(event: BusEvent): number {
    const hash = idHash(event.id);
    const key = this.#codes!.keyOf(event, hash);
    this.#typeMask |= typeBit(key);
    // A full filter is made again, larger, when next asked (inserts in a row pay once).
    if (this.#ids?.full === true) this.#ids = undefined;
    this.#ids?.add(hash);
    return key;
  }

  /**
   * The index of the event with this id (`hash`: its `idHash`), or -1; the
   * segment is indexed. Its id filter answers first; only a "maybe" reads keys
   * and the ids of those whose hash bits match.
   */
  findId(id: string, hash: number): number {
    let ids = this.#ids;
    if (ids === undefined) {
      // Room for as many again: a segment that filled its filter is one that grows.
      ids = this.#ids = new IdFilter(2 * this.length);
      for (let i = 0; i < this.length; i++) ids.add(idHash(this.idAt(i)));
    }
    if (!ids.mayHold(hash)) return -1;
    idLookups.scanned++;
    const keys = this.#keys!.data;
    for (let i = this.length - 1; i >= 0; i--) {
      if (!keyMayHaveId(keys[i]!, hash)) continue;
      idLookups.decoded++;
      if (this.idAt(i) === id) return i;
    }
    return -1;
  }

  /** Bytes of this segment's id filter (0 when it has none now). */
  get idFilterBytes(): number {
    return this.#ids?.byteLength ?? 0;
  }

  /**
   * Event `i` against `key` in the order; ids are read only on a tie of stamps, and not when `key` is event `i`
   * itself (the object, or its place in the same frame: a removal's keys mostly are), whose id a frame would decode.
   */
  compareAt(i: number, key: EventKey): number {
    const stamp = this.timestampAt(i);
    if (stamp !== key.timestamp) return stamp - key.timestamp;
    if (this.isAt(i, key as BusEvent)) return 0;
    const id = this.idAt(i);
    return id < key.id ? -1 : id > key.id ? 1 : 0;
  }

  /** The first index whose event is not before `key`. */
  lowerBound(key: EventKey): number {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compareAt(mid, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * `indexOf(key)` for a key known to be after event `from - 1`: searched
   * from `from` by doubling steps, then bisection (a round of removal's
   * events come mostly in order, close together).
   */
  indexFrom(key: EventKey, from: number): number {
    let low = from;
    let step = 1;
    let high = from;
    while (high < this.length && this.compareAt(high, key) < 0) {
      low = high + 1;
      high = from + step;
      step *= 2;
    }
    if (high > this.length) high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compareAt(mid, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low < this.length && this.compareAt(low, key) === 0 ? low : -1;
  }

  /** The first index whose event is stamped at or after `stamp`. */
  lowerBoundStamp(stamp: number): number {
    let low = 0;
    let high = this.length;
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
    return at < this.length && this.compareAt(at, key) === 0 ? at : -1;
  }

  /** Appends an event (after every event held). */
  push(event: BusEvent): void {
    this.insertAt(this.length, event);
  }

  /** Inserts an event at `at`. */
  insertAt(at: number, event: BusEvent): void {
    if (this.length === 0 && this.#objects === undefined && this.#refs === undefined) {
      if (isFramed(event)) this.#refs = new IntColumn();
      else this.#objects = [];
    } else if (this.#refs === undefined && isFramed(event)) {
      // A bus's objects, then what it read (in the reply's frames): places from now on, as `adopt` makes them.
      this.#placesFromObjects();
    }
    const refs = this.#refs;
    if (refs === undefined) {
      if (at === this.#objects!.length) this.#objects!.push(event);
      else this.#objects!.splice(at, 0, event);
    } else {
      const ref = this.#refOf(event);
      if (at === refs.length) refs.push(ref);
      else refs.insert(at, ref);
      const objects = this.#objects;
      if (ref === OBJECT_REF) {
        if (objects === undefined) this.#objects = [];
        this.#objects!.length = refs.length - 1;
        // A bus's posts after a sync framed its older ones: appended, as in an objects-only segment.
        if (at === refs.length - 1) this.#objects!.push(event);
        else this.#objects!.splice(at, 0, event);
      } else if (objects !== undefined) {
        objects.length = refs.length - 1;
        objects.splice(at, 0, undefined);
      }
    }
    if (this.#keys !== undefined) {
      const key = this.#keyOf(event);
      if (at === this.#keys.length) this.#keys.push(key);
      else this.#keys.insert(at, key);
    }
  }

  /**
   * Keeps event `i`, held as an object, as `framed` from now on: the same
   * event, in a frame (a bus's, once a sync encoded it: `history.ts`
   * `adopt`). Its index key stays: the event is the same. False (and it stays
   * an object) when this segment's table of frames is full.
   */
  adopt(i: number, framed: EncodedEvent): boolean {
    if (!isFramed(framed)) return false;
    const refs = this.#refs ?? this.#placesFromObjects();
    const ref = this.#refOf(framed);
    if (ref === OBJECT_REF) return false;
    refs.data[i] = ref;
    this.#objects![i] = undefined;
    return true;
  }

  /** An objects-only segment turns into places, with objects where events have none yet. */
  #placesFromObjects(): IntColumn {
    const refs = new IntColumn(Math.max(16, this.length));
    refs.data.fill(OBJECT_REF);
    refs.length = this.length;
    return (this.#refs = refs);
  }

  /** Lets go of the array of objects once every event is kept as a place (after `adopt`). */
  dropObjects(): void {
    const refs = this.#refs;
    if (refs === undefined || this.#objects === undefined) return;
    for (let i = 0; i < refs.length; i++) if (refs.data[i] === OBJECT_REF) return;
    this.#objects = undefined;
  }

  /**
   * Removes the events at `positions` (ascending, distinct): each column is
   * compacted once, where removing them one by one moved the rest once each.
   * One run of positions is one `#removeRange` (the oldest at the start keep
   * V8's shift of an array's start).
   */
  removePositions(positions: ArrayLike<number>): void {
    const count = positions.length;
    if (count === 0) return;
    const first = positions[0]!;
    if (positions[count - 1]! - first === count - 1) return this.#removeRange(first, count);
    const length = this.length;
    const refs = this.#refs?.data;
    const keys = this.#keys?.data;
    const objects = this.#objects;
    const objectsLength = objects?.length ?? 0;
    let write = first;
    let next = 0;
    let keptObjects = first < objectsLength ? first : objectsLength;
    for (let read = first; read < length; read++) {
      if (next < count && positions[next] === read) {
        next++;
        continue;
      }
      if (refs !== undefined) refs[write] = refs[read]!;
      if (keys !== undefined) keys[write] = keys[read]!;
      // Beside places, the array of objects may stop short of the refs (none kept after it).
      if (read < objectsLength) objects![keptObjects++] = objects![read];
      write++;
    }
    if (this.#refs !== undefined) this.#refs.length = write;
    if (this.#keys !== undefined) this.#keys.length = write;
    if (objects !== undefined) objects.length = keptObjects;
  }

  #removeRange(from: number, count: number): void {
    if (count <= 0) return;
    this.#refs?.remove(from, count);
    // The oldest go first mostly: V8 shifts an array's start without moving its elements.
    if (this.#objects !== undefined) {
      if (count === 1 && from === 0) this.#objects.shift();
      else this.#objects.splice(from, count);
    }
    this.#keys?.remove(from, count);
  }

  /** Removes the events from `from` on and returns them. */
  cutFrom(from: number): BusEvent[] {
    const events = this.slice(from);
    this.#removeRange(from, this.length - from);
    return events;
  }

  /** Removes the `count` oldest events. */
  dropFirst(count: number): void {
    this.#removeRange(0, count);
  }

  /** Drops the spare capacity of a segment that is full. */
  trim(): void {
    this.#refs?.trim();
    this.#keys?.trim();
    if (this.#objects !== undefined) this.#objects = this.#objects.slice();
  }

  /** Events `[from, to)` in a new array. */
  slice(from = 0, to = this.length): BusEvent[] {
    const end = Math.min(to, this.length);
    if (this.#refs === undefined) return (this.#objects?.slice(from, end) ?? []) as BusEvent[];
    const events = new Array<BusEvent>(Math.max(0, end - from));
    for (let i = from; i < end; i++) events[i - from] = this.at(i);
    return events;
  }

  /** This segment in two halves (it grew past twice the segment size). */
  split(): [EventSegment, EventSegment] {
    const half = this.length >> 1;
    return [this.#part(0, half), this.#part(half, this.length)];
  }

  #part(from: number, to: number): EventSegment {
    const part = new EventSegment();
    part.#sources = this.#sources;
    part.#sharedSources = true;
    part.#refs = this.#refs?.slice(from, to);
    if (this.#objects !== undefined) {
      this.#objects.length = this.length;
      part.#objects = this.#objects.slice(from, to);
    }
    if (this.#keys !== undefined) {
      part.#codes = this.#codes;
      part.#keys = this.#keys.slice(from, to);
      part.#typeMask = this.#typeMask;
      // Made again for the half on its first lookup: a copy would keep the other half's ids, at twice the bytes.
      part.#ids = undefined;
    }
    return part;
  }

  /** Adds to `counts`, per frame this segment refers to, how many of its events the segment holds. */
  countFrames(counts: Map<EncodedBatch, number>): void {
    const refs = this.#refs;
    if (refs === undefined) return;
    const perSlot = new Int32Array(this.#sources.length);
    for (let i = 0; i < refs.length; i++) if (refs.data[i] !== OBJECT_REF) perSlot[(refs.data[i]! / INDEX_SPAN) | 0]!++;
    this.#sources.forEach((batch, slot) => {
      if (perSlot[slot]! > 0) counts.set(batch, (counts.get(batch) ?? 0) + perSlot[slot]!);
    });
  }

  /** Appends to `out` the events held in one of `frames`, in order. */
  eventsIn(frames: ReadonlySet<EncodedBatch>, out: BusEvent[]): void {
    const refs = this.#refs;
    if (refs === undefined || !this.#sources.some((batch) => frames.has(batch))) return;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs.data[i]!;
      if (ref !== OBJECT_REF && frames.has(this.#sources[(ref / INDEX_SPAN) | 0]!)) out.push(this.at(i));
    }
  }

  /** Moves the events of frames `moves` names to their new places; the table of frames lets go of the old ones. */
  relocate(moves: FrameMoves): void {
    const refs = this.#refs;
    if (refs === undefined || !this.#sources.some((batch) => moves.has(batch))) return;
    const old = this.#sources;
    const sources: EncodedBatch[] = [];
    const slots = new Map<EncodedBatch, number>();
    for (let i = 0; i < refs.length; i++) {
      const ref = refs.data[i]!;
      if (ref === OBJECT_REF) continue;
      let batch = old[(ref / INDEX_SPAN) | 0]!;
      let index = ref % INDEX_SPAN;
      const to = moves.get(batch)?.[index];
      if (to !== undefined) ({ batch, index } = to);
      let slot = slots.get(batch);
      if (slot === undefined && sources.length < MAX_SOURCES) slots.set(batch, (slot = sources.push(batch) - 1));
      if (slot !== undefined) {
        refs.data[i] = slot * INDEX_SPAN + index;
        continue;
      }
      // More frames than a table holds (events from many small ones): this one is kept as an object.
      refs.data[i] = OBJECT_REF;
      this.#objects ??= [];
      this.#objects.length = refs.length;
      this.#objects[i] = new EncodedEvent(batch, index);
    }
    this.#sources = sources;
    this.#sharedSources = false;
  }

  /** The ref of `event`: its place in its frame, or OBJECT_REF. */
  #refOf(event: BusEvent): number {
    if (!isFramed(event)) return OBJECT_REF;
    const slot = this.#slotOf(event.batch);
    return slot < 0 ? OBJECT_REF : slot * INDEX_SPAN + event.index;
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

  /** Rebuilds the table of frames with those still referred to (refs change in place; positions do not). */
  #dropUnusedSources(): void {
    const slots = new Map<EncodedBatch, number>();
    const sources: EncodedBatch[] = [];
    const refs = this.#refs!;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs.data[i]!;
      if (ref === OBJECT_REF) continue;
      const batch = this.#sources[(ref / INDEX_SPAN) | 0]!;
      let slot = slots.get(batch);
      if (slot === undefined) {
        slot = sources.push(batch) - 1;
        slots.set(batch, slot);
      }
      refs.data[i] = slot * INDEX_SPAN + (ref % INDEX_SPAN);
    }
    this.#sources = sources;
    this.#sharedSources = false;
  }
}
