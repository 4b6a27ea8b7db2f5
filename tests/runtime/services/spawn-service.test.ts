/**
 * Services in worker threads: a module that exports a service class
 * (`defineService`, or a `Service` subclass) is started by `runtime.spawn()`
 * on the bus of the thread it names, here on 1 processor × 2 worker threads.
 * Syncs are manual, so every step is awaited: nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, ServiceFailedError, type BusEvent, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';

const ECHO = new URL('../fixtures/echo.service.ts', import.meta.url);
const FAILING = new URL('../fixtures/failing.service.ts', import.meta.url);

const test = suite('spawn a service');

let runtime: Runtime;

test.before.each(async () => {
  runtime = createRuntime({ threadsPerProcessor: 2 });
  await runtime.ready;
});

test.after.each(async () => {
  await runtime.stop();
});

const worker = (thread: number) => runtime.thread(0, thread).bus('external') as RemoteBus;

/** Carries what the root posted to both workers, and what their handlers posted back to the root. */
async function exchange(): Promise<void> {
  await runtime.bus('external').sync();
  for (const thread of [1, 2]) {
    await worker(thread).sync(); // the workers get the root's events: their services answer
    await worker(thread).sync(); // the answers go to the station
  }
  await runtime.bus('external').sync();
}

const pongs = (seq: number) =>
  runtime
    .bus('external')
    .history({ types: ['pong'] })
    .filter((event: BusEvent) => (event.payload as { seq: number }).seq === seq)
    .map((event) => event.origin.thread)
    .sort();

test('spawn - a service module runs in each worker thread it is spawned in, on that thread\'s bus; stop() ends it there', async () => {
  const one = await runtime.spawn(ECHO, { thread: 1 });
  const two = await runtime.spawn(ECHO, { thread: 2, id: 'echo-two' });
  assert.equal([one.thread, two.thread, two.id], [1, 2, 'echo-two']);
  const listed = (await runtime.actors()).filter((actor) => actor.kind === 'user').sort((a, b) => (a.thread ?? 0) - (b.thread ?? 0));
  assert.equal(
    listed.map((actor) => [actor.id, actor.thread, actor.state, actor.status]),
    [
      [one.id, 1, 'running', 'active'],
      ['echo-two', 2, 'running', 'active'],
    ],
  );
  runtime.bus('external').post('ping', { seq: 1 }, { priority: 'immediate' });
  await exchange();
  assert.equal(pongs(1), [1, 2], 'each worker\'s service answered on its own bus');

  await one.stop();
  assert.equal((await runtime.actors()).filter((actor) => actor.kind === 'user').map((actor) => actor.id), ['echo-two']);
  const reports = await (runtime.thread(0, 1).bus('internal') as RemoteBus).history({ types: ['busline.service.status'] });
  assert.equal(reports.map((event) => (event.payload as { status: string }).status), ['starting', 'running', 'stopping', 'stopped']);
  runtime.bus('external').post('ping', { seq: 2 }, { priority: 'immediate' });
  await exchange();
  assert.equal(pongs(2), [2], 'the stopped service answers no more');
  try {
    await one.send({ type: 'anything' });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'UNSUPPORTED'), String(error));
  }
});

test('spawn - a service whose start fails is refused with SERVICE_FAILED, leaves nothing, and posts busline.service.failed in its thread', async () => {
  try {
    await runtime.spawn(FAILING, { thread: 2 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, ServiceFailedError, String(error));
    assert.equal([(error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['Failing', 'start']);
    assert.match((error as Error).message, 'no database in this thread');
  }
  assert.equal((await runtime.actors()).filter((actor) => actor.kind === 'user'), []);
  const failed = await (runtime.thread(0, 2).bus('internal') as RemoteBus).history({ types: ['busline.service.failed'] });
  assert.equal(
    failed.map((event) => event.payload),
    [{ name: 'Failing', phase: 'start', message: 'no database in this thread', processor: 0, thread: 2 }],
  );
  runtime.bus('external').post('ping', { seq: 1 }, { priority: 'immediate' });
  await exchange();
  assert.equal(pongs(1), [], 'its subscription was released');
  try {
    await runtime.spawn(ECHO, { thread: 1, types: ['ping'] });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
  }
});

test.run();
