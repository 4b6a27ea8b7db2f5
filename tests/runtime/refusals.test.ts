/**
 * A refused call changes nothing (README, "Errors"): for every way a sync
 * call or a bridge command can be refused, the bus keeps its generation,
 * history, queue, unsent and parked counts, and the stations and the bridge
 * keep theirs. Run in one thread, across a frame channel (a thread served as
 * a worker is), and in a worker of a child processor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusErrorCode, type BusEvent, type FromMainOptions, type FromStationOptions, type Runtime } from '../../index.js';
import type { Bus } from '../../runtime/bus/bus.js';
import { RemoteBus } from '../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../runtime/hosting/processor-host.js';
import type { Station } from '../../runtime/station/station.js';
import { runtimeCore } from '../../internal.js';
import { serveThread } from './fixtures/served-thread.js';
import { ids, rejects } from '../helpers.js';

/** The thread's current bus, as every topology reaches it. */
interface AnyBus {
  post(type: string, payload: number, options?: { priority: 'deferred' }): Promise<BusEvent>;
  toStation(): Promise<unknown>;
  fromStation(options?: FromStationOptions): Promise<unknown>;
  roundTrip(options?: FromStationOptions): Promise<unknown>;
  sync(options?: { types?: readonly string[] }): Promise<unknown>;
  /** What the refused call must leave as it was. */
  state(): Promise<unknown>;
}

function anyBus(bus: Bus | RemoteBus): AnyBus {
  if (bus instanceof RemoteBus) {
    return {
      post: (type, payload, options) => bus.post(type, payload, options),
      toStation: () => bus.toStation(),
      fromStation: (options) => bus.fromStation(options),
      roundTrip: (options) => bus.roundTrip(options),
      sync: (options) => bus.sync(options),
      state: async () => ({ counts: await bus.state(), history: ids(await bus.history()), queue: ids(await bus.queue()) }),
    };
  }
  return {
    post: async (type, payload, options) => bus.post(type, payload, options),
    toStation: () => bus.toStation(),
    fromStation: (options) => bus.fromStation(options),
    roundTrip: (options) => bus.roundTrip(options),
    sync: (options) => bus.sync(options),
    state: async () => ({
      counts: { generation: bus.generation, state: bus.state, unsent: bus.unsent, queued: bus.queued, parked: bus.parked },
      history: ids(bus.history()),
      queue: ids(bus.queue()),
    }),
  };
}

interface AnyStation {
  toMain(): Promise<unknown>;
  fromMain(options?: FromMainOptions): Promise<unknown>;
  roundTrip(options?: FromMainOptions): Promise<unknown>;
  state(): Promise<unknown>;
}

function anyStation(station: Station | RemoteStation): AnyStation {
  return {
    toMain: () => station.toMain(),
    fromMain: (options) => station.fromMain(options),
    roundTrip: (options) => station.roundTrip(options),
    state: async () => ({ history: ids(await station.history()), queued: ids(await station.queued()) }),
  };
}

interface Topology {
  readonly name: string;
  start(): Promise<{
    runtime: Runtime;
    bus(): AnyBus;
    station(): AnyStation;
    /**
     * Holds the station's replies to the bus's thread (`true`) or lets them
     * through, so that a call made right after a read meets it under way.
     * Across processes the read could finish first without it: its reply is
     * local to the processor, the next call comes from the root.
     */
    hold(on: boolean): Promise<void>;
    stop(): Promise<void>;
  }>;
}

const topologies: readonly Topology[] = [
  {
    name: 'one thread',
    async start() {
      const runtime = createRuntime({ deferred: 'manual' });
      return {
        runtime,
        bus: () => anyBus(runtime.bus('external')),
        station: () => anyStation(runtime.station('external')),
        // A call made right after another in the same thread meets it under way.
        hold: async () => undefined,
        stop: () => runtime.stop(),
      };
    },
  },
  {
    name: 'a thread across a frame channel',
    async start() {
      const runtime = createRuntime({ deferred: 'manual' });
      const remote = serveThread(runtime);
      return {
        runtime,
        bus: () => anyBus(remote.handle.bus('external')),
        station: () => anyStation(runtime.station('external')),
        hold: async (on) => assert.equal(await remote.api.holdStationReplies(on), { ok: true, value: null }),
        stop: async () => {
          await remote.stop();
          await runtime.stop();
        },
      };
    },
  },
  {
    name: 'a worker of a child processor',
    async start() {
      const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', callDeadlineMs: 20_000 });
      await runtime.ready;
      return {
        runtime,
        bus: () => anyBus(runtime.thread(1, 1).bus('external')),
        station: () => anyStation(runtime.processor(1).station('external')),
        hold: async (on) => assert.equal(await runtimeCore(runtime).threadApi(1, 1).call('holdStationReplies', on), { ok: true, value: null }),
        stop: () => runtime.stop(),
      };
    },
  },
];

for (const topology of topologies) {
  const test = suite(`refusals - ${topology.name}`);
  let runtime: Runtime;
  let bus: () => AnyBus;
  let station: () => AnyStation;
  let hold: (on: boolean) => Promise<void>;
  let stop: () => Promise<void>;
  let n = 0;

  test.before(async () => {
    ({ runtime, bus, station, hold, stop } = await topology.start());
  });
  test.after(async () => {
    await stop?.();
  });
  test.after.each(async () => {
    if (runtime.bridge.locked) await runtime.bridge.unlock();
    if (runtime.bridge.direction !== 'closed') await runtime.bridge.close();
  });

  /** Everything a refusal must leave alone: the bus, its station, the main station, the bridge. */
  async function everything(): Promise<unknown> {
    const main = runtime.mainStation('external');
    return {
      bus: await bus().state(),
      station: await station().state(),
      main: { history: ids(main.history()), queued: ids(main.queued()) },
      internal: ids(runtime.mainStation('internal').history()),
      bridge: { direction: runtime.bridge.direction, locked: runtime.bridge.locked },
    };
  }

  /** Gives the bus and the stations something to lose: sent and unsent events, a queue, a parked entry, a main history. */
  async function somethingToLose(): Promise<void> {
    const tag = `r${n++}`;
    await bus().post(`${tag}.sent`, 1);
    await bus().post(`${tag}.parked`, 2, { priority: 'deferred' });
    await bus().toStation();
    await station().toMain();
    // And some the station holds: unsent to the main station, and parked.
    await bus().post(`${tag}.held`, 3);
    await bus().post(`${tag}.held.parked`, 4, { priority: 'deferred' });
    await bus().toStation();
    await bus().post(`${tag}.unsent`, 3);
    await bus().post(`${tag}.queued`, 4, { priority: 'deferred' });
  }

  /** Asserts that `call` is refused with `code` and that nothing changed. */
  async function refusedWithoutEffect(call: () => Promise<unknown>, code: BusErrorCode): Promise<void> {
    await somethingToLose();
    const before = await everything();
    await rejects(call(), code);
    assert.equal(await everything(), before, 'a refused call changed something');
  }

  const badOptions = [{ types: 'r' }, { side: 'sideways' }, { unknown: 1 }] as never[];

  test('toStation - BUS_RETIRED (a retired generation) changes nothing', async () => {
    const old = bus();
    await old.toStation();
    await refusedWithoutEffect(() => old.toStation(), 'BUS_RETIRED');
  });

  test('toStation - BUS_BUSY (a read under way) changes nothing', async () => {
    await somethingToLose();
    // Nothing new to read: the read itself changes nothing either.
    await bus().fromStation();
    const before = await everything();
    await hold(true);
    const reading = bus().fromStation();
    await rejects(bus().toStation(), 'BUS_BUSY');
    await hold(false);
    await reading;
    assert.equal(await everything(), before);
  });

  for (const options of badOptions) {
    test(`fromStation - INVALID_OPTION (${JSON.stringify(options)}) changes nothing`, async () => {
      await refusedWithoutEffect(() => bus().fromStation(options), 'INVALID_OPTION');
    });
    test(`roundTrip - INVALID_OPTION (${JSON.stringify(options)}) changes nothing`, async () => {
      await refusedWithoutEffect(() => bus().roundTrip(options), 'INVALID_OPTION');
    });
  }

  test('fromStation - BRIDGE_CLOSED (the other side, bridge closed) changes nothing', async () => {
    await refusedWithoutEffect(() => bus().fromStation({ side: 'internal' }), 'BRIDGE_CLOSED');
  });

  test('fromStation - BRIDGE_CLOSED (the other side, one way against it) changes nothing', async () => {
    // oneWayExternal: the internal side may reach the external side, not the reverse.
    await runtime.bridge.onlyToExternal();
    await refusedWithoutEffect(() => bus().fromStation({ side: 'internal' }), 'BRIDGE_CLOSED');
  });

  test('fromStation - BUS_RETIRED changes nothing', async () => {
    const old = bus();
    await old.toStation();
    await refusedWithoutEffect(() => old.fromStation(), 'BUS_RETIRED');
  });

  test('roundTrip - BRIDGE_CLOSED (the other side, bridge closed) neither retires the bus nor parks its queue', async () => {
    await refusedWithoutEffect(() => bus().roundTrip({ side: 'internal' }), 'BRIDGE_CLOSED');
  });

  test('roundTrip - BRIDGE_CLOSED (bridge locked) changes nothing', async () => {
    await runtime.bridge.lock();
    await refusedWithoutEffect(() => bus().roundTrip({ side: 'internal', types: ['r'] }), 'BRIDGE_CLOSED');
  });

  test('roundTrip - BUS_RETIRED changes nothing', async () => {
    const old = bus();
    await old.toStation();
    await refusedWithoutEffect(() => old.roundTrip(), 'BUS_RETIRED');
  });

  test('roundTrip - BUS_BUSY (a read under way) changes nothing', async () => {
    await somethingToLose();
    await bus().fromStation();
    const before = await everything();
    await hold(true);
    const reading = bus().fromStation();
    await rejects(bus().roundTrip(), 'BUS_BUSY');
    await hold(false);
    await reading;
    assert.equal(await everything(), before);
  });

  for (const options of [{ types: 'r' }, { side: 'internal' }] as never[]) {
    test(`sync - INVALID_OPTION (${JSON.stringify(options)}) changes nothing`, async () => {
      await refusedWithoutEffect(() => bus().sync(options), 'INVALID_OPTION');
    });
  }

  test('sync - BUS_RETIRED changes nothing', async () => {
    const old = bus();
    await old.toStation();
    await refusedWithoutEffect(() => old.sync(), 'BUS_RETIRED');
  });

  test('sync - BUS_BUSY (a read under way) changes nothing', async () => {
    await somethingToLose();
    await bus().fromStation();
    const before = await everything();
    await hold(true);
    const reading = bus().fromStation();
    await rejects(bus().sync(), 'BUS_BUSY');
    await hold(false);
    await reading;
    assert.equal(await everything(), before);
  });

  for (const options of badOptions) {
    test(`station fromMain - INVALID_OPTION (${JSON.stringify(options)}) changes nothing`, async () => {
      await refusedWithoutEffect(() => station().fromMain(options), 'INVALID_OPTION');
    });
    test(`station roundTrip - INVALID_OPTION (${JSON.stringify(options)}) changes nothing`, async () => {
      await refusedWithoutEffect(() => station().roundTrip(options), 'INVALID_OPTION');
    });
  }

  test('station fromMain - BRIDGE_CLOSED changes nothing', async () => {
    await refusedWithoutEffect(() => station().fromMain({ side: 'internal' }), 'BRIDGE_CLOSED');
  });

  test('station roundTrip - BRIDGE_CLOSED neither pushes the station nor takes its parked queue', async () => {
    await refusedWithoutEffect(() => station().roundTrip({ side: 'internal' }), 'BRIDGE_CLOSED');
  });

  test('station roundTrip - BRIDGE_CLOSED (one way against it) changes nothing', async () => {
    await runtime.bridge.onlyToExternal();
    await refusedWithoutEffect(() => station().roundTrip({ side: 'internal', types: ['r'] }), 'BRIDGE_CLOSED');
  });

  test('main station toMain, fromMain, roundTrip - UNSUPPORTED changes nothing', async () => {
    const main = anyStation(runtime.mainStation('external'));
    await refusedWithoutEffect(() => main.toMain(), 'UNSUPPORTED');
    await refusedWithoutEffect(() => main.fromMain(), 'UNSUPPORTED');
    await refusedWithoutEffect(() => main.roundTrip(), 'UNSUPPORTED');
  });

  for (const command of ['open', 'close', 'onlyToExternal', 'onlyToInternal'] as const) {
    test(`bridge ${command} - BRIDGE_LOCKED changes nothing, clears nothing`, async () => {
      // Something crossed, so a clearing would have something to remove.
      await somethingToLose();
      await runtime.bridge.open();
      runtime.bus('internal').post('crossing', 1);
      await runtime.bus('internal').toStation();
      await runtime.bus('external').fromStation({ side: 'internal' });
      await runtime.bridge.lock();
      const before = { everything: await everything(), crossed: ids(runtime.bus('external').history({ side: 'internal' })) };
      const options = command === 'open' ? undefined : { clearOtherSide: true };
      await rejects((runtime.bridge[command] as (o?: unknown) => Promise<void>)(options), 'BRIDGE_LOCKED');
      assert.equal({ everything: await everything(), crossed: ids(runtime.bus('external').history({ side: 'internal' })) }, before);
      assert.ok(before.crossed.length > 0);
    });
  }

  test('bridge close - INVALID_OPTION changes nothing', async () => {
    await runtime.bridge.open();
    await refusedWithoutEffect(() => runtime.bridge.close({ clearOtherSide: 'yes' } as never), 'INVALID_OPTION');
  });

  test.run();
}
