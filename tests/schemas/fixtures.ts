/** Events, batches, frames and their arbitraries shared by the codec tests and the fuzz suite. */
import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import type * as flatbuffers from 'flatbuffers';
import { compressSync } from 'snappy';
import * as assert from 'uvu/assert';
import type { EventBatch, WireMessage } from '../../runtime/wire/protocol.js';
import { MAX_PAYLOAD_DEPTH } from '../../runtime/payload/payload-copy.js';
import { MAX_LABEL_LENGTH, MAX_META_ENTRIES, eventIdProblem, eventTypeProblem, isEventTimestamp } from '../../runtime/validate.js';
import { FLAG_SNAPPY, FRAME_HEADER_BYTES, FRAME_VERSION } from '../../schemas/codec/index.js';
import * as wire from '../../schemas/generated/busline_generated.js';
import type { BusEvent, Endpoint, JsonValue } from '../../types.js';

export const from: Endpoint = { processor: 2, thread: 3, generation: 4, side: 'external' };

/** A small event like those a bus posts; `overrides` change any field. */
export function event(overrides: Partial<BusEvent> = {}): BusEvent {
  return {
    id: '2.3.17',
    type: 'user.login',
    side: 'external',
    timestamp: 1_700_000_000_000 + 5 / 2048,
    origin: { processor: 2, thread: 3, generation: 4 },
    priority: 'normal',
    payload: { n: 123, user: 'u1' },
    ...overrides,
  };
}

export function batch(history: BusEvent[], queue: BusEvent[] = [], seq = 9): EventBatch {
  return { kind: 'batch', seq, from, history, queue };
}

/**
 * Writes a hand-built event table: id, type, a zero origin and a JSON payload
 * (and `topic`, a string offset, and `meta`, a vector offset, when not 0),
 * every other field at its default.
 * For tests that write bodies the encoder never would.
 */
export function handBuiltEvent(
  b: flatbuffers.Builder,
  fields: {
    readonly id: flatbuffers.Offset;
    readonly type: flatbuffers.Offset;
    readonly json: flatbuffers.Offset;
    readonly topic?: flatbuffers.Offset;
    readonly meta?: flatbuffers.Offset;
  },
): flatbuffers.Offset {
  b.startObject(11);
  b.addFieldOffset(0, fields.id, 0);
  b.addFieldOffset(1, fields.type, 0);
  b.prep(4, 12);
  b.writeInt32(0);
  b.writeInt32(0);
  b.writeInt32(0);
  b.addFieldStruct(4, b.offset(), 0);
  b.addFieldOffset(8, fields.json, 0);
  if (fields.topic !== undefined && fields.topic !== 0) b.addFieldOffset(6, fields.topic, 0);
  if (fields.meta !== undefined && fields.meta !== 0) b.addFieldOffset(10, fields.meta, 0);
  return b.endObject();
}

/**
 * Finishes a hand-built frame body: an Envelope holding an EventBatch with
 * `history` (an offset vector already in `b`), an empty queue and a default
 * endpoint. For tests that write bodies the encoder never would.
 */
export function finishBatchEnvelope(b: flatbuffers.Builder, history: flatbuffers.Offset): void {
  b.startVector(4, 0, 4);
  const queue = b.endVector();
  b.startObject(4);
  const endpoint = b.endObject();
  b.startObject(4);
  b.addFieldOffset(1, endpoint, 0);
  b.addFieldOffset(2, history, 0);
  b.addFieldOffset(3, queue, 0);
  const eventBatch = b.endObject();
  b.startObject(2);
  b.addFieldInt8(0, wire.Message.EventBatch, 0);
  b.addFieldOffset(1, eventBatch, 0);
  b.finish(b.endObject(), 'BLW1');
}

// --- frames ---

/** A frame around `body` with a correct header and CRC, so only the verifier can refuse it. */
export function frameAround(body: Uint8Array, options: { compressed?: boolean; uncompressedBytes?: number } = {}): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  const view = new DataView(frame.buffer);
  frame.set([0x42, 0x4c, 0x46, 0x31], 0);
  frame[4] = FRAME_VERSION;
  frame[5] = options.compressed === true ? FLAG_SNAPPY : 0;
  view.setUint32(8, body.length, true);
  view.setUint32(12, options.uncompressedBytes ?? body.length, true);
  view.setUint32(16, crc32c(body) >>> 0, true);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** A compressed frame around an uncompressed `body`, with correct lengths and CRC. */
export function compressedFrameAround(body: Uint8Array): Uint8Array {
  return frameAround(new Uint8Array(compressSync(body)), { compressed: true, uncompressedBytes: body.length });
}

/** The uncompressed length a raw snappy block claims (a base-128 varint), if it has one. */
export function snappyLengthPrefix(block: Uint8Array): number | undefined {
  let value = 0;
  for (let i = 0; i < Math.min(5, block.length); i++) {
    const byte = block[i] as number;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value > 0xffff_ffff ? undefined : value;
  }
  return undefined;
}

export function bodyOf(frame: Uint8Array): Uint8Array {
  return frame.slice(FRAME_HEADER_BYTES);
}

/** Event types `post()` accepts: dot-separated parts of letters, digits and _-:/$@. */
export const eventType: fc.Arbitrary<string> = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_\-:/$@]{1,6}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'));

/** Stamps a clock makes: finite and not negative, tiny, huge or near now. */
export const eventStamp: fc.Arbitrary<number> = fc.oneof(
  fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map(Math.abs),
  fc.integer().map((n) => 1.7e12 + n / 2048),
);

// --- well-formedness: what any decoded message must look like, whatever the input (post()'s rules for events) ---

export const isWellFormedString = (value: unknown): value is string =>
  typeof value === 'string' && (value as unknown as { isWellFormed(): boolean }).isWellFormed();
export const isUint32 = (value: unknown): boolean => typeof value === 'number' && value >>> 0 === value;
export const isSide = (value: unknown): boolean => value === 'internal' || value === 'external';

export function assertKeys(object: object, required: string[], optional: string[], where: string): void {
  assert.ok(Object.getPrototypeOf(object) === Object.prototype, `${where} is a plain object`);
  const keys = Object.keys(object);
  for (const key of required) assert.ok(keys.includes(key), `${where}.${key} is present`);
  for (const key of keys) assert.ok(required.includes(key) || optional.includes(key), `${where}.${key} is expected`);
  for (const key of keys) assert.ok((object as Record<string, unknown>)[key] !== undefined, `${where}.${key} is not undefined`);
}

export function assertEndpoint(endpoint: Endpoint, where: string): void {
  assertKeys(endpoint, ['processor', 'thread', 'generation', 'side'], [], where);
  assert.ok(isUint32(endpoint.processor) && isUint32(endpoint.thread) && isUint32(endpoint.generation), `${where} numbers`);
  assert.ok(isSide(endpoint.side), `${where}.side`);
}

/** JSON data as post() accepts it: finite numbers, strings without lone surrogates, at most MAX_PAYLOAD_DEPTH levels. */
export function assertJson(value: unknown, where: string, depth = 0): void {
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') return assert.ok(isWellFormedString(value), `${where} has no lone surrogate`);
  if (typeof value === 'number') return assert.ok(Number.isFinite(value), `${where} is finite`);
  assert.ok(typeof value === 'object', `${where} is JSON`);
  assert.ok(depth < MAX_PAYLOAD_DEPTH, `${where} is nested at most ${MAX_PAYLOAD_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${where}[${i}]`, depth + 1));
    return;
  }
  assert.ok(Object.getPrototypeOf(value) === Object.prototype, `${where} is a plain object`);
  for (const key of Object.keys(value as object)) {
    assert.ok(isWellFormedString(key), `${where} has a key with no lone surrogate`);
    assertJson((value as Record<string, unknown>)[key], `${where}.${key}`, depth + 1);
  }
}

/** A topic, meta key or meta value as post() accepts it. */
export const isLabel = (value: unknown): boolean => isWellFormedString(value) && value.length <= MAX_LABEL_LENGTH;

export function assertEvent(event: BusEvent, where: string, frame: Uint8Array): void {
  assertKeys(event, ['id', 'type', 'side', 'timestamp', 'origin', 'priority', 'payload'], ['topic', 'meta'], where);
  assert.ok(isWellFormedString(event.id) && eventIdProblem(event.id) === undefined, `${where}.id ${JSON.stringify(event.id)} is not empty`);
  assert.ok(eventTypeProblem(event.type) === undefined, `${where}.type ${JSON.stringify(event.type)} is one post() accepts`);
  assert.ok(isSide(event.side), `${where}.side`);
  assert.ok(isEventTimestamp(event.timestamp), `${where}.timestamp ${event.timestamp} is one a clock stamps`);
  assertKeys(event.origin, ['processor', 'thread', 'generation'], [], `${where}.origin`);
  assert.ok(isUint32(event.origin.processor) && isUint32(event.origin.thread) && isUint32(event.origin.generation));
  assert.ok(['immediate', 'normal', 'deferred'].includes(event.priority), `${where}.priority`);
  if ('topic' in event) assert.ok(isLabel(event.topic), `${where}.topic is a label post() accepts`);
  if (event.payload instanceof Uint8Array) {
    assert.is(Object.getPrototypeOf(event.payload), Uint8Array.prototype, `${where}.payload is a plain Uint8Array`);
    assert.ok(event.payload.buffer !== frame.buffer, `${where}.payload is a copy`);
  } else {
    assertJson(event.payload, `${where}.payload`);
  }
  if ('meta' in event) {
    const meta = event.meta as Record<string, string>;
    assert.ok(Object.getPrototypeOf(meta) === Object.prototype, `${where}.meta is a plain object`);
    const keys = Object.keys(meta);
    assert.ok(keys.length <= MAX_META_ENTRIES, `${where}.meta has at most ${MAX_META_ENTRIES} entries`);
    for (const key of keys) assert.ok(isLabel(key) && isLabel(meta[key]), `${where}.meta keys and values are labels post() accepts`);
  }
}

export function assertWellFormed(message: WireMessage, frame: Uint8Array): void {
  assert.ok(Number.isSafeInteger(message.seq) && message.seq >= 0, 'seq');
  switch (message.kind) {
    case 'batch':
      assertKeys(message, ['kind', 'seq', 'from', 'history', 'queue'], [], 'batch');
      assertEndpoint(message.from, 'batch.from');
      assert.ok(Array.isArray(message.history) && Array.isArray(message.queue));
      message.history.forEach((e, i) => assertEvent(e, `history[${i}]`, frame));
      message.queue.forEach((e, i) => assertEvent(e, `queue[${i}]`, frame));
      break;
    case 'syncRequest':
      assertKeys(message, ['kind', 'seq', 'from', 'side'], ['types', 'since', 'limit', 'deliveredThrough', 'interest'], 'syncRequest');
      assertEndpoint(message.from, 'syncRequest.from');
      assert.ok(isSide(message.side));
      if ('since' in message) assert.ok(Number.isSafeInteger(message.since) && message.since! >= 0, 'syncRequest.since');
      if ('limit' in message) assert.ok(isUint32(message.limit) && message.limit! >= 1, 'syncRequest.limit');
      if ('deliveredThrough' in message) {
        assert.ok(Number.isSafeInteger(message.deliveredThrough) && message.deliveredThrough! >= 1, 'syncRequest.deliveredThrough');
      }
      if (message.types !== undefined) {
        assert.ok(Array.isArray(message.types) && message.types.every(isWellFormedString), 'types');
      }
      if (message.interest !== undefined) {
        assert.ok(Array.isArray(message.interest) && message.interest.every(isWellFormedString), 'interest');
      }
      break;
    case 'clearSide':
      assertKeys(message, ['kind', 'seq', 'remove', 'scope'], [], 'clearSide');
      assert.ok(isSide(message.remove) && isSide(message.scope));
      break;
    case 'bridgeState':
      assertKeys(message, ['kind', 'seq', 'direction', 'locked'], [], 'bridgeState');
      assert.ok(['closed', 'open', 'oneWayExternal', 'oneWayInternal'].includes(message.direction));
      assert.type(message.locked, 'boolean');
      break;
    case 'ack':
      assertKeys(message, ['kind', 'seq', 'ok', 'credits'], ['errorCode', 'errorMessage', 'errorDetails', 'through', 'parked', 'alreadyDelivered'], 'ack');
      assert.type(message.ok, 'boolean');
      assert.ok(isUint32(message.credits));
      if ('through' in message) assert.ok(Number.isSafeInteger(message.through) && message.through! >= 0, 'ack.through');
      if ('parked' in message) assert.ok(Number.isSafeInteger(message.parked) && message.parked! >= 0, 'ack.parked');
      if ('alreadyDelivered' in message) assert.ok(isUint32(message.alreadyDelivered) && message.alreadyDelivered! >= 1, 'ack.alreadyDelivered');
      if ('errorCode' in message) assert.ok(isWellFormedString(message.errorCode));
      if ('errorMessage' in message) assert.ok(isWellFormedString(message.errorMessage));
      if ('errorDetails' in message) assert.ok(isWellFormedString(message.errorDetails));
      break;
    default:
      assert.unreachable(`unknown kind ${(message as { kind: string }).kind}`);
  }
}

// --- arbitraries ---

export const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
export const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const side = fc.constantFrom('internal' as const, 'external' as const);
export const seq = fc.oneof(fc.constant(0), fc.nat(), fc.maxSafeNat());
/** Records with Object.prototype, as decoded objects have (fast-check may make null-prototype ones). */
export const plain = { noNullPrototype: true } as const;
export const endpoint = fc.record({ processor: uint32, thread: uint32, generation: uint32, side }, plain);
export const jsonPayload = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }) as fc.Arbitrary<JsonValue>;
export const busEvent: fc.Arbitrary<BusEvent> = fc.record(
  {
    // An id is never empty (post() stamps `<processor>.<thread>.<sequence>`).
    id: text.filter((id) => id !== ''),
    type: eventType,
    side,
    timestamp: eventStamp,
    origin: fc.record({ processor: uint32, thread: uint32, generation: uint32 }, plain),
    priority: fc.constantFrom('immediate' as const, 'normal' as const, 'deferred' as const),
    topic: text,
    payload: fc.oneof(jsonPayload, fc.uint8Array({ maxLength: 24 })),
    meta: fc.dictionary(text, text, { maxKeys: 3, noNullPrototype: true }),
  },
  { requiredKeys: ['id', 'type', 'side', 'timestamp', 'origin', 'priority', 'payload'], ...plain },
);
export const wireMessage: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.record({
    kind: fc.constant('batch' as const),
    seq,
    from: endpoint,
    history: fc.array(busEvent, { maxLength: 5 }),
    queue: fc.array(busEvent, { maxLength: 3 }),
  }, plain),
  fc.record(
    {
      kind: fc.constant('syncRequest' as const),
      seq,
      from: endpoint,
      types: fc.array(text, { maxLength: 4 }),
      side,
      since: seq,
      limit: fc.integer({ min: 1, max: 0xffff_ffff }),
      // 0 means none and is left out: only 1 and up round-trip as written.
      deliveredThrough: fc.oneof(fc.constant(1), fc.maxSafeNat().map((n) => Math.max(1, n))),
      interest: fc.array(text, { maxLength: 4 }),
    },
    { requiredKeys: ['kind', 'seq', 'from', 'side'], ...plain },
  ),
  fc.record({ kind: fc.constant('clearSide' as const), seq, remove: side, scope: side }, plain),
  fc.record({
    kind: fc.constant('bridgeState' as const),
    seq,
    direction: fc.constantFrom('closed' as const, 'open' as const, 'oneWayExternal' as const, 'oneWayInternal' as const),
    locked: fc.boolean(),
  }, plain),
  fc.record(
    {
      kind: fc.constant('ack' as const),
      seq,
      ok: fc.boolean(),
      errorCode: text,
      errorMessage: text,
      errorDetails: text,
      credits: uint32,
      through: seq,
      parked: seq,
      alreadyDelivered: fc.integer({ min: 1, max: 0xffff_ffff }),
    },
    { requiredKeys: ['kind', 'seq', 'ok', 'credits'], ...plain },
  ),
);

// --- mutations of a body ---

export type Mutation =
  | { kind: 'bytes'; at: number[]; values: number[] }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'extend'; extra: Uint8Array }
  | { kind: 'splice'; from: number; to: number; length: number };

export const interestingU32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffc, 0xffff_ffff, 0x00ff_ffff),
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.integer({ min: -64, max: 64 }).map((n) => n >>> 0),
);
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('bytes' as const),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    values: fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: interestingU32 }),
  fc.record({
    kind: fc.constant('u16' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(0, 2, 3, 4, 5, 0xfffe, 0xffff), fc.nat(0xffff)),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);

export function mutate(original: Uint8Array, mutations: Mutation[]): Uint8Array {
  let body = original.slice();
  for (const m of mutations) {
    if (body.length === 0) break;
    const view = new DataView(body.buffer);
    switch (m.kind) {
      case 'bytes':
        m.at.forEach((at, i) => (body[at % body.length] = m.values[i] as number));
        break;
      case 'u32':
        if (body.length >= 4) view.setUint32((m.at % (body.length >> 2)) * 4, m.value, true);
        break;
      case 'u16':
        if (body.length >= 2) view.setUint16((m.at % (body.length >> 1)) * 2, m.value, true);
        break;
      case 'truncate':
        body = body.slice(0, m.length % body.length);
        break;
      case 'extend': {
        const longer = new Uint8Array(body.length + m.extra.length);
        longer.set(body);
        longer.set(m.extra, body.length);
        body = longer;
        break;
      }
      case 'splice': {
        const start = m.from % body.length;
        body.copyWithin(m.to % body.length, start, Math.min(body.length, start + m.length));
        break;
      }
    }
  }
  return body;
}
