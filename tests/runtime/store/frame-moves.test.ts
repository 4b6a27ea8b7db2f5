/**
 * Moving events out of a sparse frame (`frame-moves.ts`): a history segment
 * and an eviction queue that held places in the old frame hold none after
 * `relocate`, and still name the same events.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, type EncodedBatch } from '../../../schemas/codec/index.js';
import type { BusEvent } from '../../../types.js';
import { EncodedEvent, scanBatch, UNREAD_ENDPOINT } from '../../../runtime/store/encoded-events.js';
import { EventSegment } from '../../../runtime/store/event-segment.js';
import { EvictionQueue } from '../../../runtime/store/eviction-queue.js';

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
  assert.equal(keys.map((key) => key.id), old.map((event) => event.id), 'every entry still names its event, in order');
  assert.ok(keys.every((key) => !(key instanceof EncodedEvent) || key.batch !== frame), 'none holds the old frame');
  assert.equal(keys.filter((key) => key instanceof EncodedEvent).map((key) => key.id), ['0.0.1', '0.0.4'], 'the moved ones are places in the new frame');
});

test.run();
