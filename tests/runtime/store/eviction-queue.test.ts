/**
 * `EvictionQueue`: what a memory budget evicts, found without sorting by
 * size: against a reference model that sorts every entry (largest first by
 * size class, then oldest) and takes until enough bytes are freed.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EncodedEvent, scanBatch, UNREAD_ENDPOINT } from '../../../runtime/store/encoded-events.js';
import { EvictionQueue, SIZE_STEP, framedBytes, sizeClass, type EventKey } from '../../../runtime/store/eviction-queue.js';
import { compareEvents } from '../../../runtime/store/history-query.js';
import type { BusEvent } from '../../../types.js';

const test = suite('EvictionQueue');

/** The rule, spelled out: largest first by size class, within a class the oldest, until `bytes` are freed. */
function reference(entries: ReadonlyArray<{ key: EventKey; size: number }>, bytes: number): EventKey[] {
  const largest = Math.max(0, ...entries.map((e) => e.size));
  const ranked = [...entries].sort((a, b) => sizeClass(largest, a.size) - sizeClass(largest, b.size) || compareEvents(a.key, b.key));
  const taken: EventKey[] = [];
  let freed = 0;
  for (const { key, size } of ranked) {
    if (freed >= bytes) break;
    taken.push(key);
    freed += size;
  }
  return taken.sort(compareEvents);
}

const entry = (i: number, timestamp: number, size: number) => ({ key: { timestamp, id: `e${String(i).padStart(3, '0')}` }, size });

test('take - the largest, then the oldest, until the bytes are freed, as sorting all would (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ stamp: fc.integer({ min: 0, max: 40 }), size: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(100, 101, 5000)) }), { maxLength: 60 }),
      fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 5 }),
      (pushed, takes) => {
        const queue = new EvictionQueue();
        let held = pushed.map(({ stamp, size }, i) => entry(i, stamp, size));
        for (const { key, size } of held) queue.push(key, size);
        for (const bytes of takes) {
          const expected = reference(held, bytes);
          const { keys, sizes } = queue.take(bytes);
          assert.equal([...keys].sort(compareEvents), expected);
          assert.equal(keys, [...keys].sort(compareEvents), 'in queue order: oldest first');
          assert.equal(sizes, keys.map((key) => held.find((e) => e.key === key)!.size));
          held = held.filter((e) => !keys.includes(e.key));
          assert.is(queue.length, held.length);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('sizeClass - sizes within SIZE_STEP of the largest are class 0; each further step down is one class more', () => {
  assert.equal([1000, 999, 801, 800, 640, 639, 100].map((size) => sizeClass(1000, size)), [0, 0, 0, 1, 2, 2, 10]);
  assert.is(SIZE_STEP, 1.25);
});

test('take - sizes a byte apart are one class: the oldest go, not the larger new ones', () => {
  const queue = new EvictionQueue();
  for (let i = 0; i < 4; i++) queue.push(entry(i, i, 100).key, 100);
  for (let i = 4; i < 8; i++) queue.push(entry(i, i, 101).key, 101);
  assert.equal(queue.take(150).keys.map((key) => key.id), ['e000', 'e001']);
});

test('take - equal sizes: the oldest, as many as needed; all when they do not suffice', () => {
  const queue = new EvictionQueue();
  for (let i = 0; i < 10; i++) queue.push(entry(i, i, 100).key, 100);
  assert.equal(queue.take(250).keys.map((key) => key.id), ['e000', 'e001', 'e002']);
  assert.equal(queue.take(100_000).keys.map((key) => key.id), ['e003', 'e004', 'e005', 'e006', 'e007', 'e008', 'e009']);
  assert.is(queue.length, 0);
  assert.equal(queue.take(10).keys, []);
});

test('take - entries pushed out of order (a merge of older events) are taken oldest first', () => {
  const queue = new EvictionQueue();
  for (const stamp of [5, 6, 1, 7, 2]) queue.push({ timestamp: stamp, id: `s${stamp}` }, 10);
  assert.equal(queue.take(30).keys.map((key) => key.id), ['s1', 's2', 's5']);
  queue.push({ timestamp: 3, id: 's3' }, 10);
  assert.equal(queue.take(10).keys.map((key) => key.id), ['s3']);
});

test('prune - drops the entries whose events are gone, keeping order and sizes', () => {
  const queue = new EvictionQueue();
  for (let i = 0; i < 6; i++) queue.push(entry(i, i, i + 1).key, i + 1);
  queue.prune((key) => key.id !== 'e001' && key.id !== 'e004');
  assert.is(queue.length, 4);
  const { keys, sizes } = queue.take(100);
  assert.equal(keys.map((key) => key.id), ['e000', 'e002', 'e003', 'e005']);
  assert.equal(sizes, [1, 3, 4, 6]);
});

/** Events in frames of `size` (their stamps `first`, `first + 1`, ...), as a station holds them: places in their frames. */
function frame(first: number, payloads: readonly string[], ids: (i: number) => string): EncodedEvent[] {
  const history: BusEvent[] = payloads.map((text, i) => ({
    id: ids(first + i),
    type: 'user.login',
    side: 'external',
    timestamp: first + i,
    origin: { processor: 0, thread: 0, generation: 0 },
    priority: 'normal',
    payload: text,
  }));
  return scanBatch(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history, queue: [] })).history as EncodedEvent[];
}

/** Ids of every shape: a thread's (`<p>.<t>.<n>`, packed), and others kept as strings (a leading zero, no digits, too long). */
const mixedId = (i: number): string => (i % 7 === 3 ? `x.0${i}` : i % 11 === 5 ? `id-${'abc'[i % 3]}${i}-z` : i % 13 === 6 ? `1.2.${10_000_000_000 + i}` : `${i % 2}.0.${i}`);

const same = (a: EventKey, b: EventKey): boolean => a.timestamp === b.timestamp && a.id === b.id;

test('take - runs of a frame, objects and keys-only entries, pushed in and out of order, pruned: as sorting all would (property)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(
        fc.record({
          // A frame's events: payload lengths (sizes), which of them are pushed, and where its stamps start.
          payloads: fc.array(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(60, 61, 400)), { minLength: 1, maxLength: 12 }),
          skip: fc.array(fc.boolean(), { maxLength: 12 }),
          start: fc.integer({ min: 0, max: 200 }),
          // Pushed as plain objects (a bus's), or at a size other than the frame's (an entry of its own).
          plain: fc.boolean(),
          resized: fc.integer({ min: -1, max: 12 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constant(-1)), { minLength: 1, maxLength: 6 }),
      (keysOnly, frames, steps) => {
        const queue = new EvictionQueue({ keysOnly });
        let held: Array<{ key: EventKey; size: number }> = [];
        let stamp = 0;
        for (const { payloads, skip, start, plain, resized } of frames) {
          // Stamps unique across frames: `start` moves a frame before others (a merge of older events).
          const first = start * 1000 + stamp;
          stamp += payloads.length;
          const events = frame(first, payloads.map((length) => 'p'.repeat(length)), mixedId);
          events.forEach((event, i) => {
            if (skip[i] === true) return;
            const key: EventKey = plain ? event.decoded() : event;
            const size = framedBytes(event.batch, event.index) + (i === resized ? 3 : 0);
            queue.push(key, size);
            held.push({ key, size });
          });
        }
        for (const bytes of steps) {
          if (bytes < 0) {
            // Prune every third event held.
            const gone = held.filter((_, i) => i % 3 === 0);
            queue.prune((key) => !gone.some((e) => same(e.key, key)));
            held = held.filter((e) => !gone.includes(e));
            assert.is(queue.length, held.length);
            continue;
          }
          const expected = reference(held, bytes);
          const { keys, sizes } = queue.take(bytes);
          assert.equal(keys.map((key) => `${key.timestamp}/${key.id}`), expected.map((key) => `${key.timestamp}/${key.id}`));
          assert.equal(
            sizes,
            keys.map((key) => held.find((e) => same(e.key, key))!.size),
          );
          if (keysOnly) assert.ok(keys.every((key) => Object.getPrototypeOf(key) === Object.prototype), 'keys only: no event, no frame');
          held = held.filter((e) => !keys.some((key) => same(e.key, key)));
          assert.is(queue.length, held.length);
        }
      },
    ),
    { numRuns: 400 },
  );
});

test('push, take - rounds that take most of what was pushed since (a `low` queue): the columns are used again, the rule holds (property)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.record({ pushed: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 40 }), bytes: fc.integer({ min: 0, max: 6000 }) }), { minLength: 1, maxLength: 30 }),
      (keysOnly, rounds) => {
        const queue = new EvictionQueue({ keysOnly });
        let held: Array<{ key: EventKey; size: number }> = [];
        let i = 0;
        for (const { pushed, bytes } of rounds) {
          for (const size of pushed) {
            const pushedEntry = entry(i, i, size);
            i++;
            queue.push(pushedEntry.key, size);
            held.push(pushedEntry);
          }
          const expected = reference(held, bytes);
          const { keys, sizes } = queue.take(bytes);
          assert.equal(keys.map((key) => key.id), expected.map((key) => key.id));
          assert.equal(sizes, keys.map((key) => held.find((e) => e.key.id === key.id)!.size));
          held = held.filter((e) => !keys.some((key) => key.id === e.key.id));
          assert.is(queue.length, held.length);
          assert.is(queue.entries, held.length);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('push - the events of a frame in a row are one entry: 100 000 events of 400 frames are 400 entries', () => {
  const events: EncodedEvent[] = [];
  for (let f = 0; f < 400; f++) events.push(...frame(f * 250, Array.from({ length: 250 }, (_, i) => 'x'.repeat(i % 50)), (i) => `0.0.${i}`));
  const queue = new EvictionQueue();
  for (const event of events) queue.push(event, framedBytes(event.batch, event.index));
  assert.is(queue.length, 100_000);
  // 400 frames: 400 entries, the frame and one integer each.
  assert.is(queue.entries, 400);
  // Taking from the middle of runs cuts them; what stays joins up again when the queue is made again.
  const some = queue.take(5000);
  assert.ok(some.keys.length > 0 && queue.entries > 400);
  queue.prune(() => true);
  assert.ok(queue.entries <= 400 + some.keys.length);
  queue.push(events[0]!, framedBytes(events[0]!.batch, events[0]!.index));
  const all = queue.take(Infinity);
  assert.is(all.keys.length, 100_000 - some.keys.length + 1);
  const left = events.filter((event) => !some.keys.some((key) => key.timestamp === event.timestamp));
  assert.ok([events[0]!, ...left].every((event, i) => all.keys[i]!.timestamp === event.timestamp && (all.keys[i] as EncodedEvent).batch === event.batch));
  assert.is(queue.entries, 0);
});

test('take - one round reads the sizes of what it takes, not of every event held: 10 000 events, the oldest taken', () => {
  // Each frame's `count` is read once per size read from it (`framedBytes`): counting those reads counts the work.
  let reads = 0;
  const events: EncodedEvent[] = [];
  for (let f = 0; f < 40; f++) {
    const scanned = frame(f * 250, Array.from({ length: 250 }, () => 'x'.repeat(40)), (i) => `0.0.${i}`);
    const batch = scanned[0]!.batch;
    const counted = { ...batch };
    Object.defineProperty(counted, 'count', { get: () => (reads++, batch.count) });
    events.push(...scanned.map((event) => new EncodedEvent(counted, event.index)));
  }
  const queue = new EvictionQueue();
  for (const event of events) queue.push(event, framedBytes(event.batch, event.index));
  assert.is(queue.entries, 40);
  for (let round = 0; round < 3; round++) {
    reads = 0;
    const { keys } = queue.take(1);
    assert.equal(keys.map((key) => key.timestamp), [round]);
    // Three passes over all 10 000 sizes before (the largest, the bytes per class, the pick).
    assert.ok(reads < 20, `one round read ${reads} sizes`);
  }
  assert.is(queue.length, 10_000 - 3);
  assert.is(queue.take(Infinity).keys.length, 10_000 - 3);
});

test('take - runs none of whose events a round takes are passed over unread: a rare large event, newest, among 10 000 small ones', () => {
  let reads = 0;
  const counting = (scanned: EncodedEvent[]): EncodedEvent[] => {
    const batch = scanned[0]!.batch;
    const counted = { ...batch };
    Object.defineProperty(counted, 'count', { get: () => (reads++, batch.count) });
    return scanned.map((event) => new EncodedEvent(counted, event.index));
  };
  const events: EncodedEvent[] = [];
  for (let f = 0; f < 40; f++) events.push(...counting(frame(f * 250, Array.from({ length: 250 }, () => 'x'.repeat(40)), (i) => `0.0.${i}`)));
  const large = counting(frame(10_000, ['y'.repeat(5000)], (i) => `0.0.${i}`));
  const queue = new EvictionQueue();
  for (const event of [...events, ...large]) queue.push(event, framedBytes(event.batch, event.index));
  let held = [...events, ...large].map((event) => ({ key: event as EventKey, size: framedBytes(event.batch, event.index) }));
  // The largest goes first, then the oldest of the next class (a frame's last event, counted to the body's end):
  // the runs between are passed over.
  reads = 0;
  framedBytes(events[0]!.batch, 0);
  const perSize = reads;
  for (const bytes of [held.at(-1)!.size + 1, 1]) {
    const expected = reference(held, bytes);
    reads = 0;
    const { keys } = queue.take(bytes);
    // At most the sizes of the one run a small event is taken from (the first), not of all 40.
    assert.ok(reads <= perSize * 251, `one round read ${reads / perSize} sizes`);
    assert.equal(keys.map((key) => key.timestamp), expected.map((key) => key.timestamp));
    held = held.filter(({ key }) => !expected.includes(key));
  }
  assert.is(queue.length, 10_000 - 2);
});

test.run();
