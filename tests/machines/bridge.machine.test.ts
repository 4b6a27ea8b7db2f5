import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { getShortestPaths } from '@xstate/graph';
import { bridgeMachine, canReach } from '../../machines/bridge.machine.js';
import type { BridgeMachineEvent, ClearRequest } from '../../machines/events.js';
import type { BridgeDirection } from '../../types.js';

const COMMANDS: BridgeMachineEvent[] = [
  { type: 'OPEN' },
  { type: 'CLOSE' },
  { type: 'CLOSE', clearOtherSide: true },
  { type: 'ONLY_TO_EXTERNAL' },
  { type: 'ONLY_TO_EXTERNAL', clearOtherSide: true },
  { type: 'ONLY_TO_INTERNAL' },
  { type: 'ONLY_TO_INTERNAL', clearOtherSide: true },
  { type: 'LOCK' },
  { type: 'LOCK', clearOtherSide: true },
  { type: 'UNLOCK' },
];

/** The bridge rules of seed 000 and DESIGN.md, written out independently of the chart. */
interface Model {
  direction: BridgeDirection;
  locked: boolean;
  remembered: BridgeDirection;
}

const TARGET: Partial<Record<BridgeMachineEvent['type'], BridgeDirection>> = {
  OPEN: 'open',
  CLOSE: 'closed',
  ONLY_TO_EXTERNAL: 'oneWayExternal',
  ONLY_TO_INTERNAL: 'oneWayInternal',
};

const CLEARS: Record<BridgeDirection, string[]> = {
  closed: ['external→internal', 'internal→external'],
  oneWayExternal: ['internal→external'],
  oneWayInternal: ['external→internal'],
  open: [],
};

function step(model: Model, command: BridgeMachineEvent): { model: Model; clears: string[]; refused: boolean } {
  const wantsClear = 'clearOtherSide' in command && command.clearOtherSide === true;
  const target = TARGET[command.type];
  if (target !== undefined) {
    if (model.locked) return { model, clears: [], refused: true };
    return { model: { ...model, direction: target }, clears: wantsClear ? CLEARS[target] : [], refused: false };
  }
  if (command.type === 'LOCK') {
    if (model.locked) return { model, clears: [], refused: false };
    return {
      model: { direction: 'closed', locked: true, remembered: model.direction },
      clears: wantsClear ? CLEARS.closed : [],
      refused: false,
    };
  }
  if (!model.locked) return { model, clears: [], refused: false };
  return { model: { ...model, locked: false, direction: model.remembered }, clears: [], refused: false };
}

function start() {
  const clears: string[] = [];
  const actor = createActor(
    bridgeMachine.provide({
      actions: { clearSide: (_args, params: ClearRequest) => void clears.push(`${params.remove}→${params.scope}`) },
    }),
  ).start();
  return { actor, clears };
}

function observe(actor: ReturnType<typeof start>['actor']): { direction: BridgeDirection; locked: boolean } {
  const value = actor.getSnapshot().value as { direction: BridgeDirection; lock: string };
  return { direction: value.direction, locked: value.lock === 'locked' };
}

const test = suite('bridgeMachine');

test('initial - closed and unlocked', () => {
  const { actor } = start();
  assert.equal(observe(actor), { direction: 'closed', locked: false });
});

test('paths - every (direction, lock, remembered direction) combination is reachable', () => {
  const paths = getShortestPaths(bridgeMachine, {
    events: COMMANDS,
    serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.directionBeforeLock]),
  });
  const reached = new Set(paths.map((path) => JSON.stringify(path.state.value)));
  // 4 directions unlocked + closed while locked.
  assert.is(reached.size, 5);
  for (const direction of ['closed', 'open', 'oneWayExternal', 'oneWayInternal']) {
    assert.ok(reached.has(JSON.stringify({ direction, lock: 'unlocked' })), direction);
  }
  assert.ok(reached.has(JSON.stringify({ direction: 'closed', lock: 'locked' })));
  assert.not.ok([...reached].some((s) => s.includes('locked') && !s.includes('unlocked') && !s.includes('closed')));
});

test('paths - each shortest path, replayed on a live actor, agrees with the rules', () => {
  const paths = getShortestPaths(bridgeMachine, {
    events: COMMANDS,
    serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.directionBeforeLock]),
  });
  assert.ok(paths.length >= 10);
  for (const path of paths) {
    const { actor } = start();
    let model: Model = { direction: 'closed', locked: false, remembered: 'closed' };
    for (const { event } of path.steps) {
      if ((event.type as string) === 'xstate.init') continue;
      actor.send(event);
      model = step(model, event).model;
    }
    assert.equal(observe(actor), { direction: model.direction, locked: model.locked });
  }
});

test('commands - random sequences agree with the rules, including clearings and refusals (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...COMMANDS), { maxLength: 30 }), (commands) => {
      const { actor, clears } = start();
      let model: Model = { direction: 'closed', locked: false, remembered: 'closed' };
      let refusals = 0;
      for (const command of commands) {
        const before = clears.length;
        actor.send(command);
        const expected = step(model, command);
        model = expected.model;
        if (expected.refused) refusals++;
        assert.equal(clears.slice(before).sort(), [...expected.clears].sort(), JSON.stringify(command));
        assert.equal(observe(actor), { direction: model.direction, locked: model.locked });
        assert.is(actor.getSnapshot().context.refusals, refusals);
      }
    }),
    { numRuns: 1000 },
  );
});

test('canReach - who may read whom in each direction', () => {
  assert.ok(canReach('open', 'internal', 'external') && canReach('open', 'external', 'internal'));
  assert.not.ok(canReach('closed', 'internal', 'external') || canReach('closed', 'external', 'internal'));
  assert.ok(canReach('oneWayExternal', 'internal', 'external'));
  assert.not.ok(canReach('oneWayExternal', 'external', 'internal'));
  assert.ok(canReach('oneWayInternal', 'external', 'internal'));
  assert.not.ok(canReach('oneWayInternal', 'internal', 'external'));
  assert.ok(canReach('closed', 'internal', 'internal'));
});

test.run();
