/**
 * The order of events in a history and what a query selects: shared by the
 * segments of `history.ts` and the compressed blocks of `blocks.ts`, which
 * must agree on both; and the check of a query a reader passes.
 */
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { assertFunction, assertKnownKeys, assertSide, assertTypeList, describe, knownOptions } from '../validate.js';
import { typeMatchesAny } from '../type-patterns.js';

/** The total order of events: timestamp, then id. */
export function compareEvents(a: Pick<BusEvent, 'timestamp' | 'id'>, b: Pick<BusEvent, 'timestamp' | 'id'>): number {
  return a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

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

/** The first index in sorted `events` whose event is not before `event` (none before `low`, if given). */
export function lowerBound(events: readonly BusEvent[], event: Pick<BusEvent, 'timestamp' | 'id'>, low = 0): number {
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareEvents(events[mid]!, event) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The first index in sorted `events` with `timestamp >= stamp`. */
export function lowerBoundStamp(events: readonly BusEvent[], stamp: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.timestamp < stamp) low = mid + 1;
    else high = mid;
  }
  return low;
}

const QUERY_KEYS = ['types', 'side', 'origin', 'since', 'until', 'filter'] as const;

/**
 * Checks a history query (`where` names it in errors, e.g. `history query`):
 * known keys, a non-empty list of event types, a side, an origin thread,
 * finite stamps and a filter function. Without `filter` allowed (a query that
 * crosses to another thread), a filter is refused. Throws `InvalidOptionError`:
 * a query that could only match nothing by mistake is not answered with nothing.
 */
export function checkHistoryQuery<Q>(query: Q, where: string, options: { readonly filter: boolean } = { filter: true }): Q {
  if (query === undefined) return query;
  // Each field read once (and the origin's, and each type): the answer is to the query that was checked.
  const read = knownOptions(query as HistoryQuery, QUERY_KEYS, where, ['types'])!;
  const origin = read.origin === undefined ? undefined : knownOptions(read.origin, ORIGIN_KEYS, `${where}.origin`) ?? read.origin;
  const { types, side, since, until, filter } = read;
  if (types !== undefined) assertTypeList(types, `${where}.types`);
  if (side !== undefined) assertSide(side, `${where}.side`);
  if (origin !== undefined) assertOrigin(origin, `${where}.origin`);
  for (const [key, stamp] of [['since', since], ['until', until]] as const) {
    if (stamp !== undefined && (typeof stamp !== 'number' || Number.isNaN(stamp))) {
      throw new InvalidOptionError(`${where}.${key}`, `expected a timestamp (a number of milliseconds), got ${describe(stamp)}.`);
    }
  }
  const checked = (origin === undefined ? read : { ...read, origin }) as Q;
  if (filter === undefined) return checked;
  if (!options.filter) {
    throw new InvalidOptionError(`${where}.filter`, 'a function cannot cross to another thread; filter the result here.');
  }
  assertFunction(filter, `${where}.filter`);
  return checked;
}

const ORIGIN_KEYS = ['processor', 'thread', 'generation'] as const;

/** Throws `InvalidOptionError` unless `origin` names a thread: `{ processor, thread }`, integers from 0. */
export function assertOrigin(origin: unknown, option: string): asserts origin is { readonly processor: number; readonly thread: number } {
  assertKnownKeys(origin, ORIGIN_KEYS, option);
  const { processor, thread } = (origin ?? {}) as { processor?: unknown; thread?: unknown };
  if (origin === undefined || !isIndex(processor) || !isIndex(thread)) {
    throw new InvalidOptionError(option, 'expected { processor, thread }, each an integer from 0.');
  }
}

const isIndex = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
