/** Events and batches shared by the codec tests. */
import type * as flatbuffers from 'flatbuffers';
import type { EventBatch } from '../../runtime/protocol.js';
import * as wire from '../../schemas/generated/busline_generated.js';
import type { BusEvent, Endpoint } from '../../types.js';

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
 * (and `meta`, a vector offset, when not 0), every other field at its default.
 * For tests that write bodies the encoder never would.
 */
export function handBuiltEvent(
  b: flatbuffers.Builder,
  fields: { readonly id: flatbuffers.Offset; readonly type: flatbuffers.Offset; readonly json: flatbuffers.Offset; readonly meta?: flatbuffers.Offset },
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
