/**
 * The event bridge between the internal and external sides: two orthogonal
 * regions, `direction` (closed, open, oneWayExternal, oneWayInternal) and
 * `lock` (unlocked, locked). Pure: clearing is a named action the runtime provides.
 */
import { and, assign, setup, stateIn } from 'xstate';
import type { BridgeDirection, Side } from '../types.js';
import type { BridgeMachineEvent, ClearRequest } from './events.js';

export interface BridgeContext {
  /** The direction `lock()` left, restored by `unlock()`. */
  readonly directionBeforeLock: BridgeDirection;
  /** Commands refused because the bridge was locked. */
  readonly refusals: number;
  /** The last refused command, for the inspector. */
  readonly lastRefused: BridgeMachineEvent['type'] | null;
}

/** Which clearings closing into `direction` performs (seed 000, "event bridge"). */
export function clearingsFor(direction: BridgeDirection): readonly ClearRequest[] {
  switch (direction) {
    case 'closed':
      return [
        { remove: 'external', scope: 'internal' },
        { remove: 'internal', scope: 'external' },
      ];
    case 'oneWayExternal':
      return [{ remove: 'internal', scope: 'external' }];
    case 'oneWayInternal':
      return [{ remove: 'external', scope: 'internal' }];
    case 'open':
      return [];
  }
}

/**
 * True when buses and stations of side `from` may read the history of side `to`
 * while the bridge is in `direction`. In `oneWayExternal` the internal side
 * reaches the external side, not the reverse; `oneWayInternal` is the mirror.
 */
export function canReach(direction: BridgeDirection, from: Side, to: Side): boolean {
  if (from === to) return true;
  switch (direction) {
    case 'open':
      return true;
    case 'closed':
      return false;
    case 'oneWayExternal':
      return from === 'internal';
    case 'oneWayInternal':
      return from === 'external';
  }
}

const DIRECTION_COMMANDS = {
  open: 'OPEN',
  closed: 'CLOSE',
  oneWayExternal: 'ONLY_TO_EXTERNAL',
  oneWayInternal: 'ONLY_TO_INTERNAL',
} as const;

/** A transition of the direction region into `target`, clearing when asked to. */
function moveTo(target: BridgeDirection) {
  if (target === 'open') return { guard: 'isUnlocked' as const, target: `.${target}` };
  return [
    {
      guard: and(['isUnlocked', 'wantsClear']),
      target: `.${target}`,
      actions: clearingsFor(target).map((params) => ({ type: 'clearSide' as const, params })),
    },
    { guard: 'isUnlocked' as const, target: `.${target}` },
  ];
}

/** `LOCK` from `direction`: remember it and close, clearing when asked to. */
function lockFrom(direction: BridgeDirection) {
  const remember = { type: 'rememberDirection' as const, params: { direction } };
  return [
    {
      guard: and(['isUnlocked', 'wantsClear']),
      target: 'closed',
      actions: [remember, ...clearingsFor('closed').map((params) => ({ type: 'clearSide' as const, params }))],
    },
    { guard: 'isUnlocked' as const, target: 'closed', actions: [remember] },
  ];
}

/** `UNLOCK` while closed by a lock: back to the remembered direction. */
const unlockToRemembered = (['open', 'oneWayExternal', 'oneWayInternal'] as const).map((direction) => ({
  guard: and(['isLocked', { type: 'rememberedIs' as const, params: { direction } }]),
  target: direction,
}));

/**
 * The bridge statechart.
 *
 * @example
 * const actor = createActor(bridgeMachine.provide({ actions: { clearSide: (_, p) => clear(p) } }))
 * actor.start().send({ type: 'OPEN' })
 */
export const bridgeMachine = setup({
  types: {
    context: {} as BridgeContext,
    events: {} as BridgeMachineEvent,
  },
  actions: {
    /** Removes events of side `remove` from every bus and station of side `scope`; the runtime provides it. */
    clearSide: (_args, _params: ClearRequest) => {},
    rememberDirection: assign((_args, params: { direction: BridgeDirection }) => ({
      directionBeforeLock: params.direction,
    })),
    refuseLocked: assign(({ context, event }) => ({
      refusals: context.refusals + 1,
      lastRefused: event.type,
    })),
  },
  guards: {
    isUnlocked: stateIn({ lock: 'unlocked' }),
    isLocked: stateIn({ lock: 'locked' }),
    wantsClear: ({ event }) => 'clearOtherSide' in event && event.clearOtherSide === true,
    rememberedIs: ({ context }, params: { direction: BridgeDirection }) =>
      context.directionBeforeLock === params.direction,
  },
}).createMachine({
  id: 'bridge',
  type: 'parallel',
  context: { directionBeforeLock: 'closed', refusals: 0, lastRefused: null },
  states: {
    direction: {
      initial: 'closed',
      on: {
        [DIRECTION_COMMANDS.open]: moveTo('open'),
        [DIRECTION_COMMANDS.closed]: moveTo('closed'),
        [DIRECTION_COMMANDS.oneWayExternal]: moveTo('oneWayExternal'),
        [DIRECTION_COMMANDS.oneWayInternal]: moveTo('oneWayInternal'),
      },
      states: {
        closed: {
          on: {
            LOCK: lockFrom('closed'),
            UNLOCK: unlockToRemembered,
          },
        },
        open: { on: { LOCK: lockFrom('open') } },
        oneWayExternal: { on: { LOCK: lockFrom('oneWayExternal') } },
        oneWayInternal: { on: { LOCK: lockFrom('oneWayInternal') } },
      },
    },
    lock: {
      initial: 'unlocked',
      states: {
        unlocked: { on: { LOCK: 'locked' } },
        locked: {
          on: {
            UNLOCK: 'unlocked',
            OPEN: { actions: 'refuseLocked' },
            CLOSE: { actions: 'refuseLocked' },
            ONLY_TO_EXTERNAL: { actions: 'refuseLocked' },
            ONLY_TO_INTERNAL: { actions: 'refuseLocked' },
          },
        },
      },
    },
  },
});
