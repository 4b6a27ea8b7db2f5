/**
 * Services (seed 003's `BaseService`): a unit of an application with a
 * lifecycle, bound to one bus. What it acquires through its helpers — its
 * subscriptions, timers, waits and `defer()`ed cleanups — belongs to it and is
 * released when it stops or fails, whatever state it was in. The one
 * mechanism is an `AbortSignal` per start, aborted on stop: the helpers pass
 * it to `bus.subscribe`/`bus.waitFor`, and any other call that takes a
 * signal can be given `service.signal`.
 */
import { InvalidOptionError, ServiceFailedError } from '../../errors.js';
import type { Payload, Side } from '../../types.js';
import { Bus } from '../bus/bus.js';
import { busControl } from '../bus/bus-control.js';
import type { BusThread } from '../bus/bus-thread.js';
import type { SubscribeOptions, Subscription } from '../bus/subscriptions.js';
import type { AnyEvents, EventOf, PostPayload, ReplyOf, RequestOf, RequestTypeOf, SubscribedEvent, ValidPattern, ValidReplyPattern, ValidPatternList, ValidPatterns } from '../bus/typed-events.js';
import type { ReplyOptions, RequestOptions } from '../bus/request-reply.js';
import type { WaitForEventsOptions, WaitForOptions } from '../bus/wait-for.js';
import { startTimer, type Clock } from '../clock.js';
import { assertFunction, assertKnownKeys, describe } from '../validate.js';
import { registerService, unregisterService } from './registry.js';
import type { ServiceFailurePhase, ServiceStatus, ServiceStatusChange } from './service-types.js';

/** Options of a service's constructor. */
export interface ServiceOptions {
  /** The service's name, in its status events and errors; default the class's name. */
  readonly name?: string;
}

/** Receives a change of a service's status. */
export type ServiceStatusListener = (change: ServiceStatusChange) => void;

/** The longest timer Node can set (setTimeout's limit), in milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkMs(ms: unknown, option: string, min: number): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < min || ms > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, `expected milliseconds from ${min} to ${MAX_TIMER_MS}, got ${describe(ms)}.`);
  }
}

/** An aborted signal: what a service that has never started holds. */
function abortedSignal(): AbortSignal {
  const controller = new AbortController();
  controller.abort();
  return controller.signal;
}

/**
 * A service on a bus: extend it and implement `onStart()` (and `onStop()` if
 * it holds anything the helpers do not). `start()` and `stop()` are
 * idempotent and serialised: `start()` while starting or running resolves
 * with that start, `stop()` while stopping or stopped with that stop; a
 * `start()` during a stop starts again after it, a `stop()` during a start
 * stops after it.
 *
 * A start that throws or rejects, a handler (`this.subscribe`) or timer
 * (`this.every`, `this.after`) that throws or rejects, or a stop that fails
 * leaves the service `failed` with `service.error`, releases everything it
 * owns, and posts `busline.service.failed` on the internal bus of its thread;
 * every status change posts `busline.service.status` there. `start()` (or
 * `stop()`) that fails rejects with `ServiceFailedError` (`SERVICE_FAILED`),
 * the thrown error as its `cause`.
 *
 * A service runs in the thread of its bus: any thread where your code holds a
 * `Bus` (the root, an embedded processor's thread). When the runtime stops,
 * its running services are stopped first, the last started first.
 *
 * @example
 * class Greeter extends Service {
 *   protected onStart() {
 *     this.subscribe('user.login', (event) => this.bus.post('user.greeted', { id: event.payload.id }))
 *     this.every(60_000, () => this.bus.post('greeter.alive', {}))
 *   }
 * }
 * const greeter = new Greeter(runtime.bus('external'))
 * await greeter.start()
 * await greeter.stop()   // its subscription and timer are gone
 */
export abstract class Service<E = AnyEvents> {
  /** The service's name. */
  readonly name: string;
  readonly #thread: BusThread<object>;
  readonly #side: Side;
  #status: ServiceStatus = 'stopped';
  #error: unknown;
  #controller: AbortController | undefined;
  #signal: AbortSignal = abortedSignal();
  /** Cleanups of the current start, run last first. */
  #cleanups: Array<() => unknown> = [];
  /** A failure reported while starting, taken up when `onStart()` returns. */
  #startFailure: { error: unknown; phase: ServiceFailurePhase } | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #listeners = new Set<ServiceStatusListener>();

  constructor(bus: Bus<E>, options?: ServiceOptions) {
    if (!(bus instanceof Bus)) {
      // A RemoteBus is a bus of another thread: the service must run there (runtime.spawn of its module).
      throw new InvalidOptionError('service bus', `expected a Bus of this thread (runtime.bus(side)), got ${describe(bus)}; to run a service in another thread, spawn its module there.`);
    }
    assertKnownKeys(options, ['name'], 'service options');
    const name = options?.name ?? new.target.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidOptionError('service options.name', `expected a non-empty string, got ${describe(name)}.`);
    }
    this.name = name;
    this.#thread = busControl.thread(bus);
    this.#side = bus.side;
  }

  /** Called by `start()`: subscribe, start timers, acquire. A throw or rejection fails the start. */
  protected abstract onStart(): void | Promise<void>;

  /**
   * Called by `stop()` while the service still owns everything (it may still
   * post, or wait with `this.signal`); what the helpers acquired is released
   * after it. Nothing by default.
   */
  protected onStop(): void | Promise<void> {}

  /** The thread's current bus of the service's side (after a `toStation()`, the next generation). */
  get bus(): Bus<E> {
    return this.#thread.bus(this.#side) as Bus<E>;
  }

  /** Where the service is in its life. */
  get status(): ServiceStatus {
    return this.#status;
  }

  /** What made the service fail (status `failed`); undefined otherwise. */
  get error(): unknown {
    return this.#error;
  }

  /**
   * Aborts when the service stops or fails: pass it to any call that takes a
   * signal (a `bus.room()`, a `fetch`) to make the service own it. A new
   * signal per start; aborted while the service is not running.
   */
  get signal(): AbortSignal {
    return this.#signal;
  }

  /**
   * Calls `listener` at each change of status, after the change; returns what
   * stops it. A listener that throws is logged and ignored.
   *
   * @example
   * service.onStatus(({ status, error }) => console.log(status, error ?? ''))
   */
  onStatus(listener: ServiceStatusListener): () => void {
    assertFunction(listener, 'onStatus listener');
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Starts the service: `starting`, then `onStart()`, then `running`. A start
   * that fails rejects with `ServiceFailedError` (the thrown error as its
   * `cause`; status `failed`, what it had acquired released).
   */
  start(): Promise<void> {
    switch (this.#status) {
      case 'running':
        return Promise.resolve();
      case 'starting':
        return this.#starting!;
      case 'stopping':
        return this.#stopping!.then(
          () => this.start(),
          () => this.start(),
        );
      default:
        try {
          this.#thread.assertRunning('service start');
        } catch (error) {
          return Promise.reject(error);
        }
        return (this.#starting = this.#start());
    }
  }

  /**
   * Stops the service: `stopping`, then `onStop()`, then releases what it
   * owns, then `stopped`. An `onStop()` that fails rejects with
   * `ServiceFailedError` (status `failed`; everything is released anyway).
   * A failed service becomes `stopped`.
   */
  stop(): Promise<void> {
    switch (this.#status) {
      case 'stopped':
        return this.#stopping ?? Promise.resolve();
      case 'stopping':
        return this.#stopping!;
      case 'starting':
        return this.#starting!.then(
          () => this.stop(),
          () => this.stop(),
        );
      case 'failed':
        this.#error = undefined;
        this.#set('stopped');
        return Promise.resolve();
      default:
        return (this.#stopping = this.#stop());
    }
  }

  async #start(): Promise<void> {
    this.#controller = new AbortController();
    this.#signal = this.#controller.signal;
    this.#cleanups = [];
    this.#startFailure = undefined;
    this.#error = undefined;
    this.#stopping = undefined;
    // A runtime (or thread) that stops takes its services with it, even those nobody stops.
    this.#cleanups.push(this.#thread.whenHalted(() => this.#halted()));
    this.#set('starting');
    let failure = undefined as { error: unknown; phase: ServiceFailurePhase } | undefined;
    try {
      await this.onStart();
    } catch (error) {
      failure = { error, phase: 'start' };
    }
    // A handler or timer that failed during the start fails it, even though onStart() returned.
    failure ??= this.#startFailure;
    if (this.#status !== 'starting') {
      // The thread halted meanwhile: the service is stopped already.
      if (failure !== undefined) throw new ServiceFailedError(this.name, failure.phase, failure.error);
      return;
    }
    if (failure !== undefined) {
      this.#fail(failure.error, failure.phase, true);
      throw new ServiceFailedError(this.name, failure.phase, failure.error);
    }
    registerService(this.#thread, this);
    this.#set('running');
  }

  async #stop(): Promise<void> {
    this.#set('stopping');
    let failed = false;
    let error: unknown;
    try {
      await this.onStop();
    } catch (thrown) {
      failed = true;
      error = thrown;
    }
    if (this.#status !== 'stopping') return; // halted meanwhile
    if (failed) {
      this.#fail(error, 'stop');
      throw new ServiceFailedError(this.name, 'stop', error);
    }
    this.#release();
    this.#set('stopped');
  }

  /** The thread halts: release at once; nothing can be posted any more. */
  #halted(): void {
    if (this.#status === 'stopped' || this.#status === 'failed') return;
    this.#release();
    this.#set('stopped');
  }

  /** Reports a failure: while starting, the start fails when `onStart()` returns; while running, the service fails now. */
  #fail(error: unknown, phase: ServiceFailurePhase, startReturned = false): void {
    if (this.#status === 'starting' && !startReturned) {
      this.#startFailure ??= { error, phase };
      return;
    }
    this.#report('busline.service.failed', { name: this.name, phase, message: error instanceof Error ? error.message : String(error) });
    if (this.#status === 'failed' || this.#status === 'stopped') return;
    if (this.#status === 'stopping' && phase !== 'stop') return; // it is being released anyway
    this.#release();
    this.#error = error;
    this.#set('failed', error);
  }

  /** Aborts the signal (subscriptions, timers and waits end) and runs the cleanups, last first. */
  #release(): void {
    unregisterService(this.#thread, this);
    this.#controller?.abort(new Error(`service ${this.name} stopped`));
    const cleanups = this.#cleanups.reverse();
    this.#cleanups = [];
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch (error) {
        console.error(`[busline] a cleanup of service "${this.name}" threw`, error);
      }
    }
  }

  #set(status: ServiceStatus, error?: unknown): void {
    const previous = this.#status;
    this.#status = status;
    this.#report('busline.service.status', { name: this.name, status, previous });
    const change: ServiceStatusChange = error === undefined ? { name: this.name, status, previous } : { name: this.name, status, previous, error };
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (thrown) {
        console.error(`[busline] a status listener of service "${this.name}" threw`, thrown);
      }
    }
  }

  #report(type: 'busline.service.status' | 'busline.service.failed', payload: Record<string, string>): void {
    try {
      const internal = this.#thread.bus('internal') as Bus;
      internal.post(type, { ...payload, processor: this.#thread.processor, thread: this.#thread.index }, { priority: 'immediate' });
    } catch {
      // The thread has halted (the runtime stops): the status still changes, unannounced.
    }
  }

  /** The clock of the service's runtime: timers run on it, so a `ManualClock` drives them in tests. */
  get #clock(): Clock {
    return this.#thread.host.clock;
  }

  /**
   * `bus.subscribe()` owned by the service: it ends when the service stops.
   * A handler that throws or rejects fails the service, unless `onError` is
   * given (then that gets the error, and the service runs on). A `signal`
   * given ends it earlier.
   */
  protected subscribe<P = never, const T extends string | readonly string[] = string | readonly string[]>(
    types: T & ValidPatterns<E, T>,
    handler: (event: SubscribedEvent<E, T, P>) => unknown,
    options?: SubscribeOptions<SubscribedEvent<E, T, P>>,
  ): Subscription {
    const onError = options?.onError ?? ((error: unknown) => this.#fail(error, 'handler'));
    return this.bus.subscribe(types, handler, { ...options, onError, signal: this.#own(options?.signal, 'subscribe options.signal') });
  }

  /** `bus.waitFor()` owned by the service: it rejects with `AbortedError` when the service stops. */
  protected waitFor<const T extends string>(type: T & ValidPattern<E, T>, options?: WaitForOptions<EventOf<E, T>>): Promise<EventOf<E, T>> {
    return this.bus.waitFor(type, { ...options, signal: this.#own(options?.signal, 'waitFor options.signal') });
  }

  /** `bus.waitForEvents()` owned by the service: it rejects with `AbortedError` when the service stops. */
  protected waitForEvents<const T extends readonly string[]>(
    types: T & ValidPatternList<E, T>,
    options?: WaitForEventsOptions,
  ): Promise<{ -readonly [I in keyof T]: EventOf<E, T[I] & string> }> {
    return this.bus.waitForEvents<T>(types, { ...options, signal: this.#own(options?.signal, 'waitForEvents options.signal') });
  }

  /** `bus.request()` owned by the service: it rejects with `AbortedError` when the service stops. */
  protected request<R = never, K extends RequestTypeOf<E> = RequestTypeOf<E>, P = Payload>(
    type: K,
    payload: PostPayload<E, K, P>,
    options?: RequestOptions,
  ): Promise<[R] extends [never] ? ReplyOf<E, K> : R> {
    return this.bus.request<R, K, P>(type, payload, { ...options, signal: this.#own(options?.signal, 'request options.signal') });
  }

  /** `bus.reply()` owned by the service: it answers until the service stops. */
  protected reply<const T extends string>(
    type: T & ValidReplyPattern<E, T>,
    handler: (request: RequestOf<E, T>) => ReplyOf<E, T> | PromiseLike<ReplyOf<E, T>>,
    options?: ReplyOptions<EventOf<E, T>>,
  ): Subscription {
    return this.bus.reply(type, handler, { ...options, signal: this.#own(options?.signal, 'reply options.signal') });
  }

  /** The service's signal, or it and `signal` together. */
  #own(signal: AbortSignal | undefined, option: string): AbortSignal {
    if (signal === undefined) return this.#signal;
    if (!(signal instanceof AbortSignal)) throw new InvalidOptionError(option, 'expected an AbortSignal.');
    return AbortSignal.any([this.#signal, signal]);
  }

  /**
   * Calls `fn` every `ms` milliseconds (at least 1) of the runtime's clock
   * until the service stops, or the returned function is called. A call that
   * throws or rejects fails the service.
   */
  protected every(ms: number, fn: () => unknown): () => void {
    checkMs(ms, 'every ms', 1);
    assertFunction(fn, 'every fn');
    return this.#timer(ms, fn, true);
  }

  /** Calls `fn` once after `ms` milliseconds of the runtime's clock, unless the service stops first or the returned function is called. */
  protected after(ms: number, fn: () => unknown): () => void {
    checkMs(ms, 'after ms', 0);
    assertFunction(fn, 'after fn');
    return this.#timer(ms, fn, false);
  }

  #timer(ms: number, fn: () => unknown, repeat: boolean): () => void {
    const signal = this.#signal;
    if (signal.aborted) return () => undefined;
    const clock = this.#clock;
    let cancelTimer: (() => void) | undefined;
    const cancel = () => {
      cancelTimer?.();
      cancelTimer = undefined;
      signal.removeEventListener('abort', cancel);
    };
    // Due times, not "ms from now": a late tick (or a ManualClock advanced past several) does not push the next ones back.
    let due = clock.now() + ms;
    const tick = () => {
      if (repeat) {
        due += ms;
        cancelTimer = startTimer(clock, Math.max(0, due - clock.now()), tick);
      } else {
        cancelTimer = undefined;
        signal.removeEventListener('abort', cancel);
      }
      try {
        const result = fn();
        if (result instanceof Promise) result.catch((error: unknown) => this.#fail(error, 'timer'));
      } catch (error) {
        this.#fail(error, 'timer');
      }
    };
    cancelTimer = startTimer(clock, ms, tick);
    signal.addEventListener('abort', cancel, { once: true });
    return cancel;
  }

  /**
   * Runs `cleanup` when the service stops or fails (cleanups run last
   * first): for what the service acquires that the helpers do not own. Given
   * while the service is not starting or running, it runs at once.
   */
  protected defer(cleanup: () => unknown): void {
    assertFunction(cleanup, 'defer cleanup');
    if (this.#signal.aborted) cleanup();
    else this.#cleanups.push(cleanup);
  }
}
