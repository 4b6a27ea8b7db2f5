/**
 * The bus statechart's paths, driven through the real runtime: every
 * transition of `machines/bus.machine.ts` is taken by a thread's external bus
 * (thread 0.0 embedded; worker thread 1.1 of a child processor in 1 × 1),
 * through its public calls. A machine event is a moment of a call, so each
 * maps to one:
 *
 * | event            | what the test does                                                   |
 * | ---------------- | -------------------------------------------------------------------- |
 * | ACTIVITY         | `post()` (the bus reports its posts once per flushed batch)          |
 * | TO_STATION       | `toStation()` begins (not awaited)                                   |
 * | HANDED_OVER      | that `toStation()` resolves                                          |
 * | HANDOVER_FAILED  | it rejects: the station refuses the batch (a `capped` event, below)  |
 * | FROM_STATION     | `fromStation()` begins, or `sync()` when the path ends in a failure  |
 * | RECEIVED         | that call resolves                                                   |
 * | RECEIVE_FAILED   | the `sync()` rejects: the station refuses its batch                  |
 * | CLEARED          | the bus read the internal side; `bridge.close({ clearOtherSide })`   |
 * | TO_STATION / FROM_STATION while busy | the call is refused (`BUS_BUSY`, `BUS_RETIRED`)  |
 *
 * A station refuses a batch on demand through a memory policy (`capped`: at
 * most one per history, `refuseNew`; see runtime-harness.ts). After every
 * step: the runtime's bus actor took the path's event from the path's state
 * into its next state (its inspection records: a refusal is a step that
 * leaves the state and the bus as they were), histories are sorted with
 * unique ids, main stations hold only their side, a batch is at the station
 * whole or not at all (a refused one is back on the thread's bus), and once
 * no call is under way no event the test posted is lost.
 *
 * Not taken here: ACTIVITY and CLEARED are transitions of the chart's root,
 * taken in any state; the paths take each once, from `active`. The runtime
 * sends ACTIVITY in `receiving` or `handingOver` only when a failing call
 * reports what was posted during it (embedded, the test below does; across
 * threads a post and a sync are separate calls and the worker reports the
 * post in between, so it is not deterministic), and it never sends CLEARED in
 * `handingOver` (a clearing goes to the thread's current bus, which is the
 * successor by then), nor deterministically in `receiving` (a clearing would
 * have to land while a read is in flight). Across threads every path runs
 * too: a call for the generation being handed over reaches that bus (its
 * chart refuses it: BUS_BUSY), and after a failed handover the root learns
 * the successor's generation. There a call reaches the worker through its
 * processor while the station's reply comes straight back, so the station's
 * replies to the thread are held until the refusal has come
 * (`holdStationReplies`): else the first call may end before the second
 * arrives.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { busMachine } from '../../../machines/bus.machine.js';
import type { BusMachineEvent } from '../../../machines/events.js';
import type { BusEvent, Runtime } from '../../../index.js';
import { coveringPaths, describePath, leavesOf, machineLeafStates, machineTransitions, replay, type MachinePath } from './machine-paths.js';
import {
  CAPPED,
  InspectionLog,
  TOPOLOGIES,
  assertNothingLost,
  assertStores,
  begin,
  busOf,
  holdStationReplies,
  placeOf,
  refused,
  startRuntime,
  stationOf,
  storesOf,
  type PathBus,
  type Topology,
} from './runtime-harness.js';

const endpoint = { processor: 0, thread: 0, generation: 0, side: 'external' as const };

const EVENTS: BusMachineEvent[] = [
  { type: 'ACTIVITY', posted: 1, delivered: 0, queued: 0, lastId: null },
  { type: 'TO_STATION' },
  { type: 'HANDED_OVER', events: 1 },
  { type: 'HANDOVER_FAILED', reason: 'refused' },
  { type: 'FROM_STATION', side: 'external' },
  { type: 'RECEIVED', added: 0, queued: 0 },
  { type: 'RECEIVE_FAILED', reason: 'refused' },
  { type: 'CLEARED', removed: 1 },
];

const { paths, reachable } = coveringPaths(busMachine, { events: EVENTS, input: { endpoint } });

const coverage = suite('bus paths - coverage');

coverage('the paths take every transition and reach every state of the bus chart', () => {
  const types = new Set(EVENTS.map((event) => event.type));
  assert.equal([...(busMachine.root.events as string[])].filter((type) => !types.has(type as never)), [], 'an event type the paths never send');
  assert.equal([...reachable].sort(), machineTransitions(busMachine), 'transitions the paths do not take');
  const reached = new Set(paths.flatMap((path) => [path.initial, ...path.steps.map((step) => step.value)]).flatMap(leavesOf));
  assert.equal([...reached].sort(), machineLeafStates(busMachine));
});

coverage.run();

/** A path the graph does not give (ACTIVITY carried by a failing call), for the embedded runtime. */
function extraPath(events: BusMachineEvent[]): MachinePath<BusMachineEvent> {
  const { initial, start, steps } = replay(busMachine, events, { endpoint });
  return { initial, start, steps, covers: [] };
}

for (const topology of TOPOLOGIES) {
  const test = suite(`bus paths - ${topology}`);
  const log = new InspectionLog();
  let runtime: Runtime;
  /** Ids of `path.*` events the test posted: never lost. */
  const ledger = new Set<string>();
  /** Posted and not yet at the station (a batch that was refused keeps them). */
  let unsent: string[] = [];
  let posts = 0;

  test.before(async () => {
    runtime = startRuntime(topology, log);
    await runtime.ready;
    // Events of the internal side at its local station: what a read across the bridge brings, and a clearing removes.
    const internal = busOf(runtime, topology, 'internal');
    for (let i = 0; i < 2; i++) await internal.post('path.internal', i);
    await internal.sync();
  });

  test.after(async () => {
    await runtime?.stop();
  });

  const bus = () => busOf(runtime, topology, 'external');
  const station = () => stationOf(runtime, topology, 'external');

  async function post(on: PathBus): Promise<BusEvent> {
    const event = await on.post('path.bus', posts++);
    ledger.add(event.id);
    unsent.push(event.id);
    return event;
  }

  /** The station refuses the next batch: it holds one `capped` event, and the bus has posted another. */
  async function armRefusal(): Promise<void> {
    await station().history([CAPPED]);
    // A `capped` event a refused batch left behind goes now, and is let go at the station.
    await bus().sync();
    await station().history([CAPPED]);
    await bus().post(CAPPED, 0);
    await bus().sync();
    await bus().post(CAPPED, 1);
    // Those syncs carried what the test had posted: all of it is at the station now.
    await assertWhole(true, 'arming a refusal');
  }

  /** The invariants after a step; with `settled` (no call under way) nothing posted is lost either. */
  async function invariants(where: string, settled: boolean): Promise<void> {
    const stores = storesOf(runtime, topology);
    await assertStores(stores, where);
    if (settled) await assertNothingLost(ledger, stores, where);
  }

  /** After a call that sent a batch: all of it at the station, or (refused) none of it there and all of it still in the thread. */
  async function assertWhole(accepted: boolean, where: string): Promise<void> {
    // Only the test's own events: a search lets the station's `capped` event go, and with it the refusal armed.
    const atStation = new Set((await station().history(['path'])).map((event) => event.id));
    const inThread = new Set((await bus().history()).map((event) => event.id));
    if (accepted) {
      assert.equal(unsent.filter((id) => !atStation.has(id)), [], `${where}: part of the batch is missing at the station`);
      unsent = [];
    } else {
      assert.equal(unsent.filter((id) => atStation.has(id)), [], `${where}: part of a refused batch is at the station`);
      assert.equal(unsent.filter((id) => !inThread.has(id)), [], `${where}: a refused batch is not back in the thread`);
    }
  }

  async function run(path: MachinePath<BusMachineEvent>, extra = false): Promise<void> {
    const name = describePath(path);
    const types = path.steps.map((step) => step.event.type);
    const failing = types.includes('HANDOVER_FAILED') || types.includes('RECEIVE_FAILED') || extra;
    let current = bus();
    const actorId = current.actorId;
    // The previous path left the thread's bus active (a new generation after a handover).
    await log.until(() => log.last(actorId) === 'active', `${actorId} to be active`);
    const from = log.count(actorId);
    let pending: { promise: Promise<unknown>; fails: boolean; call: string } | undefined;
    const settle = async (where: string) => {
      const call = pending!;
      pending = undefined;
      if (call.fails) await refused(call.promise, 'BUS_FULL', `${where}: the station refusing ${call.call}`);
      else await call.promise;
      if (call.call === 'toStation' || call.call === 'sync') await assertWhole(!call.fails, where);
    };
    await invariants(`${name}, before`, true);
    for (const [i, step] of path.steps.entries()) {
      const where = `${name}, step ${i + 1} (${step.event.type})`;
      const busy = i > 0 && path.steps[i - 1]!.value !== 'active';
      // A call the next step must meet under way (a refusal while busy): its station's reply is held until then.
      const meets = path.steps[i + 1]?.event.type === 'TO_STATION' || path.steps[i + 1]?.event.type === 'FROM_STATION';
      switch (step.event.type) {
        case 'ACTIVITY':
          await post(current);
          break;
        case 'CLEARED':
          await runtime.bridge.open();
          await current.fromStation('internal');
          assert.ok((await current.history()).some((event) => event.side === 'internal'), `${where}: the read brought the internal side`);
          await runtime.bridge.close({ clearOtherSide: true });
          break;
        case 'TO_STATION':
          if (busy) {
            await refused(current.toStation(), 'BUS_BUSY', where);
            if (!meets) await holdStationReplies(runtime, topology, false);
            break;
          }
          if (failing) await armRefusal();
          else await station().history([CAPPED]);
          await post(current);
          if (meets) await holdStationReplies(runtime, topology, true);
          pending = { promise: begin(current.toStation()), fails: failing, call: 'toStation' };
          break;
        case 'FROM_STATION':
          if (busy) {
            await refused(current.fromStation(), path.steps[i - 1]!.value === 'handingOver' ? 'BUS_RETIRED' : 'BUS_BUSY', where);
            if (!meets) await holdStationReplies(runtime, topology, false);
            break;
          }
          if (failing) {
            await armRefusal();
            await post(current);
            if (meets) await holdStationReplies(runtime, topology, true);
            pending = { promise: begin(current.sync()), fails: true, call: 'sync' };
          } else {
            if (meets) await holdStationReplies(runtime, topology, true);
            pending = { promise: begin(current.fromStation()), fails: false, call: 'fromStation' };
          }
          break;
        case 'HANDED_OVER':
        case 'HANDOVER_FAILED':
        case 'RECEIVED':
        case 'RECEIVE_FAILED':
          await settle(where);
          break;
      }
      // A call that must still be under way for the next step (a refusal while busy) is not given time to end:
      // the invariants wait for that step.
      const next = path.steps[i + 1]?.event.type;
      if (pending !== undefined && (next === 'TO_STATION' || next === 'FROM_STATION')) continue;
      await invariants(where, pending === undefined);
      if (step.value === 'retired') current = bus();
    }
    if (pending !== undefined) await settle(`${name}, its call ending`);
    await log.follows(actorId, from, path, topology);
    if (path.steps.at(-1)?.value === 'retired') assert.is(bus().generation, current.generation, `${name}: the thread has a new bus`);
    await invariants(`${name}, after`, true);
  }

  test('every path, step by step, through a thread bus', async () => {
    const taken = new Set(paths.flatMap((path) => path.steps.flatMap((step) => step.transitions)));
    assert.equal(machineTransitions(busMachine).filter((id) => !taken.has(id)), [], 'transitions the paths do not take');
    for (const path of paths) await run(path);
    assert.is(placeOf(topology).thread, topology === 'embedded' ? 0 : 1);
  });

  if (topology === 'embedded') {
    test('ACTIVITY while receiving or handing over - a failing call reports the posts made during it', async () => {
      // sync() begins, a post comes while it reads, the station refuses the batch: ACTIVITY, then RECEIVE_FAILED.
      let actorId = bus().actorId;
      let from = log.count(actorId);
      await armRefusal();
      const syncing = bus().sync();
      await post(bus());
      await refused(syncing, 'BUS_FULL', 'sync');
      await log.follows(actorId, from, extraPath([{ type: 'FROM_STATION', side: 'external' }, EVENTS[0]!, { type: 'RECEIVE_FAILED', reason: 'refused' }]), topology);
      await assertWhole(false, 'sync');
      // A post just before toStation(), unreported yet: the failed handover reports it, then retires.
      await armRefusal();
      actorId = bus().actorId;
      from = log.count(actorId);
      // Not awaited before toStation(): the bus reports a post in a microtask, and this one must still be unreported.
      const posted = post(bus());
      const handing = bus().toStation();
      await posted;
      await refused(handing, 'BUS_FULL', 'toStation');
      await log.follows(actorId, from, extraPath([{ type: 'TO_STATION' }, EVENTS[0]!, { type: 'HANDOVER_FAILED', reason: 'refused' }]), topology);
      await assertWhole(false, 'toStation');
      await invariants('after', true);
    });
  }

  test.run();
}
