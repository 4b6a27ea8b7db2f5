/**
 * A bus in another thread, seen from here: the same calls as `Bus`, each one
 * a control call to the thread that owns it. Events cross as frames both ways
 * (posts as frames of drafts); the control call carries only the frames.
 * Input is checked here, before it crosses, so errors are the same as a local
 * bus's and nothing the wire can't carry leaves this thread.
 */
import { SIDES, type BridgeDirection, type BusEvent, type Payload, type Side } from '../../types.js';
import { FrameChannel, messagePortFrames, type MessagePortLike } from '../wire/frame-channel.js';
import { stationServer } from '../station/links.js';
import type { Station } from '../station/station.js';
import {
  checkPostOptions,
  readPostOptions,
  checkRoomOptions,
  checkSyncOptions,
  type CheckedPostOptions,
  type FromStationOptions,
  type FromStationResult,
  type PostOptions,
  type PostOptionsArg,
  type RoomOptions,
  type SyncOptions,
} from './bus-options.js';
import type { BusCounts, ThreadApi } from '../thread/thread-service.js';
import { encodeFrame } from '../../schemas/codec/index.js';
import type { Outcome } from '../wire/protocol.js';
import type { BusStats } from '../metrics/stats.js';
import type { MemoryStats } from '../store/memory-stats.js';
import { eventsFromFrame, unwrap, type PortableQuery, type PostedDrafts } from '../thread/thread-service.js';
import { copyPayload } from '../payload/payload-copy.js';
import { assertEventType, assertKnownKeys, assertSide, assertTypeList } from '../validate.js';
import { AbortedError, TransportError, WorkerCrashedError, isBusError } from '../../errors.js';
import { fromWireError } from '../wire/wire-errors.js';
import { checkHistoryQuery } from '../store/history.js';
import { readOptionsOnce } from '../bridge/bridge.js';
import type {
  AnyEvents,
  EventOf,
  EventTypeOf,
  MapKind,
  PostedEvent,
  PostPayload,
  ReplyOf,
  RequestOf,
  RequestTypeOf,
  SubscribedEvent,
  TypedHistoryQuery,
  TypedReadOptions,
  ValidPattern,
  ValidReplyPattern,
  ValidPatternList,
  ValidPatterns,
} from './typed-events.js';
import { DETACHED_SCOPE, subscribeRemote, type RemoteScope } from './remote-subscription.js';
import type { SubscribeOptions, Subscription } from './subscriptions.js';
import { waitForEvent, waitForEvents, type WaitForEventsOptions, type WaitForOptions, type WaitSource } from './wait-for.js';
import { publishRemote, type RemotePublished } from './remote-publish.js';
import { ROOM_WAIT_MS } from './wait-steps.js';
import { conformPayload } from '../payload/payload-schemas.js';
import { answerRequests, REPLY_TYPE, replyOptions, sendRequest, type ReplyOptions, type ReplyPayload, type RequestOptions, type RequestSource } from './request-reply.js';

/** A history query that can cross to another thread (no `filter` function), typed by map `E`. */
export type TypedPortableQuery<E, T extends readonly string[]> = Omit<TypedHistoryQuery<E, T>, 'filter'>;

/** Calls a thread's control API, wherever it runs. */
export interface ThreadCaller {
  readonly processor: number;
  readonly thread: number;
  call<K extends keyof ThreadApi>(method: K, ...args: Parameters<ThreadApi[K]>): ReturnType<ThreadApi[K]>;
  /** Records the generation a sync call moved the thread's bus to. */
  advanced(side: Side, generation: number): void;
}

const DEFAULT_POST: CheckedPostOptions = { priority: 'normal', topic: undefined, meta: undefined, local: false };


/**
 * A bus of a worker thread.
 *
 * @example
 * const bus = runtime.thread(0, 1).bus('external')   // a RemoteBus when thread 1 is a worker
 * await bus.post('job.done', { id: 3 })
 * const next = await bus.toStation()
 */
export class RemoteBus<E = AnyEvents> {
  /** Types only: undefined at run time. Says in the compiler's error why a typed bus is no `RemoteBus` (any type, any payload), as `Bus.eventMap`. */
  declare readonly eventMap?: MapKind<E>;
  readonly side: Side;
  readonly generation: number;
  readonly #caller: ThreadCaller;
  readonly #scope: RemoteScope;

  /** @internal Created by the runtime; use `runtime.thread(processor, thread).bus(side)`. */
  constructor(caller: ThreadCaller, side: Side, generation: number, scope: RemoteScope = DETACHED_SCOPE) {
    this.#caller = caller;
    this.side = side;
    this.generation = generation;
    this.#scope = scope;
  }

  /** Where the bus runs. */
  get endpoint(): { processor: number; thread: number; generation: number; side: Side } {
    return { processor: this.#caller.processor, thread: this.#caller.thread, generation: this.generation, side: this.side };
  }

  /**
   * Posts on the thread's bus, checked here as `Bus.post` checks, and
   * encoded at once as a draft frame (no id or timestamp yet; the thread gives
   * them): what is posted is the payload as it is now, and a payload the wire
   * cannot carry fails this post alone. The posts of one tick to one thread
   * travel together in one control call (one per run of `local` or ordinary posts), in order, and before any other call
   * to that thread (a `toStation()` right after a `post()` carries it).
   */
  post<K extends keyof E & string, P, O extends PostOptions = PostOptions>(type: K, payload: PostPayload<E, K, P>, options?: PostOptionsArg<O>): Promise<PostedEvent<E, K, P>> {
    let frame: Uint8Array;
    let read: PostOptions | undefined;
    try {
      // Read once: the frame and the `local` it travels with say what was checked.
      read = readPostOptions(options);
      frame = this.#draft(type, payload, read);
    } catch (error) {
      return Promise.reject(error);
    }
    const local = read?.local === true;
    return new Promise<PostedEvent<E, K, P>>((resolve, reject) => {
      pendingPosts(this.#caller).add(this.side, this.generation, local, frame, { resolve: resolve as (event: BusEvent) => void, reject });
    });
  }

  /**
   * A post checked as `Bus.post` checks it, as a frame of one draft event.
   * A payload schema of this thread applies here, before encoding (unless `conformed` already).
   */
  #draft(type: string, payload: unknown, options: PostOptions | undefined, conformed = false): Uint8Array {
    assertEventType(type);
    if (!conformed) payload = conformPayload(this.#scope.schemas, type, payload);
    // Taken as Bus.post takes it: each getter read once, and the encoder walks plain data, which runs no code.
    payload = copyPayload(payload as Payload);
    const { priority, topic, meta } = options === undefined ? DEFAULT_POST : checkPostOptions(options);
    const endpoint = this.endpoint;
    const draft: BusEvent = {
      id: 'draft',
      type,
      side: this.side,
      timestamp: 0,
      origin: { processor: endpoint.processor, thread: endpoint.thread, generation: endpoint.generation },
      priority,
      ...(topic === undefined ? {} : { topic }),
      payload: payload as Payload,
      ...(meta === undefined ? {} : { meta }),
    };
    return encodeFrame({ kind: 'batch', seq: 0, from: endpoint, history: [draft], queue: [] }, { compress: 'auto' });
  }

  /** A control call to the thread, after the posts made before it. */
  #call<K extends keyof ThreadApi>(method: K, ...args: Parameters<ThreadApi[K]>): ReturnType<ThreadApi[K]> {
    pendingPosts(this.#caller).send();
    return this.#caller.call(method, ...args);
  }

  async toStation(): Promise<RemoteBus<E>> {
    const result = await this.#call('toStation', this.side, this.generation);
    if (!result.ok) {
      // A handover that failed retired this bus all the same, its events moved to the successor: learn its generation,
      // so that runtime.thread(p, t).bus(side) reaches the bus that holds them (the error tells users to go there).
      const now = await this.#call('state', this.side).catch(() => undefined);
      if (now?.ok === true) this.#caller.advanced(this.side, (now.value as BusCounts).generation);
    }
    const generation = unwrap(result);
    this.#caller.advanced(this.side, generation);
    return new RemoteBus(this.#caller, this.side, generation, this.#scope);
  }

  async fromStation<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromStationOptions, E, T>): Promise<FromStationResult<EventOf<E, T>>> {
    const result = unwrap(await this.#call('fromStation', this.side, this.generation, checkFromStation(options, 'fromStation')));
    return { added: eventsFromFrame(result.added) as never[], handedBack: result.handedBack };
  }

  /**
   * `Bus.sync()` in the thread: shares what the bus has that its station has
   * not seen and merges the station's history back (only `types`, if given),
   * without retiring the bus or moving its queue.
   */
  async sync<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<SyncOptions, E, T>): Promise<FromStationResult<EventOf<E, T>>> {
    const result = unwrap(await this.#call('sync', this.side, this.generation, checkSyncOptions(options)));
    return { added: eventsFromFrame(result.added) as never[], handedBack: result.handedBack };
  }

  async roundTrip<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromStationOptions, E, T>): Promise<RemoteBus<E>> {
    const generation = unwrap(await this.#call('roundTrip', this.side, this.generation, checkFromStation(options, 'roundTrip')));
    this.#caller.advanced(this.side, generation);
    return new RemoteBus(this.#caller, this.side, generation, this.#scope);
  }

  /**
   * Resolves once the thread's bus has room again (see `Bus.room()`): waits
   * in steps of at most ROOM_WAIT_MS, each a control call, so a long wait for
   * a slow station never looks like a hung thread. A bus that retired has
   * nothing left to wait for. With `signal`, the wait can be given up: the
   * call then rejects with an `AbortedError` whose `cause` is the signal's
   * reason (the step under way ends in the thread on its own).
   */
  async room(options?: RoomOptions): Promise<void> {
    const signal = checkRoomOptions(options);
    let onAbort: (() => void) | undefined;
    const aborted =
      signal === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            onAbort = () => reject(new AbortedError('room', signal.reason));
            signal.addEventListener('abort', onAbort, { once: true });
          });
    // Handled here, so that an abort that loses the race never goes unhandled.
    aborted?.catch(() => undefined);
    try {
      for (;;) {
        if (signal?.aborted === true) throw new AbortedError('room', signal.reason);
        const step = this.#call('room', this.side, this.generation, ROOM_WAIT_MS);
        const answer = aborted === undefined ? await step : await Promise.race([step, aborted]);
        if (!answer.ok && answer.code === 'BUS_RETIRED') return;
        if (unwrap(answer)) return;
      }
    } finally {
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Subscribes here, in this thread, to events of the thread's bus of this
   * side: types or patterns as `Bus.subscribe()` takes them, with `filter`
   * and `onError` run here (`onError` defaults to the runtime's) and
   * `topics` applied in the thread. The thread listens before any later call
   * of this bus reaches it, so posts made after `subscribe()` are seen.
   * Events come as the thread delivers them (its posts, and what its syncs
   * read), in order, polled in steps of at most 250 ms.
   *
   * Bounds: in the thread the subscription is an `async` subscriber that
   * holds one credit per event until the handler here has finished with it
   * (its promise has settled), so under the sync policy at most
   * `sync.maxInFlight` events of the thread's side wait for it, in the thread
   * or here, and a slow handler holds producers back as a slow local one
   * does. Without the sync policy, as for local async subscribers, nothing
   * limits them. The thread drops the subscription when this side stops
   * polling for 10 s (this thread or process went away), on
   * `unsubscribe()`, `signal` and `runtime.stop()`. If the thread crashes,
   * the subscription listens again once it has restarted: what the thread
   * delivered in between is not seen.
   *
   * @example
   * const worker = runtime.thread(0, 1).bus('external')
   * const subscription = worker.subscribe('job.*', (event) => console.log(event.type))
   * subscription.unsubscribe()
   */
  subscribe<P = never, const T extends string | readonly string[] = string | readonly string[]>(
    types: T & ValidPatterns<E, T>,
    handler: (event: SubscribedEvent<E, T, P>) => unknown,
    options?: SubscribeOptions<SubscribedEvent<E, T, P>>,
  ): Subscription {
    const target = {
      processor: this.#caller.processor,
      thread: this.#caller.thread,
      side: this.side,
      scope: this.#scope,
      call: ((method: keyof ThreadApi, ...args: unknown[]) => (this.#call as (m: string, ...a: unknown[]) => unknown)(method, ...args)) as never,
    };
    return subscribeRemote(target, types, handler as never, options as SubscribeOptions | undefined);
  }

  /**
   * `Bus.waitFor()` on the thread's bus, waited for here: the next event of
   * `type` the thread delivers after this call that passes `filter`
   * (run here); `timeout` runs on this runtime's clock. Rejects with
   * `TimeoutError`, `AbortedError`, or `RuntimeStoppedError` when the runtime
   * stops, and leaves no listener behind in the thread.
   *
   * @example
   * const done = await runtime.thread(0, 1).bus('external').waitFor('job.done', { timeout: 5_000 })
   */
  waitFor<const T extends string>(type: T & ValidPattern<E, T>, options?: WaitForOptions<EventOf<E, T>>): Promise<EventOf<E, T>> {
    return waitForEvent(this.#waitSource(), type, options as WaitForOptions) as Promise<EventOf<E, T>>;
  }

  /** `Bus.waitForEvents()` on the thread's bus, waited for here, as `waitFor()` is. */
  waitForEvents<const T extends readonly string[]>(
    types: T & ValidPatternList<E, T>,
    options?: WaitForEventsOptions,
  ): Promise<{ -readonly [I in keyof T]: EventOf<E, T[I] & string> }> {
    return waitForEvents(this.#waitSource(), types, options) as Promise<never>;
  }

  #waitSource(): WaitSource {
    return {
      listen: (types, handler) => this.subscribe(types as never, handler as never).unsubscribe,
      clock: this.#scope.clock,
      whenStopped: this.#scope.whenStopped,
    };
  }

  /**
   * `Bus.publish()` in the thread: posts there, and resolves once every
   * handler **of that thread** the event is delivered to has finished —
   * including `RemoteBus.subscribe()` handlers elsewhere, whose events
   * settle when their handler has — with their outcomes (such a handler's
   * error counts in `failed`). Values cross as a structured clone copies
   * them (one that cannot be copied, such as a function, arrives as
   * `undefined`); a `BusError` keeps its class, code and fields, other
   * errors cross as `Error`s with their `name`, `message`, `stack` and
   * `code`. A post a `before` middleware of the thread drops resolves with
   * `{ dropped, middleware }`, as on a `Bus`. It does not wait for other threads (a sync
   * carries the event there). It waits in steps of at most 250 ms, so slow
   * handlers never make the thread look hung. Rejects when the post is
   * refused, when the thread crashes (`WorkerCrashedError`) or the runtime
   * stops (`RuntimeStoppedError`).
   *
   * @example
   * const { failed } = await runtime.thread(0, 1).bus('external').publish('job.start', { id: 1 })
   */
  publish<K extends keyof E & string, P, O extends PostOptions = PostOptions>(type: K, payload: PostPayload<E, K, P>, options?: PostOptionsArg<O>): Promise<RemotePublished<PostedEvent<E, K, P>>> {
    let frame: Uint8Array;
    let read: PostOptions | undefined;
    try {
      read = readPostOptions(options);
      const schemas = this.#scope.schemas;
      const conforming = schemas?.get(type) === undefined ? payload : schemas.conformAsync(type, payload);
      // An async schema: the publish goes out once it has resolved (a later post() may then go first).
      if (conforming instanceof Promise) {
        return conforming.then((value) => this.#publish(this.#draft(type, value, read, true), read)) as Promise<RemotePublished<PostedEvent<E, K, P>>>;
      }
      frame = this.#draft(type, conforming, read, true);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#publish(frame, read) as Promise<RemotePublished<PostedEvent<E, K, P>>>;
  }

  #publish(frame: Uint8Array, options: PostOptions | undefined): Promise<RemotePublished> {
    const started = this.#call('publish', this.side, this.generation, [frame], ...localArg(options));
    return publishRemote(started, this.#caller.call, this.#scope);
  }

  /**
   * `Bus.request()` on the thread's bus, awaited here: posts the request
   * there and resolves with the first reply that reaches that thread (from
   * its own repliers, or carried by syncs from others); `timeout` runs on
   * this runtime's clock. Rejects as `Bus.request()` does. With `local`,
   * request and reply stay in that thread (not this one): its own repliers
   * answer, and those given to `reply()` of its `RemoteBus` here.
   *
   * @example
   * const user = await runtime.thread(0, 1).bus('external').request('user.get', { id: 'u1' }, { timeout: 1_000 })
   */
  request<R = never, K extends RequestTypeOf<E> = RequestTypeOf<E>, P = Payload>(
    type: K,
    payload: PostPayload<E, K, P>,
    options?: RequestOptions,
  ): Promise<[R] extends [never] ? ReplyOf<E, K> : R> {
    return sendRequest(this.#requestSource(), type, payload as Payload, options) as Promise<never>;
  }

  /**
   * `Bus.reply()` for the thread's bus: requests of `type` that the thread
   * delivers are answered by `handler`, which runs here (as a
   * `RemoteBus.subscribe()` handler does); the reply is posted on the
   * thread's current bus.
   *
   * @example
   * runtime.thread(0, 1).bus('external').reply('user.get', (request) => ({ name: 'Ada' }))
   */
  reply<const T extends string>(
    type: T & ValidReplyPattern<E, T>,
    handler: (request: RequestOf<E, T>) => ReplyOf<E, T> | PromiseLike<ReplyOf<E, T>>,
    options?: ReplyOptions<EventOf<E, T>>,
  ): Subscription {
    return answerRequests(this.#requestSource(), type, handler as (event: BusEvent) => unknown, options as ReplyOptions | undefined);
  }

  #requestSource(): RequestSource {
    return {
      key: routingKey(this.#caller, this.side),
      post: (type, payload, options) => this.post(type as never, payload as never, options),
      subscribe: (types, handler, options) => this.subscribe(types as never, handler as never, options as never),
      answer: (reply, local) => this.#answer(reply, local),
      clock: this.#scope.clock,
      whenStopped: this.#scope.whenStopped,
    };
  }

  /** Posts a reply on the thread's current bus: this one, or the one its `toStation()` moved on to. */
  async #answer(reply: ReplyPayload, local: boolean): Promise<void> {
    const options = replyOptions(local);
    try {
      await this.post(REPLY_TYPE as never, reply as never, options);
    } catch (error) {
      if (!isBusError(error, 'BUS_RETIRED')) throw error;
      const { generation } = await this.state();
      await new RemoteBus(this.#caller, this.side, generation, this.#scope).post(REPLY_TYPE as never, reply as never, options);
    }
  }

  async drain(): Promise<number> {
    return unwrap(await this.#call('drain', this.side, this.generation));
  }

  /** The thread's current bus history (a query's `filter` cannot cross threads). */
  async history<const T extends readonly string[] = readonly string[]>(
    query?: TypedPortableQuery<E, T>,
  ): Promise<Array<EventOf<E, T>>> {
    const checked = checkHistoryQuery(query, 'history query', { filter: false });
    return eventsFromFrame(unwrap(await this.#call('history', this.side, checked as PortableQuery))) as Array<EventOf<E, T>>;
  }

  /**
   * `Bus.stats()` in the thread: its side's metrics (counts by type, handler
   * time percentiles, errors, depths, syncs), or `undefined` unless
   * `createRuntime({ metrics })` turned them on.
   *
   * @example
   * const stats = await runtime.thread(0, 1).bus('external').stats()
   * console.log(stats?.posted, stats?.handlerTime.p99)
   */
  async stats(): Promise<BusStats | undefined> {
    return unwrap(await this.#call('stats', this.side)).buses[0];
  }

  /**
   * `Bus.memory()` in the thread: what the thread's current bus holds against
   * its memory budget (bytes, count, multipliers, by type); `undefined`
   * without `memory.budget`.
   *
   * @example
   * const held = await runtime.thread(0, 1).bus('external').memory()
   */
  async memory(): Promise<MemoryStats | undefined> {
    return unwrap(await this.#call('stats', this.side)).memory[0];
  }

  async queue(): Promise<Array<EventOf<E>>> {
    return eventsFromFrame(unwrap(await this.#call('queue', this.side))) as Array<EventOf<E>>;
  }

  /**
   * The thread's current bus of this side: its generation, its actor's state,
   * and what it holds (`unsent`, `queued`, `parked`, as on a local `Bus`).
   */
  async state(): Promise<BusCounts> {
    return unwrap(await this.#call('state', this.side));
  }
}

/** A post waiting for its thread's answer. */
interface PendingPost {
  resolve(event: BusEvent): void;
  reject(error: unknown): void;
}

/**
 * The posts to one thread not yet sent, in order, grouped by bus (side and
 * generation). Sent at the end of the tick, or before any other call to the
 * thread, so that calls reach the thread in the order they were made.
 */
class PendingPosts {
  readonly #caller: ThreadCaller;
  #groups: Array<{ side: Side; generation: number; local: boolean; frames: Uint8Array[]; posts: PendingPost[] }> = [];

  constructor(caller: ThreadCaller) {
    this.#caller = caller;
  }

  add(side: Side, generation: number, local: boolean, frame: Uint8Array, post: PendingPost): void {
    if (this.#groups.length === 0) queueMicrotask(() => this.send());
    const last = this.#groups[this.#groups.length - 1];
    if (last !== undefined && last.side === side && last.generation === generation && last.local === local) {
      last.frames.push(frame);
      last.posts.push(post);
    } else {
      this.#groups.push({ side, generation, local, frames: [frame], posts: [post] });
    }
  }

  /** Sends what is pending, one control call per run of posts to one bus (local or not), in order; each post settles on its own. */
  send(): void {
    const groups = this.#groups;
    this.#groups = [];
    for (const { side, generation, local, frames, posts } of groups) {
      void this.#caller.call('post', side, generation, frames, ...localArg({ local })).then(
        (result) => settlePosts(posts, result),
        (error: unknown) => posts.forEach((post) => post.reject(error)),
      );
    }
  }
}

/** Resolves each post with its event, or rejects it with its refusal (or the call's). */
function settlePosts(posts: readonly PendingPost[], result: Outcome<PostedDrafts>): void {
  let events: BusEvent[];
  let refused: Map<number, PostedDrafts['refused'][number]>;
  try {
    const value = unwrap(result);
    events = eventsFromFrame(value.events);
    refused = new Map(value.refused.map((refusal) => [refusal.index, refusal]));
  } catch (error) {
    for (const post of posts) post.reject(error);
    return;
  }
  let next = 0;
  posts.forEach((post, index) => {
    const refusal = refused.get(index);
    if (refusal !== undefined) post.reject(fromWireError(refusal));
    else if (next < events.length) post.resolve(events[next++]!);
    else post.reject(new TransportError('The thread answered fewer events than were posted.'));
  });
}

/** The `local` argument of a post or publish call: none unless set (a call's arguments stay as they were otherwise). */
function localArg(options: PostOptions | undefined): [] | [true] {
  return options?.local === true ? [true] : [];
}

const pendingByCaller = new WeakMap<ThreadCaller, PendingPosts>();

/** The pending posts to the thread behind `caller` (one list per thread, whichever RemoteBus posted). */
function pendingPosts(caller: ThreadCaller): PendingPosts {
  let pending = pendingByCaller.get(caller);
  if (pending === undefined) pendingByCaller.set(caller, (pending = new PendingPosts(caller)));
  return pending;
}

const routingKeys = new WeakMap<ThreadCaller, Record<Side, object>>();

/** One object per thread and side, whichever `RemoteBus` of it requests: its replies are routed together. */
function routingKey(caller: ThreadCaller, side: Side): object {
  let keys = routingKeys.get(caller);
  if (keys === undefined) routingKeys.set(caller, (keys = { internal: {}, external: {} }));
  return keys[side];
}

/** The checks of `Bus.fromStation()`, made before the options cross to the thread: those that cross are what was checked. */
function checkFromStation(options: FromStationOptions | undefined, call: string): FromStationOptions | undefined {
  const read = readOptionsOnce(options, call);
  if (read?.types !== undefined) assertTypeList(read.types, `${call} options.types`);
  if (read?.side !== undefined) assertSide(read.side, `${call} options.side`);
  return read;
}

/** A thread attached from elsewhere: its control API, its data channel, its buses' generations. */
export interface RemoteThread {
  readonly caller: ThreadCaller;
  readonly channel: FrameChannel;
  readonly generations: Record<Side, number>;
}

/**
 * Connects a thread that runs elsewhere to this processor's stations: `port`
 * becomes the frame channel its buses sync over, `call` its control API. When
 * `exited` resolves (the worker is gone), the channel closes and what waits on
 * it is rejected with `WorkerCrashedError`.
 */
export function connectThread(
  processor: number,
  thread: number,
  port: MessagePortLike,
  call: ThreadCaller['call'],
  station: (side: Side) => Station,
  bridgeDirection: () => BridgeDirection,
  exited?: Promise<{ readonly reason: string }>,
): RemoteThread {
  const channel = new FrameChannel(messagePortFrames(port), {
    end: 'b',
    // A port transfers frames without copying them: compressing would only cost CPU on both ends.
    compress: false,
    name: `processor ${processor} ↔ thread ${processor}.${thread}`,
    // What arrives goes to this processor's stations: events stay encoded.
    encodedEvents: true,
    serve: stationServer(station, bridgeDirection),
  });
  // Its buses will read: until they have, the stations keep what leaves once delivered for them.
  for (const side of SIDES) station(side).expectReader({ processor, thread });
  const generations: Record<Side, number> = { internal: 0, external: 0 };
  const caller: ThreadCaller = {
    processor,
    thread,
    call,
    advanced: (side, generation) => {
      generations[side] = Math.max(generations[side], generation);
    },
  };
  void exited?.then((exit) => {
    channel.close(
      new WorkerCrashedError(`thread ${processor}.${thread} is gone (${exit.reason}); its pending sync calls were rejected.`),
    );
    // A dead thread's subscribers are behind no more: its stations stop holding other threads back for it.
    for (const side of SIDES) station(side).forgetReader({ processor, thread });
  });
  return { caller, channel, generations };
}
