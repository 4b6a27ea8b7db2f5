/**
 * `Arrivals`: the order events joined a station's history. Under
 * `memory.compression` the history keeps its older events in compressed
 * blocks and removes them as places there, while the runs hold them at their
 * places in the frames they came in.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Arrivals } from '../../../runtime/station/arrivals.js';
import { eventBatchOf } from '../../../runtime/store/encoded-events.js';
import { EventHistory } from '../../../runtime/store/history.js';
import { encodeFrame, scanFrame } from '../../../schemas/codec/index.js';
import type { BusEvent } from '../../../types.js';

const test = suite('Arrivals');

const origin = { processor: 0, thread: 1, generation: 0 };
const from = { ...origin, side: 'external' as const };
const events = (count: number): BusEvent[] =>
  Array.from({ length: count }, (_, i) => ({ id: `0.1.${i + 1}`, type: 'log', side: 'external', timestamp: 1000 + i, origin, priority: 'normal', payload: { i } }));

test('remove - an event removed once in a compressed block is handed out no more, and leaves the runs', () => {
  const history = new EventHistory({ compression: { plain: false, now: () => 0, schedule: 'manual', keepEvents: 10, blockEvents: 100, maxBlockBytes: 1 << 20 } });
  const arrivals = new Arrivals();
  const sent = events(300);
  // As a station keeps them: places in the frame they came in.
  const scanned = scanFrame(encodeFrame({ kind: 'batch', seq: 0, from, history: sent, queue: [] }));
  if (scanned.kind !== 'encodedBatch') throw new Error('expected an encoded batch');
  arrivals.add(history.merge(eventBatchOf(scanned).history), 'bus:0.1', '0.1');
  while (history.compact(1000));
  assert.is(history.compressedCount, 200);

  const removed = history.remove(sent.slice(5, 7));
  assert.equal(removed.map((event) => event.id), ['0.1.6', '0.1.7']);
  arrivals.remove(removed);
  const read = arrivals.since(1, undefined, 'bus:0.2').history.map((event) => event.id);
  assert.equal(read, sent.slice(1).map((event) => event.id).filter((id) => id !== '0.1.6' && id !== '0.1.7'));

  // Half gone: the runs are rebuilt without them (and without the frames of events that all left).
  arrivals.remove(history.remove(sent.slice(7, 160)));
  assert.is(arrivals.held, 300 - 155);
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history.length, 300 - 155);
});

test.run();
