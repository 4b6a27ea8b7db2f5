/**
 * `await bus.publish()`: resolves once this thread's handlers of the event
 * have finished, with their outcomes, at every priority; never waits for
 * other threads.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type Runtime } from '../../../index.js';
import { gate, rejects } from '../../helpers.js';

const test = suite('publish');

let runtime: Runtime;
let reported: unknown[];

test.before.each(() => {
  reported = [];
  runtime = createRuntime({ deferred: 'manual', onError: (error) => void reported.push(error) });
});

test.after.each(async () => {
  await runtime.stop();
});

test('publish - resolves when every handler of this thread has finished, with their outcomes in subscription order', async () => {
  const bus = runtime.bus('external');
  const slow = gate<string>();
  const failure = new Error('handler failed');
  const order: string[] = [];
  bus.subscribe('user', () => 'sync value');
  bus.subscribe('user.login', async () => {
    const value = await slow.promise;
    order.push('slow done');
    return value;
  });
  bus.subscribe('user', async () => {
    throw failure;
  });
  bus.subscribe('order', () => 'not called');
  let settled = false;
  const publishing = bus.publish('user.login', { id: 7 }).then((result) => {
    settled = true;
    return result;
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.is(settled, false, 'the slow handler has not finished');
  slow.open('async value');
  const { event, outcomes, failed } = await publishing;
  assert.equal(order, ['slow done']);
  assert.is(event?.type, 'user.login');
  assert.equal(outcomes, [
    { status: 'fulfilled', value: 'sync value' },
    { status: 'fulfilled', value: 'async value' },
    { status: 'rejected', reason: failure },
  ]);
  assert.is(failed, 1);
  assert.equal(reported, [failure], 'and the error still went to onError');
});

test('publish - at every priority: immediate at once, normal in the next microtask, deferred only when drained', async () => {
  const bus = runtime.bus('external');
  const seen: string[] = [];
  bus.subscribe('p', (event: BusEvent) => void seen.push(event.priority));
  const immediate = await bus.publish('p', 1, { priority: 'immediate' });
  assert.is(immediate.outcomes.length, 1);
  const normal = await bus.publish('p', 2);
  assert.is(normal.outcomes.length, 1);
  let drained = false;
  const deferred = bus.publish('p', 3, { priority: 'deferred' }).then((result) => {
    assert.ok(drained, 'not before drain()');
    return result;
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(seen, ['immediate', 'normal']);
  drained = true;
  bus.drain();
  assert.is((await deferred).outcomes.length, 1);
  assert.equal(seen, ['immediate', 'normal', 'deferred']);
});

test('publish - no handler, filtered-out handlers and throwing filters', async () => {
  const bus = runtime.bus('external');
  assert.equal((await bus.publish('nobody.listens', null)).outcomes, []);
  const broken = new Error('filter broke');
  bus.subscribe('f', () => 'passed', { filter: (event) => event.payload === 1 });
  bus.subscribe('f', () => 'never', {
    filter: () => {
      throw broken;
    },
  });
  const { outcomes, failed } = await bus.publish('f', 2, { priority: 'immediate' });
  assert.equal(outcomes, [{ status: 'rejected', reason: broken }], 'the filtered-out handler is not an outcome; the failing filter is');
  assert.is(failed, 1);
});

test('publish - a refused post rejects and leaves no watch behind for the next one', async () => {
  const bus = runtime.bus('external');
  const calls: number[] = [];
  bus.subscribe('ok', (event) => void calls.push(event.payload as number));
  await rejects(bus.publish('bad type!', 1, { priority: 'immediate' }), 'INVALID_EVENT');
  await rejects(bus.publish('ok', (() => 1) as never, { priority: 'immediate' }), 'INVALID_EVENT');
  // A plain post in between: its delivery is not mistaken for a publish's.
  bus.post('ok', 1, { priority: 'immediate' });
  const { outcomes } = await bus.publish('ok', 2, { priority: 'immediate' });
  assert.is(outcomes.length, 1);
  assert.equal(calls, [1, 2]);
});

test('publish - rejects with RUNTIME_STOPPED when the runtime stops before a deferred event is delivered or a handler settles', async () => {
  const bus = runtime.bus('external');
  bus.subscribe('job', () => new Promise(() => undefined));
  const unsettled = bus.publish('job', 1);
  const undelivered = bus.publish('job', 2, { priority: 'deferred' });
  await runtime.stop();
  await rejects(unsettled, 'RUNTIME_STOPPED', 'a handler that never settles');
  await rejects(undelivered, 'RUNTIME_STOPPED', 'a deferred event never drained');
});

test('publish - does not wait for other threads: they get the event when a sync carries it', async () => {
  const bus = runtime.bus('external');
  const other = runtime.addThread().bus('external');
  const there: unknown[] = [];
  other.subscribe('cross', (event) => void there.push(event.payload));
  const { outcomes } = await bus.publish('cross', 'hello');
  assert.equal([outcomes, there], [[], []]);
  await bus.toStation();
  await other.fromStation();
  assert.equal(there, ['hello']);
});

test.run();
