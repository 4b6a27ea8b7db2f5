/**
 * `waitFor()` and `waitForEvents()` on the `RemoteBus` of a worker thread in
 * a child processor (1 processor × 2 threads): resolved by the thread's
 * events, timed out on this runtime's clock (a `ManualClock`), aborted, and
 * leaving no listener in the thread on any path. A wait's listener is a
 * handler of the thread, so `publish()` counts it; `publish()` also tells
 * when a handler here has seen an event, so nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBusError, ManualClock, TimeoutError, UnexpectedEventError, type RemoteBus } from '../../../index.js';
import { processorRuntime, promiseState, rejects } from '../../helpers.js';

const test = suite('waitFor on a RemoteBus, 1 processor x 2 threads');

const clock = new ManualClock(1_000);
const setup = processorRuntime(test, () => ({ clock }));
const { worker } = setup;

/** How many handlers thread `bus` delivers an event of `type` (payload null) to: a wait still listening is one. */
async function listeners(bus: RemoteBus, type: string): Promise<number> {
  const published = await bus.publish(type, null);
  return published.dropped === undefined ? published.outcomes.length : -1;
}

test('waitFor - resolves with the next event of the thread that passes the filter; another thread\'s comes through the station', async () => {
  const one = worker(1);
  const waiting = one.waitFor('order.*', { filter: (event) => (event.payload as { id: number }).id === 2, timeout: 60_000 });
  await one.post('order.created', { id: 1 });
  const second = await one.post('order.created', { id: 2 });
  assert.equal(await waiting, second);
  // Thread 2's event reaches thread 1 only when thread 1 reads it from processor 1's station.
  const fromTwo = one.waitFor('order.paid', { timeout: 60_000 });
  const paid = await worker(2).post('order.paid', { id: 2 });
  await worker(2).toStation();
  assert.is(await promiseState(fromTwo), 'pending', 'not before thread 1 reads it');
  await one.fromStation();
  const got = await fromTwo;
  assert.equal([got.id, got.origin.thread, got.origin.processor], [paid.id, 2, 1]);
  assert.is(await listeners(one, 'order.created'), 0, 'resolved waits listen no more');
});

test('waitFor - rejects with TIMEOUT on this runtime\'s clock, not before; leaves no listener in the thread', async () => {
  const one = worker(1);
  const late = one.waitFor('never.comes', { timeout: 50 });
  late.catch(() => undefined);
  await one.state(); // the thread listens
  clock.advance(49);
  assert.is(await promiseState(late), 'pending');
  clock.advance(1);
  const error = await late.catch((failure: unknown) => failure);
  assert.instance(error, TimeoutError);
  assert.ok(isBusError(error, 'TIMEOUT'), String(error));
  assert.is(await listeners(one, 'never.comes'), 0);
  assert.is(clock.pendingTimers, 0, 'no timer left here');
});

test('waitFor - a signal gives it up with ABORTED; an aborted signal never listens; a throwing filter rejects; bad options refused here', async () => {
  const one = worker(1);
  const controller = new AbortController();
  // The filter lets the counting publish (of null) by without settling the wait.
  const waiting = one.waitFor('job.done', { signal: controller.signal, timeout: 10_000, filter: (event) => event.payload !== null });
  await one.state();
  assert.is(await listeners(one, 'job.done'), 1, 'the wait listens in the thread');
  controller.abort(new Error('test over'));
  await rejects(waiting, 'ABORTED');
  assert.is(await listeners(one, 'job.done'), 0, 'the abort removed it there');
  assert.is(clock.pendingTimers, 0, 'and its timer here');
  await rejects(one.waitFor('job.done', { signal: AbortSignal.abort() }), 'ABORTED');
  assert.is(await listeners(one, 'job.done'), 0);
  const boom = new Error('filter broke');
  const filtered = one.waitFor('job.failed', {
    filter: () => {
      throw boom;
    },
  });
  filtered.catch(() => undefined);
  await one.post('job.failed', 1);
  assert.is(await filtered.catch((error: unknown) => error), boom);
  assert.is(await listeners(one, 'job.failed'), 0);
  await rejects(one.waitFor('job.>.x'), 'INVALID_EVENT');
  await rejects(one.waitFor('job', { timeout: -1 }), 'INVALID_OPTION');
  await rejects(one.waitFor('job', { colour: 'red' } as never), 'INVALID_OPTION');
});

test('waitForEvents - in order across the thread: resolves in order; an early event rejects with UNEXPECTED_EVENT', async () => {
  const two = worker(2);
  const ordered = two.waitForEvents(['step.one', 'step.two'], { inOrder: true, timeout: 60_000 });
  const one = await two.post('step.one', 1);
  await two.post('other', 0);
  const second = await two.post('step.two', 2);
  assert.equal(await ordered, [one, second]);
  const early = two.waitForEvents(['step.one', 'step.two'], { inOrder: true });
  early.catch(() => undefined);
  await two.post('step.two', 2);
  const error = await early.catch((failure: unknown) => failure);
  assert.instance(error, UnexpectedEventError);
  assert.is((error as UnexpectedEventError).eventType, 'step.two');
  assert.is(await listeners(two, 'step.one'), 0);
});

test('waitForEvents - grace: listens after the last event and refuses an extra; the timeout names what is missing', async () => {
  const two = worker(2);
  const quiet = two.waitForEvents(['a', 'b'], { grace: 100, timeout: 1_000 });
  // publish() resolves once the wait here has seen the event: then the grace timer runs.
  const a = (await two.publish('a', 1)).event!;
  const b = (await two.publish('b', 2)).event!;
  assert.is(await promiseState(quiet), 'pending', 'still in its grace period');
  clock.advance(100);
  assert.equal(await quiet, [a, b]);
  const noisy = two.waitForEvents(['a'], { grace: 100 });
  noisy.catch(() => undefined);
  await two.publish('a', 1);
  clock.advance(50);
  await two.publish('a', 2);
  await rejects(noisy, 'UNEXPECTED_EVENT');
  const missing = two.waitForEvents(['a', 'b.*'], { timeout: 10 });
  missing.catch(() => undefined);
  await two.publish('a', 1);
  clock.advance(10);
  const error = await missing.catch((failure: unknown) => failure);
  assert.ok(isBusError(error, 'TIMEOUT'), String(error));
  assert.match(String(error), /still waiting for b\.\*\.$/);
  assert.equal([await listeners(two, 'a'), await listeners(two, 'b.x'), clock.pendingTimers], [0, 0, 0]);
  await rejects(two.waitForEvents([]), 'INVALID_EVENT');
  await rejects(two.waitForEvents(['a'], { grace: -5 }), 'INVALID_OPTION');
});

test('waitFor and waitForEvents - pending ones reject with RUNTIME_STOPPED when the runtime stops', async () => {
  const one = worker(1);
  const single = one.waitFor('never', { timeout: 60_000 });
  const many = worker(2).waitForEvents(['x', 'y'], { timeout: 60_000 });
  await one.state();
  await setup.runtime.stop();
  await rejects(single, 'RUNTIME_STOPPED');
  await rejects(many, 'RUNTIME_STOPPED');
  assert.is(clock.pendingTimers, 0);
});

test.run();
