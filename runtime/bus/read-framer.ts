/**
 * The framer of a bus's small reads. A read of `FRAMED_READ_MIN_EVENTS` or
 * more stays in the history as places in the reply's frames (`read-merge.ts`);
 * a smaller one stays as objects, since a frame of a handful costs more than
 * they do. Under the sync policy most reads are that small, so without this
 * a bus's history would be mostly objects (about 2.5 times a frame's bytes).
 *
 * The framer remembers the objects small reads left in the history and, by
 * the outbox's rule (`outbox.ts`: once `FRAME_UNSENT_EVENTS` wait while
 * memory is short), encodes them in idle steps into frames of `FRAME_EVENTS`,
 * which the history adopts (`Retention.adopt`): the objects can go, and the
 * budget counts the events at their bytes in the frames, as a station does.
 * Each batch is adopted in one synchronous call: a reader's snapshot or view
 * has all of it or none. Objects no longer held as themselves (removed,
 * evicted, compressed into a block) are left out before encoding.
 */
import type { BusEvent } from '../../types.js';
import { EncodedEvent } from '../store/encoded-events.js';
import type { Retention } from '../store/retention.js';
import { FRAME_EVENTS, FRAME_UNSENT_EVENTS, afterStepShare, frameEvents, frameForAStep } from './outbox.js';

/** What the framer needs besides its history. */
export interface ReadFramerOptions {
  /** True while memory is short enough to spend CPU on framing; default: always. */
  readonly due?: () => boolean;
  /** `'manual'`: only `frame()` frames (tests). Default: idle steps (`setImmediate`, unref'd, paced). */
  readonly schedule?: 'manual';
  /** Objects waiting from which steps begin; default `FRAME_UNSENT_EVENTS`, as the outbox's. */
  readonly threshold?: number;
}

/**
 * Gathers the objects small reads left in `retention`'s history and has the
 * history keep them in frames.
 *
 * @example
 * const framer = new ReadFramer(retention, { schedule: 'manual' })
 * framer.kept(merged)   // the objects a read merged into the history
 * framer.frame()        // encoded and adopted: the objects can go
 */
export class ReadFramer {
  readonly #retention: Retention;
  readonly #options: ReadFramerOptions;
  readonly #threshold: number;
  /** Objects the reads put in the history, oldest read first, from `#head` on. */
  #pending: BusEvent[] = [];
  #head = 0;
  #stepScheduled = false;
  #lastStepMs = 0;
  /** Framing failed once: this history keeps objects from then on. */
  #failed = false;

  constructor(retention: Retention, options: ReadFramerOptions = {}) {
    this.#retention = retention;
    this.#options = options;
    this.#threshold = options.threshold ?? FRAME_UNSENT_EVENTS;
  }

  /** Objects waiting to be framed (some may have left the history since). */
  get pending(): number {
    return this.#pending.length - this.#head;
  }

  /** A read merged `events` into the history (what it kept): its objects wait to be framed. */
  kept(events: readonly BusEvent[]): void {
    if (this.#failed) return;
    for (const event of events) if (!(event instanceof EncodedEvent)) this.#pending.push(event);
    this.#waited();
  }

  /** A local post joined the history (`PostOptions.local`): no sync frames it, so its object waits here, as a small read's. */
  keptOne(event: BusEvent): void {
    if (this.#failed) return;
    this.#pending.push(event);
    // Looked at once a frame's worth, as the outbox does: a post does not ask how pressed its history is each time.
    if (this.pending % FRAME_EVENTS === 0 && !this.#stepScheduled) this.#waited();
  }

  /** After objects joined the waiting list: a step once there are enough, if memory is short. */
  #waited(): void {
    if (this.pending < this.#threshold) return;
    if (this.#options.due?.() !== false) this.#scheduleStep();
    // Not due: what left the history meanwhile (expired, removed after delivery or a search, compressed) is let go,
    // not kept alive here. The history holds at most `objects` of the waiting ones, so past that plus the threshold at
    // least a threshold's worth left: what this keeps beyond the history's own is bounded by the threshold, and each
    // pruning (one lookup a waiting object) lets go of at least a threshold's worth.
    else if (this.pending >= this.#objectsHeld() + this.#threshold) this.#prune();
  }

  /**
   * Encodes up to `count` of the oldest waiting objects that the history
   * still holds into frames and has the history adopt them. Returns how many
   * were taken off the waiting list (framed or gone).
   */
  frame(count = this.pending): number {
    const taken = this.#pending.slice(this.#head, this.#head + Math.min(count, this.pending));
    this.#head += taken.length;
    if (this.#head >= this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    } else if (this.#head > this.#pending.length / 2) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    const held = this.#held(taken);
    if (held.length === 0) return taken.length;
    let framed: EncodedEvent[];
    try {
      framed = frameEvents(held);
    } catch {
      // A read's events were encoded once by the station: should one not encode again, the history keeps objects.
      this.#failed = true;
      this.#pending = [];
      this.#head = 0;
      return taken.length;
    }
    this.#retention.adopt(held, framed);
    return taken.length;
  }

  /** The events of `objects` the history still holds as those objects (not removed, not in a block). */
  #held(objects: readonly BusEvent[]): BusEvent[] {
    const found = this.#retention.history.find(objects);
    return objects.filter((event, k) => found[k] === event);
  }

  /** Events the history holds outside its blocks: a bound on how many waiting objects it still holds. */
  #objectsHeld(): number {
    const history = this.#retention.history;
    return history.size - history.compressedCount;
  }

  #prune(): void {
    this.#pending = this.#held(this.#pending.slice(this.#head));
    this.#head = 0;
  }

  #scheduleStep(): void {
    if (this.#stepScheduled || this.#options.schedule === 'manual') return;
    this.#stepScheduled = true;
    afterStepShare(() => {
      this.#stepScheduled = false;
      // A thread busy with its reads goes on with them.
      this.#lastStepMs = frameForAStep(() => this.pending, (count) => this.frame(count));
      if (this.pending >= FRAME_EVENTS && !this.#failed) this.#scheduleStep();
    }, this.#lastStepMs);
  }
}

const framers = new WeakMap<Retention, ReadFramer>();

/** Gives `retention` (a bus's history) a framer of its small reads: `mergeReadHistory` tells it what each read kept. */
export function frameReadsOf(retention: Retention, options?: ReadFramerOptions): ReadFramer {
  const framer = new ReadFramer(retention, options);
  framers.set(retention, framer);
  return framer;
}

/** The framer of `retention`'s small reads, if it has one. */
export function readFramerOf(retention: Retention): ReadFramer | undefined {
  return framers.get(retention);
}
