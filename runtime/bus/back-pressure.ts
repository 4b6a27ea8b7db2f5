/**
 * A bus's flow control under the automatic sync policy: the bounds a post is
 * checked against (`maxQueued`, `maxUnsent`, `maxInFlight` credits), the
 * credits a read may take, and `room()`, where producers wait until their
 * station and their subscribers have caught up. A producer that outruns them
 * is slowed or refused, so memory stays bounded and the slowest sets the pace.
 */
import { AbortedError, BusFullError, RuntimeStoppedError } from '../../errors.js';
import type { BusEvent, Priority, Side } from '../../types.js';
import type { BusThread } from './bus-thread.js';
import { checkRoomOptions, type RoomOptions } from './bus-options.js';
import type { Outbox } from './outbox.js';

/** What flow control sees of its bus. */
export interface BusGauge {
  /** True once the bus handed over: it takes no posts, so it is never full. */
  retired(): boolean;
  /** Events its station has not taken yet. */
  unsent(): number;
  /** Deferred events in its queue. */
  queued(): number;
  /** `normal` events waiting for their delivery. */
  pending(): number;
  /** What its station has not taken: held to the bus's memory budget in bytes. */
  readonly outbox: Outbox;
}

interface RoomWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

export class BackPressure {
  readonly #thread: BusThread<unknown>;
  readonly #side: Side;
  readonly #bus: BusGauge;
  /** Producers waiting in `room()`. */
  #waiters: RoomWaiter[] = [];
  /**
   * The station refused this bus's last batch for a reader that is behind
   * (`BUS_FULL`): the events wait for the policy's next period, since a sync
   * asked for at once would only be refused again.
   */
  heldBack = false;

  constructor(thread: BusThread<unknown>, side: Side, bus: BusGauge) {
    this.#thread = thread;
    this.#side = side;
    this.#bus = bus;
  }

  /**
   * Throws `BusFullError` when a post of `type` would go past a bound: a
   * deferred one past `maxQueued` (the queue and what is parked at the
   * stations), another past `maxUnsent` (unless `local`: it never waits for
   * the station) or the credits of `maxInFlight`.
   */
  admit(type: string, priority: Priority, local = false): void {
    const host = this.#thread.host;
    if (priority === 'deferred') {
      // A thread's deferred events count wherever they wait: in this queue, or parked at the stations.
      const held = this.#bus.queued() + this.#thread.parked(this.#side);
      if (held >= host.maxQueued) throw new BusFullError(held, host.maxQueued, 'queue');
      return;
    }
    const maxUnsent = host.maxUnsent;
    // Counted only under a limit: without the automatic sync policy (the default) a post asks nothing of the outbox here.
    if (maxUnsent !== undefined && !local) {
      const unsent = this.#bus.unsent();
      if (unsent >= maxUnsent) {
        if (!this.heldBack) host.requestSync?.(this.#side);
        throw new BusFullError(unsent, maxUnsent);
      }
    }
    const maxInFlight = host.maxInFlight;
    if (maxInFlight !== undefined) {
      // This post may start one promise per async subscriber of its type (none: it takes no credit, e.g. what
      // a user actor emits while its own events hold the credits); a post with nothing taken always goes.
      const wanting = this.#thread.subscriptions(this.#side).asyncWanting(type);
      const taken = wanting === 0 ? 0 : this.#creditsTaken();
      if (taken > 0 && taken + wanting > maxInFlight) throw new BusFullError(taken, maxInFlight, 'inFlight');
    }
  }

  /**
   * Throws `BusFullError` (`bound: 'outbox'`) when `event` would take the
   * outbox past the bus's memory budget (`outbox.ts`): under the sync policy
   * at once, asking for a sync; under manual syncs only when nothing but
   * `high` events could be dropped to make room. A deferred post is checked
   * as it is posted (it joins the outbox once drained, and is never refused then).
   */
  admitUnsent(event: BusEvent, measured = -1): void {
    try {
      this.#bus.outbox.admit(event, measured);
    } catch (error) {
      if (!this.heldBack) this.#thread.host.requestSync?.(this.#side);
      throw error;
    }
  }

  /** See `Bus.room()`. */
  room(options?: RoomOptions): Promise<void> {
    const signal = checkRoomOptions(options);
    if (!this.#thread.host.running) return Promise.reject(new RuntimeStoppedError('room'));
    if (signal?.aborted === true) return Promise.reject(new AbortedError('room', signal.reason));
    if (this.#hasRoom()) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => {
      if (signal === undefined) return void this.#waiters.push({ resolve, reject });
      const abort = () => {
        this.#waiters = this.#waiters.filter((entry) => entry !== waiter);
        reject(new AbortedError('room', signal.reason));
      };
      const waiter = {
        resolve: () => (signal.removeEventListener('abort', abort), resolve()),
        reject: (error: unknown) => (signal.removeEventListener('abort', abort), reject(error)),
      };
      signal.addEventListener('abort', abort, { once: true });
      this.#waiters.push(waiter);
    });
    if (!this.#unsentRoom() && !this.heldBack) this.#thread.host.requestSync?.(this.#side);
    return waiting;
  }

  /** True when a post would not be refused for fullness: a retired bus, or at most half of each bound taken. */
  #hasRoom(): boolean {
    return this.#bus.retired() || (this.#unsentRoom() && this.#creditRoom());
  }

  /** At most half of `maxUnsent` events, and of the budget's bytes, wait for the station (or no such bound). */
  #unsentRoom(): boolean {
    const max = this.#thread.host.maxUnsent;
    return (max === undefined || this.#bus.unsent() <= Math.floor(max / 2)) && this.#bus.outbox.halfFree;
  }

  /** At most half of `maxInFlight` credits are taken by this thread's subscribers (or no such bound). */
  #creditRoom(): boolean {
    const max = this.#thread.host.maxInFlight;
    return max === undefined || this.#creditsTaken() <= Math.floor(max / 2);
  }

  /**
   * Credits taken: unsettled subscriber promises, and the promises that
   * `normal` posts waiting for their delivery will start (one per async
   * subscriber each, at most).
   */
  #creditsTaken(): number {
    const subscriptions = this.#thread.subscriptions(this.#side);
    return subscriptions.inFlight + this.#bus.pending() * subscriptions.asyncCount;
  }

  /**
   * How many events a sync may read for this thread's subscribers: no limit
   * (undefined) unless some are async under the sync policy; then as many as
   * the credits left of `maxInFlight` allow, each event taking one per async
   * subscriber (0: the read waits; at least one when nothing is taken).
   */
  readCredits(): number | undefined {
    const max = this.#thread.host.maxInFlight;
    const { asyncCount } = this.#thread.subscriptions(this.#side);
    if (max === undefined || asyncCount === 0) return undefined;
    const taken = this.#creditsTaken();
    return Math.max(taken === 0 ? 1 : 0, Math.floor((max - taken) / asyncCount));
  }

  /** A read was held back for want of credits: the next settled promise asks for it again. */
  holdRead(): void {
    this.#thread.subscriptions(this.#side).readHeld = true;
  }

  /** A limited read was full: read on at once if credits are back, or when they are. */
  moreToRead(): void {
    if (!this.#creditRoom()) {
      this.holdRead();
      return;
    }
    // After this sync ends (a request during a tick starts one more afterwards).
    queueMicrotask(() => this.#thread.host.requestSync?.(this.#side));
  }

  /**
   * A subscriber's promise settled. Once at most half of `maxInFlight`
   * credits are taken, a read that was held back is asked for again and
   * producers waiting in `room()` go on.
   */
  subscribersSettled(): void {
    if (this.#bus.retired() || !this.#creditRoom()) return;
    const subscriptions = this.#thread.subscriptions(this.#side);
    if (subscriptions.readHeld) {
      subscriptions.readHeld = false;
      this.#thread.host.requestSync?.(this.#side);
    }
    this.settle();
  }

  /**
   * Settles `room()` waiters: resolves them when there is room. While events
   * wait for the station, a sync's failure (or the runtime's stop) rejects
   * them, and otherwise another sync is asked for, since the one they waited
   * for may have been skipped (a read of the user's was under way). Waiters
   * for subscriber credits wait for `subscribersSettled()`: a sync cannot help.
   * Waiters for a station that holds this bus back for a slow reader wait for
   * the period's sync that it takes.
   */
  settle(failure?: unknown): void {
    if (this.#waiters.length === 0) return;
    const enough = this.#hasRoom();
    if (!enough) {
      if (this.#unsentRoom() || this.heldBack) return;
      if (failure === undefined) {
        this.#thread.host.requestSync?.(this.#side);
        return;
      }
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (enough) waiter.resolve();
      else waiter.reject(failure);
    }
  }

  /** The runtime or thread stops: producers waiting for room hear so. */
  halt(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(new RuntimeStoppedError('room'));
  }
}
