/**
 * Services spawned in the worker threads of a child processor (1 processor
 * × 2 threads): one runs on its thread's bus and reports its statuses there,
 * one fails to start, one fails when its handler throws, one when its timer
 * throws. What a service reports is read from its thread's internal bus
 * through a `RemoteBus`;
 * `publish()` tells when the thread's handlers have run, so nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServiceFailedError, type BusEvent } from '../../../index.js';
import { processorRuntime } from '../../helpers.js';

const ECHO = new URL('../fixtures/echo.service.ts', import.meta.url);
const FAILING = new URL('../fixtures/failing.service.ts', import.meta.url);
const FRAGILE = new URL('../fixtures/fragile.service.ts', import.meta.url);
const TICKER = new URL('../fixtures/ticker.service.ts', import.meta.url);

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

test('timer throws - a timer of the service in the worker fails it (phase timer); its subscription and timers are gone', async () => {
  await setup.runtime.spawn(TICKER, { processor: 1, thread: 2 });
  const reported = worker(2, 'internal').waitFor('busline.service.failed', { timeout: 60_000 });
  // No ManualClock here: the worker's timer goes by the system clock, due at once, awaited by its report.
  assert.equal(await handlersOf(2, 'arm', { ms: 0 }), [1, 0]);
  assert.equal((await reported).payload, { name: 'ticker', phase: 'timer', message: 'the armed timer went off', processor: 1, thread: 2 });
  assert.equal(await statuses(2), ['ticker:starting', 'ticker:running', 'ticker:failed']);
  assert.equal(await handlersOf(2, 'arm', { ms: 0 }), [0, 0], 'its subscription went with it');
  assert.equal((await setup.runtime.actors()).filter((actor) => actor.kind === 'user' && actor.state === 'running'), []);
});

test.run();
