/**
 * A bus: the event bus of one thread and side, with its own history and queue.
 * Posting and delivery take a direct path through the stores; the bus actor
 * (`machines/bus.machine.ts`) owns the lifecycle and the sync protocol and
 * hears about posts once per flushed batch.
 */
import type { Actor } from 'xstate';
import {
  AbortedError,
  BusBusyError,
  BusFullError,
  BusRetiredError,
  InvalidOptionError,
  RuntimeStoppedError,
  TransportError,
  isBusError,
} from '../../errors.js';
import type { busMachine } from '../../machines/bus.machine.js';
import { readableSide } from '../bridge/bridge.js';
import type { ActivityReport } from '../../machines/events.js';
import type { BusEvent, Endpoint, Origin, Payload, Priority, Side } from '../../types.js';
import { EventHistory, checkHistoryQuery, compareEvents, type HistoryQuery } from '../store/history.js';
import type { EventBatch } from '../wire/protocol.js';
import type { Handler, SubscribeOptions, Subscription } from './subscriptions.js';
import type { Thread } from '../thread/thread.js';
import type { DeliveredMark } from './delivered-mark.js';
import {
  assertEventType,
  assertKnownKeys,
  assertLabel,
  assertPriority,
  assertTypeList,
  describe,
  copyPayload,
  MAX_META_ENTRIES,
} from '../validate.js';

/** Options of `bus.post()`. */
export interface PostOptions {
  /** When subscribers get it; `normal` by default. */
  readonly priority?: Priority;
  /** A topic for topic subscriptions. */
  readonly topic?: string;
  /** Free-form string metadata carried with the event. */
  readonly meta?: Readonly<Record<string, string>>;
}

const POST_OPTIONS = ['priority', 'topic', 'meta'] as const;

/** Post options checked and filled in: what an event carries. */
export interface CheckedPostOptions {
  readonly priority: Priority;
  readonly topic: string | undefined;
  readonly meta: Readonly<Record<string, string>> | undefined;
}

/**
 * Checks `bus.post()` options (known keys, a priority, a well-formed topic,
 * string meta) and fills in the default priority. Throws `InvalidOptionError`.
 */
export function checkPostOptions(options: PostOptions): CheckedPostOptions {
  // Not an options object (null, a string, an array): refused as such.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) assertKnownKeys(options, POST_OPTIONS, 'post options');
  // A for-in over the few keys is cheaper than Object.keys on the hot path of post().
  for (const key in options) if (!POST_OPTIONS.includes(key as never)) assertKnownKeys(options, POST_OPTIONS, 'post options');
  let priority: Priority = 'normal';
  if (options.priority !== undefined) {
    assertPriority(options.priority, 'post options.priority');
    priority = options.priority;
  }
  if (options.topic !== undefined) assertLabel(options.topic, 'post options.topic');
  return { priority, topic: options.topic, meta: options.meta === undefined ? undefined : validMeta(options.meta) };
}

/** Options of `bus.room()`. */
export interface RoomOptions {
  /** Gives up waiting: the call rejects with an `AbortedError` (`ABORTED`) whose `cause` is the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Options of `bus.sync()`. */
export interface SyncOptions {
  /** Only these event types (with subtype matching) are merged back. */
  readonly types?: readonly string[];
}

/** @internal Checks `room()`'s options (a `RemoteBus` checks before they cross); returns the signal. */
export function checkRoomOptions(options: RoomOptions | undefined): AbortSignal | undefined {
  assertKnownKeys(options, ['signal'], 'room options');
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('room options.signal', 'expected an AbortSignal.');
  }
  return signal;
}

/** @internal Checks `sync()`'s options (a `RemoteBus` checks before they cross). */
export function checkSyncOptions(options: SyncOptions | undefined): void {
  assertKnownKeys(options, ['types'], 'sync options');
  if (options?.types !== undefined) assertTypeList(options.types, 'sync options.types');
}

/** Options of `bus.fromStation()` and `bus.roundTrip()`. */
export interface FromStationOptions {
  /** Only these event types (with subtype matching). */
  readonly types?: readonly string[];
  /** Read the station of this side; the other side only if the bridge allows it. */
  readonly side?: Side;
}


/** What a `fromStation()` brought. */
export interface FromStationResult {
  /** Events new to this bus, oldest first (already delivered to its subscribers). */
  readonly added: readonly BusEvent[];
  /** This thread's parked queue entries handed back by the station. */
  readonly handedBack: number;
}

/** Merges `incoming` (sorted) into the sorted `queue`, skipping ids already there. */
function mergeQueue(queue: BusEvent[], incoming: readonly BusEvent[]): BusEvent[] {
  if (incoming.length === 0) return queue;
  const ids = new Set(queue.map((event) => event.id));
  const fresh = incoming.filter((event) => !ids.has(event.id));
  return [...queue, ...fresh].sort(compareEvents);
}

/**
 * The event bus of one thread and side.
 *
 * @example
 * const bus = runtime.bus('external')
 * bus.subscribe('user', (event) => console.log(event.type, event.payload))
 * bus.post('user.login', { id: 7 })
 * const next = await bus.toStation()   // this bus retires; `next` is the thread's bus now
 * await next.fromStation({ types: ['user'] })
 */
export class Bus {
  readonly side: Side;
  readonly endpoint: Endpoint;
  readonly #origin: Origin;
  readonly #thread: Thread;
  readonly #actor: Actor<typeof busMachine>;
  readonly #history = new EventHistory();
  /** Accepted `deferred` events not yet delivered, in order. */
  #queue: BusEvent[] = [];
  /**
   * The history its station has not seen, in the order it joined: what this
   * bus posted, drained from its queue, or took over from a predecessor whose
   * `toStation()` failed. A sync sends it and keeps what joined meanwhile, so
   * a sync costs what is new, not what the history holds.
   */
  #outbox: BusEvent[] = [];
  /** False once an event joined the outbox out of order (a drained one is stamped at post time). */
  #outboxSorted = true;
  /** Per station read: the arrival number this bus has merged everything through. */
  #through: Record<Side, number> = { internal: 0, external: 0 };
  /** The automatic sync policy's `sync()` under way: a user's own sync call waits for it rather than being refused. */
  #autoSync: Promise<void> | undefined;
  /** The call that holds the receiving state, for a refusal's message. */
  #receivingCall = 'fromStation';
  /** Producers waiting in `room()`. */
  #roomWaiters: Array<{ resolve(): void; reject(error: unknown): void }> = [];
  /**
   * The station refused this bus's last batch for a reader that is behind
   * (`BUS_FULL`): the events wait for the policy's next period, since a sync
   * asked for at once would only be refused again.
   */
  #heldBack = false;
  /** `normal` events waiting for the microtask flush. */
  #pending: BusEvent[] = [];
  #flushScheduled = false;
  /** While a read is under way its RECEIVED step will carry the activity: reports wait for it. */
  #reportsHeld = false;
  #idleScheduled = false;
  #retired = false;
  #postedSinceReport = 0;
  /** Posts since the last sync, for the automatic policy's `maxBatch`. */
  #sinceSync = 0;
  #deliveredSinceReport = 0;
  #lastId: string | null = null;

  /** @internal Created by the runtime; use `runtime.bus(side)`. */
  constructor(thread: Thread, side: Side, generation: number, actor: (endpoint: Endpoint) => Actor<typeof busMachine>) {
    this.#thread = thread;
    this.side = side;
    this.endpoint = { processor: thread.processor, thread: thread.index, generation, side };
    this.#origin = Object.freeze({ processor: thread.processor, thread: thread.index, generation });
    this.#actor = actor(this.endpoint);
  }

  /** The bus generation in its thread: 0 first, +1 after each `toStation()`. */
  get generation(): number {
    return this.endpoint.generation;
  }

  /** @internal The bus actor, for inspection (tests, the runtime); not in the published types. */
  get actor(): Actor<typeof busMachine> {
    return this.#actor;
  }

  /** The bus's state: `active`, `receiving`, `handingOver` or `retired`. */
  get state(): string {
    return String(this.#actor.getSnapshot().value);
  }

  /** True once `toStation()` has handed this bus over. */
  get retired(): boolean {
    return this.#retired;
  }

  /** Events in this bus's history that its station has not taken yet. */
  get unsent(): number {
    return this.#outbox.length;
  }

  /**
   * Deferred events waiting in this bus's queue. Posts keep them and the
   * thread's `parked` ones within `maxQueued` together.
   */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * This thread's deferred events of this side parked at the stations by
   * `toStation()` and not yet read back, as the stations last said. They
   * count against `maxQueued`: `fromStation()` takes them back into the queue,
   * `drain()` delivers them.
   */
  get parked(): number {
    return this.#thread.parked(this.side);
  }

  /**
   * Resolves once this bus may post again without being refused for being
   * full: under the automatic sync policy, when at most half of
   * `sync.maxUnsent` events wait for the station (it asks for a sync at
   * once) and at most half of `sync.maxInFlight` credits are taken by this
   * thread's subscribers; at once otherwise. Rejects with the error of a sync
   * that fails while events wait for the station. A producer that outruns its
   * station or its subscribers awaits them, so memory stays bounded and they
   * set the pace.
   *
   * With `signal`, the wait can be given up: the call then rejects with an
   * `AbortedError` (`ABORTED`) whose `cause` is the signal's reason.
   *
   * @example
   * for (const item of items) {
   *   await bus.room({ signal: AbortSignal.timeout(5_000) }) // at once while there is room
   *   bus.post('item.added', item)
   * }
   */
  room(options?: RoomOptions): Promise<void> {
    const signal = checkRoomOptions(options);
    if (!this.#thread.host.running) return Promise.reject(new RuntimeStoppedError('room'));
    if (signal?.aborted === true) return Promise.reject(new AbortedError('room', signal.reason));
    if (this.#hasRoom()) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => {
      if (signal === undefined) return void this.#roomWaiters.push({ resolve, reject });
      const abort = () => {
        this.#roomWaiters = this.#roomWaiters.filter((entry) => entry !== waiter);
        reject(new AbortedError('room', signal.reason));
      };
      const waiter = {
        resolve: () => (signal.removeEventListener('abort', abort), resolve()),
        reject: (error: unknown) => (signal.removeEventListener('abort', abort), reject(error)),
      };
      signal.addEventListener('abort', abort, { once: true });
      this.#roomWaiters.push(waiter);
    });
    if (!this.#unsentRoom() && !this.#heldBack) this.#thread.host.requestSync?.(this.side);
    return waiting;
  }

  /** True when a post would not be refused for fullness: a retired bus, or at most half of each bound taken. */
  #hasRoom(): boolean {
    return this.#retired || (this.#unsentRoom() && this.#creditRoom());
  }

  /** At most half of `maxUnsent` events wait for the station (or no such bound). */
  #unsentRoom(): boolean {
    const max = this.#thread.host.maxUnsent;
    return max === undefined || this.#outbox.length <= Math.floor(max / 2);
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
    const subscriptions = this.#thread.subscriptions(this.side);
    return subscriptions.inFlight + this.#pending.length * subscriptions.asyncCount;
  }

  /**
   * How many events a sync may read for this thread's subscribers: no limit
   * (undefined) unless some are async under the sync policy; then as many as
   * the credits left of `maxInFlight` allow, each event taking one per async
   * subscriber (0: the read waits; at least one when nothing is taken).
   */
  #readCredits(): number | undefined {
    const max = this.#thread.host.maxInFlight;
    const { asyncCount } = this.#thread.subscriptions(this.side);
    if (max === undefined || asyncCount === 0) return undefined;
    const taken = this.#creditsTaken();
    return Math.max(taken === 0 ? 1 : 0, Math.floor((max - taken) / asyncCount));
  }

  /**
   * @internal A subscriber's promise settled. Once at most half of
   * `maxInFlight` credits are taken, a read that was held back is asked for
   * again and producers waiting in `room()` go on.
   */
  subscribersSettled(): void {
    if (this.#retired || !this.#creditRoom()) return;
    const subscriptions = this.#thread.subscriptions(this.side);
    if (subscriptions.readHeld) {
      subscriptions.readHeld = false;
      this.#thread.host.requestSync?.(this.side);
    }
    this.#settleRoom();
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
  #settleRoom(failure?: unknown): void {
    if (this.#roomWaiters.length === 0) return;
    const enough = this.#hasRoom();
    if (!enough) {
      if (this.#unsentRoom() || this.#heldBack) return;
      if (failure === undefined) {
        this.#thread.host.requestSync?.(this.side);
        return;
      }
    }
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const waiter of waiters) {
      if (enough) waiter.resolve();
      else waiter.reject(failure);
    }
  }

  /** @internal The runtime or thread stops: producers waiting for room hear so. */
  halt(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const waiter of waiters) waiter.reject(new RuntimeStoppedError('room'));
  }

  /**
   * Posts an event: stamps it, records it in the history and delivers it by
   * its priority. Returns the stamped event.
   *
   * @example
   * bus.post('order.created', { orderId: 'o-1' }, { priority: 'immediate' })
   */
  post<P extends Payload>(type: string, payload: P, options?: PostOptions): BusEvent<P> {
    if (this.#retired) throw new BusRetiredError('post()');
    this.#thread.assertRunning('post');
    assertEventType(type);
    // Its value now: the application may change its object afterwards, the event does not change with it.
    const value = copyPayload(payload);
    let priority: Priority = 'normal';
    let topic: string | undefined;
    let meta: Readonly<Record<string, string>> | undefined;
    if (options !== undefined) ({ priority, topic, meta } = checkPostOptions(options));
    const thread = this.#thread;
    const maxUnsent = thread.host.maxUnsent;
    if (priority === 'deferred') {
      // A thread's deferred events count wherever they wait: in this queue, or parked at the stations.
      const held = this.#queue.length + thread.parked(this.side);
      if (held >= thread.host.maxQueued) throw new BusFullError(held, thread.host.maxQueued, 'queue');
    } else {
      if (maxUnsent !== undefined && this.#outbox.length >= maxUnsent) {
        if (!this.#heldBack) thread.host.requestSync?.(this.side);
        throw new BusFullError(this.#outbox.length, maxUnsent);
      }
      const maxInFlight = thread.host.maxInFlight;
      if (maxInFlight !== undefined) {
        // This post may start one promise per async subscriber of its type (none: it takes no credit, e.g. what
        // a user actor emits while its own events hold the credits); a post with nothing taken always goes.
        const wanting = thread.subscriptions(this.side).asyncWanting(type);
        const taken = wanting === 0 ? 0 : this.#creditsTaken();
        if (taken > 0 && taken + wanting > maxInFlight) throw new BusFullError(taken, maxInFlight, 'inFlight');
      }
    }
    // One literal shape per case keeps post() monomorphic; the origin object is shared by all of this bus's events.
    const event: BusEvent<P> =
      topic === undefined && meta === undefined
        ? { id: thread.nextId(), type, side: this.side, timestamp: thread.clock.next(), origin: this.#origin, priority, payload: value }
        : {
            id: thread.nextId(),
            type,
            side: this.side,
            timestamp: thread.clock.next(),
            origin: this.#origin,
            priority,
            ...(topic === undefined ? {} : { topic }),
            payload: value,
            ...(meta === undefined ? {} : { meta }),
          };
    this.#postedSinceReport++;
    this.#lastId = event.id;
    if (priority === 'deferred') {
      this.#queue.push(event);
      this.#scheduleIdle();
      this.#scheduleReport();
      return event;
    }
    const maxBatch = thread.host.maxBatch;
    if (maxBatch !== undefined && ++this.#sinceSync >= maxBatch) {
      this.#sinceSync = 0;
      // After this post is in the history, so the sync it asks for carries it.
      queueMicrotask(() => thread.host.requestSync?.(this.side));
    }
    this.#history.insert(event);
    // Its stamp is after everything this thread has seen: the outbox stays sorted.
    this.#outbox.push(event);
    if (priority === 'immediate') {
      this.#deliveredSinceReport += this.#thread.subscriptions(this.side).deliver(event);
      this.#scheduleReport();
    } else {
      this.#pending.push(event);
      this.#scheduleReport();
    }
    return event;
  }

  /**
   * Subscribes to events of `types` (subtype matching: `user` gets `user.login`).
   * Subscriptions belong to the thread and carry over to the next bus generation.
   */
  subscribe<P extends Payload = Payload>(
    types: string | readonly string[],
    handler: Handler<P>,
    options?: SubscribeOptions,
  ): Subscription {
    if (this.#retired) throw new BusRetiredError('subscribe()');
    this.#thread.assertRunning('subscribe');
    return this.#thread.subscriptions(this.side).add(types, handler as Handler, options);
  }

  /** Delivers every queued (`deferred`) event now, in order. Returns how many. */
  drain(): number {
    if (this.#retired) throw new BusRetiredError('drain()');
    this.#thread.assertRunning('drain');
    this.#flush();
    const queue = this.#queue;
    if (queue.length === 0) return 0;
    this.#queue = [];
    const subscriptions = this.#thread.subscriptions(this.side);
    for (const event of queue) {
      if (!this.#history.insert(event)) continue;
      // Stamped at post time, delivered now: it may sort before what sync() already sent.
      this.#toOutbox(event);
      this.#deliveredSinceReport += subscriptions.deliver(event);
    }
    this.#scheduleReport();
    return queue.length;
  }

  /** The bus history, oldest first, optionally filtered (answered from indices). */
  history(query?: HistoryQuery): BusEvent[] {
    checkHistoryQuery(query, 'history query');
    return this.#history.query(query);
  }

  /** The event with this id in the history, if any. */
  get(id: string): BusEvent | undefined {
    if (typeof id !== 'string') throw new InvalidOptionError('get id', `expected an event id (a string), got ${describe(id)}.`);
    return this.#history.get(id);
  }

  /** The queue: accepted `deferred` events not yet delivered, oldest first. */
  queue(): readonly BusEvent[] {
    return [...this.#queue];
  }

  /**
   * Sends the queue and the history the station has not seen to the local
   * station of this side in one batch, retires this bus, and returns the
   * thread's new bus (generation + 1, empty history and queue, same subscriptions).
   * If the hop fails, nothing is lost: the events move to the new bus and the
   * call rejects with a `TransportError`.
   */
  async toStation(): Promise<Bus> {
    this.#thread.assertRunning('toStation');
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    this.#enter('TO_STATION', 'toStation', 'handingOver');
    this.#flush();
    // Taken now (a pending report would otherwise send it during the hop): the step that ends this call carries it.
    const activity = this.#activity();
    const batch: EventBatch = {
      kind: 'batch',
      seq: 0,
      from: this.endpoint,
      history: this.#unsent(),
      queue: this.#queue,
    };
    const history = this.#history;
    const queue = this.#queue;
    this.#retired = true;
    this.#queue = [];
    // A retired bus takes no posts: its producers continue on the successor.
    this.#settleRoom();
    const thread = this.#thread;
    // Parked from now on (the successor's deferred posts count them), until the station says how many it holds.
    thread.noteParked(this.side, thread.parked(this.side) + queue.length);
    const noted = thread.parkedNotes(this.side);
    // The batch leaves first: the successor (a new actor) is built while the station merges it.
    const accepting = thread.host.stationLink(this.side).accept(batch);
    const successor = thread.succeed(this);
    try {
      const { parked } = await accepting;
      thread.noteParked(this.side, parked);
    } catch (error) {
      // Refused: the queue comes back here. A station that spoke meanwhile (the successor read) counted without it.
      if (thread.parkedNotes(this.side) === noted) thread.noteParked(this.side, Math.max(0, thread.parked(this.side) - queue.length));
      successor.#adopt(history, queue, batch.history);
      if (activity.activity !== undefined) this.#actor.send({ type: 'ACTIVITY', ...activity.activity, queued: 0 });
      this.#actor.send({ type: 'HANDOVER_FAILED', reason: String(error) });
      throw isBusError(error) && error.code !== 'FRAME_CORRUPT'
        ? error
        : new TransportError(
            'toStation() failed; nothing was lost: the events stayed in this thread on its new bus (runtime.bus(side)).',
            { cause: error },
          );
    }
    this.#actor.send({ type: 'HANDED_OVER', events: batch.history.length + batch.queue.length, ...activity });
    return successor;
  }

  /** The history the station has not seen, sorted (a copy of the outbox). */
  #unsent(): BusEvent[] {
    const unsent = this.#outbox.slice();
    return this.#outboxSorted ? unsent : unsent.sort(compareEvents);
  }

  /** Adds an event that joined the history to what the station has not seen. */
  #toOutbox(event: BusEvent): void {
    const last = this.#outbox[this.#outbox.length - 1];
    if (last !== undefined && compareEvents(last, event) > 0) this.#outboxSorted = false;
    this.#outbox.push(event);
  }

  /** Forgets outbox events a sync delivered to the station; what joined meanwhile stays. */
  #sent(events: readonly BusEvent[]): void {
    const count = events.length;
    const outbox = this.#outbox;
    if (count > 0 && outbox[0] === events[0] && outbox[count - 1] === events[count - 1] && this.#outboxSorted) {
      // Sent in outbox order, and only appended to since: the sent ones are its first `count`.
      this.#outbox = outbox.slice(count);
    } else {
      const sent = new Set(events);
      this.#outbox = outbox.filter((event) => !sent.has(event));
    }
    if (this.#outbox.length === 0) this.#outboxSorted = true;
    this.#settleRoom();
  }

  /** Takes back what a failed `toStation()` of the previous generation carried. */
  #adopt(history: EventHistory, queue: readonly BusEvent[], unsent: readonly BusEvent[]): void {
    this.#history.merge(history.snapshot());
    this.#queue = mergeQueue(this.#queue, queue);
    // Older than what this bus posted: they go first (a drained event may be older still).
    if (unsent.length > 0 && this.#outbox.length > 0) this.#outboxSorted = false;
    this.#outbox = [...unsent, ...this.#outbox];
  }

  /**
   * Merges the station's history (only `types`, if given) into this bus and
   * takes back this thread's parked queue entries. Events new to this thread
   * are delivered to its subscribers once each. With `side` set to the other
   * side, reads that side's station if the bridge allows it (history only).
   */
  async fromStation(options?: FromStationOptions): Promise<FromStationResult> {
    this.#thread.assertRunning('fromStation');
    const side = readableSide(options, 'fromStation', this.side, this.#thread.host);
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    // Checked again: the bridge may have closed while the policy's sync ran.
    readableSide(options, 'fromStation', this.side, this.#thread.host);
    this.#enter('FROM_STATION', 'fromStation', 'receiving', side);
    let reply: Read;
    try {
      reply = await this.#read(side, options?.types);
    } catch (error) {
      this.#failReceive(error);
      throw isBusError(error) ? error : new TransportError('fromStation() failed; nothing changed.', { cause: error });
    }
    return this.#receive(reply);
  }

  /**
   * Reads a station: an unfiltered read asks only for what arrived after the
   * last one (`since`), since everything before it is merged here already.
   */
  async #read(side: Side, types: readonly string[] | undefined, limit?: number): Promise<Read> {
    const since = types === undefined ? this.#through[side] : 0;
    const mark = this.#thread.delivered(this.side, side);
    const { batch, through, parked, alreadyDelivered } = await this.#thread.host.stationLink(side).serve({
      kind: 'syncRequest',
      seq: 0,
      from: this.endpoint,
      side,
      ...(types === undefined ? {} : { types: [...types] }),
      ...(since > 0 ? { since } : {}),
      // Only an unfiltered read goes on from where the last one stopped, so only it may stop early.
      ...(limit === undefined || types !== undefined ? {} : { limit }),
      // What arrived through the mark is delivered here already: the station puts it first and counts it.
      ...(mark.through > since ? { deliveredThrough: mark.through } : {}),
    });
    if (types === undefined) this.#through[side] = through;
    return {
      batch,
      // Only a read of this bus's own side hands parked entries back, and says how many are left.
      parked: side === this.side ? parked : undefined,
      alreadyDelivered: alreadyDelivered ?? 0,
      delivery: { mark, since, through, filtered: types !== undefined },
    };
  }

  /** Merges a station's reply, delivers what is new to this thread, and ends the receiving state. */
  #receive(reply: Read): FromStationResult {
    // Synchronous from here to RECEIVED, which carries what was held.
    const result = this.#merge(reply);
    this.#actor.send({ type: 'RECEIVED', added: result.added.length, queued: this.#queue.length, ...this.#activity() });
    return result;
  }

  /** Merges a station's reply and delivers what is new to this thread; the caller ends the receiving state at once. */
  #merge(read: Read): FromStationResult {
    const { batch: reply, parked, alreadyDelivered = 0 } = read;
    this.#reportsHeld = false;
    // A sync that was skipped while this read ran (BUS_BUSY) is asked for again.
    queueMicrotask(() => this.#settleRoom());
    // The station put what this thread has delivered already first: merged, not delivered again.
    const history = reply.history;
    const known = Math.min(alreadyDelivered, history.length);
    const merged = known === 0 ? [] : this.#history.merge(known === history.length ? history : history.slice(0, known));
    const fresh = known === history.length ? [] : this.#history.merge(known === 0 ? history : history.slice(known));
    const added = merged.length === 0 ? fresh : fresh.length === 0 ? merged : merged.concat(fresh).sort(compareEvents);
    if (history.length > 0) this.#thread.clock.observe(history[history.length - 1]!.timestamp);
    this.#queue = mergeQueue(this.#queue, reply.queue);
    // Counted as parked no longer once they are in the queue, not before.
    this.#thread.noteParked(this.side, parked);
    if (reply.queue.length > 0) this.#scheduleIdle();
    const subscriptions = this.#thread.subscriptions(this.side);
    const { delivery } = read;
    for (const event of fresh) {
      if (event.origin.processor === this.endpoint.processor && event.origin.thread === this.endpoint.thread) continue;
      if (delivery !== undefined) {
        if (delivery.mark.deliveredAhead(event.id)) continue;
        if (delivery.filtered) delivery.mark.noteAhead(event.id, delivery.through);
      }
      this.#deliveredSinceReport += subscriptions.deliver(event);
    }
    if (delivery !== undefined && !delivery.filtered) delivery.mark.noteUnfiltered(delivery.since, delivery.through);
    return { added, handedBack: reply.queue.length };
  }

  /** Ends a call that failed (with what its read merged, if it got that far): what was held is reported on its own. */
  #failReceive(error: unknown, merged?: FromStationResult): void {
    this.#reportsHeld = false;
    this.#settleRoom(error);
    this.#report();
    this.#actor.send({
      type: 'RECEIVE_FAILED',
      reason: String(error),
      ...(merged === undefined ? {} : { added: merged.added.length, queued: this.#queue.length }),
    });
  }

  /**
   * Shares what this bus has that its station has not seen and merges the
   * station's history back (only `types`, if given), both sent at once —
   * without retiring the bus or moving its queue. If the sharing fails, what
   * the read brought is still merged, the events wait for the next sync, and
   * the call rejects. This is what the automatic sync policy
   * (`createRuntime({ sync: { everyMs } })`) runs; a bus you hold stays valid.
   * Under the policy, a bus whose subscribers have returned promises reads
   * only as many events as `sync.maxInFlight` leaves credits for (none: it
   * reads nothing); the station keeps the rest for the next sync.
   */
  async sync(options?: SyncOptions): Promise<FromStationResult> {
    this.#thread.assertRunning('sync');
    checkSyncOptions(options);
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    this.#enter('FROM_STATION', 'sync', 'receiving', this.side);
    this.#flush();
    this.#sinceSync = 0;
    const unsent = this.#unsent();
    // The batch and the read go out together, one wake-up of the station's
    // thread instead of two: a station takes what arrives in order, and a read
    // with `since` leaves out what this bus sent anyway. The batch's outcome is
    // settled at once, so a refusal while the read runs is never unhandled.
    const accepting = unsent.length === 0 ? undefined : this.#share(unsent);
    // Subscribers that are behind get no more than they have credits for; the station keeps the rest.
    const credits = options?.types === undefined ? this.#readCredits() : undefined;
    let reply: Read | undefined;
    let failure: { error: unknown } | undefined;
    try {
      if (credits === 0) {
        this.#thread.subscriptions(this.side).readHeld = true;
        reply = { batch: { kind: 'batch', seq: 0, from: this.endpoint, history: [], queue: [] } };
      } else {
        reply = await this.#read(this.side, options?.types, credits);
      }
    } catch (error) {
      failure = { error };
    }
    if (accepting !== undefined) {
      const { sent, refused } = await accepting;
      // What was refused stays unsent, for the next sync.
      this.#heldBack = refused !== undefined && isBusError(refused.error, 'BUS_FULL');
      if (sent.length > 0) this.#sent(sent);
      failure ??= refused;
    }
    if (failure === undefined) {
      const result = this.#receive(reply!);
      // Delivered first, so that the credits its events took are counted.
      if (credits !== undefined && credits > 0 && reply!.batch.history.length >= credits) this.#moreToRead();
      return result;
    }
    // A read that arrived is merged even when the batch failed: its parked entries have left the station.
    this.#failReceive(failure.error, reply === undefined ? undefined : this.#merge(reply));
    const { error } = failure;
    throw isBusError(error) ? error : new TransportError('sync() failed; nothing was lost.', { cause: error });
  }

  /**
   * Sends `unsent` to the station: resolves with what it took, and its
   * refusal of the rest. Held back for a slow reader, the bus first sends one
   * event to ask whether the station takes batches again, rather than have
   * its whole outbox carried, scanned and refused every period.
   */
  async #share(unsent: readonly BusEvent[]): Promise<{ sent: readonly BusEvent[]; refused?: { error: unknown } }> {
    const link = this.#thread.host.stationLink(this.side);
    // Its Ack's parked count is not taken: the read's, noted as its entries join the queue, is.
    const send = (history: readonly BusEvent[]) => link.accept({ kind: 'batch', seq: 0, from: this.endpoint, history, queue: [] });
    let sent = 0;
    try {
      if (this.#heldBack && unsent.length > 1) {
        await send(unsent.slice(0, 1));
        sent = 1;
      }
      await send(sent === 0 ? unsent : unsent.slice(sent));
      return { sent: unsent };
    } catch (error) {
      return { sent: unsent.slice(0, sent), refused: { error } };
    }
  }

  /**
   * @internal The automatic sync policy's `sync()`. A call of the user's
   * (`fromStation()`, `sync()`, `toStation()`) made meanwhile waits for it
   * instead of being refused as busy; the policy's sync skips (BUS_BUSY) a
   * bus that is busy with the user's.
   */
  autoSync(): Promise<FromStationResult> {
    const running = this.sync();
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.#autoSync = settled;
    void settled.then(() => {
      if (this.#autoSync === settled) this.#autoSync = undefined;
    });
    return running;
  }

  /** Resolves once no sync of the policy is under way on this bus. */
  async #afterAutoSync(): Promise<void> {
    while (this.#autoSync !== undefined) await this.#autoSync;
  }

  /** A limited read was full: read on at once if credits are back, or when they are. */
  #moreToRead(): void {
    if (!this.#creditRoom()) {
      this.#thread.subscriptions(this.side).readHeld = true;
      return;
    }
    // After this sync ends (a request during a tick starts one more afterwards).
    queueMicrotask(() => this.#thread.host.requestSync?.(this.side));
  }

  /**
   * `toStation()` then `fromStation()` on the new bus: the thread ends with its
   * original queue and the entire station history, its own events included.
   * Returns the new bus.
   */
  async roundTrip(options?: FromStationOptions): Promise<Bus> {
    this.#thread.assertRunning('roundTrip');
    // What the read would refuse is refused before the handover: a refused call changes nothing.
    readableSide(options, 'roundTrip', this.side, this.#thread.host);
    if (this.#retired) throw new BusRetiredError('roundTrip()');
    const next = await this.toStation();
    await next.fromStation(options);
    return next;
  }

  /** @internal Removes every event of `side` (a bridge clearing). Returns how many. */
  clearSide(side: Side): number {
    const removed = this.#history.removeWhere((event) => event.side === side);
    // What was removed may be wanted again (the bridge reopens): read stations whole next time.
    if (removed.length > 0) this.#through = { internal: 0, external: 0 };
    if (removed.length > 0) {
      const gone = new Set(removed.map((event) => event.id));
      this.#pending = this.#pending.filter((event) => !gone.has(event.id));
      this.#actor.send({ type: 'CLEARED', removed: removed.length });
    }
    return removed.length;
  }

  /** Sends a sync event to the actor and checks that the chart accepted it. */
  #enter(type: 'TO_STATION' | 'FROM_STATION', call: string, expected: string, side?: Side): void {
    const before = this.#actor.getSnapshot();
    if (type === 'TO_STATION') this.#actor.send({ type });
    else this.#actor.send({ type, side: side ?? this.side });
    const after = this.#actor.getSnapshot();
    if (after.value === expected && before.value !== expected) {
      if (type === 'FROM_STATION') {
        this.#reportsHeld = true;
        this.#receivingCall = call;
      }
      return;
    }
    if (after.value === 'receiving') throw new BusBusyError(call, this.#receivingCall);
    // Its toStation() has not finished: it is not retired yet, and may yet hand back to a successor.
    if (after.value === 'handingOver' && type === 'TO_STATION') throw new BusBusyError(call, 'toStation');
    throw new BusRetiredError(`${call}()`);
  }

  /** Delivers pending `normal` events now. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    const subscriptions = this.#thread.subscriptions(this.side);
    for (const event of pending) this.#deliveredSinceReport += subscriptions.deliver(event);
  }

  #scheduleReport(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flush();
      this.#report();
    });
  }

  /** Tells the actor what happened since the last report: once per batch, never per event. */
  #report(): void {
    if (this.#reportsHeld || (this.#postedSinceReport === 0 && this.#deliveredSinceReport === 0)) return;
    if (this.#actor.getSnapshot().status !== 'active') return;
    const queued = this.#queue.length;
    const { activity } = this.#activity();
    this.#actor.send({ type: 'ACTIVITY', ...activity!, queued });
  }

  /**
   * What happened since the last report, taken for a step that ends a sync
   * call to carry (one statechart step fewer than an ACTIVITY of its own).
   */
  #activity(): { activity?: ActivityReport } {
    if (this.#postedSinceReport === 0 && this.#deliveredSinceReport === 0) return {};
    const activity = { posted: this.#postedSinceReport, delivered: this.#deliveredSinceReport, lastId: this.#lastId };
    this.#postedSinceReport = 0;
    this.#deliveredSinceReport = 0;
    return { activity };
  }

  #scheduleIdle(): void {
    if (this.#idleScheduled || this.#thread.host.deferred !== 'idle') return;
    this.#idleScheduled = true;
    setImmediate(() => {
      this.#idleScheduled = false;
      if (!this.#retired && this.#thread.host.running) this.drain();
    });
  }
}

/** A station's reply to a read, with the parked count it told (reads of the bus's own side). */
interface Read {
  readonly batch: EventBatch;
  readonly parked?: number;
  /** How many of the history's first events the thread has delivered already (the station counted them). */
  readonly alreadyDelivered?: number;
  /** For a read that reached a station: the thread's mark of that station, where the read started and how far it is complete. */
  readonly delivery?: {
    readonly mark: DeliveredMark;
    readonly since: number;
    readonly through: number;
    readonly filtered: boolean;
  };
}

/** `maxQueued` (deferred events a thread may hold per side, queued or parked) when `createRuntime` does not set it. */
export const DEFAULT_MAX_QUEUED = 65_536;

function validMeta(meta: unknown): Readonly<Record<string, string>> {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new InvalidOptionError('post options.meta', 'expected an object of string values.');
  }
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_ENTRIES) {
    throw new InvalidOptionError('post options.meta', `has ${entries.length} entries; at most ${MAX_META_ENTRIES} are allowed.`);
  }
  for (const [key, value] of entries) {
    assertLabel(key, 'post options.meta key');
    assertLabel(value, `post options.meta.${key}`);
  }
  return { ...(meta as Record<string, string>) };
}
