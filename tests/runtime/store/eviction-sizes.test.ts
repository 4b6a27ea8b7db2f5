/**
 * An eviction counts each event out at the size it is counted at, also where the budget's queue holds a stale
 * entry of it (the event left another way, then came again at another place in another frame).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { UNREAD_ENDPOINT, scanBatch } from '../../../runtime/store/encoded-events.js';
import { MemoryPolicies, checkMemoryOptions } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { BusEvent } from '../../../types.js';

const test = suite('eviction sizes');

const event = (n: number, payload = 100, type = 'log.line'): BusEvent => ({
  id: `0.0.${n}`, type, side: 'external', timestamp: n, origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload: 'x'.repeat(payload),
});
const framed = (events: readonly BusEvent[]) => scanBatch(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] })).history;

test('evict - an event sent again at another place, its first place still queued, is counted out at the size it is held at', () => {
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions({ budget: { stationBytes: 4000 }, policies: { big: { importance: 'high' } } })), () => 0, {
    kind: 'station',
    name: 'station:0.0',
  });
  const held = () => retention.history.snapshot().reduce((sum, e) => sum + eventBytes(e), 0);
  // Event 3 last in its first frame (counted to the body's end), first in its second: two sizes.
  const first = framed([event(1), event(2), event(3)]);
  const again = framed([event(3), event(4)]);
  assert.is.not(eventBytes(first[2]!), eventBytes(again[0]!));
  retention.history.merge(first);
  retention.history.merge(framed(Array.from({ length: 20 }, (_, i) => event(10 + i))));
  assert.equal(retention.settle(), [], 'under the budget: listed into the queues, nothing evicted');
  retention.remove([first[2]!]);
  retention.history.merge(retention.history.missing([again[0]!]));
  assert.is(retention.memoryStats()!.bytes, held());
  retention.history.merge(framed([event(100, 2000, 'big')]));
  const evicted = retention.settle();
  assert.ok(evicted.some((e) => e.id === '0.0.3'), 'event 3 was evicted');
  assert.is(retention.memoryStats()!.bytes, held(), 'the budget counts what is held');
});

test('evict - a compressing bus (keys-only queues): events framed by a sync, repacked once most left, are counted out at their sizes since', () => {
  const retention = new Retention(
    new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 200_000 }, compression: true, policies: { big: { importance: 'high' } } })),
    () => 0,
    { kind: 'bus', name: 'bus:0.0:external', blocks: { plain: true, schedule: 'manual' } },
  );
  const held = () => retention.history.snapshot().reduce((sum, e) => sum + eventBytes(e), 0);
  const post = (e: BusEvent) => (retention.admitPost(e), retention.history.insert(e), retention.settle());
  const events = Array.from({ length: 1300 }, (_, i) => event(i, 100 + (i % 7) * 13));
  for (const e of events) post(e);
  assert.ok(retention.memoryStats()!.evicted > 0, 'the queues follow the history');
  const kept = events.filter((e) => retention.history.has(e.id));
  // A sync frames them ten a frame; seven of ten leave; the sparse frames are repacked: the last of each old frame moves to mid-frame.
  for (let i = 0; i < kept.length; i += 10) retention.adopt(kept.slice(i, i + 10), framed(kept.slice(i, i + 10)) as never);
  retention.remove(retention.history.snapshot().filter((_, i) => i % 10 < 7));
  assert.ok(retention.compactFrames() > 0);
  assert.is(retention.memoryStats()!.bytes, held());
  for (let i = 0; i < 118; i++) post(event(5000 + i, 1500, 'big'));
  assert.is(retention.memoryStats()!.bytes, held(), 'the budget counts what is held');
});

test.run();
