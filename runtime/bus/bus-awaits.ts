/**
 * The calls of a bus that await something: `publish()` (a post whose promise
 * settles when this thread's handlers have), `waitFor()`,
 * `waitForEvents()`, and `request()` with its counterpart `reply()`
 * (`request-reply.ts`); and those of its thread's side that a bus only
 * passes on: `use()` (middleware) and `stats()`. They are built on `post()`,
 * `subscribe()` and the thread's parts alone, so they live here rather than
 * in `bus.ts`; `Bus` extends this class and hands it its parts (`provideBusParts`).
 */
import { BusRetiredError, RuntimeStoppedError, isBusError, type EventDroppedError } from '../../errors.js';
import type { BusEvent, Payload } from '../../types.js';
import type { Clock } from '../clock.js';
import type { Depths } from '../metrics/bus-metrics.js';
import type { BusStats } from '../metrics/stats.js';
import type { PayloadSchemas } from '../payload/payload-schemas.js';
import type { PostOptions, PostOptionsArg } from './bus-options.js';
import type { Middleware, Pipeline } from './middleware.js';
import { collectOutcomes, failures } from './outcomes.js';
import type { DeliveryWatch, SubscribeOptions, Subscription, Subscriptions } from './subscriptions.js';
import type { EventOf, EventTypeOf, PostedEvent, PostPayload, ReplyOf, RequestOf, RequestTypeOf, SubscribedEvent, ValidPattern, ValidReplyPattern, ValidPatternList, ValidPatterns } from './typed-events.js';
import { waitForEvent, waitForEvents, type WaitForEventsOptions, type WaitForOptions, type WaitSource } from './wait-for.js';
import { answerRequests, REPLY_TYPE, replyOptions, sendRequest, type ReplyOptions, type RequestOptions, type RequestSource } from './request-reply.js';

/** What `bus.publish()` resolves with. */
export interface Published<Ev = BusEvent> {
  /** The event, as `post()` returns it. */
  readonly event: Ev;
  /**
   * One entry per handler of this thread the event was delivered to, in
   * subscription order: `{ status: 'fulfilled', value }` with what it
   * returned (its promise's value), or `{ status: 'rejected', reason }` with
   * what it threw (its promise's rejection; also reported to `onError`).
   * Handlers that returned nothing share one frozen outcome object.
   */
  readonly outcomes: ReadonlyArray<PromiseSettledResult<unknown>>;
  /** How many handlers failed. */
  readonly failed: number;
  /** Set only when a `before` middleware dropped the post (see `Dropped`). */
  readonly dropped?: undefined;
  readonly middleware?: undefined;
}

/** What `bus.publish()` resolves with when a `before` middleware dropped the post: nothing was posted. */
export interface Dropped {
  /** The reason the middleware gave. */
  readonly dropped: string;
  /** The middleware's `name` (or `#<position>`). */
  readonly middleware: string;
  readonly event?: undefined;
  readonly outcomes: readonly [];
  readonly failed: 0;
}

/** What a bus hands the calls of this module. */
interface BusParts {
  readonly clock: Clock;
  /** The payload schemas of the bus's JS thread, if any. */
  readonly schemas: PayloadSchemas | undefined;
  subscriptions(): Subscriptions;
  /** Calls `stopped` when the bus's thread halts (the runtime or the thread stops); returns what forgets it. */
  whenHalted(stopped: () => void): () => void;
  /** The middleware of the bus's thread's side. */
  readonly pipeline: Pipeline;
  retired(): boolean;
  /** Throws `RuntimeStoppedError` naming `call` once the runtime has stopped. */
  assertRunning(call: string): void;
  /** The bus's own depths (`stats()` adds the subscribers' in-flight promises). */
  depths(): Omit<Depths, 'inFlight'>;
  /** The thread's current bus of this side: replies go there, whichever generation `reply()` was called on. */
  current(): { post(type: never, payload: never, options?: PostOptions): unknown };
}

const partsOf = new WeakMap<object, BusParts>();

/** @internal Called by `Bus`'s constructor, with some of the parts at a time. */
export function provideBusParts(bus: object, parts: Partial<BusParts>): void {
  partsOf.set(bus, { ...partsOf.get(bus), ...parts } as BusParts);
}

/**
 * A bus's awaiting calls. Not created on its own: `Bus` extends it.
 */
export abstract class AwaitableBus<E> {
  abstract post<K extends keyof E & string, P, O extends PostOptions = PostOptions>(type: K, payload: PostPayload<E, K, P>, options?: PostOptionsArg<O>): PostedEvent<E, K, P>;

  abstract subscribe<P = never, const T extends string | readonly string[] = string | readonly string[]>(
    types: T & ValidPatterns<E, T>,
    handler: (event: SubscribedEvent<E, T, P>) => unknown,
    options?: SubscribeOptions<SubscribedEvent<E, T, P>>,
  ): Subscription;

  /**
   * Posts as `post()` does, and resolves once every handler of **this
   * thread** that the event is delivered to has finished (an async handler's
   * promise has settled), with their outcomes. It waits for the delivery the
   * priority sets: `immediate` at once, `normal` in the next microtask,
   * `deferred` until `drain()` delivers it. It does **not** wait for other
   * threads or processes: they get the event when a sync carries it there
   * (`toStation()`, `sync()` or the sync policy). Handler errors are in the
   * outcomes and still go to `onError`; the promise rejects only when the
   * post is refused (as `post()` would throw), or with `RuntimeStoppedError`
   * when the runtime (or the thread) stops first. A post that a `before`
   * middleware drops resolves with `{ dropped: reason, middleware }` (where
   * `post()` throws `EventDroppedError`); with `after` middleware, it
   * resolves once they have run. A payload schema of the type runs first
   * and may be async (`post()` refuses async schemas): the event is posted
   * once it has resolved.
   *
   * @example
   * const published = await bus.publish('user.login', { id: 7 })
   * if (published.dropped !== undefined) console.log('dropped:', published.dropped)
   * else if (published.failed > 0) console.error(published.outcomes)
   */
  async publish<K extends keyof E & string, P, O extends PostOptions = PostOptions>(
    type: K,
    payload: PostPayload<E, K, P>,
    options?: PostOptionsArg<O>,
  ): Promise<Published<PostedEvent<E, K, P>> | Dropped> {
    const parts = partsOf.get(this)!;
    const subscriptions = parts.subscriptions();
    const schemas = parts.schemas;
    let post = () => this.post(type, payload, options);
    if (schemas?.get(type) !== undefined) {
      // A sync schema runs now, so the post is as immediate as post()'s; an async one is awaited.
      const conforming = schemas.conformAsync(type, payload);
      const value = conforming instanceof Promise ? ((await conforming) as typeof payload) : (conforming as typeof payload);
      post = () => schemas.conformed(() => this.post(type, value, options));
    }
    const { watch, outcomes } = collectOutcomes();
    let event: PostedEvent<E, K, P>;
    try {
      if (options?.priority === 'immediate') {
        // Delivered before post() returns: the watch takes the next delivery, this event's.
        subscriptions.watch(undefined, watch);
        try {
          event = post();
        } finally {
          subscriptions.watch(undefined, undefined);
        }
      } else {
        event = post();
        subscriptions.watch((event as BusEvent).id, watch);
      }
    } catch (error) {
      if (!isBusError(error, 'EVENT_DROPPED')) throw error;
      const { reason, middleware } = error as EventDroppedError;
      return { dropped: reason, middleware, outcomes: [], failed: 0 };
    }
    // A deferred event the stopped thread never delivers, or a handler that never settles, must not hold the caller for good.
    let forget: (() => void) | undefined;
    const halted = new Promise<never>((_, reject) => {
      forget = partsOf.get(this)!.whenHalted(() => reject(new RuntimeStoppedError('publish')));
    });
    let settled: Array<PromiseSettledResult<unknown>>;
    try {
      settled = await Promise.race([outcomes, halted]);
      const after = parts.pipeline.afterDone((event as BusEvent).id);
      if (after !== undefined) await Promise.race([after, halted]);
    } finally {
      forget?.();
    }
    return { event, outcomes: settled, failed: failures(settled) };
  }

  /**
   * Adds a middleware to this thread's side (it stays for the next bus
   * generations, as subscriptions do), after the runtime's and those added
   * before; returns what removes it. A value that is not a middleware is
   * refused with `InvalidOptionError`, a call after `runtime.stop()` with
   * `RuntimeStoppedError`. See `Middleware`.
   *
   * @example
   * bus.use({ name: 'no-tests', before: (draft) => (draft.type.startsWith('test.') ? { drop: 'a test event' } : undefined) })
   */
  use(middleware: Middleware): () => void {
    const parts = partsOf.get(this)!;
    if (parts.retired()) throw new BusRetiredError('use()');
    parts.assertRunning('use');
    return parts.pipeline.add(middleware);
  }

  /**
   * The metrics of this thread's side (counts since the runtime started,
   * handler time percentiles, errors, depths, syncs), or `undefined` unless
   * `createRuntime({ metrics: true })` turned them on.
   *
   * @example
   * const stats = bus.stats()
   * if (stats !== undefined) console.log(stats.posted, stats.handlerTime.p99)
   */
  stats(): BusStats | undefined {
    const parts = partsOf.get(this)!;
    const subscriptions = parts.subscriptions();
    return subscriptions.metrics?.snapshot({ ...parts.depths(), inFlight: subscriptions.inFlight });
  }

  /**
   * Resolves with the next event of `type` (a type or a [pattern]) this
   * thread delivers that passes `filter`; rejects with `TimeoutError`
   * (`TIMEOUT`) after `timeout` ms of the runtime's clock, or with
   * `AbortedError` when `signal` aborts, or `RuntimeStoppedError` when the
   * runtime (or the thread) stops. Events delivered before the call do not
   * count. It cleans up after itself however it ends.
   *
   * @example
   * const login = await bus.waitFor('user.login', { timeout: 1_000, filter: (e) => e.payload.id === 7 })
   */
  waitFor<const T extends string>(type: T & ValidPattern<E, T>, options?: WaitForOptions<EventOf<E, T>>): Promise<EventOf<E, T>> {
    return waitForEvent(this.#waitSource(), type, options as WaitForOptions) as Promise<EventOf<E, T>>;
  }

  /**
   * Resolves with one event per entry of `types`, in the list's order, once
   * all have come (an entry given twice needs two events): in any order, or
   * only in the list's order with `inOrder` (an event too early rejects with
   * `UnexpectedEventError`). With `grace`, it listens that many ms more after
   * the last one and rejects if another event of the list's types comes.
   * `timeout` and `signal` as for `waitFor()`.
   *
   * @example
   * const [started, done] = await bus.waitForEvents(['job.started', 'job.done'], { inOrder: true, timeout: 5_000 })
   */
  waitForEvents<const T extends readonly string[]>(
    types: T & ValidPatternList<E, T>,
    options?: WaitForEventsOptions,
  ): Promise<{ -readonly [I in keyof T]: EventOf<E, T[I] & string> }> {
    return waitForEvents(this.#waitSource(), types, options) as Promise<never>;
  }

  /**
   * Posts a request and resolves with the value of the first reply to it
   * (typed by the event map's `Replies`, or as `request<Reply>(...)` names
   * it): a `bus.reply()` handler's return value, from this thread or any
   * other the syncs reach. Rejects with `RequestTimeoutError`
   * (`REQUEST_TIMEOUT`) after `timeout` ms of the runtime's clock,
   * `ReplyFailedError` (`REPLY_FAILED`) when the replier's handler threw,
   * `AbortedError` when `signal` aborts, `RuntimeStoppedError` when the
   * runtime (or the thread) stops, and as `post()` throws when the post is
   * refused. The request is an event of `type` like any other (its `meta`
   * marks it as a request); across threads it and its reply travel with the
   * syncs, each asking the sync policy for a sync at once. With `local`,
   * both are posted `local`: only this thread's repliers answer, and no
   * station or sync is involved.
   *
   * @example
   * const user = await bus.request('user.get', { id: 'u1' }, { timeout: 1_000 })
   */
  request<R = never, K extends RequestTypeOf<E> = RequestTypeOf<E>, P = Payload>(
    type: K,
    payload: PostPayload<E, K, P>,
    options?: RequestOptions,
  ): Promise<[R] extends [never] ? ReplyOf<E, K> : R> {
    return sendRequest(this.#requestSource(), type, payload as Payload, options) as Promise<never>;
  }

  /**
   * Answers requests of `type` (a type or a pattern) posted in this thread
   * or read from its station: `handler` gets the request event and returns
   * the reply's value (or a promise of it; `undefined` replies with no
   * value). A handler that throws sends an error reply: the request rejects
   * with `ReplyFailedError`. Plain posts of the type are not answered. The
   * replier is a subscription of the thread: `unsubscribe()` or `signal`
   * ends it.
   *
   * @example
   * bus.reply('user.get', async (request) => users.get(request.payload.id))
   */
  reply<const T extends string>(
    type: T & ValidReplyPattern<E, T>,
    handler: (request: RequestOf<E, T>) => ReplyOf<E, T> | PromiseLike<ReplyOf<E, T>>,
    options?: ReplyOptions<EventOf<E, T>>,
  ): Subscription {
    return answerRequests(this.#requestSource(), type, handler as (event: BusEvent) => unknown, options as ReplyOptions | undefined);
  }

  #requestSource(): RequestSource {
    const parts = partsOf.get(this)!;
    return {
      key: parts.subscriptions(),
      post: (type, payload, options) => this.post(type as never, payload as never, options),
      subscribe: (types, handler, options) => this.subscribe(types as never, handler as never, options as never),
      answer: (reply, local) => parts.current().post(REPLY_TYPE as never, reply as never, replyOptions(local)),
      clock: parts.clock,
      whenStopped: parts.whenHalted,
    };
  }

  #waitSource(): WaitSource {
    const listen = (types: readonly string[], handler: (event: BusEvent) => void) => this.subscribe(types as never, handler as never);
    const parts = partsOf.get(this)!;
    return { listen: (types, handler) => listen(types, handler).unsubscribe, clock: parts.clock, whenStopped: parts.whenHalted };
  }
}
