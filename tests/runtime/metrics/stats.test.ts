/**
 * Metrics: `bus.stats()` and `runtime.stats()` count what was posted,
 * delivered, dropped and failed, with handler time percentiles, depths and
 * syncs; `busline.stats` is posted every `intervalMs` of the runtime's clock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, ManualClock, type BusEvent, type Runtime, type RuntimeStats } from '../../../index.js';
import { TIMED_IN_FULL, TIMING_SAMPLE } from '../../../runtime/metrics/bus-metrics.js';

const test = suite('stats');

let runtime: Runtime | undefined;

test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

test('stats - undefined while metrics are off (the default); runtime.stats() then has the budgets\' memory alone, or is undefined without budgets', async () => {
  runtime = createRuntime();
  assert.is(runtime.bus('external').stats(), undefined);
  const stats = (await runtime.stats())!;
  assert.equal([stats.buses, stats.posted, stats.delivered, stats.errors], [[], 0, 0, 0]);
  assert.ok(stats.memory.some((each) => each.history === 'bus:0.0:external'), 'budgets are on by default');
  await runtime.stop();
  runtime = createRuntime({ memory: { budget: false } });
  assert.is(runtime.bus('external').stats(), undefined);
  assert.is(await runtime.stats(), undefined);
});

test('stats - counts posts and handler calls by type, errors by type and subscription, and handler time percentiles', async () => {
  runtime = createRuntime({ metrics: true, deferred: 'manual', onError: () => {} });
  const bus = runtime.bus('external');
  bus.subscribe('order', () => {});
  bus.subscribe('order.created', (event) => {
    if ((event.payload as { fail?: boolean }).fail === true) throw new Error('no stock');
  });
  bus.subscribe('user.*', async () => {
    throw new Error('async failure');
  });
  for (let i = 0; i < 3; i++) await bus.publish('order.created', { fail: i === 0 });
  await bus.publish('order.cancelled', {});
  await bus.publish('user.login', {});
  await bus.publish('nobody.listens', {});
  const stats = bus.stats()!;
  assert.is(stats.thread, '0.0');
  assert.is(stats.side, 'external');
  assert.equal(stats.posted, { 'order.created': 3, 'order.cancelled': 1, 'user.login': 1, 'nobody.listens': 1 });
  assert.equal(stats.delivered, { 'order.created': 6, 'order.cancelled': 1, 'user.login': 1 });
  assert.equal(stats.errors.byType, { 'order.created': 1, 'user.login': 1 });
  assert.equal(stats.errors.bySubscription, { '1:order.created': 1, '2:user.*': 1 });
  assert.is(stats.errors.total, 2);
  assert.is(stats.errors.rate, 2 / 8);
  // One record per event that reached a handler (not for the one nobody listens to).
  assert.is(stats.handlerTime.count, 5);
  assert.ok(stats.handlerTime.p50 > 0, 'real durations are only asserted positive');
  assert.ok(stats.handlerTime.min <= stats.handlerTime.p50 && stats.handlerTime.p50 <= stats.handlerTime.p99 && stats.handlerTime.p99 <= stats.handlerTime.max);
  assert.equal(stats.dropped, {});
  assert.equal(runtime.bus('internal').stats()!.posted, {}, 'each side has its own');
});

test('stats - past the first TIMED_IN_FULL deliveries one in TIMING_SAMPLE is timed, and weighs as the deliveries it stands for', () => {
  runtime = createRuntime({ metrics: true });
  const bus = runtime.bus('external');
  // A clock the handler moves: 1 ms a delivery while the code is "cold" (the first TIMED_IN_FULL), 1 µs after.
  const realNow = performance.now;
  let nowMs = 1;
  let deliveries = 0;
  bus.subscribe('tick', () => void (nowMs += ++deliveries <= TIMED_IN_FULL ? 1 : 0.001));
  const sampled = 100;
  performance.now = () => nowMs;
  try {
    for (let i = 0; i < TIMED_IN_FULL + sampled * TIMING_SAMPLE; i++) bus.post('tick', {}, { priority: 'immediate' });
  } finally {
    performance.now = realNow;
  }
  const { handlerTime } = bus.stats()!;
  assert.is(handlerTime.count, TIMED_IN_FULL + sampled, 'deliveries timed');
  // In µs, to the histogram's 2 significant digits (and the float clock's rounding).
  assert.ok(Math.abs(handlerTime.max - 1_000) < 10, String(handlerTime.max));
  // Recorded once each, the 1 024 slow ones would be the median; weighted, they are the slowest ~14 %.
  assert.ok(Math.abs(handlerTime.p50 - 1) < 0.05, String(handlerTime.p50));
  assert.ok(Math.abs(handlerTime.p90 - 1_000) < 10, String(handlerTime.p90));
});

test('stats - handler calls leave out handlers a filter, a topic or an unsubscribe skipped, count those added mid-run, and are what the error rate divides', async () => {
  runtime = createRuntime({ metrics: true, onError: () => {} });
  const bus = runtime.bus('external');
  const post = (type: string, payload: { n: number }, topic?: string) => bus.post(type, payload, { priority: 'immediate', ...(topic === undefined ? {} : { topic }) });
  bus.subscribe('job', () => {});
  bus.subscribe('job', () => {}, { filter: (event) => (event.payload as { n: number }).n % 2 === 0 });
  bus.subscribe('job', () => {}, { topics: ['blue'] });
  // Its own filter throws for n = 3: an error, not a call.
  bus.subscribe('job', () => {}, {
    filter: (event) => {
      if ((event.payload as { n: number }).n === 3) throw new Error('filter failed');
      return true;
    },
  });
  for (let n = 0; n < 4; n++) post('job', { n }, n === 1 ? 'blue' : undefined);
  // job 0: 3 calls (all but the topic's); 1: 3 (all but the even filter's); 2: 3; 3: 1 (the filter threw).
  let stats = bus.stats()!;
  assert.equal(stats.delivered, { job: 10 });
  assert.is(stats.errors.total, 1);
  assert.is(stats.errors.rate, 1 / 10);

  // Unsubscribed by an earlier handler of the same delivery: skipped, not counted.
  const later = { unsubscribe: () => {} };
  bus.subscribe('cut', () => later.unsubscribe());
  later.unsubscribe = bus.subscribe('cut', () => {}).unsubscribe;
  post('cut', { n: 0 });
  post('cut', { n: 1 });
  // Added mid-run, from a handler: counted from the next event on.
  let added = false;
  bus.subscribe('grow', () => {
    if (!added) bus.subscribe('grow', () => {});
    added = true;
  });
  post('grow', { n: 0 });
  post('grow', { n: 1 });
  // Failures: a throw and a rejection, each a call and an error.
  bus.subscribe('fail', () => {
    throw new Error('thrown');
  });
  bus.subscribe('fail', async () => {
    throw new Error('rejected');
  });
  post('fail', { n: 0 });
  await Promise.resolve();
  await Promise.resolve();
  stats = bus.stats()!;
  assert.equal(stats.posted, { job: 4, cut: 2, grow: 2, fail: 1 });
  assert.equal(stats.delivered, { job: 10, cut: 2, grow: 3, fail: 2 });
  assert.equal(stats.errors.byType, { job: 1, fail: 2 });
  assert.is(stats.errors.total, 3);
  assert.is(stats.errors.rate, 3 / 17);
  const all = (await runtime.stats())!;
  assert.is(all.delivered, 17);
  assert.is(all.errors, 3);
});

test('stats - counts stay exact by type when types interleave, and a type only dropped is not counted as posted', () => {
  runtime = createRuntime({ metrics: true, middleware: [{ before: (draft) => (draft.type === 'spam' ? { drop: 'spam' } : undefined) }] });
  const bus = runtime.bus('external');
  bus.subscribe('a', () => {});
  bus.subscribe('b', () => {});
  bus.subscribe('b', () => {});
  for (const type of ['a', 'b', 'a', 'a', 'spam', 'b', 'a']) {
    try {
      bus.post(type, {}, { priority: 'immediate' });
    } catch (error) {
      if (!isBusError(error, 'EVENT_DROPPED')) throw error;
    }
  }
  const stats = bus.stats()!;
  assert.equal(stats.posted, { a: 4, b: 2 });
  assert.equal(stats.delivered, { a: 4, b: 4 });
  assert.equal(stats.dropped, { spam: 1 });
});

test('stats - depths: queued deferred events, unsent events, in-flight promises; dropped posts by type', async () => {
  runtime = createRuntime({ metrics: true, deferred: 'manual', middleware: [{ before: (draft) => (draft.type === 'spam' ? { drop: 'spam' } : undefined) }] });
  const bus = runtime.bus('external');
  let release!: () => void;
  bus.subscribe('slow', () => new Promise<void>((resolve) => (release = resolve)));
  bus.post('later', {}, { priority: 'deferred' });
  bus.post('later', {}, { priority: 'deferred' });
  bus.post('slow', {}, { priority: 'immediate' });
  assert.throws(() => bus.post('spam', {}), (error: unknown) => isBusError(error, 'EVENT_DROPPED'));
  const stats = bus.stats()!;
  assert.equal(stats.depths, { queued: 2, parked: 0, unsent: 1, inFlight: 1 });
  assert.equal(stats.dropped, { spam: 1 });
  assert.equal(stats.posted, { later: 2, slow: 1 });
  release();
  await Promise.resolve();
  bus.drain();
  assert.equal(bus.stats()!.depths, { queued: 0, parked: 0, unsent: 3, inFlight: 0 });
});

test('stats - counts and times syncs, and carries over to the next bus generation', async () => {
  runtime = createRuntime({ metrics: true });
  const bus = runtime.bus('external');
  bus.post('a', {});
  await bus.sync();
  await bus.sync();
  let stats = bus.stats()!;
  assert.is(stats.sync.count, 2);
  assert.is(stats.sync.failed, 0);
  assert.is(stats.sync.latency.count, 2);
  assert.ok(stats.sync.latency.max > 0);
  assert.is(stats.depths.unsent, 0);
  const next = await bus.toStation();
  next.post('a', {});
  stats = next.stats()!;
  assert.equal(stats.posted, { a: 2 }, 'the thread\'s side keeps counting across generations');
});

test('runtime.stats - both sides of the root thread with totals', async () => {
  runtime = createRuntime({ metrics: true, deferred: 'manual' });
  runtime.bus('external').subscribe('a', () => {});
  runtime.bus('internal').subscribe('b', () => {});
  await runtime.bus('external').publish('a', {});
  await runtime.bus('external').publish('a', {});
  await runtime.bus('internal').publish('b', {});
  const stats = (await runtime.stats())!;
  assert.equal(stats.buses.map((bus) => `${bus.thread} ${bus.side}`), ['0.0 internal', '0.0 external']);
  assert.is(stats.posted, 3);
  assert.is(stats.delivered, 3);
  assert.is(stats.errors, 0);
  assert.ok(JSON.parse(JSON.stringify(stats)).buses.length === 2, 'JSON-compatible');
});

test('metrics.intervalMs - posts busline.stats on the internal bus every interval of the runtime clock, until stopped', async () => {
  const clock = new ManualClock(1_000);
  const rt = (runtime = createRuntime({ clock, metrics: { intervalMs: 500 } }));
  const posted: Array<BusEvent<RuntimeStats>> = [];
  rt.bus('internal').subscribe('busline.stats', (event) => void posted.push(event));
  rt.bus('external').post('a', {}, { priority: 'immediate' });
  clock.advance(499);
  await Promise.resolve();
  assert.is(posted.length, 0);
  clock.advance(1);
  await Promise.resolve();
  assert.is(posted.length, 1);
  assert.is(posted[0]!.payload.at, 1_500);
  assert.is(posted[0]!.payload.buses.find((bus) => bus.side === 'external')!.posted['a'], 1);
  clock.advance(1_000);
  await Promise.resolve();
  assert.is(posted.length, 3, 'one per interval');
  await rt.stop();
  runtime = undefined;
  assert.is(clock.pendingTimers, 0, 'stop() cancels the interval');
});

test('metrics - bad options are refused with INVALID_OPTION naming them', () => {
  for (const [metrics, option] of [
    ['yes', 'metrics'],
    [[], 'metrics'],
    [{ intervalMs: 0 }, 'metrics.intervalMs'],
    [{ intervalMs: 1.5 }, 'metrics.intervalMs'],
    [{ everyMs: 10 }, 'metrics.everyMs'],
  ] as const) {
    try {
      createRuntime({ metrics: metrics as never });
      assert.unreachable(String(metrics));
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      assert.is((error as { option?: string }).option, option);
    }
  }
});

test.run();
