/**
 * The bridge statechart's paths, driven through the real runtime: every
 * transition of `machines/bridge.machine.ts` (each guarded branch) is taken
 * by `runtime.bridge.*()` calls, embedded and with one child processor and
 * one worker thread. After every step: the runtime's bridge actor took the
 * path's event from the path's state into the path's next state, a refused
 * command changed nothing, the bridge lets exactly the reads `canReach`
 * allows through (buses and local stations of both sides, in the thread and
 * processor under test), a clearing left no event of the other side in the
 * stores of the side that lost access, histories stay sorted with unique
 * ids, main stations hold only their own side, and no event is lost.
 *
 * One runtime per topology; between paths the bridge goes back to closed and
 * unlocked (unlock, close), which are steps of the chart too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bridgeMachine, canReach } from '../../../machines/bridge.machine.js';
import type { BridgeMachineEvent, ClearRequest } from '../../../machines/events.js';
import type { BridgeDirection, Runtime, Side } from '../../../index.js';
import { createActor } from 'xstate';
import { coveringPaths, describePath, leavesOf, machineLeafStates, machineTransitions, type MachinePath } from './machine-paths.js';
import {
  InspectionLog,
  TOPOLOGIES,
  assertNothingLost,
  assertStores,
  busOf,
  refused,
  startRuntime,
  stationOf,
  storesOf,
  type Topology,
} from './runtime-harness.js';

const EVENTS: BridgeMachineEvent[] = [
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

// The remembered direction matters only while locked (UNLOCK's target): unlocked, it is not part of the state.
const { paths, reachable } = coveringPaths(bridgeMachine, {
  events: EVENTS,
  serializeState: (snapshot) => {
    const value = snapshot.value as { lock: string };
    const context = snapshot.context as { directionBeforeLock: BridgeDirection };
    return JSON.stringify([value, value.lock === 'locked' ? context.directionBeforeLock : null]);
  },
});

const coverage = suite('bridge paths - coverage');

coverage('the paths take every transition and reach every state of the bridge chart', () => {
  const types = new Set(EVENTS.map((event) => event.type));
  assert.equal([...(bridgeMachine.root.events as string[])].filter((type) => !types.has(type as never)), [], 'an event type the paths never send');
  assert.equal([...reachable].sort(), machineTransitions(bridgeMachine), 'transitions the paths do not take');
  const reached = new Set(paths.flatMap((path) => [path.initial, ...path.steps.map((step) => step.value)]).flatMap(leavesOf));
  assert.equal([...reached].sort(), machineLeafStates(bridgeMachine));
});

coverage.run();

/** What the chart asks the runtime to clear at each step of a path. */
function clearingsAlong(path: MachinePath<BridgeMachineEvent>): ClearRequest[][] {
  let clears: ClearRequest[] = [];
  const actor = createActor(bridgeMachine.provide({ actions: { clearSide: (_args, params: ClearRequest) => void clears.push(params) } })).start();
  return path.steps.map(({ event }) => {
    clears = [];
    actor.send(event);
    return clears;
  });
}

const other = (side: Side): Side => (side === 'internal' ? 'external' : 'internal');

async function command(runtime: Runtime, event: BridgeMachineEvent): Promise<void> {
  const options = 'clearOtherSide' in event && event.clearOtherSide !== undefined ? { clearOtherSide: event.clearOtherSide } : undefined;
  switch (event.type) {
    case 'OPEN':
      return runtime.bridge.open();
    case 'CLOSE':
      return runtime.bridge.close(options);
    case 'ONLY_TO_EXTERNAL':
      return runtime.bridge.onlyToExternal(options);
    case 'ONLY_TO_INTERNAL':
      return runtime.bridge.onlyToInternal(options);
    case 'LOCK':
      return runtime.bridge.lock(options);
    case 'UNLOCK':
      return runtime.bridge.unlock();
  }
}

for (const topology of TOPOLOGIES) {
  const test = suite(`bridge paths - ${topology}`);
  const log = new InspectionLog();
  let runtime: Runtime;
  const ledger = new Set<string>();

  test.before(async () => {
    runtime = startRuntime(topology, log);
    await runtime.ready;
    // Each side's events on its bus, its local station and its main station: what crossing and clearing act on.
    for (const side of ['internal', 'external'] as const) {
      const bus = busOf(runtime, topology, side);
      for (let i = 0; i < 3; i++) ledger.add((await bus.post(`path.${side}`, i)).id);
      await bus.sync();
      await stationOf(runtime, topology, side).toMain();
    }
  });

  test.after(async () => {
    await runtime?.stop();
  });

  /** The histories of every store under test, by name. */
  async function histories(where: string) {
    return assertStores(storesOf(runtime, topology), where);
  }

  /** The invariants after a step in `direction`; `cleared` are the step's clearings. */
  async function invariants(direction: BridgeDirection, cleared: readonly ClearRequest[], where: string): Promise<void> {
    const stores = storesOf(runtime, topology);
    const held = await histories(where);
    for (const { remove, scope } of cleared) {
      for (const store of stores.filter((s) => s.side === scope)) {
        const left = held.get(store.name)!.filter((event) => event.side === remove);
        assert.is(left.length, 0, `${where}: ${store.name} still holds ${remove} events after the clearing`);
      }
    }
    await assertNothingLost(ledger, stores.filter((store) => store.main), where);
    // Cross-side reads go through exactly when the bridge lets that side reach the other (and bring its events over).
    for (const side of ['internal', 'external'] as const) {
      const reads = [
        [`bus ${side}`, () => busOf(runtime, topology, side).fromStation(other(side))],
        [`station ${side}`, () => stationOf(runtime, topology, side).fromMain(other(side))],
      ] as const;
      for (const [reader, read] of reads) {
        if (canReach(direction, side, other(side))) await read();
        else await refused(read(), 'BRIDGE_CLOSED', `${where}: ${reader} reading the ${other(side)} side`);
      }
    }
  }

  const fingerprint = (held: Map<string, readonly { id: string }[]>) => JSON.stringify([...held.values()].map((history) => history.map((event) => event.id)));

  test('every path, step by step, through runtime.bridge', async () => {
    let runs = 0;
    for (const path of paths) {
      const name = describePath(path);
      // Back to closed and unlocked through open, whose reads bring each side's events to the other, so that
      // every clearing of the path has something to remove. Each is a step of the chart, checked like the path's.
      if (runtime.bridge.locked) await runtime.bridge.unlock();
      await runtime.bridge.open();
      await invariants('open', [], `${name}, reset`);
      await runtime.bridge.close();
      const from = log.count('bridge');
      const clearings = clearingsAlong(path);
      await invariants('closed', [], `${name}, before`);
      for (const [i, step] of path.steps.entries()) {
        const where = `${name}, step ${i + 1} (${step.event.type})`;
        const value = step.value as { direction: BridgeDirection; lock: string };
        const refusal = step.transitions.some((id) => id.startsWith('bridge.lock.locked|') && id !== 'bridge.lock.locked|UNLOCK|0');
        const before = await histories(`${where}, before`);
        for (const { remove, scope } of clearings[i]!) {
          const crossed = [...before].filter(([store]) => store.endsWith(scope)).flatMap(([, held]) => held.filter((event) => event.side === remove));
          assert.ok(crossed.length > 0, `${where}: nothing of the ${remove} side to clear from the ${scope} side`);
        }
        if (refusal) await refused(command(runtime, step.event), 'BRIDGE_LOCKED', where);
        else await command(runtime, step.event);
        assert.equal([runtime.bridge.direction, runtime.bridge.locked], [value.direction, value.lock === 'locked'], where);
        if (refusal) assert.is(fingerprint(await histories(where)), fingerprint(before), `${where}: a refused command changed a history`);
        await invariants(value.direction, clearings[i]!, where);
      }
      await log.follows('bridge', from, path, topology);
      runs++;
    }
    assert.is(runs, paths.length);
  });

  test.run();
}
