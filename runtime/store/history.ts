/**
 * Event histories: sorted by `(timestamp, id)`, deduplicated by id, with
 * lookup indices built on first query and kept up to date afterwards.
 * Buses and stations each own one; only their actor writes to it.
 */
import type { BusEvent, Side } from '../../types.js';
import { typeMatches } from '../type-patterns.js';
import { BlockStore } from './block-store.js';
import { EventBlock, HistoryView } from './blocks.js';
import type { EncodedEvent } from './encoded-events.js';
import { EventSegment } from './event-segment.js';
import { HistoryIndices, idHash, keyPasses } from './history-indices.js';
import { removeEvents, segmentFor } from './segment-removal.js';
import { DEFAULT_COMPRESSION, type CompressionOptions } from './memory-policy.js';
import { STEP_MS, threadPacer } from './step-pacer.js';
import { compareEvents, lowerBoundStamp, matchesQuery, type HistoryQuery } from './history-query.js';

// The order, the query and the one rule for selecting types (subtypes and wildcards) of histories, re-exported where readers of histories look for them.
export { assertOrigin, checkHistoryQuery, compareEvents, matchesQuery, originKey, type HistoryQuery } from './history-query.js';
export { HistoryView } from './blocks.js';
export { typeMatches, typeMatchesAny } from '../type-patterns.js';

/** Returns `batch` sorted by `(timestamp, id)`; the same array when it already is. */
function sortedBatch(batch: readonly BusEvent[]): readonly BusEvent[] {
  for (let i = 1; i < batch.length; i++) if (compareEvents(batch[i - 1]!, batch[i]!) > 0) return [...batch].sort(compareEvents);
  return batch;
}

/**
 * Told of every event that joins or leaves a history (not of those a merge or
 * a compression only moves): what the memory policies count (`retention.ts`).
 */
export interface HistoryObserver {
  /** `measured`: the event's size when the caller of `insert` measured it, else -1 (or absent). */
  added(event: BusEvent, measured?: number): void;
  /** `bytes`: the size the event was counted at when it joined, when the history kept it (an event from a block). */
  removed(event: BusEvent, bytes?: number): void;
}

/** Default number of events per history segment. */
export const HISTORY_SEGMENT_SIZE = 2048;
/** Most events in a block made by merging blocks. */
const MAX_BLOCK_EVENTS = 16_384;

/** How a history compresses: `CompressionOptions` and what its owner knows. */
export interface HistoryCompression extends CompressionOptions {
  /** Blocks give back plain objects (a bus), not `EncodedEvent`s (a station). */
  readonly plain: boolean;
  /** The clock `keepMs` is measured by. */
  readonly now: () => number;
  /** False for a type whose policy says `compress: false`: blocks holding it are stored uncompressed. */
  readonly compressible?: (type: string) => boolean;
  /** Runs a step of compression when the owner is idle; `'manual'`: only `compact()` does (tests). Default: `setImmediate`. */
  readonly schedule?: ((step: () => void) => void) | 'manual';
  /** Compression steps run only while this says so (a memory manager may hold them back). */
  readonly allow?: () => boolean;
}

/**
 * @internal Where every history schedules its idle compression steps (by default the thread's pacer,
 * `step-pacer.ts`). A test swaps `schedule` to take the steps and run them when it chooses, then checks what they made.
 */
export const compressionSteps: { schedule: (step: () => void) => void } = { schedule: (step) => threadPacer().schedule(step) };

/**
 * A history of events, sorted by `(timestamp, id)` and deduplicated by id.
 *
 * Stored as a list of sorted segments of at most `segmentSize` events (more
 * only after mid-history inserts, split at twice that): appends never copy a
 * large array, and a merge rewrites only the tail after its first event.
 * With `compression`, the oldest events (all but the newest `keepEvents`)
 * move into snappy-compressed blocks (`blocks.ts`) in idle steps, never
 * while a post or a merge runs; blocks are read only when a query may match
 * them. An event that arrives among the blocks' range makes the history
 * keep the blocks from there on uncompressed again.
 * Writers are serialized by the owning actor; readers get arrays of their own
 * (`snapshot()`, `query()`) or a `view()`, so they never see a half-merged batch.
 *
 * @example
 * const history = new EventHistory()
 * history.merge(batch)                    // sorted merge, duplicates skipped
 * history.query({ types: ['user'] })      // uses the type index
 */
export class EventHistory {
  readonly #segmentSize: number;
  readonly #observer: HistoryObserver | undefined;
  #segments: EventSegment[] = [];
  #size = 0;
  /** The codes of the index keys, once a query needed them; every segment is indexed from then on. */
  #indices: HistoryIndices | undefined;
  /** @internal Told which events (as they were held) a compression step moved into a block: a station's arrival runs let go of their places. */
  onCompressed: ((events: readonly BusEvent[]) => void) | undefined;
  /** The compressed oldest events; every one of them is before every event in `#segments`. */
  readonly #blocks: BlockStore | undefined;
  readonly #compression: (Required<CompressionOptions> & HistoryCompression) | undefined;
  #stepScheduled = false;

  constructor(
    options: { segmentSize?: number; observer?: HistoryObserver; compression?: HistoryCompression; sizeOf?: (event: BusEvent) => number } = {},
  ) {
    this.#segmentSize = options.segmentSize ?? HISTORY_SEGMENT_SIZE;
    this.#observer = options.observer;
    if (options.compression !== undefined) {
      this.#compression = { ...DEFAULT_COMPRESSION, ...options.compression };
      const format = options.sizeOf === undefined ? { plain: options.compression.plain } : { plain: options.compression.plain, sizeOf: options.sizeOf };
      this.#blocks = new BlockStore(format, (event, bytes) => this.#observer?.removed(event, bytes));
    }
  }

  /** Number of events held. */
  get size(): number {
    return this.#size + (this.#blocks?.size ?? 0);
  }

  /** Events held compressed, in blocks. */
  get compressedCount(): number {
    return this.#blocks?.size ?? 0;
  }

  /** Bytes the blocks keep (their frames and filters). */
  get compressedBytes(): number {
    return this.#blocks?.storedBytes ?? 0;
  }

  /** The newest event, if any. */
  get last(): BusEvent | undefined {
    const segment = this.#segments[this.#segments.length - 1];
    return segment === undefined ? this.#blocks?.last() : segment.at(segment.length - 1);
  }

  /** The whole history, oldest first, as an array of the caller's own. */
  snapshot(): BusEvent[] {
    const recent = this.#recent();
    const blocks = this.#blocks;
    return blocks === undefined || blocks.size === 0 ? recent : blocks.all().concat(recent);
  }

  /** @internal `snapshot()`, but a block's events as bytes that remember the size they were counted at (`StoredEvent`): a first eviction lists them. */
  held(): BusEvent[] {
    return (this.#blocks?.blocks ?? []).flatMap((block) => block.storedEvents()).concat(this.#recent());
  }

  /** The uncompressed events, oldest first, in an array of the caller's own. */
  #recent(): BusEvent[] {
    if (this.#segments.length === 1) return this.#segments[0]!.slice();
    const events = new Array<BusEvent>(this.#size);
    let at = 0;
    for (const segment of this.#segments) for (let i = 0; i < segment.length; i++) events[at++] = segment.at(i);
    return events;
  }

  /**
   * The history as it is now, for a reader that reads it bit by bit (pages,
   * across awaits): nothing the history does later changes what it reads.
   */
  view(): HistoryView {
    return new HistoryView(this.#blocks?.blocks ?? [], this.#recent());
  }

  /** The event with this id, if held (the segments' id filters, then the blocks'). */
  get(id: string): BusEvent | undefined {
    const hash = idHash(id);
    this.#index();
    for (let s = this.#segments.length - 1; s >= 0; s--) {
      const segment = this.#segments[s]!;
      const at = segment.findId(id, hash);
      if (at >= 0) return segment.at(at);
    }
    return this.#blocks?.get(id);
  }

  /** The events held at `keys`' places in the order (stamp and id; sorted keys are found faster), undefined where none. */
  find(keys: ReadonlyArray<Pick<BusEvent, 'timestamp' | 'id'>>): Array<BusEvent | undefined> {
    const blocks = this.#blocks;
    const found = blocks === undefined ? [] : blocks.findAll(keys);
    return keys.map((key, k) => {
      if (found[k] !== undefined || blocks?.within(key) === true) return found[k];
      const segment = this.#segments[this.#segmentFor(key)];
      const at = segment === undefined ? -1 : segment.indexOf(key);
      return at < 0 ? undefined : segment!.at(at);
    });
  }

  /** True when an event with this id is held. */
  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** @internal The uncompressed segments: `station/repack.ts` counts the frames they keep alive and moves their events out of sparse ones. */
  get segments(): readonly EventSegment[] {
    return this.#segments;
  }

  #index(): HistoryIndices {
    if (this.#indices === undefined) {
      this.#indices = new HistoryIndices();
      for (const segment of this.#segments) segment.index(this.#indices);
    }
    return this.#indices;
  }

  /** Appends an event known to be after every event held. */
  #append(event: BusEvent): void {
    let segment = this.#segments[this.#segments.length - 1];
    if (segment === undefined || segment.length >= this.#segmentSize) {
      segment?.trim();
      this.#segments.push((segment = new EventSegment(this.#indices, this.#segmentSize)));
    }
    segment.push(event);
    this.#size++;
  }

  #segmentFor(event: Pick<BusEvent, 'timestamp' | 'id'>): number {
    return segmentFor(this.#segments, event);
  }

  /** Takes the blocks from the one where `event` belongs back into the segments (an event arrived among them). */
  #thaw(event: BusEvent): void {
    const thawed = this.#blocks!.thawFrom(event);
    if (thawed.length === 0) return;
    const recent = this.#recent();
    this.#segments = [];
    this.#size = 0;
    this.#indices = undefined;
    for (const held of thawed) this.#append(held);
    for (const held of recent) this.#append(held);
  }

  /**
   * Inserts one event at its place in the order. Returns false (and changes
   * nothing) when an event with the same id and timestamp is already held.
   * `measured`: its size, if the caller measured it (a post: `Retention.admitPost`), for the observer.
   */
  insert(event: BusEvent, measured = -1): boolean {
    const blocks = this.#blocks;
    if (blocks !== undefined && blocks.within(event)) {
      if (blocks.holds(event)) return false;
      this.#thaw(event);
    }
    const last = this.#segments.length === 0 ? undefined : this.last;
    if (last === undefined || compareEvents(last, event) < 0) {
      this.#append(event);
    } else {
      const at = this.#segmentFor(event);
      const segment = this.#segments[at]!;
      const position = segment.lowerBound(event);
      if (position < segment.length && segment.compareAt(position, event) === 0) return false;
      segment.insertAt(position, event);
      this.#size++;
      if (segment.length > 2 * this.#segmentSize) this.#segments.splice(at, 1, ...segment.split());
    }
    this.#observer?.added(event, measured);
    this.#scheduleStep(false);
    return true;
  }

  /** The events of `batch` this history does not hold, sorted, each once (a lookup per event; nothing changes). */
  missing(batch: readonly BusEvent[]): BusEvent[] {
    const fresh: BusEvent[] = [];
    let previous: BusEvent | undefined;
    for (const event of sortedBatch(batch)) {
      if (previous !== undefined && compareEvents(previous, event) === 0) continue;
      previous = event;
      if (!this.holds(event)) fresh.push(event);
    }
    return fresh;
  }

  /** True when the event of this stamp and id (an event, or its key) is held: found by bisection, not by id. */
  holds(event: Pick<BusEvent, 'timestamp' | 'id'>): boolean {
    if (this.#blocks?.within(event) === true) return this.#blocks.holds(event);
    if (this.#segments.length === 0) return false;
    return this.#segments[this.#segmentFor(event)]!.indexOf(event) >= 0;
  }

  /**
   * Merges a batch (any order) into the history with one sorted merge of the
   * tail after its first event. Duplicates, in the batch or already held, are
   * skipped. Returns the events that were new, in order.
   */
  merge(batch: readonly BusEvent[]): BusEvent[] {
    if (batch.length === 0) return [];
    let incoming = sortedBatch(batch);
    const blocks = this.#blocks;
    if (blocks !== undefined && blocks.within(incoming[0]!)) {
      // Events the blocks hold are skipped; the first they do not hold brings the blocks from its place back.
      incoming = incoming.filter((event) => !(blocks.within(event) && blocks.holds(event)));
      if (incoming.length === 0) return [];
      if (blocks.within(incoming[0]!)) this.#thaw(incoming[0]!);
    }
    const first = incoming[0]!;
    const last = this.#segments.length === 0 ? undefined : this.last;
    let tail: BusEvent[] = [];
    if (last !== undefined && compareEvents(last, first) >= 0) {
      // Cut the history at the first incoming event; everything after it is re-merged.
      const at = this.#segmentFor(first);
      const segment = this.#segments[at]!;
      tail = segment.cutFrom(segment.lowerBound(first));
      const later = this.#segments.splice(at + 1);
      if (later.length > 0) tail = tail.concat(...later.map((part) => part.slice()));
      if (segment.length === 0) this.#segments.pop();
      this.#size -= tail.length;
    }
    const added: BusEvent[] = [];
    let t = 0;
    let previous: BusEvent | undefined = this.#segments.length === 0 ? undefined : this.last;
    for (const event of incoming) {
      while (t < tail.length && compareEvents(tail[t]!, event) < 0) {
        previous = tail[t++]!;
        this.#append(previous);
      }
      // Equal order means equal id and stamp: the same event again.
      if (previous !== undefined && compareEvents(previous, event) === 0) continue;
      const next = tail[t];
      if (next !== undefined && compareEvents(next, event) === 0) continue;
      this.#append(event);
      added.push(event);
      previous = event;
    }
    while (t < tail.length) this.#append(tail[t++]!);
    if (this.#observer !== undefined) for (const event of added) this.#observer.added(event);
    this.#scheduleStep(false);
    return added;
  }

  /** The events that match `query`, oldest first; answered from the indices, and from the blocks that may match. */
  query(query: HistoryQuery = {}): BusEvent[] {
    const candidates = this.#candidates(query);
    const result: BusEvent[] = this.#blocks === undefined || this.#blocks.size === 0 ? [] : this.#blocks.query(query);
    for (const event of candidates) if (matchesQuery(query, event)) result.push(event);
    return result;
  }

  /** The events that match `query` by a full scan: the reference `query()` must agree with. */
  scan(query: HistoryQuery = {}): BusEvent[] {
    return this.snapshot().filter((event) => matchesQuery(query, event));
  }

  /**
   * The uncompressed events that may match `query` (its types, side and
   * origin, read from the index keys; its stamps, by bisection), oldest first.
   */
  #candidates(query: HistoryQuery): readonly BusEvent[] {
    if (query.types === undefined && query.side === undefined && query.origin === undefined) {
      const events = this.#recent();
      const from = query.since === undefined ? 0 : lowerBoundStamp(events, query.since);
      const to = query.until === undefined ? events.length : lowerBoundStamp(events, query.until);
      return events.slice(from, Math.max(from, to));
    }
    const filter = this.#index().filter(query);
    const found: BusEvent[] = [];
    for (const segment of this.#segments) {
      if ((segment.typeMask & filter.mask) === 0) continue;
      const from = query.since === undefined ? 0 : segment.lowerBoundStamp(query.since);
      const to = query.until === undefined ? segment.length : segment.lowerBoundStamp(query.until);
      for (let i = from; i < to; i++) if (keyPasses(filter, segment.keyAt(i))) found.push(segment.at(i));
    }
    return found;
  }

  /** Removes every event for which `predicate` holds; returns them, oldest first. */
  removeWhere(predicate: (event: BusEvent) => boolean): BusEvent[] {
    const fromBlocks = this.#blocks === undefined || this.#blocks.size === 0 ? [] : this.#blocks.removeWhere(predicate);
    const removed: BusEvent[] = [];
    const kept: BusEvent[] = [];
    for (const segment of this.#segments) {
      for (let i = 0; i < segment.length; i++) {
        const event = segment.at(i);
        (predicate(event) ? removed : kept).push(event);
      }
    }
    if (removed.length > 0) {
      this.#segments = [];
      this.#size = 0;
      this.#indices = undefined;
      for (const event of kept) this.#append(event);
      if (this.#observer !== undefined) for (const event of removed) this.#observer.removed(event);
    }
    if (fromBlocks.length > 0) this.#scheduleStep(true);
    return fromBlocks.length === 0 ? removed : fromBlocks.concat(removed);
  }

  /**
   * Removes these events (any order; those not held are skipped), each found
   * by bisection, and from the indices too, compacting each segment touched
   * once (`segment-removal.ts`). Returns the removed ones. `sizes[k]`: the size `events[k]` was counted
   * at, if known (an eviction's budget kept them): the observer is told it (unless `removeEvents` found a framed one by stamp and id).
   */
  remove(events: readonly BusEvent[], sizes?: readonly number[]): BusEvent[] {
    const blocks = this.#blocks;
    if (blocks !== undefined && blocks.size > 0 && events.some((event) => blocks.within(event))) {
      const fromBlocks = blocks.remove(events.filter((event) => blocks.within(event)));
      if (fromBlocks.length > 0) this.#scheduleStep(true);
      const recent = sizes === undefined ? undefined : sizes.filter((_, k) => !blocks.within(events[k]!));
      return fromBlocks.concat(this.#removeRecent(events.filter((event) => !blocks.within(event)), recent));
    }
    return this.#removeRecent(events, sizes);
  }

  #removeRecent(events: readonly BusEvent[], sizes: readonly number[] | undefined): BusEvent[] {
    const taken = sizes === undefined ? undefined : [];
    const removed = removeEvents(this.#segments, events, taken);
    this.#size -= removed.length;
    for (let k = 0; this.#observer !== undefined && k < removed.length; k++) this.#observer.removed(removed[k]!, taken && taken[k]! >= 0 ? sizes![taken[k]!] : undefined);
    return removed;
  }

  /**
   * Keeps the events of `sent` (objects this history holds) as their places
   * in frames from now on: `framed[k]` is `sent[k]` encoded, in a frame that
   * a sync built (a bus's, `runtime/bus/bus.ts`). Nothing joins or leaves
   * (the observer is not told) and readers get the same events back
   * (`plainEvents` of what they read). Events no longer held as those
   * objects (removed, compressed) are skipped. Returns the ones adopted.
   * @internal
   */
  adopt(sent: readonly BusEvent[], framed: readonly EncodedEvent[]): BusEvent[] {
    const adopted: BusEvent[] = [];
    const touched = new Set<EventSegment>();
    for (let k = 0; k < sent.length; k++) {
      const event = sent[k]!;
      if (this.#segments.length === 0 || this.#blocks?.within(event) === true) continue;
      const segment = this.#segments[this.#segmentFor(event)]!;
      const at = segment.indexOf(event);
      if (at < 0 || !segment.isAt(at, event) || !segment.adopt(at, framed[k]!)) continue;
      touched.add(segment);
      adopted.push(event);
    }
    for (const segment of touched) segment.dropObjects();
    return adopted;
  }

  /** Up to `count` events for which `predicate` holds, oldest first, found from the oldest end (nothing changes). */
  oldest(count: number, predicate?: (event: BusEvent) => boolean): BusEvent[] {
    const found: BusEvent[] = this.#blocks === undefined || count <= 0 ? [] : this.#blocks.oldest(count, predicate);
    if (count <= 0 || found.length >= count) return found;
    for (const segment of this.#segments) {
      for (let i = 0; i < segment.length; i++) {
        const event = segment.at(i);
        if (predicate !== undefined && !predicate(event)) continue;
        found.push(event);
        if (found.length >= count) return found;
      }
    }
    return found;
  }

  /** The events stamped at or before `stamp`, oldest first (found from the oldest end; nothing changes). */
  through(stamp: number): BusEvent[] {
    const found: BusEvent[] = this.#blocks === undefined ? [] : this.#blocks.oldest(Infinity, undefined, undefined, stamp);
    for (const segment of this.#segments) {
      if (segment.timestampAt(0) > stamp) break;
      for (let i = 0; i < segment.length; i++) {
        if (segment.timestampAt(i) > stamp) return found;
        found.push(segment.at(i));
      }
    }
    return found;
  }

  /**
   * Up to `count` events of `pattern` (and its subtypes) for which
   * `predicate` holds, oldest first, none stamped after `until`: read from
   * the oldest end, by index keys, skipping segments (and blocks) that hold
   * no such type.
   */
  oldestOf(pattern: string, count: number, predicate?: (event: BusEvent) => boolean, until = Infinity): BusEvent[] {
    const ofPattern = (event: BusEvent): boolean => typeMatches(pattern, event.type) && (predicate === undefined || predicate(event));
    const found: BusEvent[] = this.#blocks === undefined ? [] : this.#blocks.oldest(count, ofPattern, pattern, until);
    if (found.length >= count) return found;
    const filter = this.#index().filter({ types: [pattern] });
    for (const segment of this.#segments) {
      if (segment.timestampAt(0) > until) break;
      if ((segment.typeMask & filter.mask) === 0) continue;
      for (let i = 0; i < segment.length; i++) {
        if (segment.timestampAt(i) > until) return found;
        if (!keyPasses(filter, segment.keyAt(i))) continue;
        const event = segment.at(i);
        if (!ofPattern(event)) continue;
        found.push(event);
        if (found.length >= count) return found;
      }
    }
    return found;
  }

  /** Removes everything. */
  clear(): void {
    this.#blocks?.clear();
    const observer = this.#observer;
    const removed = observer === undefined ? [] : this.#recent();
    this.#segments = [];
    this.#size = 0;
    this.#indices = undefined;
    for (const event of removed) observer!.removed(event);
  }

  /**
   * Compresses the oldest events into blocks and merges small blocks, for
   * about `budgetMs` of work at most (a step at least). Returns true when
   * work is left. Runs by itself in idle steps unless `schedule: 'manual'`.
   */
  compact(budgetMs = STEP_MS): boolean {
    const compression = this.#compression;
    if (compression === undefined || (compression.allow !== undefined && !compression.allow())) return false;
    const started = performance.now();
    const caps = { maxBlockBytes: compression.maxBlockBytes, maxBlockEvents: MAX_BLOCK_EVENTS };
    do {
      if (!this.#compressOldest() && !this.#blocks!.mergeStep(caps, this.#compressible)) return false;
    } while (performance.now() - started < budgetMs);
    return true;
  }

  readonly #compressible = (events: readonly BusEvent[]): boolean => {
    const compressible = this.#compression?.compressible;
    return compressible === undefined || events.every((event) => compressible(event.type));
  };

  /** Moves the oldest `blockEvents` uncompressed events into a block, when they are old enough. */
  #compressOldest(): boolean {
    const compression = this.#compression!;
    if (this.#size - compression.keepEvents < compression.blockEvents) return false;
    const oldest = this.#oldestRecent(compression.blockEvents);
    if (compression.keepMs > 0 && oldest[oldest.length - 1]!.timestamp > compression.now() - compression.keepMs) return false;
    let count = oldest.length;
    let block = EventBlock.of(oldest, this.#blocks!.format, this.#compressible(oldest));
    // A block of large events is cut until it fits the cap (merges never grow it further).
    while (block.liveBodyBytes > compression.maxBlockBytes && count > 1) {
      count >>= 1;
      const fewer = oldest.slice(0, count);
      block = EventBlock.of(fewer, this.#blocks!.format, this.#compressible(fewer));
    }
    this.#dropOldest(count);
    this.#blocks!.append(block);
    this.onCompressed?.(count === oldest.length ? oldest : oldest.slice(0, count));
    return true;
  }

  /** The `count` oldest uncompressed events (fewer if fewer are held), oldest first. */
  #oldestRecent(count: number): BusEvent[] {
    let found: BusEvent[] = [];
    for (const segment of this.#segments) {
      if (found.length >= count) break;
      found = found.concat(segment.slice(0, count - found.length));
    }
    return found;
  }

  /** Takes the `count` oldest uncompressed events out (they moved into a block). */
  #dropOldest(count: number): void {
    let left = count;
    while (left > 0) {
      const segment = this.#segments[0]!;
      const taken = Math.min(left, segment.length);
      if (taken === segment.length) this.#segments.shift();
      else segment.dropFirst(taken);
      left -= taken;
    }
    this.#size -= count;
  }

  /** Asks for an idle step when there is work: enough old events, or (`changed`) blocks that lost events. */
  #scheduleStep(changed: boolean): void {
    const compression = this.#compression;
    if (compression === undefined || this.#stepScheduled || compression.schedule === 'manual') return;
    if (!changed && this.#size - compression.keepEvents < compression.blockEvents) return;
    this.#stepScheduled = true;
    if (compression.schedule !== undefined) {
      compression.schedule(() => {
        this.#stepScheduled = false;
        if (this.compact()) this.#scheduleStep(true);
      });
      return;
    }
    // Paced with the thread's other histories, by its load (`step-pacer.ts`).
    pacedStep(new WeakRef<EventHistory>(this), EventHistory.#paced);
  }

  /** A paced step of `history`: it asks for the next one while work is left. */
  static #paced(history: EventHistory): void {
    history.#stepScheduled = false;
    if (threadPacer().run(() => history.compact())) history.#scheduleStep(true);
  }
}

/**
 * Schedules `step` of the history `held` refers to, held weakly while it
 * waits: a history nothing else holds (its runtime stopped) is not kept
 * until its step. A function of its own, so that no closure of the history's
 * methods (which share their context in V8) holds it.
 */
function pacedStep(held: WeakRef<EventHistory>, step: (history: EventHistory) => void): void {
  compressionSteps.schedule(() => {
    const history = held.deref();
    if (history !== undefined) step(history);
  });
}
