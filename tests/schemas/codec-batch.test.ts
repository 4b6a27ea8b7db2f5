/**
 * The fast paths of the batch codec: the hand-written batch layout (read back
 * through the generated accessors), JSON payloads written without
 * JSON.stringify, strings shared within a body and the decoder's budget for
 * them, and payloads parsed together by one JSON.parse.
 */
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameError, type FrameErrorReason } from '../../errors.js';
import type { EventBatch } from '../../runtime/wire/protocol.js';
import { decodeFrame, encodeFrame, scanFrame } from '../../schemas/codec/index.js';
// The generated readers pin the hand-written batch layout to busline.fbs.
import * as wire from '../../schemas/generated/busline_generated.js';
import type { BusEvent, JsonValue } from '../../types.js';
import { batch, bodyOf, event, eventStamp, eventType, finishBatchEnvelope, frameAround, handBuiltEvent, isWellFormedString } from './fixtures.js';

function decodeOrReason(frame: Uint8Array): EventBatch | FrameErrorReason {
  try {
    return decodeFrame(frame) as EventBatch;
  } catch (error) {
    if (error instanceof FrameError) return error.reason;
    throw error;
  }
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }));
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const plain = { noNullPrototype: true } as const;
const jsonPayload = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }) as fc.Arbitrary<JsonValue>;
const busEvent: fc.Arbitrary<BusEvent> = fc.record(
  {
    id: text.filter((id) => id !== ''),
    type: fc.oneof(eventType, fc.constantFrom('user.login', 'order.created')),
    side: fc.constantFrom('internal' as const, 'external' as const),
    timestamp: eventStamp,
    origin: fc.record({ processor: uint32, thread: uint32, generation: uint32 }, plain),
    priority: fc.constantFrom('immediate' as const, 'normal' as const, 'deferred' as const),
    topic: fc.oneof(text, fc.constant('orders')),
    payload: fc.oneof(jsonPayload, fc.uint8Array({ maxLength: 24 })),
    meta: fc.dictionary(fc.oneof(text, fc.constant('trace')), text, { maxKeys: 3, noNullPrototype: true }),
  },
  { requiredKeys: ['id', 'type', 'side', 'timestamp', 'origin', 'priority', 'payload'], ...plain },
);
const eventBatch: fc.Arbitrary<EventBatch> = fc.record(
  {
    kind: fc.constant('batch' as const),
    seq: fc.oneof(fc.constant(0), fc.nat(), fc.maxSafeNat()),
    from: fc.record({ processor: uint32, thread: uint32, generation: uint32, side: fc.constantFrom('internal' as const, 'external' as const) }, plain),
    history: fc.array(busEvent, { maxLength: 6 }),
    queue: fc.array(busEvent, { maxLength: 3 }),
  },
  plain,
);

// ---------------------------------------------------------------------------
// The layout
// ---------------------------------------------------------------------------

const Layout = suite('codec batch layout');

const SIDES = [wire.Side.Internal, wire.Side.External];
const sideOf = (side: string) => (side === 'internal' ? wire.Side.Internal : wire.Side.External);
const priorityOf = (priority: string) =>
  priority === 'immediate' ? wire.Priority.Immediate : priority === 'normal' ? wire.Priority.Normal : wire.Priority.Deferred;

/** Where the field at vtable slot `slot` of the table at `table` is, or 0. */
function fieldAt(bb: flatbuffers.ByteBuffer, table: number, slot: number): number {
  const offset = bb.__offset(table, slot);
  return offset === 0 ? 0 : table + offset;
}

function checkEvent(bb: flatbuffers.ByteBuffer, read: wire.Event, expected: BusEvent): void {
  assert.is(read.id(), expected.id);
  assert.is(read.type(), expected.type);
  assert.is(read.side(), sideOf(expected.side));
  assert.ok(SIDES.includes(read.side()));
  assert.is(read.timestamp(), expected.timestamp === 0 ? 0 : expected.timestamp);
  const origin = read.origin() as wire.Origin;
  assert.equal([origin.processor(), origin.thread(), origin.generation()], [
    expected.origin.processor,
    expected.origin.thread,
    expected.origin.generation,
  ]);
  assert.is(read.priority(), priorityOf(expected.priority));
  assert.is(read.topic() ?? undefined, expected.topic);
  if (expected.payload instanceof Uint8Array) {
    assert.is(read.payloadKind(), wire.PayloadKind.Bytes);
    assert.is(read.payloadJson(), null);
    assert.equal([...(read.payloadBytesArray() as Uint8Array)], [...expected.payload]);
  } else {
    assert.is(read.payloadKind(), wire.PayloadKind.Json);
    assert.is(read.payloadBytesArray(), null);
    // Exactly the text JSON.stringify writes.
    assert.is(read.payloadJson(), JSON.stringify(expected.payload));
  }
  const meta = expected.meta;
  if (meta === undefined) {
    assert.is(fieldAt(bb, read.bb_pos, 24), 0, 'no meta vector');
  } else {
    const keys = Object.keys(meta);
    assert.is(read.metaLength(), keys.length);
    keys.forEach((key, i) => {
      const entry = read.meta(i) as wire.MetaEntry;
      assert.is(entry.key(), key);
      assert.is(entry.value(), meta[key]);
    });
  }
  // Scalars aligned to their size from the start of the body, as FlatBuffers requires.
  assert.is(read.bb_pos % 8, 0, 'event tables start at a multiple of 8');
  assert.is(fieldAt(bb, read.bb_pos, 10) % 8, 0, 'timestamp aligned');
  assert.is(fieldAt(bb, read.bb_pos, 12) % 4, 0, 'origin aligned');
  for (const slot of [4, 6, 16, 20, 22, 24]) {
    const at = fieldAt(bb, read.bb_pos, slot);
    if (at === 0) continue;
    assert.is(at % 4, 0, `offset field ${slot} aligned`);
    assert.is(bb.__indirect(at) % 4, 0, `what field ${slot} points at is aligned`);
  }
}

Layout('encodeFrame - batch bodies read back through the generated accessors, scalars aligned (property)', () => {
  fc.assert(
    fc.property(eventBatch, (message) => {
      const bb = new flatbuffers.ByteBuffer(bodyOf(encodeFrame(message)));
      assert.ok(wire.Envelope.bufferHasIdentifier(bb));
      const envelope = wire.Envelope.getRootAsEnvelope(bb);
      assert.is(envelope.messageType(), wire.Message.EventBatch);
      const read = envelope.message(new wire.EventBatch()) as wire.EventBatch;
      assert.is(read.seq(), BigInt(message.seq));
      assert.is(fieldAt(bb, read.bb_pos, 4) % 8, 0, 'seq aligned');
      const endpoint = read.from() as wire.Endpoint;
      assert.equal([endpoint.processor(), endpoint.thread(), endpoint.generation(), endpoint.side()], [
        message.from.processor,
        message.from.thread,
        message.from.generation,
        sideOf(message.from.side),
      ]);
      assert.is(read.historyLength(), message.history.length);
      assert.is(read.queueLength(), message.queue.length);
      message.history.forEach((expected, i) => checkEvent(bb, read.history(i) as wire.Event, expected));
      message.queue.forEach((expected, i) => checkEvent(bb, read.queue(i) as wire.Event, expected));
    }),
    { numRuns: 400 },
  );
});

Layout('encodeFrame - JSON payloads are the text JSON.stringify writes (property)', () => {
  const awkward = fc.oneof(
    fc.constantFrom(-0, 0.1, -1.5e-7, 1e21, 2 ** 31, -(2 ** 31), 2 ** 31 - 1, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 5e-324),
    fc.string({ unit: 'binary', maxLength: 8 }),
    // Surrogates only in pairs: post() refuses lone ones, and so does the encoder (codec.test.ts).
    fc
      .string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udc00', 'é', 'a'), maxLength: 8 })
      .filter(isWellFormedString),
  );
  const payload = fc.oneof(
    jsonPayload,
    awkward,
    fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('__proto__', '0', '10', '-1', '1.5')), awkward, plain),
    fc.array(awkward, { maxLength: 4 }),
  );
  fc.assert(
    fc.property(payload, (value) => {
      const body = bodyOf(encodeFrame(batch([event({ payload: value as JsonValue })])));
      const bb = new flatbuffers.ByteBuffer(body);
      const read = wire.Envelope.getRootAsEnvelope(bb).message(new wire.EventBatch()) as wire.EventBatch;
      assert.is((read.history(0) as wire.Event).payloadJson(), JSON.stringify(value));
    }),
    { numRuns: 1500 },
  );
});

Layout('encodeFrame - writes each type, topic and meta key once per batch', () => {
  const type = 'a.rather.long.event.type';
  const events = Array.from({ length: 40 }, (_, i) =>
    event({ id: `2.3.${i}`, type, topic: 'the-topic', meta: { 'the-key': `value ${i}` } }),
  );
  const frame = encodeFrame(batch(events));
  const latin1 = Buffer.from(frame).toString('latin1');
  assert.is(latin1.split(type).length - 1, 1, 'the type once');
  assert.is(latin1.split('the-topic').length - 1, 1, 'the topic once');
  assert.is(latin1.split('the-key').length - 1, 1, 'the meta key once');
  assert.is(latin1.split('value 1').length - 1, 11, 'meta values and ids are not shared'); // "value 1", "value 10".."value 19"
  assert.equal(decodeFrame(frame), batch(events));
});

Layout('decodeFrame - events of one origin share one frozen origin object', () => {
  const events = [event({ id: 'a' }), event({ id: 'b' }), event({ id: 'c', origin: { processor: 9, thread: 9, generation: 9 } })];
  const decoded = decodeFrame(encodeFrame(batch(events))) as EventBatch;
  const [a, b, c] = decoded.history as [BusEvent, BusEvent, BusEvent];
  assert.ok(a.origin === b.origin);
  assert.ok(Object.isFrozen(a.origin));
  assert.equal(c.origin, { processor: 9, thread: 9, generation: 9 });
  assert.equal(decoded, batch(events));
});

Layout('encodeFrame - a reused writer leaks nothing of an earlier frame into a later one', () => {
  const small = batch([event({ id: 'short', payload: 1 })]);
  const expected = encodeFrame(small);
  encodeFrame(batch(Array.from({ length: 50 }, (_, i) => event({ id: `x${i}`.repeat(20), payload: 'y'.repeat(300), meta: { k: 'z'.repeat(50) } }))));
  assert.equal([...encodeFrame(small)], [...expected]);
});

Layout('more - a part of a longer request says so, in the generated layout too; decodeFrame and scanFrame read it', () => {
  const events = [event({ id: '0.1.0' }), event({ id: '0.1.1' })];
  for (const more of [true, false]) {
    const frame = encodeFrame({ ...batch(events), ...(more ? { more } : {}) });
    const bb = new flatbuffers.ByteBuffer(bodyOf(frame));
    const read = wire.Envelope.getRootAsEnvelope(bb).message(new wire.EventBatch()) as wire.EventBatch;
    assert.is(read.more(), more);
    assert.is(read.historyLength(), 2);
    const decoded = decodeFrame(frame) as EventBatch;
    assert.is(decoded.more, more ? true : undefined);
    assert.equal(decoded.history, events);
    assert.is((scanFrame(frame) as { more?: boolean }).more, more ? true : undefined);
  }
});

Layout.run();

// ---------------------------------------------------------------------------
// Shared strings and the decoder's budget
// ---------------------------------------------------------------------------

const Shared = suite('codec shared strings');

/**
 * A batch body built by hand with the FlatBuffers runtime: `count` events,
 * each its own table, whose `shared` field ('type', 'id', 'json' or
 * 'metaValue') points at one string of `chars` characters.
 */
function bodyWithSharedString(count: number, shared: 'type' | 'id' | 'json' | 'metaValue', chars: number): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const big = b.createString(shared === 'json' ? JSON.stringify('x'.repeat(chars - 2)) : 'x'.repeat(chars));
  const key = b.createString('k');
  const events: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = shared === 'id' ? big : b.createString(`0.0.${i}`);
    const type = shared === 'type' ? big : b.createString('t');
    const json = shared === 'json' ? big : b.createString('1');
    let meta = 0;
    if (shared === 'metaValue') {
      b.startObject(2);
      b.addFieldOffset(0, key, 0);
      b.addFieldOffset(1, big, 0);
      const entry = b.endObject();
      b.startVector(4, 1, 4);
      b.addOffset(entry);
      meta = b.endVector();
    }
    events.push(handBuiltEvent(b, { id, type, json, meta }));
  }
  b.startVector(4, events.length, 4);
  for (let i = events.length - 1; i >= 0; i--) b.addOffset(events[i] as number);
  finishBatchEnvelope(b, b.endVector());
  return b.asUint8Array().slice();
}

Shared('decodeFrame - a type shared by every event is read once and paid for once', () => {
  // The longest type post() accepts.
  const body = bodyWithSharedString(2000, 'type', 256);
  assert.ok(2000 * 256 > 2 * body.length, 'the events decode to far more type bytes than the body holds');
  const decoded = decodeFrame(frameAround(body)) as EventBatch;
  assert.is(decoded.history.length, 2000);
  assert.ok(decoded.history.every((e) => e.type === 'x'.repeat(256) && e.id.startsWith('0.0.')));
});

Shared('encodeFrame - a body with more shared references than the writer had room for, then a smaller one, read back whole', () => {
  // 400 events with a topic and two meta keys: 1 600 references to shared strings, past the writer's first room (256).
  const many = Array.from({ length: 400 }, (_, i) =>
    event({ id: `1.1.${i}`, type: i % 2 === 0 ? 'user.login' : 'user.logout', topic: `t${i % 3}`, meta: { a: `${i}`, b: 'x' } }),
  );
  const few = [event({ id: '1.2.0', type: 'order.created', meta: { c: 'y' } }), event({ id: '1.2.1', type: 'user.login', topic: 'u' })];
  for (const events of [many, few, many]) {
    const decoded = decodeFrame(encodeFrame(batch(events))) as EventBatch;
    assert.equal(decoded.history, events);
  }
});

Shared('decodeFrame - ids, payloads and meta values shared beyond the body size are refused', () => {
  for (const shared of ['id', 'json', 'metaValue'] as const) {
    const single = decodeOrReason(frameAround(bodyWithSharedString(1, shared, 4000)));
    assert.type(single, 'object', `one ${shared} reference is fine`);
    const outcome = decodeOrReason(frameAround(bodyWithSharedString(2000, shared, 4000)));
    assert.is(outcome, 'MALFORMED', `${shared} shared 2000 times`);
  }
});

Shared.run();

// ---------------------------------------------------------------------------
// JSON payloads parsed together
// ---------------------------------------------------------------------------

const Joined = suite('codec joined JSON payloads');

/** Placeholder payloads of `length` bytes of JSON text, one distinct letter per event, and the body holding them. */
function placeholderBody(count: number, length: number): { body: Uint8Array; at: number[] } {
  const letters = 'qrstvwxyz';
  const events = Array.from({ length: count }, (_, i) => event({ id: `2.3.${i}`, payload: (letters[i] as string).repeat(length - 2) }));
  const body = bodyOf(encodeFrame(batch(events)));
  const at = events.map((e) => Buffer.from(body).indexOf(Buffer.from(JSON.stringify(e.payload))));
  assert.ok(at.every((position) => position > 0), 'found every placeholder');
  return { body, at };
}

/** The body with each payload text replaced by one of the same length. */
function withPayloadTexts(texts: readonly string[]): Uint8Array {
  const length = (texts[0] as string).length;
  const { body, at } = placeholderBody(texts.length, length);
  const copy = body.slice();
  texts.forEach((text, i) => copy.set(Buffer.from(text, 'latin1'), at[i] as number));
  return frameAround(copy);
}

Joined('decodeFrame - payloads that are invalid alone but valid joined are refused', () => {
  const cases = [
    ['1,2 ', '[3  ', '  4]'], // the same count of values, joined: [1, 2, [3, 4]]
    ['1,2 ', '3   '], // one value too many: each would take the wrong one
    ['"a",1', '{}   '.slice(0, 5)],
    ['[1  ', '  2]'],
    ['"a  ', '  b"'],
    ['{"a"', ':1} '],
    ['1 ] ', ' [ 2'],
    ['    ', '1   '],
    ['"\\" ', '"   '],
  ];
  for (const texts of cases) {
    assert.is(decodeOrReason(withPayloadTexts(texts)), 'MALFORMED', JSON.stringify(texts));
  }
  // Brackets, quotes and commas inside valid payloads are fine.
  const valid = decodeOrReason(withPayloadTexts(['[1]  ', ' "," ', '{}   '])) as EventBatch;
  assert.type(valid, 'object');
  assert.equal(valid.history.map((e) => e.payload), [[1], ',', {}]);
});

Joined('decodeFrame - payloads decode as JSON.parse of each alone would, or are refused (property)', () => {
  const length = 8;
  const significant = fc.constantFrom(...'[]{},":\\ 1e-0.tnaul'.split(''));
  const garbage = fc.array(significant, { minLength: length, maxLength: length }).map((chars) => chars.join(''));
  const valid = fc
    .jsonValue({ maxDepth: 2 })
    .map((value) => JSON.stringify(value))
    .filter((json) => json.length <= length && [...json].every((c) => c.charCodeAt(0) < 0x80))
    .map((json) => json.padEnd(length, ' '));
  // Two valid values with a comma between: balanced, but two values.
  const pair = fc
    .tuple(valid, valid)
    .map(([a, b]) => `${a.trim()},${b.trim()}`)
    .filter((json) => json.length <= length)
    .map((json) => json.padEnd(length, ' '));
  fc.assert(
    fc.property(fc.array(fc.oneof(valid, garbage, pair), { minLength: 1, maxLength: 5 }), (texts) => {
      const outcome = decodeOrReason(withPayloadTexts(texts));
      const parsed = texts.map((t) => {
        try {
          return { value: JSON.parse(t) as unknown };
        } catch {
          return undefined;
        }
      });
      if (parsed.every((p) => p !== undefined)) {
        assert.type(outcome, 'object', `${JSON.stringify(texts)} should decode`);
        assert.equal(
          (outcome as EventBatch).history.map((e) => e.payload),
          parsed.map((p) => p?.value),
        );
      } else {
        assert.is(outcome, 'MALFORMED', `${JSON.stringify(texts)} should be refused`);
      }
    }),
    { numRuns: 3000 },
  );
});

Joined('decodeFrame - a refused payload is named by its event', () => {
  const error = (() => {
    try {
      decodeFrame(withPayloadTexts(['1   ', '2   ', '[   ', '4   ']));
    } catch (caught) {
      return caught as FrameError;
    }
    throw new Error('expected a FrameError');
  })();
  assert.ok(error.message.includes('batch.history[2]'), error.message);
});

Joined.run();

const watermarks = suite('codec: since / limit / through / parked');

watermarks('since, limit, through and parked - round-trip exactly, 0 and absent stay apart', () => {
  const endpoint = { processor: 1, thread: 2, generation: 3, side: 'internal' as const };
  const messages = [
    { kind: 'syncRequest', seq: 1, from: endpoint, side: 'external' },
    { kind: 'syncRequest', seq: 2, from: endpoint, side: 'external', since: 0 },
    { kind: 'syncRequest', seq: 3, from: endpoint, side: 'internal', types: ['a'], since: 2 ** 40 + 7 },
    { kind: 'syncRequest', seq: 4, from: endpoint, side: 'external', since: 5, limit: 1 },
    { kind: 'syncRequest', seq: 5, from: endpoint, side: 'external', limit: 0xffff_ffff },
    { kind: 'ack', seq: 4, ok: true, credits: 8 },
    { kind: 'ack', seq: 5, ok: true, credits: 8, through: 0 },
    { kind: 'ack', seq: 6, ok: false, credits: 0, errorCode: 'X', through: 123_456 },
    { kind: 'ack', seq: 7, ok: true, credits: 8, parked: 0 },
    { kind: 'ack', seq: 8, ok: true, credits: 8, through: 9, parked: 2 ** 33 + 1 },
  ] as const;
  for (const message of messages) assert.equal(decodeFrame(encodeFrame(message)), message);
  for (const limit of [0, -1, 1.5, 2 ** 32]) {
    assert.throws(() => encodeFrame({ kind: 'syncRequest', seq: 1, from: endpoint, side: 'external', limit }), /limit must be/);
  }
});

watermarks.run();
