/**
 * A bus: the event bus of one thread and side, with its own history and queue.
 * Posting and delivery take a direct path through the stores; the bus actor
 * (`machines/bus.machine.ts`) owns the lifecycle and the sync protocol and
 * hears about posts once per flushed batch. Flow control lives in
 * `back-pressure.ts`, the station's end of a sync in `station-exchange.ts`,
 * what the station has not seen in `outbox.ts`.
 */
import type { Actor } from 'xstate';
import { BusBusyError, BusRetiredError, InvalidOptionError, TransportError, isBusError } from '../../errors.js';
import type { busMachine } from '../../machines/bus.machine.js';
import type { BusEvent, Endpoint, Payload, Side } from '../../types.js';
import { readableSide, readOptionsOnce } from '../bridge/bridge.js';
import { checkHistoryQuery, type EventHistory } from '../store/history.js';
import type { HistoryQuery } from '../store/history-query.js';
import type { MemoryStats } from '../store/memory-stats.js';
import type { Retention } from '../store/retention.js';
import type { EncodedEvent } from '../store/encoded-events.js';
import { findInHistory, searchHistory } from '../store/history-search.js';
import type { EventBatch } from '../wire/protocol.js';
import { describe } from '../validate.js';
import { ActivityReports } from './activity-reports.js';
import { provideBusControl } from './bus-control.js';
import { BackPressure } from './back-pressure.js';
import { checkSyncOptions, type FromStationOptions, type FromStationResult, type PostOptions, type PostOptionsArg, type RoomOptions, type SyncOptions } from './bus-options.js';
import type { BusThread } from './bus-thread.js';
import type { Outbox } from './outbox.js';
import { StationExchange, type Read } from './station-exchange.js';
import { deliverRead, mergeQueue, mergeReadHistory } from './read-merge.js';
import type { Handler, SubscribeOptions, Subscription } from './subscriptions.js';
import { AwaitableBus, provideBusParts } from './bus-awaits.js';
import { busOutbox, busRetention } from './memory-reports.js';
import { readFramerOf } from './read-framer.js';
import { stampPost, type PostContext } from './posting.js';
import { awaited } from './request-reply.js';
import type { AnyEvents, EventOf, MapKind, EventTypeOf, PostedEvent, PostPayload, SubscribedEvent, TypedHistoryQuery, TypedReadOptions, ValidPatterns } from './typed-events.js';

export type { FromStationOptions, FromStationResult, PostOptions, RoomOptions, SyncOptions } from './bus-options.js';

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
export class Bus<E = AnyEvents> extends AwaitableBus<E> {
  /** Types only: undefined at run time. Says in the compiler's error why a typed bus is no `Bus` (any type, any payload): take any bus as `<E>(bus: Bus<E>)`. */
  declare readonly eventMap?: MapKind<E>;
  readonly side: Side;
  readonly endpoint: Endpoint;
  /** What `stampPost()` needs; its origin object is shared by all of this bus's events. */
  readonly #posting: PostContext;
  readonly #thread: BusThread<Bus>;
  readonly #actor: Actor<typeof busMachine>;
  readonly #retention: Retention;
  readonly #history: EventHistory;
  /** Accepted `deferred` events not yet delivered, in order. */
  #queue: BusEvent[] = [];
  readonly #outbox: Outbox;
  readonly #pressure: BackPressure;
  readonly #station: StationExchange;
  /** The automatic sync policy's `sync()` under way: a user's own sync call waits for it rather than being refused. */
  #autoSync: Promise<void> | undefined;
  /** The call that holds the receiving state, for a refusal's message. */
  #receivingCall = 'fromStation';
  /** `normal` events waiting for the microtask flush. */
  #pending: BusEvent[] = [];
  #flushScheduled = false;
  #idleScheduled = false;
  #retired = false;
  /** Posts since the last sync, for the automatic policy's `maxBatch`. */
  #sinceSync = 0;
  readonly #reports: ActivityReports;

  static {
    // A class static block shares the private members with this module alone: the runtime's own
    // modules reach them through `busControl`, and the public class shows none of them.
    provideBusControl({
      actor: (bus) => (bus as Bus).#actor,
      autoSync: (bus) => (bus as Bus).#runAutoSync(),
      subscribersSettled: (bus) => (bus as Bus).#pressure.subscribersSettled(),
      halt: (bus) => (bus as Bus).#pressure.halt(),
      clearSide: (bus, side) => (bus as Bus).#clearSide(side),
      thread: (bus) => (bus as Bus).#thread,
    });
  }

  /** @internal Created by the runtime; use `runtime.bus(side)`. */
  constructor(thread: BusThread<Bus>, side: Side, generation: number, actor: (endpoint: Endpoint) => Actor<typeof busMachine>) {
    super();
    const pipeline = thread.pipeline(side);
    provideBusParts(this, {
      clock: thread.host.clock,
      schemas: thread.host.schemas,
      subscriptions: () => thread.subscriptions(side),
      whenHalted: (stopped) => thread.whenHalted(stopped),
      pipeline,
      retired: () => this.#retired,
      assertRunning: (call) => thread.assertRunning(call),
      depths: () => ({ queued: this.#queue.length, parked: this.parked, unsent: this.#outbox.length }),
      current: () => thread.bus(side),
    });
    this.#thread = thread;
    this.side = side;
    this.endpoint = { processor: thread.processor, thread: thread.index, generation, side };
    const origin = Object.freeze({ processor: thread.processor, thread: thread.index, generation });
    this.#posting = { thread, side, origin, pipeline, schemas: thread.host.schemas, admit: (type, priority, local) => this.#pressure.admit(type, priority, local), payloadBytes: -1, sequence: -1, local: false };
    this.#actor = actor(this.endpoint);
    this.#reports = new ActivityReports(this.#actor, (sequence) => thread.idOf(sequence));
    this.#retention = busRetention(thread, side);
    this.#history = this.#retention.history;
    this.#outbox = busOutbox(thread, side, this.#retention);
    this.#pressure = new BackPressure(thread, side, {
      retired: () => this.#retired,
      unsent: () => this.#outbox.length,
      queued: () => this.#queue.length,
      pending: () => this.#pending.length,
      outbox: this.#outbox,
    });
    this.#station = new StationExchange(thread, this.endpoint);
  }

  /** The bus generation in its thread: 0 first, +1 after each `toStation()`. */
  get generation(): number {
    return this.endpoint.generation;
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
    return this.#pressure.room(options);
  }

  /**
   * Posts an event: stamps it, records it in the history (an `immediate` one whose policy says `removeAfterDelivery`
   * is delivered without: it would leave at once) and delivers it by its priority. Returns the stamped event.
   * Unless `local`, it goes to the station too (at the next sync).
   *
   * @example
   * bus.post('order.created', { orderId: 'o-1' }, { priority: 'immediate' })
   */
  post<K extends keyof E & string, P, O extends PostOptions = PostOptions>(type: K, payload: PostPayload<E, K, P>, options?: PostOptionsArg<O>): PostedEvent<E, K, P> {
    if (this.#retired) throw new BusRetiredError('post()');
    this.#thread.assertRunning('post');
    const thread = this.#thread;
    const event = stampPost(this.#posting, type, payload as Payload, options);
    const priority = event.priority;
    const local = this.#posting.local;
    // An immediate event that its policy removes after delivery would leave the history as soon as its subscribers return: it never joins.
    const joins = priority !== 'immediate' || !this.#retention.policies.removesAfterDelivery(type);
    // Its size limit and the history's `refuseNew` limits and budget (if it joins); its stamp and id are used up either way.
    const size = this.#retention.admitPost(event, joins, this.#posting.payloadBytes);
    if (!local) this.#pressure.admitUnsent(event, size);
    this.#reports.posted++;
    this.#reports.lastSequence = this.#posting.sequence;
    const subscriptions = thread.subscriptions(this.side);
    subscriptions.metrics?.posted(type);
    // An immediate delivery is told to it directly; later ones find it by the event's id.
    const after = this.#posting.pipeline.watch(priority === 'deferred' ? event : undefined);
    if (after !== undefined && priority !== 'immediate') subscriptions.watch(event.id, after);
    if (priority === 'deferred') {
      this.#queue.push(event);
      this.#scheduleIdle();
      this.#scheduleReport();
      return event as PostedEvent<E, K, P>;
    }
    const maxBatch = thread.host.maxBatch;
    // A request or a reply (`request-reply.ts`) is awaited elsewhere: it asks for a sync as a full batch does.
    if (!local && ((maxBatch !== undefined && ++this.#sinceSync >= maxBatch) || (thread.host.requestSync !== undefined && awaited(type, event.meta)))) {
      this.#sinceSync = 0;
      // After this post is in the history, so the sync it asks for carries it.
      queueMicrotask(() => thread.host.requestSync?.(this.side));
    }
    if (joins) this.#history.insert(event, size);
    this.#retention.settle();
    // Its stamp is after everything this thread has seen: the outbox stays sorted. It goes to the station whatever this history keeps.
    if (!local) this.#outbox.push(event, size);
    // No sync frames a local event for the history: the small reads' framer does (`read-framer.ts`).
    else if (joins) readFramerOf(this.#retention)?.keptOne(event);
    if (priority === 'immediate') this.#reports.delivered += subscriptions.deliver(event, after);
    else this.#pending.push(event);
    this.#scheduleReport();
    return event as PostedEvent<E, K, P>;
  }

  /**
   * Subscribes to events of `types`: types (subtype matching: `user` gets `user.login`) or
   * patterns (`user.*`, `user.>`, `*`; see `type-patterns.ts`). On a typed runtime the handler gets their events' union.
   * Subscriptions belong to the thread and carry over to the next bus generation.
   */
  subscribe<P = never, const T extends string | readonly string[] = string | readonly string[]>(
    types: T & ValidPatterns<E, T>,
    handler: (event: SubscribedEvent<E, T, P>) => unknown,
    options?: SubscribeOptions<SubscribedEvent<E, T, P>>,
  ): Subscription {
    if (this.#retired) throw new BusRetiredError('subscribe()');
    this.#thread.assertRunning('subscribe');
    return this.#thread.subscriptions(this.side).add(types, handler as Handler, options as SubscribeOptions | undefined);
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
      this.#outbox.add(event);
      this.#reports.delivered += subscriptions.deliver(event);
    }
    this.#afterDelivery(queue);
    this.#retention.settle();
    this.#scheduleReport();
    return queue.length;
  }

  /** Events whose policy says `removeAfterDelivery` leave the history once every subscriber has been called. */
  #afterDelivery(delivered: readonly BusEvent[]): void {
    const policies = this.#retention.policies;
    if (policies.afterDelivery) this.#retention.remove(delivered.filter((event) => policies.removesAfterDelivery(event.type)));
  }

  /**
   * The bus history, oldest first, optionally filtered (answered from
   * indices). On a typed runtime the events are those `types` match. Events
   * whose policy says `removeAfterSearch` leave once returned.
   */
  history<const T extends readonly string[] = readonly string[]>(query?: TypedHistoryQuery<E, T>): Array<EventOf<E, T>> {
    return searchHistory(this.#retention, checkHistoryQuery(query, 'history query') as HistoryQuery) as Array<EventOf<E, T>>;
  }

  /** The event with this id in the history, if any (typed as any of the bus's events); it leaves if its policy says `removeAfterSearch`. */
  get(id: string): EventOf<E> | undefined {
    if (typeof id !== 'string') throw new InvalidOptionError('get id', `expected an event id (a string), got ${describe(id)}.`);
    return findInHistory(this.#retention, id) as EventOf<E> | undefined;
  }

  /** This bus's history against its memory budget (bytes, count, multipliers, by type) and its unsent events; undefined without `memory.budget`. */
  memory(): MemoryStats | undefined {
    const stats = this.#retention.memoryStats();
    return stats === undefined ? undefined : { ...stats, unsent: { count: this.#outbox.length, bytes: this.#outbox.bytes } };
  }

  /** The queue: accepted `deferred` events not yet delivered, oldest first. */
  queue(): ReadonlyArray<EventOf<E>> {
    return [...this.#queue] as Array<EventOf<E>>;
  }

  /**
   * Sends the queue and the history the station has not seen to the local
   * station of this side in one batch, retires this bus, and returns the
   * thread's new bus (generation + 1, empty history and queue, same subscriptions).
   * If the hop fails, nothing is lost: the events move to the new bus and the
   * call rejects with a `TransportError`.
   */
  async toStation(): Promise<Bus<E>> {
    this.#thread.assertRunning('toStation');
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    this.#enter('TO_STATION', 'toStation', 'handingOver');
    this.#flush();
    // Taken now (a pending report would otherwise send it during the hop): the step that ends this call carries it.
    const activity = this.#reports.take();
    const batch: EventBatch = {
      kind: 'batch',
      seq: 0,
      from: this.endpoint,
      history: this.#outbox.unsent(),
      queue: this.#queue,
    };
    const history = this.#history;
    const queue = this.#queue;
    this.#retired = true;
    this.#queue = [];
    // A retired bus takes no posts: its producers continue on the successor.
    this.#pressure.settle();
    const thread = this.#thread;
    // Parked from now on (the successor's deferred posts count them), until the station says how many it holds.
    thread.noteParked(this.side, thread.parked(this.side) + queue.length);
    const noted = thread.parkedNotes(this.side);
    // The batch leaves first: the successor (a new actor) is built while the station merges it.
    const accepting = thread.host.stationLink(this.side).accept(batch);
    const successor = thread.succeed(this as unknown as Bus) as unknown as Bus<E>;
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

  /** Takes back what a failed `toStation()` of the previous generation carried. */
  #adopt(history: EventHistory, queue: readonly BusEvent[], unsent: readonly BusEvent[]): void {
    this.#history.merge(history.snapshot());
    this.#queue = mergeQueue(this.#queue, queue);
    this.#outbox.takeBack(unsent);
  }

  /**
   * Forgets outbox events a sync delivered to the station: producers waiting
   * for room may go on. Those the hop encoded (`framed`) stay in the history
   * as their places in its frames, not as objects.
   */
  #sent(events: readonly BusEvent[], framed: readonly EncodedEvent[]): void {
    if (framed.length > 0) this.#retention.adopt(framed.length === events.length ? events : events.slice(0, framed.length), framed);
    this.#outbox.sent(events);
    this.#pressure.settle();
  }

  /**
   * Merges the station's history (only `types`, if given) into this bus and
   * takes back this thread's parked queue entries. Events new to this thread
   * are delivered to its subscribers once each. With `side` set to the other
   * side, reads that side's station if the bridge allows it (history only).
   */
  async fromStation<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromStationOptions, E, T>): Promise<FromStationResult<EventOf<E, T>>> {
    this.#thread.assertRunning('fromStation');
    options = readOptionsOnce(options, 'fromStation');
    const side = readableSide(options, 'fromStation', this.side, this.#thread.host);
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    // Checked again: the bridge may have closed while the policy's sync ran.
    readableSide(options, 'fromStation', this.side, this.#thread.host);
    this.#enter('FROM_STATION', 'fromStation', 'receiving', side);
    let reply: Read;
    try {
      reply = await this.#station.read(side, options?.types);
    } catch (error) {
      this.#failReceive(error);
      throw isBusError(error) ? error : new TransportError('fromStation() failed; nothing changed.', { cause: error });
    }
    return this.#receive(reply) as FromStationResult<never>;
  }

  /** Merges a station's reply, delivers what is new to this thread, and ends the receiving state. */
  #receive(reply: Read): FromStationResult {
    // Synchronous from here to RECEIVED, which carries what was held.
    const result = this.#merge(reply);
    this.#actor.send({ type: 'RECEIVED', added: result.added.length, queued: this.#queue.length, ...this.#reports.take() });
    return result;
  }

  /** Merges a station's reply and delivers what is new to this thread; the caller ends the receiving state at once. */
  #merge(read: Read): FromStationResult {
    const reply = read.batch;
    this.#reports.held = false;
    // A sync that was skipped while this read ran (BUS_BUSY) is asked for again.
    queueMicrotask(() => this.#pressure.settle());
    const { added, delivering } = mergeReadHistory(this.#history, this.#retention, read);
    if (reply.history.length > 0) this.#thread.clock.observe(reply.history[reply.history.length - 1]!.timestamp);
    this.#queue = mergeQueue(this.#queue, reply.queue);
    // Counted as parked no longer once they are in the queue, not before.
    this.#thread.noteParked(this.side, read.parked);
    if (reply.queue.length > 0) this.#scheduleIdle();
    this.#reports.delivered += deliverRead(delivering, read, this.endpoint, this.#thread.subscriptions(this.side));
    return { added, handedBack: reply.queue.length };
  }

  /** Ends a call that failed (with what its read merged, if it got that far): what was held is reported on its own. */
  #failReceive(error: unknown, merged?: FromStationResult): void {
    this.#reports.held = false;
    this.#pressure.settle(error);
    this.#reports.report(this.#queue.length);
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
  sync<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<SyncOptions, E, T>): Promise<FromStationResult<EventOf<E, T>>> {
    const metrics = this.#thread.subscriptions(this.side).metrics;
    return (metrics === undefined ? this.#sync(options) : metrics.timeSync(() => this.#sync(options))) as Promise<FromStationResult<never>>;
  }

  async #sync(options?: SyncOptions): Promise<FromStationResult> {
    this.#thread.assertRunning('sync');
    options = checkSyncOptions(options);
    if (this.#autoSync !== undefined) await this.#afterAutoSync();
    this.#enter('FROM_STATION', 'sync', 'receiving', this.side);
    this.#flush();
    this.#sinceSync = 0;
    const unsent = this.#outbox.unsent();
    // The batch and the read go out together, one wake-up of the station's
    // thread instead of two: a station takes what arrives in order, and a read
    // with `since` leaves out what this bus sent anyway. The batch's outcome is
    // settled at once, so a refusal while the read runs is never unhandled.
    const accepting = unsent.length === 0 ? undefined : this.#station.share(unsent, this.#pressure.heldBack);
    // Subscribers that are behind get no more than they have credits for; the station keeps the rest.
    const credits = options?.types === undefined ? this.#pressure.readCredits() : undefined;
    let reply: Read | undefined;
    let failure: { error: unknown } | undefined;
    try {
      if (credits === 0) {
        this.#pressure.holdRead();
        reply = this.#station.nothing();
      } else {
        reply = await this.#station.read(this.side, options?.types, credits);
      }
    } catch (error) {
      failure = { error };
    }
    if (accepting !== undefined) {
      const { sent, framed, refused } = await accepting;
      // What was refused stays unsent, for the next sync.
      this.#pressure.heldBack = refused !== undefined && isBusError(refused.error, 'BUS_FULL');
      if (sent.length > 0) this.#sent(sent, framed);
      failure ??= refused;
    }
    if (failure === undefined) {
      const result = this.#receive(reply!);
      // Delivered first, so that the credits its events took are counted.
      if (credits !== undefined && credits > 0 && reply!.batch.history.length >= credits) this.#pressure.moreToRead();
      return result;
    }
    // A read that arrived is merged even when the batch failed: its parked entries have left the station.
    this.#failReceive(failure.error, reply === undefined ? undefined : this.#merge(reply));
    const { error } = failure;
    throw isBusError(error) ? error : new TransportError('sync() failed; nothing was lost.', { cause: error });
  }

  /** The automatic sync policy's `sync()` (see `BusControl.autoSync`). */
  #runAutoSync(): Promise<FromStationResult> {
    const running: Promise<FromStationResult> = this.sync() as Promise<FromStationResult<never>>;
    const settled = running.then(() => undefined, () => undefined);
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

  /**
   * `toStation()` then `fromStation()` on the new bus: the thread ends with its
   * original queue and the entire station history, its own events included.
   * Returns the new bus.
   */
  async roundTrip<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromStationOptions, E, T>): Promise<Bus<E>> {
    this.#thread.assertRunning('roundTrip');
    options = readOptionsOnce(options, 'roundTrip');
    // What the read would refuse is refused before the handover: a refused call changes nothing.
    readableSide(options, 'roundTrip', this.side, this.#thread.host);
    if (this.#retired) throw new BusRetiredError('roundTrip()');
    const next = await this.toStation();
    await next.fromStation(options);
    return next;
  }

  /** Removes every event of `side` (a bridge clearing). Returns how many. */
  #clearSide(side: Side): number {
    const removed = this.#history.removeWhere((event) => event.side === side);
    if (removed.length > 0) {
      // What was removed may be wanted again (the bridge reopens): read stations whole next time.
      this.#station.restart();
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
        this.#reports.held = true;
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
    for (const event of pending) this.#reports.delivered += subscriptions.deliver(event);
    this.#afterDelivery(pending);
  }

  #scheduleReport(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#reportTask);
  }

  /** Made once: a closure written in `#scheduleReport` would cost every post a context, scheduled or not. */
  readonly #reportTask = (): void => {
    this.#flush();
    this.#reports.report(this.#queue.length);
  };

  #scheduleIdle(): void {
    if (this.#idleScheduled || this.#thread.host.deferred !== 'idle') return;
    this.#idleScheduled = true;
    setImmediate(() => {
      this.#idleScheduled = false;
      if (!this.#retired && this.#thread.host.running) this.drain();
    });
  }
}
