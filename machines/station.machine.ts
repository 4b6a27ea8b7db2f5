/**
 * One bus station: a local station (per processor and side) or a main station
 * (per side, in the root). Its one region, `upstream`, tracks a local
 * station's sync with its main station (`idle`, `pushing`, `pulling`; main
 * stations have `none`). Merges, reads and clearings are synchronous: the
 * station reports each when done (MERGED, SERVED, CLEARED) and its context
 * counts them, in whatever state `upstream` is.
 */
import { assign, setup } from 'xstate';
import type { Side, StationKind } from '../types.js';
import type { StationMachineEvent } from './events.js';

export type { StationKind };

export interface StationContext {
  readonly kind: StationKind;
  readonly side: Side;
  readonly processor: number;
  readonly merges: number;
  readonly size: number;
  readonly queued: number;
  /** Reads that handed out events or parked entries (a read that finds nothing is not reported). */
  readonly served: number;
  readonly handedBack: number;
  readonly pushes: number;
  readonly pulls: number;
  readonly cleared: number;
  readonly refusals: number;
  readonly failure: string | null;
}

export interface StationInput {
  readonly kind: StationKind;
  readonly side: Side;
  readonly processor: number;
}

/**
 * The station statechart.
 *
 * @example
 * const actor = createActor(stationMachine, { input: { kind: 'local', side: 'external', processor: 0 } }).start()
 * actor.send({ type: 'TO_MAIN' })  // → upstream.pushing
 */
export const stationMachine = setup({
  types: {
    context: {} as StationContext,
    events: {} as StationMachineEvent,
    input: {} as StationInput,
  },
  actions: {
    recordMerged: assign(({ context, event }) =>
      event.type === 'MERGED' ? { merges: context.merges + 1, size: event.size, queued: event.queued } : {},
    ),
    recordServed: assign(({ context, event }) =>
      event.type === 'SERVED'
        ? {
            served: context.served + 1,
            handedBack: context.handedBack + event.handedBack,
            queued: Math.max(0, context.queued - event.handedBack),
          }
        : {},
    ),
    recordPushed: assign(({ context }) => ({ pushes: context.pushes + 1 })),
    recordPulled: assign(({ context }) => ({ pulls: context.pulls + 1 })),
    recordCleared: assign(({ context, event }) =>
      event.type === 'CLEARED' ? { cleared: context.cleared + event.removed } : {},
    ),
    recordFailure: assign(({ event }) => (event.type === 'UPSTREAM_FAILED' ? { failure: event.reason } : {})),
    refuse: assign(({ context }) => ({ refusals: context.refusals + 1 })),
  },
  guards: {
    isMain: ({ context }) => context.kind === 'main',
  },
}).createMachine({
  id: 'station',
  type: 'parallel',
  context: ({ input }) => ({
    kind: input.kind,
    side: input.side,
    processor: input.processor,
    merges: 0,
    size: 0,
    queued: 0,
    served: 0,
    handedBack: 0,
    pushes: 0,
    pulls: 0,
    cleared: 0,
    refusals: 0,
    failure: null,
  }),
  on: {
    MERGED: { actions: 'recordMerged' },
    SERVED: { actions: 'recordServed' },
    CLEARED: { actions: 'recordCleared' },
  },
  states: {
    upstream: {
      initial: 'checking',
      states: {
        checking: { always: [{ guard: 'isMain', target: 'none' }, { target: 'idle' }] },
        /** A main station has no upstream. */
        none: {},
        idle: { on: { TO_MAIN: 'pushing', FROM_MAIN: 'pulling' } },
        pushing: {
          on: {
            PUSHED: { target: 'idle', actions: 'recordPushed' },
            UPSTREAM_FAILED: { target: 'idle', actions: 'recordFailure' },
            TO_MAIN: { actions: 'refuse' },
            FROM_MAIN: { actions: 'refuse' },
          },
        },
        pulling: {
          on: {
            PULLED: { target: 'idle', actions: 'recordPulled' },
            UPSTREAM_FAILED: { target: 'idle', actions: 'recordFailure' },
            TO_MAIN: { actions: 'refuse' },
            FROM_MAIN: { actions: 'refuse' },
          },
        },
      },
    },
  },
});
