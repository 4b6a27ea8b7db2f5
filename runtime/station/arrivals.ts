/**
 * The order in which events joined a station's history, apart from the
 * history's own (timestamp, id) order. Every event added gets the next
 * arrival number, so a reader that says how far it has read (`since`) gets
 * only what came after, and a reader whose subscribers are behind can be
 * told how far behind: a slow consumer then holds its producers back at the
 * station instead of letting memory grow.
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent, Endpoint, ReaderBacklog } from '../../types.js';
import { StoredEvent } from '../store/blocks.js';
import type { EncodedBatch } from '../../schemas/codec/index.js';
import { EncodedEvent, EventSet, WeakEventSet } from '../store/encoded-events.js';
import { EventSegment } from '../store/event-segment.js';
import type { FrameMoves } from '../store/frame-moves.js';
import { compareEvents, originKey, typeMatchesAny } from '../store/history.js';
import { PackedIds } from '../store/packed-ids.js';
import { ArrivalKeys, type EventKey } from './arrival-keys.js';

export type { EventKey } from './arrival-keys.js';

/**
 * Events that arrived one after another, numbered from `first`: event `i` is
 * number `first + i`, or `first + numbers[i]` once events between them were
 * removed (`arrivalAt`).
 */
export interface ArrivalRun {
  readonly first: number;
  /**
   * Each event's number less `first`, ascending; absent while they follow one
   * another. A compaction keeps what stays of a run as one run with these,
   * not one run for each stretch between removals: events removed every other
   * one (a type removed once delivered among one that stays) would otherwise
   * leave a run, with a segment of its own, for each event that stays.
   */
  readonly numbers?: Int32Array | undefined;
  /**
   * Kept compactly: an event still in its frame is its place there (`at(i)` makes an object for the read); events
   * the history moved into compressed blocks are their keys (`Arrivals.eventAt` finds them).
   */
  readonly events: EventSegment | ArrivalKeys;
  /** Who sent them (a `sourceKey`), when they came in one batch from one bus or station; undefined for replays. */
  readonly source: string | undefined;
  /** The thread that sent them (an `originKey`); undefined for replays and what came from the main station. */
  readonly sender?: string | undefined;
}

/**
 * A reader whose subscribers are behind: its sync reads are limited by their
 * credits (a bus), or by how far its own readers are behind (a local station
 * reading the main station).
 */
interface SlowReader {
  readonly processor: number;
  readonly thread: number;
  /** Events other threads sent here that arrived after its last read. */
  behind: number;
}


/** The arrival number of event `i` of `run`. */
export function arrivalAt(run: ArrivalRun, i: number): number {
  return run.first + (run.numbers === undefined ? i : run.numbers[i]!);
}

/** The index of the first event of `run` numbered after `after` (the run's length when none is). */
export function firstAfter(run: ArrivalRun, after: number): number {
  const { numbers, first } = run;
  if (numbers === undefined) return Math.min(run.events.length, Math.max(0, after + 1 - first));
  let low = 0;
  let high = numbers.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (first + numbers[mid]! <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Events `from` to `to` of `run` (`events`: those events, made by the caller) with their numbers. */
function partOf(run: ArrivalRun, from: number, to: number, events: EventSegment | ArrivalKeys): ArrivalRun {
  const first = arrivalAt(run, from);
  const numbers = run.numbers === undefined ? undefined : run.numbers.slice(from, to).map((number) => number - run.numbers![from]!);
  return { ...run, first, events, numbers };
}

/**
 * A compaction comes early, once frames that only removed events hold take
 * this share of the bytes of frames the runs hold (1/8): each such event
 * keeps its whole frame alive until then.
 */
const IDLE_FRAMES_SHARE = 8;
/** An early compaction also waits until removed events are this share of those the runs hold (1/16): O(held), it costs O(16) a removal. */
const EARLY_REMOVED_SHARE = 16;

/** Most keys one run of keys gets by joining those that continue it. */
const JOINED_KEYS = 4096;
/** Keys a limited read finds in the history at a time. */
const RESOLVE_CHUNK = 1024;

/** The `thread` of a station reader's endpoint (links.ts's `STATION_THREAD`; declared here, below the links). */
const STATION_READER = 0xffffffff;

/**
 * The arrival numbers of one station's history, and the readers they hold
 * back. Runs are kept, not one entry per event: a merge adds one run, and
 * what stays of a run after removals stays one run (with `numbers`).
 */
export class Arrivals {
  /** The history's events at keys (`EventHistory.find`); without it (no compression) no run keeps keys. */
  readonly #find: ((keys: readonly EventKey[]) => Array<BusEvent | undefined>) | undefined;
  /** Ids of the keys runs keep (shared by every `ArrivalKeys`). */
  #packed = new PackedIds();
  /** Events the runs keep as keys. */
  #keyed = 0;
  /** Events the history moved into blocks that the runs still hold as places (`compressed`). */
  #moved: BusEvent[] = [];
  /** Removals the runs still hold (`#removed` and `#removedIds` may both name one). */
  #removedCount = 0;
  #count = 0;
  #runs: ArrivalRun[] = [];
  /** Events the runs hold (removed ones included until the next compaction). */
  #total = 0;
  /**
   * Events the runs hold as places, per frame (counted at a compaction, plus those of runs added since): a frame
   * whose every one is removed is held by removed events alone.
   */
  #frames = new Map<EncodedBatch, number>();
  /** Bytes of the frames of `#frames`. */
  #frameBytes = 0;
  /** Bytes of the frames every event of which was removed, that the runs and `#removed` still hold: what a compaction lets go. */
  #idleFrameBytes = 0;
  /**
   * Removed events the runs still hold: skipped by reads until a compaction drops them.
   * (Sets of places: a history hands out a new object on each read of an event it keeps in its frame.)
   */
  #removed = new EventSet();
  /**
   * Removed events that had moved into compressed blocks, by id: the history
   * removes them as places in their block's frame (`blocks.ts`), the runs hold
   * them at their places in the frames they came in, so places do not match.
   */
  #removedIds = new Set<string>();
  /** Every event removed so far, weakly: whoever still refers to one (the interest tracker) can tell it is gone. */
  readonly #gone = new WeakEventSet();
  /**
   * Readers (by thread) whose last sync read was limited by their
   * subscribers' credits. While one is `maxBacklog` behind, batches of the
   * other threads are refused.
   */
  readonly #slowReaders = new Map<string, SlowReader>();

  /** @param find the history's events at keys: given when the history compresses (`memory.compression`). */
  constructor(find?: (keys: readonly EventKey[]) => Array<BusEvent | undefined>) {
    this.#find = find;
  }

  /** The last arrival number given: a read complete through it has everything. */
  get count(): number {
    return this.#count;
  }

  /** Numbers events that have just joined the history; slow readers of other threads are that much further behind. */
  add(events: readonly BusEvent[], source?: string, sender?: string): void {
    if (events.length === 0) return;
    const segment = EventSegment.of(events);
    this.#runs.push({ first: this.#count + 1, events: segment, source, sender });
    this.#count += events.length;
    this.#total += events.length;
    this.#countFrames(segment);
    for (const [key, reader] of this.#slowReaders) if (key !== sender) reader.behind += events.length;
  }

  /**
   * Forgets the arrival of removed events; the others keep their numbers.
   * Slow readers' counts included them: they are forgotten too (unless
   * `keepReaders`: events every interested reader has read), and their next
   * reads (whole again) say where they stand.
   *
   * Removal is lazy: removed events are remembered and skipped, and the runs
   * are rebuilt once they make up half of what the runs hold, so removing
   * events one read at a time costs amortized O(1) each, not a rebuild.
   * Earlier (from a sixteenth) when frames of which every event was removed
   * take an eighth of the frames' bytes: each removed event keeps its whole
   * frame alive (ticks removed once delivered among logs evicted oldest
   * first kept up to half again the history's frames).
   */
  remove(removed: readonly BusEvent[], keepReaders = false): void {
    if (removed.length === 0) return;
    if (!keepReaders) this.#slowReaders.clear();
    for (const event of removed) {
      if (event instanceof StoredEvent) this.#removedIds.add(event.id);
      else {
        const size = this.#removed.size;
        this.#removed.add(event);
        if (event instanceof EncodedEvent && this.#removed.size > size && this.#removed.countIn(event.batch) === this.#frames.get(event.batch)) {
          this.#idleFrameBytes += event.batch.body.byteLength;
        }
        // A key's event may have left the blocks for the segments again (an event arrived among them): known by its id.
        if (this.#keyed > 0 || this.#moved.length > 0) this.#removedIds.add(event.id);
      }
      this.#removedCount++;
      this.#gone.add(event);
    }
    const count = this.#removedCount;
    if (count * 2 >= this.#total || (count * EARLY_REMOVED_SHARE >= this.#total && this.#idleFrameBytes * IDLE_FRAMES_SHARE >= this.#frameBytes)) this.#compact();
  }

  /** @internal Ids the runs' keys keep as strings (those that do not pack), dropped ones included until the table is made again. */
  get idStrings(): number {
    return this.#packed.strings;
  }

  /** Events the runs hold, removed ones included (what a compaction would go through). */
  get held(): number {
    return this.#total;
  }

  /** True when `event` was numbered and has not been removed. */
  #live(event: BusEvent): boolean {
    return (this.#removed.size === 0 || !this.#removed.has(event)) && (this.#removedIds.size === 0 || !this.#removedIds.has(event.id));
  }

  /** Event `i` of `events` (a run's): a key is found in the history; undefined when it is no longer there. */
  eventAt(events: EventSegment | ArrivalKeys, i: number): BusEvent | undefined {
    return events instanceof EventSegment ? events.at(i) : this.#resolve(events, i, i + 1)[0];
  }

  /** The events of keys `from` to `to` (sorted: found in one pass), undefined where gone. */
  #resolve(keys: ArrivalKeys, from: number, to: number): Array<BusEvent | undefined> {
    const wanted: EventKey[] = [];
    for (let i = from; i < to; i++) wanted.push(keys.keyAt(i));
    return this.find(wanted);
  }

  /** True when the history compresses: whoever holds its events besides it (the interest tracker) keeps keys, not places. */
  get keyed(): boolean {
    return this.#find !== undefined;
  }

  /** The events held at `keys` (sorted keys are found faster), undefined where gone; only when `keyed`. */
  find(keys: readonly EventKey[]): Array<BusEvent | undefined> {
    const found = this.#find!(keys);
    if (this.#removedIds.size > 0) found.forEach((event, k) => void (event !== undefined && this.#removedIds.has(event.id) && (found[k] = undefined)));
    return found;
  }

  /**
   * The history moved `moved` (as it held them) into a compressed block: the
   * runs keep those events as keys from now on, so that the frames they came
   * in can go. That takes a pass over the runs, and rebuilds those with
   * places that moved, so it waits until as many events moved as half the
   * runs and an eighth of the places they hold (amortized O(1) an event);
   * until then the runs read them at their places, which hold the same bytes.
   */
  compressed(moved: readonly BusEvent[]): void {
    if (this.#find === undefined || moved.length === 0) return;
    for (const event of moved) this.#moved.push(event);
    if (this.#moved.length * 2 >= Math.max(this.#runs.length, (this.#total - this.#keyed) / 4)) this.#keyMoved();
  }

  /** Swaps the places of the events that moved into blocks for keys: each run that refers to one of their frames is split where places and keys alternate; numbers stay. */
  #keyMoved(): void {
    const moved = this.#moved;
    if (moved.length === 0) return;
    this.#moved = [];
    const set = new EventSet(moved);
    const frames = new Set<EncodedBatch>();
    let objects = false;
    for (const event of moved) {
      if (event instanceof EncodedEvent) frames.add(event.batch);
      else objects = true;
    }
    const runs: ArrivalRun[] = [];
    const some: BusEvent[] = [];
    for (const run of this.#runs) {
      const { events } = run;
      some.length = 0;
      if (!(events instanceof ArrivalKeys) && !objects) events.eventsIn(frames, some);
      if (events instanceof ArrivalKeys || (!objects && some.length === 0)) {
        runs.push(run);
        continue;
      }
      const all = events.slice();
      let start = 0;
      for (let i = 1; i <= all.length; i++) {
        const keyed = set.has(all[start]!);
        if (i < all.length && set.has(all[i]!) === keyed) continue;
        if (keyed) this.#keyed += i - start;
        const previous = runs[runs.length - 1];
        // Keys that continue the run before them (same sender, next numbers) join it, up to a size: few small runs of keys, not many.
        if (
          keyed &&
          previous?.events instanceof ArrivalKeys &&
          previous.source === run.source &&
          previous.sender === run.sender &&
          previous.numbers === undefined &&
          run.numbers === undefined &&
          previous.first + previous.events.length === run.first + start &&
          previous.events.length + i - start <= JOINED_KEYS
        ) {
          previous.events.append(all.slice(start, i));
        } else {
          const part = start === 0 && i === all.length && !keyed ? events : keyed ? new ArrivalKeys(all.slice(start, i), this.#packed) : EventSegment.of(all.slice(start, i));
          runs.push(part === events ? run : partOf(run, start, i, part));
        }
        start = i;
      }
    }
    this.#runs = runs;
    this.#recountFrames();
  }

  /**
   * Rebuilds the runs without the removed events; numbers stay. What stays of
   * a run stays one run (`numbers` where events left from between).
   */
  #compact(): void {
    const runs: ArrivalRun[] = [];
    let total = 0;
    let keyed = 0;
    const kept: number[] = [];
    // Removed events known by place alone (`#removed`): a segment of places none of whose frames holds one keeps them all.
    const byPlace = this.#removedIds.size === 0;
    for (const run of this.#runs) {
      const { events } = run;
      kept.length = 0;
      if (events instanceof ArrivalKeys ? this.#removedIds.size === 0 : byPlace && events.frames?.some((batch) => this.#removed.countIn(batch) > 0) === false) {
        runs.push(run);
        continue;
      }
      if (events instanceof ArrivalKeys) {
        for (let i = 0; i < events.length; i++) if (!this.#removedIds.has(events.keyAt(i).id)) kept.push(i);
      } else {
        for (let i = 0; i < events.length; i++) if (this.#live(events.at(i))) kept.push(i);
      }
      if (kept.length === events.length) runs.push(run);
      else if (kept.length > 0) runs.push(this.#keptOf(run, kept));
    }
    for (const run of runs) {
      total += run.events.length;
      if (run.events instanceof ArrivalKeys) keyed += run.events.length;
    }
    this.#runs = runs;
    this.#total = total;
    this.#keyed = keyed;
    this.#removed = new EventSet();
    this.#removedIds = new Set();
    this.#removedCount = 0;
    this.#idleFrameBytes = 0;
    this.#recountFrames();
    // Ids kept as strings (those that do not pack) are packed again, so that they do not pile up.
    if (keyed === 0) this.#packed = new PackedIds();
    else if (this.#packed.strings > 2 * keyed + 4096) {
      const packed = (this.#packed = new PackedIds());
      this.#runs = runs.map((run) => (run.events instanceof ArrivalKeys ? { ...run, events: run.events.repacked(packed) } : run));
    }
  }

  /** The events `kept` (indices, ascending) of `run`, as one run. */
  #keptOf(run: ArrivalRun, kept: readonly number[]): ArrivalRun {
    const { events } = run;
    const first = arrivalAt(run, kept[0]!);
    const contiguous = arrivalAt(run, kept[kept.length - 1]!) - first === kept.length - 1;
    return {
      ...run,
      first,
      events: events instanceof ArrivalKeys ? events.pick(kept) : EventSegment.of(kept.map((i) => events.at(i))),
      numbers: contiguous ? undefined : Int32Array.from(kept, (i) => arrivalAt(run, i) - first),
    };
  }

  /**
   * The runs follow events that moved out of sparse frames (`frame-moves.ts`);
   * removed events are dropped first (they did not move: their places would
   * keep the old frames, and a removal is known by its place).
   */
  relocate(moves: FrameMoves): void {
    if (this.#removedCount > 0) this.#compact();
    for (const run of this.#runs) if (run.events instanceof EventSegment) run.events.relocate(moves);
    this.#recountFrames();
  }

  /** The runs, oldest first (the interest tracker walks them to find what every interested reader has read). */
  runsAfter(after: number): readonly ArrivalRun[] {
    return this.#runs.slice(this.#firstRunAfter(after));
  }

  /**
   * False once `event` was removed, also after a compaction dropped it from
   * the runs; an event removed from a compressed block (the history removes
   * it as its place in the block's frame) is known by its id until then.
   */
  isLive(event: BusEvent): boolean {
    return !this.#gone.has(event) && (this.#removedIds.size === 0 || !this.#removedIds.has(event.id));
  }

  /** The places the runs hold, counted per frame. */
  #placesPerFrame(): Map<EncodedBatch, number> {
    const counts = new Map<EncodedBatch, number>();
    for (const { events } of this.#runs) if (events instanceof EventSegment) events.countFrames(counts);
    return counts;
  }

  /** Counts the places the runs hold per frame again (`#frames`). */
  #recountFrames(): void {
    this.#frames = this.#placesPerFrame();
    this.#frameBytes = 0;
    for (const batch of this.#frames.keys()) this.#frameBytes += batch.body.byteLength;
  }

  /** Adds the places of `segment` (a new run's) to `#frames`, and the bytes of frames new to it. */
  #countFrames(segment: EventSegment): void {
    const counts = new Map<EncodedBatch, number>();
    segment.countFrames(counts);
    for (const [batch, count] of counts) {
      const held = this.#frames.get(batch);
      if (held === undefined) this.#frameBytes += batch.body.byteLength;
      this.#frames.set(batch, (held ?? 0) + count);
    }
  }

  /** @internal Bytes of the frames the runs keep alive (each buffer once), once those of events moved into blocks are let go. */
  frameBytes(): number {
    const buffers = new Set<ArrayBufferLike>();
    this.framesInto(buffers, false);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    return bytes;
  }

  /**
   * Adds the memory of the frames the runs keep alive to `buffers` (once those of events moved into blocks are
   * let go), and (`removed`) of those the removed events they still skip keep until the next compaction.
   */
  framesInto(buffers: Set<ArrayBufferLike>, removed = true): void {
    this.#keyMoved();
    for (const batch of this.#placesPerFrame().keys()) buffers.add(batch.body.buffer);
    if (removed) for (const batch of this.#removed.frames()) buffers.add(batch.body.buffer);
  }

  /** @internal The buffers of the frames kept alive by the runs and by the removed events they still skip (for tests). */
  frameBuffers(): Set<ArrayBufferLike> {
    const buffers = new Set<ArrayBufferLike>();
    for (const batch of this.#placesPerFrame().keys()) buffers.add(batch.body.buffer);
    for (const batch of this.#removed.frames()) buffers.add(batch.body.buffer);
    return buffers;
  }

  /**
   * The events that arrived after arrival number `since`, sorted; only
   * `types` if given; at most `limit` events, the earliest arrivals first, and
   * `through` the arrival number it is complete through. After a first read
   * (`since` > 0), what `reader` itself sent since then is left out: it has it
   * (a bus under the sync policy would otherwise get back every event it
   * shares, and a local station everything it pushed).
   */
  since(since: number, types: readonly string[] | undefined, reader: string, limit = Infinity): { history: BusEvent[]; through: number } {
    const runs = this.#runs;
    const fresh: BusEvent[] = [];
    let taken = 0;
    for (let r = this.#firstRunAfter(since); r < runs.length; r++) {
      const run = runs[r]!;
      const { events, source } = run;
      // A first read (since 0) gets everything, as an unlimited one does: a restarted thread's bus
      // has the same key as its predecessor's, whose events it does not have.
      if (source === reader && since > 0) continue;
      let resolved: Array<BusEvent | undefined> = [];
      let base = 0;
      for (let i = firstAfter(run, since); i < events.length; i++) {
        let event: BusEvent | undefined;
        if (events instanceof EventSegment) event = events.at(i);
        else {
          // Keys are found a chunk at a time: a limited read need not find a whole run.
          if (i - base >= resolved.length) resolved = this.#resolve(events, (base = i), Math.min(events.length, i + Math.max(RESOLVE_CHUNK, limit - fresh.length)));
          event = resolved[i - base];
        }
        if (event === undefined || !this.#live(event)) continue;
        if (types !== undefined && !typeMatchesAny(types, event.type)) continue;
        // Full, and more to read: complete through the last event taken (what the reader sent itself in between counts as read).
        if (fresh.length >= limit) return { history: fresh.sort(compareEvents), through: taken };
        fresh.push(event);
        taken = arrivalAt(run, i);
      }
    }
    return { history: fresh.sort(compareEvents), through: this.#count };
  }

  /**
   * `history` (sorted) with the events that arrived through `deliveredThrough`
   * first and the later ones after them, each part still sorted; `alreadyDelivered`
   * counts the first part.
   */
  deliveredFirst(history: BusEvent[], deliveredThrough: number): { history: BusEvent[]; alreadyDelivered: number } {
    // The history hands out what is in blocks from the blocks, not at the places they came in: matched by id, as keys.
    this.#keyMoved();
    const later = new EventSet();
    const laterIds = new Set<string>();
    for (let r = this.#firstRunAfter(deliveredThrough); r < this.#runs.length; r++) {
      const run = this.#runs[r]!;
      const { events } = run;
      for (let i = firstAfter(run, deliveredThrough); i < events.length; i++) {
        if (events instanceof EventSegment) later.add(events.at(i));
        else laterIds.add(events.keyAt(i).id);
      }
    }
    if (later.size === 0 && laterIds.size === 0) return { history, alreadyDelivered: history.length };
    const delivered: BusEvent[] = [];
    const fresh: BusEvent[] = [];
    for (const event of history) (later.has(event) || (laterIds.size > 0 && laterIds.has(event.id)) ? fresh : delivered).push(event);
    return { history: delivered.length === 0 ? fresh : delivered.concat(fresh), alreadyDelivered: delivered.length };
  }

  /**
   * Records where a bus's thread stands after a sync read: `through` for a
   * read limited by its subscribers' credits (it is behind by what others
   * sent after that), undefined for one that read everything.
   */
  noteReader(reader: { readonly processor: number; readonly thread: number }, through: number | undefined): void {
    const key = originKey(reader);
    if (through === undefined) {
      this.#slowReaders.delete(key);
      return;
    }
    let behind = 0;
    const runs = this.#runs;
    for (let r = this.#firstRunAfter(through); r < runs.length; r++) {
      const run = runs[r]!;
      // What the reader sent itself does not wait for it: its reads skip it.
      if (run.sender !== key) behind += run.events.length - firstAfter(run, through);
    }
    this.#slowReaders.set(key, { processor: reader.processor, thread: reader.thread, behind });
  }

  /** Refuses a batch of `sender` (`BusFullError`, `bound: 'backlog'`) while the reader of another thread is `max` events behind. */
  refuseWhileBehind(sender: string, max: number): void {
    for (const [key, reader] of this.#slowReaders) {
      if (key !== sender && reader.behind >= max) throw new BusFullError(reader.behind, max, 'backlog');
    }
  }

  /** The readers whose subscribers are behind, each with how many events other threads sent since its last read. */
  backlog(): ReaderBacklog[] {
    return [...this.#slowReaders.values()].map(({ processor, thread, behind }) => ({
      processor,
      thread: thread === STATION_READER ? null : thread,
      behind,
    }));
  }

  /** How far the slowest reader is behind; undefined when no reader's reads are limited. */
  mostBehind(): number | undefined {
    let most: number | undefined;
    for (const { behind } of this.#slowReaders.values()) most = Math.max(most ?? 0, behind);
    return most;
  }

  /** True when `key` (an `originKey`) is a reader whose reads are limited: its own batches are never held back for the others. */
  isSlowReader(key: string): boolean {
    return this.#slowReaders.has(key);
  }

  /** The thread is gone: where it stood holds nobody back any more. */
  forgetReader(origin: { readonly processor: number; readonly thread: number }): void {
    this.#slowReaders.delete(originKey(origin));
  }

  /** The index of the first run that ends after arrival number `after`. */
  #firstRunAfter(after: number): number {
    const runs = this.#runs;
    let low = 0;
    let high = runs.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const run = runs[mid]!;
      if (arrivalAt(run, run.events.length - 1) <= after) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** The sender of a batch, or the reader of a request (a bus generation, or a station): whom arrivals are kept apart by. */
export function sourceKey(endpoint: Endpoint): string {
  return `${endpoint.processor}.${endpoint.thread}.${endpoint.generation}.${endpoint.side}`;
}
