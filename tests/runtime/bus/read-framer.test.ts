/**
 * A bus's small reads (fewer than `FRAMED_READ_MIN_EVENTS` events) stay in
 * its history as objects; the read framer (`read-framer.ts`) encodes them
 * into frames in idle steps, by the outbox's rule, and the history adopts
 * them. Readers see the same events in the same order, a view or snapshot
 * taken before a step reads the same after, queries equal a linear scan, and
 * removal, eviction and compression go on working on what was adopted.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EncodedEvent, UNREAD_ENDPOINT, plainEvents, scanDecodedMessage } from '../../../runtime/store/encoded-events.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { HistoryQuery } from '../../../runtime/store/history.js';
import type { EventBatch } from '../../../runtime/wire/protocol.js';
import { FRAMED_READ_MIN_EVENTS, mergeReadHistory } from '../../../runtime/bus/read-merge.js';
import { ReadFramer, frameReadsOf } from '../../../runtime/bus/read-framer.js';
import { FRAME_EVENTS } from '../../../runtime/bus/outbox.js';
import { ManualClock, createRuntime, type BusEvent } from '../../../index.js';
import { collectUntil, collectedByIdleSteps, ids } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TYPES = ['user.login', 'user.logout', 'order.created', 'sys.tick'];

/** The `n`th event another thread posted. */
function theirs(n: number): BusEvent {
  return {
    id: `1.0.${n}`,
    type: TYPES[n % TYPES.length]!,
    side: 'external',
    timestamp: 1_000 + n,
    origin: { processor: 1, thread: 0, generation: 0 },
    priority: 'normal',
    payload: { n, text: `event ${n} of another thread` },
    ...(n % 5 === 0 ? { topic: `topic-${n % 3}` } : {}),
  };
}

/** A station's reply of `events`, as the frame transport gives it to a bus: one frame, scanned and decoded in one walk. */
function reply(events: readonly BusEvent[]): EventBatch {
  return scanDecodedMessage(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] })) as EventBatch;
}

/** A bus's history with a framer stepped by hand; `reads` small reads of `size` events merged into it. */
function busWithReads(memory: MemoryOptions, reads: number, size: number, clock = new ManualClock(0)): { retention: Retention; framer: ReadFramer } {
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions(memory)), () => clock.now(), {
    kind: 'bus',
    name: 'bus:0.0:external',
    blocks: { plain: true, schedule: 'manual' },
  });
  const framer = frameReadsOf(retention, { schedule: 'manual' });
  for (let r = 0; r < reads; r++) {
    const events = Array.from({ length: size }, (_, i) => theirs(r * size + i));
    mergeReadHistory(retention.history, retention, { batch: reply(events) });
  }
  return { retention, framer };
}

const QUERIES: HistoryQuery[] = [
  {},
  { types: ['user'] },
  { types: ['order', 'sys.tick'], since: 1_200 },
  { origin: { processor: 1, thread: 0 }, until: 1_500 },
  { types: ['user.logout'], side: 'external', since: 1_100, until: 1_900 },
];

/** Everything a reader asks a history, as plain events: the whole of it, queries (with the linear scan they must equal), lookups. */
function reads(retention: Retention): unknown {
  const history = retention.history;
  const all = plainEvents(history.snapshot());
  for (const query of QUERIES) assert.equal(plainEvents(history.query(query)), plainEvents(history.scan(query)), `query ${JSON.stringify(query)}`);
  return { all, queries: QUERIES.map((query) => plainEvents(history.query(query))), got: all.filter((_, i) => i % 37 === 0).map((e) => plainEvents([history.get(e.id)!])) };
}

function assertCounted(retention: Retention): void {
  const stats = retention.memoryStats()!;
  const held = retention.history.snapshot();
  assert.is(stats.count, held.length);
  assert.is(stats.bytes, held.reduce((sum, e) => sum + eventBytes(e), 0));
}

const unit = suite('ReadFramer');

unit('frame - 1 000 reads of 5 events end in frames: the objects go, readers get the same events in the same order', async () => {
  const { retention, framer } = busWithReads({ budget: { busBytes: 10_000_000 } }, 1_000, 5);
  assert.ok(5 < FRAMED_READ_MIN_EVENTS);
  // Copies: the history's objects are what it gives readers until they are framed.
  const before = structuredClone(reads(retention));
  const objects = retention.history.snapshot();
  assert.ok(objects.every((e) => !(e instanceof EncodedEvent)), 'small reads are kept as objects');
  assert.is(retention.memoryStats()!.frameBytes, 0);
  assert.is(framer.pending, 5_000);
  const refs = objects.map((e) => new WeakRef(e));
  objects.length = 0;
  assert.is(framer.frame(), 5_000);
  assert.is(framer.pending, 0);
  assert.is(await collectUntil(gc, refs), 0, 'the history keeps no object of what it read');
  assert.ok(retention.history.snapshot().every((e) => e instanceof EncodedEvent), 'every event is a place in a frame');
  const stats = retention.memoryStats()!;
  // Frames of FRAME_EVENTS: the memory they take is the events' bytes and a frame's index, not objects.
  assert.ok(stats.frameBytes < 1.5 * stats.bytes, `frames ${stats.frameBytes} B for ${stats.bytes} B of events`);
  assert.equal(reads(retention), before);
  assertCounted(retention);
});

unit('frame - a view and a snapshot taken before a step read the same after it; each step adopts a whole batch or nothing', () => {
  const { retention, framer } = busWithReads({ budget: { busBytes: 10_000_000 } }, 200, 5);
  const expected = plainEvents(retention.history.snapshot());
  const view = retention.history.view();
  const snapshot = retention.history.snapshot();
  const pages: BusEvent[] = [];
  let steps = 0;
  // A reader that reads page by page (as `history()` across awaits does) while the framer's steps run between pages.
  for (const page of view.pages(100)) {
    pages.push(...plainEvents(page));
    if (framer.pending > 0) {
      const placesBefore = retention.history.snapshot().filter((e) => e instanceof EncodedEvent).length;
      framer.frame(FRAME_EVENTS);
      steps++;
      const placesAfter = retention.history.snapshot().filter((e) => e instanceof EncodedEvent).length;
      assert.is(placesAfter - placesBefore, Math.min(FRAME_EVENTS, expected.length - placesBefore), 'a step is all of its batch');
    }
  }
  assert.ok(steps >= 3);
  assert.equal(pages, expected);
  assert.equal(plainEvents(snapshot), expected);
  assert.equal(plainEvents(retention.history.snapshot()), expected);
});

unit('frame - objects that left before their step are not framed; removal after search, expiry and eviction work on what was adopted', () => {
  const clock = new ManualClock(0);
  const { retention, framer } = busWithReads(
    { budget: { busBytes: 10_000_000 }, policies: { 'user.logout': { removeAfterSearch: true }, 'sys.tick': { ttlMs: 50 } } },
    400,
    5,
    clock,
  );
  // Some leave before the framer runs: a search removes its logouts.
  const searched = retention.history.query({ types: ['user.logout'], until: 1_400 });
  assert.is(retention.afterSearch(searched).length, searched.length);
  assert.is(framer.frame(), 2_000);
  const held = retention.history.snapshot();
  assert.is(held.length, 2_000 - searched.length);
  assert.ok(held.every((e) => e instanceof EncodedEvent));
  assert.ok(retention.memoryStats()!.frameBytes > 0);
  assertCounted(retention);
  // After search, on adopted events: they leave, and give back the events read.
  const logouts = retention.history.query({ types: ['user.logout'] });
  assert.equal(ids(plainEvents(retention.afterSearch(logouts))), ids(logouts));
  assert.is(retention.history.query({ types: ['user.logout'] }).length, 0);
  assertCounted(retention);
  // By time.
  // The events are stamped 1 000 on: past them all.
  clock.advance(10_000);
  const expired = retention.expire();
  assert.ok(expired.length > 0 && expired.every((e) => e.type === 'sys.tick'));
  assert.is(retention.history.query({ types: ['sys.tick'] }).length, 0);
  assertCounted(retention);
  // Eviction: more reads than the budget holds; the oldest (adopted) go first, at the sizes counted.
  const more = busWithReads({ budget: { busBytes: 60_000 } }, 200, 5);
  more.framer.frame();
  for (let r = 0; r < 100; r++) {
    mergeReadHistory(more.retention.history, more.retention, { batch: reply(Array.from({ length: 5 }, (_, i) => theirs(10_000 + r * 5 + i))) });
  }
  const stats = more.retention.memoryStats()!;
  assert.ok(stats.evicted > 0, 'the budget evicted');
  assert.ok(stats.bytes <= 60_000);
  assertCounted(more.retention);
  more.framer.frame();
  assertCounted(more.retention);
  const kept = plainEvents(more.retention.history.snapshot());
  assert.equal(kept.map((e) => e.id), [...kept].sort((a, b) => a.timestamp - b.timestamp).map((e) => e.id));
  assert.is(kept[kept.length - 1]!.id, theirs(10_499).id);
});

unit('frame - with compression on, adopted reads move into blocks and read back the same', () => {
  const { retention, framer } = busWithReads({ budget: { busBytes: 10_000_000 }, compression: { keepEvents: 500, blockEvents: 500 } }, 600, 5);
  const before = reads(retention);
  framer.frame(1_500);
  while (retention.history.compact(50));
  assert.ok(retention.history.compressedCount > 0, 'some events are in blocks');
  // What the blocks took is not framed again; the rest is.
  framer.frame();
  assert.equal(reads(retention), before);
  // A block gives a bus objects back, counted at the sizes kept for them: all of them leave at those sizes.
  assert.is(retention.remove(retention.history.snapshot()).length, 3_000);
  assert.equal({ count: retention.memoryStats()!.count, bytes: retention.memoryStats()!.bytes }, { count: 0, bytes: 0 });
});

unit('kept - not due: nothing is framed, and objects that left are not kept alive by the framer', async () => {
  const clock = new ManualClock(0);
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 10_000_000 }, policies: { 'sys.tick': { ttlMs: 10 } } })), () => clock.now(), {
    kind: 'bus',
  });
  const framer = frameReadsOf(retention, { due: () => false, threshold: 100 });
  const refs: Array<WeakRef<BusEvent>> = [];
  for (let r = 0; r < 400; r++) {
    const events = Array.from({ length: 5 }, (_, i) => ({ ...theirs(r * 5 + i), type: 'sys.tick', timestamp: clock.now() }));
    const { added } = mergeReadHistory(retention.history, retention, { batch: reply(events) });
    for (const e of added) refs.push(new WeakRef(e));
    clock.advance(20);
    retention.expire();
  }
  assert.is(retention.history.size, 0, 'every tick expired');
  assert.ok(framer.pending < 400, `${framer.pending} waiting`);
  assert.ok((await collectUntil(gc, refs, 205)) <= 205, 'what waits is pruned of what left');
  assert.is(retention.memoryStats()!.frameBytes, 0);
});

unit('kept - not due, while the history holds many: what the framer keeps alive is what the history holds and a threshold', async () => {
  // Reads of ticks that live 1 s, one read each 20 ms: the history holds about 250 at any time, far over the threshold.
  const clock = new ManualClock(0);
  const threshold = 50;
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 10_000_000 }, policies: { 'sys.tick': { ttlMs: 1_000 } } })), () => clock.now(), {
    kind: 'bus',
  });
  const framer = frameReadsOf(retention, { due: () => false, threshold });
  const refs: Array<WeakRef<BusEvent>> = [];
  let most = 0;
  for (let r = 0; r < 600; r++) {
    const events = Array.from({ length: 5 }, (_, i) => ({ ...theirs(r * 5 + i), type: 'sys.tick', timestamp: clock.now() }));
    const { added } = mergeReadHistory(retention.history, retention, { batch: reply(events) });
    for (const e of added) refs.push(new WeakRef(e));
    clock.advance(20);
    retention.expire();
    // Before the fix, pruned only at twice what was left after the last pruning: up to the history's 250 more.
    assert.ok(framer.pending < retention.history.size + threshold + 5, `read ${r}: ${framer.pending} waiting, ${retention.history.size} held`);
    most = Math.max(most, retention.history.size);
  }
  assert.ok(most >= 240, `${most} held at most`);
  const held = retention.history.size;
  assert.ok((await collectUntil(gc, refs, held + threshold + 5)) < held + threshold + 5, 'what left the history is not kept alive by the framer');
  assert.is(retention.memoryStats()!.frameBytes, 0);
});

unit.run();

const runtime = suite('bus small reads');

/** Reads in a function of its own, so that nothing of this frame keeps what the read returned; weak refs to it. */
async function readWeakly(bus: { fromStation(): Promise<{ added: readonly BusEvent[] }> }): Promise<Array<WeakRef<BusEvent>>> {
  const { added } = await bus.fromStation();
  return added.map((event) => new WeakRef(event));
}

runtime('fromStation - 1 024 reads of 5 events end kept as frames once memory is short; history() and get() give what the writer posted', async () => {
  // Half the budget is where memory is short (`Retention.pressed`): 5 120 such events take more than that, and fit.
  const rt = createRuntime({ transport: 'frames', deferred: 'manual', memory: { budget: { busBytes: 1_200_000 } } });
  try {
    const writer = rt.bus('external');
    const reader = rt.addThread().bus('external');
    const delivered: BusEvent[] = [];
    reader.subscribe('user', (event) => void delivered.push(event));
    const refs: Array<WeakRef<BusEvent>> = [];
    for (let r = 0; r < 1_024; r++) {
      for (let i = 0; i < 5; i++) writer.post(TYPES[i % TYPES.length]!, { r, i, text: `read ${r}, event ${i}` }, { priority: 'immediate' });
      await writer.sync();
      refs.push(...(await readWeakly(reader)));
    }
    const posted = writer.history();
    assert.is(refs.length, 5_120);
    assert.equal(reader.history(), posted);
    assert.ok(reader.memory()!.bytes > 600_000, `${reader.memory()!.bytes} B held: past half the budget`);
    assert.ok(reader.memory()!.evicted === 0);
    // Idle steps (paced, unref'd) frame them and let the objects go: wait until they have.
    delivered.length = 0;
    await collectedByIdleSteps(gc, refs);
    assert.is(await collectUntil(gc, refs), 0, 'the history keeps no object of what it read');
    const stats = reader.memory()!;
    assert.is(stats.count, 5_120);
    assert.ok(stats.frameBytes < 1.5 * stats.bytes, `frames ${stats.frameBytes} B for ${stats.bytes} B of events`);
    assert.equal(reader.history(), posted);
    assert.equal(reader.get(posted[777]!.id), posted[777]);
    assert.equal(reader.history({ types: ['user'] }), posted.filter((e) => e.type.startsWith('user')));
    // Its own posts and later reads go on in order among the frames.
    reader.post('note', 'mine', { priority: 'immediate' });
    writer.post('order.created', { last: true }, { priority: 'immediate' });
    await writer.sync();
    await reader.sync();
    await writer.fromStation();
    assert.equal(ids(reader.history()), ids(writer.history()));
  } finally {
    await rt.stop();
  }
});

runtime('fromStation - without memory pressure small reads stay objects (framing waits for memory to matter)', async () => {
  const rt = createRuntime({ transport: 'frames', deferred: 'manual' });
  try {
    const writer = rt.bus('external');
    const reader = rt.addThread().bus('external');
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < 5; i++) writer.post('user.login', { r, i }, { priority: 'immediate' });
      await writer.sync();
      await reader.fromStation();
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.is(reader.memory()!.frameBytes, 0);
    assert.equal(reader.history(), writer.history());
  } finally {
    await rt.stop();
  }
});

runtime.run();
