/**
 * What a local station keeps of a read's reply. An encoded event keeps its
 * whole frame alive, so when only a few events of a large reply are new (a
 * filtered `fromMain()` brings the whole filtered history every time), those
 * few are copied into frames of their own, and the reply's frames can go.
 */
import type { BusEvent } from '../../types.js';
import { EncodedEvent, UNREAD_ENDPOINT, scanBatch } from '../store/encoded-events.js';
import type { EventHistory } from '../store/history.js';
import type { EventBatch } from '../wire/protocol.js';
import { batchFrames } from '../wire/transport.js';

/** Replies of at least this many events are checked for what is new before they are kept. */
const REPACK_CHECK_EVENTS = 64;

/** What to merge of a read's reply (`history`: the station's); the events new to it, repacked when few. */
export function keepable(events: readonly BusEvent[], history: EventHistory): readonly BusEvent[] {
  if (events.length < REPACK_CHECK_EVENTS) return events;
  const fresh = history.missing(events);
  if (fresh.length * 4 >= events.length || !fresh.some((event) => event instanceof EncodedEvent)) return fresh;
  const batch: EventBatch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: fresh, queue: [] };
  const repacked: BusEvent[] = [];
  for (const frame of batchFrames(batch, REPACK_FRAME_EVENTS, { compress: false })) {
    for (const event of scanBatch(frame).history) repacked.push(event);
  }
  return repacked;
}

const REPACK_FRAME_EVENTS = 4096;
