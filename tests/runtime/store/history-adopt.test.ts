/**
 * A bus's history after a sync: the events the sync encoded stay as their
 * places in its frames (`EventHistory.adopt`), not as objects. Readers must
 * not see a difference; the budget counts them at their bytes in the frame
 * from then on (as a station does), its queue keeps them as runs, and
 * removal must follow.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { EventHistory, compareEvents, type HistoryQuery } from '../../../runtime/store/history.js';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EncodedEvent, UNREAD_ENDPOINT, plainEvents, scanBatch } from '../../../runtime/store/encoded-events.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import { EvictionQueue } from '../../../runtime/store/eviction-queue.js';
import { ManualClock, createRuntime, type BusEvent, type Payload, type Side } from '../../../index.js';
import { collectUntil, collectedByIdleSteps, ids } from '../../helpers.js';
import { FRAME_UNSENT_EVENTS, Outbox } from '../../../runtime/bus/outbox.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { mergeReadHistory } from '../../../runtime/bus/read-merge.js';
import { frameReadsOf } from '../../../runtime/bus/read-framer.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TYPES = ['user', 'user.login', 'user.logout', 'order', 'order.created', 'sys.tick'];
const PAYLOADS: Payload[] = [null, 7, 'text', { user: 'ann', n: [1, 2, { ok: true }] }, new Uint8Array([1, 2, 3])];

function event(key: number): BusEvent {
  return {
    id: `${key % 3}.${(key >> 2) % 3}.${key}`,
    type: TYPES[key % TYPES.length]!,
    side: key % 2 === 0 ? 'internal' : 'external',
    timestamp: (key * 7) % 13,
    origin: { processor: key % 3, thread: (key >> 2) % 3, generation: 0 },
    priority: 'normal',
    payload: PAYLOADS[key % PAYLOADS.length]!,
    ...(key % 4 === 0 ? { topic: `topic-${key % 5}` } : {}),
    ...(key % 5 === 0 ? { meta: { trace: `t${key}` } } : {}),
  };
}

/**
 * `events` as a sync's hop makes them: in frames of `size`, in order; `shared`: views of one buffer of 64 KiB or
 * more, as frames received in one chunk are (memory a repack finds worth a copy).
 */
function framed(events: readonly BusEvent[], size = 256, shared = false): EncodedEvent[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < events.length; i += size) {
    frames.push(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events.slice(i, i + size), queue: [] }));
  }
  if (shared) {
    const chunk = new Uint8Array(Math.max(65_536, frames.reduce((sum, frame) => sum + frame.byteLength, 0)));
    let at = 0;
    frames.forEach((frame, i) => {
      chunk.set(frame, at);
      frames[i] = chunk.subarray(at, (at += frame.byteLength));
    });
  }
  return frames.flatMap((frame) => scanBatch(frame).history as EncodedEvent[]);
}

const arbQuery: fc.Arbitrary<HistoryQuery> = fc.record(
  {
    types: fc.array(fc.constantFrom('user', 'user.login', 'order', 'sys', 'use'), { minLength: 1, maxLength: 3 }),
    side: fc.constantFrom<Side>('internal', 'external'),
    origin: fc.record({ processor: fc.nat(2), thread: fc.nat(2) }),
    since: fc.integer({ min: 0, max: 13 }),
    until: fc.integer({ min: 0, max: 13 }),
  },
  { requiredKeys: [] },
);

/** Everything a reader can ask a history, as plain events. */
function reads(history: EventHistory, queries: readonly HistoryQuery[], held: readonly BusEvent[]): unknown {
  return {
    snapshot: plainEvents(history.snapshot()),
    queries: queries.map((query) => plainEvents(history.query(query))),
    scans: queries.map((query) => plainEvents(history.scan(query))),
    ids: held.map((event) => (history.get(event.id) === undefined ? undefined : plainEvents([history.get(event.id)!])[0])),
    oldest: plainEvents(history.oldest(5)),
    through: plainEvents(history.through(6)),
    oldestOf: plainEvents(history.oldestOf('user', 3)),
    last: history.last === undefined ? undefined : plainEvents([history.last])[0],
    size: history.size,
  };
}

const test = suite('EventHistory.adopt');

test('adopt - every read gives equal events before and after, whatever was adopted, and removal works the same (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(199), { maxLength: 80 }),
      fc.array(fc.boolean(), { maxLength: 80 }),
      fc.array(arbQuery, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 9 }),
      fc.boolean(),
      fc.array(fc.nat(199), { maxLength: 20 }),
      (keys, picks, queries, segmentSize, frameSize, indexFirst, later) => {
        const events = keys.map(event);
        const history = new EventHistory({ segmentSize });
        const twin = new EventHistory({ segmentSize });
        history.merge(events);
        twin.merge(events);
        if (indexFirst) history.query({ types: ['user'] });
        // What a sync sent: some of what the history holds, as those objects, sorted.
        const held = history.snapshot();
        const sent = held.filter((_, i) => picks[i] === true);
        const before = reads(history, queries, held);
        const adopted = history.adopt(sent, framed(sent, frameSize));
        assert.is(adopted.length, sent.length);
        assert.equal(reads(history, queries, held), before);
        // Then the history goes on as any: new events, removals by object and by predicate.
        const more = later.map((key) => event(key + 200));
        history.merge(more);
        twin.merge(more);
        const gone = held.filter((_, i) => i % 3 === 0);
        assert.equal(plainEvents(history.remove(gone)), plainEvents(twin.remove(gone)));
        const odd = (e: BusEvent) => e.timestamp % 2 === 1;
        assert.equal(plainEvents(history.removeWhere(odd)), plainEvents(twin.removeWhere(odd)));
        assert.equal(reads(history, queries, held), reads(twin, queries, held));
      },
    ),
  );
});

test('adopt - a view or snapshot taken before reads the same after (a reader sees all or nothing)', () => {
  const history = new EventHistory({ segmentSize: 4 });
  const events = Array.from({ length: 20 }, (_, i) => event(i * 10 + 1)).sort(compareEvents);
  history.merge(events);
  const view = history.view();
  const snapshot = history.snapshot();
  history.adopt(events, framed(events, 7));
  assert.ok(history.snapshot().every((e) => e instanceof EncodedEvent), 'every event is kept framed');
  assert.equal([...view.pages(100)].flat(), snapshot);
  assert.ok(snapshot.every((e, i) => e === events[i]), 'the snapshot is the objects it had');
});

test('adopt - skips events no longer held as those objects, and the ones adopted already', () => {
  const history = new EventHistory();
  const events = [event(1), event(2), event(3)].sort(compareEvents);
  history.merge(events);
  history.remove([events[0]!]);
  const frames = framed(events);
  assert.equal(history.adopt(events, frames), events.slice(1));
  assert.equal(history.adopt(events, frames), []);
  assert.equal(plainEvents(history.snapshot()), events.slice(1));
});

test('adopt - the history keeps no object of an adopted event', async () => {
  const history = new EventHistory({ segmentSize: 8 });
  let events: BusEvent[] | undefined = Array.from({ length: 40 }, (_, i) => event(i)).sort(compareEvents);
  const refs = events.map((e) => new WeakRef(e));
  history.merge(events);
  history.query({ types: ['order'] });
  history.adopt(events, framed(events, 16));
  events = undefined;
  assert.is(await collectUntil(gc, refs), 0);
  assert.is(history.size, 40);
});

/** A bus's retention (counted as objects), posting as a bus does. */
function busRetention(memory: MemoryOptions, clock = new ManualClock(0)): { retention: Retention; post(event: BusEvent): BusEvent[] } {
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions(memory)), () => clock.now(), { kind: 'bus', name: 'bus:0.0:external' });
  return {
    retention,
    post(event) {
      retention.admitPost(event);
      retention.history.insert(event);
      return retention.settle();
    },
  };
}

const posted = (n: number, type = 'user.login', at = 0): BusEvent[] =>
  Array.from({ length: n }, (_, i) => ({ ...event(i), id: `0.0.${at + i}`, type, timestamp: at + i }));

/** What `memory()` should say: the sum of `eventBytes` over what the history holds, in all and per type. */
function heldBytes(retention: Retention): { bytes: number; types: Record<string, { count: number; bytes: number }> } {
  const types: Record<string, { count: number; bytes: number }> = {};
  let bytes = 0;
  for (const held of retention.history.snapshot()) {
    const size = eventBytes(held);
    bytes += size;
    const tally = (types[held.type] ??= { count: 0, bytes: 0 });
    tally.count++;
    tally.bytes += size;
  }
  return { bytes, types };
}

function assertCounted(retention: Retention, what: string): void {
  const stats = retention.memoryStats()!;
  const held = heldBytes(retention);
  assert.equal({ bytes: stats.bytes, types: stats.types }, held, what);
  assert.is(retention.bytes, held.bytes, `${what}: maxBytes counts the same`);
}

test('adopt - an adopted event is counted at its bytes in the frame, as a station counts it; removal by policy, search and time gives them back exactly', () => {
  const clock = new ManualClock(0);
  const { retention, post } = busRetention(
    { budget: { busBytes: 1_000_000 }, policies: { 'user.login': { ttlMs: 50 }, 'user.logout': { removeAfterSearch: true, maxBytes: 1_000_000 } } },
    clock,
  );
  const logins = posted(40, 'user.login', 0);
  const logouts = posted(40, 'user.logout', 100);
  for (const e of [...logins, ...logouts]) post(e);
  const counted = retention.memoryStats()!;
  assertCounted(retention, 'as posted');
  const all = [...logins, ...logouts];
  const frames = framed(all, 32);
  retention.adopt(all, frames);
  const stats = retention.memoryStats()!;
  // Counted again, by design: at the sizes the station counts the same events at.
  assert.is(stats.bytes, frames.reduce((sum, e) => sum + eventBytes(e), 0));
  assert.is.not(stats.bytes, counted.bytes, 'the frame does not take what the objects were counted at');
  assertCounted(retention, 'after adopt');
  assert.ok(stats.frameBytes > 0, 'the frames they are kept in show');
  // After search: the logouts leave as they are read.
  retention.afterSearch(retention.history.query({ types: ['user.logout'] }));
  assertCounted(retention, 'after search');
  // By time: the logins' ttl passes.
  clock.advance(100);
  assert.is(retention.expire().length, 40);
  assert.is(retention.history.size, 0);
  assert.is(retention.memoryStats()!.bytes, 0);
  assert.is(retention.bytes, 0);
  assert.equal(retention.memoryStats()!.types, {});
});

test('adopt - memory().bytes is the sum of eventBytes over what is held after every post, sync, read, eviction, removal and repack (property)', () => {
  let moved = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('post' as const), n: fc.integer({ min: 1, max: 40 }), kind: fc.nat(4) }),
          fc.record({ op: fc.constant('sync' as const), frame: fc.integer({ min: 1, max: 64 }), part: fc.nat(3) }),
          fc.record({ op: fc.constant('remove' as const), every: fc.integer({ min: 2, max: 5 }) }),
          fc.record({ op: fc.constant('search' as const) }),
          fc.record({ op: fc.constant('tick' as const), ms: fc.nat(30) }),
          // Frames of FRAMED_READ_MIN_EVENTS or more are kept as places, smaller ones as objects.
          fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: 1, max: 120 }), frame: fc.constantFrom(8, 64, 128), again: fc.nat(10) }),
          // The objects small reads left, framed and adopted (`read-framer.ts`), some or all.
          fc.record({ op: fc.constant('frameReads' as const), n: fc.integer({ min: 1, max: 300 }) }),
        ),
        { maxLength: 30 },
      ),
      fc.integer({ min: 6_000, max: 40_000 }),
      (ops, busBytes) => {
        const clock = new ManualClock(0);
        const { retention, post } = busRetention(
          {
            budget: { busBytes },
            limits: { maxBytes: 30_000 },
            policies: { 'user.logout': { removeAfterSearch: true }, 'order.created': { ttlMs: 20, maxBytes: 3_000 }, 'sys.tick': { importance: 'high' } },
          },
          clock,
        );
        const framer = frameReadsOf(retention, { schedule: 'manual' });
        let next = 0;
        let read = 0;
        for (const step of ops) {
          if (step.op === 'post') {
            for (let i = 0; i < step.n; i++, next++) {
              const e = { ...event(next), id: `0.0.${next}`, type: TYPES[(next + step.kind) % TYPES.length]!, timestamp: clock.now() };
              try {
                post(e);
              } catch {
                // Refused (only high events could make room, or a limit): nothing joined.
              }
            }
          } else if (step.op === 'sync') {
            // What a sync sent: the objects held, or a part of them, framed in order.
            const objects = retention.history.snapshot().filter((e) => !(e instanceof EncodedEvent));
            const sent = objects.filter((_, i) => step.part === 0 || i % (step.part + 1) !== 0);
            retention.adopt(sent, framed(sent, step.frame, true));
          } else if (step.op === 'remove') {
            // All but every `every`-th: frames left less than half held, with events to move.
            retention.remove(retention.history.snapshot().filter((_, i) => i % step.every !== 0));
          } else if (step.op === 'read') {
            // A read of the station: other threads' events in the reply's frames, and some this bus holds already.
            const theirs = Array.from({ length: step.n }, (_, i) => ({ ...event(read + i), id: `1.0.${read + i}`, timestamp: clock.now() }));
            read += step.n;
            const again = retention.history.snapshot().filter((e) => !(e instanceof EncodedEvent)).slice(0, step.again);
            const history = framed([...again.map((e) => plainEvents([e])[0]!), ...theirs].sort(compareEvents), step.frame, true);
            mergeReadHistory(retention.history, retention, { batch: { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history, queue: [] } });
          } else if (step.op === 'frameReads') {
            framer.frame(step.n);
          } else if (step.op === 'search') {
            retention.afterSearch(retention.history.query({ types: ['user'] }));
          } else {
            clock.advance(step.ms);
            retention.settle();
          }
          assertCounted(retention, step.op);
          // Frames less than half held are repacked (in a microtask after enough removals; here at once): the events
          // moved are counted at their new places.
          moved += retention.compactFrames();
          assertCounted(retention, `${step.op}, then a repack`);
          const stats = retention.memoryStats()!;
          assert.is(stats.count, retention.history.size);
        }
      },
    ),
    {
      numRuns: 150,
      // One run that surely repacks: a sync in small frames, then all but every third event leave.
      examples: [
        [
          [
            { op: 'post', n: 40, kind: 0 },
            { op: 'sync', frame: 8, part: 0 },
            { op: 'remove', every: 3 },
          ],
          40_000,
        ],
        // A read kept in its frame among posts, then most of it removed: repacked.
        [
          [
            { op: 'post', n: 20, kind: 0 },
            { op: 'read', n: 120, frame: 128, again: 5 },
            { op: 'remove', every: 3 },
          ],
          40_000,
        ],
      ],
    },
  );
  assert.ok(moved > 0, 'some runs repacked frames');
});

test('adopt - eviction after adopt removes the oldest framed events at the sizes counted; the queue lets the objects go', async () => {
  const { retention, post } = busRetention({ budget: { busBytes: 20_000 } });
  // In a function of its own: a suspended async function's frame may keep the last value a loop saw.
  const fill = (): Array<WeakRef<BusEvent>> => {
    const first = posted(60);
    for (const e of first) post(e);
    retention.adopt(first, framed(first, 16));
    return first.map((e) => new WeakRef(e));
  };
  const refs = fill();
  assert.is(await collectUntil(gc, refs), 0, 'neither the history nor the budget queue keeps them');
  const before = retention.memoryStats()!.bytes;
  let evicted: BusEvent[] = [];
  for (const e of posted(200, 'user.login', 1000)) evicted = evicted.concat(post(e));
  assert.ok(evicted.length > 0 && evicted[0] instanceof EncodedEvent, 'the adopted go first: they are the oldest');
  const stats = retention.memoryStats()!;
  assert.ok(stats.bytes <= 20_000 && stats.bytes > 0, `${stats.bytes} within the budget (was ${before})`);
  assertCounted(retention, 'after eviction');
});

const queueTest = suite('EvictionQueue.adopt');

queueTest('adopt - object entries become runs of their frame, at the frame\'s sizes; take gives them back as those places', () => {
  const queue = new EvictionQueue();
  const events = posted(100);
  for (const e of events) queue.push(e, eventBytes(e));
  assert.is(queue.entries, 100);
  const frames = framed(events.slice(10, 90), 32);
  queue.adopt(events.slice(10, 90), frames);
  // 10 objects, 3 runs (32 + 32 + 16), 10 objects.
  assert.is(queue.entries, 23);
  assert.is(queue.length, 100);
  const { keys, sizes } = queue.take(Infinity);
  assert.equal(
    keys.map((key) => key.id),
    events.map((e) => e.id),
  );
  assert.equal(sizes.slice(10, 90), frames.map((e) => eventBytes(e)));
  assert.ok(keys.slice(10, 90).every((key, i) => key instanceof EncodedEvent && key.batch === frames[i]!.batch));
});

queueTest('adopt - with keysOnly, the entries keep their keys at the frame\'s sizes', () => {
  const queue = new EvictionQueue({ keysOnly: true });
  const events = posted(20);
  for (const e of events) queue.push(e, 1);
  const frames = framed(events.slice(5), 8);
  queue.adopt(events.slice(5), frames);
  const { keys, sizes } = queue.take(Infinity);
  assert.equal(keys.map((key) => key.id), events.map((e) => e.id));
  assert.equal(sizes, [...events.slice(0, 5).map(() => 1), ...frames.map((e) => eventBytes(e))]);
});

const runtimeTest = suite('bus history after a sync');

runtimeTest('sync - over frames, the bus keeps what it sent framed; history() and get() give the same events', async () => {
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    for (let i = 0; i < 300; i++) bus.post(i % 2 === 0 ? 'user.login' : 'order.created', { n: i, who: `u${i % 7}` }, { priority: 'immediate', topic: 't' });
    const before = bus.history();
    const refs = before.map((e) => new WeakRef(e));
    const some = before[17]!;
    await bus.sync();
    assert.equal(bus.history(), before);
    assert.equal(bus.history({ types: ['order'], filter: (e) => (e.payload as { n: number }).n > 100 }), before.filter((e) => e.type === 'order.created' && (e.payload as { n: number }).n > 100));
    assert.equal(bus.get(some.id), some);
    assert.equal(ids(runtime.station('external').history()), ids(before));
    before.length = 0;
    // `some` is still referenced here.
    assert.is(await collectUntil(gc, refs, 1), 1);
  } finally {
    await runtime.stop();
  }
});

runtimeTest('sync - removal after search and after delivery reach adopted events', async () => {
  const runtime = createRuntime({
    transport: 'frames',
    deferred: 'manual',
    memory: { policies: { audit: { removeAfterSearch: true }, job: { removeAfterDelivery: true } } },
  });
  try {
    const bus = runtime.bus('external');
    const seen: string[] = [];
    bus.subscribe('job', (e) => void seen.push(e.id));
    const audit = bus.post('audit', { a: 1 }, { priority: 'immediate' });
    const job = bus.post('job', { j: 1 }, { priority: 'deferred' });
    const kept = bus.post('note', 'x', { priority: 'immediate' });
    await bus.sync();
    assert.equal(bus.get(audit.id), audit);
    assert.is(bus.get(audit.id), undefined, 'a search removed it');
    bus.drain();
    await Promise.resolve();
    assert.equal(seen, [job.id]);
    assert.equal(ids(bus.history()), [kept.id]);
  } finally {
    await runtime.stop();
  }
});

runtimeTest('sync - a bus repacks the frames its syncs left: ticks removed once delivered do not keep the frames of the logs that stay', async () => {
  const runtime = createRuntime({ transport: 'frames', deferred: 'manual', memory: { policies: { tick: { removeAfterDelivery: true } } } });
  try {
    const bus = runtime.bus('external');
    let delivered = 0;
    bus.subscribe('tick', () => void delivered++);
    let oneSync = 0;
    const series: string[] = [];
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 500; i++) bus.post('tick', { round, i }, { priority: 'immediate' });
      for (let i = 0; i < 5; i++) bus.post('log', { round, i, text: 'kept' }, { priority: 'immediate' });
      await bus.sync();
      // A repack runs in a microtask after the removals that called for it.
      await new Promise((resolve) => setImmediate(resolve));
      const { bytes, frameBytes, count } = bus.memory()!;
      oneSync ||= frameBytes;
      series.push(`${round}: ${count} held, ${bytes} B, frames ${frameBytes} B`);
      // Without repacking, each sync's frames stay for the 5 logs in them: 60 syncs' worth by the end.
      assert.ok(frameBytes <= 2 * bytes + 12 * oneSync, series.join('\n'));
    }
    assert.is(delivered, 30_000);
    assert.is(bus.history().length, 300);
    assert.equal(
      bus.history().map((e) => (e.payload as { round: number }).round),
      Array.from({ length: 300 }, (_, i) => Math.floor(i / 5)),
    );
  } finally {
    await runtime.stop();
  }
});

runtimeTest('sync - a worker bus keeps what it synced as copies of the frames its channel transferred; reads give the same events', async () => {
  const runtime = createRuntime({ threadsPerProcessor: 2, deferred: 'manual' });
  try {
    await runtime.ready;
    const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    for (let i = 0; i < 300; i++) await bus.post(i % 2 === 0 ? 'user.login' : 'order.created', { n: i }, { priority: 'immediate' });
    const before = await bus.history();
    const objects = (await bus.memory())!;
    assert.is(objects.frameBytes, 0, 'posts are objects until a sync');
    await bus.sync();
    const after = (await bus.memory())!;
    assert.ok(after.frameBytes > 0, 'the history keeps the synced events in frames');
    assert.is(after.count, 300);
    assert.is(after.bytes, after.types['user.login']!.bytes + after.types['order.created']!.bytes);
    assert.equal(await bus.history(), before);
    assert.equal(ids(await runtime.station('external').history()), ids(before));
  } finally {
    await runtime.stop();
  }
});

runtimeTest('sync - over the memory transport nothing is encoded: the bus keeps its objects', async () => {
  const runtime = createRuntime({ transport: 'memory' });
  try {
    const bus = runtime.bus('external');
    const posted = bus.post('user.login', { n: 1 }, { priority: 'immediate' });
    await bus.sync();
    assert.is(bus.history()[0], posted);
  } finally {
    await runtime.stop();
  }
});

runtimeTest('outbox - a bus that does not sync frames its unsent events itself past FRAME_UNSENT_EVENTS, past half its budget; a sync still sends each once', async () => {
  // About 95 B counted an event: 4 396 posts pass half of 600 kB, not the budget.
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual', memory: { budget: { busBytes: 600_000 } } });
  try {
    const bus = runtime.bus('external');
    const count = FRAME_UNSENT_EVENTS + 300;
    const refs = postMany(bus, count);
    const before = structuredClone(bus.history());
    // Idle steps frame whole frames, a step's worth at a time, paced (unref'd timers): wait for them to let the objects go.
    const alive = await collectedByIdleSteps(gc, refs, 255);
    assert.ok(alive < 256, `${alive} of ${count} posts still objects`);
    const held = bus.history();
    assert.equal(held, before);
    assert.is(bus.unsent, count);
    await bus.sync();
    assert.is(bus.unsent, 0);
    assert.equal(ids(runtime.station('external').history()), ids(held));
  } finally {
    await runtime.stop();
  }
});

runtimeTest('outbox - under half its budget, a bus keeps its unsent events as objects (framing waits for memory to matter)', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const refs = postMany(bus, FRAME_UNSENT_EVENTS + 300);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.is(refs.filter((ref) => ref.deref() !== undefined).length, refs.length);
  } finally {
    await runtime.stop();
  }
});

/** Posts `count` events in a function of its own (no frame of the test keeps the last one). */
function postMany(bus: { post(type: string, payload: Payload, options: { priority: 'immediate' }): BusEvent }, count: number): Array<WeakRef<BusEvent>> {
  const refs: Array<WeakRef<BusEvent>> = [];
  for (let i = 0; i < count; i++) refs.push(new WeakRef(bus.post('user.login', { n: i }, { priority: 'immediate' })));
  return refs;
}

const outboxTest = suite('Outbox.frame');

outboxTest('frame - what a sync took while the outbox framed it is forgotten all the same (by id)', () => {
  const adopted: BusEvent[] = [];
  const outbox = new Outbox(undefined, { adopt: (sent) => void adopted.push(...sent), schedule: 'manual' });
  const events = posted(600);
  for (const e of events) outbox.push(e);
  const unsent = outbox.unsent();
  assert.is(outbox.frame(512), 512);
  assert.is(outbox.unframed, 88);
  assert.equal(adopted, events.slice(0, 512));
  outbox.push(event(999));
  outbox.sent(unsent);
  assert.is(outbox.length, 1);
  assert.is(outbox.unframed, 1);
});

outboxTest('relocate - framed unsent events follow their moves out of sparse frames', () => {
  const outbox = new Outbox(undefined, { adopt: () => undefined, schedule: 'manual' });
  const events = posted(300);
  for (const e of events) outbox.push(e);
  outbox.frame(256);
  const before = outbox.unsent() as EncodedEvent[];
  const copies = framed(events.slice(0, 2));
  outbox.relocate(new Map([[before[0]!.batch, copies]]));
  const after = outbox.unsent();
  assert.ok(after[0] === copies[0] && after[1] === copies[1], 'the moved ones are at their new places');
  assert.ok(after.slice(2).every((e, i) => e === before[i + 2]), 'the others stay as they were');
  assert.equal(plainEvents(after), events);
});

test.run();
queueTest.run();
runtimeTest.run();
outboxTest.run();
