/**
 * A reader's search of a history that may keep events in frames (a bus's,
 * once a sync encoded them; a station's): the reader gets plain events, its
 * `filter` sees plain events only, and what the search returned leaves when
 * its policy says `removeAfterSearch`.
 */
import type { BusEvent } from '../../types.js';
import { plainEvent, plainEvents } from './encoded-events.js';
import type { HistoryQuery } from './history-query.js';
import type { Retention } from './retention.js';

/**
 * The events of `retention`'s history that match `query`, oldest first, as plain objects (expired ones gone
 * first). `removed` hears of what left (expired, or removed after this search): a station forgets it in its
 * other holders.
 */
export function searchHistory(
  retention: Retention,
  query: HistoryQuery | undefined,
  removed: (events: readonly BusEvent[]) => void = () => undefined,
): BusEvent[] {
  removed(retention.expire());
  if (query?.filter === undefined) {
    const found = retention.history.query(query);
    removed(retention.afterSearch(found));
    return plainEvents(found);
  }
  // The filter is the user's: it sees plain events only.
  const { filter, ...indexed } = query;
  const found = retention.history.query(indexed);
  const plain = plainEvents(found);
  const kept: BusEvent[] = [];
  const searched: BusEvent[] = [];
  plain.forEach((event, i) => {
    if (!filter(event)) return;
    kept.push(event);
    searched.push(found[i]!);
  });
  removed(retention.afterSearch(searched));
  return kept;
}

/** The event with this id in `retention`'s history, as a plain object, if held (expired ones gone first). */
export function findInHistory(retention: Retention, id: string): BusEvent | undefined {
  retention.expire();
  const found = retention.history.get(id);
  if (found === undefined) return undefined;
  retention.afterSearch([found]);
  return plainEvent(found);
}
