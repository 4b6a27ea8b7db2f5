/**
 * `RemoteBus.subscribe()`, `waitFor()` and `publish()` with real workers:
 * across 1 processor × 2 threads (the root calls worker threads of a child
 * process), and a worker of the root that crashes and restarts. Tests await
 * handlers, waits and crash reports, never time.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, WorkerCrashedError, type BusEvent } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { gate, ids, nextCrash, rejects } from '../../helpers.js';

const test = suite('RemoteBus subscribe with workers');

test('1 processor x 2 threads - a thread\'s posts and what it reads from its station reach a handler in the root; unsubscribe ends it', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual' });
  await runtime.ready;
  try {
    const one = runtime.thread(1, 1).bus('external') as RemoteBus;
    const two = runtime.thread(1, 2).bus('external') as RemoteBus;
    const seen: BusEvent[] = [];
    const three = gate();
    const subscription = one.subscribe('order.>', (event) => {
      seen.push(event);
      if (seen.length === 3) three.open();
    });
    const own = await one.post('order.created', { id: 1 }); // right after subscribe(): seen
    await one.post('other', 0);
    const theirs = await two.post('order.paid', { id: 1 });
    await two.post('order.shipped.late', { id: 1 });
    await two.toStation();
    await one.fromStation();
    await three.promise;
    assert.equal(ids(seen), [own.id, theirs.id, seen[2]!.id]);
    assert.is(seen[2]!.type, 'order.shipped.late');
    assert.equal(seen[1]!.origin, { processor: 1, thread: 2, generation: 0 }, 'as thread 1.1 read it');
    subscription.unsubscribe();
    const after = await one.post('order.created', { id: 2 });
    await one.state();
    assert.not.ok(ids(seen).includes(after.id), 'nothing after unsubscribe()');
  } finally {
    await runtime.stop();
  }
});

test('1 processor x 2 threads - waitFor and waitForEvents on a worker\'s bus; publish waits for its handlers, remote ones included', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual' });
  await runtime.ready;
  try {
    const one = runtime.thread(1, 1).bus('external') as RemoteBus;
    const two = runtime.thread(1, 2).bus('external') as RemoteBus;
    const waiting = two.waitForEvents(['job.started', 'job.done'], { inOrder: true, timeout: 60_000 });
    const started = await two.post('job.started', 1);
    const done = await two.post('job.done', 1);
    assert.equal(await waiting, [started, done]);
    const release = gate();
    const handled: string[] = [];
    one.subscribe('job', async (event) => {
      await release.promise;
      handled.push(event.id);
      return 'a remote handler\'s value crosses back';
    });
    const publishing = one.publish('job.run', { n: 1 });
    const raced = await Promise.race([publishing.then(() => 'published'), one.state().then(() => 'still waiting')]);
    assert.is(raced, 'still waiting');
    release.open();
    const published = await publishing;
    assert.ok(published.dropped === undefined);
    const { event, outcomes, failed } = published;
    assert.equal(handled, [event.id]);
    assert.equal(outcomes, [{ status: 'fulfilled', value: 'a remote handler\'s value crosses back' }], 'awaited here: the value comes back');
    assert.is(failed, 0);
    assert.match(event.id, /^1\.1\./);
    const stopping = one.waitFor('never');
    await one.state();
    await runtime.stop();
    await rejects(stopping, 'RUNTIME_STOPPED');
  } finally {
    await runtime.stop();
  }
});

test('embedded workers - a root handler of a worker\'s events is an outcome of its publish(): an error of its class, a value copied back', async () => {
  const reported: unknown[] = [];
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual', onError: (error) => void reported.push(error) });
  await runtime.ready;
  try {
    const worker = runtime.thread(0, 1).bus('external') as RemoteBus;
    worker.subscribe('job', () => {
      throw new TypeError('root handler failed');
    });
    worker.subscribe('job', async () => {
      throw new WorkerCrashedError('a BusError from a handler');
    });
    worker.subscribe('job', async (event) => ({ seen: event.payload }));
    const published = await worker.publish('job', 7);
    assert.ok(published.dropped === undefined);
    assert.is(published.failed, 2);
    const [plain, bus, value] = published.outcomes;
    assert.is((plain as PromiseRejectedResult).reason.name, 'TypeError');
    assert.is((plain as PromiseRejectedResult).reason.message, 'root handler failed');
    assert.instance((bus as PromiseRejectedResult).reason, WorkerCrashedError);
    assert.equal(value, { status: 'fulfilled', value: { seen: 7 } });
    assert.is(reported.length, 2, 'each reported once, to the root\'s onError');
  } finally {
    await runtime.stop();
  }
});

test('worker restart - a subscription listens to the restarted worker; a publish in flight rejects with WORKER_CRASHED', async () => {
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  await runtime.ready;
  try {
    const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    const seen: BusEvent[] = [];
    bus.subscribe('tick', (event) => void seen.push(event));
    await bus.post('tick', 0);
    const actor = await runtime.spawn(new URL('../fixtures/crashing.machine.ts', import.meta.url), { processor: 0, thread: 1 });
    bus.subscribe('hold', () => new Promise(() => undefined));
    const publishFailed = rejects(bus.publish('hold', 1), 'WORKER_CRASHED', 'the publish under way');
    await bus.state();
    const crashed = nextCrash(runtime, 'thread');
    await actor.send({ type: 'crash.exit' }).catch(() => undefined);
    await crashed;
    await publishFailed;
    const successor = runtime.thread(0, 1).bus('external') as RemoteBus;
    // The subscription listens again once the worker is back; until then the successor's ticks go unseen.
    let after: BusEvent | undefined;
    for (let i = 1; i <= 2_000 && !seen.some((event) => event.id === after?.id); i++) {
      after = await successor.post('tick', i);
      await successor.state();
    }
    assert.ok(seen.some((event) => event.id === after!.id), 'a tick of the restarted worker reached the handler');
    assert.match(after!.id, /^0\.1\.1-/, 'from its new incarnation');
  } finally {
    await runtime.stop();
  }
});

test('worker of a child processor restarts - the subscription listens to its successor (which never knew its listener)', async () => {
  // The processor reports its thread's crash on its own internal bus; the sync policy brings it to the root's.
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', sync: { everyMs: 10 } });
  await runtime.ready;
  try {
    const bus = runtime.thread(1, 1).bus('external') as RemoteBus;
    const seen: BusEvent[] = [];
    bus.subscribe('tick', (event) => void seen.push(event));
    const actor = await runtime.spawn(new URL('../fixtures/crashing.machine.ts', import.meta.url), { processor: 1, thread: 1 });
    const crashed = nextCrash(runtime, 'thread');
    await actor.send({ type: 'crash.exit' }).catch(() => undefined);
    await crashed;
    const successor = runtime.thread(1, 1).bus('external') as RemoteBus;
    let after: BusEvent | undefined;
    for (let i = 1; i <= 2_000 && !seen.some((event) => event.id === after?.id); i++) {
      after = await successor.post('tick', i);
      await successor.state();
    }
    assert.ok(seen.some((event) => event.id === after!.id), 'a tick of the restarted worker reached the handler');
    assert.match(after!.id, /^1\.1\.1-/, 'from its new incarnation');
  } finally {
    await runtime.stop();
  }
});

test.run();
