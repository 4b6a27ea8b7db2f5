/**
 * Event histories: sorted by `(timestamp, id)`, deduplicated by id, with
 * lookup indices built on first query and kept up to date afterwards.
 * Buses and stations each own one; only their actor writes to it.
 */
import type { BusEvent, Side } from '../types.js';

/** The total order of events: timestamp, then id. */
export function compareEvents(a: BusEvent, b: BusEvent): number {
  return a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** True when `type` is `pattern` or one of its subtypes (`user` matches `user.login`). */
export function typeMatches(pattern: string, type: string): boolean {
  return (
    type === pattern ||
    (type.length > pattern.length && type.charCodeAt(pattern.length) === 46 /* . */ && type.startsWith(pattern))
  );
}

/** True when `type` matches one of `patterns`. */
export function typeMatchesAny(patterns: readonly string[], type: string): boolean {
  for (const pattern of patterns) if (typeMatches(pattern, type)) return true;
  return false;
}

/** The key of an origin thread in indices and station queues: `<processor>.<thread>`. */
export function originKey(origin: { readonly processor: number; readonly thread: number }): string {
  return `${origin.processor}.${origin.thread}`;
}

/** What a history query selects; every given field must match. */
export interface HistoryQuery {
  /** Event types, with subtype matching. */
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
}

/**
 * A history of events, sorted by `(timestamp, id)` and deduplicated by id.
 *
 * Writers are serialized by the owning actor. `snapshot()` is copy-on-write:
 * the array it returns never changes, so a reader holding it never sees a
 * half-merged batch, and the next write copies instead of mutating it.
 *
 * @example
 * const history = new EventHistory()
 * history.merge(batch)                    // sorted merge, duplicates skipped
 * history.query({ types: ['user'] })      // uses the type index
 */
export class EventHistory {
  #events: BusEvent[] = [];
  /** True while a snapshot shares `#events`; the next write copies it first. */
  #shared = false;
  #indices: HistoryIndices | undefined;

  /** Number of events held. */
  get size(): number {
    return this.#events.length;
  }

  /** The newest event, if any. */
  get last(): BusEvent | undefined {
    return this.#events[this.#events.length - 1];
  }

  /** An immutable view of the whole history, oldest first. */
  snapshot(): readonly BusEvent[] {
    this.#shared = true;
    return this.#events;
  }

  /** The event with this id, if held (uses the id index). */
  get(id: string): BusEvent | undefined {
    return this.#index().byId.get(id);
  }

  /** True when an event with this id is held. */
  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  #writable(): BusEvent[] {
    if (this.#shared) {
      this.#events = this.#events.slice();
      this.#shared = false;
    }
    return this.#events;
  }

  #index(): HistoryIndices {
    return (this.#indices ??= new HistoryIndices(this.#events));
  }

  /**
   * Inserts one event at its place in the order. Returns false (and changes
   * nothing) when an event with the same id and timestamp is already held.
   */
  insert(event: BusEvent): boolean {
    const events = this.#writable();
    const n = events.length;
    if (n === 0 || compareEvents(events[n - 1]!, event) < 0) {
      events.push(event);
    } else {
      const at = lowerBound(events, event);
      const found = events[at];
      if (found !== undefined && compareEvents(found, event) === 0) return false;
      events.splice(at, 0, event);
    }
    this.#indices?.add(event);
    return true;
  }

  /**
   * Merges a batch (any order) into the history with one sorted merge of the
   * affected tail. Duplicates, in the batch or already held, are skipped.
   * Returns the events that were new, in order.
   */
  merge(batch: readonly BusEvent[]): BusEvent[] {
    if (batch.length === 0) return [];
    const incoming = sortedBatch(batch);
    const events = this.#writable();
    const added: BusEvent[] = [];
    const first = incoming[0]!;
    const n = events.length;
    const start = n === 0 || compareEvents(events[n - 1]!, first) < 0 ? n : lowerBound(events, first);
    const tail = start === n ? [] : events.splice(start);
    let t = 0;
    let previous: BusEvent | undefined = events[events.length - 1];
    for (const event of incoming) {
      while (t < tail.length && compareEvents(tail[t]!, event) < 0) {
        previous = tail[t++]!;
        events.push(previous);
      }
      // Equal order means equal id and stamp: the same event again.
      if (previous !== undefined && compareEvents(previous, event) === 0) continue;
      const next = tail[t];
      if (next !== undefined && compareEvents(next, event) === 0) continue;
      events.push(event);
      added.push(event);
      previous = event;
    }
    while (t < tail.length) events.push(tail[t++]!);
    if (this.#indices !== undefined) for (const event of added) this.#indices.add(event);
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
    return this.#events.filter((event) => matchesQuery(query, event));
  }

  /** The smallest sorted candidate list the indices offer for `query`. */
  #candidates(query: HistoryQuery): readonly BusEvent[] {
    if (query.types === undefined && query.side === undefined && query.origin === undefined) {
      const from = query.since === undefined ? 0 : lowerBoundStamp(this.#events, query.since);
      const to = query.until === undefined ? this.#events.length : lowerBoundStamp(this.#events, query.until);
      return this.#events.slice(from, Math.max(from, to));
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
    return best ?? this.#events;
  }

  /** Removes every event for which `predicate` holds; returns them, oldest first. */
  removeWhere(predicate: (event: BusEvent) => boolean): BusEvent[] {
    const removed: BusEvent[] = [];
    const kept: BusEvent[] = [];
    for (const event of this.#events) (predicate(event) ? removed : kept).push(event);
    if (removed.length > 0) {
      this.#events = kept;
      this.#shared = false;
      this.#indices = undefined;
    }
    return removed;
  }

  /** Removes everything. */
  clear(): void {
    this.#events = [];
    this.#shared = false;
    this.#indices = undefined;
  }
}
