/**
 * Batches read lazily, as a station keeps them: `scanFrame` verifies and
 * indexes a batch without decoding its history, `decodeEvents` and the
 * `event*At` accessors read it later, and `encodeForwardFrame` copies its
 * events into new frames. `decodeFrame` and `encodeFrame` are the reference
 * every case is checked against.
 */
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameError, InvalidEventError, InvalidOptionError, type FrameErrorReason } from '../../errors.js';
import type { EventBatch, WireMessage } from '../../runtime/wire/protocol.js';
import {
  DEFAULT_FRAME_LIMITS,
  FLAG_SNAPPY,
  FRAME_HEADER_BYTES,
  MAX_PAYLOAD_DEPTH,
  decodeEvents,
  decodeFrame,
  encodeForwardFrame,
  encodeFrame,
  eventIdAt,
  eventIdSpanAt,
  eventOriginAt,
  eventPositionAt,
  eventSideAt,
  eventTimestampAt,
  eventTypeAt,
  isEncodedEventRef,
  scanAndDecodeFrame,
  scanFrame,
  type EncodedBatch,
  type EncodedEventRef,
  type ForwardBatch,
  type FrameLimits,
} from '../../schemas/codec/index.js';
import type { BusEvent, JsonValue } from '../../types.js';
import {
  batch,
  bodyOf,
  compressedFrameAround,
  event,
  eventStamp,
  eventType,
  finishBatchEnvelope,
  frameAround,
  from,
} from './fixtures.js';

// ---------------------------------------------------------------------------
// Frames, outcomes and the reference
// ---------------------------------------------------------------------------

/** `body` in a frame whose header agrees with it, snappy-compressed or not: only the body can be refused. */
const frameOf = (body: Uint8Array, compressed = false): Uint8Array => (compressed ? compressedFrameAround(body) : frameAround(body));

type Outcome<T> = { readonly value: T } | { readonly error: FrameError };

function attempt<T>(run: () => T): Outcome<T> {
  try {
    return { value: run() };
  } catch (error) {
    if (error instanceof FrameError) return { error };
    throw error;
  }
}

/** A predicate for `assert.throws`: the error is a `type`. */
const isA =
  (type: abstract new (...args: never[]) => Error) =>
  (error: unknown): boolean =>
    error instanceof type;

function refusal(run: () => unknown): FrameError {
  const outcome = attempt(run);
  if ('error' in outcome) return outcome.error;
  return assert.unreachable('expected a FrameError') as never;
}

/** What decodeFrame refuses and scanFrame leaves to decodeEvents: the content of a JSON payload. */
const JSON_CONTENT = /JSON payloads? (does|do) not parse|JSON payload holds a number beyond|JSON payload is nested deeper/;

/** How `scanFrame` fared against `decodeFrame`: both decoded, both refused (the reason), or the JSON left for later. */
type Agreement = 'decoded' | FrameErrorReason | 'json';

/**
 * Checks `scanFrame` against `decodeFrame` on one frame: the same refusal, or
 * the same message; for a batch, `decodeEvents` gives decodeFrame's history
 * and the index and accessors agree with it. A frame decodeFrame refuses only
 * for the content of a history event's JSON payload may scan, and then
 * `decodeEvents` refuses it.
 */
function assertScanAgrees(frame: Uint8Array, limits?: Partial<FrameLimits>): Agreement {
  const decoded = attempt(() => decodeFrame(frame, limits));
  const scanned = attempt(() => scanFrame(frame, limits));
  assertScanDecodeAgrees(frame, limits, decoded, scanned);
  if ('error' in decoded) {
    if ('error' in scanned) {
      assert.is(scanned.error.reason, decoded.error.reason, `${scanned.error.message} / ${decoded.error.message}`);
      return decoded.error.reason;
    }
    assert.match(decoded.error.message, JSON_CONTENT, `scanFrame accepted what decodeFrame refused: ${decoded.error.message}`);
    const later = attempt(() => decodeEvents(scanned.value as EncodedBatch));
    assert.ok('error' in later && later.error.reason === 'MALFORMED', 'decodeEvents refuses the payload scanFrame left for it');
    return 'json';
  }
  if ('error' in scanned) return assert.unreachable(`scanFrame refused what decodeFrame decoded: ${scanned.error.message}`) as never;
  assertSameMessage(scanned.value, decoded.value);
  return 'decoded';
}

/**
 * Checks `scanAndDecodeFrame` against `decodeFrame` and `scanFrame` on one
 * frame: decodeFrame's refusal (JSON content included: it parses), or
 * decodeFrame's message, with scanFrame's scan table.
 */
function assertScanDecodeAgrees(
  frame: Uint8Array,
  limits: Partial<FrameLimits> | undefined,
  decoded: Outcome<WireMessage>,
  scanned: Outcome<WireMessage | EncodedBatch>,
): void {
  const both = attempt(() => scanAndDecodeFrame(frame, limits));
  if ('error' in decoded) {
    assert.ok('error' in both, `scanAndDecodeFrame accepted what decodeFrame refused: ${decoded.error.message}`);
    assert.is(both.error.reason, decoded.error.reason);
    assert.is(both.error.message, decoded.error.message);
    return;
  }
  if ('error' in both) return assert.unreachable(`scanAndDecodeFrame refused what decodeFrame decoded: ${both.error.message}`) as never;
  const { message, history } = both.value;
  if (decoded.value.kind !== 'batch') {
    assert.equal(message, decoded.value);
    assert.is(history, undefined);
    return;
  }
  assert.equal(history, decoded.value.history);
  assertSameMessage(message, decoded.value);
  if ('error' in scanned) return assert.unreachable('scanFrame refused a frame decodeFrame decoded') as never;
  const { body: _body, ...table } = message as EncodedBatch;
  const { body: _scannedBody, ...scannedTable } = scanned.value as EncodedBatch;
  assert.equal(table, scannedTable, 'the scan table of one walk is the scan table');
}

/** What `assertScanAgrees` found over the runs of a property, to check that the runs reached what the property is about. */
class Agreements {
  readonly #counts = new Map<Agreement, number>();

  /** `assertScanAgrees(frame)`, counted. */
  check(frame: Uint8Array): void {
    const agreement = assertScanAgrees(frame);
    this.#counts.set(agreement, (this.#counts.get(agreement) ?? 0) + 1);
  }

  /** Asserts that `agreement` came up more than `times` times. */
  moreThan(times: number, agreement: Agreement, why: string): void {
    assert.ok((this.#counts.get(agreement) ?? 0) > times, `${why}: ${JSON.stringify([...this.#counts])}`);
  }
}

function assertSameMessage(scanned: WireMessage | EncodedBatch, decoded: WireMessage): void {
  if (decoded.kind !== 'batch') {
    assert.equal(scanned, decoded);
    return;
  }
  assert.is(scanned.kind, 'encodedBatch');
  const encoded = scanned as EncodedBatch;
  assert.is(encoded.seq, decoded.seq);
  assert.equal(encoded.from, decoded.from);
  assert.equal(encoded.queue, decoded.queue);
  assert.is(encoded.count, decoded.history.length);
  assert.equal(decodeEvents(encoded), decoded.history);
  const span = new Int32Array(2);
  decoded.history.forEach((expected, i) => {
    assert.ok(Object.is(eventTimestampAt(encoded, i), expected.timestamp), `timestamp ${i}`);
    assert.is(eventSideAt(encoded, i), expected.side === 'internal' ? 0 : 1, `side ${i}`);
    assert.is(eventIdAt(encoded, i), expected.id);
    eventIdSpanAt(encoded, i, span);
    assert.is(Buffer.from(encoded.body.subarray(span[0], span[1])).toString('utf8'), expected.id, `id bytes ${i}`);
    assert.is(eventTypeAt(encoded, i), expected.type);
    assert.equal(eventOriginAt(encoded, i), expected.origin);
  });
}

function scanned(frame: Uint8Array): EncodedBatch {
  const message = scanFrame(frame);
  assert.is(message.kind, 'encodedBatch');
  return message as EncodedBatch;
}

/** Refs to every history event of `encoded`, in order. */
function refsTo(encoded: EncodedBatch): EncodedEventRef[] {
  return Array.from({ length: encoded.count }, (_, index) => ({ batch: encoded, index }));
}

function forward(history: ForwardBatch['history'], queue: BusEvent[] = [], seq = 9): ForwardBatch {
  return { kind: 'batch', seq, from, history, queue };
}

// --- sample batches ---

const tricky = ['\uFEFFbom first', 'nul\u0000inside', 'émoji 🎉 汉字 עברית', '\u{10FFFF}', 'a'.repeat(300) + '✓'];

function nested(depth: number): JsonValue {
  let value: JsonValue = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

const origin = (thread: number) => ({ processor: 0, thread, generation: 0 });

/** `count` small events as a bus posts them, `{ user: 'u1', n: i }` each. */
function manySmall(count: number): EventBatch {
  const types = ['order.created', 'user.login', 'user.login'];
  const events = Array.from({ length: count }, (_, i) =>
    event({ id: `0.1.${i}`, type: types[i % 3] as string, payload: { user: 'u1', n: i } }),
  );
  return batch(events);
}

/** Batches of every shape the codec tests use, by name. */
function sampleBatches(): Record<string, EventBatch> {
  const protoMeta: Record<string, string> = { '🔑': 'värde', toString: 'x', constructor: 'y' };
  Object.defineProperty(protoMeta, '__proto__', { value: 'not a prototype', enumerable: true, writable: true, configurable: true });
  const payloads: JsonValue[] = [null, true, false, 0, -1.5, 1e300, 'text', '', [], {}, [1, [2, [3]]], { a: { b: [null, 'x'] } }];
  const bigMeta = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, `value ${i}`]));
  return {
    empty: batch([], [], 0),
    'queue only': batch([], [event(), event({ id: '2.3.20', priority: 'deferred' })]),
    'history and queue': batch([event(), event({ id: '2.3.18', priority: 'immediate' })], [event({ id: '2.3.19', priority: 'deferred' })]),
    'topics, meta, empty strings': batch([
      event({ topic: 'orders', meta: { trace: 'abc', user: '' } }),
      event({ id: '2.3.20', topic: '', meta: {} }),
      event({ id: '0.0.0', type: 'x', side: 'internal', priority: 'immediate', timestamp: 0, origin: origin(0) }),
      event({ id: 'neg', timestamp: -0 }),
    ]),
    'bytes payloads': batch([
      event({ payload: new Uint8Array([0, 1, 2, 254, 255]) }),
      event({ id: 'b0', payload: new Uint8Array(0) }),
      event({ id: 'b300', payload: new Uint8Array(300).map((_, i) => i) }),
    ]),
    unicode: batch(
      tricky.map((s, i) =>
        event({
          id: `${s}#${i}`,
          // Types are letters, digits and _-:/$@ (post()'s rule); every other string takes anything.
          type: `t${i}`,
          topic: s,
          payload: i === 0 ? (JSON.parse('{"__proto__":{"polluted":true},"k":"\\ud83c\\udf89 paired"}') as JsonValue) : { [s]: s },
          meta: i === 0 ? protoMeta : { [s]: s },
        }),
      ),
    ),
    'JSON of every kind': batch(payloads.map((payload, i) => event({ id: `2.3.${i}`, payload }))),
    'deep and long JSON': batch([
      event({ id: 'deep', payload: nested(MAX_PAYLOAD_DEPTH) }),
      event({ id: 'long', payload: 'x'.repeat(2000) }),
      event({ id: 'accents', payload: 'é'.repeat(400) }),
      event({ id: 'exponent', payload: [1e21, 5e-324, -2.5e-7] }),
    ]),
    'large meta': batch([event({ meta: bigMeta }), event({ id: 'index keys', meta: { b: '1', 10: 'x', 2: 'y' } })]),
    'many small events': batch(
      manySmall(3000).history.map((e, i) => ({ ...e, origin: origin(i % 4) })),
      [event({ id: 'queued' })],
    ),
  };
}

// --- arbitraries ---

const text = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom('user.login', 'order.created', 'é✓🎉', '0', '17'),
);
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const plain = { noNullPrototype: true } as const;
const anyEvent: fc.Arbitrary<BusEvent> = fc.record(
  {
    id: text.filter((id) => id !== ''),
    type: eventType,
    side: fc.constantFrom('internal' as const, 'external' as const),
    timestamp: eventStamp,
    origin: fc.record({ processor: uint32, thread: uint32, generation: uint32 }, plain),
    priority: fc.constantFrom('immediate' as const, 'normal' as const, 'deferred' as const),
    topic: text,
    payload: fc.oneof(fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }) as fc.Arbitrary<JsonValue>, fc.uint8Array({ maxLength: 24 })),
    meta: fc.dictionary(text, text, { maxKeys: 4, ...plain }),
  },
  { requiredKeys: ['id', 'type', 'side', 'timestamp', 'origin', 'priority', 'payload'], ...plain },
);
const anyBatch: fc.Arbitrary<EventBatch> = fc
  .tuple(fc.array(anyEvent, { maxLength: 8 }), fc.array(anyEvent, { maxLength: 2 }), fc.nat())
  .map(([history, queue, seq]) => batch(history, queue, seq));
const compressOption = fc.constantFrom(false, true, 'auto' as const);

// --- hand-built bodies ---

interface HandEvent {
  readonly id: string;
  readonly type: string;
  /** JSON text, as it is; or `bytes`. */
  readonly json?: string;
  readonly bytes?: readonly number[];
  readonly topic?: string;
  readonly meta?: ReadonlyArray<readonly [key: string, value: string]>;
  /** Wire values; 0 (and a 0 timestamp) are left out of the table, as FlatBuffers leaves defaults out. */
  readonly side?: number;
  readonly priority?: number;
  readonly timestamp?: number;
  readonly origin?: readonly [processor: number, thread: number, generation: number];
}

/**
 * A batch body another writer could produce: built with the FlatBuffers
 * runtime, fields added in an order of their own, defaults left out, and
 * every distinct text written once and pointed at by every field that holds
 * it (ids, payloads and meta values included).
 */
function handBuiltBody(events: readonly HandEvent[]): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const written = new Map<string, number>();
  const textAt = (value: string): number => {
    let at = written.get(value);
    if (at === undefined) {
      at = b.createString(value);
      written.set(value, at);
    }
    return at;
  };
  const tables = events.map((e) => {
    const entries = (e.meta ?? []).map(([key, value]) => {
      const keyAt = textAt(key);
      const valueAt = textAt(value);
      b.startObject(2);
      b.addFieldOffset(1, valueAt, 0);
      b.addFieldOffset(0, keyAt, 0);
      return b.endObject();
    });
    const meta = e.meta === undefined ? 0 : offsetVector(b, entries);
    const payload = e.bytes === undefined ? textAt(e.json ?? 'null') : b.createByteVector(new Uint8Array(e.bytes));
    const id = textAt(e.id);
    const type = textAt(e.type);
    const topic = e.topic === undefined ? 0 : textAt(e.topic);
    b.startObject(11);
    b.addFieldOffset(e.bytes === undefined ? 8 : 9, payload, 0);
    b.addFieldInt8(7, e.bytes === undefined ? 0 : 1, 0);
    b.addFieldOffset(1, type, 0);
    if (meta !== 0) b.addFieldOffset(10, meta, 0);
    b.addFieldInt8(2, e.side ?? 0, 0);
    b.addFieldFloat64(3, e.timestamp ?? 0, 0);
    b.addFieldOffset(0, id, 0);
    if (topic !== 0) b.addFieldOffset(6, topic, 0);
    b.addFieldInt8(5, e.priority ?? 0, 0);
    const [processor, thread, generation] = e.origin ?? [0, 0, 0];
    b.prep(4, 12);
    b.writeInt32(generation);
    b.writeInt32(thread);
    b.writeInt32(processor);
    b.addFieldStruct(4, b.offset(), 0);
    return b.endObject();
  });
  finishBatchEnvelope(b, offsetVector(b, tables));
  return b.asUint8Array().slice();
}

function offsetVector(b: flatbuffers.Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i] as number);
  return b.endVector();
}

// ---------------------------------------------------------------------------
// Scanning and decoding later
// ---------------------------------------------------------------------------

const Scan = suite('codec lazy scanning');

Scan('scanFrame - batches of every shape scan, then decode as decodeFrame decodes them', () => {
  for (const [name, message] of Object.entries(sampleBatches())) {
    for (const compress of [false, true, 'auto'] as const) {
      const frame = encodeFrame(message, { compress });
      assert.is(assertScanAgrees(frame), 'decoded', `${name}, compress ${compress}`);
    }
  }
});

Scan('scanFrame - arbitrary batches scan, then decode as decodeFrame decodes them (property)', () => {
  fc.assert(
    fc.property(anyBatch, compressOption, (message, compress) => {
      assert.is(assertScanAgrees(encodeFrame(message, { compress })), 'decoded');
    }),
    { numRuns: 600 },
  );
});

Scan('scanFrame - hand-built bodies (other field orders, defaults left out) scan as they decode', () => {
  const body = handBuiltBody([
    { id: 'h1', type: 'hand.made', json: '{"a":1}', origin: [1, 2, 3] },
    { id: 'h2', type: 'hand.made', json: ' [ 1 , 2 ] ', side: 1, priority: 2, timestamp: 1.5, topic: 't', meta: [['b', '1'], ['1', 'b']] },
    { id: 'h3', type: 'other', bytes: [9, 8, 7], side: 1, meta: [] },
  ]);
  assert.is(assertScanAgrees(frameOf(body)), 'decoded');
  assert.is(assertScanAgrees(frameOf(body, true)), 'decoded');
});

Scan('scanFrame - other messages come back exactly as decodeFrame returns them', () => {
  const messages: WireMessage[] = [
    { kind: 'ack', seq: 7, ok: false, errorCode: 'X', errorMessage: 'why ✋', credits: 16, through: 3 },
    { kind: 'syncRequest', seq: 1, from, side: 'internal', types: ['user', 'ü'], since: 0 },
    { kind: 'clearSide', seq: 2, remove: 'external', scope: 'internal' },
    { kind: 'bridgeState', seq: 3, direction: 'oneWayExternal', locked: true },
  ];
  for (const message of messages) {
    assert.equal(scanFrame(encodeFrame(message)), message);
    assert.is(assertScanAgrees(encodeFrame(message, { compress: true })), 'decoded');
  }
});

Scan('scanFrame - keeps the frame\'s body (a view when uncompressed), and later decodes copy bytes out of it', () => {
  const frame = encodeFrame(batch([event({ payload: new Uint8Array([1, 2, 3]) })]));
  const encoded = scanned(frame);
  assert.ok(encoded.body.buffer === frame.buffer, 'no copy of an uncompressed body');
  assert.is(encoded.body.byteOffset, FRAME_HEADER_BYTES);
  const payload = (decodeEvents(encoded)[0] as BusEvent).payload as Uint8Array;
  assert.ok(payload.buffer !== frame.buffer, 'a decoded payload is a copy');
  const shared = new Uint8Array(new SharedArrayBuffer(frame.length));
  shared.set(frame);
  assert.ok(!(scanned(shared).body.buffer instanceof SharedArrayBuffer), 'a body in shared memory is copied before it is verified');
  const compressed = scanned(encodeFrame(batch([event()]), { compress: true }));
  assert.equal(decodeEvents(compressed), [event()]);
});

Scan('decodeEvents - decodes the events asked for, in the order asked, repeats included', () => {
  const events = Array.from({ length: 12 }, (_, i) => event({ id: `2.3.${i}`, payload: i % 2 === 0 ? { n: i } : new Uint8Array([i]) }));
  const encoded = scanned(encodeFrame(batch(events)));
  assert.equal(decodeEvents(encoded, [3, 0, 11, 3]), [events[3], events[0], events[11], events[3]]);
  assert.equal(decodeEvents(encoded, new Int32Array([5, 4])), [events[5], events[4]]);
  assert.equal(decodeEvents(encoded, []), []);
  assert.equal(decodeEvents(encoded), events);
  // A station decodes the same event again and again: each call builds it anew.
  for (let i = 0; i < 3; i++) assert.equal(decodeEvents(encoded, Array(500).fill(7)).length, 500);
});

Scan('decodeEvents and the accessors - refuse an index that is not an event of the batch', () => {
  const encoded = scanned(encodeFrame(batch([event(), event({ id: 'b' })])));
  for (const index of [-1, 2, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    for (const read of [
      () => decodeEvents(encoded, [0, index]),
      () => eventIdAt(encoded, index),
      () => eventIdSpanAt(encoded, index, new Int32Array(2)),
      () => eventTypeAt(encoded, index),
      () => eventOriginAt(encoded, index),
      () => eventPositionAt(encoded, index),
    ]) {
      assert.throws(read, (error: unknown) => error instanceof InvalidOptionError && error.option === 'index', `index ${index}`);
    }
  }
  assert.throws(() => decodeEvents({} as EncodedBatch), isA(InvalidOptionError));
});

Scan('eventTimestampAt - offsets from the first stamp give back every stamp exactly, and so does the fallback', () => {
  const at = (stamps: number[]) => {
    const encoded = scanned(encodeFrame(batch(stamps.map((timestamp, i) => event({ id: `s${i}`, timestamp })))));
    return { encoded, read: stamps.map((_, i) => eventTimestampAt(encoded, i)) };
  };
  const near = [1.7e12, 1.7e12 + 5, 1.7e12 - 3, 1.7e12 + 2 ** 31 - 1, 1.7e12 - 2 ** 31];
  const offsets = at(near);
  assert.equal(offsets.read, near);
  assert.is(offsets.encoded.exactStamps, undefined, 'integer stamps within ±2^31 ms of the first: 4-byte offsets');
  assert.is(offsets.encoded.stampOffsets.BYTES_PER_ELEMENT, 4);
  // Each one leaves offsets at its event: the stamps before it are copied into the exact column.
  for (const odd of [1.7e12 + 2 ** 31, 1.7e12 - 2 ** 31 - 1, 1.7e12 + 0.5, Number.MAX_VALUE, 0]) {
    const stamps = [1.7e12, 1.7e12 + 1, odd, 1.7e12 + 2];
    const { encoded, read } = at(stamps);
    assert.equal(read, stamps, `with ${odd}`);
    assert.ok(encoded.exactStamps !== undefined, `${odd} needs the exact column`);
  }
  assert.ok(at([0.25, 3]).encoded.exactStamps !== undefined, 'a fractional first stamp');
  assert.ok(Object.is(at([-0, 1]).read[0], -0), '-0 kept');
  assert.equal(at([]).read, []);
});

Scan('eventSideAt and eventPositionAt - sides as bits, positions from the body\'s history vector', () => {
  const events = Array.from({ length: 21 }, (_, i) => event({ id: `p${i}`, side: i % 3 === 0 ? 'internal' : 'external' }));
  const encoded = scanned(encodeFrame(batch(events)));
  assert.is(encoded.sideBits.length, 3);
  events.forEach((expected, i) => assert.is(eventSideAt(encoded, i), expected.side === 'external' ? 1 : 0, `side ${i}`));
  const positions = events.map((_, i) => eventPositionAt(encoded, i));
  for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! > positions[i - 1]!, 'laid out in order');
  assert.ok(positions.at(-1)! < encoded.body.byteLength);
});

Scan('eventOriginAt - consecutive events of one origin share one frozen object', () => {
  const other = { processor: 9, thread: 9, generation: 9 };
  const encoded = scanned(encodeFrame(batch([event({ id: 'a' }), event({ id: 'b' }), event({ id: 'c', origin: other })])));
  assert.ok(eventOriginAt(encoded, 0) === eventOriginAt(encoded, 1));
  assert.ok(Object.isFrozen(eventOriginAt(encoded, 0)));
  assert.equal(eventOriginAt(encoded, 2), other);
});

Scan('eventTypeAt - reads each event\'s type, in any order, as decodeEvents decodes it', () => {
  const types = ['a', 'b.c', 'd$@:/_-'];
  const events = Array.from({ length: 30 }, (_, i) =>
    event({ id: `2.3.${i}`, type: types[i % 3] as string, topic: i % 2 === 0 ? 'even' : 'odd' }),
  );
  const encoded = scanned(encodeFrame(batch(events)));
  for (let i = events.length - 1; i >= 0; i--) assert.is(eventTypeAt(encoded, i), (events[i] as BusEvent).type);
  assert.equal(decodeEvents(encoded).map((e) => e.topic), events.map((e) => e.topic));
});

Scan.run();

// ---------------------------------------------------------------------------
// Damaged and hostile frames: refused as decodeFrame refuses them
// ---------------------------------------------------------------------------

const Hostile = suite('codec lazy damaged and hostile frames');

const sample = batch(
  [event({ topic: 't', meta: { a: 'b' } }), event({ id: '2.3.18', payload: new Uint8Array([1, 2, 3]) })],
  [event({ id: '2.3.19', priority: 'deferred' })],
);

function refused(agreement: Agreement, what: string): void {
  assert.ok(agreement !== 'decoded' && agreement !== 'json', `${what} must be refused, got ${agreement}`);
}

Hostile('scanFrame - refuses anything that is not a Uint8Array', () => {
  for (const input of [null, undefined, 'BLF1', 42, {}, [0x42, 0x4c], new ArrayBuffer(40), new Uint16Array(20)]) {
    assert.is(refusal(() => scanFrame(input as unknown as Uint8Array)).reason, 'MALFORMED');
  }
});

Hostile('scanFrame - every header field is checked, for the same reasons', () => {
  const frame = encodeFrame(sample);
  const bodyBytes = frame.length - FRAME_HEADER_BYTES;
  const checksum = new DataView(frame.buffer).getUint32(16, true);
  const patched = (...edits: [at: number, value: number, bytes: 1 | 4][]) => {
    const copy = frame.slice();
    for (const [at, value, bytes] of edits) {
      if (bytes === 1) copy[at] = value;
      else new DataView(copy.buffer).setUint32(at, value, true);
    }
    return copy;
  };
  const frames = [
    patched([0, 0x43, 1]),
    patched([3, 0x32, 1]),
    patched([4, 2, 1]),
    patched([4, 0, 1]),
    patched([5, 0x02, 1]),
    patched([5, 0x80, 1]),
    patched([6, 1, 1]),
    patched([7, 1, 1]),
    patched([5, FLAG_SNAPPY, 1]),
    patched([8, 0xffff_ffff, 4]),
    patched([8, DEFAULT_FRAME_LIMITS.maxFrameBytes + 1, 4]),
    patched([12, 0xffff_ffff, 4]),
    patched([8, bodyBytes + 1, 4]),
    patched([12, bodyBytes + 1, 4]),
    patched([8, bodyBytes + 100, 4], [12, bodyBytes + 100, 4]),
    patched([8, bodyBytes - 1, 4], [12, bodyBytes - 1, 4]),
    patched([16, (checksum ^ 1) >>> 0, 4]),
    new Uint8Array([...frame, 0]),
  ];
  frames.forEach((damaged, i) => refused(assertScanAgrees(damaged), `header patch ${i}`));
});

Hostile('scanFrame - random bytes, and random bodies behind a valid header, are refused as decodeFrame refuses them (property)', () => {
  const agreements = new Agreements();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('bytes', 'body', 'identified body'), fc.nat(400), (bytes, how, root) => {
      let frame: Uint8Array = bytes;
      if (how !== 'bytes') {
        const body = bytes.slice();
        if (how === 'identified body' && body.length >= 8) {
          new DataView(body.buffer).setUint32(0, root % body.length, true);
          body.set([0x42, 0x4c, 0x57, 0x31], 4);
        }
        frame = frameOf(body);
      }
      agreements.check(frame);
    }),
    { numRuns: 2000 },
  );
  agreements.moreThan(500, 'MALFORMED', 'the verifier did the refusing');
});

Hostile('scanFrame - bit flips anywhere in a frame are refused as decodeFrame refuses them (property)', () => {
  const frames = [encodeFrame(sample), encodeFrame(sample, { compress: true }), encodeFrame({ kind: 'ack', seq: 1, ok: true, credits: 9 })];
  fc.assert(
    fc.property(fc.nat(frames.length - 1), fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 6 }), (which, bits) => {
      const frame = (frames[which] as Uint8Array).slice();
      for (const bit of new Set(bits.map((b) => b % (frame.length * 8)))) frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
      refused(assertScanAgrees(frame), 'a flipped frame');
    }),
    { numRuns: 1500 },
  );
});

/** One edit of a body: a byte overwritten, a bit flipped, or an aligned word overwritten with a likely offset or length. */
type Edit =
  | { readonly at: number; readonly byte: number }
  | { readonly at: number; readonly bit: number }
  | { readonly at: number; readonly word: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    at: fc.nat(),
    word: fc.oneof(
      fc.constantFrom(0, 1, 4, 8, 0x7f, 0xffff, 0x7fff_ffff, 0xffff_ffff),
      fc.integer({ min: -48, max: 48 }).map((n) => n >>> 0),
      uint32,
    ),
  }),
);

function edited(body: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const copy = body.slice();
  const view = new DataView(copy.buffer);
  for (const e of edits) {
    if ('byte' in e) copy[e.at % copy.length] = e.byte;
    else if ('bit' in e) copy[e.at % copy.length] = (copy[e.at % copy.length] as number) ^ (1 << e.bit);
    else if (copy.length >= 4) view.setUint32((e.at % (copy.length >> 2)) * 4, e.word, true);
  }
  return copy;
}

Hostile('scanFrame - damaged bodies, CRC recomputed: refused where decodeFrame refuses them but for JSON content (property)', () => {
  const agreements = new Agreements();
  const fixed = Object.values(sampleBatches()).filter((b) => b.history.length < 100);
  const message = fc.oneof(anyBatch, fc.constantFrom(...fixed));
  fc.assert(
    fc.property(message, fc.array(edit, { minLength: 1, maxLength: 4 }), fc.boolean(), (original, edits, compressed) => {
      agreements.check(frameOf(edited(bodyOf(encodeFrame(original)), edits), compressed));
    }),
    { numRuns: 3000 },
  );
  agreements.moreThan(1000, 'MALFORMED', 'the verifier did the refusing');
  agreements.moreThan(100, 'decoded', 'some damage is harmless, and decodes alike');
  agreements.moreThan(10, 'json', 'some damage is in JSON text only');
});

Hostile('scanFrame - strings of random bytes in every string field are refused, or accepted, as decodeFrame does (property)', () => {
  // Placeholders of known lengths, each replaced in the body by bytes of the same length.
  const short = 'P'.repeat(20);
  const long = 'Q'.repeat(300);
  const placeholders = { id: short, type: `T${short}`, topic: `O${short}`, payload: `J${short}`, meta: { [`K${short}`]: `V${long}` } };
  const message = batch([event(placeholders)]);
  const body = bodyOf(encodeFrame(message));
  const places = [short, `T${short}`, `O${short}`, `"J${short}"`, `K${short}`, `V${long}`].map((placeholder) => ({
    at: Buffer.from(body).indexOf(Buffer.from(placeholder)),
    length: placeholder.length,
  }));
  assert.ok(places.every((p) => p.at > 0), 'found every placeholder');
  const utf8ish = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
    // Bytes at the edges of UTF-8's ranges (table 3-7), so that near misses come up often.
    fc
      .array(fc.constantFrom(...[0x41, 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff]), {
        minLength: 1,
        maxLength: 12,
      })
      .map((edges) => new Uint8Array(edges)),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map((s) => new Uint8Array(Buffer.from(s))),
  );
  const agreements = new Agreements();
  fc.assert(
    fc.property(fc.nat(places.length - 1), utf8ish, fc.nat(), (which, bytes, offset) => {
      const place = places[which] as { at: number; length: number };
      const copy = body.slice();
      const start = place.at + (offset % place.length);
      copy.set(bytes.subarray(0, place.at + place.length - start), start);
      agreements.check(frameOf(copy));
    }),
    { numRuns: 3000 },
  );
  agreements.moreThan(300, 'MALFORMED', 'bytes that are not UTF-8 were refused');
  agreements.moreThan(300, 'decoded', 'UTF-8 was accepted');
});

Hostile('scanFrame - a lying event count is refused', () => {
  const body = bodyOf(encodeFrame(batch(Array.from({ length: 77 }, (_, i) => event({ id: `2.3.${i}` })))));
  const view = new DataView(body.buffer);
  let lies = 0;
  for (let at = 0; at + 4 <= body.length; at += 4) {
    if (view.getUint32(at, true) !== 77) continue;
    for (const lie of [0x00ff_ffff, 0xffff_ffff, 78, 1_000_001]) {
      refused(assertScanAgrees(frameOf(edited(body, [{ at: at >> 2, word: lie }]))), `a count of ${lie}`);
      lies++;
    }
  }
  assert.ok(lies > 0, 'found the history length');
});

Hostile('scanFrame - limits are enforced with TOO_LARGE', () => {
  const frame = encodeFrame(batch([event({ meta: { a: '1', b: '2' } }), event({ id: 'x', payload: new Uint8Array(100) })], [event()]));
  const limits: Partial<FrameLimits>[] = [
    { maxEvents: 2 },
    { maxFrameBytes: 64 },
    { maxStringBytes: 4 },
    { maxPayloadBytes: 50 },
    { maxMetaEntries: 1 },
  ];
  for (const limit of limits) assert.is(assertScanAgrees(frame, limit), 'TOO_LARGE', JSON.stringify(limit));
  assert.is(assertScanAgrees(frame, { maxEvents: 3, maxMetaEntries: 2 }), 'decoded');
  const sync = encodeFrame({ kind: 'syncRequest', seq: 0, from, side: 'internal', types: ['a', 'b', 'c'] });
  assert.is(assertScanAgrees(sync, { maxTypes: 2 }), 'TOO_LARGE');
});

Hostile('scanFrame - data shared beyond what the body holds is refused; shared types are not', () => {
  const big = 'x'.repeat(4000);
  // The longest type post() accepts: 2000 references decode to more type bytes than the body holds.
  const bigType = 'x'.repeat(256);
  const bodies = (overrides: (i: number) => Partial<HandEvent>, count: number) =>
    handBuiltBody(Array.from({ length: count }, (_, i) => ({ id: `0.0.${i}`, type: 't', json: String(i), ...overrides(i) })));
  const cases: [string, (i: number) => Partial<HandEvent>][] = [
    ['id', () => ({ id: big })],
    ['JSON payload', () => ({ json: JSON.stringify(big) })],
    ['meta value', () => ({ meta: [['k', big]] })],
  ];
  for (const [what, overrides] of cases) {
    assert.is(assertScanAgrees(frameOf(bodies(overrides, 1))), 'decoded', `one ${what}`);
    const error = refusal(() => scanFrame(frameOf(bodies(overrides, 2000))));
    assert.is(error.reason, 'MALFORMED', `${what} shared 2000 times`);
    assert.ok(error.message.includes('shared'), error.message);
  }
  assert.is(assertScanAgrees(frameOf(bodies(() => ({ type: bigType }), 2000))), 'decoded', 'a type shared 2000 times');
});

Hostile('scanFrame - decompression bombs and bad snappy are refused for the same reasons', () => {
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x41]);
  const sixty = 60 * 1024 * 1024;
  const prefix = [0x80 | (sixty & 0x7f), 0x80 | ((sixty >> 7) & 0x7f), 0x80 | ((sixty >> 14) & 0x7f), (sixty >> 21) & 0x7f];
  const zeros = new Uint8Array(16 * 1024 * 1024);
  const cases: [Uint8Array, FrameErrorReason, Partial<FrameLimits>?][] = [
    [frameAround(huge, { compressed: true, uncompressedBytes: 0xffff_ffff }), 'TOO_LARGE'],
    [frameAround(huge, { compressed: true, uncompressedBytes: 10 }), 'LENGTH_MISMATCH'],
    [frameAround(new Uint8Array([...prefix, 0x00, 0x41]), { compressed: true, uncompressedBytes: sixty }), 'DECOMPRESS'],
    [frameOf(zeros, true), 'TOO_LARGE', { maxFrameBytes: 1024 * 1024 }],
    [frameAround(new Uint8Array([0x40, 0xff, 0xff, 0xff]), { compressed: true, uncompressedBytes: 0x40 }), 'DECOMPRESS'],
    [frameAround(new Uint8Array([0x80, 0x80]), { compressed: true, uncompressedBytes: 0 }), 'DECOMPRESS'],
  ];
  for (const [frame, reason, limits] of cases) assert.is(assertScanAgrees(frame, limits), reason);
});

Hostile('scanFrame - crafted bodies: identifier, union type, UTF-8 and NUL refused; JSON content left to decodeEvents', () => {
  const body = bodyOf(encodeFrame(batch([event({ id: 'AAAA', payload: { n: 1e300 } })])));
  const find = (needle: string) => Buffer.from(body).indexOf(Buffer.from(needle));
  const patch = (at: number, bytes: number[]) => {
    const copy = body.slice();
    copy.set(bytes, at);
    return frameOf(copy);
  };
  assert.is(assertScanAgrees(frameOf(body)), 'decoded');
  assert.is(assertScanAgrees(patch(4, [0x42, 0x4c, 0x57, 0x32])), 'MALFORMED', 'file identifier');
  assert.is(assertScanAgrees(patch(find('AAAA'), [0xc3, 0x28])), 'MALFORMED', 'invalid UTF-8');
  assert.is(assertScanAgrees(patch(find('AAAA'), [0xed, 0xa0, 0x80])), 'MALFORMED', 'an encoded surrogate');
  assert.is(assertScanAgrees(patch(find('AAAA') + 4, [0x41])), 'MALFORMED', 'no NUL after the id');
  // 1e+999 is Infinity, and `[n":...` does not parse: scanFrame checks the text is UTF-8, decodeEvents parses it.
  assert.is(assertScanAgrees(patch(find('1e+300'), [0x31, 0x65, 0x2b, 0x39, 0x39, 0x39])), 'json');
  assert.is(assertScanAgrees(patch(find('{"n"'), [0x5b])), 'json');
  const root = new DataView(body.buffer).getUint32(0, true);
  const vtable = root - new DataView(body.buffer).getInt32(root, true);
  const typeAt = root + new DataView(body.buffer).getUint16(vtable + 4, true);
  assert.is(body[typeAt], 1, 'found the union type');
  for (let type = 0; type < 256; type++) {
    const agreement = assertScanAgrees(patch(typeAt, [type]));
    if (type === 0 || type > 5) assert.is(agreement, 'MALFORMED', `union type ${type}`);
  }
});

Hostile('scanFrame - a JSON payload nested too deep is left to decodeEvents, which refuses it', () => {
  const placeholder = 'x'.repeat(2 * (MAX_PAYLOAD_DEPTH + 1) - 2);
  const body = bodyOf(encodeFrame(batch([event({ payload: placeholder })], [event({ id: 'q' })])));
  const at = Buffer.from(body).indexOf(Buffer.from(JSON.stringify(placeholder)));
  const withText = (json: string) => {
    const copy = body.slice();
    copy.set(Buffer.from(json), at);
    return frameOf(copy);
  };
  const tooDeep = withText('['.repeat(MAX_PAYLOAD_DEPTH + 1) + ']'.repeat(MAX_PAYLOAD_DEPTH + 1));
  assert.is(assertScanAgrees(tooDeep), 'json');
  assert.ok(refusal(() => decodeEvents(scanned(tooDeep))).message.includes('nested deeper'));
  assert.is(assertScanAgrees(withText(' ' + '['.repeat(MAX_PAYLOAD_DEPTH) + ']'.repeat(MAX_PAYLOAD_DEPTH) + ' ')), 'decoded');
});

Hostile('scanFrame - duplicate meta keys are refused, in small and large metas', () => {
  for (const size of [2, 40]) {
    const meta = Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i + 10}`, 'v']));
    const body = bodyOf(encodeFrame(batch([event({ meta })])));
    const at = Buffer.from(body).indexOf(Buffer.from(Object.keys(meta)[size - 1] as string));
    body.set(Buffer.from(Object.keys(meta)[0] as string), at);
    const error = refusal(() => scanFrame(frameOf(body)));
    assert.is(error.reason, 'MALFORMED');
    assert.ok(error.message.includes('twice'), error.message);
    assert.is(assertScanAgrees(frameOf(body)), 'MALFORMED');
  }
});

Hostile.run();

// ---------------------------------------------------------------------------
// Forwarding
// ---------------------------------------------------------------------------

const Forward = suite('codec lazy forwarding');

Forward('encodeForwardFrame - refs to every event of a batch give the bytes encodeFrame gives for the events decoded', () => {
  for (const [name, message] of Object.entries(sampleBatches())) {
    for (const compress of [false, true] as const) {
      const encoded = scanned(encodeFrame(message, { compress }));
      const expected = encodeFrame(batch(decodeEvents(encoded), message.queue as BusEvent[], message.seq), { compress });
      const copied = encodeForwardFrame(forward(refsTo(encoded), message.queue as BusEvent[], message.seq), { compress });
      assert.equal([...copied], [...expected], `${name}, compress ${compress}`);
      assert.equal(decodeFrame(copied), decodeFrame(expected));
    }
  }
});

Forward('encodeForwardFrame - arbitrary batches forward byte for byte, in any order of refs (property)', () => {
  fc.assert(
    fc.property(anyBatch, fc.array(fc.nat(), { maxLength: 10 }), (message, picks) => {
      const encoded = scanned(encodeFrame(message));
      const indices = encoded.count === 0 ? [] : picks.map((p) => p % encoded.count);
      const refs = indices.map((index) => ({ batch: encoded, index }));
      const events = decodeEvents(encoded, indices);
      const copied = encodeForwardFrame(forward(refs, message.queue as BusEvent[]));
      assert.equal([...copied], [...encodeFrame(batch(events, message.queue as BusEvent[]))]);
      assert.equal((decodeFrame(copied) as EventBatch).history, events);
    }),
    { numRuns: 500 },
  );
});

Forward('encodeForwardFrame - mixes refs from several bodies (own shared strings, own vtables) with events', () => {
  const a = scanned(
    encodeFrame(
      batch([event({ id: 'a0', type: 'alpha', topic: 'orders' }), event({ id: 'a1', type: 'beta', payload: new Uint8Array([5]) })]),
    ),
  );
  const b = scanned(
    encodeFrame(
      batch([
        event({ id: 'b0', type: 'beta', meta: { trace: 'x', span: 'y' } }),
        event({ id: 'b1', type: 'gamma', topic: 'orders', meta: { trace: 'z' }, payload: 'é'.repeat(300) }),
      ]),
      { compress: true },
    ),
  );
  const c = scanned(
    frameOf(
      handBuiltBody([
        { id: 'c0', type: 'alpha', json: '{"hand":true}', origin: [4, 5, 6] },
        { id: 'c1', type: 'delta', bytes: [1, 2], side: 1, priority: 1, timestamp: 12.5, topic: 'orders', meta: [['trace', 'w']] },
      ]),
    ),
  );
  const own = event({ id: 'own', type: 'beta', topic: 'orders', meta: { trace: 'o' } });
  const history: ForwardBatch['history'] = [
    { batch: b, index: 1 },
    own,
    { batch: c, index: 0 },
    { batch: a, index: 0 },
    { batch: c, index: 1 },
    { batch: a, index: 1 },
    { batch: b, index: 0 },
    { batch: a, index: 0 },
  ];
  const events = history.map((entry) => (isEncodedEventRef(entry) ? (decodeEvents(entry.batch, [entry.index])[0] as BusEvent) : entry));
  const queue = [event({ id: 'queued', type: 'gamma' })];
  for (const compress of [false, true] as const) {
    const copied = encodeForwardFrame(forward(history, queue), { compress });
    const expected = encodeFrame(batch(events, queue), { compress });
    assert.equal([...copied], [...expected], `compress ${compress}`);
    assert.equal(decodeFrame(copied), decodeFrame(expected));
    assert.equal(decodeFrame(copied), batch(events, queue));
  }
});

Forward('encodeForwardFrame - copies JSON text and meta order as they are in the source', () => {
  // JavaScript puts index-like keys ("1") first in a decoded meta object, so
  // encodeFrame of the decoded event writes "1" first; the copy keeps the
  // source's order. Whitespace in JSON text is copied too. The frames differ
  // in those bytes and decode to equal events.
  const source = scanned(frameOf(handBuiltBody([{ id: 'h', type: 't', json: ' [ 1 , 2 ] ', meta: [['b', 'x'], ['1', 'y']] }])));
  const decoded = decodeEvents(source);
  const copied = encodeForwardFrame(forward(refsTo(source)));
  const reencoded = encodeFrame(batch(decoded));
  assert.ok(Buffer.from(copied).includes(Buffer.from(' [ 1 , 2 ] ')), 'the JSON text is copied as it is');
  assert.not.ok(Buffer.from(reencoded).includes(Buffer.from(' [ 1 , 2 ] ')), 'encodeFrame writes JSON.stringify\'s text');
  assert.equal(decodeFrame(copied), decodeFrame(reencoded));
  assert.equal(Object.keys((decodeEvents(scanned(copied))[0] as BusEvent).meta ?? {}), ['1', 'b']);
});

Forward('encodeForwardFrame - types, topics and meta keys stay shared within the new body', () => {
  const type = 'a.rather.long.event.type';
  const make = (prefix: string) => {
    const events = Array.from({ length: 20 }, (_, i) =>
      event({ id: `${prefix}${i}`, type, topic: 'the-topic', meta: { 'the-key': `value ${i}` } }),
    );
    return scanned(encodeFrame(batch(events)));
  };
  const first = make('x');
  const second = make('y');
  const frame = encodeForwardFrame(forward([...refsTo(first), ...refsTo(second)]));
  const latin1 = Buffer.from(frame).toString('latin1');
  assert.is(latin1.split(type).length - 1, 1, 'the type once');
  assert.is(latin1.split('the-topic').length - 1, 1, 'the topic once');
  assert.is(latin1.split('the-key').length - 1, 1, 'the meta key once');
  assert.is((decodeFrame(frame) as EventBatch).history.length, 40);
});

Forward('encodeForwardFrame - refuses what the receiver limits would refuse, as encodeFrame does', () => {
  const source = scanned(
    encodeFrame(
      batch([event({ id: 'big', type: 't'.repeat(65), payload: 'x'.repeat(5000), meta: { a: '1', b: 'v'.repeat(100) } }), event()]),
    ),
  );
  const events = decodeEvents(source);
  const both = (limits: Partial<FrameLimits>) => [
    () => encodeForwardFrame(forward(refsTo(source), [event()]), { limits }),
    () => encodeFrame(batch(events, [event()]), { limits }),
  ];
  for (const limits of [{ maxEvents: 2 }, { maxFrameBytes: 4096 }]) {
    for (const run of both(limits)) assert.is(refusal(run).reason, 'TOO_LARGE', JSON.stringify(limits));
  }
  const invalid: [Partial<FrameLimits>, string][] = [
    [{ maxStringBytes: 64 }, 'maxStringBytes'],
    [{ maxPayloadBytes: 64 }, 'maxPayloadBytes'],
    [{ maxMetaEntries: 1 }, 'maxMetaEntries'],
  ];
  for (const [limits, name] of invalid) {
    for (const run of both(limits)) {
      const says = (error: unknown) =>
        isA(InvalidEventError)(error) && [name, '"big"'].every((part) => (error as Error).message.includes(part));
      assert.throws(run, says, name);
    }
  }
  assert.throws(
    () => encodeForwardFrame(forward(refsTo(source)), { limits: { maxStringBytes: 99 } }),
    (error: unknown) => isA(InvalidEventError)(error) && (error as Error).message.includes('meta value'),
  );
  assert.equal(decodeFrame(encodeForwardFrame(forward(refsTo(source)), { limits: { maxEvents: 2 } })), batch(events));
});

Forward('encodeForwardFrame - refuses refs that are not events of their batch, and what is not a batch', () => {
  const source = scanned(encodeFrame(batch([event()])));
  for (const index of [1, -1, 0.5]) {
    assert.throws(() => encodeForwardFrame(forward([{ batch: source, index }])), isA(InvalidOptionError));
  }
  assert.throws(() => encodeForwardFrame(forward([{ batch: {}, index: 0 } as unknown as EncodedEventRef])), isA(InvalidEventError));
  assert.throws(() => encodeForwardFrame(null as unknown as ForwardBatch), isA(InvalidEventError));
  assert.throws(() => encodeForwardFrame(forward([]), { compress: 'yes' as unknown as boolean }), isA(InvalidOptionError));
});

Forward('isEncodedEventRef - tells refs from events', () => {
  const source = scanned(encodeFrame(batch([event()])));
  assert.ok(isEncodedEventRef({ batch: source, index: 0 }));
  const others = [event(), null, undefined, 1, {}, { batch: null, index: 0 }, { batch: {}, index: 0 }];
  for (const other of others) assert.not.ok(isEncodedEventRef(other));
});

Forward.run();

// ---------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------

const Allocation = suite('codec lazy allocation');

const newSpaceUsed = (): number => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_used_size ?? 0;

/**
 * The young-generation bytes each of `runs` allocates, the least of those of
 * `trials` runs no garbage collection overlapped (a collection in the middle
 * would hide what was allocated before it). GC entries reach the observer
 * after a turn of the event loop, so the trials are judged afterwards. The
 * least, not the median: what a run allocates per event it allocates every
 * time, while V8 itself sometimes allocates in the middle of a run (feedback,
 * optimised code: 70 KB in one of 25 runs on Node 24).
 */
async function allocatedBytes(runs: Record<string, () => unknown>, trials = 25): Promise<Record<string, number>> {
  const collections: [number, number][] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push([entry.startTime, entry.startTime + entry.duration]);
  });
  observer.observe({ entryTypes: ['gc'] });
  const measured: { name: string; start: number; end: number; bytes: number }[] = [];
  let sink: unknown;
  for (const run of Object.values(runs)) for (let warm = 0; warm < 3; warm++) sink = run();
  for (let trial = 0; trial < trials; trial++) {
    for (const [name, run] of Object.entries(runs)) {
      const start = performance.now();
      const before = newSpaceUsed();
      sink = run();
      const bytes = newSpaceUsed() - before;
      measured.push({ name, start, end: performance.now(), bytes });
    }
  }
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  for (const entry of observer.takeRecords()) collections.push([entry.startTime, entry.startTime + entry.duration]);
  observer.disconnect();
  assert.ok(sink !== undefined);
  const result: Record<string, number> = {};
  for (const name of Object.keys(runs)) {
    const clean = measured
      .filter((m) => m.name === name && m.bytes >= 0 && collections.every(([start, end]) => end < m.start || start > m.end))
      .map((m) => m.bytes)
      .sort((x, y) => x - y);
    assert.ok(clean.length > 0, `no run of ${name} went without a garbage collection`);
    result[name] = clean[0] as number;
  }
  return result;
}

Allocation('scanFrame - a 4096-event batch allocates nothing per event, a small fraction of decodeFrame', async () => {
  const frame = encodeFrame(manySmall(4096));
  const bytes = await allocatedBytes({ scan: () => scanFrame(frame), decode: () => decodeFrame(frame) });
  const scan = bytes['scan'] as number;
  const decode = bytes['decode'] as number;
  assert.ok(scan < decode / 5, `scanFrame allocated ${scan} bytes, decodeFrame ${decode}`);
  assert.ok(scan < 4096 * 4, `scanFrame allocated ${scan} bytes for 4096 events: something per event`);
});

Allocation('eventTypeAt - repeated reads allocate nothing per call; eventOriginAt neither, for one origin', async () => {
  const encoded = scanned(encodeFrame(manySmall(4096)));
  const bytes = await allocatedBytes({
    types: () => {
      let length = 0;
      for (let i = 0; i < encoded.count; i++) length += eventTypeAt(encoded, i).length;
      return length;
    },
    origins: () => {
      let threads = 0;
      for (let i = 0; i < encoded.count; i++) threads += eventOriginAt(encoded, i).thread;
      return threads + 1;
    },
  });
  assert.ok((bytes['types'] as number) < 4096, `4096 eventTypeAt calls allocated ${bytes['types']} bytes`);
  assert.ok((bytes['origins'] as number) < 4096, `4096 eventOriginAt calls allocated ${bytes['origins']} bytes`);
});

Allocation.run();
