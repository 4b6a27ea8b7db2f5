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
