/**
 * `bus.waitFor()` and `bus.waitForEvents()` (seed 003's EventSynchronizer):
 * what resolves them, timeouts on the runtime's clock (a ManualClock here, so
 * nothing sleeps), grace periods, aborts, and the cleanup after every path.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, ManualClock, TimeoutError, UnexpectedEventError, type Runtime } from '../../../index.js';
import { runtimeCore } from '../../../internal.js';
import { promiseState as state, rejects } from '../../helpers.js';

const test = suite('waitFor');

let clock: ManualClock;
let runtime: Runtime;

test.before.each(() => {
  clock = new ManualClock(1_000);
  runtime = createRuntime({ clock, deferred: 'manual' });
});

test.after.each(async () => {
  await runtime.stop();
});

/** The subscriptions of the root thread's external bus: a wait must leave none behind. */
const subscriptions = () => runtimeCore(runtime).thread(0, 0).subscriptions('external').size;

test('waitFor - resolves with the next matching event that passes the filter; earlier events do not count', async () => {
  const bus = runtime.bus('external');
  bus.post('user.login', { id: 1 }, { priority: 'immediate' });
  const waiting = bus.waitFor('user', { filter: (event) => (event.payload as { id: number }).id === 7 });
  assert.is(subscriptions(), 1);
  bus.post('user.login', { id: 2 }, { priority: 'immediate' });
  bus.post('order.created', { id: 7 }, { priority: 'immediate' });
  assert.is(await state(waiting), 'pending');
  const seven = bus.post('user.logout', { id: 7 });
  const event = await waiting;
  assert.is(event, seven);
  assert.is(subscriptions(), 0, 'its subscription is gone');
});

test('waitFor - sees events read from the station, on the bus that succeeds this one', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.waitFor('job.*');
  const other = runtime.addThread().bus('external');
  const posted = other.post('job.done', { n: 1 });
  await other.toStation();
  const next = await bus.toStation();
  await next.fromStation();
  assert.equal(await waiting, posted);
});

test('waitFor - rejects with TIMEOUT after the timeout on the runtime\'s clock, and cleans up', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.waitFor('never.comes', { timeout: 500 });
  clock.advance(499);
  assert.is(await state(waiting), 'pending');
  clock.advance(1);
  try {
    await waiting;
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'TIMEOUT'), String(error));
    assert.match(String(error), /after 500 ms still waiting for never\.comes/);
    assert.is(error instanceof TimeoutError && error.timeout, 500);
  }
  assert.is(subscriptions(), 0);
  assert.is(clock.pendingTimers, 0);
  // A wait that resolves cancels its timer.
  const answered = bus.waitFor('soon', { timeout: 500 });
  bus.post('soon', 1, { priority: 'immediate' });
  await answered;
  assert.is(clock.pendingTimers, 0);
});

test('waitFor - a signal gives it up with ABORTED; an aborted one never listens; a throwing filter rejects', async () => {
  const bus = runtime.bus('external');
  const controller = new AbortController();
  const waiting = bus.waitFor('x', { signal: controller.signal, timeout: 1_000 });
  controller.abort(new Error('test over'));
  await rejects(waiting, 'ABORTED');
  assert.equal([subscriptions(), clock.pendingTimers], [0, 0]);
  await rejects(bus.waitFor('x', { signal: AbortSignal.abort() }), 'ABORTED');
  assert.is(subscriptions(), 0);
  const boom = new Error('filter broke');
  const filtered = bus.waitFor('x', {
    filter: () => {
      throw boom;
    },
  });
  bus.post('x', 1, { priority: 'immediate' });
  try {
    await filtered;
    assert.unreachable();
  } catch (error) {
    assert.is(error, boom);
  }
  assert.is(subscriptions(), 0);
});

test('waitFor - bad arguments are refused before anything listens', async () => {
  const bus = runtime.bus('external');
  await rejects(bus.waitFor('', {}), 'INVALID_EVENT');
  await rejects(bus.waitFor('a.>.b'), 'INVALID_EVENT');
  await rejects(bus.waitFor('x', { timeout: -1 }), 'INVALID_OPTION');
  await rejects(bus.waitFor('x', { timeout: Infinity }), 'INVALID_OPTION');
  await rejects(bus.waitFor('x', { filter: 'yes' as never }), 'INVALID_OPTION');
  await rejects(bus.waitFor('x', { signal: {} as never }), 'INVALID_OPTION');
  await rejects(bus.waitFor('x', { colour: 'red' } as never), 'INVALID_OPTION');
  assert.is(subscriptions(), 0);
  const next = await bus.toStation();
  await rejects(bus.waitFor('x'), 'BUS_RETIRED');
  void next;
});

test('waitForEvents - any order: one event per entry, returned in the list\'s order; an entry twice needs two', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.waitForEvents(['b', 'a', 'a']);
  const a1 = bus.post('a', 1, { priority: 'immediate' });
  const b = bus.post('b', 2, { priority: 'immediate' });
  assert.is(await state(waiting), 'pending', 'one a is still due');
  const a2 = bus.post('a', 3, { priority: 'immediate' });
  assert.equal(await waiting, [b, a1, a2]);
  assert.is(subscriptions(), 0);
});

test('waitForEvents - inOrder: an event that comes too early rejects with UNEXPECTED_EVENT; unrelated and repeated ones are ignored', async () => {
  const bus = runtime.bus('external');
  const ordered = bus.waitForEvents(['step.one', 'step.two', 'step.three'], { inOrder: true });
  const one = bus.post('step.one', 1, { priority: 'immediate' });
  bus.post('step.one', 1, { priority: 'immediate' }); // again: fills nothing, wanted by no later entry
  bus.post('other', 0, { priority: 'immediate' });
  const two = bus.post('step.two', 2, { priority: 'immediate' });
  const three = bus.post('step.three', 3, { priority: 'immediate' });
  assert.equal(await ordered, [one, two, three]);
  const early = bus.waitForEvents(['step.one', 'step.two'], { inOrder: true });
  bus.post('step.two', 2, { priority: 'immediate' });
  try {
    await early;
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'UNEXPECTED_EVENT'), String(error));
    assert.match(String(error), /step\.two .* came before step\.one/);
    assert.is(error instanceof UnexpectedEventError && error.eventType, 'step.two');
  }
  assert.is(subscriptions(), 0);
});

test('waitForEvents - grace: keeps listening after the last event and refuses extras; resolves when it ends', async () => {
  const bus = runtime.bus('external');
  const quiet = bus.waitForEvents(['a', 'b'], { grace: 100, timeout: 1_000 });
  const a = bus.post('a', 1, { priority: 'immediate' });
  const b = bus.post('b', 2, { priority: 'immediate' });
  assert.is(await state(quiet), 'pending', 'still in its grace period');
  assert.is(clock.pendingTimers, 1, 'the timeout gave way to the grace timer');
  clock.advance(100);
  assert.equal(await quiet, [a, b]);
  assert.equal([subscriptions(), clock.pendingTimers], [0, 0]);
  const noisy = bus.waitForEvents(['a'], { grace: 100 });
  bus.post('a', 1, { priority: 'immediate' });
  clock.advance(50);
  bus.post('a', 2, { priority: 'immediate' });
  await rejects(noisy, 'UNEXPECTED_EVENT');
  assert.equal([subscriptions(), clock.pendingTimers], [0, 0]);
});

test('waitForEvents - the timeout names what is still missing; bad options are refused', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.waitForEvents(['a', 'b.*'], { timeout: 10 });
  bus.post('a', 1, { priority: 'immediate' });
  clock.advance(10);
  try {
    await waiting;
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'TIMEOUT'), String(error));
    assert.match(String(error), /still waiting for b\.\*\.$/);
  }
  await rejects(bus.waitForEvents([]), 'INVALID_EVENT');
  await rejects(bus.waitForEvents(['a'], { inOrder: 'yes' as never }), 'INVALID_OPTION');
  await rejects(bus.waitForEvents(['a'], { grace: -5 }), 'INVALID_OPTION');
  assert.equal([subscriptions(), clock.pendingTimers], [0, 0]);
});

test('waitFor and waitForEvents - reject with RUNTIME_STOPPED when the runtime stops, leaving nothing behind; later waits at once', async () => {
  const bus = runtime.bus('external');
  const one = bus.waitFor('user.login', { timeout: 5_000 });
  const many = bus.waitForEvents(['a', 'b'], { timeout: 5_000 });
  const added = runtime.addThread().bus('external').waitFor('job');
  assert.is(subscriptions(), 2);
  await runtime.stop();
  await rejects(one, 'RUNTIME_STOPPED');
  await rejects(many, 'RUNTIME_STOPPED');
  await rejects(added, 'RUNTIME_STOPPED', 'a wait on an added thread');
  assert.is(subscriptions(), 0, 'their subscriptions are gone');
  assert.is(clock.pendingTimers, 0, 'and their timers');
  await rejects(bus.waitFor('user.login'), 'RUNTIME_STOPPED');
});

test('ManualClock - timers run in order when the clock passes them, and may be cancelled', () => {
  const ran: string[] = [];
  const manual = new ManualClock(0);
  manual.setTimer(20, () => ran.push('20'));
  const cancel = manual.setTimer(10, () => ran.push('cancelled'));
  manual.setTimer(10, () => {
    ran.push('10');
    manual.setTimer(0, () => ran.push('set by 10, due at once'));
  });
  cancel();
  manual.advance(15);
  assert.equal(ran, ['10', 'set by 10, due at once']);
  manual.set(100);
  assert.equal(ran, ['10', 'set by 10, due at once', '20']);
  assert.is(manual.pendingTimers, 0);
});

test.run();
