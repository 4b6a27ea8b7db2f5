/**
 * Where the events of sparse frames went. A station keeps an event as its
 * place in the frame it came in (`event-segment.ts`), so one event still held
 * keeps its whole frame alive: a frame of thousands of events, all but a few
 * evicted or removed once delivered, would cost what all of them did. The
 * station copies the few into a frame of their own (`station/repack.ts`) and
 * every holder of places (history segments, arrival runs, eviction queues,
 * the interest tracker) moves its places with `FrameMoves`, so the old frame
 * can go.
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';

/** By old frame, indexed by an event's index there: its new place (undefined: the event did not move). */
export type FrameMoves = ReadonlyMap<EncodedBatch, ReadonlyArray<EncodedEvent | undefined>>;

/** `event` at its new place, if it moved; else `event` itself. */
export function movedEvent(moves: FrameMoves, event: BusEvent): BusEvent {
  if (!(event instanceof EncodedEvent) || event.constructor !== EncodedEvent) return event;
  return moves.get(event.batch)?.[event.index] ?? event;
}
