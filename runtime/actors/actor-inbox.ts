/**
 * The inbox of a user actor (`runtime.spawn()`): the bus events it receives
 * reach it one at a time, and a thread whose actor is slow per event still
 * gets its turn between them. An actor's transitions run synchronously, so an
 * actor that takes milliseconds per event, handed a thousand events at once,
 * would otherwise keep its thread from control calls (which then miss their
 * deadline: the worker is taken as hung), timers and syncs for seconds.
 */
import type { BusEvent } from '../../types.js';

/**
 * How long an inbox hands events to its actor in one go (one synchronous run
 * of the thread, such as the delivery of a read) before the rest wait for a
 * later turn of the event loop: the time a control call may wait for a busy
 * actor, beyond the event under way.
 */
export const ACTOR_SLICE_MS = 5;

interface Waiting {
  readonly event: BusEvent;
  resolve(): void;
  reject(error: unknown): void;
}

/** A user actor's inbox. */
export class ActorInbox {
  readonly #deliver: (event: BusEvent) => void;
  #waiting: Waiting[] = [];
  /** Index of the next waiting event (the array is cut when a turn ends). */
  #next = 0;
  /**
   * Time the actor has spent on events in the current synchronous run. It
   * starts again at the next microtask: what took long in one run (or only
   * looked long, the thread being preempted) never keeps the actor from an
   * `immediate` post made after an `await`.
   */
  #spent = 0;
  #spentReset = false;
  /** A later turn hands on what waits. */
  #turnScheduled = false;
  #closed = false;
  /** Settles once the last event waiting now has been handed on (or dropped). */
  #handedOn: Promise<void> | undefined;

  /** @param deliver hands one event to the actor (synchronously). */
  constructor(deliver: (event: BusEvent) => void) {
    this.#deliver = deliver;
  }

  /** Events waiting for the actor. */
  get waiting(): number {
    return this.#waiting.length - this.#next;
  }

  /**
   * Takes one event. While nothing waits and the actor has not used up the
   * current run's slice, the actor gets it at once (an `immediate` post still
   * reaches it before `post()` returns); otherwise it waits for a later turn.
   * Resolves once the actor has had it, so that as a subscriber's promise it
   * holds one of the thread's credits (`sync.maxInFlight`) until then.
   */
  take(event: BusEvent): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.waiting === 0 && this.#spent < ACTOR_SLICE_MS) {
      this.#timed(event);
      return undefined;
    }
    const waiting = new Promise<void>((resolve, reject) => this.#waiting.push({ event, resolve, reject }));
    this.#handedOn = waiting.then(noop, noop);
    this.#scheduleTurn();
    return waiting;
  }

  /**
   * Settles once the actor has had every event waiting now (or they were
   * dropped); `undefined` when none waits. Whoever asks for the actor's state
   * waits for it, so the state reflects every event already delivered to it.
   */
  handedOn(): Promise<void> | undefined {
    return this.waiting === 0 ? undefined : this.#handedOn;
  }

  /** Drops what waits (the actor stopped): the promises resolve, so their credits come back. */
  close(): void {
    this.#closed = true;
    const dropped = this.#waiting.slice(this.#next);
    this.#waiting = [];
    this.#next = 0;
    for (const { resolve } of dropped) resolve();
  }

  /** Hands an event to the actor and counts the time it took against the current run's slice. */
  #timed(event: BusEvent): void {
    const started = performance.now();
    try {
      this.#deliver(event);
    } finally {
      this.#spent += performance.now() - started;
      if (!this.#spentReset) {
        this.#spentReset = true;
        queueMicrotask(() => {
          this.#spentReset = false;
          this.#spent = 0;
        });
      }
    }
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    // setImmediate, not a microtask: control calls, timers and I/O of the thread run first.
    setImmediate(() => this.#turn());
  }

  /** A turn of the event loop: a fresh slice for the events that wait, at least one of them. */
  #turn(): void {
    this.#turnScheduled = false;
    this.#spent = 0;
    if (this.#closed || this.waiting === 0) return;
    do {
      const entry = this.#waiting[this.#next++]!;
      try {
        this.#timed(entry.event);
        entry.resolve();
      } catch (error) {
        entry.reject(error);
      }
    } while (this.waiting > 0 && this.#spent < ACTOR_SLICE_MS && !this.#closed);
    // What was handed on goes (at most the thread's credits remain, so the copy is small).
    if (this.#next > 0) {
      this.#waiting = this.#waiting.slice(this.#next);
      this.#next = 0;
    }
    if (this.waiting > 0) this.#scheduleTurn();
  }
}

function noop(): void {}
