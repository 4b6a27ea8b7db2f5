/**
 * What a bus reads from its station (`fromStation()`, `sync()`, in the root
 * and in a worker) stays in its history as places in the frames it came in
 * (`read-merge.ts`), as a station keeps events and as a bus keeps its own
 * posts after a sync: subscribers and `added` get objects decoded for them,
 * which the history does not keep. Readers must see no difference.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, createRuntime, type BusEvent } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { collectUntil, ids } from '../../helpers.js';
import { FRAMED_READ_MIN_EVENTS } from '../../../runtime/bus/read-merge.js';
import { compressionSteps } from '../../../runtime/store/history.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const test = suite('bus reads kept as frames');

/** Reads in a function of its own, so that nothing of this frame keeps what the read returned; weak refs to it. */
async function readWeakly(bus: { fromStation(): Promise<{ added: readonly BusEvent[] }> }): Promise<Array<WeakRef<BusEvent>>> {
  const { added } = await bus.fromStation();
  return added.map((event) => new WeakRef(event));
}

test('read - the history keeps no object of what it read; history(), get() and queries give the events the writer posted', async () => {
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual' });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const delivered: BusEvent[] = [];
    reader.subscribe('user', (event) => void delivered.push(event));
    for (let i = 0; i < 600; i++) writer.post(i % 2 === 0 ? 'user.login' : 'order.created', { n: i, text: `event ${i}` }, { priority: 'immediate' });
    await writer.sync();
    const posted = writer.history();
    assert.ok(posted.length >= FRAMED_READ_MIN_EVENTS);
    const refs = await readWeakly(reader);
    assert.is(refs.length, 600);
    assert.equal(reader.history(), posted);
    assert.equal(delivered, posted.filter((event) => event.type === 'user.login'));
    const before = reader.history({ types: ['order'] });
    delivered.length = 0;
    assert.is(await collectUntil(gc, refs), 0, 'the objects a read decoded are not kept');
    const stats = reader.memory()!;
    assert.is(stats.count, 600);
    assert.ok(stats.frameBytes > 0, 'kept in the frames of the reply');
    assert.is(stats.bytes, stats.types['user.login']!.bytes + stats.types['order.created']!.bytes);
    assert.equal(reader.history(), posted);
    assert.equal(reader.get(posted[7]!.id), posted[7]);
    assert.equal(reader.history({ types: ['order'], filter: (event) => (event.payload as { n: number }).n > 500 }), before.filter((event) => (event.payload as { n: number }).n > 500));
    // A second read merges among the frames of the first; what a reader took before stays as it was.
    for (let i = 0; i < 10; i++) writer.post('order.created', { n: 1000 + i }, { priority: 'immediate' });
    await writer.sync();
    await reader.fromStation();
    assert.equal(before, posted.filter((event) => event.type === 'order.created'));
    assert.equal(ids(reader.history()), ids(writer.history()));
  } finally {
    await runtime.stop();
  }
});

test('read - a bus that posts and reads keeps both in order: its posts as objects until a sync, what it read as places', async () => {
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual' });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const own: BusEvent[] = [reader.post('note', 'mine 1', { priority: 'immediate' })];
    for (let i = 0; i < 50; i++) writer.post('user.login', { n: i }, { priority: 'immediate' });
    await writer.sync();
    own.push(reader.post('note', 'mine 2', { priority: 'immediate' }));
    await reader.fromStation();
    own.push(reader.post('note', 'mine 3', { priority: 'immediate' }));
    assert.is(reader.history().length, 53);
    // Fewer than FRAMED_READ_MIN_EVENTS in the reply's frame: a frame would cost more than the objects.
    assert.is(reader.memory()!.frameBytes, 0);
    assert.equal(reader.history({ types: ['note'] }), own);
    await reader.sync();
    await writer.fromStation();
    assert.equal(reader.history(), writer.history());
    assert.equal(ids(reader.history()), ids(runtime.station('external').history()));
  } finally {
    await runtime.stop();
  }
});

test('read - a bus repacks the frames its reads left: expired ticks do not keep the frames of the logs that stay', async () => {
  const clock = new ManualClock(1_000);
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual', clock, memory: { policies: { tick: { ttlMs: 10 } } } });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    let oneRead = 0;
    const series: string[] = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) writer.post('tick', { round, i }, { priority: 'immediate' });
      for (let i = 0; i < 5; i++) writer.post('log', { round, i, text: 'kept' }, { priority: 'immediate' });
      await writer.sync();
      await reader.fromStation();
      oneRead ||= reader.memory()!.frameBytes;
      clock.advance(20);
      // Expiry is lazy: the next use of the history lets the ticks go; a repack runs in a microtask after.
      reader.history({ types: ['log'] });
      await new Promise((resolve) => setImmediate(resolve));
      const { bytes, frameBytes, count } = reader.memory()!;
      series.push(`${round}: ${count} held, ${bytes} B, frames ${frameBytes} B`);
      // Without repacking, each read's frames stay for the 5 logs in them: 40 reads' worth by the end.
      assert.ok(frameBytes <= 2 * bytes + 10 * oneRead, series.join('\n'));
    }
    assert.equal(
      reader.history().map((event) => (event.payload as { round: number }).round),
      Array.from({ length: 200 }, (_, i) => Math.floor(i / 5)),
    );
  } finally {
    await runtime.stop();
  }
});

test('read - with compression on, what a bus read moves into blocks and reads back the same', async () => {
  // The histories' idle compression steps are taken here and run when the test says (compressionSteps).
  const steps: Array<() => void> = [];
  const schedule = compressionSteps.schedule;
  compressionSteps.schedule = (step) => void steps.push(step);
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual', memory: { compression: { keepEvents: 500, blockEvents: 500 } } });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    for (let i = 0; i < 3000; i++) writer.post('user.login', { user: `user-${i % 50}`, n: i }, { priority: 'immediate' });
    await writer.sync();
    await reader.fromStation();
    const posted = writer.history();
    assert.equal(reader.history(), posted);
    assert.equal(reader.memory()!.compressed, { count: 0, bytes: 0 }, 'nothing is compressed on the read path');
    assert.ok(steps.length > 0, 'the read asked for an idle step');
    // Every step asked for, until none is: the histories hold all but keepEvents in blocks of blockEvents.
    for (let step = steps.shift(); step !== undefined; step = steps.shift()) step();
    const { count, compressed } = reader.memory()!;
    assert.is(count, 3000);
    assert.is(compressed.count, 2500, 'all but the newest 500, in blocks');
    assert.ok(compressed.bytes > 0 && compressed.bytes < reader.memory()!.bytes, `${compressed.bytes} bytes of blocks`);
    assert.equal(reader.history(), posted, 'read back the same from the blocks');
    assert.equal(reader.get(posted[1234]!.id), posted[1234]);
    assert.equal(reader.history({ types: ['user.login'], since: posted[100]!.timestamp, until: posted[103]!.timestamp }), posted.slice(100, 103), 'a query of a block');
  } finally {
    compressionSteps.schedule = schedule;
    await runtime.stop();
  }
});

test('read - over the memory transport a bus reads what the station holds, and gives the same events', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const seen: BusEvent[] = [];
    reader.subscribe('user', (event) => void seen.push(event));
    for (let i = 0; i < 100; i++) writer.post('user.login', { n: i }, { priority: 'immediate' });
    await writer.sync();
    const { added } = await reader.fromStation();
    assert.equal(added, writer.history());
    assert.equal(seen, writer.history());
    assert.equal(reader.history(), writer.history());
  } finally {
    await runtime.stop();
  }
});

test('read - a worker bus keeps what it read in the frames its channel received; reads give the same events', async () => {
  const runtime = createRuntime({ threadsPerProcessor: 2, deferred: 'manual' });
  try {
    await runtime.ready;
    const writer = runtime.bus('external');
    for (let i = 0; i < 300; i++) writer.post(i % 2 === 0 ? 'user.login' : 'order.created', { n: i }, { priority: 'immediate' });
    await writer.sync();
    const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    const { added } = await bus.fromStation();
    assert.is(added.length, 300);
    const stats = (await bus.memory())!;
    assert.is(stats.count, 300);
    assert.ok(stats.frameBytes > 0, 'the history keeps what it read in frames');
    assert.is(stats.bytes, stats.types['user.login']!.bytes + stats.types['order.created']!.bytes);
    assert.equal(await bus.history(), writer.history());
    // Its own posts, synced, and a second read: all in order, the same everywhere.
    await bus.post('note', 'from the worker', { priority: 'immediate' });
    for (let i = 0; i < 20; i++) writer.post('user.login', { n: 300 + i }, { priority: 'immediate' });
    await writer.sync();
    await bus.sync();
    await writer.fromStation();
    assert.equal(await bus.history(), writer.history());
    assert.equal(ids(await bus.history()), ids(runtime.station('external').history()));
  } finally {
    await runtime.stop();
  }
});

test.run();
