/**
 * A local station's push to its main station (`toMain()`), in pieces when
 * the main station cannot take it all. The batches its threads' syncs
 * brought go oldest first, each whole, so that a reader of the main station
 * never sees part of one. All of them go in one push while the main station
 * takes them. When it refuses them for want of room (`BUS_FULL`, `bound:
 * 'budget'`: more `high` events than its budget takes, or `'limit'`: a
 * `refuseNew` limit), a push of half as many batches is tried, and after
 * each piece taken, all that is left again: what fits goes, and the push ends
 * at the first single batch that does not fit, the rest staying unsent. A
 * refusal of this sender (`bound: 'backlog'`: a reader elsewhere is behind)
 * or a failed link ends it at once.
 */
import { BusFullError, TransportError, isBusError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { compareEvents } from '../store/history.js';

/** How a push ended. */
export interface PushOutcome {
  /** Batches the main station took, from the first. */
  readonly batches: number;
  /** Their events. */
  readonly events: number;
  /** What refused the rest; absent: everything went. */
  readonly error?: unknown;
}

/** True for a refusal for want of room at the main station, which may take fewer batches. */
export function refusedForRoom(error: unknown): error is BusFullError {
  return error instanceof BusFullError && (error.bound === 'budget' || error.bound === 'limit');
}

/**
 * Pushes `batches` (oldest first) and the parked `queue`, which goes with the
 * first piece taken. `firstOne`: held back upstream, one batch asks first
 * whether the main station takes batches again, rather than have everything
 * waiting carried, scanned and refused every period.
 */
export async function pushInPieces(
  batches: readonly (readonly BusEvent[])[],
  queue: readonly BusEvent[],
  push: (events: readonly BusEvent[], parked: readonly BusEvent[]) => Promise<unknown>,
  firstOne: boolean,
): Promise<PushOutcome> {
  if (batches.length === 0) return push([], queue).then(() => ({ batches: 0, events: 0 }), (error: unknown) => ({ batches: 0, events: 0, error }));
  let done = 0;
  let events = 0;
  let size = firstOne ? 1 : batches.length;
  while (done < batches.length) {
    const piece = size === 1 ? batches[done]! : batches.slice(done, done + size).flat().sort(compareEvents);
    try {
      await push(piece, done === 0 ? queue : []);
    } catch (error) {
      if (size > 1 && refusedForRoom(error)) {
        size = Math.ceil(size / 2);
        continue;
      }
      return { batches: done, events, error };
    }
    done += size;
    events += piece.length;
    size = batches.length - done;
  }
  return { batches: done, events };
}

/** What a `toMain()` that did not push everything (`total` events) rejects with. */
export function pushError(outcome: PushOutcome, total: number): unknown {
  const error = outcome.error;
  // Any refusal of the main station's (for room, for a slow reader elsewhere) says how far the push got: a held-back
  // station's probe may have gone before the rest was refused.
  if (error instanceof BusFullError) {
    return new BusFullError(error.held, error.max, error.bound, error.limit, { pushed: outcome.events, left: total - outcome.events }, { cause: error });
  }
  return isBusError(error) && error.code !== 'FRAME_CORRUPT'
    ? error
    : new TransportError('toMain() failed; nothing was lost: the events stayed in the local station.', { cause: error });
}
