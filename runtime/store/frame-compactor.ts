/**
 * Compaction of sparse frames, for any history that keeps events as places
 * in frames: a station (`runtime/station/repack.ts`) and a bus after its
 * syncs (`Retention`, `history.ts` `adopt`). An encoded event keeps its whole
 * frame alive (`event-segment.ts` keeps it as its place there): when most
 * events of a frame have left the history (evicted to meet a budget, removed
 * once delivered, expired), the few left are copied into frames of their own
 * and every holder of places moves them there (`frame-moves.ts`). Otherwise
 * one small event that stays (a `high` one, a log kept among ticks removed
 * once delivered) keeps a frame of thousands of removed ones, and memory
 * grows while the budget's count of event bytes does not.
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import type { EventBatch } from '../wire/protocol.js';
import { batchFrames } from '../wire/transport.js';
import { EncodedEvent, UNREAD_ENDPOINT, scanBatch } from './encoded-events.js';
import type { FrameMoves } from './frame-moves.js';
import type { EventHistory } from './history.js';

/** Events per frame that repacking makes. */
const REPACK_FRAME_EVENTS = 4096;
/** Sparse frames in less memory than this, all together, are not worth a copy. */
const SPARSE_MIN_BYTES = 16 * 1024;
/** Removals between two looks at the frames: at least this many, and as many as the history holds (O(1) a removal, amortized). */
const LOOK_EVERY = 4096;

/** `events` (sorted) copied into new frames, in the same order: `EncodedEvent`s that hold none of the frames they came in. */
export function repacked(events: readonly BusEvent[]): BusEvent[] {
  const batch: EventBatch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] };
  const copies: BusEvent[] = [];
  for (const frame of batchFrames(batch, REPACK_FRAME_EVENTS, { compress: false })) {
    for (const event of scanBatch(frame).history) copies.push(event);
  }
  return copies;
}

/**
 * Compacts a history's sparse frames: those of which it holds less than half
 * the events (once they take `SPARSE_MIN_BYTES` or more). Their events are copied into
 * new frames, the history's segments move to those places and so does every
 * other holder (`relocate`), so that frames hold at most about twice the
 * bytes of the events held in them. A look counts the events per frame in
 * the history (a pass over its places): it runs once as many events have
 * left as the history holds, so it costs O(1) a removal; each event copied
 * was in a frame that lost at least as many since it was made.
 *
 * @example
 * const frames = new FrameCompactor(() => history, (moves) => { queue.relocate(moves); arrivals.relocate(moves) })
 * frames.removed(evicted.length)   // looks at the frames after this call, once enough have left
 */
export class FrameCompactor {
  readonly #history: () => EventHistory;
  readonly #relocate: (moves: FrameMoves) => void;
  #removed = 0;
  #scheduled = false;

  /** @param relocate moves the places held besides the history's segments (moved first). */
  constructor(history: () => EventHistory, relocate: (moves: FrameMoves) => void) {
    this.#history = history;
    this.#relocate = relocate;
  }

  /** Events in the frames of `places` (its `EncodedEvent`s) arrived, and `held` of them joined the history: the others count as gone. */
  arrived(places: readonly BusEvent[], held: number): void {
    const count = framesCount(places) - held;
    if (count > 0) this.removed(count);
  }

  /** `count` events left the history. */
  removed(count: number): void {
    this.#removed += count;
    if (this.#scheduled || this.#removed < Math.max(LOOK_EVERY, this.#history().size)) return;
    this.#scheduled = true;
    // After the call that removed them, never inside it: its callers hold and compare places (what a merge added).
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#removed = 0;
      this.compact();
    });
  }

  /** Moves the events of sparse frames into frames of their own now; returns how many moved. */
  compact(): number {
    const segments = this.#history().segments;
    const counts = new Map<EncodedBatch, number>();
    for (const segment of segments) segment.countFrames(counts);
    const sparse = new Set<EncodedBatch>();
    // A bus's syncs leave small frames (a sync's worth each), many of them: their memory counts together.
    const buffers = new Set<ArrayBufferLike>();
    let bytes = 0;
    for (const [batch, held] of counts) {
      if (held * 2 >= batch.count) continue;
      sparse.add(batch);
      const { buffer } = batch.body;
      if (buffers.has(buffer)) continue;
      buffers.add(buffer);
      bytes += buffer.byteLength;
    }
    if (bytes < SPARSE_MIN_BYTES) return 0;
    const events: BusEvent[] = [];
    for (const segment of segments) segment.eventsIn(sparse, events);
    const copies = repacked(events);
    const moves = new Map<EncodedBatch, Array<EncodedEvent | undefined>>();
    events.forEach((event, i) => {
      const { batch, index } = event as EncodedEvent;
      let moved = moves.get(batch);
      if (moved === undefined) moves.set(batch, (moved = []));
      moved[index] = copies[i] as EncodedEvent;
    });
    for (const segment of segments) segment.relocate(moves);
    this.#relocate(moves);
    return events.length;
  }
}

/** Events in the frames the `EncodedEvent`s of `places` are in. */
function framesCount(places: readonly BusEvent[]): number {
  let count = 0;
  let last: EncodedEvent['batch'] | undefined;
  const seen = new Set<EncodedEvent['batch']>();
  for (const place of places) {
    if (!(place instanceof EncodedEvent)) continue;
    const { batch } = place;
    if (batch === last || seen.has(batch)) continue;
    seen.add((last = batch));
    count += batch.count;
  }
  return count;
}
