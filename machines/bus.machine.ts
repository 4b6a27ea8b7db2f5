/**
 * The lifecycle and sync protocol of one bus (one per thread and side):
 * `active` ⇄ `receiving` (a `fromStation()`), `active` → `handingOver`
 * (a `toStation()`) → `retired`. Posting and delivery take a direct path in
 * the runtime and report here once per flushed batch.
 */
import { assign, setup } from 'xstate';
import type { Endpoint } from '../types.js';
import type { ActivityReport, BusMachineEvent } from './events.js';

export interface BusContext {
  readonly endpoint: Endpoint;
  readonly posted: number;
  readonly delivered: number;
  readonly queued: number;
  readonly lastId: string | null;
  /** Events handed to the station by `toStation()`; 0 until it succeeds. */
  readonly handedOver: number;
  /** Events new to this bus from `fromStation()` calls. */
  readonly received: number;
  readonly cleared: number;
  /** Sync calls refused because of the bus's state. */
  readonly refusals: number;
  readonly failure: string | null;
}

export interface BusInput {
  readonly endpoint: Endpoint;
}

/** The context counters after an activity report carried by another step. */
function withActivity(context: BusContext, activity: ActivityReport | undefined): Partial<BusContext> {
  if (activity === undefined) return {};
  return {
    posted: context.posted + activity.posted,
    delivered: context.delivered + activity.delivered,
    lastId: activity.lastId ?? context.lastId,
  };
}

/**
 * The bus statechart.
 *
 * @example
 * const actor = createActor(busMachine, { input: { endpoint } }).start()
 * actor.send({ type: 'TO_STATION' })  // → handingOver
 */
export const busMachine = setup({
  types: {
    context: {} as BusContext,
    events: {} as BusMachineEvent,
    input: {} as BusInput,
  },
  actions: {
    recordActivity: assign(({ context, event }) =>
      event.type === 'ACTIVITY'
        ? {
            posted: context.posted + event.posted,
            delivered: context.delivered + event.delivered,
            queued: event.queued,
            lastId: event.lastId ?? context.lastId,
          }
        : {},
    ),
    recordHandover: assign(({ context, event }) =>
      event.type === 'HANDED_OVER' ? { handedOver: event.events, queued: 0, ...withActivity(context, event.activity) } : {},
    ),
    recordReceived: assign(({ context, event }) =>
      event.type === 'RECEIVED'
        ? { received: context.received + event.added, queued: event.queued, ...withActivity(context, event.activity) }
        : {},
    ),
    recordCleared: assign(({ context, event }) =>
      event.type === 'CLEARED' ? { cleared: context.cleared + event.removed } : {},
    ),
    recordFailure: assign(({ context, event }) => {
      if (event.type === 'HANDOVER_FAILED') return { failure: event.reason };
      if (event.type !== 'RECEIVE_FAILED') return {};
      return {
        failure: event.reason,
        ...(event.added === undefined ? {} : { received: context.received + event.added }),
        ...(event.queued === undefined ? {} : { queued: event.queued }),
      };
    }),
    refuse: assign(({ context }) => ({ refusals: context.refusals + 1 })),
  },
}).createMachine({
  id: 'bus',
  context: ({ input }) => ({
    endpoint: input.endpoint,
    posted: 0,
    delivered: 0,
    queued: 0,
    lastId: null,
    handedOver: 0,
    received: 0,
    cleared: 0,
    refusals: 0,
    failure: null,
  }),
  initial: 'active',
  on: {
    ACTIVITY: { actions: 'recordActivity' },
    CLEARED: { actions: 'recordCleared' },
  },
  states: {
    active: {
      on: {
        TO_STATION: 'handingOver',
        FROM_STATION: 'receiving',
      },
    },
    receiving: {
      on: {
        RECEIVED: { target: 'active', actions: 'recordReceived' },
        RECEIVE_FAILED: { target: 'active', actions: 'recordFailure' },
        TO_STATION: { actions: 'refuse' },
        FROM_STATION: { actions: 'refuse' },
      },
    },
    handingOver: {
      on: {
        HANDED_OVER: { target: 'retired', actions: 'recordHandover' },
        // The events went to the successor bus; this one retires either way.
        HANDOVER_FAILED: { target: 'retired', actions: 'recordFailure' },
        TO_STATION: { actions: 'refuse' },
        FROM_STATION: { actions: 'refuse' },
      },
    },
    retired: {
      type: 'final',
    },
  },
});
