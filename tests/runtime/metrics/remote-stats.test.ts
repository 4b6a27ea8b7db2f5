/**
 * Metrics and memory stats of buses and stations in worker threads and child
 * processors: `RemoteBus.stats()` / `memory()`, `RemoteStation.memory()`,
 * `runtime.stats()` and `runtime.actors()` across 1 processor × 2 threads,
 * and the root's embedded worker threads with the `busline.stats` interval.
 * Tests await publishes, syncs and events, never time.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, ManualClock, type BusEvent, type RuntimeStats } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../../runtime/hosting/processor-host.js';

const JOBS = new URL('../fixtures/jobs.service.ts', import.meta.url).href;

const test = suite('stats in workers and processors');

test('1 processor x 2 threads - stats count what each worker posted and delivered, a handler error, and memory matches what was posted', async () => {
  const runtime = createRuntime({
    processors: 1,
    threadsPerProcessor: 2,
    deferred: 'manual',
    metrics: true,
    memory: { budget: { busBytes: 1_000_000, stationBytes: 1_000_000 } },
  });
  try {
    await runtime.ready;
    const one = runtime.thread(1, 1).bus('external') as RemoteBus;
    const two = runtime.thread(1, 2).bus('external') as RemoteBus;
    await runtime.spawn(JOBS, { processor: 1, thread: 1 });
    for (let i = 0; i < 4; i++) await one.publish('job', { i });
    const failed = await one.publish('job', { i: 4, fail: true });
    assert.is(failed.failed, 1, 'the handler threw');
    for (let i = 0; i < 3; i++) await two.post('order.created', { i });
    await two.post('order.paid', { i: 0 });

    const stats = (await one.stats())!;
    assert.is(stats.thread, '1.1');
    assert.is(stats.side, 'external');
    assert.equal(stats.posted, { job: 5 });
    assert.equal(stats.delivered, { job: 5 }, 'one handler, five events');
    assert.is(stats.errors.total, 1);
    assert.equal(stats.errors.byType, { job: 1 });
    assert.is(stats.errors.rate, 1 / 5);
    assert.is(stats.handlerTime.count, 5, 'every delivery of the first 1 024 timed');
    assert.ok(stats.handlerTime.p99 >= stats.handlerTime.p50);
    assert.equal(stats.depths, { queued: 0, parked: 0, unsent: 5, inFlight: 0 });
    assert.equal((await two.stats())!.posted, { 'order.created': 3, 'order.paid': 1 });
    // Each side has its own: the internal one counts the service's reports (its handler failed), no job.
    const internal = (await (runtime.thread(1, 1).bus('internal') as RemoteBus).stats())!;
    assert.is(internal.posted['job'], undefined);
    assert.is(internal.posted['busline.service.failed'], 1);

    const memory = (await two.memory())!;
    assert.is(memory.history, 'bus:1.2:external');
    assert.is(memory.count, 4);
    assert.is(memory.types['order.created']!.count, 3);
    assert.is(memory.types['order.paid']!.count, 1);
    assert.is(memory.budget, 1_000_000);
    assert.ok(memory.bytes > 0 && memory.bytes === memory.types['order.created']!.bytes + memory.types['order.paid']!.bytes);

    // What thread 2 hands to its processor's station is what the station's memory counts.
    const next = await two.toStation();
    const station = runtime.processor(1).station('external') as RemoteStation;
    const held = (await station.memory())!;
    assert.is(held.history, 'station:local:1:external');
    assert.is(held.count, (await station.history()).length);
    assert.is(held.count, 4);
    assert.is(held.types['order.created']!.count, 3);
    assert.is((await next.memory())!.count, 0, 'the new generation holds nothing yet');

    const all = (await runtime.stats())!;
    const threads = all.buses.map((bus) => `${bus.thread} ${bus.side}`).sort();
    // threadsPerProcessor applies to the root's processor 0 as well.
    assert.equal(threads, ['0.0 external', '0.0 internal', '0.1 external', '0.1 internal', '0.2 external', '0.2 internal', '1.0 external', '1.0 internal', '1.1 external', '1.1 internal', '1.2 external', '1.2 internal']);
    assert.is(all.posted, 9 + internal.posted['busline.service.status']! + 1);
    assert.is(all.errors, 1);
    assert.equal(all.unavailable, []);
    const histories = all.memory.map((each) => each.history);
    for (const history of ['station:main:external', 'station:local:0:external', 'station:local:1:external', 'bus:1.1:external', 'bus:1.2:external', 'bus:0.0:external']) {
      assert.ok(histories.includes(history), history);
    }
    assert.is(all.memory.find((each) => each.history === 'bus:1.1:external')!.count, 5);
    assert.ok(JSON.parse(JSON.stringify(all)).buses.length === 12, 'JSON-compatible');

    const actors = await runtime.actors();
    const bus = actors.find((actor) => actor.kind === 'bus' && actor.processor === 1 && actor.thread === 1 && actor.side === 'external')!;
    assert.equal(bus.memory, { count: 5, bytes: all.memory.find((each) => each.history === 'bus:1.1:external')!.bytes, budget: 1_000_000, multipliers: {} });
    const local = actors.find((actor) => actor.id === 'station:local:1:external')!;
    assert.is(local.memory?.count, 4);
  } finally {
    await runtime.stop();
  }
});

test('1 processor x 2 threads - without metrics or budgets, stats and memory are undefined everywhere', async () => {
  // Budgets are on by default: `budget: false` turns them off in every thread and processor too.
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', memory: { budget: false } });
  try {
    await runtime.ready;
    const bus = runtime.thread(1, 2).bus('external') as RemoteBus;
    await bus.post('a', {});
    assert.is(await bus.stats(), undefined);
    assert.is(await bus.memory(), undefined);
    assert.is(await (runtime.processor(1).station('external') as RemoteStation).memory(), undefined);
    assert.is(await runtime.stats(), undefined);
    assert.is((await runtime.actors()).find((actor) => actor.kind === 'bus')!.memory, undefined);
  } finally {
    await runtime.stop();
  }
});

test('embedded workers - runtime.stats() and the busline.stats interval include the root\'s worker threads', async () => {
  const clock = new ManualClock(1_000);
  const runtime = createRuntime({ clock, threadsPerProcessor: 2, deferred: 'manual', metrics: { intervalMs: 500 } });
  try {
    await runtime.ready;
    const one = runtime.thread(0, 1).bus('external') as RemoteBus;
    await one.post('a', {});
    await one.post('a', {});
    await (runtime.thread(0, 2).bus('internal') as RemoteBus).post('b', {});
    runtime.bus('external').post('a', {}, { priority: 'immediate' });

    const stats = (await runtime.stats())!;
    const posted = Object.fromEntries(stats.buses.map((bus) => [`${bus.thread} ${bus.side}`, bus.posted]));
    assert.equal(posted['0.1 external'], { a: 2 });
    assert.equal(posted['0.2 internal'], { b: 1 });
    assert.equal(posted['0.0 external'], { a: 1 });
    assert.is(stats.posted, 4);

    const reported = runtime.bus('internal').waitFor('busline.stats');
    clock.advance(500);
    const event = await reported;
    assert.is(event.payload.at, 1_500);
    assert.is(event.payload.posted, 4);
    assert.ok(event.payload.buses.some((bus) => bus.thread === '0.2' && bus.posted['b'] === 1), 'a worker\'s bus is in it');
  } finally {
    await runtime.stop();
  }
});

test('1 processor x 2 threads - a remote subscriber whose filter turns an event away is not counted as delivered, as a local one is not', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', metrics: true });
  try {
    await runtime.ready;
    const local = runtime.bus('external');
    const remote = runtime.thread(1, 1).bus('external') as RemoteBus;
    const even = (event: BusEvent) => (event.payload as number) % 2 === 0;
    const handled = { local: [] as unknown[], remote: [] as unknown[] };
    local.subscribe('n', (event) => void handled.local.push(event.payload), { filter: even });
    remote.subscribe('n', (event) => void handled.remote.push(event.payload), { filter: even });
    // A filter that throws is a failure, not a delivery, in both.
    const onError = () => undefined;
    const throwing = () => {
      throw new Error('filter failed');
    };
    local.subscribe('bad', () => undefined, { filter: throwing, onError });
    remote.subscribe('bad', () => undefined, { filter: throwing, onError });
    for (const bus of [local, remote]) {
      for (let n = 0; n < 4; n++) await bus.publish('n', n);
      // post()s are not awaited: the caller tells the thread of the filtered ones with its next take, before the publish after them.
      await bus.post('n', 4);
      await bus.post('n', 5);
      await bus.publish('n', 6);
      await bus.publish('bad', 0);
    }
    assert.equal(handled.local, [0, 2, 4, 6]);
    assert.equal(handled.remote, [0, 2, 4, 6]);

    const here = local.stats()!;
    const there = (await remote.stats())!;
    assert.equal(here.delivered, { n: 4 }, 'a local filter that says no is no delivery');
    assert.equal(there.delivered, here.delivered, 'a remote one counts the same');
    assert.equal(there.posted, here.posted);
    assert.is(there.errors.total, here.errors.total);
    assert.is(here.errors.total, 1);
    assert.is(there.errors.rate, here.errors.rate, 'errors by deliveries');
    const all = (await runtime.stats())!;
    const worker = all.buses.find((bus) => bus.thread === '1.1' && bus.side === 'external')!;
    assert.equal(worker.delivered, { n: 4 }, 'runtime.stats() reads the same counts');
  } finally {
    await runtime.stop();
  }
});

test('1 processor x 2 threads - the busline.stats interval, driven by a ManualClock, gathers the child processor\'s workers, at the clock\'s time', async () => {
  const clock = new ManualClock(1_000);
  const runtime = createRuntime({ clock, processors: 1, threadsPerProcessor: 2, deferred: 'manual', metrics: { intervalMs: 500 } });
  try {
    await runtime.ready;
    const one = runtime.thread(1, 1).bus('external') as RemoteBus;
    const two = runtime.thread(1, 2).bus('external') as RemoteBus;
    await one.post('a', {});
    await one.post('a', {});
    await two.post('b', {});
    const reports: Array<BusEvent<RuntimeStats>> = [];
    runtime.bus('internal').subscribe('busline.stats', (event) => void reports.push(event));

    await clock.advanceAsync(499);
    assert.equal(reports, [], 'not due yet');
    const first = runtime.bus('internal').waitFor('busline.stats');
    await clock.advanceAsync(1);
    const event = await first;
    assert.is(event.payload.at, 1_500, 'stamped by the runtime\'s clock');
    assert.is(event.timestamp, 1_500);
    const posted = Object.fromEntries(event.payload.buses.map((bus) => [`${bus.thread} ${bus.side}`, bus.posted]));
    assert.equal(posted['1.1 external'], { a: 2 }, 'a child processor\'s worker is in it');
    assert.equal(posted['1.2 external'], { b: 1 });
    assert.is(event.payload.posted, 3);
    assert.equal(event.payload.unavailable, []);

    // The next interval counts what was posted since, in the child processor's workers, stamped by the same clock.
    const later = await two.post('b', {});
    assert.is(later.timestamp, 1_500, 'the workers follow the runtime\'s clock');
    const second = runtime.bus('internal').waitFor('busline.stats');
    await clock.advanceAsync(500);
    const next = await second;
    assert.is(next.payload.at, 2_000);
    assert.equal(next.payload.buses.find((bus) => bus.thread === '1.2' && bus.side === 'external')!.posted, { b: 2 });
    assert.is(reports.length, 2, 'one report per interval');
    // Only the root posts them: the child processor's threads run no interval of their own.
    for (const thread of [0, 1, 2]) {
      assert.equal(await (runtime.thread(1, thread).bus('internal') as RemoteBus).history({ types: ['busline.stats'] }), [], `none in 1.${thread}`);
    }
  } finally {
    await runtime.stop();
  }
});

test.run();
