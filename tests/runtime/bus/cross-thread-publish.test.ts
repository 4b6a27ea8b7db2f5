/**
 * `publish()` awaited across threads, 1 processor × 2 threads: on the
 * `RemoteBus` of a worker in the child processor it resolves once every
 * handler **of that thread** has finished — a service's handler in the
 * thread, and `RemoteBus.subscribe()` handlers here — with their outcomes
 * (a handler here that throws is a rejected outcome there, its error of its
 * own class; one that returns a value has it copied back);
 * it does not wait for the other thread of the processor, nor for the root:
 * a sync carries the event there. Handlers are held by gates, so nothing
 * sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidEventError, TimeoutError, type BusEvent, type RemoteBus } from '../../../index.js';
import { gate, processorRuntime, promiseState, rejects } from '../../helpers.js';

const ECHO = new URL('../fixtures/echo.service.ts', import.meta.url);

const test = suite('publish across 1 processor x 2 threads');

const reported: Array<{ error: unknown; event: BusEvent }> = [];
const setup = processorRuntime(test, () => ({ onError: (error, event) => void reported.push({ error, event }) }));
const { worker } = setup;

test('publish - waits for the thread\'s own handlers (a service there) and for its subscribers here, with each outcome', async () => {
  const service = await setup.runtime.spawn(ECHO, { processor: 1, thread: 1 });
  const one = worker(1);
  const release = gate();
  const handled: string[] = [];
  const slow = one.subscribe('ping', async (event) => {
    await release.promise;
    handled.push(event.id);
  });
  const failing = one.subscribe('ping', () => {
    throw new RangeError('handler here failed');
  });
  const answering = one.subscribe('ping', async () => ({ answer: 42 }));
  const busFailing = one.subscribe('ping', () => {
    throw new TimeoutError('ping', 5);
  });
  try {
    const publishing = one.publish('ping', { seq: 1 });
    await one.state();
    assert.is(await promiseState(publishing), 'pending', 'a handler here is still running');
    release.open();
    const published = await publishing;
    assert.ok(published.dropped === undefined);
    const { event, outcomes, failed } = published;
    assert.equal(handled, [event.id]);
    assert.is(outcomes.length, 5, 'the service\'s handler in the thread and the four handlers here');
    assert.equal(outcomes[0], { status: 'fulfilled', value: undefined }, 'the service\'s, subscribed first');
    assert.equal(outcomes[1], { status: 'fulfilled', value: undefined }, 'the slow one, once released');
    assert.is(failed, 2, 'both handlers here that threw count');
    const thrown = outcomes[2] as PromiseRejectedResult;
    assert.is(thrown.status, 'rejected');
    assert.ok(thrown.reason instanceof Error);
    assert.is(thrown.reason.name, 'RangeError');
    assert.is(thrown.reason.message, 'handler here failed');
    assert.match(String(thrown.reason.stack), /handler here failed/, 'with the stack it was thrown with');
    assert.equal(outcomes[3], { status: 'fulfilled', value: { answer: 42 } }, 'a value crosses back when publish() awaits it');
    const busError = (outcomes[4] as PromiseRejectedResult).reason;
    assert.ok(busError instanceof TimeoutError, 'a BusError keeps its class');
    assert.is(busError.code, 'TIMEOUT');
    assert.is(busError.timeout, 5, 'and its fields');
    assert.not.ok(busError instanceof InvalidEventError);
    assert.match(event.id, /^1\.1\./, 'posted in thread 1 of processor 1');
    // The service's answer was posted in the thread before publish() resolved.
    const pongs = await one.history({ types: ['pong'] });
    assert.equal(pongs.map((pong) => pong.payload), [{ seq: 1 }]);
    // A handler here that throws is reported to the runtime's onError too.
    assert.ok(reported.some((report) => report.event.id === event.id && /handler here failed/.test(String(report.error))));
  } finally {
    slow.unsubscribe();
    failing.unsubscribe();
    answering.unsubscribe();
    busFailing.unsubscribe();
    await service.stop();
  }
});

test('publish - does not wait for the processor\'s other thread, nor the root: they get the event when a sync carries it', async () => {
  const one = worker(1);
  const two = worker(2);
  const seenInTwo: BusEvent[] = [];
  const reachedTwo = gate();
  const inTwo = two.subscribe('job.run', (event) => {
    seenInTwo.push(event);
    reachedTwo.open();
  });
  const inRoot: BusEvent[] = [];
  const rootSubscription = setup.runtime.bus('external').subscribe('job.run', (event) => void inRoot.push(event));
  try {
    await two.state(); // thread 2 listens
    const published = await one.publish('job.run', { n: 1 });
    assert.ok(published.dropped === undefined);
    const { event, outcomes } = published;
    assert.equal(outcomes, [], 'thread 1 has no handler of job.run');
    assert.equal([seenInTwo, inRoot], [[], []], 'published: thread 2 and the root have not seen it');
    await one.toStation();
    await two.fromStation();
    await reachedTwo.promise;
    assert.equal(seenInTwo.map((seen) => seen.id), [event.id]);
    assert.equal(inRoot, [], 'processor 1\'s station has not pushed it to the main station');
    await setup.runtime.processor(1).station('external').toMain();
    await setup.runtime.station('external').fromMain(); // processor 0's local station, from which the root's bus reads
    await setup.runtime.bus('external').fromStation();
    assert.equal(inRoot.map((seen) => seen.id), [event.id], 'the root reads it from the main station');
    // The other way round: the root's publish waits for the root's handlers only.
    const fromRoot = await setup.runtime.bus('external').publish('job.run', { n: 2 }, { priority: 'immediate' });
    assert.ok(fromRoot.dropped === undefined);
    assert.equal(fromRoot.outcomes.length, 1, 'the root\'s handler');
    assert.is(seenInTwo.length, 1, 'not thread 2\'s');
  } finally {
    inTwo.unsubscribe();
    rootSubscription.unsubscribe();
  }
});

/** Subscribes to `order` on `bus` (a Bus or a RemoteBus) with three filters: one passes `keep` events, one none, one throws. */
function filteredHandlers(bus: Pick<RemoteBus, 'subscribe'>): Array<{ unsubscribe(): void }> {
  return [
    bus.subscribe('order', (event) => `kept ${(event.payload as { n: number }).n}`, { filter: (event) => (event.payload as { keep: boolean }).keep }),
    bus.subscribe('order', () => 'never called', { filter: () => false }),
    bus.subscribe('order', () => 'never called', {
      filter: () => {
        throw new RangeError('filter broke');
      },
    }),
  ];
}

/** `outcomes` as plain data to compare: a value, or an error's name and message. */
const plain = (outcomes: ReadonlyArray<PromiseSettledResult<unknown>>) =>
  outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome : { status: outcome.status, reason: `${(outcome.reason as Error).name}: ${(outcome.reason as Error).message}` }));

test('publish - a filter that turns the event away leaves no outcome, one that throws a rejected one: the same on a RemoteBus as on a Bus', async () => {
  const root = setup.runtime.bus('external');
  const one = worker(1);
  const subscriptions = [...filteredHandlers(root), ...filteredHandlers(one)];
  try {
    const outcomesOf = async (publishing: Promise<Awaited<ReturnType<RemoteBus['publish']>>>) => {
      const published = await publishing;
      assert.ok(published.dropped === undefined);
      return { outcomes: plain(published.outcomes), failed: published.failed };
    };
    const turnedAway = { outcomes: [{ status: 'rejected', reason: 'RangeError: filter broke' }], failed: 1 };
    assert.equal(await outcomesOf(root.publish('order', { n: 1, keep: false }, { priority: 'immediate' })), turnedAway, 'one thread: only the throwing filter counts');
    assert.equal(await outcomesOf(one.publish('order', { n: 1, keep: false })), turnedAway, 'across threads: the same, no outcome for the handlers never called');
    const kept = { outcomes: [{ status: 'fulfilled', value: 'kept 2' }, turnedAway.outcomes[0]], failed: 1 };
    assert.equal(await outcomesOf(root.publish('order', { n: 2, keep: true }, { priority: 'immediate' })), kept);
    assert.equal(await outcomesOf(one.publish('order', { n: 2, keep: true })), kept);
    // A filter that throws is reported to onError, in one thread as across.
    assert.equal(reported.filter((report) => report.event.type === 'order').length, 4);
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
  }
});

test('publish - a refused post rejects here or in the thread, and nothing is posted', async () => {
  const one = worker(1);
  const before = (await one.history()).length;
  await rejects(one.publish('', 1), 'INVALID_EVENT', 'an empty type');
  await rejects(one.publish('x', undefined as never), 'INVALID_EVENT', 'undefined is no payload');
  await rejects(one.publish('x', { at: new Date() } as never), 'INVALID_EVENT', 'a Date is no plain data');
  await rejects(one.publish('x', 1, { priority: 'urgent' } as never), 'INVALID_OPTION');
  assert.is((await one.history()).length, before);
});

test('publish - one pending on a handler that never settles rejects with RUNTIME_STOPPED when the runtime stops', async () => {
  const one = worker(1);
  one.subscribe('hold', () => new Promise(() => undefined));
  const publishing = one.publish('hold', 1);
  publishing.catch(() => undefined);
  await one.state();
  assert.is(await promiseState(publishing), 'pending');
  await setup.runtime.stop();
  await rejects(publishing, 'RUNTIME_STOPPED');
});

test.run();
