/**
 * A long-ish run under the sync policy whose station histories stay bounded:
 * 20 000 events whose policy removes them after delivery go through 1
 * processor (the root) × 2 worker threads, to an actor subscribed to them
 * in the other worker, and its local station and the main station let them
 * go once their readers have read them. Sizes are read from the stations (counts and bytes), not
 * from the process's memory.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type RemoteBus, type Runtime } from '../../../index.js';

const test = suite('Station histories stay bounded');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
});

const EVENTS = 20_000;
const CHUNK = 500;

/** Posts `count` ticks on `bus`, waiting for room whenever the bus holds too many unsent. */
async function postTicks(bus: RemoteBus, from: number, count: number): Promise<void> {
  let pending = Array.from({ length: count }, (_, i) => from + i);
  while (pending.length > 0) {
    const results = await Promise.allSettled(pending.map((n) => bus.post('tick', { n })));
    const refused = pending.filter((_, i) => results[i]!.status === 'rejected');
    for (const result of results) if (result.status === 'rejected' && !isBusError(result.reason, 'BUS_FULL')) throw result.reason;
    pending = refused;
    if (pending.length > 0) await bus.room();
  }
}

test('sync policy - 20 000 ticks through 1 processor × 2 worker threads to a subscribed actor: its stations hold a bounded part of them, and none once all have read', async () => {
  const maxBytes = 16 * 1024 * 1024;
  runtime = createRuntime({
    processors: 0,
    threadsPerProcessor: 2,
    callDeadlineMs: 20_000,
    sync: { everyMs: 10, maxBatch: 256 },
    // The limit is a backstop far above what the run holds (it is where a memory budget would plug in):
    // what bounds the histories here is removal after delivery. It also makes the stations count bytes.
    memory: { policies: { tick: { removeAfterDelivery: true } }, limits: { maxBytes } },
  });
  await runtime.ready;
  // Thread 2 is interested in ticks (stations hold them for it until it has read them); its next read says so.
  await runtime.spawn(new URL('../fixtures/stamped.machine.ts', import.meta.url), { thread: 2, types: ['tick'] });
  await (runtime.thread(0, 2).bus('external') as RemoteBus).sync();
  const local = runtime.station('external');
  const main = runtime.mainStation('external');
  const producer = runtime.thread(0, 1).bus('external') as RemoteBus;
  const most = { local: 0, localBytes: 0, main: 0 };
  for (let from = 0; from < EVENTS; from += CHUNK) {
    await postTicks(producer, from, CHUNK);
    most.local = Math.max(most.local, local.size);
    most.localBytes = Math.max(most.localBytes, local.bytes);
    most.main = Math.max(most.main, main.size);
  }
  // Each station lets the last ticks go once its readers' next syncs have read them (each period).
  for (let round = 0; ; round++) {
    const sizes = [local.size, main.size];
    if (sizes.every((size) => size === 0)) break;
    assert.ok(round < 5_000, `the stations still hold ${sizes.join(', ')} ticks`);
    await (runtime.thread(0, 2).bus('external') as RemoteBus).state();
  }
  assert.is(local.bytes, 0);
  // Bounded by what the readers have not read yet (about a sync period's worth), not by the run's length.
  for (const [where, size] of Object.entries({ local: most.local, main: most.main })) {
    assert.ok(size < EVENTS / 4, `the ${where} station held ${size} ticks at most`);
  }
  assert.ok(most.localBytes > 0 && most.localBytes < maxBytes / 8, `the local station held ${most.localBytes} bytes at most`);
});

test.run();
