/**
 * Finding events in a history's segments and removing many at once: a
 * round of eviction, expiry or removal after delivery takes its events out
 * of each segment it touches in one pass (`EventSegment.removePositions`),
 * not one splice per event. Only the history's actor calls these, between
 * readers' copies (`snapshot()`, `view()`), so a reader sees a removal all
 * or nothing.
 */
import type { BusEvent } from '../../types.js';
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
 * array stays the history's). Each is found by bisection; each touched
 * segment is then compacted once. Returns the removed ones in the order
 * given: the held event where the caller's was only equal to it (an event
 * kept as its place in a frame has no object of its own: the caller's
 * stands for it when it is that place).
 */
export function removeEvents(segments: EventSegment[], events: readonly BusEvent[]): BusEvent[] {
  const removed: BusEvent[] = [];
  if (segments.length === 0) return removed;
  const bySegment: Array<number[] | undefined> = [];
  const hitSegments: number[] = [];
  const hitPositions: number[] = [];
  // The last event found: the next one, when after it in the same segment, is searched from there.
  let lastAt = -1;
  let lastPosition = 0;
  for (const event of events) {
    let at = lastAt;
    let position = lastAt < 0 ? -1 : nearAfter(segments[lastAt]!, lastPosition, event);
    if (position >= 0) {
      // Found as itself a few places on: no comparison of stamps and ids.
    } else if (
      lastAt >= 0 &&
      segments[lastAt]!.compareAt(lastPosition, event) < 0 &&
      (lastAt === segments.length - 1 || segments[lastAt + 1]!.compareAt(0, event) > 0)
    ) {
      at = lastAt;
      position = segments[at]!.indexFrom(event, lastPosition + 1);
    } else {
      at = segmentFor(segments, event);
      position = segments[at]!.indexOf(event);
    }
    if (position < 0) continue;
    const segment = segments[at]!;
    lastAt = at;
    lastPosition = position;
    removed.push(segment.isAt(position, event) ? event : segment.at(position));
    hitSegments.push(at);
    hitPositions.push(position);
    (bySegment[at] ??= []).push(position);
  }
  let repeats = false;
  let emptied = false;
  bySegment.forEach((list, at) => {
    const positions = Int32Array.from(list!).sort();
    let distinct = positions.length;
    for (let i = 1; i < positions.length; i++) if (positions[i] === positions[i - 1]) distinct--;
    const segment = segments[at]!;
    if (distinct < positions.length) {
      repeats = true;
      segment.removePositions(positions.filter((position, i) => i === 0 || position !== positions[i - 1]));
    } else segment.removePositions(positions);
    if (segment.length === 0) emptied = true;
  });
  if (emptied) {
    let write = 0;
    for (const segment of segments) if (segment.length > 0) segments[write++] = segment;
    segments.length = write;
  }
  return repeats ? firstOfEach(removed, hitSegments, hitPositions) : removed;
}

/** `removed` without the repeats of an event (the same segment and position). */
function firstOfEach(removed: readonly BusEvent[], segments: readonly number[], positions: readonly number[]): BusEvent[] {
  const seen = new Set<number>();
  const once: BusEvent[] = [];
  for (let i = 0; i < removed.length; i++) {
    // Positions stay below 2^31 and segments below 2^21: the pair is one exact number.
    const key = segments[i]! * 2 ** 31 + positions[i]!;
    if (seen.has(key)) continue;
    seen.add(key);
    once.push(removed[i]!);
  }
  return once;
}

/** How far past the last event found a round looks for the next one as itself (the same object, or the same place in a frame). */
const NEAR = 8;

/** The position of `event` itself among the `NEAR` events after `from`, or -1. */
function nearAfter(segment: EventSegment, from: number, event: BusEvent): number {
  const end = Math.min(segment.length, from + 1 + NEAR);
  for (let i = from + 1; i < end; i++) if (segment.isAt(i, event)) return i;
  return -1;
}
