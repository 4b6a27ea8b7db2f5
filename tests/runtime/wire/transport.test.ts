import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBusError } from '../../../index.js';
import { FrameTransport, InMemoryTransport } from '../../../internal.js';
import { EncodedEvent } from '../../../runtime/store/encoded-events.js';
import type { EventBatch } from '../../../runtime/wire/protocol.js';
import type { BusEvent } from '../../../types.js';

function events(count: number, payload: (i: number) => BusEvent['payload'] = (i) => ({ i })): BusEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `0.0.${i}`,
    type: 'chunk.test',
    side: 'external' as const,
    timestamp: 1_000 + i,
    origin: { processor: 0, thread: 0, generation: 0 },
    priority: 'normal' as const,
    payload: payload(i),
  }));
}

function batch(history: BusEvent[], queue: BusEvent[] = []): EventBatch {
  return { kind: 'batch', seq: 9, from: { processor: 0, thread: 0, generation: 0, side: 'external' }, history, queue };
}

const test = suite('transports');

test('InMemoryTransport - passes the message itself', async () => {
  const transport = new InMemoryTransport();
  const message = batch(events(3));
  assert.is(await transport.carry(message), message);
  assert.is(transport.stats.messages, 1);
});

test('FrameTransport - a batch round-trips exactly through one frame', async () => {
  const transport = new FrameTransport();
  const message = batch(events(5), events(2).map((e) => ({ ...e, id: `q${e.id}`, priority: 'deferred' as const })));
  assert.equal(await transport.carry(message), message);
  assert.is(transport.stats.messages, 1);
  assert.ok(transport.stats.bytes > 0);
});

test('FrameTransport - a batch over maxBatchEvents travels as several frames, in order', async () => {
  const transport = new FrameTransport({ maxBatchEvents: 3 });
  const history = events(10);
  const queue = events(4).map((e) => ({ ...e, id: `q.${e.id}` }));
  const carried = await transport.carry(batch(history, queue));
  assert.equal(carried, batch(history, queue));
  assert.is(transport.stats.messages, 5);
});

test('FrameTransport - a batch over the byte limit is halved until each frame fits', async () => {
  const transport = new FrameTransport({ limits: { maxFrameBytes: 4096 }, compress: false });
  const history = events(16, (i) => ({ text: 'x'.repeat(900), i }));
  const carried = await transport.carry(batch(history));
  assert.equal(carried, batch(history));
  assert.ok(transport.stats.messages >= 4, `${transport.stats.messages} frames`);
});

test('FrameTransport - one event larger than a frame is a TransportError, not a hang', async () => {
  const transport = new FrameTransport({ limits: { maxFrameBytes: 1024 }, compress: false });
  try {
    await transport.carry(batch(events(1, () => ({ text: 'y'.repeat(5000) }))));
    assert.unreachable('should reject');
  } catch (error) {
    assert.ok(isBusError(error, 'TRANSPORT_FAILED'), String(error));
  }
});

test("FrameTransport - a bus keeping places ('busPlaces') gets the events in the frames, each carrying the object a bus gets", async () => {
  const transport = new FrameTransport({ maxBatchEvents: 100 });
  const message = batch(events(250, (i) => (i % 2 === 0 ? { i, s: 'é'.repeat(i % 7) } : new Uint8Array([i & 255, 1, 2]))));
  const plain = await transport.carry(message, 'bus');
  const places = await transport.carry(message, 'busPlaces');
  assert.ok(places.kind === 'batch' && plain.kind === 'batch');
  assert.is(places.history.length, 250);
  places.history.forEach((event, i) => {
    assert.ok(event instanceof EncodedEvent, `event ${i} is a place`);
    assert.is(event.batch.count, i < 200 ? 100 : 50);
    assert.ok(event.plain !== undefined, `event ${i} carries its object`);
    assert.equal(event.plain, plain.history[i]);
    assert.is(event.timestamp, message.history[i]!.timestamp);
  });
  assert.equal(places.history.map((event) => (event as EncodedEvent).decoded()), message.history);
});

test('FrameTransport - options are checked', () => {
  for (const options of [{ maxBatchEvents: 0 }, { maxBatchEvents: 1.5 }, { colour: 1 }]) {
    try {
      new FrameTransport(options as never);
      assert.unreachable(JSON.stringify(options));
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  }
});

test.run();
