/**
 * Buses in real threads.js workers: `createRuntime({ threadsPerProcessor })`.
 * One runtime per suite (a worker takes about a second to load TypeScript).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { ids, osThreads, threadsSince } from '../../helpers.js';

const test = suite('worker threads');
let runtime: Runtime;

const worker = (thread: number, side: 'internal' | 'external' = 'external') => runtime.thread(0, thread).bus(side) as RemoteBus;

test.before(async () => {
  runtime = createRuntime({ threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000 });
  await runtime.ready;
});

test.after(async () => {
  await runtime.stop();
});

test('toStation/fromStation - worker U sees worker T\'s events only after T.toStation and U.fromStation', async () => {
  const t = worker(1);
  const u = worker(2);
  const event = await t.post('work.done', { n: 1 });
  assert.equal(event.origin, { processor: 0, thread: 1, generation: 0 });
  assert.equal((await u.fromStation()).added, []);
  await t.toStation();
  const { added } = await u.fromStation();
  assert.equal(ids(added), [event.id]);
  assert.equal(added[0], event, 'the event crossed two threads intact');
  assert.equal(ids(await worker(2).history()), [event.id]);
});

test('roundTrip - a worker\'s queue comes back with the whole station history, the main thread\'s included', async () => {
  const own = runtime.bus('external').post('main.event', { from: 'main' });
  await runtime.bus('external').toStation();
  const parked = await worker(1).post('job.later', 1, { priority: 'deferred' });
  const next = await worker(1).roundTrip();
  assert.ok(ids(await next.history()).includes(own.id));
  assert.equal(ids(await next.queue()), [parked.id]);
  assert.is(await next.drain(), 1);
});

test('bridge - clearing reaches every worker before close() resolves', async () => {
  const external = await worker(1).post('app.click', 1);
  await worker(1).toStation();
  await runtime.bridge.open();
  const internal = worker(2, 'internal');
  assert.ok(ids((await internal.fromStation({ side: 'external' })).added).includes(external.id));
  await runtime.bridge.close({ clearOtherSide: true });
  assert.equal((await worker(2, 'internal').history()).filter((e) => e.side === 'external'), []);
  try {
    await worker(2, 'internal').fromStation({ side: 'external' });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'BRIDGE_CLOSED'), String(error));
  }
});

test('actor failure - a user actor that throws in a worker is contained and reported', async () => {
  const spawned = await runtime.spawn(new URL('../fixtures/throwing.machine.ts', import.meta.url), {
    thread: 2,
    id: 'thrower',
  });
  await worker(2).post('explode.now', { n: 1 }, { priority: 'immediate' });
  // The worker is still alive and answers; the failure is an internal event on its bus.
  const failures = (await worker(2, 'internal').history()).filter((e) => e.type === 'busline.actor.failed');
  assert.is(failures.length, 1);
  assert.equal((failures[0]!.payload as { id: string; message: string }).message, 'boom in a worker');
  assert.is((await spawned.info()).status, 'error');
  assert.ok((await runtime.actors()).some((a) => a.id === 'thrower'));
  await spawned.stop();
});

test('errors - a worker bus refuses bad input with the same codes as a local one', async () => {
  for (const [call, code] of [
    [() => worker(1).post('', 1), 'INVALID_EVENT'],
    [() => worker(1).post('x', { d: new Date() } as never), 'INVALID_EVENT'],
    [() => worker(1).fromStation({ side: 'nowhere' as never }), 'INVALID_OPTION'],
  ] as const) {
    try {
      await call();
      assert.unreachable(code);
    } catch (error) {
      assert.ok(isBusError(error, code), String(error));
    }
  }
  const stale = worker(1);
  await stale.toStation();
  try {
    await stale.post('late', 1);
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'BUS_RETIRED'), String(error));
  }
});

test.run();

const lifecycle = suite('worker threads lifecycle');

lifecycle('stop - ends every worker; calls afterwards are refused', async () => {
  const before = await osThreads();
  const rt = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  await rt.ready;
  const bus = rt.thread(0, 1).bus('external') as RemoteBus;
  await bus.post('x', 1);
  assert.ok(threadsSince(before).length > 0, 'the worker runs on a thread of its own');
  await rt.stop();
  assert.equal(threadsSince(before), [], 'no thread the runtime started runs');
  try {
    await bus.post('y', 1);
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error), String(error));
  }
});

lifecycle('options - threadsPerProcessor and callDeadlineMs are checked', () => {
  for (const options of [{ threadsPerProcessor: -1 }, { threadsPerProcessor: 1.5 }, { callDeadlineMs: 0 }]) {
    try {
      createRuntime(options);
      assert.unreachable(JSON.stringify(options));
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  }
});

lifecycle.run();
