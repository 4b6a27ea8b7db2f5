/** Events and batches shared by the codec tests. */
import type { EventBatch } from '../../runtime/protocol.js';
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
