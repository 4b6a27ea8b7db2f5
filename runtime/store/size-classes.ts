/**
 * How a memory budget measures and ranks the events it may evict: the size
 * of an event kept in a frame (`framedBytes`, the rule `eventBytes` uses for
 * a frame's events), and the size classes that let the oldest of similar
 * sizes go first (`sizeClass`).
 */
import { eventPositionAt, type EncodedBatch } from '../../schemas/codec/index.js';

/** Sizes within this factor of the largest (and of each other, below it) count as equal for eviction: then the oldest goes first. */
export const SIZE_STEP = 1.25;
const LOG_STEP = Math.log(SIZE_STEP);

/**
 * An event's size class below the largest (0: within `SIZE_STEP` of it). Exact bytes would let a byte more
 * (an id one digit longer, a frame laid out differently) put every new event before every old one: a history
 * at its budget would then evict each new event as it comes and keep its old ones for good.
 */
export function sizeClass(largest: number, size: number): number {
  return size >= largest ? 0 : Math.floor(Math.log(largest / size) / LOG_STEP);
}

/**
 * The size of event `index` of a frame as a budget counts it (`eventBytes`): its span in the body (the last
 * event's ends where the body does, when no queue follows it), or an even share of the body when the table
 * does not tell. A frame's last event counted at the frame's average looked smaller than its kind, and a
 * budget that evicts the largest first kept it, and its whole frame with it.
 */
export function framedBytes(batch: EncodedBatch, index: number): number {
  const next = index + 1 < batch.count ? eventPositionAt(batch, index + 1) : batch.queue.length === 0 ? batch.body.byteLength : -1;
  const span = next - eventPositionAt(batch, index);
  return span > 0 ? span : Math.ceil(batch.body.byteLength / batch.count);
}
