/**
 * What a service spawned in a worker thread of a child processor (1
 * processor × 2 threads) owns there ends with it — on `stop()`, on a start
 * that fails, on an `onStop()` that throws: its timers (`every`, and an
 * `after` armed in `onStop()`), its pending request and wait (they reject
 * with `ABORTED`, long before their timeouts). Statuses and failures are read
 * from the root through the thread's internal `RemoteBus`. That no timer
 * fires any more is shown by the thread's own timer order, not by sleeping
 * (`probe.service.ts`). One runtime for the suite: each test reads only the
 * events of its own service.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServiceFailedError } from '../../../index.js';
import { processorRuntime } from '../../helpers.js';

const OWNER = new URL('../fixtures/owner.service.ts', import.meta.url);
const FAILING_OWNER = new URL('../fixtures/failing-owner.service.ts', import.meta.url);
const BROKEN_STOP = new URL('../fixtures/broken-stop.service.ts', import.meta.url);
const PROBE = new URL('../fixtures/probe.service.ts', import.meta.url);

const test = suite('what a service owns in a child processor\'s worker');

const setup = processorRuntime(test);
const { worker } = setup;

/** The statuses service `name` reported in thread `thread`, in order. */
async function statuses(thread: number, name: string): Promise<string[]> {
  const reports = await worker(thread, 'internal').history({ types: ['busline.service.status'] });
  return reports.map((event) => event.payload as { name: string; status: string }).filter((report) => report.name === name).map((report) => report.status);
}

/** How many handlers of thread `thread` an event of `type` reaches, and how many of them threw. */
async function handlersOf(thread: number, type: string, payload: unknown = {}): Promise<[number, number]> {
  const published = await worker(thread).publish(type, payload as never);
  assert.ok(published.dropped === undefined);
  return [published.outcomes.length, published.failed];
}

/** The user actors and services running now, as [id, state, status]. */
const running = async () => (await setup.runtime.actors()).filter((actor) => actor.kind === 'user').map((actor) => [actor.id, actor.state, actor.status]);

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
  assert.equal(await running(), [[owner.id, 'running', 'active']]);
  const ending = worker(1).waitForEvents(['owner.ended', 'owner.ended'], { timeout: 60_000 });
  await owner.stop();
  assert.equal(await endings(ending), ABORTED, 'both rejected when it stopped, not at their 10-minute timeout');
  assert.equal(await statuses(1, 'Owner'), ['starting', 'running', 'stopping', 'stopped']);
  await assertTimersCleared(1);
  assert.equal(await worker(1, 'internal').history({ types: ['busline.service.failed'] }), [], 'nothing failed');
  assert.equal(await running(), []);
});

test('start fails - what the start had acquired in the worker is released: timers, request, wait; SERVICE_FAILED here, failed there', async () => {
  const ending = worker(2).waitForEvents(['owner.ended', 'owner.ended'], { timeout: 60_000 });
  const error = await setup.runtime.spawn(FAILING_OWNER, { processor: 1, thread: 2 }).then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, ServiceFailedError);
  assert.equal([(error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['FailingOwner', 'start']);
  assert.equal(await endings(ending), ABORTED);
  assert.equal(await statuses(2, 'FailingOwner'), ['starting', 'failed']);
  assert.equal((await worker(2, 'internal').history({ types: ['busline.service.failed'] })).map((event) => (event.payload as { phase: string; message: string })), [
    { name: 'FailingOwner', phase: 'start', message: 'no config in this thread', processor: 1, thread: 2 },
  ]);
  await assertTimersCleared(2);
  assert.equal(await running(), []);
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
  assert.equal(await statuses(1, 'BrokenStop'), ['starting', 'running', 'stopping', 'failed']);
  assert.equal(await running(), [], 'nothing left running');
  await assertTimersCleared(1);
});

test.run();
