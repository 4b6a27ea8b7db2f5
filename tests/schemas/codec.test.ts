import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { compressSync } from 'snappy';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusError, FrameError, InvalidEventError, InvalidOptionError, type FrameErrorReason } from '../../errors.js';
import type { Ack, EventBatch, SyncRequest, WireMessage } from '../../runtime/wire/protocol.js';
import { MAX_LABEL_LENGTH, MAX_META_ENTRIES } from '../../runtime/validate.js';
import {
  AUTO_COMPRESS_MIN_BYTES,
  DEFAULT_FRAME_LIMITS,
  FLAG_SNAPPY,
  MAX_PAYLOAD_DEPTH,
  FRAME_HEADER_BYTES,
  FRAME_VERSION,
  type EncodedBatch,
  type FrameLimits,
  decodeEvents,
  decodeFrame,
  scanFrame,
  encodeFrame,
  readFrameHeader,
} from '../../schemas/codec/index.js';
import type { BusEvent, JsonValue } from '../../types.js';
import {
  assertWellFormed,
  batch,
  bodyOf,
  compressedFrameAround,
  event,
  finishBatchEnvelope,
  frameAround,
  from,
  handBuiltEvent,
  mutate,
  mutation,
  snappyLengthPrefix,
  wireMessage,
} from './fixtures.js';

// ---------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------


function roundTrip(message: WireMessage, compress: boolean | 'auto' = false): WireMessage {
  return decodeFrame(encodeFrame(message, { compress }));
}

function frameError(run: () => unknown): FrameError {
  try {
    run();
  } catch (error) {
    if (error instanceof FrameError) return error;
    throw new Error(`expected a FrameError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a FrameError, but decoding succeeded');
}

function expectFrameError(run: () => unknown, reason: FrameErrorReason): FrameError {
  const error = frameError(run);
  assert.is(error.reason, reason, error.message);
  assert.is(error.code, reason === 'TOO_LARGE' ? 'FRAME_TOO_LARGE' : 'FRAME_CORRUPT');
  return error;
}

function expectInvalidEvent(run: () => unknown, includes: string): InvalidEventError {
  try {
    run();
  } catch (error) {
    assert.instance(error, InvalidEventError);
    const message = (error as Error).message;
    assert.ok(message.includes(includes), `"${message}" should mention "${includes}"`);
    return error as InvalidEventError;
  }
  throw new Error('expected an InvalidEventError');
}

/**
 * Decodes `frame`: returns the message, or the FrameError's reason. Anything
 * else thrown fails the test, and a decoded message must be well-formed.
 */
function decodeOrReason(frame: Uint8Array, limits?: Partial<FrameLimits>): WireMessage | FrameErrorReason {
  let message: WireMessage;
  try {
    message = decodeFrame(frame, limits);
  } catch (error) {
    if (error instanceof FrameError) return error.reason;
    throw new Error(`decodeFrame threw something other than a FrameError: ${String(error)}`, { cause: error });
  }
  assertWellFormed(message, frame);
  return message;
}

const compressOption = fc.constantFrom(false, true, 'auto' as const);

/** Reference CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffff_ffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f6_3b78 : crc >>> 1;
  }
  return (crc ^ 0xffff_ffff) >>> 0;
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

const RoundTrip = suite('codec round trips');

RoundTrip('encodeFrame - batch with history and queue round-trips exactly', () => {
  const message = batch([event(), event({ id: '2.3.18', priority: 'immediate' })], [event({ id: '2.3.19', priority: 'deferred' })]);
  assert.equal(roundTrip(message), message);
});

RoundTrip('encodeFrame - empty batch round-trips', () => {
  const message = batch([], [], 0);
  assert.equal(roundTrip(message), message);
});

RoundTrip('encodeFrame - optional event fields stay absent when absent', () => {
  const decoded = roundTrip(batch([event()])) as EventBatch;
  const first = decoded.history[0] as BusEvent;
  assert.not.ok('topic' in first);
  assert.not.ok('meta' in first);
  assert.equal(Object.keys(first).sort(), ['id', 'origin', 'payload', 'priority', 'side', 'timestamp', 'type']);
});

RoundTrip('encodeFrame - topic, meta, empty meta and empty topics and values round-trip', () => {
  const events = [
    event({ topic: 'orders', meta: { trace: 'abc', user: '' } }),
    event({ id: '2.3.20', topic: '', meta: {} }),
    event({ id: '0.0.0', type: 'x', side: 'internal', priority: 'immediate', timestamp: 0, origin: { processor: 0, thread: 0, generation: 0 } }),
  ];
  const decoded = roundTrip(batch(events)) as EventBatch;
  assert.equal(decoded, batch(events));
  assert.equal((decoded.history[1] as BusEvent).meta, {});
});

RoundTrip('encodeFrame - bytes payloads decode to fresh plain Uint8Array copies', () => {
  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  const frame = encodeFrame(batch([event({ payload: bytes }), event({ id: 'b', payload: Buffer.from([7, 8]) })]));
  const decoded = decodeFrame(frame) as EventBatch;
  const first = (decoded.history[0] as BusEvent).payload as Uint8Array;
  const second = (decoded.history[1] as BusEvent).payload as Uint8Array;
  assert.equal(first, bytes);
  assert.is(Object.getPrototypeOf(second), Uint8Array.prototype);
  assert.equal([...second], [7, 8]);
  assert.ok(first.buffer !== frame.buffer && second.buffer !== frame.buffer);
  frame.fill(0);
  assert.equal([...first], [0, 1, 2, 254, 255], 'the payload does not change with the frame');
  assert.equal(roundTrip(batch([event({ payload: new Uint8Array(0) })])), batch([event({ payload: new Uint8Array(0) })]));
});

RoundTrip('encodeFrame - JSON payloads of every kind round-trip', () => {
  const payloads: JsonValue[] = [null, true, false, 0, -1.5, 1e300, 'text', '', [], {}, [1, [2, [3]]], { a: { b: [null, 'x'] } }];
  const events = payloads.map((payload, i) => event({ id: `2.3.${i}`, payload }));
  assert.equal(roundTrip(batch(events)), batch(events));
});

RoundTrip('encodeFrame - unicode, BOM, NUL and "__proto__" keys round-trip in every string', () => {
  const tricky = ['\uFEFFbom first', 'nul\u0000inside', 'émoji 🎉 汉字 עברית', '\u{10FFFF}', 'a'.repeat(300) + '✓'];
  const meta: Record<string, string> = { '🔑': 'värde', toString: 'x', constructor: 'y' };
  Object.defineProperty(meta, '__proto__', { value: 'not a prototype', enumerable: true, writable: true, configurable: true });
  const payload = JSON.parse('{"__proto__":{"polluted":true},"k":"\\ud83c\\udf89 escaped pairs are fine in JSON"}') as JsonValue;
  const events = tricky.map((s, i) =>
    // Types are letters, digits and _-:/$@ (post()'s rule); every other string takes anything.
    event({ id: `${s}#${i}`, type: `t${i}`, topic: s, payload: i === 0 ? payload : { [s]: s }, meta: i === 0 ? meta : { [s]: s } }),
  );
  const message = batch(events);
  const decoded = roundTrip(message) as EventBatch;
  assert.equal(decoded, message);
  const first = decoded.history[0] as BusEvent;
  assert.is(Object.getPrototypeOf(first.meta), Object.prototype);
  assert.is((first.meta as Record<string, string>)['__proto__'], 'not a prototype');
  assert.is(({} as Record<string, unknown>)['polluted'], undefined);
  assert.is(first.id.charCodeAt(0), 0xfeff, 'a leading BOM is kept');
});

RoundTrip('encodeFrame - syncRequest keeps absent types apart from an empty list', () => {
  const all: SyncRequest = { kind: 'syncRequest', seq: 1, from, side: 'internal' };
  const none: SyncRequest = { kind: 'syncRequest', seq: 2, from, side: 'external', types: [] };
  const some: SyncRequest = { kind: 'syncRequest', seq: 3, from, side: 'external', types: ['user', 'order.paid', 'ü'] };
  assert.equal(roundTrip(all), all);
  assert.not.ok('types' in roundTrip(all));
  assert.equal(roundTrip(none), none);
  assert.equal(roundTrip(some), some);
});

RoundTrip('encodeFrame - syncRequest carries interest apart from types, absent apart from empty', () => {
  const declared: SyncRequest = { kind: 'syncRequest', seq: 1, from, side: 'internal', interest: ['order.*', 'user.>', 'ping'] };
  const none: SyncRequest = { kind: 'syncRequest', seq: 2, from, side: 'external', types: ['a'], interest: [] };
  const all: SyncRequest = { kind: 'syncRequest', seq: 3, from, side: 'external', types: ['a'], since: 4, deliveredThrough: 2 };
  assert.equal(roundTrip(declared), declared);
  assert.not.ok('types' in roundTrip(declared));
  assert.equal(roundTrip(none), none);
  assert.equal(roundTrip(all), all);
  assert.not.ok('interest' in roundTrip(all));
  assert.throws(() => encodeFrame({ kind: 'syncRequest', seq: 0, from, side: 'internal', interest: ['a', 'b'] }, { limits: { maxTypes: 1 } }), /interest patterns/);
});

RoundTrip('encodeFrame - clearSide and bridgeState round-trip for every value', () => {
  for (const remove of ['internal', 'external'] as const) {
    for (const scope of ['internal', 'external'] as const) {
      const message: WireMessage = { kind: 'clearSide', seq: 4, remove, scope };
      assert.equal(roundTrip(message), message);
    }
  }
  for (const direction of ['closed', 'open', 'oneWayExternal', 'oneWayInternal'] as const) {
    for (const locked of [true, false]) {
      const message: WireMessage = { kind: 'bridgeState', seq: 5, direction, locked };
      assert.equal(roundTrip(message), message);
    }
  }
});

RoundTrip('encodeFrame - ack with and without error fields, extreme seq and credits', () => {
  const messages: Ack[] = [
    { kind: 'ack', seq: 0, ok: true, credits: 0 },
    { kind: 'ack', seq: Number.MAX_SAFE_INTEGER, ok: false, errorCode: 'BRIDGE_LOCKED', errorMessage: 'locked ✋', credits: 0xffff_ffff },
    { kind: 'ack', seq: 2 ** 32, ok: false, errorCode: '', credits: 1 },
    { kind: 'ack', seq: 2 ** 32 - 1, ok: true, errorMessage: '', credits: 16 },
  ];
  for (const message of messages) assert.equal(roundTrip(message), message);
  assert.not.ok('errorCode' in roundTrip(messages[0] as Ack));
});

RoundTrip('encodeFrame - optional fields set to undefined decode as absent', () => {
  const decoded = roundTrip(batch([event({ topic: undefined, meta: undefined })])) as EventBatch;
  assert.not.ok('topic' in (decoded.history[0] as BusEvent));
  assert.not.ok('meta' in (decoded.history[0] as BusEvent));
});

RoundTrip('encodeFrame - arbitrary messages round-trip exactly (property)', () => {
  fc.assert(
    fc.property(wireMessage, compressOption, (message, compress) => {
      assert.equal(decodeFrame(encodeFrame(message, { compress })), message);
    }),
    { numRuns: 1200 },
  );
});

RoundTrip('decodeFrame - accepts Buffers and views at an offset into a larger buffer', () => {
  const message = batch([event({ payload: new Uint8Array([1, 2, 3]) })]);
  const frame = encodeFrame(message);
  const padded = new Uint8Array(frame.length + 13);
  padded.set(frame, 7);
  assert.equal(decodeFrame(padded.subarray(7, 7 + frame.length)), message);
  assert.equal(decodeFrame(Buffer.from(frame)), message);
  const shared = new Uint8Array(new SharedArrayBuffer(frame.length));
  shared.set(frame);
  assert.equal(decodeFrame(shared), message);
});

RoundTrip('encodeFrame - is re-entrant from a payload getter', () => {
  const inner = batch([event({ id: 'inner' })]);
  let innerFrame: Uint8Array | undefined;
  const payload = {
    get value() {
      innerFrame ??= encodeFrame(inner);
      return 'outer';
    },
  };
  const outerFrame = encodeFrame(batch([event({ id: 'outer', payload: payload as unknown as JsonValue })]));
  assert.equal(decodeFrame(innerFrame as Uint8Array), inner);
  assert.equal(((decodeFrame(outerFrame) as EventBatch).history[0] as BusEvent).payload, { value: 'outer' });
});

RoundTrip.run();

// ---------------------------------------------------------------------------
// Frame layout, checksum and compression
// ---------------------------------------------------------------------------

const Layout = suite('codec frame layout');

Layout('encodeFrame - writes the documented header and owns its ArrayBuffer', () => {
  const frame = encodeFrame({ kind: 'ack', seq: 1, ok: true, credits: 2 });
  const view = new DataView(frame.buffer);
  assert.equal([...frame.subarray(0, 4)], [0x42, 0x4c, 0x46, 0x31]);
  assert.is(frame[4], FRAME_VERSION);
  assert.is(frame[5], 0);
  assert.is(view.getUint16(6, true), 0);
  assert.is(view.getUint32(8, true), frame.length - FRAME_HEADER_BYTES);
  assert.is(view.getUint32(12, true), frame.length - FRAME_HEADER_BYTES);
  assert.is(view.getUint32(16, true), referenceCrc32c(frame.subarray(FRAME_HEADER_BYTES)));
  assert.equal([...frame.subarray(FRAME_HEADER_BYTES + 4, FRAME_HEADER_BYTES + 8)], [0x42, 0x4c, 0x57, 0x31], 'file identifier BLW1');
  assert.is(frame.byteOffset, 0);
  assert.is(frame.buffer.byteLength, frame.length, 'transferable without copying');
});

Layout('crc32c - matches the standard check value and a reference implementation', () => {
  assert.is(crc32c(Buffer.from('123456789')) >>> 0, 0xe306_9283);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (bytes, offset) => {
      const padded = new Uint8Array(bytes.length + offset);
      padded.set(bytes, offset);
      assert.is(crc32c(padded.subarray(offset)) >>> 0, referenceCrc32c(bytes));
    }),
    { numRuns: 200 },
  );
});

Layout('readFrameHeader - reports lengths, compression and the whole frame size', () => {
  const frame = encodeFrame(batch([event({ payload: 'x'.repeat(5000) })]), { compress: true });
  const header = readFrameHeader(frame.subarray(0, FRAME_HEADER_BYTES));
  assert.is(header.compressed, true);
  assert.is(header.version, FRAME_VERSION);
  assert.is(header.frameBytes, frame.length);
  assert.ok(header.uncompressedBytes > header.bodyBytes);
  expectFrameError(() => readFrameHeader(frame.subarray(0, 19)), 'TRUNCATED');
});

Layout('encodeFrame - compress: false never compresses, true always does', () => {
  const large = batch([event({ payload: 'abc'.repeat(2000) })]);
  const tiny: WireMessage = { kind: 'ack', seq: 1, ok: true, credits: 1 };
  assert.is(encodeFrame(large)[5], 0);
  assert.is(encodeFrame(large, { compress: false })[5], 0);
  assert.is(encodeFrame(large, { compress: true })[5], FLAG_SNAPPY);
  assert.is(encodeFrame(tiny, { compress: true })[5], FLAG_SNAPPY);
  assert.equal(decodeFrame(encodeFrame(tiny, { compress: true })), tiny);
  assert.ok(encodeFrame(large, { compress: true }).length < encodeFrame(large).length / 10);
});

Layout('encodeFrame - compress: auto compresses only large bodies that shrink', () => {
  const small = batch([event()]);
  assert.ok(encodeFrame(small).length < AUTO_COMPRESS_MIN_BYTES);
  assert.is(encodeFrame(small, { compress: 'auto' })[5], 0, 'small: not compressed');
  const compressible = batch([event({ payload: 'abc'.repeat(2000) })]);
  assert.is(encodeFrame(compressible, { compress: 'auto' })[5], FLAG_SNAPPY, 'large and compressible');
  const random = new Uint8Array(8192);
  let state = 0x9e37_79b9; // xorshift32: deterministic and incompressible enough
  for (let i = 0; i < random.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    random[i] = state & 0xff;
  }
  const incompressible = batch([event({ payload: random })]);
  assert.is(encodeFrame(incompressible, { compress: 'auto' })[5], 0, 'large but incompressible');
  assert.equal(decodeFrame(encodeFrame(incompressible, { compress: 'auto' })), incompressible);
});

Layout('encodeFrame - refuses an unknown compress option', () => {
  try {
    encodeFrame(batch([]), { compress: 'yes' as unknown as boolean });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, InvalidOptionError);
  }
});

Layout.run();

// ---------------------------------------------------------------------------
// Encoding refusals
// ---------------------------------------------------------------------------

const Refusals = suite('codec encoding refusals');

Refusals('encodeFrame - refuses payloads JSON cannot carry exactly, naming the event and the reason', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  const deep: unknown[] = [];
  let cursor = deep;
  for (let i = 0; i < 600; i++) {
    const next: unknown[] = [];
    cursor.push(next);
    cursor = next;
  }
  const cases: [unknown, string][] = [
    [{ f: () => 1 }, '.f is a function'],
    [{ s: Symbol('s') }, '.s is a symbol'],
    [{ b: 10n }, '.b is a bigint'],
    [cyclic, '.self is a circular reference'],
    [{ n: Number.NaN }, '.n is NaN'],
    [[1, Number.POSITIVE_INFINITY], '[1] is Infinity'],
    [{ u: undefined }, '.u is undefined'],
    [undefined, 'payload is undefined'],
    [{ d: new Date(0) }, '.d is a Date'],
    [new Map(), 'is a Map'],
    [[1, , 3], '[1] is a hole'],
    [{ bytes: new Uint8Array(1) }, 'Uint8Array inside data'],
    [{ toJSON: () => 'x' }, 'toJSON'],
    [deep, 'nested deeper than'],
    [new Int16Array(2), 'Int16Array'],
  ];
  for (const [payload, reason] of cases) {
    const error = expectInvalidEvent(() => encodeFrame(batch([event({ id: 'ev-7', payload: payload as JsonValue })])), reason);
    assert.ok(error.message.includes('"ev-7"'), error.message);
    assert.is(error.code, 'INVALID_EVENT');
  }
});

function nested(depth: number): JsonValue {
  let value: JsonValue = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

Refusals('encodeFrame - accepts payloads nested up to MAX_PAYLOAD_DEPTH and no deeper', () => {
  const deepest = batch([event({ payload: nested(MAX_PAYLOAD_DEPTH) })]);
  assert.equal(roundTrip(deepest), deepest);
  expectInvalidEvent(() => encodeFrame(batch([event({ payload: nested(MAX_PAYLOAD_DEPTH + 1) })])), 'nested deeper');
});

Refusals('encodeFrame - refuses malformed event fields', () => {
  const bad = (overrides: Record<string, unknown>) => batch([{ ...event({ id: 'ev-8' }), ...overrides } as BusEvent]);
  expectInvalidEvent(() => encodeFrame(bad({ type: 42 })), 'type is number 42');
  expectInvalidEvent(() => encodeFrame(bad({ id: 5 })), 'id');
  expectInvalidEvent(() => encodeFrame(bad({ side: 'both' })), 'side');
  expectInvalidEvent(() => encodeFrame(bad({ priority: 'urgent' })), 'priority');
  expectInvalidEvent(() => encodeFrame(bad({ timestamp: Number.NaN })), 'timestamp');
  expectInvalidEvent(() => encodeFrame(bad({ timestamp: '1' })), 'timestamp');
  expectInvalidEvent(() => encodeFrame(bad({ origin: { processor: -1, thread: 0, generation: 0 } })), 'origin');
  expectInvalidEvent(() => encodeFrame(bad({ origin: { processor: 1.5, thread: 0, generation: 0 } })), 'origin');
  expectInvalidEvent(() => encodeFrame(bad({ origin: null })), 'origin');
  expectInvalidEvent(() => encodeFrame(bad({ topic: 7 })), 'topic');
  expectInvalidEvent(() => encodeFrame(bad({ meta: { k: 1 } })), 'meta["k"]');
  expectInvalidEvent(() => encodeFrame(bad({ meta: ['a'] })), 'meta');
  expectInvalidEvent(() => encodeFrame(bad({ meta: new Map() })), 'meta');
  expectInvalidEvent(() => encodeFrame(bad({ topic: 'lone \uD800 surrogate' })), 'lone UTF-16 surrogate');
  expectInvalidEvent(() => encodeFrame(bad({ meta: { ['\uDC00']: 'v' } })), 'lone UTF-16 surrogate');
  expectInvalidEvent(() => encodeFrame(batch([null as unknown as BusEvent])), 'expected a BusEvent');
});

Refusals('encodeFrame - refuses malformed control messages', () => {
  const cases: [unknown, string][] = [
    [{ kind: 'ack', seq: -1, ok: true, credits: 0 }, 'seq'],
    [{ kind: 'ack', seq: 1.5, ok: true, credits: 0 }, 'seq'],
    [{ kind: 'ack', seq: 2 ** 53, ok: true, credits: 0 }, 'seq'],
    [{ kind: 'ack', seq: 0, ok: 'yes', credits: 0 }, 'ok'],
    [{ kind: 'ack', seq: 0, ok: true, credits: 2 ** 32 }, 'credits'],
    [{ kind: 'ack', seq: 0, ok: true, credits: 0, errorCode: 5 }, 'ack.errorCode'],
    [{ kind: 'bridgeState', seq: 0, direction: 'ajar', locked: false }, 'direction'],
    [{ kind: 'bridgeState', seq: 0, direction: 'open', locked: 1 }, 'locked'],
    [{ kind: 'clearSide', seq: 0, remove: 'x', scope: 'internal' }, 'clearSide.remove'],
    [{ kind: 'syncRequest', seq: 0, from, side: 'internal', types: 'user' }, 'types'],
    [{ kind: 'syncRequest', seq: 0, from, side: 'internal', types: [1] }, 'syncRequest.types[0]'],
    [{ kind: 'syncRequest', seq: 0, from, side: 'internal', interest: 'user' }, 'interest must be'],
    [{ kind: 'syncRequest', seq: 0, from, side: 'internal', interest: [1] }, 'syncRequest.interest[0]'],
    [{ kind: 'syncRequest', seq: 0, from: { ...from, thread: -2 }, side: 'internal' }, 'syncRequest.from'],
    [{ kind: 'batch', seq: 0, from, history: null, queue: [] }, 'arrays'],
    [{ kind: 'gossip', seq: 0 }, 'kind "gossip"'],
    [null, 'null'],
  ];
  for (const [message, reason] of cases) expectInvalidEvent(() => encodeFrame(message as WireMessage), reason);
});

Refusals('encodeFrame - refuses what the receiver limits would refuse', () => {
  expectFrameError(() => encodeFrame(batch([event(), event()], [event()]), { limits: { maxEvents: 2 } }), 'TOO_LARGE');
  expectFrameError(() => encodeFrame(batch([event({ payload: 'x'.repeat(5000) })]), { limits: { maxFrameBytes: 4096 } }), 'TOO_LARGE');
  const refused = (overrides: Partial<BusEvent>, limits: Partial<FrameLimits>, reason: string) =>
    expectInvalidEvent(() => encodeFrame(batch([event(overrides)]), { limits }), reason);
  refused({ type: 't'.repeat(65) }, { maxStringBytes: 64 }, 'maxStringBytes');
  refused({ payload: new Uint8Array(65) }, { maxPayloadBytes: 64 }, 'maxPayloadBytes');
  refused({ payload: 'é'.repeat(40) }, { maxPayloadBytes: 64 }, 'maxPayloadBytes');
  refused({ meta: { a: '1', b: '2' } }, { maxMetaEntries: 1 }, 'maxMetaEntries');
  expectFrameError(
    () => encodeFrame({ kind: 'syncRequest', seq: 0, from, side: 'internal', types: ['a', 'b'] }, { limits: { maxTypes: 1 } }),
    'TOO_LARGE',
  );
});

Refusals('resolveFrameLimits - refuses limits that are not positive integers', () => {
  for (const limits of [{ maxEvents: 0 }, { maxFrameBytes: -1 }, { maxStringBytes: 1.5 }, { maxTypes: 2 ** 31 }, { maxEvents: '5' }]) {
    try {
      decodeFrame(encodeFrame(batch([])), limits as unknown as Partial<FrameLimits>);
      assert.unreachable();
    } catch (error) {
      assert.instance(error, InvalidOptionError);
    }
  }
});

Refusals.run();

// ---------------------------------------------------------------------------
// Damaged and hostile frames
// ---------------------------------------------------------------------------

const Hostile = suite('codec damaged and hostile frames');

const sample = batch(
  [event({ topic: 't', meta: { a: 'b' } }), event({ id: '2.3.18', payload: new Uint8Array([1, 2, 3]) })],
  [event({ id: '2.3.19', priority: 'deferred' })],
);

Hostile('decodeFrame - refuses anything that is not a Uint8Array with a FrameError', () => {
  for (const input of [null, undefined, 'BLF1', 42, {}, [0x42, 0x4c], new ArrayBuffer(40), new Uint16Array(20)]) {
    expectFrameError(() => decodeFrame(input as unknown as Uint8Array), 'MALFORMED');
  }
});

Hostile('decodeFrame - every header field is checked', () => {
  const frame = encodeFrame(sample);
  const patched = (at: number, value: number) => {
    const copy = frame.slice();
    copy[at] = value;
    return copy;
  };
  const withU32 = (at: number, value: number) => {
    const copy = frame.slice();
    new DataView(copy.buffer).setUint32(at, value, true);
    return copy;
  };
  const bodyBytes = frame.length - FRAME_HEADER_BYTES;
  expectFrameError(() => decodeFrame(patched(0, 0x43)), 'BAD_MAGIC');
  expectFrameError(() => decodeFrame(patched(3, 0x32)), 'BAD_MAGIC');
  expectFrameError(() => decodeFrame(patched(4, 2)), 'BAD_VERSION');
  expectFrameError(() => decodeFrame(patched(4, 0)), 'BAD_VERSION');
  expectFrameError(() => decodeFrame(patched(5, 0x02)), 'BAD_FLAGS');
  expectFrameError(() => decodeFrame(patched(5, 0x80)), 'BAD_FLAGS');
  expectFrameError(() => decodeFrame(patched(6, 1)), 'BAD_FLAGS');
  expectFrameError(() => decodeFrame(patched(7, 1)), 'BAD_FLAGS');
  expectFrameError(() => decodeFrame(patched(5, FLAG_SNAPPY)), 'LENGTH_MISMATCH'); // not snappy: its "length prefix" disagrees
  expectFrameError(() => decodeFrame(withU32(8, 0xffff_ffff)), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(withU32(8, DEFAULT_FRAME_LIMITS.maxFrameBytes + 1)), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(withU32(12, 0xffff_ffff)), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(withU32(8, bodyBytes + 1)), 'LENGTH_MISMATCH');
  expectFrameError(() => decodeFrame(withU32(12, bodyBytes + 1)), 'LENGTH_MISMATCH');
  const lyingLonger = withU32(8, bodyBytes + 100);
  new DataView(lyingLonger.buffer).setUint32(12, bodyBytes + 100, true);
  expectFrameError(() => decodeFrame(lyingLonger), 'TRUNCATED');
  const lyingShorter = withU32(8, bodyBytes - 1);
  new DataView(lyingShorter.buffer).setUint32(12, bodyBytes - 1, true);
  expectFrameError(() => decodeFrame(lyingShorter), 'LENGTH_MISMATCH');
  expectFrameError(() => decodeFrame(withU32(16, (new DataView(frame.buffer).getUint32(16, true) ^ 1) >>> 0)), 'CHECKSUM');
  const trailing = new Uint8Array(frame.length + 1);
  trailing.set(frame);
  expectFrameError(() => decodeFrame(trailing), 'LENGTH_MISMATCH');
});

Hostile('decodeFrame and scanFrame - every truncation of a valid frame is TRUNCATED', () => {
  const frames = [
    encodeFrame(sample),
    encodeFrame(sample, { compress: true }),
    encodeFrame({ kind: 'ack', seq: 3, ok: false, errorCode: 'X', credits: 1 }),
    encodeFrame({ kind: 'syncRequest', seq: 3, from, side: 'internal', types: ['a'] }),
  ];
  for (const frame of frames) {
    for (let length = 0; length < frame.length; length++) {
      expectFrameError(() => decodeFrame(frame.subarray(0, length)), 'TRUNCATED');
      expectFrameError(() => scanFrame(frame.subarray(0, length)), 'TRUNCATED');
    }
  }
});

Hostile('decodeFrame - random bytes give a FrameError and nothing else (property)', () => {
  const headerPrefix = new Uint8Array([0x42, 0x4c, 0x46, 0x31, FRAME_VERSION]);
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => {
      const out = new Uint8Array(headerPrefix.length + bytes.length);
      out.set(headerPrefix);
      out.set(bytes, headerPrefix.length);
      return out;
    }),
  );
  fc.assert(
    fc.property(input, (bytes) => {
      frameError(() => decodeFrame(bytes));
    }),
    { numRuns: 2000 },
  );
});

Hostile('decodeFrame - random bodies behind a valid header and CRC never decode to garbage (property)', () => {
  const reasons = new Map<string, number>();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean(), fc.nat(400), (bytes, identify, root) => {
      const body = bytes.slice();
      if (identify && body.length >= 8) {
        // Give it a plausible root offset and the right file identifier, so it gets past the first checks.
        new DataView(body.buffer).setUint32(0, root % body.length, true);
        body.set([0x42, 0x4c, 0x57, 0x31], 4);
      }
      const outcome = decodeOrReason(frameAround(body));
      const key = typeof outcome === 'string' ? outcome : 'decoded';
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }),
    { numRuns: 2000 },
  );
  assert.ok((reasons.get('MALFORMED') ?? 0) > 500, `the verifier did the refusing: ${JSON.stringify([...reasons])}`);
});

Hostile('decodeFrame - bit flips in header and body give a FrameError (property)', () => {
  const frames = [encodeFrame(sample), encodeFrame(sample, { compress: true }), encodeFrame({ kind: 'ack', seq: 1, ok: true, credits: 9 })];
  fc.assert(
    fc.property(
      fc.nat(frames.length - 1),
      fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 6 }),
      (which, positions) => {
        const frame = (frames[which] as Uint8Array).slice();
        const bits = frame.length * 8;
        const flipped = new Set(positions.map((p) => p % bits));
        for (const bit of flipped) frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
        frameError(() => decodeFrame(frame));
      },
    ),
    { numRuns: 2500 },
  );
});

Hostile('decodeFrame - mutated FlatBuffers bodies with a recomputed CRC are refused or decode well-formed (property)', () => {
  const reasons = new Map<string, number>();
  fc.assert(
    fc.property(
      wireMessage,
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.constantFrom('plain', 'compressed', 'snappy-damaged'),
      (message, mutations, how) => {
        const body = bodyOf(encodeFrame(message));
        let frame: Uint8Array;
        if (how === 'snappy-damaged') {
          // Damage the compressed bytes; the header agrees with whatever length prefix is left.
          const damaged = mutate(new Uint8Array(compressSync(body)), mutations);
          frame = frameAround(damaged, { compressed: true, uncompressedBytes: snappyLengthPrefix(damaged) ?? body.length });
        } else {
          const damaged = mutate(body, mutations);
          frame = how === 'compressed' ? compressedFrameAround(damaged) : frameAround(damaged);
        }
        const outcome = decodeOrReason(frame);
        const key = typeof outcome === 'string' ? outcome : 'decoded';
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      },
    ),
    { numRuns: 3000 },
  );
  const seen = JSON.stringify([...reasons]);
  assert.ok((reasons.get('MALFORMED') ?? 0) > 1000, `the verifier did the refusing: ${seen}`);
  assert.ok((reasons.get('DECOMPRESS') ?? 0) > 0, `damaged snappy blocks were refused: ${seen}`);
});

Hostile('decodeFrame - a mutation that makes an optional field appear decodes well-formed (found by the property above)', () => {
  // fast-check seed 658562874: one vtable byte of an Ack set to 20 made `through` present (18 since the Ack has `already_delivered`).
  const body = bodyOf(encodeFrame({ kind: 'ack', seq: 1, ok: false, errorCode: '', errorMessage: '    ', credits: 1 }));
  body[26] = 18;
  const outcome = decodeOrReason(frameAround(body));
  assert.equal(typeof outcome === 'string' ? outcome : outcome.kind === 'ack' && outcome.through, 65536);
});

Hostile('decodeFrame - a lying event count is refused before anything is allocated for it', () => {
  const events = Array.from({ length: 77 }, (_, i) => event({ id: `2.3.${i}` }));
  const body = bodyOf(encodeFrame(batch(events)));
  const view = new DataView(body.buffer);
  let patchedSomething = false;
  for (let at = 0; at + 4 <= body.length; at += 4) {
    if (view.getUint32(at, true) !== 77) continue;
    for (const lie of [0x00ff_ffff, 0xffff_ffff, 78, 1_000_001]) {
      const copy = body.slice();
      new DataView(copy.buffer).setUint32(at, lie, true);
      const outcome = decodeOrReason(frameAround(copy));
      assert.type(outcome, 'string', `a count of ${lie} at ${at} must be refused`);
      patchedSomething = true;
    }
  }
  assert.ok(patchedSomething, 'found the history length');
});

Hostile('decodeFrame - limits are enforced with TOO_LARGE', () => {
  const frame = encodeFrame(batch([event({ meta: { a: '1', b: '2' } }), event({ id: 'x', payload: new Uint8Array(100) })], [event()]));
  expectFrameError(() => decodeFrame(frame, { maxEvents: 2 }), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(frame, { maxFrameBytes: 64 }), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(frame, { maxStringBytes: 4 }), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(frame, { maxPayloadBytes: 50 }), 'TOO_LARGE');
  expectFrameError(() => decodeFrame(frame, { maxMetaEntries: 1 }), 'TOO_LARGE');
  const sync = encodeFrame({ kind: 'syncRequest', seq: 0, from, side: 'internal', types: ['a', 'b', 'c'] });
  expectFrameError(() => decodeFrame(sync, { maxTypes: 2 }), 'TOO_LARGE');
  assert.equal(decodeFrame(frame, { maxEvents: 3, maxMetaEntries: 2 }), decodeFrame(frame));
});

/**
 * A batch body built by hand with the FlatBuffers runtime (not the generated
 * code), whose history holds `copies` references to one event whose payload is
 * `payloadChars` long. With copies > 1 it would decode to copies × the payload.
 */
function sharedEventBody(copies: number, payloadChars: number): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const id = b.createString('0.0.1');
  const type = b.createString('big');
  const json = b.createString(JSON.stringify('x'.repeat(payloadChars)));
  const shared = handBuiltEvent(b, { id, type, json });
  b.startVector(4, copies, 4);
  for (let i = 0; i < copies; i++) b.addOffset(shared);
  finishBatchEnvelope(b, b.endVector());
  return b.asUint8Array().slice();
}

Hostile('decodeFrame - shared data that would decode to more than the frame holds is refused', () => {
  const single = decodeFrame(frameAround(sharedEventBody(1, 1000))) as EventBatch;
  assert.is(single.history.length, 1, 'the hand-built frame is valid with one reference');
  assert.is((single.history[0] as BusEvent).payload, 'x'.repeat(1000));
  const error = expectFrameError(() => decodeFrame(frameAround(sharedEventBody(5000, 1000))), 'MALFORMED');
  assert.ok(error.message.includes('shared'), error.message);
});

Hostile('decodeFrame - a decompression bomb is refused before decompressing', () => {
  // The snappy length prefix claims 4 GiB - 1; the header agrees.
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x41]);
  expectFrameError(() => decodeFrame(frameAround(huge, { compressed: true, uncompressedBytes: 0xffff_ffff })), 'TOO_LARGE');
  // The header claims little; the snappy prefix claims 4 GiB - 1.
  expectFrameError(() => decodeFrame(frameAround(huge, { compressed: true, uncompressedBytes: 10 })), 'LENGTH_MISMATCH');
  // Both claim 60 MiB (under the limit) for 7 bytes: more than snappy can expand to.
  const sixty = 60 * 1024 * 1024;
  const prefix = [0x80 | (sixty & 0x7f), 0x80 | ((sixty >> 7) & 0x7f), 0x80 | ((sixty >> 14) & 0x7f), (sixty >> 21) & 0x7f];
  const lying = new Uint8Array([...prefix, 0x00, 0x41]);
  const error = expectFrameError(() => decodeFrame(frameAround(lying, { compressed: true, uncompressedBytes: sixty })), 'DECOMPRESS');
  assert.ok(error.message.includes('cannot expand'), error.message);
  // A real bomb: 16 MiB of zeros compress to ~770 KiB; a receiver with a 1 MiB cap refuses it from the header.
  const zeros = new Uint8Array(16 * 1024 * 1024);
  const bomb = frameAround(new Uint8Array(compressSync(zeros)), { compressed: true, uncompressedBytes: zeros.length });
  expectFrameError(() => decodeFrame(bomb, { maxFrameBytes: 1024 * 1024 }), 'TOO_LARGE');
  // Garbage snappy within the plausible ratio.
  const garbage = frameAround(new Uint8Array([0x40, 0xff, 0xff, 0xff]), { compressed: true, uncompressedBytes: 0x40 });
  expectFrameError(() => decodeFrame(garbage), 'DECOMPRESS');
  // An unterminated length prefix.
  expectFrameError(() => decodeFrame(frameAround(new Uint8Array([0x80, 0x80]), { compressed: true, uncompressedBytes: 0 })), 'DECOMPRESS');
});

Hostile('decodeFrame - crafted bodies: wrong identifier, unknown union type, bad enums, bad UTF-8, bad JSON', () => {
  const body = bodyOf(encodeFrame(batch([event({ id: 'AAAA', payload: { n: 1e300 } })])));
  const find = (needle: string) => Buffer.from(body).indexOf(Buffer.from(needle));
  const patch = (at: number, bytes: number[]) => {
    const copy = body.slice();
    copy.set(bytes, at);
    return frameAround(copy);
  };
  assert.equal(decodeOrReason(frameAround(body)), batch([event({ id: 'AAAA', payload: { n: 1e300 } })]));
  expectFrameError(() => decodeFrame(patch(4, [0x42, 0x4c, 0x57, 0x32])), 'MALFORMED');
  expectFrameError(() => decodeFrame(patch(find('AAAA'), [0xc3, 0x28])), 'MALFORMED'); // invalid UTF-8
  expectFrameError(() => decodeFrame(patch(find('AAAA'), [0xed, 0xa0, 0x80])), 'MALFORMED'); // an encoded surrogate
  expectFrameError(() => decodeFrame(patch(find('1e+300'), [0x31, 0x65, 0x2b, 0x39, 0x39, 0x39])), 'MALFORMED'); // 1e+999 = Infinity
  expectFrameError(() => decodeFrame(patch(find('{"n"'), [0x5b])), 'MALFORMED'); // JSON that does not parse
  const nul = body.slice();
  nul[find('AAAA') + 4] = 0x41; // the id loses its NUL terminator
  expectFrameError(() => decodeFrame(frameAround(nul)), 'MALFORMED');
  // NONE and unknown union types are refused. Another known type makes the
  // verifier read the batch table as that message: refused, or at worst
  // well-formed (FlatBuffers cannot tell tables apart; the CRC covers accidents).
  const root = new DataView(body.buffer).getUint32(0, true);
  const vtable = root - new DataView(body.buffer).getInt32(root, true);
  const typeAt = root + new DataView(body.buffer).getUint16(vtable + 4, true);
  assert.is(body[typeAt], 1, 'found the union type');
  for (let type = 0; type < 256; type++) {
    if (type === 1) continue;
    const outcome = decodeOrReason(patch(typeAt, [type]));
    if (type === 0 || type > 5) assert.is(outcome, 'MALFORMED', `union type ${type}`);
  }
});

Hostile('decodeFrame - refuses JSON payloads nested deeper than the encoder allows', () => {
  const placeholder = 'x'.repeat(2 * (MAX_PAYLOAD_DEPTH + 1) - 2); // its JSON text has 2 × (MAX + 1) characters
  const body = bodyOf(encodeFrame(batch([event({ payload: placeholder })])));
  const at = Buffer.from(body).indexOf(Buffer.from(JSON.stringify(placeholder)));
  const withText = (json: string) => {
    const copy = body.slice();
    copy.set(Buffer.from(json), at);
    return frameAround(copy);
  };
  const tooDeep = '['.repeat(MAX_PAYLOAD_DEPTH + 1) + ']'.repeat(MAX_PAYLOAD_DEPTH + 1);
  const error = expectFrameError(() => decodeFrame(withText(tooDeep)), 'MALFORMED');
  assert.ok(error.message.includes('nested deeper'), error.message);
  const deepest = ' ' + '['.repeat(MAX_PAYLOAD_DEPTH) + ']'.repeat(MAX_PAYLOAD_DEPTH) + ' ';
  const decoded = decodeFrame(withText(deepest)) as EventBatch;
  assert.equal((decoded.history[0] as BusEvent).payload, nested(MAX_PAYLOAD_DEPTH));
});

Hostile('decodeFrame - duplicate meta keys are refused', () => {
  const body = bodyOf(encodeFrame(batch([event({ meta: { ka: 'v', kb: 'v' } })])));
  const at = Buffer.from(body).indexOf(Buffer.from('kb'));
  body.set([0x6b, 0x61], at);
  const error = expectFrameError(() => decodeFrame(frameAround(body)), 'MALFORMED');
  assert.ok(error.message.includes('twice'), error.message);
});

Hostile('decodeFrame and scanFrame - refuse events post() would refuse, even behind a valid CRC', () => {
  // A peer that writes its own frames: the type rule is post()'s, and stamps are never negative.
  const hostile = (type: string) => {
    const b = new flatbuffers.Builder(256);
    const table = handBuiltEvent(b, { id: b.createString('9.9.1'), type: b.createString(type), json: b.createString('{}') });
    b.startVector(4, 1, 4);
    b.addOffset(table);
    finishBatchEnvelope(b, b.endVector());
    return frameAround(b.asUint8Array().slice());
  };
  const stamped = (timestamp: number) => {
    const body = bodyOf(encodeFrame(batch([event({ timestamp: 12345.5 })])));
    const marker = new Uint8Array(new Float64Array([12345.5]).buffer);
    const at = Buffer.from(body).indexOf(Buffer.from(marker));
    assert.ok(at > 0, 'found the timestamp');
    body.set(new Uint8Array(new Float64Array([timestamp]).buffer), at);
    return frameAround(body);
  };
  assert.is((decodeFrame(hostile('user.login')) as EventBatch).history[0]!.type, 'user.login', 'the hand-built frame is valid');
  assert.is((decodeFrame(stamped(0)) as EventBatch).history[0]!.timestamp, 0, 'a zero stamp is valid');
  const refused = ['', '.', 'a..b', 'user.', 'has space', 'x'.repeat(257), 'ünïcode', 'a\u0000b'];
  for (const frame of [...refused.map((type) => hostile(type)), stamped(-1), stamped(-1e-300), stamped(-1.7e12)]) {
    for (const decode of [decodeFrame, scanFrame]) {
      const error = expectFrameError(() => decode(frame), 'MALFORMED');
      assert.ok(/type|timestamp/.test(error.message), error.message);
    }
  }
  // The encoder refuses to write them in the first place.
  for (const type of refused) expectInvalidEvent(() => encodeFrame(batch([event({ type })])), 'type');
  expectInvalidEvent(() => encodeFrame(batch([event({ timestamp: -1 })])), 'timestamp');
});

Hostile('decodeFrame and scanFrame - hold ids, topics, meta and JSON payloads to post()\'s rules, even behind a valid CRC', () => {
  // A peer that writes its own frames: every limit is post()'s (runtime/validate.ts), not a looser one of the decoder.
  const hostile = (fields: { id?: string; topic?: string; json?: string; meta?: number | [string, string][] }) => {
    const b = new flatbuffers.Builder(1024);
    const entries: number[] = [];
    const pairs = typeof fields.meta === 'number' ? Array.from({ length: fields.meta }, (_, i) => [`k${i}`, 'v']) : (fields.meta ?? []);
    for (const [k, v] of pairs) {
      const key = b.createString(k);
      const value = b.createString(v);
      b.startObject(2);
      b.addFieldOffset(0, key, 0);
      b.addFieldOffset(1, value, 0);
      entries.push(b.endObject());
    }
    let meta = 0;
    if (fields.meta !== undefined) {
      b.startVector(4, entries.length, 4);
      for (let i = entries.length - 1; i >= 0; i--) b.addOffset(entries[i] as number);
      meta = b.endVector();
    }
    const id = b.createString(fields.id ?? '9.9.1');
    const type = b.createString('user.login');
    const json = b.createString(fields.json ?? '{}');
    const topic = fields.topic === undefined ? 0 : b.createString(fields.topic);
    const table = handBuiltEvent(b, { id, type, json, topic, meta });
    b.startVector(4, 1, 4);
    b.addOffset(table);
    finishBatchEnvelope(b, b.endVector());
    return frameAround(b.asUint8Array().slice());
  };
  const decodeBoth = (frame: Uint8Array): BusEvent => {
    const scanned = scanFrame(frame);
    assert.is(scanned.kind, 'encodedBatch');
    const [lazy] = decodeEvents(scanned as EncodedBatch);
    const decoded = (decodeFrame(frame) as EventBatch).history[0] as BusEvent;
    assert.equal(lazy, decoded);
    return decoded;
  };
  const refusedBoth = (frame: Uint8Array, includes: string) => {
    for (const decode of [(f: Uint8Array) => decodeFrame(f), (f: Uint8Array) => decodeEvents(scanFrame(f) as EncodedBatch)]) {
      const error = expectFrameError(() => decode(frame), 'MALFORMED');
      assert.ok(error.message.includes(includes), `"${error.message}" should mention "${includes}"`);
    }
  };
  // What post() accepts, at each limit, decodes.
  const most = decodeBoth(hostile({ topic: 'é'.repeat(MAX_LABEL_LENGTH), meta: MAX_META_ENTRIES, json: '['.repeat(MAX_PAYLOAD_DEPTH) + ']'.repeat(MAX_PAYLOAD_DEPTH) }));
  assert.is(most.topic, 'é'.repeat(MAX_LABEL_LENGTH));
  assert.is(Object.keys(most.meta ?? {}).length, MAX_META_ENTRIES);
  assert.equal(decodeBoth(hostile({ json: '"\\ud83c\\udf89 paired"' })).payload, '🎉 paired');
  // One past each limit is refused.
  refusedBoth(hostile({ id: '' }), 'id');
  refusedBoth(hostile({ topic: 'x'.repeat(MAX_LABEL_LENGTH + 1) }), 'topic');
  refusedBoth(hostile({ meta: MAX_META_ENTRIES + 1 }), 'meta');
  refusedBoth(hostile({ json: '['.repeat(MAX_PAYLOAD_DEPTH + 1) + ']'.repeat(MAX_PAYLOAD_DEPTH + 1) }), 'nested deeper');
  for (const json of ['"\\ud800"', '{"k":"a\\udfffb"}', '{"\\ud800":1}', '["x","\\uDBFF"]']) refusedBoth(hostile({ json }), 'surrogate');
  const long = 'x'.repeat(MAX_LABEL_LENGTH + 1);
  refusedBoth(hostile({ meta: [[long, 'v']] }), 'meta key');
  refusedBoth(hostile({ meta: [['k', long]] }), 'meta value');
  // The encoder refuses to write them in the first place.
  expectInvalidEvent(() => encodeFrame(batch([event({ id: '' })])), 'id');
  expectInvalidEvent(() => encodeFrame(batch([event({ topic: 'x'.repeat(MAX_LABEL_LENGTH + 1) })])), 'topic');
  expectInvalidEvent(() => encodeFrame(batch([event({ meta: { ['x'.repeat(MAX_LABEL_LENGTH + 1)]: 'v' } })])), 'meta key');
  expectInvalidEvent(() => encodeFrame(batch([event({ meta: { k: 'x'.repeat(MAX_LABEL_LENGTH + 1) } })])), 'meta');
  const many = Object.fromEntries(Array.from({ length: MAX_META_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v']));
  expectInvalidEvent(() => encodeFrame(batch([event({ meta: many })])), 'meta');
  expectInvalidEvent(() => encodeFrame(batch([event({ payload: { k: 'lone \uD800' } })])), 'surrogate');
  expectInvalidEvent(() => encodeFrame(batch([event({ payload: { ['\uDC00']: 1 } })])), 'surrogate');
  assert.is(DEFAULT_FRAME_LIMITS.maxMetaEntries, MAX_META_ENTRIES);
});

Hostile('decodeFrame - errors are BusErrors with a stable code and say where', () => {
  const error = frameError(() => decodeFrame(new Uint8Array(3)));
  assert.instance(error, BusError);
  assert.is(error.name, 'FrameError');
  assert.ok(error.message.startsWith('Frame refused (TRUNCATED)'), error.message);
});

Hostile.run();
