/**
 * A thread's share of the runtime: its two buses (one per side), the
 * subscriptions that outlive bus generations, its clock and id sequence.
 */
import { MiddlewareFailedError, UnsupportedError, thrownText } from '../../errors.js';
import { SIDES, type BusEvent, type Side } from '../../types.js';
import { Bus } from '../bus/bus.js';
import { busControl } from '../bus/bus-control.js';
import type { BusThread } from '../bus/bus-thread.js';
import { DeliveredMark } from '../bus/delivered-mark.js';
import { HybridClock } from '../clock.js';
import type { ThreadHost } from '../station/links.js';
import { Subscriptions } from '../bus/subscriptions.js';
import { Pipeline } from '../bus/middleware.js';
import { BusMetrics } from '../metrics/bus-metrics.js';
import { UserActors, type ActorThread } from '../actors/user-actors.js';

/** `0` to `999`, and the same with leading zeros (`000` to `999`): the last digits of event ids. */
const DIGITS: readonly string[] = Array.from({ length: 1_000 }, (_, n) => String(n));
const PADDED_DIGITS: readonly string[] = DIGITS.map((digits) => digits.padStart(3, '0'));

/**
 * How many ids a thread gives: the whole thousands below 2^53, past which a
 * double no longer counts up by one (at a million posts a second, 285 years).
 */
export const MAX_SEQUENCE = Math.floor(Number.MAX_SAFE_INTEGER / 1_000) * 1_000;

/** The internal event that reports a throwing `after` middleware. */
const MIDDLEWARE_FAILED = 'busline.middleware.failed';

/**
 * One thread (a worker, or a processor's main thread). Not part of the public
 * API, but not stripped from the published types either: the declarations of
 * its users (`user-actors`, `thread-service`) refer to it.
 */
export class Thread implements BusThread<Bus>, ActorThread {
  readonly processor: number;
  readonly index: number;
  readonly host: ThreadHost;
  readonly clock: HybridClock;
  /** The users' own actors hosted in this thread. */
  readonly actors: UserActors;
  readonly #idPrefix: string;
  /** The prefix and the sequence's thousands, e.g. `0.0.12` for ids `0.0.12000` to `0.0.12999`. */
  #idThousands = '';
  #sequence = 0;
  readonly #buses: Record<Side, Bus>;
  readonly #subscriptions: Record<Side, Subscriptions>;
  readonly #pipelines: Record<Side, Pipeline>;
  /** What this side's subscribers have been delivered of each station's history (by the side read), so a later generation never redelivers it. */
  readonly #delivered: Record<Side, Record<Side, DeliveredMark>> = {
    internal: { internal: new DeliveredMark(), external: new DeliveredMark() },
    external: { internal: new DeliveredMark(), external: new DeliveredMark() },
  };
  /** This thread's deferred events parked at the stations, per side, as the stations last said (or handovers under way add). */
  readonly #parked: Record<Side, number> = { internal: 0, external: 0 };
  /** Bumped whenever `#parked` is set: a handover that fails undoes its own count only if nobody said more since. */
  readonly #parkedNotes: Record<Side, number> = { internal: 0, external: 0 };
  /** What `halt()` tells: calls that wait (waitFor, publish) and would otherwise wait for good. */
  readonly #onHalt = new Set<() => void>();
  #halted = false;

  /**
   * @param incarnation names a restarted thread (or a thread of a restarted
   * processor), e.g. `"2"`: its ids read `<processor>.<thread>.<incarnation>-<n>`,
   * so they never repeat a predecessor's. Empty for a first incarnation.
   */
  constructor(host: ThreadHost, processor: number, index: number, incarnation = '') {
    this.host = host;
    this.processor = processor;
    this.index = index;
    this.clock = new HybridClock(host.clock);
    this.#idPrefix = incarnation === '' ? `${processor}.${index}.` : `${processor}.${index}.${incarnation}-`;
    const onError = host.subscriberErrorHandler;
    this.#subscriptions = { internal: new Subscriptions(onError), external: new Subscriptions(onError) };
    const middleware = host.middleware ?? [];
    const middlewareFailed = (error: unknown, event: BusEvent) => this.#middlewareFailed(error, event);
    this.#pipelines = { internal: new Pipeline(middleware, middlewareFailed), external: new Pipeline(middleware, middlewareFailed) };
    for (const side of SIDES) {
      if (host.metrics !== undefined) this.#subscriptions[side].metrics = new BusMetrics(`${processor}.${index}`, side);
      this.#subscriptions[side].onSettled = () => busControl.subscribersSettled(this.#buses[side]);
      // Under the sync policy, where events leave stations once delivered: the new interest counts from the next read.
      if (host.maxBatch !== undefined && host.memory?.afterDelivery === true) {
        this.#subscriptions[side].onWidened = () => queueMicrotask(() => this.host.running && this.host.requestSync?.(side));
      }
    }
    this.#buses = { internal: this.#createBus('internal', 0), external: this.#createBus('external', 0) };
    this.actors = new UserActors(this);
  }

  #createBus(side: Side, generation: number): Bus {
    return new Bus(this, side, generation, (endpoint) => this.host.createBusActor(endpoint));
  }

  /** The thread's current bus of `side`. */
  bus(side: Side): Bus {
    return this.#buses[side];
  }

  /**
   * An `after` middleware threw: this thread's `onError` is told, and the
   * application too, by a `busline.middleware.failed` on this thread's
   * internal bus. In a worker `onError` reports to the root's (its function
   * cannot run there: `failure-reports.ts`); the event reaches the root with a
   * sync, as a crash report does.
   */
  #middlewareFailed(error: unknown, event: BusEvent): void {
    // Never about its own report: a middleware whose after() always throws would report forever.
    if (error instanceof MiddlewareFailedError && event.type !== MIDDLEWARE_FAILED) {
      const cause: unknown = error.cause;
      const payload = {
        type: event.type,
        id: event.id,
        middleware: error.middleware,
        message: thrownText(cause, false),
        processor: this.processor,
        thread: this.index,
      };
      try {
        this.bus('internal').post(MIDDLEWARE_FAILED, payload, { priority: 'immediate' });
      } catch {
        // The thread has halted, or a before() refused the report: onError is still told.
      }
    }
    this.host.subscriberErrorHandler(error, event);
  }

  /** Replaces `bus` with a new generation and returns it. */
  succeed(bus: Bus): Bus {
    const next = this.#createBus(bus.side, bus.generation + 1);
    this.#buses[bus.side] = next;
    return next;
  }

  /** How many ids `nextId()` has given: the last one's sequence is this minus one. */
  get issued(): number {
    return this.#sequence;
  }

  /** The id `nextId()` gives for `sequence`. */
  idOf(sequence: number): string {
    return this.#idPrefix + sequence;
  }

  /**
   * A fresh event id: `<processor>.<thread>.<sequence>`. Joined from two
   * strings made before (the prefix with the thousands, then the last three
   * digits from a table): converting the number at every post costs a
   * runtime call and a string more.
   */
  nextId(): string {
    const sequence = this.#sequence++;
    if (sequence < 1_000) return this.#idPrefix + DIGITS[sequence]!;
    const low = sequence % 1_000;
    // Sequences go up by one from 0: the thousands change exactly at a low of 0.
    if (low === 0) {
      // Checked here, once a thousand posts: past MAX_SEQUENCE a double would give two posts one sequence, and ids never repeat.
      if (sequence >= MAX_SEQUENCE) this.#outOfIds(sequence);
      this.#idThousands = this.#idPrefix + (sequence - low) / 1_000;
    }
    return this.#idThousands + PADDED_DIGITS[low]!;
  }

  /** Refuses the post that would take `sequence` (and every later one). Out of `nextId()`, which stays small enough to inline. */
  #outOfIds(sequence: number): never {
    this.#sequence = sequence;
    throw new UnsupportedError(
      `post() was refused: thread ${this.processor}.${this.index} has given all ${MAX_SEQUENCE} event ids it can, and an id ` +
        'is never given twice. Post from another thread, or start the runtime anew.',
    );
  }

  /** @internal For tests: the next id is `sequence`'s (a whole thousand), as if as many had been given. */
  startIdsAt(sequence: number): void {
    this.#sequence = sequence;
  }

  /** This thread's deferred events of `side` parked at the stations (not yet read back). */
  parked(side: Side): number {
    return this.#parked[side];
  }

  /** Records what a station said of this thread's parked events (ignored when it said nothing). */
  noteParked(side: Side, parked: number | undefined): void {
    if (parked === undefined) return;
    this.#parked[side] = parked;
    this.#parkedNotes[side]++;
  }

  /** How many times the parked count of `side` was set. */
  parkedNotes(side: Side): number {
    return this.#parkedNotes[side];
  }

  subscriptions(side: Side): Subscriptions {
    return this.#subscriptions[side];
  }

  pipeline(side: Side): Pipeline {
    return this.#pipelines[side];
  }

  /** What the subscribers of `side` have been delivered of the station of side `read`. */
  delivered(side: Side, read: Side): DeliveredMark {
    return this.#delivered[side][read];
  }

  /** The thread stops: its users' actors stop, its buses tell producers waiting for room, and every waiting call hears so. */
  halt(): void {
    this.#halted = true;
    for (const side of SIDES) busControl.halt(this.#buses[side]);
    const waiting = [...this.#onHalt];
    this.#onHalt.clear();
    for (const stopped of waiting) stopped();
    // Last (its services were released just above): an actor's timers (delayed transitions) would otherwise keep the process up.
    this.actors.stopAll();
  }

  /** Calls `stopped` when the thread halts (at once if it has); returns what forgets it. */
  whenHalted(stopped: () => void): () => void {
    if (this.#halted) {
      stopped();
      return () => undefined;
    }
    this.#onHalt.add(stopped);
    return () => void this.#onHalt.delete(stopped);
  }

  /** Removes every event of `remove` from this thread's `scope` bus. */
  clearSide(scope: Side, remove: Side): number {
    return busControl.clearSide(this.#buses[scope], remove);
  }

  assertRunning(call: string): void {
    this.host.assertRunning(call);
  }
}
