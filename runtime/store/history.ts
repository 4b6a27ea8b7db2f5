/**
 * Event histories: sorted by `(timestamp, id)`, deduplicated by id, with
 * lookup indices built on first query and kept up to date afterwards.
 * Buses and stations each own one; only their actor writes to it.
 */
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { typeMatches, typeMatchesAny } from '../type-patterns.js';
import { assertFunction, assertKnownKeys, assertSide, assertTypeList, describe } from '../validate.js';

/** The total order of events: timestamp, then id. */
export function compareEvents(a: BusEvent, b: BusEvent): number {
  return a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

// The one rule for selecting types (subtypes and wildcards), re-exported where readers of histories look for it.
export { typeMatches, typeMatchesAny } from '../type-patterns.js';

/** The key of an origin thread in indices and station queues: `<processor>.<thread>`. */
export function originKey(origin: { readonly processor: number; readonly thread: number }): string {
  return `${origin.processor}.${origin.thread}`;
}

/** What a history query selects; every given field must match. */
export interface HistoryQuery {
  /** Event types or patterns: subtype matching, `*` for one part, a last `>` for the rest, `*` alone for all. */
  readonly types?: readonly string[];
  readonly side?: Side;
  /** The origin thread. */
  readonly origin?: { readonly processor: number; readonly thread: number };
  /** Only events with `timestamp >= since`. */
  readonly since?: number;
  /** Only events with `timestamp < until`. */
  readonly until?: number;
  /** Any further condition. */
  readonly filter?: (event: BusEvent) => boolean;
}

const QUERY_KEYS = ['types', 'side', 'origin', 'since', 'until', 'filter'] as const;

/**
 * Checks a history query (`where` names it in errors, e.g. `history query`):
 * known keys, a non-empty list of event types, a side, an origin thread,
 * finite stamps and a filter function. Without `filter` allowed (a query that
 * crosses to another thread), a filter is refused. Throws `InvalidOptionError`:
 * a query that could only match nothing by mistake is not answered with nothing.
 */
export function checkHistoryQuery(query: unknown, where: string, options: { readonly filter: boolean } = { filter: true }): void {
  if (query === undefined) return;
  assertKnownKeys(query, QUERY_KEYS, where);
  const { types, side, origin, since, until, filter } = query as HistoryQuery;
  if (types !== undefined) assertTypeList(types, `${where}.types`);
  if (side !== undefined) assertSide(side, `${where}.side`);
  if (origin !== undefined) assertOrigin(origin, `${where}.origin`);
  for (const [key, stamp] of [['since', since], ['until', until]] as const) {
    if (stamp !== undefined && (typeof stamp !== 'number' || Number.isNaN(stamp))) {
      throw new InvalidOptionError(`${where}.${key}`, `expected a timestamp (a number of milliseconds), got ${describe(stamp)}.`);
    }
  }
  if (filter === undefined) return;
  if (!options.filter) {
    throw new InvalidOptionError(`${where}.filter`, 'a function cannot cross to another thread; filter the result here.');
  }
  assertFunction(filter, `${where}.filter`);
}

/** Throws `InvalidOptionError` unless `origin` names a thread: `{ processor, thread }`, integers from 0. */
export function assertOrigin(origin: unknown, option: string): asserts origin is { readonly processor: number; readonly thread: number } {
  assertKnownKeys(origin, ['processor', 'thread', 'generation'], option);
  const { processor, thread } = (origin ?? {}) as { processor?: unknown; thread?: unknown };
  if (origin === undefined || !isIndex(processor) || !isIndex(thread)) {
    throw new InvalidOptionError(option, 'expected { processor, thread }, each an integer from 0.');
  }
}

const isIndex = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** True when `event` satisfies `query`: the definition every index query must agree with. */
export function matchesQuery(query: HistoryQuery, event: BusEvent): boolean {
  if (query.types !== undefined && !typeMatchesAny(query.types, event.type)) return false;
  if (query.side !== undefined && event.side !== query.side) return false;
  if (
    query.origin !== undefined &&
    (event.origin.processor !== query.origin.processor || event.origin.thread !== query.origin.thread)
  ) {
    return false;
  }
  if (query.since !== undefined && event.timestamp < query.since) return false;
  if (query.until !== undefined && event.timestamp >= query.until) return false;
  if (query.filter !== undefined && !query.filter(event)) return false;
  return true;
}

/** The first index in sorted `events` whose event is not before `event`. */
function lowerBound(events: readonly BusEvent[], event: BusEvent): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareEvents(events[mid]!, event) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The first index in sorted `events` with `timestamp >= stamp`. */
function lowerBoundStamp(events: readonly BusEvent[], stamp: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.timestamp < stamp) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Inserts into a sorted list; events mostly arrive near the end, so it searches from there. */
function insertSorted(list: BusEvent[], event: BusEvent): void {
  const n = list.length;
  if (n === 0 || compareEvents(list[n - 1]!, event) < 0) {
    list.push(event);
    return;
  }
  list.splice(lowerBound(list, event), 0, event);
}

/** Returns `batch` sorted by `(timestamp, id)`; the same array when it already is. */
function sortedBatch(batch: readonly BusEvent[]): readonly BusEvent[] {
  for (let i = 1; i < batch.length; i++) {
    if (compareEvents(batch[i - 1]!, batch[i]!) > 0) return [...batch].sort(compareEvents);
  }
  return batch;
}

function pushTo<K>(map: Map<K, BusEvent[]>, key: K, event: BusEvent): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [event]);
  else insertSorted(list, event);
}

function removeFrom<K>(map: Map<K, BusEvent[]>, key: K, event: BusEvent): void {
  const list = map.get(key);
  if (list === undefined) return;
  const at = lowerBound(list, event);
  if (list[at] === undefined || compareEvents(list[at]!, event) !== 0) return;
  if (list.length === 1) map.delete(key);
  // The oldest go first mostly: V8 shifts an array's start without moving its elements.
  else if (at === 0) list.shift();
  else list.splice(at, 1);
}

/** Lookup indices over one history: by id, exact type, origin thread and side. */
class HistoryIndices {
  readonly byId = new Map<string, BusEvent>();
  readonly byType = new Map<string, BusEvent[]>();
  readonly byOrigin = new Map<string, BusEvent[]>();
  readonly bySide = new Map<Side, BusEvent[]>();

  constructor(events: readonly BusEvent[]) {
    // Built from a sorted history, so every list is appended in order.
    for (const event of events) {
      this.byId.set(event.id, event);
      this.#append(this.byType, event.type, event);
      this.#append(this.byOrigin, originKey(event.origin), event);
      this.#append(this.bySide, event.side, event);
    }
  }

  #append<K>(map: Map<K, BusEvent[]>, key: K, event: BusEvent): void {
    const list = map.get(key);
    if (list === undefined) map.set(key, [event]);
    else list.push(event);
  }

  add(event: BusEvent): void {
    this.byId.set(event.id, event);
    pushTo(this.byType, event.type, event);
    pushTo(this.byOrigin, originKey(event.origin), event);
    pushTo(this.bySide, event.side, event);
  }

  remove(event: BusEvent): void {
    this.byId.delete(event.id);
    removeFrom(this.byType, event.type, event);
    removeFrom(this.byOrigin, originKey(event.origin), event);
    removeFrom(this.bySide, event.side, event);
  }
}

/**
 * Told of every event that joins or leaves a history (not of those a merge
 * only moves): what the memory policies count (`retention.ts`).
 */
export interface HistoryObserver {
  added(event: BusEvent): void;
  removed(event: BusEvent): void;
}

/** Default number of events per history segment. */
export const HISTORY_SEGMENT_SIZE = 2048;

/**
 * A history of events, sorted by `(timestamp, id)` and deduplicated by id.
 *
 * Stored as a list of sorted segments of at most `segmentSize` events (more
 * only after mid-history inserts, split at twice that): appends never copy a
 * large array, and a merge rewrites only the tail after its first event.
 * Writers are serialized by the owning actor; readers get arrays of their own
 * (`snapshot()`, `query()`), so they never see a half-merged batch.
 *
 * @example
 * const history = new EventHistory()
 * history.merge(batch)                    // sorted merge, duplicates skipped
 * history.query({ types: ['user'] })      // uses the type index
 */
export class EventHistory {
  readonly #segmentSize: number;
  readonly #observer: HistoryObserver | undefined;
  #segments: BusEvent[][] = [];
  #size = 0;
  #indices: HistoryIndices | undefined;

  constructor(options: { segmentSize?: number; observer?: HistoryObserver } = {}) {
    this.#segmentSize = options.segmentSize ?? HISTORY_SEGMENT_SIZE;
    this.#observer = options.observer;
  }

  /** Number of events held. */
  get size(): number {
    return this.#size;
  }

  /** The newest event, if any. */
  get last(): BusEvent | undefined {
    const segment = this.#segments[this.#segments.length - 1];
    return segment?.[segment.length - 1];
  }

  /** The whole history, oldest first, as an array of the caller's own. */
  snapshot(): BusEvent[] {
    return this.#segments.length === 1 ? this.#segments[0]!.slice() : this.#segments.flat();
  }

  /** The event with this id, if held (uses the id index). */
  get(id: string): BusEvent | undefined {
    return this.#index().byId.get(id);
  }

  /** True when an event with this id is held. */
  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  #index(): HistoryIndices {
    return (this.#indices ??= new HistoryIndices(this.snapshot()));
  }

  /** Appends an event known to be after every event held. */
  #append(event: BusEvent): void {
    let segment = this.#segments[this.#segments.length - 1];
    if (segment === undefined || segment.length >= this.#segmentSize) this.#segments.push((segment = []));
    segment.push(event);
    this.#size++;
  }

  /** The segment where `event` belongs: the last one whose first event is not after it (0 if none). */
  #segmentFor(event: BusEvent): number {
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (compareEvents(this.#segments[mid]![0]!, event) <= 0) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /**
   * Inserts one event at its place in the order. Returns false (and changes
   * nothing) when an event with the same id and timestamp is already held.
   */
  insert(event: BusEvent): boolean {
    const last = this.last;
    if (last === undefined || compareEvents(last, event) < 0) {
      this.#append(event);
    } else {
      const at = this.#segmentFor(event);
      const segment = this.#segments[at]!;
      const position = lowerBound(segment, event);
      const found = segment[position];
      if (found !== undefined && compareEvents(found, event) === 0) return false;
      segment.splice(position, 0, event);
      this.#size++;
      if (segment.length > 2 * this.#segmentSize) {
        const half = segment.length >> 1;
        this.#segments.splice(at, 1, segment.slice(0, half), segment.slice(half));
      }
    }
    this.#indices?.add(event);
    this.#observer?.added(event);
    return true;
  }

  /** The events of `batch` this history does not hold, sorted, each once (a lookup per event; nothing changes). */
  missing(batch: readonly BusEvent[]): BusEvent[] {
    const fresh: BusEvent[] = [];
    let previous: BusEvent | undefined;
    for (const event of sortedBatch(batch)) {
      if (previous !== undefined && compareEvents(previous, event) === 0) continue;
      previous = event;
      if (!this.#holds(event)) fresh.push(event);
    }
    return fresh;
  }

  /** True when an event equal to `event` in the order (the same event) is held. */
  #holds(event: BusEvent): boolean {
    if (this.#segments.length === 0) return false;
    const segment = this.#segments[this.#segmentFor(event)]!;
    const found = segment[lowerBound(segment, event)];
    return found !== undefined && compareEvents(found, event) === 0;
  }

  /**
   * Merges a batch (any order) into the history with one sorted merge of the
   * tail after its first event. Duplicates, in the batch or already held, are
   * skipped. Returns the events that were new, in order.
   */
  merge(batch: readonly BusEvent[]): BusEvent[] {
    if (batch.length === 0) return [];
    const incoming = sortedBatch(batch);
    const first = incoming[0]!;
    const last = this.last;
    let tail: BusEvent[] = [];
    if (last !== undefined && compareEvents(last, first) >= 0) {
      // Cut the history at the first incoming event; everything after it is re-merged.
      const at = this.#segmentFor(first);
      const segment = this.#segments[at]!;
      tail = segment.splice(lowerBound(segment, first));
      const later = this.#segments.splice(at + 1);
      if (later.length > 0) tail = tail.concat(...later);
      if (segment.length === 0) this.#segments.pop();
      this.#size -= tail.length;
    }
    const added: BusEvent[] = [];
    let t = 0;
    let previous: BusEvent | undefined = this.last;
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
    if (this.#indices !== undefined) for (const event of added) this.#indices.add(event);
    if (this.#observer !== undefined) for (const event of added) this.#observer.added(event);
    return added;
  }

  /** The events that match `query`, oldest first; answered from the indices. */
  query(query: HistoryQuery = {}): BusEvent[] {
    const candidates = this.#candidates(query);
    const result: BusEvent[] = [];
    for (const event of candidates) if (matchesQuery(query, event)) result.push(event);
    return result;
  }

  /** The events that match `query` by a full scan: the reference `query()` must agree with. */
  scan(query: HistoryQuery = {}): BusEvent[] {
    return this.snapshot().filter((event) => matchesQuery(query, event));
  }

  /** The smallest sorted candidate list the indices offer for `query`. */
  #candidates(query: HistoryQuery): readonly BusEvent[] {
    if (query.types === undefined && query.side === undefined && query.origin === undefined) {
      const events = this.snapshot();
      const from = query.since === undefined ? 0 : lowerBoundStamp(events, query.since);
      const to = query.until === undefined ? events.length : lowerBoundStamp(events, query.until);
      return events.slice(from, Math.max(from, to));
    }
    const index = this.#index();
    let best: readonly BusEvent[] | undefined;
    if (query.side !== undefined) best = index.bySide.get(query.side) ?? [];
    if (query.origin !== undefined) {
      const list = index.byOrigin.get(originKey(query.origin)) ?? [];
      if (best === undefined || list.length < best.length) best = list;
    }
    if (query.types !== undefined) {
      const lists: BusEvent[][] = [];
      let total = 0;
      for (const [type, list] of index.byType) {
        if (typeMatchesAny(query.types, type)) {
          lists.push(list);
          total += list.length;
        }
      }
      if (best === undefined || total < best.length) {
        best = lists.length === 1 ? lists[0]! : lists.flat().sort(compareEvents);
      }
    }
    return best ?? this.snapshot();
  }

  /** Removes every event for which `predicate` holds; returns them, oldest first. */
  removeWhere(predicate: (event: BusEvent) => boolean): BusEvent[] {
    const removed: BusEvent[] = [];
    const kept: BusEvent[] = [];
    for (const segment of this.#segments) for (const event of segment) (predicate(event) ? removed : kept).push(event);
    if (removed.length > 0) {
      this.#reset();
      for (const event of kept) this.#append(event);
      if (this.#observer !== undefined) for (const event of removed) this.#observer.removed(event);
    }
    return removed;
  }

  /**
   * Removes these events (any order; those not held are skipped), each found
   * by bisection, and from the indices too. Returns the removed ones.
   */
  remove(events: readonly BusEvent[]): BusEvent[] {
    const removed: BusEvent[] = [];
    for (const event of events) {
      if (this.#segments.length === 0) break;
      const at = this.#segmentFor(event);
      const segment = this.#segments[at]!;
      const position = lowerBound(segment, event);
      const found = segment[position];
      if (found === undefined || compareEvents(found, event) !== 0) continue;
      if (segment.length === 1) this.#segments.splice(at, 1);
      else if (position === 0) segment.shift();
      else segment.splice(position, 1);
      this.#size--;
      this.#indices?.remove(found);
      this.#observer?.removed(found);
      removed.push(found);
    }
    return removed;
  }

  /** Up to `count` events for which `predicate` holds, oldest first, found from the oldest end (nothing changes). */
  oldest(count: number, predicate?: (event: BusEvent) => boolean): BusEvent[] {
    const found: BusEvent[] = [];
    if (count <= 0) return found;
    for (const segment of this.#segments) {
      for (const event of segment) {
        if (predicate !== undefined && !predicate(event)) continue;
        found.push(event);
        if (found.length >= count) return found;
      }
    }
    return found;
  }

  /** The events stamped at or before `stamp`, oldest first (found from the oldest end; nothing changes). */
  through(stamp: number): BusEvent[] {
    const found: BusEvent[] = [];
    for (const segment of this.#segments) {
      if (segment[0]!.timestamp > stamp) break;
      for (const event of segment) {
        if (event.timestamp > stamp) return found;
        found.push(event);
      }
    }
    return found;
  }

  /**
   * Up to `count` events of `pattern` (and its subtypes) for which
   * `predicate` holds, oldest first, none stamped after `until`: the heads of
   * the type index's lists, merged, so the cost is the events taken, not the
   * history's size.
   */
  oldestOf(pattern: string, count: number, predicate?: (event: BusEvent) => boolean, until = Infinity): BusEvent[] {
    const lists: Array<{ readonly list: readonly BusEvent[]; at: number }> = [];
    for (const [type, list] of this.#index().byType) if (typeMatches(pattern, type)) lists.push({ list, at: 0 });
    const found: BusEvent[] = [];
    while (found.length < count) {
      let best: { readonly list: readonly BusEvent[]; at: number } | undefined;
      for (const head of lists) {
        while (head.at < head.list.length && predicate !== undefined && !predicate(head.list[head.at]!)) head.at++;
        const event = head.list[head.at];
        if (event !== undefined && (best === undefined || compareEvents(event, best.list[best.at]!) < 0)) best = head;
      }
      if (best === undefined || best.list[best.at]!.timestamp > until) break;
      found.push(best.list[best.at++]!);
    }
    return found;
  }

  /** Removes everything. */
  clear(): void {
    const observer = this.#observer;
    const removed = observer === undefined ? [] : this.snapshot();
    this.#reset();
    for (const event of removed) observer!.removed(event);
  }

  #reset(): void {
    this.#segments = [];
    this.#size = 0;
    this.#indices = undefined;
  }
}
