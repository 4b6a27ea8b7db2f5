/**
 * Stations keep what they receive as bytes (`EncodedEvent`); nothing outside
 * the runtime ever sees one: readers get plain events.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent } from '../../../index.js';
import { EncodedEvent, eventBatchOf, plainEvents } from '../../../runtime/store/encoded-events.js';
import { EventHistory } from '../../../runtime/store/history.js';
import { keepable } from '../../../runtime/station/repack.js';
import type { WireMessage } from '../../../runtime/wire/protocol.js';
import { serveThread } from '../fixtures/served-thread.js';
import { encodeFrame, scanFrame, type EncodedBatch } from '../../../schemas/codec/index.js';

const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };

function sample(count: number): BusEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `0.1.${i}`,
    type: i % 2 === 0 ? 'order.created' : 'user.login',
    side: 'external' as const,
    timestamp: 1_000 + i,
    origin: { processor: 0, thread: 1, generation: 0 },
    priority: 'normal' as const,
    ...(i % 3 === 0 ? { topic: 'eu' } : {}),
    payload: { i, text: 'ünï' },
    ...(i % 4 === 0 ? { meta: { trace: `t${i}` } } : {}),
  }));
}

function scanned(events: readonly BusEvent[]): EncodedBatch {
  const message = scanFrame(encodeFrame({ kind: 'batch', seq: 3, from, history: events, queue: [] }));
  if (message.kind !== 'encodedBatch') throw new Error(`expected an encoded batch, got ${message.kind}`);
  return message;
}

const isPlain = (event: BusEvent) => Object.getPrototypeOf(event) === Object.prototype;

const unit = suite('EncodedEvent');

unit('reads as the event it encodes; decodes once, on demand', () => {
  const events = sample(6);
  const batch = eventBatchOf(scanned(events));
  assert.is(batch.seq, 3);
  const encoded = batch.history as EncodedEvent[];
  assert.ok(encoded.every((event) => event instanceof EncodedEvent));
  assert.ok(encoded.every((event) => event.plain === undefined), 'nothing decoded yet');
  assert.equal(
    encoded.map((e) => [e.id, e.type, e.side, e.timestamp, e.origin]),
    events.map((e) => [e.id, e.type, e.side, e.timestamp, e.origin]),
  );
  assert.ok(encoded.every((event) => event.plain === undefined), 'the index fields need no decoding');
  assert.equal(encoded[3]!.payload, events[3]!.payload);
  assert.equal(encoded[3]!.decoded(), events[3]);
  assert.is(encoded[3]!.decoded(), encoded[3]!.decoded(), 'decoded once');
});

unit('plainEvents - decodes runs of one batch together, mixes in plain events, remembers only when asked', () => {
  const first = sample(4);
  const second = sample(8).slice(4);
  const a = eventBatchOf(scanned(first)).history as EncodedEvent[];
  const b = eventBatchOf(scanned(second)).history as EncodedEvent[];
  const loose: BusEvent = { ...first[0]!, id: 'loose', timestamp: 5 };
  const mixed = [a[0]!, a[1]!, loose, b[0]!, a[2]!, b[1]!];
  const once = plainEvents(mixed);
  assert.equal(once, [first[0], first[1], loose, second[0], first[2], second[1]]);
  assert.ok(once.every(isPlain));
  assert.ok(mixed.every((event) => !(event instanceof EncodedEvent) || event.plain === undefined), 'not remembered');
  const kept = plainEvents(mixed, { remember: true });
  assert.is(a[0]!.plain, kept[0], 'remembered');
  assert.is(plainEvents(mixed)[0], kept[0], 'the next reader gets the same object');
  assert.ok(plainEvents(mixed).every(isPlain));
});

unit('keepable - a reply with few new events keeps them in a frame of their own; mostly new, as they came', () => {
  const held = eventBatchOf(scanned(sample(100))).history;
  const history = new EventHistory();
  history.merge(held);
  const reply = eventBatchOf(scanned(sample(101))).history;
  const kept = keepable(reply, history) as EncodedEvent[];
  assert.equal(plainEvents(kept), sample(101).slice(100), 'only the new event');
  assert.ok(kept[0] instanceof EncodedEvent && kept[0].batch.count === 1, 'repacked: the 101-event reply is not kept alive');
  const fresh = eventBatchOf(scanned(sample(101))).history;
  const mostlyNew = keepable(fresh, new EventHistory()) as EncodedEvent[];
  assert.is(mostlyNew.length, 101);
  assert.is(mostlyNew[0]!.batch, (fresh[0] as EncodedEvent).batch, 'kept as it came');
});

unit.run();

const runtime = suite('stations hand out plain events');

for (const transport of ['memory', 'frames'] as const) {
  runtime(`${transport} transport - history, get, filters and the buses of this thread see plain events`, async () => {
    const rt = createRuntime({ transport, deferred: 'manual' });
    const remote = serveThread(rt); // its batches reach the station as frames
    try {
      const bus = remote.handle.bus('external');
      const posted = await Promise.all([
        bus.post('order.created', { n: 1 }, { topic: 'eu', meta: { trace: 'a' } }),
        bus.post('user.login', { n: 2 }),
      ]);
      await bus.toStation();
      const station = rt.station('external');
      const history = station.history();
      assert.equal(history, posted);
      assert.ok(history.every(isPlain));
      const seen: BusEvent[] = [];
      assert.equal(station.history({ filter: (event) => (seen.push(event), event.type === 'user.login') }), [posted[1]]);
      assert.ok(seen.length === 2 && seen.every(isPlain), 'a filter sees plain events');
      assert.ok(isPlain(station.get(posted[0]!.id)!));
      const delivered: BusEvent[] = [];
      rt.bus('external').subscribe('order', (event) => void delivered.push(event));
      const { added } = await rt.bus('external').fromStation();
      assert.equal(added, posted);
      assert.ok(added.every(isPlain) && delivered.every(isPlain), 'a bus in this thread gets plain events');
      assert.equal(delivered, [posted[0]]);
      await station.toMain();
      assert.equal(rt.mainStation('external').history(), posted, 'the main station got them through the local one');
    } finally {
      await remote.stop();
      await rt.stop();
    }
  });
}

runtime('a transport of your own is handed plain events only', async () => {
  const seen: BusEvent[] = [];
  const transport = {
    name: 'cloning',
    // A transport that clones what it carries, as one across a real boundary would.
    carry: (message: WireMessage) => {
      if (message.kind === 'batch') seen.push(...message.history);
      return Promise.resolve(structuredClone(message));
    },
  };
  const rt = createRuntime({ transport, deferred: 'manual' });
  const remote = serveThread(rt); // its batches reach the station as frames
  try {
    const posted = await remote.handle.bus('external').post('custom.transport', { n: 1 });
    await remote.handle.bus('external').toStation();
    const station = rt.station('external');
    await station.toMain();
    const { added } = await rt.bus('external').fromStation();
    assert.equal(added, [posted]);
    assert.equal(rt.mainStation('external').history(), [posted]);
    assert.ok(seen.length >= 2 && seen.every(isPlain), 'the transport saw plain events');
  } finally {
    await remote.stop();
    await rt.stop();
  }
});

runtime.run();
