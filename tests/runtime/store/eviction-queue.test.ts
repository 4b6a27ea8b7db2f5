/**
 * `EvictionQueue`: what a memory budget evicts, found without sorting by
 * size: against a reference model that sorts every entry (largest first by
 * size class, then oldest) and takes until enough bytes are freed.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EvictionQueue, SIZE_STEP, sizeClass, type EventKey } from '../../../runtime/store/eviction-queue.js';
import { compareEvents } from '../../../runtime/store/history-query.js';

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

test.run();
