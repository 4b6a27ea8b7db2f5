/**
 * What a bus does with a station's reply to its read: the history it merges
 * (what the thread delivered already is merged, not delivered again; events
 * whose policy removes them after delivery never join it), the queue entries
 * that come home, and the deliveries the thread still owes. Pure functions
 * over the bus's stores, so `bus.ts` keeps the calls and their states.
 */
import type { BusEvent, Endpoint } from '../../types.js';
import { EncodedEvent, plainEvents } from '../store/encoded-events.js';
import { compareEvents, type EventHistory } from '../store/history.js';
import type { MemoryPolicies } from '../store/memory-policy.js';
import type { Retention } from '../store/retention.js';
import { readFramerOf } from './read-framer.js';
import type { Read } from './station-exchange.js';
import type { Subscriptions } from './subscriptions.js';

/** A read merged into a bus history. */
export interface MergedRead {
  /** Every event new to the history, or new to the thread, in order: what `fromStation()` reports as `added`. */
  readonly added: BusEvent[];
  /** What the thread's subscribers have not been delivered, in order. */
  readonly delivering: BusEvent[];
}

/**
 * Frames of fewer events are not kept for what a read brought: a frame costs
 * a few hundred bytes besides its events (its buffer, its index), more than
 * objects would for a handful, and a segment refers to at most 1 024 frames.
 */
export const FRAMED_READ_MIN_EVENTS = 64;

/**
 * `events` as a bus history takes them, and each one's object: those in
 * frames of `FRAMED_READ_MIN_EVENTS` or more as new `EncodedEvent`s of this
 * read (the history keeps their places; the merge compares their ids without
 * reading the frame again), the rest as objects. Decoded once, a run of one
 * frame at a time: delivery and `added` need the objects anyway.
 */
function forHistory(events: readonly BusEvent[]): readonly BusEvent[] {
  if (!events.some((event) => event instanceof EncodedEvent)) return events;
  const decoded = plainEvents(events);
  return events.map((event, i) => {
    if (!(event instanceof EncodedEvent) || event.constructor !== EncodedEvent || event.batch.count < FRAMED_READ_MIN_EVENTS) return decoded[i]!;
    // Not the event read (a station may hold it as an object): one of this read, which nothing keeps.
    const place = new EncodedEvent(event.batch, event.index);
    place.plain = decoded[i];
    return place;
  });
}

/** The objects of `events` (`forHistory`'s). */
function objectsOf(events: readonly BusEvent[]): BusEvent[] {
  return events.map((event) => (event instanceof EncodedEvent ? event.decoded() : event));
}

/** Merges the history of `read` into `history` (the station put what this thread has delivered already first). */
export function mergeReadHistory(history: EventHistory, retention: Retention, read: Read): MergedRead {
  let events = forHistory(read.batch.history);
  let known = Math.min(read.alreadyDelivered ?? 0, events.length);
  // Events that leave once delivered never join this history: delivered if new, else left out.
  let transient: BusEvent[] = [];
  if (retention.policies.afterDelivery) ({ history: events, known, transient } = withoutTransient(events, known, retention.policies));
  const keptMerged = known === 0 ? [] : history.merge(known === events.length ? events : events.slice(0, known));
  const keptFresh = known === events.length ? [] : history.merge(known === 0 ? events : events.slice(known));
  // The history keeps what came in frames as places there (`event-segment.ts`); the frames' other events count as gone.
  retention.arrived(read.batch.history, keptMerged, keptFresh);
  // What stays as objects (a small read's) is framed later, in idle steps (`read-framer.ts`).
  const framer = readFramerOf(retention);
  if (framer !== undefined) (framer.kept(keptMerged), framer.kept(keptFresh));
  // Subscribers and `added` get the objects, which the history does not keep.
  const merged = objectsOf(keptMerged);
  const fresh = objectsOf(keptFresh);
  const delivering = transient.length === 0 ? fresh : fresh.concat(objectsOf(transient)).sort(compareEvents);
  const added = merged.length === 0 ? delivering : merged.concat(delivering).sort(compareEvents);
  retention.settle();
  return { added, delivering };
}

/** Merges `incoming` (sorted) into the sorted `queue`, skipping ids already there. */
export function mergeQueue(queue: BusEvent[], incoming: readonly BusEvent[]): BusEvent[] {
  if (incoming.length === 0) return queue;
  const ids = new Set(queue.map((event) => event.id));
  const fresh = incoming.filter((event) => !ids.has(event.id));
  return [...queue, ...fresh].sort(compareEvents);
}

/**
 * Delivers what a read brought to the thread's subscribers, once: never the
 * thread's own events, never what its delivered mark says it had; a filtered
 * read notes what it delivered ahead of the mark. Returns the deliveries made.
 */
export function deliverRead(delivering: readonly BusEvent[], read: Read, endpoint: Endpoint, subscriptions: Subscriptions): number {
  const { delivery } = read;
  let delivered = 0;
  for (const event of delivering) {
    if (event.origin.processor === endpoint.processor && event.origin.thread === endpoint.thread) continue;
    if (delivery !== undefined) {
      if (delivery.mark.deliveredAhead(event.id)) continue;
      if (delivery.filtered) delivery.mark.noteAhead(event.id, delivery.through);
    }
    delivered += subscriptions.deliver(event);
  }
  if (delivery !== undefined && !delivery.filtered) delivery.mark.noteUnfiltered(delivery.since, delivery.through);
  return delivered;
}

/**
 * A bus's read, without the events whose policy removes them after delivery:
 * those never join a bus's history. `known` (the read's first events, which
 * the thread has delivered already) is counted again without them;
 * `transient` are the later ones, to deliver and let go.
 */
export function withoutTransient(
  history: readonly BusEvent[],
  known: number,
  policies: MemoryPolicies,
): { history: readonly BusEvent[]; known: number; transient: BusEvent[] } {
  const kept: BusEvent[] = [];
  const transient: BusEvent[] = [];
  let keptKnown = 0;
  history.forEach((event, i) => {
    if (!policies.removesAfterDelivery(event.type)) {
      kept.push(event);
      if (i < known) keptKnown++;
    } else if (i >= known) {
      transient.push(event);
    }
  });
  return transient.length === 0 && kept.length === history.length ? { history, known, transient } : { history: kept, known: keptKnown, transient };
}
