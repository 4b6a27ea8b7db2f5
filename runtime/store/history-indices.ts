/**
 * The lookup indices of a history's uncompressed events (by id, exact type,
 * origin thread and side), each list sorted by `(timestamp, id)`; an index
 * query must return what a linear scan would (`history.test.ts`).
 */
import type { BusEvent, Side } from '../../types.js';
import { compareEvents, lowerBound, originKey } from './history-query.js';

/** Inserts into a sorted list; events mostly arrive near the end, so it searches from there. */
function insertSorted(list: BusEvent[], event: BusEvent): void {
  const n = list.length;
  if (n === 0 || compareEvents(list[n - 1]!, event) < 0) {
    list.push(event);
    return;
  }
  list.splice(lowerBound(list, event), 0, event);
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
export class HistoryIndices {
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

