/**
 * Long-ish runs whose station memory stays bounded:
 *
 * - under the sync policy, 20 000 events whose policy removes them after
 *   delivery go through 1 processor (the root) × 2 worker threads, to an
 *   actor subscribed to them in the other worker, and its local station and
 *   the main station let them go once their readers have read them;
 * - under a small budget, in one process with an embedded processor, frames
 *   of evicted events with one `high` event each: the frames go, the events
 *   that stay are copied out of them (`station/repack.ts`).
 *
 * Sizes are read from the stations (counts, bytes, the bytes of the frames
 * their events keep alive), not from the process's memory.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type Bus, type BusEvent, type RemoteBus, type Runtime } from '../../../index.js';
import { slowSubscriber } from '../../helpers.js';
import type { Station } from '../../../runtime/station/station.js';
import { runtimeCore } from '../../../runtime/runtime-core.js';

const test = suite('Station histories stay bounded');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
});

const EVENTS = 20_000;
const CHUNK = 500;
/** What bounds a station here: it takes a producer's batch (at most `maxUnsent` events) until its reader is `maxBacklog` behind. */
const MAX_UNSENT = 1_024;
const MAX_BACKLOG = 2_048;

/** Posts `count` ticks on `bus`, waiting for room whenever the bus holds too many unsent. */
async function postTicks(bus: RemoteBus, from: number, count: number): Promise<void> {
  let pending = Array.from({ length: count }, (_, i) => from + i);
  while (pending.length > 0) {
    const results = await Promise.allSettled(pending.map((n) => bus.post('tick', { n })));
    const refused = pending.filter((_, i) => results[i]!.status === 'rejected');
    for (const result of results) if (result.status === 'rejected' && !isBusError(result.reason, 'BUS_FULL')) throw result.reason;
    pending = refused;
    if (pending.length > 0) await bus.room();
  }
}

test('sync policy - 20 000 ticks through 1 processor × 2 worker threads to a subscribed actor: its stations hold a bounded part of them, and none once all have read', async () => {
  const maxBytes = 16 * 1024 * 1024;
  runtime = createRuntime({
    processors: 0,
    threadsPerProcessor: 2,
    callDeadlineMs: 20_000,
    sync: { everyMs: 10, maxBatch: 256, maxUnsent: MAX_UNSENT, maxBacklog: MAX_BACKLOG },
    // The limit is a backstop far above what the run holds (it is where a memory budget would plug in):
    // what bounds the histories here is removal after delivery. It also makes the stations count bytes.
    memory: { policies: { tick: { removeAfterDelivery: true } }, limits: { maxBytes } },
  });
  await runtime.ready;
  // Thread 2 is interested in ticks (stations hold them for it until it has read them); its next read says so.
  await runtime.spawn(new URL('../fixtures/stamped.machine.ts', import.meta.url), { thread: 2, types: ['tick'] });
  await (runtime.thread(0, 2).bus('external') as RemoteBus).sync();
  const local = runtime.station('external');
  const main = runtime.mainStation('external');
  const producer = runtime.thread(0, 1).bus('external') as RemoteBus;
  const most = { local: 0, localBytes: 0, main: 0 };
  for (let from = 0; from < EVENTS; from += CHUNK) {
    await postTicks(producer, from, CHUNK);
    most.local = Math.max(most.local, local.size);
    most.localBytes = Math.max(most.localBytes, local.bytes);
    most.main = Math.max(most.main, main.size);
  }
  // Each station lets the last ticks go once its readers' next syncs have read them (each period).
  for (let round = 0; ; round++) {
    const sizes = [local.size, main.size];
    if (sizes.every((size) => size === 0)) break;
    assert.ok(round < 5_000, `the stations still hold ${sizes.join(', ')} ticks`);
    await (runtime.thread(0, 2).bus('external') as RemoteBus).state();
  }
  assert.is(local.bytes, 0);
  // Bounded by what the readers have not read yet (the backlog bound, and one batch past it), not by the run's length
  // (how far behind the reader falls within that depends on the machine's load: a bound of EVENTS / 4 failed once).
  assert.ok(most.local <= MAX_BACKLOG + MAX_UNSENT, `the local station held ${most.local} ticks at most`);
  assert.ok(most.main < EVENTS / 4, `the main station held ${most.main} ticks at most`);
  assert.ok(most.localBytes > 0 && most.localBytes < maxBytes / 8, `the local station held ${most.localBytes} bytes at most`);
});

test('memory budget - 30 frames of 2 000 evicted logs and one `high` event each, through a local, the main and another processor\'s station: the frames go, what the stations keep alive stays within a few budgets, and each kept event reaches its readers once', async () => {
  const budget = 1024 * 1024;
  const ROUNDS = 30;
  const LOGS = 2_000;
  runtime = createRuntime({
    deferred: 'manual',
    memory: { policies: { log: { importance: 'low' }, audit: { importance: 'high' } }, budget: { stationBytes: budget, busBytes: budget } },
  });
  const writer = runtime.bus('external');
  const local = runtime.station('external');
  const main = runtime.mainStation('external');
  const second = runtime.addProcessor();
  const readers = [runtime.addThread().bus('external'), runtime.bus('external', { processor: second.processor })];
  const delivered = readers.map(() => [] as string[]);
  readers.forEach((reader, r) => reader.subscribe('audit', (event: BusEvent) => void delivered[r]!.push(event.id)));
  const stations = { local, main, second: second.station('external') };
  const most = { local: 0, main: 0, second: 0 };
  // A log line of its own per event (512 bytes): a frame of them is about 1.2 MB.
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < LOGS; i++) writer.post('log', { n: round * LOGS + i, line: line(round * LOGS + i) });
    writer.post('audit', { round });
    await writer.sync();
    await local.roundTrip();
    await stations.second.fromMain();
    for (const reader of readers) await reader.fromStation();
    for (const [name, station] of Object.entries(stations)) {
      const memory = station.memory()!;
      assert.ok(memory.bytes <= budget, `the ${name} station holds ${memory.bytes} bytes of events`);
      most[name as keyof typeof most] = Math.max(most[name as keyof typeof most], memory.frameBytes);
    }
  }
  // Each frame kept whole for its one audit would be ROUNDS × 1.2 MB by now.
  for (const [name, bytes] of Object.entries(most)) assert.ok(bytes < 5 * budget, `the ${name} station kept ${bytes} bytes of frames alive`);
  for (const station of Object.values(stations)) assert.is(station.history({ types: ['audit'] }).length, ROUNDS);
  for (const ids of delivered) {
    assert.is(ids.length, ROUNDS);
    assert.is(new Set(ids).size, ROUNDS, 'each audit delivered once');
  }
});

test('memory budget - ticks held for a reader that reads every third round, in frames whose logs are evicted: they move out of those frames (arrivals, interest and eviction queues with them) and each reaches the reader once, in order', async () => {
  const budget = 1024 * 1024;
  const ROUNDS = 12;
  const EACH = 1_500;
  runtime = createRuntime({
    deferred: 'manual',
    memory: { policies: { tick: { removeAfterDelivery: true }, log: { importance: 'low' } }, budget: { stationBytes: budget, busBytes: budget } },
  });
  const writer = runtime.bus('external');
  const reader = runtime.addThread().bus('external');
  const ticks: number[] = [];
  reader.subscribe('tick', (event: BusEvent) => void ticks.push((event.payload as { n: number }).n));
  await reader.fromStation(); // its interest in ticks, declared
  const local = runtime.station('external');
  let most = 0;
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < EACH; i++) {
      const n = round * EACH + i;
      writer.post('tick', { n });
      writer.post('log', { n, line: line(n) });
    }
    await writer.sync();
    // Pushed on each round, as the sync policy would: what the main station has not taken keeps its frames here (counted).
    await local.toMain();
    if (round % 3 === 2) await reader.fromStation();
    const memory = local.memory()!;
    assert.ok(memory.bytes <= budget, `the station holds ${memory.bytes} bytes of events`);
    most = Math.max(most, memory.frameBytes);
  }
  await reader.fromStation();
  assert.is(ticks.length, ROUNDS * EACH);
  assert.equal(ticks, [...ticks].sort((a, b) => a - b), 'in order');
  assert.is(new Set(ticks).size, ROUNDS * EACH, 'each tick delivered once');
  assert.is(local.history({ types: ['tick'] }).length, 0, 'every tick left once read');
  // Three rounds of ticks wait for the reader (about 0.3 MB of them), in frames of 1.1 MB whose logs go.
  assert.ok(most < 5 * budget, `the station kept ${most} bytes of frames alive`);
});

test('memory budget - a local station nobody pushes to its main station (manual syncs) holds at most its budget of unsent events; where only high ones wait, it refuses batches (BUS_FULL, outbox) that stay in their bus', async () => {
  const budget = 1024 * 1024;
  const ROUNDS = 12;
  const LOGS = 1_000;
  // `high` unsent events are never dropped; read once, they leave the station's history, not what waits for the main station.
  runtime = createRuntime({ deferred: 'manual', memory: { policies: { log: { importance: 'high', removeAfterSearch: true } }, budget: { stationBytes: budget, busBytes: 4 * budget } } });
  const rt = runtime;
  const local = rt.station('external');
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  let refusal: unknown;
  let most = 0;
  for (let round = 0; round < ROUNDS && refusal === undefined; round++) {
    // About half the budget a round: the station takes two rounds or so, then holds its budget of them.
    for (let i = 0; i < LOGS; i++) rt.bus('external').post('log', { n: round * LOGS + i, line: line(round * LOGS + i) });
    refusal = await rt.bus('external').toStation().then(() => undefined, (error: unknown) => error);
    local.history({ types: ['log'] });
    most = Math.max(most, local.memory()!.frameBytes);
  }
  assert.ok(isBusError(refusal, 'BUS_FULL'), `expected BUS_FULL, got ${String(refusal)}`);
  assert.is((refusal as { bound?: string }).bound, 'outbox');
  assert.is((refusal as { limit?: string }).limit, 'memory.budget.stationBytes');
  assert.match((refusal as Error).message, 'toMain()');
  // At most its budget, plus the one batch that took it there (and the frames of those its history keeps).
  assert.ok(most < 3 * budget, `the local station kept ${most} bytes of frames alive`);
  // Nothing refused was lost: the events wait in the bus; once the station has pushed, it takes them.
  const waiting = rt.bus('external').memory()!.unsent!.count;
  assert.ok(waiting > 0);
  // (A toMain() now would push what the main station's budget has room for, whole batches, and keep the rest: upstream-budget.test.ts.)
  const refusedAgain = await rt.bus('external').toStation().then(() => undefined, (error: unknown) => error);
  assert.is((refusedAgain as { bound?: string }).bound, 'outbox');
  assert.ok(rt.bus('external').memory()!.unsent!.count >= waiting);
});

test('memory budget - under manual syncs a local station nobody pushes never refuses its threads\' syncs for it: its oldest unsent events go (busline.memory.dropped), as a bus\'s outbox does', async () => {
  // A runtime whose threads share events through their station and never use a main station: no toMain() is ever due.
  const budget = 256 * 1024;
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { stationBytes: budget, busBytes: 4 * budget } } });
  const rt = runtime;
  const drops: BusEvent[] = [];
  rt.bus('internal').subscribe('busline.memory.dropped', (event) => void drops.push(event));
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  let most = 0;
  // About eight times the station's budget in all, a quarter of it a round.
  for (let round = 0; round < 32; round++) {
    for (let i = 0; i < 128; i++) rt.bus('external').post('log', { n: round * 128 + i, line: line(round * 128 + i) });
    await rt.bus('external').sync();
    most = Math.max(most, rt.station('external').memory()!.frameBytes);
  }
  await rt.bus('internal').drain();
  assert.is(rt.bus('external').memory()!.unsent!.count, 0);
  assert.ok(most < 3 * budget, `the local station kept ${most} bytes of frames alive`);
  assert.ok(drops.some((event) => (event.payload as { history: string }).history.startsWith('station:local')), 'no drop was reported');
});

test('memory budget - under the sync policy a local station at its unsent budget refuses batches (BUS_FULL, outbox); after toMain() they go on from their bus, each once, in order', async () => {
  const budget = 64 * 1024;
  // A period that never comes during the test: the syncs are the test's own.
  runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000 }, memory: { budget: { stationBytes: budget, busBytes: 16 * budget } } });
  const rt = runtime;
  const local = rt.station('external');
  const taken: number[] = [];
  (rt.mainStation('external') as Station).onAccepted = (added) => void taken.push(...added.map((event) => (event.payload as { n: number }).n));
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  let posted = 0;
  let refusal: unknown;
  while (refusal === undefined && posted < 2_000) {
    for (let i = 0; i < 50; i++, posted++) rt.bus('external').post('log', { n: posted, line: line(posted) });
    refusal = await rt.bus('external').sync().then(() => undefined, (error: unknown) => error);
  }
  assert.is((refusal as { bound?: string }).bound, 'outbox', `expected BUS_FULL (outbox), got ${String(refusal)}`);
  assert.ok(rt.bus('external').memory()!.unsent!.count > 0);
  await local.toMain();
  await rt.bus('external').sync();
  assert.is(rt.bus('external').memory()!.unsent!.count, 0);
  await local.toMain();
  assert.equal(taken, Array.from({ length: posted }, (_, n) => n));
});

test('memory budget - held back upstream at its unsent budget, a local station still takes its own slow reader\'s batches (a consumer can always publish its results), as under maxBacklog', async () => {
  const sync = { everyMs: 3_600_000, maxBatch: 16, maxUnsent: 16, maxInFlight: 2, maxBacklog: 4 };
  const budget = 16 * 1024;
  runtime = createRuntime({ deferred: 'manual', sync, memory: { budget: { stationBytes: budget } } });
  const rt = runtime;
  const producer = rt.bus('external');
  const station = rt.station('external');
  const consumer = rt.addThread().bus('external');
  const second = rt.addProcessor();
  const reader = rt.thread(second.processor, 0).bus('external') as Bus;
  const [here, there] = [slowSubscriber(), slowSubscriber()];
  consumer.subscribe('task', here.handler);
  reader.subscribe('job', there.handler);
  await consumer.sync();
  await reader.sync();
  let next = 0;
  // A slow reader's full reads ask the policy for more at once: each step below waits until the ticks it started
  // have ended, so that a sync call of the test's never meets one of theirs (BUS_BUSY) and the steps keep their order.
  const ticks = () => runtimeCore(rt).syncTimer!.idle();
  const post = (type: string, count: number, bytes = 8) => {
    for (let i = 0; i < count; i++) producer.post(type, { n: next++, pad: 'x'.repeat(bytes) });
  };
  // The other processor's station falls behind at the main station, which then refuses this processor's batches.
  post('job', 12);
  await producer.sync();
  await station.toMain();
  // No task among them: it reads them all, a few a sync.
  const behind = () => station.backlog().reduce((most, reader) => Math.max(most, reader.behind), 0);
  for (let round = 0; round < 10 && behind() > 0; round++) {
    await ticks();
    await consumer.sync();
  }
  await ticks();
  assert.is(behind(), 0);
  await second.station('external').fromMain();
  // Tasks for the consumer here, and fewer than maxBacklog events but the station's budget of bytes: held back, they wait here.
  post('task', 3);
  await producer.sync();
  post('job', 3, 6 * 1024);
  await producer.sync();
  await ticks();
  const held = await station.toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(isBusError(held, 'BUS_FULL'), `expected BUS_FULL, got ${String(held)}`);
  // The consumer reads (as far as its credits go: it is a slow reader here) and publishes a result: its batch is taken.
  await ticks();
  await consumer.sync();
  await ticks();
  assert.ok(station.backlog().some((reader) => reader.thread === 1 && reader.behind > 0), 'the consumer is behind');
  consumer.post('result', 1);
  const refused = await consumer.sync().then(() => undefined, (error: unknown) => error);
  assert.is(refused, undefined, `the slow consumer's batch was refused: ${String(refused)}`);
  here.finish(next);
  there.finish(next);
});

test.run();
