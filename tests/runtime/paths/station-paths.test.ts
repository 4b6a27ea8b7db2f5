/**
 * The station statechart's paths, driven through the real runtime: every
 * transition of `machines/station.machine.ts` that the runtime can take is
 * taken by a local station (processor 0's embedded; child processor 1's in
 * 1 × 1) and by a main station, through public calls:
 *
 * | event                 | what the test does                                                  |
 * | --------------------- | ------------------------------------------------------------------- |
 * | MERGED                | a bus of the processor posts and `sync()`s (a batch arrives)        |
 * | SERVED                | a reader in another thread (another processor, for a main station)  |
 * |                       | reads what it has not seen                                          |
 * | CLEARED               | the station read the internal side; `bridge.close({ clearOtherSide })` |
 * | TO_MAIN / PUSHED      | `toMain()` begins / resolves                                        |
 * | UPSTREAM_FAILED       | it rejects: the main station refuses the batch (a `capped` event)   |
 * | UPSTREAM_FAILED       | embedded: the runtime's transport loses the read (`transport` option); |
 * |   (pulling)           | 1 × 1: `fromMain({ side: 'internal' })` begins and the bridge closes   |
 * |                       | before the main station serves it (the root re-checks the bridge)   |
 * | FROM_MAIN / PULLED    | `fromMain()` begins / resolves                                      |
 * | TO_MAIN / FROM_MAIN while busy | the call is refused (`BUS_BUSY`)                           |
 *
 * After every step: the runtime's station actor took the path's event from
 * the path's state into its next state (its inspection records), histories
 * are sorted with unique ids, main stations hold only their own side, a
 * `toMain()` batch is at the main station whole or (refused) not at all and
 * still at the local station, and once no call is under way no event the
 * test posted is lost.
 *
 * Every transition of the chart is taken. A main station takes all but the
 * CLEARED of the root: main stations only ever hold their own side's events
 * (events cross the bridge only by a read, into the reader), so a clearing
 * has nothing to remove there, and a station reports CLEARED only when it
 * removed something; the invariants check that main stations hold only their
 * side. Local stations take that one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stationMachine } from '../../../machines/station.machine.js';
import type { StationMachineEvent } from '../../../machines/events.js';
import { TransportError, type Runtime, type Transport } from '../../../index.js';
import { FrameTransport } from '../../../internal.js';
import { coveringPaths, describePath, leavesOf, machineLeafStates, machineTransitions, type MachinePath } from './machine-paths.js';
import {
  CAPPED,
  InspectionLog,
  TOPOLOGIES,
  assertNothingLost,
  assertStores,
  begin,
  busOf,
  placeOf,
  refused,
  startRuntime,
  stationOf,
  storesOf,
  type PathStation,
} from './runtime-harness.js';

const EVENTS: StationMachineEvent[] = [
  { type: 'MERGED', added: 1, size: 1, queued: 0 },
  { type: 'SERVED', events: 1, handedBack: 0 },
  { type: 'TO_MAIN' },
  { type: 'PUSHED', events: 1 },
  { type: 'FROM_MAIN' },
  { type: 'PULLED', added: 0 },
  { type: 'UPSTREAM_FAILED', reason: 'refused' },
  { type: 'CLEARED', removed: 1 },
];

/** What a main station never takes, and why (see the file's comment); a local station takes it. */
const MAIN_NEVER = { 'station|CLEARED|0': 'main stations hold only their own side: nothing to clear' };

const local = coveringPaths(stationMachine, { events: EVENTS, input: { kind: 'local', side: 'external', processor: 0 } });
const main = coveringPaths(stationMachine, { events: EVENTS, input: { kind: 'main', side: 'external', processor: 0 }, skip: MAIN_NEVER });

const coverage = suite('station paths - coverage');

coverage('the paths take every transition and reach every state of the station chart', () => {
  const types = new Set(EVENTS.map((event) => event.type));
  assert.equal([...(stationMachine.root.events as string[])].filter((type) => !types.has(type as never)), [], 'an event type the paths never send');
  // Local and main stations together can take every transition of the chart...
  assert.equal([...new Set([...local.reachable, ...main.reachable])].sort(), machineTransitions(stationMachine), 'transitions no station can take');
  // ...and the paths take each one.
  const taken = new Set([...local.paths, ...main.paths].flatMap((path) => [...path.start, ...path.steps.flatMap((step) => step.transitions)]));
  assert.equal(machineTransitions(stationMachine).filter((id) => !taken.has(id)), [], 'transitions the paths do not take');
  const reached = new Set([...local.paths, ...main.paths].flatMap((path) => [path.initial, ...path.steps.map((step) => step.value)]).flatMap(leavesOf));
  assert.equal(
    machineLeafStates(stationMachine).filter((state) => !reached.has(state)),
    ['upstream.checking'],
    'checking is left at once (eventless)',
  );
});

coverage.run();

for (const topology of TOPOLOGIES) {
  const test = suite(`station paths - ${topology}`);
  const log = new InspectionLog();
  let runtime: Runtime;
  /** Ids of `path.*` events the test posted: never lost. */
  const ledger = new Set<string>();
  /** At the local station, not yet at the main station. */
  let upstream: string[] = [];
  let posts = 0;
  /** A local station of another processor: a reader of the main station. */
  let elsewhere: PathStation;
  /** A bus of another thread of the processor: a reader of the local station. */
  let reader: () => { fromStation(): Promise<unknown> };

  // Embedded, every hop crosses the runtime's transport: this one can lose the next read, as a network would.
  let loseNextRead = false;
  const frames = new FrameTransport();
  const transport: Transport = {
    name: 'loses a read on demand',
    carriesEncoded: true,
    carry: (message, receiver) => {
      if (loseNextRead && message.kind === 'syncRequest') {
        loseNextRead = false;
        return Promise.reject(new TransportError('the test lost this read'));
      }
      return frames.carry(message, receiver);
    },
  };

  test.before(async () => {
    runtime = startRuntime(topology, log, topology === 'embedded' ? { transport } : {});
    await runtime.ready;
    if (topology === 'embedded') {
      const other = runtime.addProcessor();
      const external = other.station('external');
      elsewhere = { actorId: `station:local:${other.processor}:external`, toMain: () => external.toMain(), fromMain: async () => external.fromMain(), history: async () => external.history() };
      const thread = runtime.addThread();
      reader = () => thread.bus('external');
    } else {
      elsewhere = stationOf(runtime, 'embedded', 'external');
      reader = () => runtime.thread(1, 0).bus('external') as unknown as { fromStation(): Promise<unknown> };
    }
    // Events of the internal side at its main station: what a read across the bridge brings, and a clearing removes.
    const internal = busOf(runtime, topology, 'internal');
    for (let i = 0; i < 2; i++) await internal.post('path.internal', i);
    await internal.sync();
    await stationOf(runtime, topology, 'internal').toMain();
  });

  test.after(async () => {
    await runtime?.stop();
  });

  const bus = () => busOf(runtime, topology, 'external');
  const station = () => stationOf(runtime, topology, 'external');
  const mainStation = () => runtime.mainStation('external');

  /** A new event of the test at the local station (a batch it merges). */
  async function arrive(): Promise<void> {
    const event = await bus().post('path.station', posts++);
    ledger.add(event.id);
    await bus().sync();
    upstream.push(event.id);
  }

  /** The main station refuses the local station's next push: it holds one `capped` event, and the local station another. */
  async function armRefusal(): Promise<void> {
    await mainStation().history({ types: [CAPPED] });
    await station().history([CAPPED]);
    // What a refused push left behind goes now, and is let go at the main station.
    await station().toMain();
    await mainStation().history({ types: [CAPPED] });
    await bus().post(CAPPED, 0);
    await bus().sync();
    await station().toMain();
    await station().history([CAPPED]);
    await bus().post(CAPPED, 1);
    await bus().sync();
    await assertWhole(true, 'arming a refusal');
  }

  /** After a push: all of it at the main station, or (refused) none of it there and all of it still at the local station. */
  async function assertWhole(accepted: boolean, where: string): Promise<void> {
    // Only the test's own events: a search lets a station's `capped` event go, and with it the refusal armed.
    const atMain = new Set(mainStation().history({ types: ['path'] }).map((event) => event.id));
    if (accepted) {
      assert.equal(upstream.filter((id) => !atMain.has(id)), [], `${where}: part of the push is missing at the main station`);
      upstream = [];
      return;
    }
    const here = new Set((await station().history(['path'])).map((event) => event.id));
    assert.equal(upstream.filter((id) => atMain.has(id)), [], `${where}: part of a refused push is at the main station`);
    assert.equal(upstream.filter((id) => !here.has(id)), [], `${where}: a refused push is not at the local station`);
  }

  async function invariants(where: string, settled: boolean): Promise<void> {
    const stores = storesOf(runtime, topology);
    await assertStores(stores, where);
    if (settled) await assertNothingLost(ledger, stores, where);
  }

  async function run(path: MachinePath<StationMachineEvent>, actorId: string, kind: 'local' | 'main'): Promise<void> {
    const name = `${kind}: ${describePath(path)}`;
    const types = path.steps.map((step) => step.event.type);
    const failing = types.includes('UPSTREAM_FAILED');
    await log.until(() => log.last(actorId) !== undefined && JSON.stringify(log.last(actorId)) === JSON.stringify(path.initial), `${actorId} to be ${JSON.stringify(path.initial)}`);
    const from = log.count(actorId);
    let pending: { promise: Promise<unknown>; fails: string | undefined; call: string } | undefined;
    const settle = async (where: string) => {
      const call = pending!;
      pending = undefined;
      if (call.fails !== undefined) await refused(call.promise, call.fails, `${where}: ${call.call}`);
      else await call.promise;
      if (call.call === 'toMain') await assertWhole(call.fails === undefined, where);
    };
    await invariants(`${name}, before`, true);
    for (const [i, step] of path.steps.entries()) {
      const where = `${name}, step ${i + 1} (${step.event.type})`;
      const upstreamState = (i === 0 ? path.initial : path.steps[i - 1]!.value) as { upstream: string };
      const busy = upstreamState.upstream === 'pushing' || upstreamState.upstream === 'pulling';
      switch (step.event.type) {
        case 'MERGED':
          if (kind === 'local') await arrive();
          else {
            await arrive();
            await station().toMain();
            await assertWhole(true, where);
          }
          break;
        case 'SERVED':
          await arrive();
          if (kind === 'local') await reader().fromStation();
          else {
            await station().toMain();
            await assertWhole(true, where);
            await elsewhere.fromMain();
          }
          break;
        case 'CLEARED':
          await runtime.bridge.open();
          await station().fromMain('internal');
          assert.ok((await station().history()).some((event) => event.side === 'internal'), `${where}: the read brought the internal side`);
          await runtime.bridge.close({ clearOtherSide: true });
          break;
        case 'TO_MAIN':
          if (busy) {
            await refused(station().toMain(), 'BUS_BUSY', where);
            break;
          }
          if (failing) await armRefusal();
          await arrive();
          pending = { promise: begin(station().toMain()), fails: failing ? 'BUS_FULL' : undefined, call: 'toMain' };
          break;
        case 'FROM_MAIN':
          if (busy) {
            await refused(station().fromMain(), 'BUS_BUSY', where);
            break;
          }
          if (failing && topology === 'embedded') {
            // The read is lost on its way to the main station.
            loseNextRead = true;
            pending = { promise: begin(station().fromMain()), fails: 'TRANSPORT_FAILED', call: 'fromMain' };
          } else if (failing) {
            // Read across the bridge, which closes before the main station serves the read: it re-checks and refuses.
            await runtime.bridge.open();
            pending = { promise: begin(station().fromMain('internal')), fails: 'BRIDGE_CLOSED', call: 'fromMain' };
            await runtime.bridge.close();
          } else {
            pending = { promise: begin(station().fromMain()), fails: undefined, call: 'fromMain' };
          }
          break;
        case 'PUSHED':
        case 'PULLED':
        case 'UPSTREAM_FAILED':
          await settle(where);
          break;
      }
      // A call that must still be under way for the next step (a refusal while busy) is not given time to end.
      const next = path.steps[i + 1]?.event.type;
      if (pending !== undefined && (next === 'TO_MAIN' || next === 'FROM_MAIN')) continue;
      await invariants(where, pending === undefined);
    }
    if (pending !== undefined) await settle(`${name}, its call ending`);
    await log.follows(actorId, from, path, topology);
    await invariants(`${name}, after`, true);
  }

  test('every path of a local station, step by step', async () => {
    for (const path of local.paths) await run(path, station().actorId, 'local');
    assert.is(station().actorId, `station:local:${placeOf(topology).processor}:external`);
  });

  test('every path of a main station, step by step', async () => {
    for (const path of main.paths) await run(path, 'station:main:external', 'main');
  });

  test.run();
}
