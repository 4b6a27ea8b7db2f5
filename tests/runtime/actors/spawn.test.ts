/**
 * Users' own machines in the runtime: `runtime.spawn(module, { processor, thread })`
 * in this thread, in a worker of the root and in a worker of a child processor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, createRuntime, isBusError, type BusEvent, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { turns } from '../fixtures/turns.js';

const COUNTER = new URL('../../../examples/order-counter.machine.ts', import.meta.url);
const NOT_A_MACHINE = new URL('../fixtures/not-a-machine.ts', import.meta.url);
const SLOW = new URL('../fixtures/slow.machine.ts', import.meta.url);

const test = suite('spawn');

test('spawn - in this thread: bus events drive the machine, what it emits is posted', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const emitted: BusEvent[] = [];
    runtime.bus('external').subscribe('orders.limit', (event) => void emitted.push(event));
    const counter = await runtime.spawn(COUNTER, { input: { limit: 2 }, id: 'counter' });
    assert.is(counter.id, 'counter');
    runtime.bus('external').post('order.created', { id: 1 }, { priority: 'immediate' });
    assert.is((await counter.info()).state, 'counting');
    // Took the first over the actor's slice (under load), the second waits for a later turn: wait for what it emits.
    const limit = runtime.bus('external').waitFor('orders.limit', { timeout: 60_000 });
    runtime.bus('external').post('order.created', { id: 2 }, { priority: 'immediate' });
    await limit;
    assert.is((await counter.info()).state, 'full');
    assert.equal(emitted.map((e) => e.payload), [{ orders: 2 }]);
    assert.equal(emitted[0]!.origin, { processor: 0, thread: 0, generation: 0 });
    await counter.send({ type: 'reset' });
    assert.is((await counter.info()).state, 'counting');
    const listed = (await runtime.actors()).filter((actor) => actor.kind === 'user');
    assert.equal(listed.map((a) => [a.id, a.processor, a.thread, a.state]), [['counter', 0, 0, 'counting']]);
    await counter.stop();
    assert.equal((await runtime.actors()).filter((actor) => actor.kind === 'user'), []);
  } finally {
    await runtime.stop();
  }
});

test('spawn - bad modules and options are refused with INVALID_OPTION', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    for (const [module, options] of [
      [NOT_A_MACHINE, {}],
      [COUNTER, { colour: 'red' }],
      [COUNTER, { types: [] }],
    ] as const) {
      try {
        await runtime.spawn(module, options as never);
        assert.unreachable(String(module));
      } catch (error) {
        assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      }
    }
    await runtime.spawn(COUNTER, { id: 'twice' });
    try {
      await runtime.spawn(COUNTER, { id: 'twice' });
      assert.unreachable();
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  } finally {
    await runtime.stop();
  }
});

test('spawn - in workers of the root and of a child processor; actors() sees them all', async () => {
  const runtime: Runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    for (const [processor, thread] of [[0, 1], [1, 1]] as const) {
      const counter = await runtime.spawn(COUNTER, { processor, thread, input: { limit: 2 } });
      const bus = runtime.thread(processor, thread).bus('external') as RemoteBus;
      await bus.post('order.created', { id: 1 }, { priority: 'immediate' });
      await bus.post('order.created', { id: 2 }, { priority: 'immediate' });
      const info = await counter.info();
      assert.equal([info.processor, info.thread, info.state], [processor, thread, 'full']);
      const limit = (await bus.history()).filter((event) => event.type === 'orders.limit');
      assert.equal(limit.map((event) => [event.payload, event.origin.processor, event.origin.thread]), [[{ orders: 2 }, processor, thread]]);
    }
    const actors = await runtime.actors();
    assert.equal(
      actors.filter((a) => a.kind === 'user').map((a) => [a.processor, a.thread, a.state]),
      [[0, 1, 'full'], [1, 1, 'full']],
    );
    // Every bus, station and the bridge is listed with where it runs.
    assert.ok(actors.some((a) => a.id === 'station:local:1:external' && a.processor === 1));
    assert.ok(actors.some((a) => a.id === 'bus:1.1:internal#0' && a.state === 'active'));
    assert.ok(actors.some((a) => a.id === 'bus:0.1:external#0'));
    assert.is(actors.filter((a) => a.kind === 'bridge').length, 1);
  } finally {
    await runtime.stop();
  }
});

test('spawn - an actor slow per event lets its thread run between events; an idle actor still gets an immediate post at once', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    // Each event takes at least 10 ms, longer than an actor's slice (ACTOR_SLICE_MS): one event per turn of the loop.
    await runtime.spawn(SLOW, { input: { workMs: 10 } });
    const worked = () => bus.history({ types: ['worked'] }).map((event) => (event.payload as { n: number }).n);
    for (let n = 0; n < 4; n++) bus.post('work', n, { priority: 'immediate' });
    assert.equal(worked(), [0], 'the first at once, the others wait for later turns');
    await turns(1);
    assert.equal(worked(), [0, 1]);
    await turns(1);
    assert.equal(worked(), [0, 1, 2]);
    await turns(1);
    assert.equal(worked(), [0, 1, 2, 3]);
    // Idle again: an immediate post reaches it at once, even right after a long event (an await in between).
    bus.post('work', 4, { priority: 'immediate' });
    await Promise.resolve();
    bus.post('work', 5, { priority: 'immediate' });
    assert.equal(worked(), [0, 1, 2, 3, 4, 5]);
  } finally {
    await runtime.stop();
  }
});

test('spawn - a slow actor in a worker: its worker answers control calls, its station backlog stays bounded, a producer in another worker is refused (BUS_FULL) and loses nothing', async () => {
  const sync = { everyMs: 5, maxBatch: 8, maxUnsent: 128, maxInFlight: 4, maxBacklog: 32 };
  // A call unanswered for 5 s takes the worker as hung (a crash report): the actor's backlog must never block it that long.
  const runtime = createRuntime({ threadsPerProcessor: 2, callDeadlineMs: 5_000, sync });
  try {
    await runtime.ready;
    let failedWith: string | undefined;
    let failed: (reason: string) => void = () => {};
    const failure = new Promise<string>((resolve) => (failed = (reason) => resolve((failedWith ??= reason))));
    runtime.bus('internal').subscribe('busline.thread.crashed', (event) => failed(`a worker crashed: ${JSON.stringify(event.payload)}`));
    const worked = new Map<unknown, number>();
    let expected = Infinity;
    let allWorked: () => void = () => {};
    const workedAll = new Promise<void>((resolve) => (allWorked = resolve));
    runtime.bus('external').subscribe('worked', (event) => {
      const { n } = event.payload as { n: number };
      worked.set(n, (worked.get(n) ?? 0) + 1);
      if (worked.size >= expected) allWorked();
    });
    const actor = await runtime.spawn(SLOW, { thread: 1, input: { workMs: 3 } });
    const producer = runtime.thread(0, 2).bus('external') as RemoteBus;
    const station = runtime.station('external');

    // (a) Control calls to the consumer's worker, one after another, for as long as the test runs.
    let probing = true;
    let answered = 0;
    const probe = (async () => {
      while (probing) {
        await actor.info();
        answered++;
      }
    })().catch((error: unknown) => failed(`a control call to the consumer's worker failed: ${String(error)}`));

    // Bursts of maxBatch posts, one control call each, outrun an actor that takes milliseconds per event.
    const accepted: number[] = [];
    let refusal: unknown;
    let mostBehind = 0;
    let n = 0;
    // Until refused and the station was seen counting the reader as behind: a sample after each burst may fall
    // between the moments it is (its reads catch up in between), and a loaded machine can refuse the producer for its
    // unsent events before one is seen; posting on shows it, or fails at 20 000 posts.
    while ((refusal === undefined || mostBehind === 0) && failedWith === undefined && n < 20_000) {
      const burst = Array.from({ length: sync.maxBatch }, () => n++);
      const results = await Promise.allSettled(burst.map((i) => producer.post('work', i)));
      results.forEach((result, i) => (result.status === 'fulfilled' ? accepted.push(burst[i]!) : (refusal ??= result.reason)));
      for (const reader of station.backlog()) mostBehind = Math.max(mostBehind, reader.behind);
    }
    assert.is(failedWith, undefined);
    // (c) The producer was refused with a typed error: its events wait in its bus, not at the station.
    assert.ok(refusal instanceof BusFullError, `after ${n} posts: ${String(refusal)}`);
    assert.is(refusal.bound, 'unsent');
    // Slowed, not stopped: room() waits until the station takes the producer's events again.
    assert.is(await Promise.race([producer.room().then(() => 'room'), failure]), 'room');
    accepted.push(n);
    await producer.post('work', n);
    // Nothing accepted is lost: the actor works through every accepted event, once each.
    expected = accepted.length;
    if (worked.size >= expected) allWorked();
    const outcome = await Promise.race([workedAll.then(() => 'worked'), failure]);
    probing = false;
    await probe;
    assert.is(outcome, 'worked');
    assert.ok(answered > 0);
    assert.equal([...worked.keys()].sort((a, b) => (a as number) - (b as number)), accepted);
    assert.ok([...worked.values()].every((count) => count === 1), 'each event worked once');
    // (b) The station's backlog for the slow reader stayed within its bound (plus the one batch that crossed it).
    assert.ok(mostBehind > 0, 'the slow reader was tracked');
    assert.ok(mostBehind < sync.maxBacklog + sync.maxUnsent, `the reader was ${mostBehind} events behind`);
  } finally {
    await runtime.stop();
  }
});

test.run();
