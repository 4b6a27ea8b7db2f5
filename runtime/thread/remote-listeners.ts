/**
 * The thread's half of `RemoteBus.subscribe()` and `RemoteBus.publish()`.
 *
 * Subscribing: listeners that callers in
 * other threads poll. A listener is an `async` subscriber of the thread's
 * side whose promise for an event settles only when the caller says its
 * handler has finished with it (`take`'s and `ack`'s `settled`), with the
 * handler's outcome: its error always (the promise rejects with it, so a
 * `publish()` here counts it; the caller has reported it already), its value
 * only for the events `take` says are awaited (`awaited`: a `publish()` or
 * `after` middleware watches their delivery), so a handler's return value is
 * copied across only when someone will read it. So it holds
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
import { FILTERED_OUT } from '../bus/outcomes.js';
import type { Dropped, Published } from '../bus/bus-awaits.js';
import { fromPortableError, toPortableOutcome, type PortableOutcome } from '../wire/portable-outcome.js';
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
  /** The numbers of those whose delivery is awaited here: their handler's value is wanted back. Absent: none. */
  readonly awaited?: readonly number[];
}

/**
 * An event a caller's handler has finished with: its number alone when the
 * handler returned nothing to tell (or its value is not awaited), else with
 * its outcome; or `filtered` when the caller's filter turned it away or
 * threw (the handler never ran: no delivery in the metrics, as for a local
 * filter; no outcome, or the filter's error).
 */
export type SettledEvent =
  | number
  | { readonly n: number; readonly outcome: PortableOutcome }
  | { readonly n: number; readonly filtered: true; readonly outcome?: PortableOutcome & { readonly status: 'rejected' } };

/** How the caller settled one event (see `SettledEvent`): undefined when it only gave its number. */
type Settlement = { readonly outcome?: PortableOutcome; readonly filtered?: true } | undefined;

interface Listener {
  readonly subscription: Subscription;
  /** Events delivered here, not yet taken. */
  buffer: BusEvent[];
  /** The number of `buffer[0]`. */
  first: number;
  /** The promise of each event not yet settled by the caller, by number: each holds a credit. */
  readonly unsettled: Map<number, (outcome?: Settlement) => void>;
  /** Numbers of buffered events whose delivery is awaited here. */
  awaited: number[];
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
    const subscriptions = this.#thread.subscriptions(side);
    const handler = async (event: BusEvent): Promise<unknown> => {
      const listener = this.#listeners.get(id);
      if (listener === undefined) return undefined;
      const number = next++;
      listener.buffer.push(event);
      // Read before the first await: true only while this event's delivery is the one watched.
      if (subscriptions.watching) listener.awaited.push(number);
      listener.wake?.();
      const outcome = await new Promise<Settlement>((settled) => listener.unsettled.set(number, settled));
      if (outcome === undefined) return undefined;
      // Counted as delivered when the listener got it; the caller's filter says its handler never ran.
      if (outcome.filtered === true) subscriptions.metrics?.filteredOut(event.type);
      if (outcome.outcome === undefined) return outcome.filtered === true ? FILTERED_OUT : undefined;
      if (outcome.outcome.status === 'rejected') throw fromPortableError(outcome.outcome.reason);
      return outcome.outcome.value;
    };
    // The caller's onError has reported a failure already: here it only counts (metrics, a publish()'s outcomes).
    const options = topics === undefined ? { onError: ignoreError } : { topics, onError: ignoreError };
    const subscription = this.#thread.bus(side).subscribe(types as never, handler as never, options);
    this.#listeners.set(id, { subscription, buffer: [], first: 0, unsettled: new Map(), awaited: [], wake: undefined, polled: this.#clock.now() });
    if (this.#sweep === undefined) this.#armSweep();
    return id;
  }

  /**
   * Settles the events numbered `settled` (their credits come back), then
   * hands over what waits, waiting up to `waitMs` for something. Null: no
   * such listener (dropped, or this is a new incarnation of the thread).
   */
  async take(id: string, waitMs: number, settled: readonly SettledEvent[]): Promise<Taken | null> {
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
    const taken: Taken = listener.awaited.length === 0 ? { events: listener.buffer, first: listener.first } : { events: listener.buffer, first: listener.first, awaited: listener.awaited };
    listener.first += listener.buffer.length;
    listener.buffer = [];
    if (listener.awaited.length > 0) listener.awaited = [];
    listener.polled = this.#clock.now();
    return taken;
  }

  /** Settles the events `settled` names, each with its outcome if given; false when there is no such listener. */
  ack(id: string, settled: readonly SettledEvent[]): boolean {
    if (!Array.isArray(settled) || !settled.every(isSettledEvent)) {
      throw new InvalidOptionError('take settled', `expected an array of event numbers or { n, outcome }, got ${describe(settled)}.`);
    }
    const listener = this.#listeners.get(typeof id === 'string' ? id : '');
    if (listener === undefined) return false;
    for (const entry of settled) {
      const number = typeof entry === 'number' ? entry : entry.n;
      listener.unsettled.get(number)?.(typeof entry === 'number' ? undefined : entry);
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

/** What `published` answers once the handlers have finished, or once a `before` middleware has dropped the post. */
export type PortablePublished =
  | { readonly event: BusEvent; readonly outcomes: readonly PortableOutcome[]; readonly failed: number }
  | { readonly dropped: string; readonly middleware: string };

const ignoreError = (): void => undefined;

function isSettledEvent(entry: unknown): entry is SettledEvent {
  if (typeof entry === 'number') return true;
  if (typeof entry !== 'object' || entry === null) return false;
  const { n, outcome, filtered } = entry as { n?: unknown; outcome?: { status?: unknown }; filtered?: unknown };
  if (typeof n !== 'number' || (filtered !== undefined && filtered !== true)) return false;
  if (outcome === undefined) return filtered === true;
  if (typeof outcome !== 'object' || outcome === null) return false;
  // A filter that threw has an error, never a value.
  return outcome.status === 'rejected' || (outcome.status === 'fulfilled' && filtered === undefined);
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
  start(running: Promise<Published | Dropped>): string {
    const ticket = randomUUID();
    const entry: Ticket = {
      answer: undefined,
      polled: Date.now(),
      done: running.then(
        (done) => {
          entry.answer =
            done.dropped !== undefined
              ? { ok: true, value: { dropped: done.dropped, middleware: done.middleware } }
              : { ok: true, value: { event: done.event, outcomes: done.outcomes.map(toPortableOutcome), failed: done.failed } };
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
