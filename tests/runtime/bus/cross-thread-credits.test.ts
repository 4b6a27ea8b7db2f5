/**
 * `RemoteBus.subscribe()` on a worker of a child processor (1 processor × 2
 * threads) under the sync policy, `sync.maxInFlight` 2: a handler here holds
 * its thread's credits as a local async subscriber does. Posts it would get
 * are refused with `BUS_FULL` (`bound: 'inFlight'`) while they are taken; a
 * sync reads no more events than the credits left; a read held back goes on
 * by itself once the handler lets events go; `unsubscribe()` gives back what
 * it held. Handlers are held by gates, so nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError } from '../../../index.js';
import { gate, processorRuntime } from '../../helpers.js';

const test = suite('RemoteBus subscribe credits, 1 processor x 2 threads');

// A sync period that never comes: syncs run only when a test (or a settled credit) asks for one.
const { worker } = processorRuntime(test, () => ({ metrics: true, sync: { everyMs: 3_600_000, maxInFlight: 2 } }));

/** Events' payloads held by a handler here, each with what lets it go; `reached(n)` resolves once n have come. */
function heldHandler() {
  const held: Array<{ payload: number; release: () => void }> = [];
  const waits: Array<{ count: number; open: () => void }> = [];
  const handler = (event: { payload: unknown }) =>
    new Promise<void>((release) => {
      held.push({ payload: event.payload as number, release });
      for (const wait of waits) if (held.length >= wait.count) wait.open();
    });
  const reached = (count: number): Promise<void> => {
    if (held.length >= count) return Promise.resolve();
    const { promise, open } = gate();
    waits.push({ count, open });
    return promise;
  };
  const release = (...payloads: number[]) => {
    for (const entry of held) if (payloads.includes(entry.payload)) entry.release();
  };
  return { held: () => held.map((entry) => entry.payload), handler, reached, release };
}

/** Thread 1.`thread`'s unsettled subscriber promises of the external side: the credits taken. */
const inFlight = async (thread: number) => (await worker(thread).stats())!.depths.inFlight;

test('subscribe - a slow handler here holds the thread\'s credits: posts refused with BUS_FULL, reads limited, both go on once it lets go', async () => {
  const one = worker(1);
  const slow = heldHandler();
  const subscription = one.subscribe('job', slow.handler);
  try {
    await one.post('job', 1);
    await one.post('job', 2);
    await slow.reached(2);
    assert.is(await inFlight(1), 2, 'each event holds a credit in the thread until the handler here has finished');
    const refused = await one.post('job', 3).then(() => undefined, (error: unknown) => error);
    assert.instance(refused, BusFullError);
    assert.equal([(refused as BusFullError).bound, (refused as BusFullError).held, (refused as BusFullError).max], ['inFlight', 2, 2]);
    await one.post('other', 0); // a type no async subscriber takes still goes
    await worker(2).post('job', 4); // thread 1.2 has credits of its own

    // Thread 1.2's events wait at the station: a sync of thread 1.1 reads none of them while its credits are taken.
    for (const payload of [10, 11, 12]) await worker(2).post('job', payload);
    await worker(2).toStation();
    const read = await one.sync();
    assert.equal(read.added, [], 'no credit left: nothing read');
    assert.equal(slow.held(), [1, 2]);

    // Letting go asks for the held-back read again: the thread reads by itself, as many as its credits allow.
    slow.release(1, 2);
    await slow.reached(4);
    assert.equal(slow.held(), [1, 2, 4, 10], 'in the station\'s order; no more than two unsettled at once');
    assert.is(await inFlight(1), 2);
    assert.equal((await one.sync()).added, [], 'full again: the rest waits at the station');
    slow.release(4, 10);
    await slow.reached(6);
    assert.equal(slow.held(), [1, 2, 4, 10, 11, 12]);
    slow.release(11, 12);
    await one.room();
    await one.post('job', 3);
    await slow.reached(7);
    assert.equal(slow.held().at(-1), 3, 'the post refused before goes now');
  } finally {
    subscription.unsubscribe();
  }
});

test('subscribe - unsubscribe() with events still held gives their credits back in the thread', async () => {
  const one = worker(1);
  const slow = heldHandler();
  const subscription = one.subscribe('job', slow.handler);
  await one.post('job', 1);
  await one.post('job', 2);
  await slow.reached(2);
  assert.is(await inFlight(1), 2);
  subscription.unsubscribe();
  await one.room();
  assert.is(await inFlight(1), 0, 'its listener ended, and what it held with it');
  await one.post('job', 3);
  await one.post('job', 4);
  await one.post('job', 5);
  assert.equal(slow.held(), [1, 2], 'nothing after unsubscribe()');
});

test.run();
