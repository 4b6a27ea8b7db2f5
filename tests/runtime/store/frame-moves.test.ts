/**
 * Moving events out of a sparse frame (`frame-moves.ts`): a history segment
 * and an eviction queue that held places in the old frame hold none after
 * `relocate`, and still name the events that moved (those of the frame that
 * did not move left the history: their entries go).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, type EncodedBatch } from '../../../schemas/codec/index.js';
import type { BusEvent } from '../../../types.js';
import { EncodedEvent, scanBatch, UNREAD_ENDPOINT } from '../../../runtime/store/encoded-events.js';
import { EventSegment } from '../../../runtime/store/event-segment.js';
import { EvictionQueue, framedBytes } from '../../../runtime/store/eviction-queue.js';

const test = suite('FrameMoves');

const origin = { processor: 0, thread: 0, generation: 0 };
const plain = (n: number): BusEvent => ({ id: `0.0.${n}`, type: 'log', timestamp: 1000 + n, side: 'external', origin, priority: 'normal', payload: { n } });
const framed = (events: readonly BusEvent[]) => scanBatch(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] })).history as EncodedEvent[];

test('relocate - a segment and an eviction queue follow the events that moved and let go of their old frame', () => {
  const old = framed([0, 1, 2, 3, 4, 5].map(plain));
  const frame = old[0]!.batch;
  const kept = [old[1]!, old[4]!];
  const copies = framed(kept);
  const moves = new Map<EncodedBatch, Array<EncodedEvent | undefined>>([[frame, []]]);
  kept.forEach((event, i) => void (moves.get(frame)![event.index] = copies[i]));

  const segment = EventSegment.of(kept);
  const queue = new EvictionQueue();
  for (const event of old) queue.push(event, 10);
  segment.relocate(moves);
  queue.relocate(moves);

  const frames = new Map<EncodedBatch, number>();
  segment.countFrames(frames);
  assert.equal([...frames], [[copies[0]!.batch, 2]]);
  assert.equal(segment.slice().map((event) => event.id), ['0.0.1', '0.0.4']);
  const { keys } = queue.take(Infinity);
  assert.ok(keys.every((key) => key instanceof EncodedEvent && key.batch === copies[0]!.batch), 'none holds the old frame: the moved ones are places in the new frame');
  assert.equal(keys.map((key) => key.id), ['0.0.1', '0.0.4'], 'the others left the history: their entries go');
});

test('relocate - an eviction queue keeps no entry of an event that left a repacked frame (no key object of its own), and the others of other frames as they were', () => {
  const old = framed([0, 1, 2, 3, 4, 5].map(plain));
  const other = framed([6, 7].map(plain));
  const frame = old[0]!.batch;
  const copies = framed([old[2]!]);
  const moves = new Map<EncodedBatch, Array<EncodedEvent | undefined>>([[frame, []]]);
  moves.get(frame)![2] = copies[0];
  const queue = new EvictionQueue();
  for (const event of [...old, ...other]) queue.push(event, framedBytes(event.batch, event.index));
  assert.is(queue.entries, 2, 'a run of each frame');
  queue.relocate(moves);
  assert.is(queue.length, 3, 'the moved event and the two of the other frame');
  assert.is(queue.entries, 2, 'each a run of its frame');
  const { keys } = queue.take(Infinity);
  assert.equal(keys.map((key) => key.id), ['0.0.2', '0.0.6', '0.0.7']);
  assert.ok(keys.every((key) => key instanceof EncodedEvent));
});

test('relocate - an eviction queue ranks a moved event at its size in its new frame, as the budget counts it from then on', () => {
  // Payloads of different lengths: event 4, last of the two copied, is counted to its new frame's end, more than its span before.
  const old = framed([0, 1, 2, 3, 4, 5].map((n) => ({ ...plain(n), payload: { text: 'x'.repeat(n * 7) } })));
  const frame = old[0]!.batch;
  const kept = [old[1]!, old[4]!];
  const copies = framed(kept);
  const moves = new Map<EncodedBatch, Array<EncodedEvent | undefined>>([[frame, []]]);
  kept.forEach((event, i) => void (moves.get(frame)![event.index] = copies[i]));
  const before = old.map((event) => framedBytes(event.batch, event.index));
  const after = copies.map((event) => framedBytes(event.batch, event.index));
  assert.is.not(after[1], before[4], 'the test needs a moved event whose size changes');

  const queue = new EvictionQueue();
  for (const event of old) queue.push(event, framedBytes(event.batch, event.index));
  queue.relocate(moves);
  const { keys, sizes } = queue.take(Infinity);
  assert.equal(keys.map((key) => key.id), ['0.0.1', '0.0.4'], 'the others left the history');
  assert.equal(sizes, [after[0], after[1]], 'at their new sizes');
});

test.run();
