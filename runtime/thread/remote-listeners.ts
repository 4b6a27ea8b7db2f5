/**
 * The thread's half of `RemoteBus.subscribe()` and `RemoteBus.publish()`.
 *
 * Subscribing: listeners that callers in
 * other threads poll. A listener is an `async` subscriber of the thread's
 * side whose promise for an event settles only when the caller says its
 * handler has finished with it (`take`'s and `ack`'s `settled`). So it holds
 * the thread's credits (`sync.maxInFlight`) exactly as a slow local async
 * subscriber does: under the sync policy, what waits here or in the caller is
 * bounded by them, and a slow remote handler holds the station's producers
 * back instead of growing memory. A listener nobody has polled for
 * `LISTENER_LEASE_MS` is dropped (its caller went away), which gives its
 * credits back.
 *
 * Publishing: `bus.publish()` runs here; its caller polls for the outcome
 * (`published`), as it polls a listener, so no control call waits longer
 * than a step however slow the handlers are.
 */
import { randomUUID } from 'node:crypto';
import { InvalidOptionError, WorkerCrashedError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import type { Subscription } from '../bus/subscriptions.js';
import type { Published } from '../bus/bus-awaits.js';
import { assertTypeList, describe } from '../validate.js';
import type { Thread } from './thread.js';
import { startTimer, systemClock, type Clock } from '../clock.js';

/** A listener not polled for this long is dropped: its caller is gone. Many times `take`'s longest wait. */
export const LISTENER_LEASE_MS = 10_000;

/** The longest a `take` may wait in the thread: a longer control call would look like a hung thread. */
const MAX_TAKE_WAIT_MS = 1_000;

/** What `take` hands a caller: events, numbered from `first` on (the numbers its `settled` names). */
export interface Taken {
  readonly events: readonly BusEvent[];
  readonly first: number;
}

interface Listener {
  readonly subscription: Subscription;
  /** Events delivered here, not yet taken. */
  buffer: BusEvent[];
  /** The number of `buffer[0]`. */
  first: number;
  /** The promise of each event not yet settled by the caller, by number: each holds a credit. */
  readonly unsettled: Map<number, () => void>;
  /** The take waiting for events, if any. */
  wake: (() => void) | undefined;
  polled: number;
}

/** One thread's listeners, by id. */
export class RemoteListeners {
  readonly #thread: Thread;
  readonly #listeners = new Map<string, Listener>();
  readonly #clock: Clock;
  /** Cancels the next sweep for idle listeners, while there are listeners. */
  #sweep: (() => void) | undefined;

  /** `clock` times the lease (a thread's is the system clock; tests pass a ManualClock). */
  constructor(thread: Thread, clock: Clock = systemClock) {
    this.#thread = thread;
    this.#clock = clock;
  }

  /** Listens to `types` (types or patterns) of `side`, only `topics` if given; returns the listener's id. */
  listen(side: Side, types: readonly string[], topics?: readonly string[]): string {
    assertTypeList(types, 'listen types');
    if (topics !== undefined && (!Array.isArray(topics) || topics.some((topic) => typeof topic !== 'string'))) {
      throw new InvalidOptionError('subscribe options.topics', 'expected an array of topic strings.');
    }
    const id = randomUUID();
    let next = 0;
    // An `async` function: counted as an async subscriber from the first event on (its reads are limited for it).
    const handler = async (event: BusEvent): Promise<void> => {
      const listener = this.#listeners.get(id);
      if (listener === undefined) return;
      const number = next++;
      listener.buffer.push(event);
      listener.wake?.();
      await new Promise<void>((settled) => listener.unsettled.set(number, settled));
    };
    const subscription = this.#thread.bus(side).subscribe(types as never, handler as never, topics === undefined ? undefined : { topics });
    this.#listeners.set(id, { subscription, buffer: [], first: 0, unsettled: new Map(), wake: undefined, polled: this.#clock.now() });
    if (this.#sweep === undefined) this.#armSweep();
    return id;
  }

  /**
   * Settles the events numbered `settled` (their credits come back), then
   * hands over what waits, waiting up to `waitMs` for something. Null: no
   * such listener (dropped, or this is a new incarnation of the thread).
   */
  async take(id: string, waitMs: number, settled: readonly number[]): Promise<Taken | null> {
    if (typeof waitMs !== 'number' || !(waitMs >= 0) || waitMs > MAX_TAKE_WAIT_MS) {
      throw new InvalidOptionError('take waitMs', `expected milliseconds from 0 to ${MAX_TAKE_WAIT_MS}, got ${describe(waitMs)}.`);
    }
    if (!this.ack(id, settled)) return null;
    const listener = this.#listeners.get(id)!;
    listener.polled = this.#clock.now();
    if (listener.buffer.length === 0 && waitMs > 0) {
      // One take waits at a time: a newer one ends the older, empty-handed.
      listener.wake?.();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => wake(), waitMs);
        const wake = () => {
          clearTimeout(timer);
          if (listener.wake === wake) listener.wake = undefined;
          resolve();
        };
        listener.wake = wake;
      });
    }
    if (this.#listeners.get(id) !== listener) return null;
    const taken = { events: listener.buffer, first: listener.first };
    listener.first += listener.buffer.length;
    listener.buffer = [];
    listener.polled = this.#clock.now();
    return taken;
  }

  /** Settles the events numbered `settled`; false when there is no such listener. */
  ack(id: string, settled: readonly number[]): boolean {
    if (!Array.isArray(settled) || settled.some((n) => typeof n !== 'number')) {
      throw new InvalidOptionError('take settled', `expected an array of event numbers, got ${describe(settled)}.`);
    }
    const listener = this.#listeners.get(typeof id === 'string' ? id : '');
    if (listener === undefined) return false;
    for (const number of settled) {
      listener.unsettled.get(number)?.();
      listener.unsettled.delete(number);
    }
    return true;
  }

  /** Ends a listener: its subscription, what it held (credits come back), a take waiting on it. */
  unlisten(id: string): void {
    const listener = this.#listeners.get(id);
    if (listener === undefined) return;
    this.#listeners.delete(id);
    listener.subscription.unsubscribe();
    for (const settle of listener.unsettled.values()) settle();
    listener.unsettled.clear();
    listener.buffer = [];
    listener.wake?.();
    if (this.#listeners.size === 0) {
      this.#sweep?.();
      this.#sweep = undefined;
    }
  }

  /** How many listeners there are. */
  get size(): number {
    return this.#listeners.size;
  }

  /** The thread stops: every listener ends. */
  close(): void {
    for (const id of [...this.#listeners.keys()]) this.unlisten(id);
  }

  #armSweep(): void {
    this.#sweep = startTimer(this.#clock, LISTENER_LEASE_MS, () => {
      this.#sweep = undefined;
      const now = this.#clock.now();
      for (const [id, listener] of this.#listeners) {
        // A take waiting right now is a caller that is there.
        if (listener.wake === undefined && now - listener.polled >= LISTENER_LEASE_MS) this.unlisten(id);
      }
      if (this.#listeners.size > 0 && this.#sweep === undefined) this.#armSweep();
    });
  }
}

/** A handler's outcome as it crosses threads: a value that can be copied, or the error's name, message and code. */
export type PortableOutcome =
  | { readonly status: 'fulfilled'; readonly value: unknown }
  | { readonly status: 'rejected'; readonly reason: { readonly name: string; readonly message: string; readonly code?: string } };

/** What `published` answers once the handlers have finished. */
export interface PortablePublished {
  readonly event: BusEvent;
  readonly outcomes: readonly PortableOutcome[];
  readonly failed: number;
}

/** A value copied as structured clone copies it, or `undefined` when it cannot be (a function, a socket, ...). */
function portableValue(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return undefined;
  }
}

function portableReason(reason: unknown): { name: string; message: string; code?: string } {
  if (!(reason instanceof Error)) return { name: 'Error', message: String(reason) };
  const code = (reason as { code?: unknown }).code;
  return { name: reason.name, message: reason.message, ...(typeof code === 'string' ? { code } : {}) };
}

interface Ticket {
  readonly done: Promise<void>;
  answer: { ok: true; value: PortablePublished } | { ok: false; error: unknown } | undefined;
  polled: number;
}

/** Publishes under way in this thread, by ticket, until their callers have collected the outcome. */
export class RemotePublishes {
  readonly #tickets = new Map<string, Ticket>();

  /** Keeps `running` (a `bus.publish()`) under a new ticket. */
  start(running: Promise<Published>): string {
    const ticket = randomUUID();
    const entry: Ticket = {
      answer: undefined,
      polled: Date.now(),
      done: running.then(
        ({ event, outcomes, failed }) => {
          const portable = outcomes.map((outcome): PortableOutcome =>
            outcome.status === 'fulfilled' ? { status: 'fulfilled', value: portableValue(outcome.value) } : { status: 'rejected', reason: portableReason(outcome.reason) },
          );
          entry.answer = { ok: true, value: { event, outcomes: portable, failed } };
        },
        (error: unknown) => void (entry.answer = { ok: false, error }),
      ),
    };
    this.#tickets.set(ticket, entry);
    // Tickets whose callers went away are dropped, as listeners are.
    const now = Date.now();
    for (const [other, { polled }] of this.#tickets) if (now - polled > LISTENER_LEASE_MS) this.#tickets.delete(other);
    return ticket;
  }

  /**
   * The outcome of the publish `ticket`, waiting up to `waitMs` for it:
   * undefined while its handlers run; throws what the publish threw.
   */
  async published(ticket: string, waitMs: number): Promise<PortablePublished | undefined> {
    if (typeof waitMs !== 'number' || !(waitMs >= 0) || waitMs > MAX_TAKE_WAIT_MS) {
      throw new InvalidOptionError('published waitMs', `expected milliseconds from 0 to ${MAX_TAKE_WAIT_MS}, got ${describe(waitMs)}.`);
    }
    const entry = this.#tickets.get(typeof ticket === 'string' ? ticket : '');
    // From its own caller, an unknown ticket means this is a new incarnation of the thread: the publish died with the old one.
    if (entry === undefined) throw new WorkerCrashedError('publish() lost its thread: the thread restarted, or the publish was collected or given up.');
    entry.polled = Date.now();
    if (entry.answer === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([entry.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    const answer = entry.answer;
    if (answer === undefined) return undefined;
    this.#tickets.delete(ticket);
    if (!answer.ok) throw answer.error;
    return answer.value;
  }
}
