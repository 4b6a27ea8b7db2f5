/**
 * Services in worker threads under a `ManualClock` (the root's workers, and
 * a child processor's): each worker has a manual clock that follows the runtime's, so a service's timers there
 * run when the test advances the clock (`advanceAsync()` / `settled()` wait
 * for them), never in real time. Nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, ManualClock, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { serveThread } from '../fixtures/served-thread.js';

const TICKER = new URL('../fixtures/ticker.service.ts', import.meta.url);

const test = suite('services in workers under a ManualClock');

let clock: ManualClock;
let runtime: Runtime;

test.before.each(async () => {
  clock = new ManualClock(1_000);
  runtime = createRuntime({ clock, threadsPerProcessor: 2, deferred: 'manual' });
  await runtime.ready;
});

test.after.each(async () => {
  await runtime.stop();
});

const worker = (thread: number, side: 'internal' | 'external' = 'external') => runtime.thread(0, thread).bus(side) as RemoteBus;

/** The ticks thread `thread` has posted: their counts and the second of its clock each was stamped at. */
async function ticks(thread: number): Promise<Array<[unknown, number]>> {
  return (await worker(thread).history({ types: ['tick'] })).map((event) => [event.payload, Math.floor(event.timestamp)]);
}

test('a service\'s every() in a worker runs when the runtime\'s clock passes its due times, stamped by that clock', async () => {
  await runtime.spawn(TICKER, { thread: 1 });
  await clock.advanceAsync(999);
  assert.equal(await ticks(1), [], 'not due yet');
  await clock.advanceAsync(1);
  assert.equal(await ticks(1), [[1, 2_000]]);
  // Two intervals at once: the timer runs once for each, as it does in the root.
  await clock.advanceAsync(2_000);
  assert.equal(await ticks(1), [[1, 2_000], [2, 4_000], [3, 4_000]]);
  // advance() alone moves the workers too; settled() waits for them.
  clock.advance(1_000);
  await clock.settled();
  assert.equal((await ticks(1)).length, 4);
  assert.equal(await ticks(2), [], 'the other worker runs no service');
  const posted = await worker(2).post('here', {});
  assert.is(Math.floor(posted.timestamp), 5_000, 'every worker follows the clock');
});

test('a worker\'s service timer that throws fails the service at the time it is due; its timers are gone after', async () => {
  await runtime.spawn(TICKER, { thread: 2 });
  await worker(2).publish('arm', { ms: 1_500 });
  await clock.advanceAsync(1_000);
  assert.equal(await ticks(2), [[1, 2_000]]);
  await clock.advanceAsync(499);
  assert.equal(await worker(2, 'internal').history({ types: ['busline.service.failed'] }), [], 'not due yet');
  await clock.advanceAsync(1);
  const failed = await worker(2, 'internal').history({ types: ['busline.service.failed'] });
  assert.equal(failed.map((event) => [event.payload, Math.floor(event.timestamp)]), [
    [{ name: 'ticker', phase: 'timer', message: 'the armed timer went off', processor: 0, thread: 2 }, 2_500],
  ]);
  await clock.advanceAsync(10_000);
  assert.equal(await ticks(2), [[1, 2_000]], 'a failed service\'s every() no longer runs');
});

test('1 processor x 2 threads - a child processor\'s workers follow the clock too: a service\'s timer there runs when it is due', async () => {
  await runtime.stop();
  runtime = createRuntime({ clock, processors: 1, threadsPerProcessor: 2, deferred: 'manual' });
  await runtime.ready;
  const child = (thread: number) => runtime.thread(1, thread).bus('external') as RemoteBus;
  await runtime.spawn(TICKER, { processor: 1, thread: 2 });
  await clock.advanceAsync(999);
  assert.equal(await child(2).history({ types: ['tick'] }), [], 'not due yet');
  await clock.advanceAsync(1);
  const ticked = await child(2).history({ types: ['tick'] });
  assert.equal(ticked.map((event) => [event.payload, Math.floor(event.timestamp)]), [[1, 2_000]]);
  assert.is(Math.floor((await child(1).post('here', {})).timestamp), 2_000, 'its other worker follows it');
  assert.is(Math.floor((await (runtime.thread(1, 0).bus('external') as RemoteBus).post('here', {})).timestamp), 2_000, 'and its own thread');
});

/**
 * The runtime's workers and processors begin to start once its middleware modules (none here) have loaded,
 * in promise jobs after createRuntime(): past them, a start is under way (one that has not begun starts at the clock's time then).
 */
const startsBegun = () => new Promise((resolve) => setImmediate(resolve));

test('a worker that starts while the clock moves: settled() waits until it runs at the new time; its stamps and timers go by it', async () => {
  await runtime.stop();
  runtime = createRuntime({ clock, threadsPerProcessor: 1, deferred: 'manual' });
  await startsBegun();
  // A worker takes a second or more to load: the clock moves while it starts.
  clock.advance(1_000);
  await clock.settled();
  // settled() waited for the start and the catch-up: the worker is attached (thread() throws for one that is not), at 2 000.
  assert.is(Math.floor((await worker(1).post('here', {})).timestamp), 2_000);
  await runtime.spawn(TICKER, { thread: 1 });
  await clock.advanceAsync(999);
  assert.equal(await ticks(1), [], 'its every(1 000) counts from 2 000');
  await clock.advanceAsync(1);
  assert.equal(await ticks(1), [[1, 3_000]]);
  await runtime.ready;
});

test('1 processor x 1 thread - a child processor that starts while the clock moves: settled() waits for it and its workers to be at the new time', async () => {
  await runtime.stop();
  runtime = createRuntime({ clock, processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  await startsBegun();
  clock.advance(1_000);
  await clock.settled();
  // Running (thread(1, ...) is refused for a processor that does not), and at 2 000 in its worker and its own thread.
  const child = (thread: number) => runtime.thread(1, thread).bus('external') as RemoteBus;
  assert.is(Math.floor((await child(1).post('here', {})).timestamp), 2_000);
  assert.is(Math.floor((await child(0).post('here', {})).timestamp), 2_000);
  await runtime.spawn(TICKER, { processor: 1, thread: 1 });
  await clock.advanceAsync(999);
  assert.equal(await child(1).history({ types: ['tick'] }), [], 'its every(1 000) counts from 2 000');
  await clock.advanceAsync(1);
  assert.equal((await child(1).history({ types: ['tick'] })).map((event) => [event.payload, Math.floor(event.timestamp)]), [[1, 3_000]]);
  await runtime.ready;
});

test('setClock - a thread with a manual clock runs its due timers; one on the system clock says false; a bad time is refused', async () => {
  const manual = serveThread(runtime, { thread: 5, clockAt: 7_000 });
  const plain = serveThread(runtime, { thread: 6 });
  try {
    let fired = 0;
    manual.thread.host.clock.setTimer!(10, () => fired++);
    assert.equal(await manual.api.setClock(7_009), { ok: true, value: true });
    assert.is(fired, 0);
    assert.equal(await manual.api.setClock(7_010), { ok: true, value: true });
    assert.is(fired, 1);
    assert.is(Math.floor(manual.thread.bus('external').post('a', {}).timestamp), 7_010, 'its events are stamped by it');
    assert.equal(await plain.api.setClock(7_010), { ok: true, value: false });
    const refused = await manual.api.setClock('soon' as never);
    assert.ok(!refused.ok && refused.code === 'INVALID_OPTION');
  } finally {
    await manual.stop();
    await plain.stop();
  }
});

test('settled() resolves at once when nothing follows the clock; a runtime stopped no longer follows it', async () => {
  const alone = new ManualClock(0);
  alone.advance(5);
  await alone.settled();
  await runtime.stop();
  clock.advance(1_000);
  await clock.settled();
  assert.is(clock.now(), 2_000);
});

test.run();
