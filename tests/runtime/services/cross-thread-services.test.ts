/**
 * Services spawned in the worker threads of a child processor (1 processor
 * × 2 threads): one runs on its thread's bus and reports its statuses there,
 * one fails to start, one fails when its handler throws. What a service
 * reports is read from its thread's internal bus through a `RemoteBus`;
 * `publish()` tells when the thread's handlers have run, so nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServiceFailedError, type BusEvent } from '../../../index.js';
import { processorRuntime } from '../../helpers.js';

const ECHO = new URL('../fixtures/echo.service.ts', import.meta.url);
const FAILING = new URL('../fixtures/failing.service.ts', import.meta.url);
const FRAGILE = new URL('../fixtures/fragile.service.ts', import.meta.url);
const OWNER = new URL('../fixtures/owner.service.ts', import.meta.url);
const FAILING_OWNER = new URL('../fixtures/failing-owner.service.ts', import.meta.url);
const BROKEN_STOP = new URL('../fixtures/broken-stop.service.ts', import.meta.url);
const PROBE = new URL('../fixtures/probe.service.ts', import.meta.url);

const test = suite('services in a child processor\'s workers');

const setup = processorRuntime(test, undefined, { each: true });
const { worker } = setup;

/** The statuses a thread's services reported, in order, as `name:status`. */
async function statuses(thread: number): Promise<string[]> {
  const reports = await worker(thread, 'internal').history({ types: ['busline.service.status'] });
  return reports.map((event) => {
    const report = event.payload as { name: string; status: string };
    return `${report.name}:${report.status}`;
  });
}

/** How many handlers of thread `thread` an event of `type` reaches, and how many of them threw. */
async function handlersOf(thread: number, type: string, payload: unknown = {}): Promise<[number, number]> {
  const published = await worker(thread).publish(type, payload as never);
  assert.ok(published.dropped === undefined);
  return [published.outcomes.length, published.failed];
}

test('spawn - a service runs on its worker\'s bus, reports each status on that thread\'s internal bus; stop() ends it', async () => {
  const echo = await setup.runtime.spawn(ECHO, { processor: 1, thread: 1 });
  assert.equal([echo.processor, echo.thread], [1, 1]);
  assert.equal(await statuses(1), ['echo:starting', 'echo:running']);
  assert.equal(await handlersOf(1, 'ping', { seq: 1 }), [1, 0], 'its subscription, in the thread');
  const pongs = await worker(1).history({ types: ['pong'] });
  assert.equal(pongs.map((pong) => [pong.payload, pong.origin.processor, pong.origin.thread]), [[{ seq: 1 }, 1, 1]]);
  assert.equal(await statuses(2), [], 'thread 1.2 runs no service');
  await echo.stop();
  assert.equal(await statuses(1), ['echo:starting', 'echo:running', 'echo:stopping', 'echo:stopped']);
  assert.equal(await handlersOf(1, 'ping', { seq: 2 }), [0, 0], 'its subscription went with it');
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user'), []);
});

test('spawn - a start that fails: SERVICE_FAILED here, status failed and busline.service.failed in its thread, nothing left', async () => {
  const error = await setup.runtime.spawn(FAILING, { processor: 1, thread: 2 }).then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, ServiceFailedError);
  assert.equal([(error as ServiceFailedError).code, (error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['SERVICE_FAILED', 'Failing', 'start']);
  assert.match((error as Error).message, 'no database in this thread');
  assert.equal(await statuses(2), ['Failing:starting', 'Failing:failed']);
  const failed = await worker(2, 'internal').history({ types: ['busline.service.failed'] });
  assert.equal(failed.map((event) => event.payload), [{ name: 'Failing', phase: 'start', message: 'no database in this thread', processor: 1, thread: 2 }]);
  assert.equal(await handlersOf(2, 'ping'), [0, 0], 'the subscription it made before failing was released');
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user'), []);
  // The thread goes on: a good service starts there afterwards.
  const echo = await setup.runtime.spawn(ECHO, { processor: 1, thread: 2 });
  assert.equal(await handlersOf(2, 'ping', { seq: 3 }), [1, 0]);
  await echo.stop();
});

test('handler throws - the running service in the worker fails (phase handler) and lets go of its subscription', async () => {
  await setup.runtime.spawn(FRAGILE, { processor: 1, thread: 1 });
  assert.equal(await handlersOf(1, 'job', { n: 1 }), [1, 0]);
  assert.equal((await worker(1).history({ types: ['work.done'] })).map((event: BusEvent) => event.payload), [{ n: 1 }]);
  const reported = worker(1, 'internal').waitFor('busline.service.failed', { timeout: 60_000 });
  assert.equal(await handlersOf(1, 'job', { bad: true }), [1, 1], 'the publisher sees the handler\'s error');
  assert.equal((await reported).payload, { name: 'Fragile', phase: 'handler', message: 'bad job', processor: 1, thread: 1 });
  assert.equal(await statuses(1), ['Fragile:starting', 'Fragile:running', 'Fragile:failed']);
  assert.equal(await handlersOf(1, 'job', { n: 2 }), [0, 0], 'a failed service handles nothing more');
});

/** The payloads of thread `thread`'s events of `type`. */
async function payloads(thread: number, type: string): Promise<unknown[]> {
  return (await worker(thread).history({ types: [type] })).map((event) => event.payload);
}

/**
 * Asserts that no timer of the service in thread `thread` fires any more: a
 * probe handler there settles on a thread timer due later than any of them
 * would be (`probe.service.ts`), and no tick or late post came before it.
 */
async function assertTimersCleared(thread: number): Promise<void> {
  const ticks = (await payloads(thread, 'owner.tick')).length;
  const probe = await setup.runtime.spawn(PROBE, { processor: 1, thread });
  assert.equal(await handlersOf(thread, 'probe', { ms: 50 }), [1, 0]);
  await probe.stop();
  assert.is((await payloads(thread, 'owner.tick')).length, ticks, 'no tick after the stop');
  assert.equal(await payloads(thread, 'owner.late'), [], 'the timer armed in onStop() never fired');
}

/** How the owned request and wait ended, in a stable order. */
const endings = async (ending: Promise<Array<{ payload: unknown }>>) =>
  (await ending).map((event) => event.payload as { what: string; code: string }).sort((a, b) => a.what.localeCompare(b.what));
const ABORTED = [{ what: 'request', code: 'ABORTED' }, { what: 'wait', code: 'ABORTED' }];

test('stop - the service in the worker ends what it owns there: its timers, its pending request and wait (ABORTED); the root sees each status', async () => {
  const owner = await setup.runtime.spawn(OWNER, { processor: 1, thread: 1 });
  await worker(1).waitFor('owner.tick', { timeout: 60_000 }); // its timer runs
  assert.equal(await payloads(1, 'owner.question'), [{ from: 'Owner' }], 'its request was posted and waits for a reply');
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user').map((actor) => [actor.id, actor.state, actor.status]), [[owner.id, 'running', 'active']]);
  const ending = worker(1).waitForEvents(['owner.ended', 'owner.ended'], { timeout: 60_000 });
  await owner.stop();
  assert.equal(await endings(ending), ABORTED, 'both rejected when it stopped, not at their 10-minute timeout');
  assert.equal(await statuses(1), ['Owner:starting', 'Owner:running', 'Owner:stopping', 'Owner:stopped']);
  await assertTimersCleared(1);
  assert.equal(await payloads(1, 'busline.service.failed'), []);
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user'), []);
});

test('start fails - what the start had acquired in the worker is released: timers, request, wait; SERVICE_FAILED here, failed there', async () => {
  const ending = worker(2).waitForEvents(['owner.ended', 'owner.ended'], { timeout: 60_000 });
  const error = await setup.runtime.spawn(FAILING_OWNER, { processor: 1, thread: 2 }).then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, ServiceFailedError);
  assert.equal([(error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['FailingOwner', 'start']);
  assert.equal(await endings(ending), ABORTED);
  assert.equal(await statuses(2), ['FailingOwner:starting', 'FailingOwner:failed']);
  assert.equal((await worker(2, 'internal').history({ types: ['busline.service.failed'] })).map((event) => (event.payload as { phase: string; message: string })), [
    { name: 'FailingOwner', phase: 'start', message: 'no config in this thread', processor: 1, thread: 2 },
  ]);
  await assertTimersCleared(2);
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user'), []);
});

test('stop fails - onStop() throws in the worker: stop() rejects with SERVICE_FAILED (phase stop) here, and everything is released anyway', async () => {
  const broken = await setup.runtime.spawn(BROKEN_STOP, { processor: 1, thread: 1 });
  await worker(1).waitFor('owner.tick', { timeout: 60_000 });
  const ending = worker(1).waitForEvents(['owner.ended', 'owner.ended'], { timeout: 60_000 });
  const error = await broken.stop().then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, ServiceFailedError);
  assert.equal([(error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['BrokenStop', 'stop']);
  assert.match((error as Error).message, 'could not flush');
  assert.equal(await endings(ending), ABORTED);
  assert.equal(await statuses(1), ['BrokenStop:starting', 'BrokenStop:running', 'BrokenStop:stopping', 'BrokenStop:failed']);
  await assertTimersCleared(1);
});

test.run();
