/**
 * A bus's outbox: the history its station has not seen, in the order it
 * joined — what the bus posted, drained from its queue, or took over from a
 * predecessor whose `toStation()` failed. A sync sends it and keeps what
 * joined meanwhile, so a sync costs what is new, not what the history holds.
 *
 * With a memory budget (`memory.budget.busBytes`, on by default) the outbox
 * is held to that budget on its own: the history evicts to meet its budget,
 * but an event it lets go (evicted, removed after delivery) still waits here
 * for the station, so a bus that never syncs would otherwise grow without
 * bound. At the budget:
 *
 * - under the automatic sync policy, a post is refused (`BusFullError`,
 *   `bound: 'outbox'`) and a sync is asked for, as at `sync.maxUnsent`:
 *   the station sets the pace (`back-pressure.ts`);
 * - under manual syncs, the oldest unsent events go, `low` ones first, then
 *   `normal`, down to `EVICT_TO` of the budget, as the budget evicts a
 *   history (but oldest first: the outbox is a queue to the station), each
 *   round reported (`busline.memory.dropped`); `high` events never go, and a
 *   post that only their going would make room for is refused.
 *
 * Nothing accepted is lost silently: a refused post was not accepted, and
 * what is dropped is reported.
 *
 * Once `FRAME_UNSENT_EVENTS` of its events are objects (a policy that never
 * syncs, or syncs seldom) while memory is short (`due`: the bus's history is
 * past half its budget), idle steps encode them into frames, and the outbox
 * and the history keep them so from then on (`adopt`): a bus keeps what it
 * has not sent as compactly as what a sync framed. A sync then copies their
 * bytes instead of encoding them. Framing costs a post's worth of CPU per
 * event (a third of a never-syncing bus's post rate, measured), so it waits
 * for memory to matter.
 */
import { BusFullError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { EncodedEvent, UNREAD_ENDPOINT, scanBatch } from '../store/encoded-events.js';
import { movedEvent, type FrameMoves } from '../store/frame-moves.js';
import { compareEvents } from '../store/history.js';
import { EVICT_TO } from '../store/memory-budget.js';
import type { Importance } from '../store/memory-policy.js';
import type { UnsentDropReport } from '../store/memory-stats.js';
import { batchFrames } from '../wire/transport.js';

/** Unsent events held as objects from which the outbox frames them (in frames of `FRAME_EVENTS`). */
export const FRAME_UNSENT_EVENTS = 4096;
/** Events per frame the outbox makes (and the read framer: `read-framer.ts`). */
export const FRAME_EVENTS = 256;
/** Most milliseconds of framing per idle step. */
const STEP_MS = 4;
/** The share of the thread's time framing steps take at most (compression paces its own by the thread's load: `store/step-pacer.ts`). */
const STEP_SHARE = 0.1;

/**
 * Frames whole frames (`FRAME_EVENTS`) while `waiting()` counts one, for at
 * most a step (`STEP_MS`); returns how long the step took. The idle step of
 * the outbox and of a bus's read framer.
 */
export function frameForAStep(waiting: () => number, frame: (count: number) => number): number {
  const started = performance.now();
  while (waiting() >= FRAME_EVENTS && performance.now() - started < STEP_MS && frame(FRAME_EVENTS) > 0);
  return performance.now() - started;
}

/** Calls `step` once a step of `lastStepMs` has had its `STEP_SHARE` of the time since (unref'd: it keeps no process alive). */
export function afterStepShare(step: () => void, lastStepMs: number): void {
  const wait = lastStepMs * (1 / STEP_SHARE - 1);
  if (wait < 1) setImmediate(step).unref();
  else setTimeout(step, wait).unref();
}

/**
 * An event's importance as the outbox ranks it in its entry (`size × RANKS + rank`): one number an event,
 * so that a post pushes one and a drop reads no policy.
 */
const LOW = 0;
const NORMAL = 1;
const HIGH = 2;
const RANKS = 4;
const RANK_OF: Readonly<Record<Importance, number>> = { low: LOW, normal: NORMAL, high: HIGH };

/** What the outbox needs of its bus. */
export interface OutboxOptions {
  /** The history keeps `sent` (objects) as `framed` (the same events in frames, in order) from now on. */
  readonly adopt?: (sent: readonly BusEvent[], framed: readonly EncodedEvent[]) => void;
  /** True while memory is short enough to spend CPU on framing; default: always. */
  readonly due?: () => boolean;
  /** `'manual'`: only `frame()` frames (tests). Default: idle steps (`setImmediate`, unref'd). */
  readonly schedule?: 'manual';
}

/** What bounds an outbox: its bus's memory budget. */
export interface OutboxBound {
  /** Bytes of unsent events the outbox may hold. */
  readonly budget: number;
  /** The option that set it, for errors: `memory.budget.busBytes`. */
  readonly option: string;
  /** The bus in reports: `bus:<processor>.<thread>:<side>`. */
  readonly name: string;
  /** True under the automatic sync policy: at the budget posts are refused, nothing is dropped. */
  readonly refuse: boolean;
  /** An event's size as its history counts it. */
  sizeOf(event: BusEvent): number;
  /** An event type's importance; absent when no policy sets one (every event is then `normal`). */
  readonly importance?: (type: string) => Importance;
  /** Told of each round of drops. */
  dropped(report: UnsentDropReport): void;
}

export class Outbox {
  #events: BusEvent[] = [];
  /** False once an event joined out of order (a drained one is stamped at post time). */
  #sorted = true;
  readonly #bound: OutboxBound | undefined;
  /**
   * With a bound: each event's size and rank (`size × RANKS + rank`), beside `#events` (`#entries[i]` is
   * `#events[i]`'s); and the sum of the sizes. A typed column, not an array of numbers: the GC neither
   * copies nor scans it as it grows with a bus that does not sync.
   */
  #entries: Float64Array = new Float64Array(16);
  #bytes = 0;
  /** Bytes of events that may be dropped (not `high`). */
  #droppable = 0;
  /** The last type ranked and its rank: posts of one type often follow each other, and a rank is a policy lookup. */
  #lastType: string | undefined;
  #lastRank = NORMAL;

  /** How many of the first events are framed (`EncodedEvent`s): framing goes on from there. */
  #framed = 0;
  readonly #options: OutboxOptions;
  #stepScheduled = false;
  #lastStepMs = 0;
  /** Framing failed once: the outbox keeps objects from then on. */
  #failed = false;

  constructor(bound?: OutboxBound, options: OutboxOptions = {}) {
    this.#bound = bound;
    this.#options = options;
  }

  /** Events the station has not seen. */
  get length(): number {
    return this.#events.length;
  }

  /** Unsent events held as objects. */
  get unframed(): number {
    return this.#events.length - this.#framed;
  }

  /** Bytes of the events the station has not seen (0 without a budget). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Under the sync policy: true when at most half of the budget is taken,
   * so producers waiting in `room()` may go on. Always true otherwise: there
   * no sync comes by itself to wait for, and the oldest events make room.
   */
  get halfFree(): boolean {
    return this.#bound?.refuse !== true || this.#bytes <= this.#bound.budget / 2;
  }

  /**
   * Throws `BusFullError` (`bound: 'outbox'`) unless `event` may join: it
   * fits the budget, or (under manual syncs) dropping events that are not
   * `high` would make room for it. `measured`: its size, if the caller
   * measured it (a post's: `Retention.admitPost`), else -1.
   */
  admit(event: BusEvent, measured = -1): void {
    const bound = this.#bound;
    if (bound === undefined) return;
    const size = measured >= 0 ? measured : bound.sizeOf(event);
    const over = this.#bytes + size - bound.budget;
    if (over <= 0 || (!bound.refuse && over <= this.#droppable)) return;
    throw new BusFullError(this.#bytes, bound.budget, 'outbox', bound.option);
  }

  /** A post (`measured`: its size, as for `admit`): stamped after everything its thread has seen, so the outbox stays sorted. */
  push(event: BusEvent, measured = -1): void {
    const events = this.#events;
    // Stored at its length, not pushed: a store whose array's shape the optimized code checked first is
    // inlined, where a push on an array read from a field is a call to the builtin at every post.
    events[events.length] = event;
    if (this.#bound !== undefined) this.#count(event, measured);
    // Whether memory is short is asked once a frame's worth of posts, not at each: a bus that never syncs holds thousands.
    // Read again: a drop (`#count`) may have replaced the array.
    const unframed = this.#events.length - this.#framed;
    if (unframed >= FRAME_UNSENT_EVENTS && unframed % FRAME_EVENTS === 0 && !this.#stepScheduled && this.#options.due?.() !== false) this.#scheduleStep();
  }

  /** An event that joined the history with an older stamp (a drained one): it may sort before what is here. */
  add(event: BusEvent): void {
    const last = this.#events[this.#events.length - 1];
    if (last !== undefined && compareEvents(last, event) > 0) this.#sorted = false;
    this.push(event);
  }

  #count(event: BusEvent, measured: number): void {
    const bound = this.#bound!;
    const size = measured >= 0 ? measured : bound.sizeOf(event);
    const rank = this.#rank(event.type);
    // `#events` has the event already: its entry goes at the same index.
    const at = this.#events.length - 1;
    if (at === this.#entries.length) this.#entries = grown(this.#entries, at, 2 * at);
    this.#entries[at] = size * RANKS + rank;
    this.#bytes += size;
    if (rank !== HIGH) this.#droppable += size;
    if (this.#bytes > bound.budget && !bound.refuse) this.#drop();
  }

  #rank(type: string): number {
    const importance = this.#bound!.importance;
    if (importance === undefined) return NORMAL;
    if (type === this.#lastType) return this.#lastRank;
    this.#lastType = type;
    return (this.#lastRank = RANK_OF[importance(type)]);
  }

  /** Drops the oldest `low` events, then `normal` ones, down to `EVICT_TO` of the budget, and reports it. */
  #drop(): void {
    const bound = this.#bound!;
    const target = Math.floor(bound.budget * EVICT_TO);
    const before = this.#bytes;
    const types = new Set<string>();
    const count = bound.importance === undefined ? this.#dropOldest(target, types) : this.#dropByRank(target, types);
    if (count === 0) return;
    bound.dropped({
      history: bound.name,
      count,
      freed: before - this.#bytes,
      types: [...types],
      bytes: this.#bytes,
      budget: bound.budget,
    });
  }

  /**
   * Every event is `normal` (no policy sets an importance): the oldest go, a
   * first stretch taken off in one copy, not a pass over every event held
   * (a bus that never syncs drops a round every tenth of its budget). Returns how many.
   */
  #dropOldest(target: number, types: Set<string>): number {
    const events = this.#events;
    const entries = this.#entries;
    let lastType: string | undefined;
    let cut = 0;
    for (; cut < events.length && this.#bytes > target; cut++) {
      const size = (entries[cut]! - NORMAL) / RANKS;
      this.#bytes -= size;
      this.#droppable -= size;
      const type = events[cut]!.type;
      if (type !== lastType) types.add((lastType = type));
    }
    if (cut === 0) return 0;
    entries.copyWithin(0, cut, events.length);
    this.#events = events.slice(cut);
    this.#framed = Math.max(0, this.#framed - cut);
    return cut;
  }

  /**
   * The oldest `low` events, then `normal` ones, down to `target`. The oldest of a rank are those before a cut:
   * one pass a rank finds its cut, one more keeps the rest (no set of indices, no policy read: the entries hold
   * the ranks). Returns how many.
   */
  #dropByRank(target: number, types: Set<string>): number {
    const events = this.#events;
    const entries = this.#entries;
    let lastType: string | undefined;
    let count = 0;
    // Events of rank r before cuts[r] go (r low or normal).
    const cuts = [0, 0];
    for (const rank of [LOW, NORMAL]) {
      let i = 0;
      for (; i < events.length && this.#bytes > target; i++) {
        const entry = entries[i]!;
        if (entry % RANKS !== rank) continue;
        const size = (entry - rank) / RANKS;
        this.#bytes -= size;
        this.#droppable -= size;
        count++;
        const type = events[i]!.type;
        if (type !== lastType) types.add((lastType = type));
      }
      cuts[rank] = i;
    }
    if (count === 0) return 0;
    let kept = 0;
    for (let i = 0; i < events.length; i++) {
      const entry = entries[i]!;
      const rank = entry % RANKS;
      if (rank !== HIGH && i < cuts[rank]!) continue;
      events[kept] = events[i]!;
      entries[kept++] = entry;
    }
    events.length = kept;
    this.#framed = framedPrefix(events);
    return count;
  }

  /** What the station has not seen, sorted (a copy). */
  unsent(): BusEvent[] {
    const unsent = this.#events.slice();
    return this.#sorted ? unsent : unsent.sort(compareEvents);
  }

  /** Forgets events a sync delivered to the station; what joined meanwhile stays. */
  sent(events: readonly BusEvent[]): void {
    const count = events.length;
    const outbox = this.#events;
    if (count > 0 && outbox[0] === events[0] && outbox[count - 1] === events[count - 1] && this.#sorted) {
      // Sent in outbox order, and only appended to since: the sent ones are its first `count`.
      if (this.#bound !== undefined) this.#uncount(count, outbox.length);
      this.#events = outbox.slice(count);
      this.#framed = Math.max(0, this.#framed - count);
    } else {
      // By id: an event framed while the sync ran is another object now.
      const sent = new Set(events.map((event) => event.id));
      if (this.#bound === undefined) this.#events = outbox.filter((event) => !sent.has(event.id));
      else this.#keep((event) => !sent.has(event.id));
      this.#framed = framedPrefix(this.#events);
    }
    if (this.#events.length === 0) this.#sorted = true;
  }

  /** Takes back what a failed `toStation()` of the previous generation carried: older, so it goes first. */
  takeBack(unsent: readonly BusEvent[]): void {
    // A drained event may be older still than what a predecessor carried.
    if (unsent.length > 0 && this.#events.length > 0) this.#sorted = false;
    this.#events = [...unsent, ...this.#events];
    this.#framed = framedPrefix(this.#events);
    const bound = this.#bound;
    if (bound === undefined) return;
    const held = this.#events.length - unsent.length;
    const entries = new Float64Array(Math.max(16, 2 * this.#events.length));
    entries.set(this.#entries.subarray(0, held), unsent.length);
    unsent.forEach((event, i) => {
      const size = bound.sizeOf(event);
      const rank = this.#rank(event.type);
      this.#bytes += size;
      if (rank !== HIGH) this.#droppable += size;
      entries[i] = size * RANKS + rank;
    });
    this.#entries = entries;
    if (this.#bytes > bound.budget && !bound.refuse) this.#drop();
  }

  /**
   * Encodes up to `count` of the oldest unsent objects into frames, keeps
   * them so, and has the history adopt them. Returns how many it framed.
   */
  frame(count = this.unframed): number {
    const from = this.#framed;
    const objects = this.#events.slice(from, from + Math.min(count, this.unframed));
    if (objects.length === 0) return 0;
    let framed: EncodedEvent[];
    try {
      framed = frameEvents(objects);
    } catch {
      // Nothing the station would refuse reaches an outbox; should it, the events stay objects and the sync says why.
      this.#failed = true;
      return 0;
    }
    for (let k = 0; k < framed.length; k++) this.#events[from + k] = framed[k]!;
    this.#framed = from + framed.length;
    this.#options.adopt?.(objects, framed);
    return framed.length;
  }

  /** Framed events that moved out of sparse frames (the history repacked them: `frame-compactor.ts`) follow them. */
  relocate(moves: FrameMoves): void {
    for (let i = 0; i < this.#events.length; i++) this.#events[i] = movedEvent(moves, this.#events[i]!);
  }

  #scheduleStep(): void {
    if (this.#stepScheduled || this.#failed || this.#options.schedule === 'manual' || this.#options.adopt === undefined) return;
    this.#stepScheduled = true;
    afterStepShare(() => {
      this.#stepScheduled = false;
      // A thread that posts without pause keeps posting.
      this.#lastStepMs = frameForAStep(() => this.unframed, (count) => this.frame(count));
      // Once begun, on until fewer than a frame's worth are left.
      if (this.unframed >= FRAME_EVENTS) this.#scheduleStep();
    }, this.#lastStepMs);
  }

  /** Forgets the counts of the first `count` events, and their entries (the caller removes the events: `length` of them were held). */
  #uncount(count: number, length: number): void {
    const entries = this.#entries;
    for (let i = 0; i < count; i++) this.#forget(entries[i]!);
    const rest = length - count;
    // A column that grew while the bus did not sync is let go of once mostly empty.
    if (entries.length > 4 * rest + 64) this.#entries = grown(entries.subarray(count), rest, 2 * rest);
    else entries.copyWithin(0, count, length);
  }

  /** Takes an event's entry off the counts. */
  #forget(entry: number): void {
    const rank = entry % RANKS;
    const size = (entry - rank) / RANKS;
    this.#bytes -= size;
    if (rank !== HIGH) this.#droppable -= size;
  }

  /** Keeps the events `keep` says to keep, with their sizes and counts. */
  #keep(keep: (event: BusEvent) => boolean): void {
    const events: BusEvent[] = [];
    const entries = this.#entries;
    this.#events.forEach((event, i) => {
      const entry = entries[i]!;
      if (keep(event)) entries[events.push(event) - 1] = entry;
      else this.#forget(entry);
    });
    this.#events = events;
  }
}

/** `events` in frames (cut by count and bytes as a sync's are: `batchFrames`), as the `EncodedEvent`s a station reads, in order. */
export function frameEvents(events: readonly BusEvent[]): EncodedEvent[] {
  const framed: EncodedEvent[] = [];
  const batch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] } as const;
  for (const frame of batchFrames(batch, FRAME_EVENTS, { compress: false })) {
    for (const event of scanBatch(frame).history) framed.push(event as EncodedEvent);
  }
  return framed;
}

/** A copy of the first `length` of `column` with room for `capacity`. */
function grown(column: Float64Array, length: number, capacity: number): Float64Array {
  const copy = new Float64Array(Math.max(16, capacity));
  copy.set(column.subarray(0, length));
  return copy;
}

/** How many of `events`' first ones are framed. */
function framedPrefix(events: readonly BusEvent[]): number {
  let framed = 0;
  while (framed < events.length && events[framed] instanceof EncodedEvent) framed++;
  return framed;
}
