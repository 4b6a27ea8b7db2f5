/**
 * Codec benchmarks: `encodeFrame` and `decodeFrame` of 256-event batches, the
 * unit every sync hop sends, against `JSON.stringify` / `JSON.parse` of the
 * same events (a codec that does less: no checksum, no verifier, no schema).
 */
import type { EventBatch, WireMessage } from '../runtime/wire/protocol.js';
import { decodeFrame, encodeFrame } from '../schemas/codec/index.js';
import type { BusEvent, Endpoint } from '../types.js';
import { median, rate, rateTarget, type Comparison } from './harness.js';

const ROUNDS = 7;
const BATCH_EVENTS = 256;
/** Batches per measured round: enough for ~100 ms per round on this machine. */
const BATCHES = 200;

/** The codec under test, so a script can compare two versions of it in one run. */
export interface Codec {
  encodeFrame(message: WireMessage): Uint8Array;
  decodeFrame(frame: Uint8Array): WireMessage;
}

const from: Endpoint = { processor: 0, thread: 1, generation: 0, side: 'external' };

/**
 * 256 small events as a bus posts them: ids `<processor>.<thread>.<sequence>`,
 * two types, HLC timestamps, one shared origin object, a small JSON payload.
 */
export function smallEventBatch(count = BATCH_EVENTS, first = 0): EventBatch {
  const origin = Object.freeze({ processor: 0, thread: 1, generation: 0 });
  const history: BusEvent[] = [];
  for (let i = first; i < first + count; i++) {
    history.push({
      id: `0.1.${i}`,
      type: i % 3 === 0 ? 'order.created' : 'user.login',
      side: 'external',
      timestamp: 1_700_000_000_000 + Math.floor(i / 4) + (i % 4) / 2048,
      origin,
      priority: 'normal',
      payload: { user: 'u1', n: i },
    });
  }
  return { kind: 'batch', seq: 1, from, history, queue: [] };
}

/** Events per second through `codec.encodeFrame` and `codec.decodeFrame`, one median each. */
export function measureCodec(codec: Codec, rounds = ROUNDS): { encode: number; decode: number } {
  const batch = smallEventBatch();
  const frame = codec.encodeFrame(batch);
  const events = BATCH_EVENTS * BATCHES;
  const encodes: number[] = [];
  const decodes: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds + 1; round++) {
    const encode = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) sink += codec.encodeFrame(batch).length;
    });
    const decode = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) sink += (codec.decodeFrame(frame) as EventBatch).history.length;
    });
    // Round 0 warms the JIT up and is not counted.
    if (round > 0) {
      encodes.push(encode);
      decodes.push(decode);
    }
  }
  if (sink === 0) throw new Error('the codec produced nothing');
  return { encode: median(encodes), decode: median(decodes) };
}

/** `JSON.stringify` and `JSON.parse` of the same events, for the ratio. */
function measureJson(rounds = ROUNDS): { stringify: number; parse: number } {
  const batch = smallEventBatch();
  const text = JSON.stringify(batch.history);
  const events = BATCH_EVENTS * BATCHES;
  const stringifies: number[] = [];
  const parses: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds + 1; round++) {
    const stringify = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) sink += JSON.stringify(batch.history).length;
    });
    const parse = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) sink += (JSON.parse(text) as unknown[]).length;
    });
    if (round > 0) {
      stringifies.push(stringify);
      parses.push(parse);
    }
  }
  if (sink === 0) throw new Error('JSON produced nothing');
  return { stringify: median(stringifies), parse: median(parses) };
}

/**
 * Decoding when the events stay alive, as a station keeps them: the same
 * frames, every decoded event kept until ~400k are held. The difference from
 * `measureCodec` is the garbage collector's work on a growing heap.
 */
function measureKeptDecode(rounds = ROUNDS): { decode: number; parse: number } {
  const batch = smallEventBatch();
  const frame = encodeFrame(batch);
  const text = JSON.stringify(batch.history);
  const events = BATCH_EVENTS * BATCHES;
  const decodes: number[] = [];
  const parses: number[] = [];
  let kept: unknown[][] = [];
  const keep = (decoded: unknown[]) => {
    kept.push(decoded);
    if (kept.length * BATCH_EVENTS >= 400_000) kept = [];
  };
  for (let round = 0; round < rounds + 1; round++) {
    const decode = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) keep((decodeFrame(frame) as EventBatch).history as unknown[]);
    });
    kept = [];
    const parse = rate(events, () => {
      for (let i = 0; i < BATCHES; i++) keep(JSON.parse(text) as unknown[]);
    });
    kept = [];
    if (round > 0) {
      decodes.push(decode);
      parses.push(parse);
    }
  }
  return { decode: median(decodes), parse: median(parses) };
}

/** encodeFrame / decodeFrame of 256 small events, against JSON.stringify / JSON.parse of them. */
export function codecRates(): Comparison[] {
  const json = measureJson();
  const codec = measureCodec({ encodeFrame: (message) => encodeFrame(message), decodeFrame: (frame) => decodeFrame(frame) });
  const kept = measureKeptDecode();
  return [
    {
      name: 'encodeFrame, 256 small events',
      subject: codec.encode,
      peerName: 'JSON.stringify of the events',
      peer: json.stringify,
      target: rateTarget(codec.encode, json.stringify, { minRate: 3e6 }),
    },
    {
      name: 'decodeFrame, 256 small events',
      subject: codec.decode,
      peerName: 'JSON.parse of the events',
      peer: json.parse,
      target: rateTarget(codec.decode, json.parse, { minRate: 3e6 }),
    },
    { name: 'decodeFrame, events kept (as a station does)', subject: kept.decode, peerName: 'JSON.parse, events kept', peer: kept.parse },
  ];
}
