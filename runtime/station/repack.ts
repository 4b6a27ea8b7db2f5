/**
 * What a station keeps of the frames its events came in. An encoded event
 * keeps its whole frame alive (`store/event-segment.ts` keeps it as its place
 * there), so:
 *
 * - when only a few events of a large reply are new (a filtered `fromMain()`
 *   brings the whole filtered history every time), those few are copied into
 *   frames of their own, and the reply's frames can go (`keepable`);
 * - when most events of a frame have left the history, the few left are
 *   copied out (`store/frame-compactor.ts`), and every holder of places the
 *   station has moves them there (`stationRelocation`);
 * - what it keeps of frames besides its history's events shows in
 *   `memory().frameBytes` (`framesKept`).
 */
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from '../store/encoded-events.js';
import { repacked } from '../store/frame-compactor.js';
import { movedEvent, type FrameMoves } from '../store/frame-moves.js';
import type { EventHistory } from '../store/history.js';
import type { Retention } from '../store/retention.js';
import type { Arrivals } from './arrivals.js';
import type { Interest } from './interest.js';
import type { ParkedQueues } from './parked-queues.js';

/** Replies of at least this many events are checked for what is new before they are kept. */
const REPACK_CHECK_EVENTS = 64;

/** What to merge of a read's reply (`history`: the station's); the events new to it, repacked when few. */
export function keepable(events: readonly BusEvent[], history: EventHistory): readonly BusEvent[] {
  if (events.length < REPACK_CHECK_EVENTS) return events;
  const fresh = history.missing(events);
  if (fresh.length * 4 >= events.length || !fresh.some((event) => event instanceof EncodedEvent)) return fresh;
  return repacked(fresh);
}

/** Moves every holder of a station's places in frames besides its history (`FrameCompactor` moved those). */
export function relocateStation(
  moves: FrameMoves,
  holders: {
    readonly arrivals: Arrivals;
    readonly retention: Retention;
    readonly interest: Interest;
    /** Events accepted and not yet pushed upstream (a local station's), moved in place. */
    readonly unsent: BusEvent[][];
  },
): void {
  holders.arrivals.relocate(moves);
  holders.retention.relocate(moves);
  holders.interest.relocate(moves);
  for (const batch of holders.unsent) batch.forEach((event, i) => void (batch[i] = movedEvent(moves, event)));
}

/**
 * Adds to `buffers` the memory of the frames a station keeps alive besides
 * its history's events: those of its arrival runs (which also hold removed
 * events until they compact), of its parked entries and of what it has not
 * pushed upstream yet, so that `memory().frameBytes` says what it holds.
 */
export function framesKept(
  buffers: Set<ArrayBufferLike>,
  holders: { readonly arrivals: Arrivals; readonly parked: ParkedQueues; readonly unsent: readonly (readonly BusEvent[])[] },
): void {
  holders.arrivals.framesInto(buffers);
  for (const event of holders.parked.entries()) if (event instanceof EncodedEvent) buffers.add(event.batch.body.buffer);
  // An unsent batch is what one accept added: mostly stretches of one frame, whose buffer is added once per stretch.
  let last: EncodedEvent['batch'] | undefined;
  for (const batch of holders.unsent) {
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i];
      if (event instanceof EncodedEvent && event.batch !== last) buffers.add((last = event.batch).body.buffer);
    }
  }
}
