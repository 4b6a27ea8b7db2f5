/**
 * The size of an event as the memory policies count it (`sizeLimit`,
 * `maxBytes`, the budget; `retention.ts`): about what a batch frame spends
 * on it, measured without encoding it.
 */
import { Buffer } from 'node:buffer';
import { jsonBytes, utf8Length } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from './encoded-events.js';
import { framedBytes } from './size-classes.js';

/**
 * Bytes an event is counted at besides its strings and payload: its table,
 * time stamps, origin and the length prefixes of its strings, about what a
 * batch frame spends on them.
 */
export const EVENT_OVERHEAD_BYTES = 64;
/** Bytes a meta entry is counted at besides its key and value (its table and prefixes). */
export const META_ENTRY_OVERHEAD_BYTES = 8;

/**
 * The size of an event, as `sizeLimit`, `maxBytes` and the memory budget
 * count it and `EventTooLargeError.size` reports it: `EVENT_OVERHEAD_BYTES`,
 * plus the UTF-8 bytes of its id, type and topic, plus per meta entry
 * `META_ENTRY_OVERHEAD_BYTES` and the UTF-8 bytes of its key and value, plus
 * its payload as a frame carries it (the JSON text's UTF-8 bytes, exactly as
 * `encodeFrame` writes it, or a `Uint8Array`'s length). Measured without
 * building the JSON text (`jsonBytes`). An event still in a frame (a
 * station's) is counted at the bytes it takes there, known without reading it.
 */
export function eventBytes(event: BusEvent): number {
  if (event instanceof EncodedEvent) {
    const counted = event.countedBytes;
    if (counted !== undefined) return counted;
    return framedBytes(event.batch, event.index);
  }
  const { payload } = event;
  if (payload instanceof Uint8Array) return labelBytes(event) + payload.byteLength;
  const json = jsonBytes(payload);
  // Only a payload post() refuses has no JSON size; such an event reaches no history.
  return labelBytes(event) + (json >= 0 ? json : Buffer.byteLength(JSON.stringify(payload) ?? 'null'));
}

/**
 * `eventBytes` of an event just posted, whose payload's JSON bytes
 * (`copied`) post() measured as it copied it (`copiedPayloadBytes`): not
 * walked again. -1 (bytes, or not measured): measured here.
 */
export function postBytes(event: BusEvent, copied: number): number {
  if (copied < 0) return eventBytes(event);
  // Most posts have neither topic nor meta. Their id (`<processor>.<thread>.<n>`) and type (the type rule in
  // validate.ts) are ASCII: a byte a character, no walk over them.
  if (event.topic !== undefined || event.meta !== undefined) return labelBytes(event) + copied;
  return EVENT_OVERHEAD_BYTES + event.id.length + event.type.length + copied;
}

/** `eventBytes` but the payload: the overhead, id, type, topic and meta. */
function labelBytes(event: BusEvent): number {
  let bytes = EVENT_OVERHEAD_BYTES + utf8Length(event.id) + utf8Length(event.type);
  if (event.topic !== undefined) bytes += utf8Length(event.topic);
  if (event.meta !== undefined) for (const key in event.meta) bytes += META_ENTRY_OVERHEAD_BYTES + utf8Length(key) + utf8Length(event.meta[key]!);
  return bytes;
}
