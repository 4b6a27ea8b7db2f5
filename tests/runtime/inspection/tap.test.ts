/**
 * `InspectionTap`: what one realm sends towards the root. Actors are real
 * XState actors of busline's machines; the outlet is a function the test
 * holds, so "one batch in flight" and "drop-oldest" are checked exactly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor } from 'xstate';
import { busMachine } from '../../../machines/bus.machine.js';
import { InspectionTap, type InspectionBatch } from '../../../runtime/inspection/tap.js';
import type { StatelyMessage } from '../../../inspector/protocol.js';

const test = suite('inspection tap');
const endpoint = { processor: 1, thread: 2, generation: 0, side: 'external' as const };
const parse = (batch: InspectionBatch) => batch.records.map((record) => JSON.parse(record.json) as StatelyMessage);

/** An outlet that keeps each batch and lets the test say when it was taken. */
function heldOutlet() {
  const batches: InspectionBatch[] = [];
  const taken: Array<() => void> = [];
  let arrived: (() => void) | undefined;
  return {
    batches,
    outlet: (batch: InspectionBatch, done: () => void) => {
      batches.push(batch);
      taken.push(done);
      arrived?.();
    },
    /** Resolves when the next batch arrives (the tap sends on the next turn of the event loop). */
    next: () => new Promise<void>((resolve) => (arrived = resolve)),
    take: () => taken.shift()!(),
  };
}

test('hook - off by default: actors are remembered, nothing is sent; enable() announces the live ones', async () => {
  const held = heldOutlet();
  const tap = new InspectionTap({ realm: '1.2', outlet: held.outlet });
  const actor = createActor(busMachine, { id: 'bus:1.2:external#0', input: { endpoint }, inspect: tap.hook(1, 2) }).start();
  actor.send({ type: 'ACTIVITY', posted: 1, delivered: 1, queued: 0, lastId: '1.2.0' });
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(held.batches.length, 0);
  assert.is(tap.buffered, 0);
  const next = held.next();
  tap.enable();
  await next;
  const [announced] = parse(held.batches[0]!);
  assert.is(announced?.type, '@xstate.actor');
  assert.equal(announced?.busline, { processor: 1, thread: 2, actorId: 'bus:1.2:external#0' });
  assert.ok(announced?.sessionId.startsWith('1.2/x:'), announced?.sessionId);
  assert.is(JSON.parse(announced!.definition!).id, 'bus');
  assert.equal((announced?.snapshot as { context: { posted: number } }).context.posted, 1, 'its current snapshot');
  actor.stop();
});

test('outlet - one batch in flight; what comes meanwhile follows in the next batch, in order', async () => {
  const held = heldOutlet();
  const tap = new InspectionTap({ realm: '1.2', outlet: held.outlet, on: true });
  const actor = createActor(busMachine, { id: 'bus', input: { endpoint }, inspect: tap.hook(1, 2) });
  let next = held.next();
  actor.start();
  await next;
  assert.is(held.batches.length, 1);
  for (let i = 1; i <= 5; i++) actor.send({ type: 'ACTIVITY', posted: i, delivered: 0, queued: 0, lastId: null });
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(held.batches.length, 1, 'the first batch was not taken yet');
  assert.is(tap.buffered, 10, 'an event and a snapshot per send');
  next = held.next();
  held.take();
  await next;
  const posted = parse(held.batches[1]!)
    .filter((message) => message.type === '@xstate.snapshot')
    .map((message) => (message.snapshot as { context: { posted: number } }).context.posted);
  assert.equal(posted, [1, 3, 6, 10, 15]);
  assert.is(held.batches[1]!.dropped, 0);
  actor.stop();
});

test('bound - past maxBuffered the oldest records are dropped and counted; the count travels with the next batch', async () => {
  const held = heldOutlet();
  const tap = new InspectionTap({ realm: '1.2', outlet: held.outlet, on: true, maxBuffered: 8 });
  const actor = createActor(busMachine, { id: 'bus', input: { endpoint }, inspect: tap.hook(1, 2) });
  let next = held.next();
  actor.start();
  await next;
  for (let i = 1; i <= 100; i++) actor.send({ type: 'ACTIVITY', posted: 1, delivered: 0, queued: 0, lastId: null });
  assert.is(tap.buffered, 8);
  assert.is(tap.droppedTotal, 192);
  next = held.next();
  held.take();
  await next;
  const batch = held.batches[1]!;
  assert.is(batch.dropped, 192);
  const last = parse(batch).at(-1)!;
  assert.is((last.snapshot as { context: { posted: number } }).context.posted, 100, 'the newest are kept');
  actor.stop();
});

test('forward - records of a hosted thread join this realm\'s under the same bound', async () => {
  const held = heldOutlet();
  const tap = new InspectionTap({ realm: '1.0', outlet: held.outlet, on: true, maxBuffered: 3 });
  const record = (n: number) => ({ type: '@xstate.event' as const, sessionId: '1.1/x:0', ended: false, json: String(n) });
  const next = held.next();
  tap.forward({ records: [record(1), record(2), record(3), record(4)], dropped: 5 });
  await next;
  assert.equal(held.batches[0]!.records.map((r) => r.json), ['2', '3', '4']);
  assert.is(held.batches[0]!.dropped, 6, 'dropped upstream and here');
});

test('close - nothing more is sent', async () => {
  const held = heldOutlet();
  const tap = new InspectionTap({ realm: '1.2', outlet: held.outlet, on: true });
  tap.close();
  createActor(busMachine, { id: 'bus', input: { endpoint }, inspect: tap.hook(1, 2) }).start().stop();
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(held.batches.length, 0);
});

test.run();
