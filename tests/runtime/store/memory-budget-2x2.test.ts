/**
 * Memory budgets across 2 processors × 2 worker threads (one runtime for the
 * file: starting processors costs seconds): the seed's size-limit multiplier
 * refusing a worker's post, eviction order at a child processor's station
 * with `high` surviving, and a long run whose every history stays within its
 * budget. Sizes are read where the root can read them: the root's stations
 * (`memory()`), child processors' stations (`state().bytes`), workers' bus
 * histories (their events, counted as a history counts them), and the
 * `busline.memory.*` reports each thread posts on its internal bus.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BusFullError,
  EventTooLargeError,
  createRuntime,
  type BusEvent,
  type EvictionReport,
  type MultiplierChange,
  type RemoteBus,
  type RemoteStation,
  type Runtime,
} from '../../../index.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import { ids, seededRandom } from '../../helpers.js';

const BUS_BYTES = 8_000;
const STATION_BYTES = 9_500;

const test = suite('memory budgets across 2 processors × 2 threads');
let runtime: Runtime;
/** Every `busline.memory.evicted` report of every thread, in the order they reached this thread. */
const evictions: EvictionReport[] = [];

const bus = (processor: number, thread: number, side: 'external' | 'internal' = 'external') => runtime.thread(processor, thread).bus(side) as RemoteBus;
const station = (processor: number) => runtime.processor(processor).station('external') as RemoteStation;
const random = seededRandom(20);
/** `length` random bytes: a payload that compresses to nothing less. */
const incompressible = (length: number) => Uint8Array.from({ length }, () => Math.floor(random() * 256));

test.before(async () => {
  runtime = createRuntime({
    processors: 2,
    threadsPerProcessor: 2,
    deferred: 'manual',
    callDeadlineMs: 60_000,
    memory: {
      budget: { busBytes: BUS_BYTES, stationBytes: STATION_BYTES },
      policies: { blob: { sizeLimit: 1_000 }, noise: { importance: 'low' }, audit: { importance: 'high' } },
    },
  });
  await runtime.ready;
  for (const processor of [0, 1, 2]) {
    for (const thread of [0, 1, 2]) {
      runtime.thread(processor, thread).bus('internal').subscribe('busline.memory.evicted', (event) => void evictions.push(event.payload as unknown as EvictionReport));
    }
  }
});

test.after(async () => {
  await runtime?.stop();
});

test("sizeLimit × multiplier - the seed's example in a worker: over its budget a bus refuses a new incompressible 900 B blob naming 800, typed across the thread; its stored 900 B blobs stay", async () => {
  const producer = bus(2, 1);
  const lowered = bus(2, 1, 'internal').waitFor('busline.memory.multiplier');
  const blobs: BusEvent[] = [];
  for (let i = 0; i < 7; i++) blobs.push(await producer.post('blob', incompressible(830), { priority: 'immediate' }));
  // 7 blobs (~6 300 B) and ~1 770 B of low noise: over the 8 000 B budget. The noise is evicted, the blobs stay.
  await producer.post('noise', incompressible(1_700), { priority: 'immediate' });
  const change = (await lowered).payload as unknown as MultiplierChange;
  assert.equal(
    [change.history, change.type, change.previous, change.multiplier, change.limit, change.budget],
    ['bus:2.1:external', 'blob', 1, 0.8, 800, BUS_BYTES],
  );
  const error = await producer.post('blob', incompressible(830), { priority: 'immediate' }).then(
    () => assert.unreachable('refused'),
    (reason: unknown) => reason,
  );
  assert.instance(error, EventTooLargeError);
  const { code, type, size, limit, message } = error as EventTooLargeError;
  assert.equal([code, type, limit], ['EVENT_TOO_LARGE', 'blob', 800]);
  assert.ok(size! > 850 && size! < 950, `a blob of about 900 B (${size} B)`);
  assert.match(message, 'over the size limit of 800');
  assert.equal(ids(await producer.history()), ids(blobs), 'stored 900 B blobs stay; only the low noise left');
  // Within the limit in force, a blob still goes in.
  const small = await producer.post('blob', incompressible(600), { priority: 'immediate' });
  assert.equal(ids(await producer.history({ types: ['blob'] })), ids([...blobs, small]));
});

test("evict - a child processor's station over its budget evicts low first, then the largest, then (of equal size) the oldest; high stays, and a batch only high evictions would fit is refused whole", async () => {
  const p1 = station(1);
  // Three threads' batches, each well within its bus's budget. Sizes: payload + ~60 B.
  const a1 = await bus(1, 1).post('audit', incompressible(2_000));
  const a2 = await bus(1, 1).post('audit', incompressible(2_000));
  await bus(1, 1).toStation();
  const n1 = await bus(1, 2).post('noise', incompressible(300));
  const x = await bus(1, 2).post('note', incompressible(1_500));
  const y = await bus(1, 2).post('note', incompressible(1_000));
  await bus(1, 2).toStation();
  assert.equal(ids(await p1.history()), ids([a1, a2, n1, x, y]));
  const before = await p1.state();
  assert.ok(before.bytes > 7_000 && before.bytes < 7_500, `${before.bytes} B`);
  const z = await bus(1, 0).post('note', incompressible(1_000));
  const w = await bus(1, 0).post('note', incompressible(1_500));
  const n2 = await bus(1, 0).post('noise', incompressible(300));
  const evicted = bus(1, 0, 'internal').waitFor('busline.memory.evicted', { filter: (event) => (event.payload as unknown as EvictionReport).history === 'station:local:1:external' });
  // ~10 100 B: over 9 500. Down to 90 %: both noises (low), then x (largest; as large as w, and older).
  await bus(1, 0).toStation();
  const report = (await evicted).payload as unknown as EvictionReport;
  assert.equal([report.count, [...report.types].sort(), report.budget], [3, ['noise', 'note'], STATION_BYTES]);
  assert.equal(ids(await p1.history()), ids([a1, a2, y, z, w]));
  const after = await p1.state();
  assert.is(after.bytes, report.bytes);
  assert.ok(after.bytes <= STATION_BYTES * 0.9, `${after.bytes} B`);
  // The main station, under the same budget, lets the same ones go.
  await p1.toMain();
  const main = runtime.mainStation('external');
  assert.equal(ids(main.history()), ids([a1, a2, y, z, w]));
  assert.is(main.memory()!.evicted, 3);
  assert.ok(main.memory()!.bytes <= STATION_BYTES * 0.9, `${main.memory()!.bytes} B at the main station`);
  // Two more audits fit only if audits were evicted: the worker's batch is refused whole and stays unsent there.
  await bus(1, 1).post('audit', incompressible(3_000));
  await bus(1, 1).post('audit', incompressible(3_000));
  const refusal = await bus(1, 1).toStation().then(
    () => assert.unreachable('refused'),
    (reason: unknown) => reason,
  );
  assert.instance(refusal, BusFullError);
  assert.is((refusal as BusFullError).code, 'BUS_FULL');
  assert.match((refusal as BusFullError).message, 'under memory.budget.stationBytes (9500)');
  assert.is((await bus(1, 1).state()).unsent, 2);
  assert.equal(ids(await p1.history()), ids([a1, a2, y, z, w]), 'nothing of the batch merged');
});

test('long run - 20 000 ticks from two processors through every station and thread: each history and outbox stays within its budget, and the newest ticks get everywhere', async () => {
  const EVENTS = 20_000;
  const CHUNK = 500;
  // A bus retires at each toStation(): `bus()` gives the thread's current one.
  const producers = [() => bus(1, 2), () => bus(2, 2)];
  const readers: Array<[number, number]> = [[0, 1], [0, 2], [1, 0], [1, 1], [2, 0], [2, 1]];
  const most = { stations: 0, buses: 0, outboxes: 0 };
  const mainEvictedBefore = runtime.mainStation('external').memory()!.evicted;
  const reportsBefore = evictions.length;
  // Equal sizes (padded numbers), so that among ticks the oldest go first.
  const tick = (producer: number, n: number) => ({ producer, n: String(n).padStart(5, '0') });
  for (let from = 0; from < EVENTS / 2; from += CHUNK) {
    await Promise.all(
      producers.map(async (producer, i) => {
        await Promise.all(Array.from({ length: CHUNK }, (_, k) => producer().post('tick', tick(i + 1, from + k))));
        // A chunk takes ~5 times a bus's budget: its outbox keeps the newest, and drops (and reports) the rest.
        most.outboxes = Math.max(most.outboxes, (await producer().memory())!.unsent!.bytes);
        await producer().toStation();
        await station(i + 1).toMain();
      }),
    );
    await Promise.all([runtime.station('external').fromMain(), station(1).fromMain(), station(2).fromMain()]);
    await Promise.all([runtime.bus('external').fromStation(), ...readers.map(([p, t]) => bus(p, t).fromStation())]);
    const stationBytes = [
      runtime.mainStation('external').memory()!.bytes,
      runtime.station('external').memory()!.bytes,
      ...(await Promise.all([station(1).state(), station(2).state()])).map((state) => state.bytes),
    ];
    // Less its audits: a read brings the station's `high` events into a bus whatever its budget (thread 1.1's bus
    // also keeps the two the station refused), and a budget never evicts them.
    const evictable = (events: readonly BusEvent[]) => events.reduce((sum, event) => sum + (event.type === 'audit' ? 0 : eventBytes(event)), 0);
    const busBytes = await Promise.all([...readers, [1, 2], [2, 2]].map(async ([p, t]) => evictable(await bus(p!, t!).history())));
    busBytes.push(evictable(runtime.bus('external').history()));
    most.stations = Math.max(most.stations, ...stationBytes);
    most.buses = Math.max(most.buses, ...busBytes);
  }
  assert.ok(most.stations <= STATION_BYTES, `a station held ${most.stations} B`);
  assert.ok(most.buses <= BUS_BYTES, `a bus held ${most.buses} B of ticks`);
  assert.ok(most.outboxes > 0 && most.outboxes <= BUS_BYTES, `an outbox held ${most.outboxes} B`);
  const reports = evictions.slice(reportsBefore);
  assert.ok(reports.length > 0);
  for (const report of reports) {
    if (report.history === 'bus:1.1:external') {
      // Its four audits alone are over its budget: each read's ticks are evicted, the audits stay (counted as the
      // bus holds them: those it read, at their bytes in the frames they came in).
      assert.equal([report.types, report.bytes], [['tick'], (await bus(1, 1).memory())!.types['audit']!.bytes]);
    } else assert.ok(report.bytes <= report.budget * 0.9, `${report.history} evicted down to ${report.bytes} B`);
  }
  const main = runtime.mainStation('external');
  assert.ok(main.memory()!.evicted - mainEvictedBefore > 0, 'the main station let the older go');
  // The flow never stopped, and of ticks that differ by a few bytes (ids a digit longer, frames laid out
  // differently) the oldest went: every history holds ticks of the last rounds only.
  const lastRound = (events: readonly BusEvent[], where: string) => {
    const ns = events.map((event) => Number((event.payload as { n: string }).n));
    // (The producers send the newest of each chunk, so a history may keep some of the round before.)
    assert.ok(ns.length > 0 && Math.min(...ns) >= EVENTS / 2 - 2 * CHUNK, `${where}: ${ns.length} ticks, from ${Math.min(...ns)}`);
  };
  lastRound(main.history({ types: ['tick'] }), 'main station');
  lastRound(runtime.station('external').history({ types: ['tick'] }), 'station 0');
  for (const p of [1, 2]) lastRound(await station(p).history({ types: ['tick'] }), `station ${p}`);
  // (Thread 1.1's bus keeps only its audits: each read's ticks leave it at once.)
  for (const [p, t] of readers.filter(([p, t]) => !(p === 1 && t === 1))) lastRound(await bus(p, t).history({ types: ['tick'] }), `bus ${p}.${t}`);
  lastRound(runtime.bus('external').history({ types: ['tick'] }), 'bus 0.0');
});

test.run();
