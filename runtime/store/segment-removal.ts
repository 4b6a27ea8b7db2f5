/**
 * Finding events in a history's segments and removing many at once: a
 * round of eviction, expiry or removal after delivery takes its events out
 * of each segment it touches in one pass (`EventSegment.removePositions`),
 * not one splice per event. Only the history's actor calls these, between
 * readers' copies (`snapshot()`, `view()`), so a reader sees a removal all
 * or nothing.
 */
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import type { EventSegment } from './event-segment.js';

/** The segment where `event` belongs: the last one whose first event is not after it (0 if none). */
export function segmentFor(segments: readonly EventSegment[], event: Pick<BusEvent, 'timestamp' | 'id'>): number {
  let low = 0;
  let high = segments.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (segments[mid]!.compareAt(0, event) <= 0) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * Removes these events (any order; those not held are skipped, a repeat
 * counts once) from `segments`, dropping a segment left empty (in place: the
 * array stays the history's). Each is found as itself a little past the last
 * one found (a round of eviction's come sorted, a few places apart, and are
 * the events held or their places in frames: a pass over integers, no stamp
 * or id read), else by bisection; each touched segment is then compacted once.
 * Returns the removed ones in the order
 * given: the held event where the caller's was only equal to it (an event
 * kept as its place in a frame has no object of its own: the caller's
 * stands for it when it is that place). `taken`, if given, gets the index in
 * `events` of each one removed, in the same order, whose size (an eviction's,
 * as queued) stands for it; -1 for an event in a frame found by stamp and id
 * only: the key may be a stale entry of it at another place (sent again,
 * repacked), queued at another size (its place's span is read instead).
 */
export function removeEvents(segments: EventSegment[], events: readonly BusEvent[], taken?: number[]): BusEvent[] {
  const removed: BusEvent[] = [];
  if (segments.length === 0) return removed;
  const bySegment: Array<number[] | undefined> = [];
  // Per segment: its positions came in ascending order (a sorted round's do), so need no sort and hold no repeat.
  let unordered: boolean[] | undefined;
  // Per event removed, its segment and position as one exact number (positions stay below 2^31, segments below 2^21).
  const hits: number[] = [];
  // The last event found: the next one, when after it in the same segment, is searched from there.
  let lastAt = -1;
  let lastPosition = 0;
  // The last was found as itself: the next is looked for so first.
  let itself = true;
  for (let k = 0; k < events.length; k++) {
    const event = events[k]!;
    let at = lastAt;
    let position = lastAt < 0 || !itself ? -1 : segments[lastAt]!.findItself(event, lastPosition + 1, NEAR);
    if (position >= 0) {
      // Found as itself a few places on: no comparison of stamps and ids.
    } else if (
      lastAt >= 0 &&
      segments[lastAt]!.compareAt(lastPosition, event) < 0 &&
      (lastAt === segments.length - 1 || segments[lastAt + 1]!.compareAt(0, event) > 0)
    ) {
      position = segments[at]!.indexFrom(event, lastPosition + 1);
    } else {
      at = segmentFor(segments, event);
      position = segments[at]!.indexOf(event);
    }
    if (position < 0) continue;
    const segment = segments[at]!;
    itself = segment.isAt(position, event);
    lastAt = at;
    lastPosition = position;
    const held = itself ? event : segment.at(position);
    removed.push(held);
    taken?.push(itself || !(held instanceof EncodedEvent) ? k : -1);
    hits.push(at * 2 ** 31 + position);
    const list = bySegment[at];
    if (list === undefined) bySegment[at] = [position];
    else {
      if (list[list.length - 1]! >= position) (unordered ??= [])[at] = true;
      list.push(position);
    }
  }
  let repeats = false;
  let emptied = false;
  bySegment.forEach((list, at) => {
    const segment = segments[at]!;
    if (unordered?.[at] !== true) segment.removePositions(list!);
    else {
      const positions = Int32Array.from(list!).sort();
      const distinct = positions.filter((position, i) => i === 0 || position !== positions[i - 1]);
      repeats ||= distinct.length < positions.length;
      segment.removePositions(distinct);
    }
    if (segment.length === 0) emptied = true;
  });
  if (emptied) {
    let write = 0;
    for (const segment of segments) if (segment.length > 0) segments[write++] = segment;
    segments.length = write;
  }
  return repeats ? firstOfEach(removed, hits, taken) : removed;
}

/** `removed` without the repeats of an event (the same `hits`: segment and position); `taken` (its indices in the input), likewise. */
function firstOfEach(removed: readonly BusEvent[], hits: readonly number[], taken: number[] | undefined): BusEvent[] {
  const seen = new Set<number>();
  const once: BusEvent[] = [];
  let kept = 0;
  for (let i = 0; i < removed.length; i++) {
    if (seen.has(hits[i]!)) continue;
    seen.add(hits[i]!);
    once.push(removed[i]!);
    if (taken !== undefined) taken[kept++] = taken[i]!;
  }
  if (taken !== undefined) taken.length = kept;
  return once;
}

/** How far past the last event found a removal looks for the next one as itself (the same object, or the same place in a frame). */
const NEAR = 128;
