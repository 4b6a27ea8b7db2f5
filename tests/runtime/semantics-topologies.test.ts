/**
 * Seed 000's semantics, written once against an async view of buses and
 * stations, and run over three topologies:
 *
 * - embedded: one process, one thread; processors 1 and 2 and their threads
 *   are virtual (`addProcessor()`, `addThread()`), every hop framed;
 * - workers: threads 0.1 and 0.2 are threads.js workers of the root; an
 *   embedded processor 1 (threads 1.0, 1.1) gives them a second processor;
 * - processors: two child processes with two workers each (1.1, 1.2, 2.1, 2.2).
 *
 * One runtime per topology (the processors take seconds to start); cases stay
 * independent by using event types of their own and leaving the bridge closed
 * and unlocked, and no parked entry behind.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRuntime,
  type BridgeDirection,
  type BusEvent,
  type FromMainOptions,
  type FromStationOptions,
  type FromStationResult,
  type Payload,
  type PostOptions,
  type Runtime,
  type Side,
} from '../../index.js';
import { compareEvents } from '../../internal.js';
import type { Bus } from '../../runtime/bus/bus.js';
import { RemoteBus } from '../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../runtime/hosting/processor-host.js';
import type { Station } from '../../runtime/station/station.js';
import { assertSorted, ids, osThreads, rejects, threadsSince } from '../helpers.js';

/** A thread by processor and index. */
interface At {
  readonly p: number;
  readonly t: number;
}

/** The history queries every bus and station answers, wherever it runs. */
interface Query {
  readonly types?: readonly string[];
  readonly side?: Side;
}

/** A bus as the suite sees it: `Bus` and `RemoteBus` alike, every call awaited. */
interface AnyBus {
  readonly generation: number;
  post(type: string, payload: Payload, options?: PostOptions): Promise<BusEvent>;
  toStation(): Promise<AnyBus>;
  fromStation(options?: FromStationOptions): Promise<FromStationResult>;
  roundTrip(options?: FromStationOptions): Promise<AnyBus>;
  drain(): Promise<number>;
  history(query?: Query): Promise<BusEvent[]>;
  queue(): Promise<BusEvent[]>;
}

/** A local station as the suite sees it: `Station` and `RemoteStation` alike. */
interface AnyStation {
  toMain(): Promise<void>;
  fromMain(options?: FromMainOptions): Promise<{ readonly added: number; readonly handedBack: number }>;
  roundTrip(options?: FromMainOptions): Promise<void>;
  history(query?: Query): Promise<BusEvent[]>;
  queued(): Promise<BusEvent[]>;
}

function anyBus(bus: Bus | RemoteBus): AnyBus {
  if (bus instanceof RemoteBus) {
    return {
      generation: bus.generation,
      post: (type, payload, options) => bus.post(type, payload, options),
      toStation: async () => anyBus(await bus.toStation()),
      fromStation: (options) => bus.fromStation(options),
      roundTrip: async (options) => anyBus(await bus.roundTrip(options)),
      drain: () => bus.drain(),
      history: (query) => bus.history(query),
      queue: () => bus.queue(),
    };
  }
  // A local bus answers synchronously (and throws synchronously); the async
  // functions turn both into what a remote bus gives.
  return {
    generation: bus.generation,
    post: async (type, payload, options) => bus.post(type, payload, options),
    toStation: async () => anyBus(await bus.toStation()),
    fromStation: async (options) => bus.fromStation(options),
    roundTrip: async (options) => anyBus(await bus.roundTrip(options)),
    drain: async () => bus.drain(),
    history: async (query) => bus.history(query),
    queue: async () => [...bus.queue()],
  };
}

function anyStation(station: Station | RemoteStation): AnyStation {
  return {
    toMain: () => station.toMain(),
    fromMain: (options) => station.fromMain(options),
    roundTrip: (options) => station.roundTrip(options),
    history: async (query) => station.history(query),
    queued: async () => station.queued(),
  };
}

/** One way to lay the runtime out. */
interface Topology {
  readonly name: string;
  /** Creates the runtime; the suite awaits `runtime.ready` (and stops it even if that fails). */
  start(): Runtime;
  /** Two threads of processor `t.p`. */
  readonly t: At;
  readonly u: At;
  /** Two threads of another processor, `v.p`. */
  readonly v: At;
  readonly w: At;
  /** Every thread and every processor of the runtime. */
  readonly threads: readonly At[];
  readonly processors: readonly number[];
  /** How many of the processors run in child processes. */
  readonly childProcesses: number;
}

const at = (p: number, t: number): At => ({ p, t });

const topologies: readonly Topology[] = [
  {
    name: 'embedded (virtual processors 1, 2 × threads 1, 2)',
    start() {
      const runtime = createRuntime({ deferred: 'manual' });
      for (let p = 1; p <= 2; p++) {
        runtime.addProcessor();
        runtime.addThread({ processor: p });
        runtime.addThread({ processor: p });
      }
      return runtime;
    },
    t: at(1, 1),
    u: at(1, 2),
    v: at(2, 1),
    w: at(2, 2),
    threads: [at(0, 0), at(1, 0), at(1, 1), at(1, 2), at(2, 0), at(2, 1), at(2, 2)],
    processors: [0, 1, 2],
    childProcesses: 0,
  },
  {
    name: 'root + worker threads 0.1, 0.2 (and an embedded processor 1)',
    start() {
      const runtime = createRuntime({ threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000 });
      runtime.addProcessor();
      runtime.addThread({ processor: 1 });
      return runtime;
    },
    t: at(0, 1),
    u: at(0, 2),
    v: at(1, 1),
    w: at(1, 0),
    threads: [at(0, 0), at(0, 1), at(0, 2), at(1, 0), at(1, 1)],
    processors: [0, 1],
    childProcesses: 0,
  },
  {
    name: '2 child processors × 2 worker threads',
    start: () => createRuntime({ processors: 2, threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000 }),
    t: at(1, 1),
    u: at(1, 2),
    v: at(2, 1),
    w: at(2, 2),
    threads: [at(0, 0), at(1, 0), at(1, 1), at(1, 2), at(2, 0), at(2, 1), at(2, 2)],
    processors: [0, 1, 2],
    childProcesses: 2,
  },
];

const SIDES = ['internal', 'external'] as const;
const other = (side: Side): Side => (side === 'internal' ? 'external' : 'internal');
const name = (where: At) => `thread ${where.p}.${where.t}`;

/** Which reads each bridge direction allows: `from` side reads `to` side. */
const reach: Record<BridgeDirection, { internalReadsExternal: boolean; externalReadsInternal: boolean }> = {
  closed: { internalReadsExternal: false, externalReadsInternal: false },
  open: { internalReadsExternal: true, externalReadsInternal: true },
  oneWayExternal: { internalReadsExternal: true, externalReadsInternal: false },
  oneWayInternal: { internalReadsExternal: false, externalReadsInternal: true },
};

for (const topology of topologies) {
  const test = suite(`semantics across ${topology.name}`);
  const { t: T, u: U, v: V, w: W } = topology;
  const P = T.p;
  const Q = V.p;
  let runtime: Runtime;

  const bus = (where: At, side: Side = 'external') => anyBus(runtime.thread(where.p, where.t).bus(side));
  const station = (processor: number, side: Side = 'external') => anyStation(runtime.processor(processor).station(side));
  const main = (side: Side = 'external') => anyStation(runtime.mainStation(side));

  /** The process's threads before the runtime started: its stop leaves none it added. */
  let threadsBefore: ReadonlySet<string>;

  test.before(async () => {
    threadsBefore = await osThreads();
    runtime = topology.start();
    await runtime.ready;
  });

  test.after(async () => {
    await runtime?.stop();
  });

  test.after.each(async () => {
    // Every case leaves the bridge as it found it.
    if (!runtime.running) return;
    if (runtime.bridge.locked) await runtime.bridge.unlock();
    if (runtime.bridge.direction !== 'closed') await runtime.bridge.close();
  });

  test('toStation/fromStation - U sees T\'s events only after T.toStation and U.fromStation', async () => {
    const before = bus(T);
    const event = await before.post('see.same', { n: 1 });
    assert.equal(event.origin, { processor: T.p, thread: T.t, generation: before.generation });
    assert.is(event.side, 'external');
    assert.equal((await bus(U).fromStation({ types: ['see'] })).added, [], 'nothing before T sends');
    await bus(T).toStation();
    assert.equal(await bus(U).history({ types: ['see'] }), [], 'nothing before U reads');
    const { added } = await bus(U).fromStation({ types: ['see'] });
    assert.equal(added, [event], 'the event crossed intact');
    assert.equal(ids(await bus(U).history({ types: ['see'] })), [event.id]);
    assert.equal(await bus(V).history({ types: ['see'] }), [], 'another processor has not synced');
  });

  test('toMain/fromMain - threads of another processor see them only after both stations sync with the main station', async () => {
    const fromT = await bus(T).post('far.there', 1);
    await bus(T).toStation();
    assert.equal((await bus(V).fromStation({ types: ['far'] })).added, [], 'before any station syncs');
    await station(P).toMain();
    assert.equal(ids(await main().history({ types: ['far'] })), [fromT.id]);
    assert.equal((await bus(V).fromStation({ types: ['far'] })).added, [], 'before processor Q reads the main station');
    await station(Q).fromMain();
    assert.equal(ids((await bus(V).fromStation({ types: ['far'] })).added), [fromT.id]);
    assert.equal(ids((await bus(W).fromStation({ types: ['far'] })).added), [fromT.id]);
    // And back: V's event reaches T through the same two hops.
    const fromV = await bus(V).post('far.back', 2);
    await bus(V).toStation();
    await station(Q).roundTrip();
    assert.equal((await bus(T).fromStation({ types: ['far.back'] })).added, []);
    await station(P).fromMain();
    assert.equal((await bus(T).fromStation({ types: ['far.back'] })).added, [fromV]);
  });

  test('fromStation - types filter with subtype matching, in buses and in fromMain', async () => {
    const posted = new Map<string, BusEvent>();
    for (const type of ['flt.user', 'flt.user.login', 'flt.username', 'flt.order', 'flt.user.login.ok']) {
      posted.set(type, await bus(T).post(type, type));
    }
    const users = ['flt.user', 'flt.user.login', 'flt.user.login.ok'].map((type) => posted.get(type)!.id);
    await bus(T).toStation();
    assert.equal(ids((await bus(U).fromStation({ types: ['flt.user'] })).added), users);
    assert.equal(ids(await bus(U).history({ types: ['flt'] })), users, 'nothing else was merged');
    await station(P).toMain();
    assert.is((await station(Q).fromMain({ types: ['flt.user'] })).added, 3);
    assert.equal(ids(await station(Q).history({ types: ['flt'] })), users);
    assert.equal(ids((await bus(V).fromStation()).added.filter((e) => e.type.startsWith('flt.'))), users);
    assert.equal((await bus(W).fromStation({ types: ['flt.order', 'flt.username'] })).added, [], 'station Q never took them');
    assert.is((await station(Q).fromMain({ types: ['flt'] })).added, 2);
    const rest = (await bus(W).fromStation({ types: ['flt.order', 'flt.username'] })).added;
    assert.equal(ids(rest), ['flt.username', 'flt.order'].map((type) => posted.get(type)!.id));
  });

  test('fromStation - wildcard patterns select the same events in buses, stations and fromMain, across the wire', async () => {
    const posted = new Map<string, BusEvent>();
    for (const type of ['wld.user', 'wld.user.login', 'wld.user.login.ok', 'wld.order.created', 'wld.user.logout']) {
      posted.set(type, await bus(T).post(type, type));
    }
    const idsOf = (...types: string[]) => types.map((type) => posted.get(type)!.id);
    await bus(T).toStation();
    // One part: the user's direct subtypes only.
    assert.equal(ids((await bus(U).fromStation({ types: ['wld.user.*'] })).added), idsOf('wld.user.login', 'wld.user.logout'));
    assert.equal(ids(await bus(U).history({ types: ['wld.*.*.ok'] })), [], 'login.ok was not merged');
    // Any depth below, across processors: the main station is read with a pattern.
    await station(P).toMain();
    assert.is((await station(Q).fromMain({ types: ['wld.user.>'] })).added, 3);
    assert.equal(ids(await station(Q).history({ types: ['wld'] })), idsOf('wld.user.login', 'wld.user.login.ok', 'wld.user.logout'));
    assert.equal(ids(await station(Q).history({ types: ['wld.*.login.*'] })), idsOf('wld.user.login.ok'));
    // (Other cases' events share no type ending in `user.logout`: a leading `*` selects only this case's.)
    assert.equal(ids((await bus(V).fromStation({ types: ['*.user.logout', 'wld.*.*.ok', 'wld.*.created'] })).added), idsOf('wld.user.login.ok', 'wld.user.logout'));
    assert.is((await station(Q).fromMain({ types: ['*'] })).added >= 2, true, 'everything else, the order and wld.user among it');
    assert.equal(ids((await bus(W).fromStation({ types: ['wld.*.created', 'wld.user'] })).added), idsOf(
      'wld.user',
      'wld.user.login',
      'wld.user.login.ok',
      'wld.order.created',
      'wld.user.logout',
    ));
    await rejects(bus(U).fromStation({ types: ['wld.>.user'] }), 'INVALID_OPTION');
    await rejects(bus(U).history({ types: ['wld.us*'] }), 'INVALID_OPTION');
  });

  test('history - station and bus histories stay sorted by (timestamp, id) after merges from several threads', async () => {
    const posted: BusEvent[] = [];
    for (let round = 0; round < 3; round++) {
      for (const where of [T, U, V, W]) posted.push(await bus(where).post('ord.step', { round, from: name(where) }));
    }
    // Handed over in another order than posted, so every merge interleaves.
    for (const where of [W, U, V, T]) await bus(where).toStation();
    await station(Q).toMain();
    await station(P).toMain();
    await station(P).fromMain();
    await station(Q).fromMain();
    const expected = ids([...posted].sort(compareEvents));
    for (const [what, reader] of [['main', main()], [`station ${P}`, station(P)], [`station ${Q}`, station(Q)]] as const) {
      assert.equal(ids(await reader.history({ types: ['ord'] })), expected, what);
      assertSorted(await reader.history(), what);
    }
    for (const where of [T, U, V, W]) {
      await bus(where).fromStation();
      assert.equal(ids(await bus(where).history({ types: ['ord'] })), expected, name(where));
      assertSorted(await bus(where).history(), name(where));
    }
  });

  test('fromStation - resent events are deduplicated (fromStation twice, fromMain twice)', async () => {
    const event = await bus(T).post('dup.once', 1);
    await bus(T).toStation();
    assert.equal(ids((await bus(U).fromStation({ types: ['dup'] })).added), [event.id]);
    assert.equal((await bus(U).fromStation({ types: ['dup'] })).added, []);
    assert.equal(ids(await bus(U).history({ types: ['dup'] })), [event.id]);
    await station(P).toMain();
    await station(P).toMain();
    assert.equal(ids(await main().history({ types: ['dup'] })), [event.id]);
    assert.is((await station(P).fromMain({ types: ['dup'] })).added, 0, 'station P already had it');
    assert.is((await station(Q).fromMain({ types: ['dup'] })).added, 1);
    assert.is((await station(Q).fromMain({ types: ['dup'] })).added, 0);
    await station(Q).roundTrip();
    assert.equal(ids(await station(Q).history({ types: ['dup'] })), [event.id]);
    assert.equal(ids(await main().history({ types: ['dup'] })), [event.id]);
    assert.equal(ids((await bus(V).fromStation()).added.filter((e) => e.type === 'dup.once')), [event.id]);
    assert.equal((await bus(V).fromStation({ types: ['dup'] })).added, []);
    assert.equal(ids(await bus(V).history({ types: ['dup'] })), [event.id]);
  });

  test('fromStation - a parked queue is handed back only to its origin thread', async () => {
    const fromT = await bus(T).post('park.t', 1, { priority: 'deferred' });
    const fromU = await bus(U).post('park.u', 2, { priority: 'deferred' });
    assert.equal(ids(await bus(T).queue()), [fromT.id]);
    assert.equal(await bus(T).history({ types: ['park'] }), [], 'a queued event is not in the history');
    await bus(T).toStation();
    await bus(U).toStation();
    assert.equal(ids(await station(P).queued()), ids([fromT, fromU].sort(compareEvents)), 'filed by origin, (timestamp, id) order');
    const toU = await bus(U).fromStation({ types: ['park'] });
    assert.is(toU.handedBack, 1);
    assert.equal(ids(await bus(U).queue()), [fromU.id]);
    assert.equal(ids(await station(P).queued()), [fromT.id], 'T\'s entry stays until T reads');
    assert.is((await bus(V).fromStation()).handedBack, 0);
    const toT = await bus(T).fromStation({ types: ['nothing.at.all'] });
    assert.is(toT.handedBack, 1, 'types narrow the history, not the queue');
    assert.equal(await bus(T).queue(), [fromT]);
    assert.equal(await station(P).queued(), []);
    assert.is(await bus(T).drain(), 1);
    assert.is(await bus(U).drain(), 1);
    assert.equal(ids(await bus(T).history({ types: ['park'] })), [fromT.id], 'delivered into the history by drain()');
  });

  test('fromMain - a parked queue goes up with toMain and comes back only to its processor', async () => {
    const parked = await bus(T).post('lift.job', 1, { priority: 'deferred' });
    await bus(T).toStation();
    await station(P).toMain();
    assert.equal(ids(runtime.mainStation('external').queued()), [parked.id]);
    assert.equal(await station(P).queued(), [], 'it went up');
    assert.is((await station(Q).fromMain()).handedBack, 0);
    assert.equal(await station(Q).queued(), []);
    assert.equal(ids(runtime.mainStation('external').queued()), [parked.id], 'still waiting for processor P');
    assert.is((await station(P).fromMain()).handedBack, 1);
    assert.equal(runtime.mainStation('external').queued(), []);
    assert.equal(ids(await station(P).queued()), [parked.id]);
    assert.is((await bus(V).fromStation()).handedBack, 0);
    assert.is((await bus(U).fromStation()).handedBack, 0, 'another thread of the same processor gets nothing');
    assert.is((await bus(T).fromStation()).handedBack, 1);
    assert.equal(await bus(T).queue(), [parked]);
    assert.is(await bus(T).drain(), 1);
  });

  test('roundTrip - the original queue and the whole station history, own events included', async () => {
    const fromU = await bus(U).post('trip.u', 1);
    await bus(U).toStation();
    const own = await bus(T).post('trip.t', 2);
    const parked = await bus(T).post('trip.q', 3, { priority: 'deferred' });
    const before = bus(T).generation;
    const next = await bus(T).roundTrip();
    assert.is(next.generation, before + 1);
    assert.is(bus(T).generation, next.generation);
    assert.equal(ids(await next.history({ types: ['trip'] })), ids([fromU, own].sort(compareEvents)));
    assert.equal(ids(await next.history()), ids(await station(P).history()), 'the entire station history');
    assert.equal(await next.queue(), [parked]);
    assert.equal(await station(P).queued(), []);
    assert.is(await next.drain(), 1);
    // Types narrow the history only; the queue always comes back.
    const later = await bus(T).post('trip.later', 4, { priority: 'deferred' });
    const narrow = await bus(T).roundTrip({ types: ['trip.u'] });
    assert.equal(ids(await narrow.history()), [fromU.id]);
    assert.equal(await narrow.queue(), [later]);
    assert.is(await narrow.drain(), 1);
  });

  test('toStation - a retired generation refuses every call with BUS_RETIRED', async () => {
    const old = bus(T);
    await old.post('gen.first', 1);
    const next = await old.toStation();
    assert.is(next.generation, old.generation + 1);
    assert.is(bus(T).generation, next.generation);
    await rejects(old.post('gen.late', 1), 'BUS_RETIRED', 'post');
    await rejects(old.toStation(), 'BUS_RETIRED', 'toStation');
    await rejects(old.fromStation(), 'BUS_RETIRED', 'fromStation');
    await rejects(old.roundTrip(), 'BUS_RETIRED', 'roundTrip');
    await rejects(old.drain(), 'BUS_RETIRED', 'drain');
    const fresh = await next.post('gen.second', 2);
    assert.equal(fresh.origin, { processor: T.p, thread: T.t, generation: next.generation });
    assert.equal(ids(await bus(T).history({ types: ['gen'] })), [fresh.id], 'a new generation starts empty');
    assert.equal((await station(P).history({ types: ['gen'] })).map((e) => e.type), ['gen.first']);
  });

  /** Puts an internal and an external event of T in stations P and Q (own side only). */
  async function bothSides(tag: string) {
    const internal = await bus(T, 'internal').post(`${tag}.int`, 1);
    const external = await bus(T, 'external').post(`${tag}.ext`, 2);
    for (const side of SIDES) {
      await bus(T, side).toStation();
      await station(P, side).toMain();
      await station(Q, side).fromMain({ types: [tag] });
    }
    return { internal, external };
  }

  async function setDirection(direction: BridgeDirection): Promise<void> {
    if (direction === 'open') await runtime.bridge.open();
    if (direction === 'closed') await runtime.bridge.close();
    if (direction === 'oneWayExternal') await runtime.bridge.onlyToExternal();
    if (direction === 'oneWayInternal') await runtime.bridge.onlyToInternal();
    assert.is(runtime.bridge.direction, direction);
  }

  for (const direction of ['closed', 'open', 'oneWayExternal', 'oneWayInternal'] as const) {
    test(`bridge - ${direction}: buses and stations of each processor reach the other side only as allowed`, async () => {
      const tag = `reach.${direction}`;
      const sent = await bothSides(tag);
      await setDirection(direction);
      const allowed = reach[direction];
      const may = (side: Side) => (side === 'internal' ? allowed.internalReadsExternal : allowed.externalReadsInternal);
      const wanted = (side: Side) => (side === 'internal' ? sent.external : sent.internal);
      // Buses first: once a local station has crossed, its own side's buses would get the crossed events from it.
      for (const side of SIDES) {
        for (const reader of [U, V]) {
          const what = `${side} bus of ${name(reader)} reading ${other(side)}`;
          if (may(side)) {
            assert.equal((await bus(reader, side).fromStation({ side: other(side), types: [tag] })).added, [wanted(side)], what);
          } else {
            await rejects(bus(reader, side).fromStation({ side: other(side), types: [tag] }), 'BRIDGE_CLOSED', what);
            assert.equal(await bus(reader, side).history({ side: other(side), types: [tag] }), [], `${what}: nothing crossed`);
          }
        }
      }
      for (const side of SIDES) {
        for (const processor of [P, Q]) {
          const what = `${side} station ${processor} reading main ${other(side)}`;
          if (may(side)) {
            assert.is((await station(processor, side).fromMain({ side: other(side), types: [tag] })).added, 1, what);
            assert.equal(ids(await station(processor, side).history({ types: [tag], side: other(side) })), [wanted(side).id]);
          } else {
            await rejects(station(processor, side).fromMain({ side: other(side), types: [tag] }), 'BRIDGE_CLOSED', what);
            assert.equal(await station(processor, side).history({ types: [tag], side: other(side) }), [], what);
          }
        }
      }
      // Main stations only ever hold their own side.
      for (const side of SIDES) assert.equal(await main(side).history({ side: other(side) }), []);
    });
  }

  test('bridge - lock forces closed, refuses commands with BRIDGE_LOCKED everywhere, unlock restores the direction', async () => {
    const sent = await bothSides('locking');
    await runtime.bridge.onlyToInternal();
    await runtime.bridge.lock();
    assert.is(runtime.bridge.direction, 'closed');
    assert.ok(runtime.bridge.locked);
    assert.equal((await runtime.actors()).find((a) => a.kind === 'bridge')?.state, { direction: 'closed', lock: 'locked' });
    for (const command of ['open', 'close', 'onlyToExternal', 'onlyToInternal'] as const) {
      await rejects(runtime.bridge[command](), 'BRIDGE_LOCKED', command);
      assert.is(runtime.bridge.direction, 'closed');
    }
    for (const reader of [U, V]) {
      await rejects(bus(reader, 'external').fromStation({ side: 'internal' }), 'BRIDGE_CLOSED', name(reader));
      await rejects(bus(reader, 'internal').fromStation({ side: 'external' }), 'BRIDGE_CLOSED', name(reader));
    }
    await rejects(station(Q, 'external').fromMain({ side: 'internal' }), 'BRIDGE_CLOSED', `station ${Q}`);
    await runtime.bridge.unlock();
    assert.not.ok(runtime.bridge.locked);
    assert.is(runtime.bridge.direction, 'oneWayInternal');
    for (const reader of [U, V]) {
      const { added } = await bus(reader, 'external').fromStation({ side: 'internal', types: ['locking'] });
      assert.equal(added, [sent.internal], name(reader));
      await rejects(bus(reader, 'internal').fromStation({ side: 'external' }), 'BRIDGE_CLOSED', name(reader));
    }
    assert.is((await station(Q, 'external').fromMain({ side: 'internal', types: ['locking'] })).added, 1);
  });

  /** Every place that holds events of `scope`: each thread's bus, each local station, the main station. */
  function placesOf(scope: Side): Array<[string, () => Promise<BusEvent[]>]> {
    return [
      ...topology.threads.map((where): [string, () => Promise<BusEvent[]>] => [
        `${scope} bus of ${name(where)}`,
        () => bus(where, scope).history(),
      ]),
      ...topology.processors.map((processor): [string, () => Promise<BusEvent[]>] => [
        `${scope} station ${processor}`,
        () => station(processor, scope).history(),
      ]),
      [`main ${scope} station`, () => main(scope).history()],
    ];
  }

  /** How many events of each side every place of each scope holds. */
  async function census(): Promise<Map<string, Record<Side, number> & { scope: Side }>> {
    const counts = new Map<string, Record<Side, number> & { scope: Side }>();
    for (const scope of SIDES) {
      for (const [place, read] of placesOf(scope)) {
        const held = await read();
        counts.set(place, {
          scope,
          internal: held.filter((e) => e.side === 'internal').length,
          external: held.filter((e) => e.side === 'external').length,
        });
      }
    }
    return counts;
  }

  /**
   * Events of both sides from a thread of each processor, then, with the
   * bridge open, every bus and local station of every processor reads the
   * other side: other-side events are everywhere but in the main stations.
   */
  async function crossEverywhere(tag: string): Promise<void> {
    for (const where of [T, V]) {
      for (const side of SIDES) {
        await bus(where, side).post(`${tag}.${side}`, name(where));
        await bus(where, side).toStation();
      }
    }
    for (const processor of [P, Q]) for (const side of SIDES) await station(processor, side).toMain();
    await runtime.bridge.open();
    for (const processor of topology.processors) {
      for (const side of SIDES) {
        await station(processor, side).fromMain();
        await station(processor, side).fromMain({ side: other(side) });
      }
    }
    for (const where of topology.threads) {
      for (const side of SIDES) {
        await bus(where, side).fromStation();
        await bus(where, side).fromStation({ side: other(side) });
      }
    }
    const before = await census();
    for (const [place, count] of before) {
      const { scope } = count;
      assert.ok(count[scope] > 0, `${place} holds its own side`);
      if (!place.startsWith('main ')) assert.ok(count[other(scope)] > 0, `${place} holds crossed events`);
    }
  }

  /** Each closing command, the direction it leaves, and the sides that lose their other-side events. */
  const clearings = [
    ['close', 'closed', ['internal', 'external']],
    ['onlyToExternal', 'oneWayExternal', ['external']],
    ['onlyToInternal', 'oneWayInternal', ['internal']],
    ['lock', 'closed', ['internal', 'external']],
  ] as const;

  for (const [command, direction, cleared] of clearings) {
    test(`bridge - ${command}({ clearOtherSide: true }) leaves no other-side event in any bus or station of the side that lost access`, async () => {
      await crossEverywhere(`clear.${command}`);
      const before = await census();
      await runtime.bridge[command]({ clearOtherSide: true });
      assert.is(runtime.bridge.direction, direction);
      const after = await census();
      for (const [place, was] of before) {
        const { scope } = was;
        const now = after.get(place)!;
        assert.is(now[scope], was[scope], `${place}: its own side is untouched`);
        const expected = (cleared as readonly Side[]).includes(scope) ? 0 : was[other(scope)];
        assert.is(now[other(scope)], expected, `${place}: ${other(scope)} events after ${command}`);
      }
      if (command === 'lock') {
        assert.ok(runtime.bridge.locked);
        await runtime.bridge.unlock();
        assert.is(runtime.bridge.direction, 'open', 'unlock returns to the direction lock left');
      }
    });
  }

  test('bridge - close() without clearOtherSide removes nothing anywhere', async () => {
    await crossEverywhere('keep');
    const before = await census();
    await runtime.bridge.close();
    assert.equal(await census(), before);
  });

  let stale: AnyBus | undefined;

  test('stop - stops every actor and leaves no worker thread or child process', async () => {
    const children = topology.processors
      .map((p) => runtime.processor(p).pid)
      .filter((pid): pid is number => pid !== null && pid !== process.pid);
    assert.is(children.length, topology.childProcesses);
    stale = bus(T);
    const rootWorkers = topology.threads.filter((where) => where.p === 0 && where.t > 0).length;
    assert.is(threadsSince(threadsBefore).length >= rootWorkers, true, 'each root worker runs on a thread of its own');
    await runtime.stop();
    assert.not.ok(runtime.running);
    assert.equal(threadsSince(threadsBefore), [], 'no thread the runtime started runs');
    for (const pid of children) {
      let gone = false;
      try {
        process.kill(pid, 0);
      } catch (error) {
        gone = (error as NodeJS.ErrnoException).code === 'ESRCH';
      }
      assert.ok(gone, `processor process ${pid} is still there`);
    }
    await rejects(runtime.bridge.open(), 'RUNTIME_STOPPED', 'bridge');
    await rejects(station(Q).toMain(), 'RUNTIME_STOPPED', `station ${Q}`);
  });

  test('stop - a bus handle kept from before stop() refuses calls with RUNTIME_STOPPED', async () => {
    assert.not.ok(runtime.running);
    await rejects(stale!.post('after.stop', 1), 'RUNTIME_STOPPED', name(T));
    await rejects(stale!.fromStation(), 'RUNTIME_STOPPED', name(T));
  });

  test.run();
}
