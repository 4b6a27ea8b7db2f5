/**
 * Watches of one event's delivery in this thread: they collect its handlers'
 * outcomes for `bus.publish()` and for `after` middleware.
 */
import type { BusEvent } from '../../types.js';

/**
 * Told the outcome of each subscriber one event is delivered to, then that
 * delivery is over (`bus.publish()` awaits them).
 */
export interface DeliveryWatch {
  /** A subscriber returned `result` (a promise, when it is async). */
  handled(result: unknown): void;
  /** `count` subscribers in a row returned nothing (told in one call: most handlers return nothing). */
  handledNothing(count: number): void;
  /** A subscriber (or its filter) threw. */
  failed(error: unknown): void;
  /** Every matching subscriber of `event` has been called. */
  delivered(event: BusEvent): void;
}

/** The outcome of every handler that returned nothing: one frozen object, not one per handler call. */
export const RETURNED_NOTHING: PromiseFulfilledResult<unknown> = Object.freeze({ status: 'fulfilled', value: undefined });

/** Handlers per delivery up to which the outcomes of one where every handler returned nothing are shared. */
const SHARED_OUTCOMES = 64;
/** By handler count: the outcomes of a delivery where each handler returned nothing. */
const returnedNothingByCount: Array<ReadonlyArray<PromiseSettledResult<unknown>>> = [];

/**
 * The outcomes of a delivery to `count` handlers that each returned nothing:
 * one frozen array per count (up to `SHARED_OUTCOMES`), not one per delivery.
 */
export function returnedNothing(count: number): ReadonlyArray<PromiseSettledResult<unknown>> {
  if (count > SHARED_OUTCOMES) return new Array<PromiseSettledResult<unknown>>(count).fill(RETURNED_NOTHING);
  return (returnedNothingByCount[count] ??= Object.freeze(new Array<PromiseSettledResult<unknown>>(count).fill(RETURNED_NOTHING)));
}

/** The outcome of a handler that returned `value` (not a promise); shared (frozen) when it returned nothing. */
export function fulfilled(value: unknown): PromiseFulfilledResult<unknown> {
  return value === undefined ? RETURNED_NOTHING : { status: 'fulfilled', value };
}

/**
 * What the promise of a `RemoteBus.subscribe()` listener resolves with when
 * the caller's filter (run in the caller's thread, after the thread has
 * delivered the event to the listener) turned the event away: the handler
 * was never called, so there is no outcome, as for a local subscriber whose
 * filter says no. Never seen by users: the watches below leave it out.
 */
export const FILTERED_OUT: unique symbol = Symbol('busline.filteredOut');

/** The outcome of an async handler's promise once settled; undefined when it says `FILTERED_OUT`. */
export function settledOutcome(result: Promise<unknown>): Promise<PromiseSettledResult<unknown> | undefined> {
  return result.then(
    (value: unknown) => (value === FILTERED_OUT ? undefined : { status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/** All of `outcomes` once settled, without those of filtered-out remote subscribers. */
export async function allOutcomes(
  outcomes: ReadonlyArray<PromiseSettledResult<unknown> | Promise<PromiseSettledResult<unknown> | undefined>>,
): Promise<Array<PromiseSettledResult<unknown>>> {
  const settled = await Promise.all(outcomes);
  return settled.includes(undefined) ? settled.filter((outcome) => outcome !== undefined) : (settled as Array<PromiseSettledResult<unknown>>);
}

/** Collects the outcomes of one event's handlers; `outcomes` settles once they all have. */
export function collectOutcomes(): { watch: DeliveryWatch; outcomes: Promise<Array<PromiseSettledResult<unknown>>> } {
  const outcomes: Array<Promise<PromiseSettledResult<unknown> | undefined> | PromiseSettledResult<unknown>> = [];
  let delivered!: () => void;
  const done = new Promise<void>((resolve) => (delivered = resolve));
  const watch: DeliveryWatch = {
    // Settled handlers attached at once: a rejection is never unhandled while others run.
    handled: (result) => void outcomes.push(result instanceof Promise ? settledOutcome(result) : fulfilled(result)),
    handledNothing: (count) => {
      for (let i = 0; i < count; i++) outcomes.push(RETURNED_NOTHING);
    },
    failed: (reason) => void outcomes.push({ status: 'rejected', reason }),
    delivered: () => delivered(),
  };
  return { watch, outcomes: done.then(() => allOutcomes(outcomes)) };
}

/** One watch that tells both (a `publish()` and the `after` middleware of the same event). */
export function bothWatches(first: DeliveryWatch, second: DeliveryWatch): DeliveryWatch {
  return {
    handled: (result) => {
      first.handled(result);
      second.handled(result);
    },
    handledNothing: (count) => {
      first.handledNothing(count);
      second.handledNothing(count);
    },
    failed: (error) => {
      first.failed(error);
      second.failed(error);
    },
    delivered: (event) => {
      first.delivered(event);
      second.delivered(event);
    },
  };
}

/** How many outcomes are failures. */
export function failures(outcomes: ReadonlyArray<PromiseSettledResult<unknown>>): number {
  let failed = 0;
  for (const outcome of outcomes) if (outcome.status === 'rejected') failed++;
  return failed;
}
