import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageChannel } from 'node:worker_threads';
import { BusFullError, createRuntime, isBusError, type BusEvent } from '../../../index.js';
import { FrameChannel, messagePortFrames, type FramePort } from '../../../runtime/wire/frame-channel.js';
import { ChannelStationLink, STATION_THREAD, stationServer } from '../../../runtime/station/links.js';
import { EncodedEvent } from '../../../runtime/store/encoded-events.js';
import { splitBatch } from '../../../runtime/wire/transport.js';
import type { EventBatch, WireMessage } from '../../../runtime/wire/protocol.js';
import { decodeFrame } from '../../../schemas/codec/decode.js';
import { encodeFrame } from '../../../schemas/codec/encode.js';
import { watchMerges } from '../../helpers.js';

function events(count: number, thread = 1, start = 0): BusEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `0.${thread}.${start + i}`,
    type: i % 2 === 0 ? 'a.x' : 'b',
    side: 'external' as const,
    timestamp: 1_000 + start + i,
    origin: { processor: 0, thread, generation: 0 },
    priority: 'normal' as const,
    payload: { i },
  }));
}

const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };

function pair(serveB?: (message: WireMessage) => readonly WireMessage[] | Promise<readonly WireMessage[]>, window = 8, maxFrameEvents?: number) {
  const { port1, port2 } = new MessageChannel();
  const frames = maxFrameEvents === undefined ? {} : { maxFrameEvents };
  const a = new FrameChannel(messagePortFrames(port1), { end: 'a', window, name: 'a', ...frames });
  const b = new FrameChannel(messagePortFrames(port2), { end: 'b', serve: serveB, name: 'b', ...frames });
  return {
    a,
    b,
    close: () => {
      a.close();
      b.close();
      port1.close();
      port2.close();
    },
  };
}

const test = suite('FrameChannel');

test('request - replies come back in order, closed by an ack', async () => {
  const { a, close } = pair((message) =>
    message.kind === 'syncRequest'
      ? [
          { kind: 'batch', seq: 0, from, history: events(2), queue: [] },
          { kind: 'batch', seq: 0, from, history: events(1, 1, 2), queue: [] },
        ]
      : [],
  );
  const replies = await a.request({ kind: 'syncRequest', seq: 0, from, side: 'external' });
  assert.equal(replies.map((r) => r.kind), ['batch', 'batch', 'ack']);
  assert.equal((replies[0] as EventBatch).history, events(2));
  assert.is(a.stats.sent, 1);
  assert.is(a.stats.received, 3);
  close();
});

test("request - an end with encodedEvents: 'decoded' gets a reply's events in its frame, each carrying its decoded object", async () => {
  const { port1, port2 } = new MessageChannel();
  const a = new FrameChannel(messagePortFrames(port1), { end: 'a', encodedEvents: 'decoded', name: 'a' });
  const b = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    name: 'b',
    serve: (message) => (message.kind === 'syncRequest' ? [{ kind: 'batch', seq: 0, from, history: events(70), queue: events(2, 2) }] : []),
  });
  const replies = await a.request({ kind: 'syncRequest', seq: 0, from, side: 'external' });
  const reply = replies[0] as EventBatch;
  assert.is(reply.history.length, 70);
  reply.history.forEach((event, i) => {
    assert.ok(event instanceof EncodedEvent && event.batch.count === 70 && event.index === i, `event ${i} is its place in the frame`);
    assert.equal(event.plain, events(70)[i]);
  });
  assert.equal(reply.queue, events(2, 2));
  a.close();
  b.close();
  port1.close();
  port2.close();
});

test('request - a refusal on the other end rejects with its code', async () => {
  const { a, close } = pair(() => {
    throw Object.assign(new Error('no'), {});
  });
  try {
    await a.request({ kind: 'clearSide', seq: 0, remove: 'external', scope: 'internal' });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'TRANSPORT_FAILED'), String(error));
  }
  close();
});

test('request - a BusError refusal crosses with its class\'s fields (a BusFullError\'s bound, held, max, limit, pushed, left)', async () => {
  const { a, close } = pair(() => {
    throw new BusFullError(900, 1_000, 'budget', 'memory.budget.stationBytes', { pushed: 3, left: 4 });
  });
  try {
    const refusal = await a.request({ kind: 'batch', seq: 0, from, history: events(1), queue: [] }).then(() => undefined, (error: unknown) => error);
    assert.ok(refusal instanceof BusFullError, String(refusal));
    assert.equal([refusal.bound, refusal.held, refusal.max, refusal.limit, refusal.pushed, refusal.left], ['budget', 900, 1_000, 'memory.budget.stationBytes', 3, 4]);
  } finally {
    close();
  }
});

test('request - both ends may request at once; replies are never taken for requests', async () => {
  const { port1, port2 } = new MessageChannel();
  const seen: string[] = [];
  const a = new FrameChannel(messagePortFrames(port1), { end: 'a', serve: (m) => (seen.push(`a:${m.kind}`), []) });
  const b = new FrameChannel(messagePortFrames(port2), { end: 'b', serve: (m) => (seen.push(`b:${m.kind}`), []) });
  const batch: EventBatch = { kind: 'batch', seq: 0, from, history: events(1), queue: [] };
  await Promise.all([a.request(batch), b.request(batch), a.request(batch), b.request(batch)]);
  assert.equal(seen.sort(), ['a:batch', 'a:batch', 'b:batch', 'b:batch']);
  a.close();
  b.close();
  port1.close();
  port2.close();
});

test('request - never more than `window` outstanding (credits)', async () => {
  let inFlight = 0;
  let most = 0;
  const gates: Array<() => void> = [];
  const { a, close } = pair(async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise<void>((resolve) => gates.push(resolve));
    inFlight--;
    return [];
  }, 3);
  const requests = Array.from({ length: 10 }, () => a.request({ kind: 'clearSide', seq: 0, remove: 'internal', scope: 'external' }));
  // Release the gates as requests arrive, until all ten are answered.
  let released = 0;
  while (released < 10) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (gates.length > 0) {
      gates.shift()!();
      released++;
    }
    assert.ok(a.outstanding <= 3, `outstanding ${a.outstanding}`);
  }
  await Promise.all(requests);
  assert.is(most, 3);
  close();
});

test('request - a freed slot goes to the longest-waiting request: requests go out in the order they were made', async () => {
  const sent: number[] = [];
  let deliver: (data: unknown) => void = () => {};
  const port: FramePort = {
    send: (frame) => void sent.push((decodeFrame(frame) as { seq: number }).seq),
    listen: (listener) => ((deliver = listener), () => {}),
  };
  const a = new FrameChannel(port, { end: 'a', window: 1, name: 'a' });
  const request = () => a.request({ kind: 'clearSide', seq: 0, remove: 'internal', scope: 'external' });
  const first = request();
  const second = request();
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(sent.length, 1, 'the window holds one');
  // The ack frees the slot, and a third request comes in the same turn, before the second has run again.
  deliver(encodeFrame({ kind: 'ack', seq: sent[0]!, ok: true, credits: 1 }));
  const third = request();
  await first;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(sent.length, 2, 'still one at a time');
  deliver(encodeFrame({ kind: 'ack', seq: sent[1]!, ok: true, credits: 1 }));
  await new Promise<void>((resolve) => setImmediate(resolve));
  deliver(encodeFrame({ kind: 'ack', seq: sent[2]!, ok: true, credits: 1 }));
  await Promise.all([second, third]);
  // Sequence numbers are taken when a request is sent: the second request made must have gone second.
  const order = await Promise.all([first, second, third].map(async (p) => (await p).at(-1) as { seq: number }));
  assert.equal(order.map((ack) => ack.seq), sent);
  assert.is(a.outstanding, 0);
  a.close();
});

test('close - rejects what is outstanding and what comes later', async () => {
  const { a, close } = pair(() => new Promise(() => {}));
  const waiting = a.request({ kind: 'clearSide', seq: 0, remove: 'internal', scope: 'external' });
  a.close();
  for (const promise of [waiting, a.request({ kind: 'clearSide', seq: 0, remove: 'internal', scope: 'external' })]) {
    try {
      await promise;
      assert.unreachable();
    } catch (error) {
      assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
    }
  }
  close();
});

test('receive - a corrupt frame breaks the channel with FRAME_CORRUPT for everyone waiting', async () => {
  let deliver: (data: unknown) => void = () => {};
  const port: FramePort = { send: () => {}, listen: (listener) => ((deliver = listener), () => {}) };
  const channel = new FrameChannel(port);
  const waiting = channel.request({ kind: 'clearSide', seq: 0, remove: 'internal', scope: 'external' });
  deliver(new Uint8Array([1, 2, 3, 4, 5]));
  try {
    await waiting;
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'FRAME_CORRUPT'), String(error));
  }
});

test('receive - events a station keeps do not pin the stream chunk their frame arrived in', async () => {
  // A port that hands frames over as an IPC channel does: views into a larger chunk.
  let deliver: (data: unknown) => void = () => {};
  const chunked: FramePort = {
    send(frame) {
      const chunk = new Uint8Array(frame.length * 4);
      chunk.set(frame, 100);
      deliver(chunk.subarray(100, 100 + frame.length));
    },
    listen: () => () => {},
  };
  const kept: EventBatch[] = [];
  const station = new FrameChannel(
    { send: () => {}, listen: (listener) => ((deliver = listener), () => {}) },
    { end: 'b', encodedEvents: true, serve: (message) => (message.kind === 'batch' && kept.push(message), []), name: 'station' },
  );
  const sender = new FrameChannel(chunked, { end: 'a', name: 'sender' });
  void sender.request({ kind: 'batch', seq: 0, from, history: events(3), queue: [] }).catch(() => {});
  await Promise.resolve();
  const body = (kept[0]!.history[0] as unknown as { batch: { body: Uint8Array } }).batch.body;
  assert.ok(body.buffer.byteLength < 2 * body.byteLength + 64, `the kept body's buffer is ${body.buffer.byteLength} bytes`);
  assert.equal(kept[0]!.history.map((event) => event.id), events(3).map((event) => event.id));
  sender.close();
  station.close();
});

test.run();

const links = suite('ChannelStationLink + stationServer');

links('accept and serve - a station across a channel behaves as a local one', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const { a, close } = pair(stationServer((side) => runtime.station(side), () => runtime.bridge.direction), 8, 3);
  const link = new ChannelStationLink(a);
  const history = events(8);
  const queue = events(2, 1, 100).map((e) => ({ ...e, priority: 'deferred' as const }));
  await link.accept({ kind: 'batch', seq: 0, from, history, queue });
  assert.equal(runtime.station('external').history(), history);
  assert.equal(runtime.station('external').queued(), queue);
  await link.accept({ kind: 'batch', seq: 0, from, history, queue: [] });
  assert.is(runtime.station('external').size, 8, 'resending adds nothing');
  const reply = await link.serve({ kind: 'syncRequest', seq: 0, from, side: 'external', types: ['a'] });
  assert.equal(reply.batch.history, history.filter((e) => e.type === 'a.x'));
  assert.equal(reply.batch.queue, queue, 'the parked queue comes back to its thread');
  assert.is(reply.through, 8, 'eight events arrived');
  const reader = { ...from, thread: 2 };
  const later = await link.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'external', since: 6 });
  assert.equal(later.batch.history, history.slice(6), 'since: only what arrived after');
  const own = await link.serve({ kind: 'syncRequest', seq: 0, from, side: 'external', since: 6 });
  assert.equal(own.batch.history, [], 'since: not what the reader sent itself');
  assert.equal(runtime.station('external').queued(), []);
  const framesBefore = a.stats.received;
  const nothing = await link.serve({ kind: 'syncRequest', seq: 0, from, side: 'external', since: 8 });
  assert.equal([nothing.batch.history, nothing.batch.queue, nothing.through], [[], [], 8]);
  assert.is(a.stats.received - framesBefore, 1, 'nothing new: the Ack alone answers');
  try {
    await link.serve({ kind: 'syncRequest', seq: 0, from: { ...from, side: 'internal' }, side: 'external' });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'BRIDGE_CLOSED'), String(error));
  }
  close();
  await runtime.stop();
});

links('splitBatch - chunks keep order and cover everything once', () => {
  const batch: EventBatch = { kind: 'batch', seq: 0, from, history: events(7), queue: events(3, 2) };
  const parts = splitBatch(batch, 3);
  assert.equal(parts.flatMap((p) => p.history), batch.history);
  assert.equal(parts.flatMap((p) => p.queue), batch.queue);
  assert.ok(parts.every((p) => p.history.length + p.queue.length <= 3));
  assert.equal(splitBatch({ ...batch, history: [], queue: [] }, 3).length, 1);
});

links.run();

const whole = suite('ChannelStationLink - batches merge whole');

whole('accept - a local station\'s batch of more than one frame reaches the main station at once (processor → main)', async () => {
  const { runtime, seen } = watchMerges('station:main:external', (watched) => watched.mainStation('external').size);
  const { a, close } = pair(stationServer((side) => runtime.mainStation(side), () => runtime.bridge.direction));
  try {
    const link = new ChannelStationLink(a);
    const station = { processor: 1, thread: STATION_THREAD, generation: 0, side: 'external' as const };
    const history = events(10_000);
    const queue = events(5_000, 2).map((event) => ({ ...event, priority: 'deferred' as const }));
    await link.accept({ kind: 'batch', seq: 0, from: station, history, queue });
    assert.equal(seen, [10_000], 'one merge, of everything');
    assert.is(runtime.mainStation('external').queued().length, 5_000);
    assert.ok(a.stats.sent > 1, 'it did travel as several frames');
  } finally {
    close();
    await runtime.stop();
  }
});

whole('receive - parts of a request wait for its last part; parts of two requests do not mix', async () => {
  const frames: Uint8Array[] = [];
  const sender = new FrameChannel({ send: (frame) => void frames.push(frame), listen: () => () => {} }, { end: 'a', maxFrameEvents: 3 });
  let deliver: (data: unknown) => void = () => {};
  const served: EventBatch[] = [];
  const receiver = new FrameChannel(
    { send: () => {}, listen: (listener) => ((deliver = listener), () => {}) },
    { end: 'b', serve: (message) => (message.kind === 'batch' && served.push(message), []) },
  );
  try {
    void sender.request({ kind: 'batch', seq: 0, from, history: events(7), queue: [] }).catch(() => {});
    void sender.request({ kind: 'batch', seq: 0, from, history: events(4, 2), queue: [] }).catch(() => {});
    assert.is(frames.length, 5, '3 + 2 frames');
    // The second request's first part arrives between the first request's parts.
    for (const i of [0, 3, 1]) deliver(frames[i]);
    await Promise.resolve();
    assert.equal(served, [], 'no request is complete yet');
    deliver(frames[2]);
    await Promise.resolve();
    assert.equal(served.map((batch) => batch.history.length), [7]);
    assert.equal(served[0]!.history, events(7));
    deliver(frames[4]);
    await Promise.resolve();
    assert.equal(served.map((batch) => batch.history.length), [7, 4]);
  } finally {
    sender.close();
    receiver.close();
  }
});

whole('receive - a cut request that would hold more than maxHeldBytes is refused whole with FRAME_TOO_LARGE; later requests pass', async () => {
  // The size of one 3-event part, measured on a channel that only records what it sends.
  const measured: Uint8Array[] = [];
  const dry = new FrameChannel({ send: (frame) => void measured.push(frame), listen: () => () => {} }, { end: 'a', maxFrameEvents: 3 });
  void dry.request({ kind: 'batch', seq: 0, from, history: events(7), queue: [] }).catch(() => {});
  dry.close();
  assert.is(measured.length, 3);
  const { port1, port2 } = new MessageChannel();
  const served: EventBatch[] = [];
  const sender = new FrameChannel(messagePortFrames(port1), { end: 'a', maxFrameEvents: 3, name: 'sender' });
  const receiver = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    name: 'receiver',
    // Room for a 3-event part and a 1-event part, not for two 3-event parts.
    maxHeldBytes: measured[0]!.byteLength + measured[2]!.byteLength + 16,
    serve: (message) => (message.kind === 'batch' && served.push(message), []),
  });
  try {
    try {
      await sender.request({ kind: 'batch', seq: 0, from, history: events(7), queue: [] });
      assert.unreachable('the receiver cannot hold two 3-event parts');
    } catch (error) {
      assert.ok(isBusError(error, 'FRAME_TOO_LARGE'), String(error));
      assert.match(String(error), /maxBatch/);
    }
    assert.equal(served, [], 'nothing of the refused request was served');
    // What was held for it is released: a request of one part, and one cut into a 3-event and a 1-event part, pass whole.
    await sender.request({ kind: 'batch', seq: 0, from, history: events(2, 2), queue: [] });
    await sender.request({ kind: 'batch', seq: 0, from, history: events(4, 3), queue: [] });
    assert.equal(served.map((batch) => batch.history.length), [2, 4]);
    assert.equal(served[1]!.history, events(4, 3));
  } finally {
    sender.close();
    receiver.close();
    port1.close();
    port2.close();
  }
});

whole.run();
