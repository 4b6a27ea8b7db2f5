/**
 * What a station keeps of the frames its events came in. An encoded event
 * keeps its whole frame alive (`store/event-segment.ts` keeps it as its place
 * there), so:
 *
 * - when only a few events of a large reply are new (a filtered `fromMain()`
 *   brings the whole filtered history every time), those few are copied into
 *   frames of their own, and the reply's frames can go (`keepable`);
 * - when most events of a frame have left the history (evicted to meet a
 *   budget, removed once delivered, expired), the few left are copied into
 *   frames of their own and every holder of places moves them there
 *   (`FrameCompactor`): otherwise one small event that stays (a `high` one,
 *   or one smaller than those the budget evicts first) keeps a frame of
 *   thousands of evicted ones, and memory grows while the budget's count of
 *   event bytes does not.
 */
import type { EncodedBatch } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent, UNREAD_ENDPOINT, scanBatch } from '../store/encoded-events.js';
import { movedEvent, type FrameMoves } from '../store/frame-moves.js';
import type { EventHistory } from '../store/history.js';
import type { Retention } from '../store/retention.js';
import type { EventBatch } from '../wire/protocol.js';
import { batchFrames } from '../wire/transport.js';
import type { Arrivals } from './arrivals.js';
import type { Interest } from './interest.js';

/** Replies of at least this many events are checked for what is new before they are kept. */
const REPACK_CHECK_EVENTS = 64;
const REPACK_FRAME_EVENTS = 4096;
/** Frames in less memory than this are not worth a copy. */
const SPARSE_MIN_BYTES = 16 * 1024;
/** Removals between two looks at the frames: at least this many, and as many as the history holds (O(1) a removal, amortized). */
const LOOK_EVERY = 4096;

/** What to merge of a read's reply (`history`: the station's); the events new to it, repacked when few. */
export function keepable(events: readonly BusEvent[], history: EventHistory): readonly BusEvent[] {
  if (events.length < REPACK_CHECK_EVENTS) return events;
  const fresh = history.missing(events);
  if (fresh.length * 4 >= events.length || !fresh.some((event) => event instanceof EncodedEvent)) return fresh;
  return repacked(fresh);
}

/** `events` (sorted) copied into new frames, in the same order: `EncodedEvent`s that hold none of the frames they came in. */
function repacked(events: readonly BusEvent[]): BusEvent[] {
  const batch: EventBatch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] };
  const copies: BusEvent[] = [];
  for (const frame of batchFrames(batch, REPACK_FRAME_EVENTS, { compress: false })) {
    for (const event of scanBatch(frame).history) copies.push(event);
  }
  return copies;
}

/** Every holder of a station's places in frames: what moves when the station compacts its frames. */
export interface FrameHolders {
  readonly history: EventHistory;
  readonly arrivals: Arrivals;
  readonly retention: Retention;
  readonly interest: Interest;
  /** Events accepted and not yet pushed upstream (a local station's), moved in place. */
  readonly unsent: BusEvent[][];
}

/**
 * Compacts a station's sparse frames: those of which the history holds less
 * than half the events (and at least `SPARSE_MIN_BYTES`). Their events are
 * copied into new frames and every holder moves to those places, so that
 * frames hold at most about twice the bytes of the events held in them.
 * A look counts the events per frame in the history (a pass over its places):
 * it runs once as many events have left as the history holds, so it costs
 * O(1) a removal; each event copied was in a frame that lost at least as
 * many since it was made.
 *
 * @example
 * const frames = new FrameCompactor(() => ({ history, arrivals, retention, interest, unsent }))
 * frames.removed(evicted.length)   // looks at the frames after this call, once enough have left
 */
export class FrameCompactor {
  readonly #holders: () => FrameHolders;
  #removed = 0;
  #scheduled = false;

  constructor(holders: () => FrameHolders) {
    this.#holders = holders;
  }

  /** `count` events left the history. */
  removed(count: number): void {
    this.#removed += count;
    if (this.#scheduled || this.#removed < Math.max(LOOK_EVERY, this.#holders().history.size)) return;
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
    const holders = this.#holders();
    const segments = holders.history.segments;
    const counts = new Map<EncodedBatch, number>();
    for (const segment of segments) segment.countFrames(counts);
    const sparse = new Set<EncodedBatch>();
    for (const [batch, held] of counts) if (held * 2 < batch.count && batch.body.buffer.byteLength >= SPARSE_MIN_BYTES) sparse.add(batch);
    if (sparse.size === 0) return 0;
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
    relocate(holders, moves);
    return events.length;
  }
}

function relocate(holders: FrameHolders, moves: FrameMoves): void {
  for (const segment of holders.history.segments) segment.relocate(moves);
  holders.arrivals.relocate(moves);
  holders.retention.relocate(moves);
  holders.interest.relocate(moves);
  for (const batch of holders.unsent) batch.forEach((event, i) => void (batch[i] = movedEvent(moves, event)));
}
