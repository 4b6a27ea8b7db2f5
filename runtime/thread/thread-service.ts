/**
 * What runs inside a worker thread: the thread's two buses, their links to the
 * processor's stations over a frame channel, and the control API the host
 * calls. Kept apart from `workers/thread.worker.ts` so that it can also run
 * over a `MessageChannel` in one thread (tests, embedded use).
 *
 * Control calls carry their results back as frames (events) or plain numbers
 * and strings; errors come back as `{ code, message }` so that a `BusError`
 * keeps its code across the thread boundary.
 */
import { createActor } from 'xstate';
import { BusError, BusRetiredError, InvalidOptionError, RuntimeStoppedError, isBusError } from '../../errors.js';
import { fromWireError, toWireError, type WireError } from '../wire/wire-errors.js';
import { busMachine } from '../../machines/bus.machine.js';
import { decodeFrame } from '../../schemas/codec/index.js';
import { SIDES, type BridgeDirection, type BusEvent, type Endpoint, type Side } from '../../types.js';
import type { Bus } from '../bus/bus.js';
import { busControl } from '../bus/bus-control.js';
import { DEFAULT_MAX_QUEUED, type FromStationOptions, type PostOptions, type SyncOptions } from '../bus/bus-options.js';
import { ManualClock, systemClock } from '../clock.js';
import { FrameChannel, messagePortFrames, type MessagePortLike } from '../wire/frame-channel.js';
import { checkHistoryQuery } from '../store/history.js';
import type { HistoryQuery } from '../store/history-query.js';
import { assertSide, describe } from '../validate.js';
import { ChannelStationLink, HoldableStationLink, type ThreadHost } from '../station/links.js';
import type { Outcome, WireMessage } from '../wire/protocol.js';
import { batchFrames } from '../wire/transport.js';

export type { Outcome };
import { Thread } from './thread.js';
import { RemoteListeners, RemotePublishes, type SettledEvent } from './remote-listeners.js';
import type { PortableOutcome } from '../wire/portable-outcome.js';
import { moduleHref, type SpawnOptions, type UserActorInfo } from '../actors/user-actors.js';
import { SyncTimer, policyLimits, settleAll, type SyncPolicy } from '../station/sync-policy.js';
import { portInspectionTap } from '../inspection/ports.js';
import { realmName } from '../inspection/tap.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../store/memory-policy.js';
import { PayloadSchemas } from '../payload/payload-schemas.js';
import { stopServices } from '../services/registry.js';
import type { ResolvedMetrics } from '../metrics/bus-metrics.js';
import type { BusStats } from '../metrics/stats.js';
import type { MemoryStats } from '../store/memory-stats.js';
import { loadMiddlewareModules, type MiddlewareModuleSpec } from '../bus/middleware-modules.js';
import { reportingErrorHandler, type FailureOutlet } from './failure-reports.js';
import type { Middleware } from '../bus/middleware.js';

/** What a worker thread is started with. */
export interface ThreadServiceOptions {
  readonly processor: number;
  readonly thread: number;
  readonly deferred: 'idle' | 'manual';
  /** The bound on each thread's deferred events per side (bus queue and parked); default `DEFAULT_MAX_QUEUED`. */
  readonly maxQueued?: number;
  readonly bridge: BridgeDirection;
  /** Names a restarted thread, e.g. `"2"` or `"1.0"`; its event ids include it (see `Thread`). */
  readonly incarnation?: string;
  /** The automatic sync policy, if any: this thread syncs its own buses. */
  readonly sync?: SyncPolicy;
  /** Where this thread sends its inspection records (`runtime/inspection/ports.ts`); no inspection without it. */
  readonly inspectPort?: MessagePortLike;
  /** Inspection is on from the start (else the host turns it on over `inspectPort`). */
  readonly inspect?: boolean;
  /** The runtime's memory policies, if any (checked again here: they crossed from another thread). */
  readonly memory?: MemoryOptions;
  /** Set when the runtime records metrics (`createRuntime({ metrics })`): this thread's buses record them too. */
  readonly metrics?: ResolvedMetrics;
  /** The runtime's middleware modules (`{ module }` entries): the worker loads them before it serves (`startThreadService`). */
  readonly middleware?: readonly MiddlewareModuleSpec[];
  /**
   * Set when the runtime's clock is a `ManualClock`: this thread's clock is a
   * manual one at this time, which the runtime's `setClock` calls move.
   */
  readonly clockAt?: number;
  /**
   * Where this thread's failures go (a subscriber or an `after` middleware
   * threw): its host hands them on to the root's `onError`. Logged here without it.
   */
  readonly reportPort?: FailureOutlet;
}

/** What `ThreadApi.stats` answers: the metrics and memory of the thread's buses (of one side, if asked). */
export interface ThreadStats {
  /** One per side whose bus records metrics (none when metrics are off). */
  readonly buses: readonly BusStats[];
  /** One per side whose bus has a memory budget. */
  readonly memory: readonly MemoryStats[];
}


/** Events as frames of at most `EVENTS_PER_FRAME` events: how a control call returns events. */
export type EventsFrame = readonly Uint8Array[];

/** Events per frame of a control call's result, so any number of events fits the frame limits. */
export const EVENTS_PER_FRAME = 4096;

/** What `ThreadApi.post` answers: the posted events, in order, and the drafts it refused. */
export interface PostedDrafts {
  readonly events: EventsFrame;
  readonly refused: ReadonlyArray<{ readonly index: number } & WireError>;
}

/** History queries that can cross a thread: everything but `filter`. */
export type PortableQuery = Omit<HistoryQuery, 'filter'>;

/** The control API a worker thread exposes. Every method answers an `Outcome`. */
export interface ThreadApi {
  /**
   * Posts drafts (events whose id, timestamp and origin this thread fills in;
   * see `RemoteBus.post`) in order, each as `bus.post` would: the events
   * posted, and the drafts that were refused, by index. `local`: posted with `local: true`.
   */
  post(side: Side, generation: number, drafts: EventsFrame, local?: boolean): Promise<Outcome<PostedDrafts>>;
  toStation(side: Side, generation: number): Promise<Outcome<number>>;
  fromStation(side: Side, generation: number, options?: FromStationOptions): Promise<Outcome<{ added: EventsFrame; handedBack: number }>>;
  roundTrip(side: Side, generation: number, options?: FromStationOptions): Promise<Outcome<number>>;
  sync(side: Side, generation: number, options?: SyncOptions): Promise<Outcome<{ added: EventsFrame; handedBack: number }>>;
  drain(side: Side, generation: number): Promise<Outcome<number>>;
  /** Waits up to `waitMs` for `bus.room()`: true once there is room, false if the wait ran out first. */
  room(side: Side, generation: number, waitMs: number): Promise<Outcome<boolean>>;
  history(side: Side, query?: PortableQuery): Promise<Outcome<EventsFrame>>;
  queue(side: Side): Promise<Outcome<EventsFrame>>;
  state(side: Side): Promise<Outcome<BusCounts>>;
  /** `RemoteBus.stats()`, `memory()`, `runtime.stats()`: the thread's buses' metrics and memory, of `side` or of both. */
  stats(side?: Side): Promise<Outcome<ThreadStats>>;
  /**
   * Sets the thread's manual clock (see `clockAt`) and runs its timers due by
   * then; answers once the promise jobs they queued have run. False: the thread keeps the system clock.
   */
  setClock(ms: number): Promise<Outcome<boolean>>;
  /** @internal For tests: holds the replies of this thread's station link (`true`) or lets them through (see `HoldableStationLink`). */
  holdStationReplies(hold: boolean): Promise<Outcome<null>>;
  /** `RemoteBus.subscribe()`: listens to `types` of `side` for a caller elsewhere; the listener's id (see `remote-listeners.ts`). */
  listen(side: Side, types: readonly string[], topics?: readonly string[]): Promise<Outcome<string>>;
  /**
   * Settles the events `settled` names (with their handler's outcome where given) and hands over what the listener
   * holds, waiting up to `waitMs`, with the numbers of those whose delivery is `awaited`; null: no such listener.
   */
  take(id: string, waitMs: number, settled: readonly SettledEvent[]): Promise<Outcome<{ events: EventsFrame; first: number; awaited?: readonly number[] } | null>>;
  /** Settles the events `settled` names (their credits come back); false: no such listener. */
  ack(id: string, settled: readonly SettledEvent[]): Promise<Outcome<boolean>>;
  unlisten(id: string): Promise<Outcome<null>>;
  /** `RemoteBus.publish()`: posts one draft as `bus.publish()` does; the ticket `published` answers on. */
  publish(side: Side, generation: number, drafts: EventsFrame, local?: boolean): Promise<Outcome<string>>;
  /** The publish `ticket`'s event and its handlers' outcomes (or that a middleware dropped it), waiting up to `waitMs`; null while they run. */
  published(
    ticket: string,
    waitMs: number,
  ): Promise<Outcome<{ event: EventsFrame; outcomes: readonly PortableOutcome[]; failed: number } | { dropped: string; middleware: string } | null>>;
  /** Starts a user machine module in this thread. */
  spawn(module: string, options: Omit<SpawnOptions, 'processor' | 'thread'>): Promise<Outcome<UserActorInfo>>;
  /** This thread's buses and user actors, with their states. */
  actors(): Promise<Outcome<ActorInfo[]>>;
  sendActor(id: string, event: { type: string; [key: string]: unknown }): Promise<Outcome<UserActorInfo>>;
  stopActor(id: string): Promise<Outcome<null>>;
  stop(): Promise<Outcome<null>>;
}

/** The methods of `ThreadApi`: what a control message may name. */
export const THREAD_API_METHODS: readonly (keyof ThreadApi)[] = [
  'post',
  'toStation',
  'fromStation',
  'roundTrip',
  'sync',
  'drain',
  'room',
  'history',
  'queue',
  'state',
  'stats',
  'setClock',
  'holdStationReplies',
  'listen',
  'take',
  'ack',
  'unlisten',
  'publish',
  'published',
  'spawn',
  'actors',
  'sendActor',
  'stopActor',
  'stop',
];

const endpointOf = (processor: number, thread: number, side: Side): Endpoint => ({ processor, thread, generation: 0, side });

/** Packs events into frames (batches with only a history), in order: at most EVENTS_PER_FRAME each, fewer when they are large. */
export function eventsToFrame(events: readonly BusEvent[], from: Endpoint): EventsFrame {
  return batchFrames({ kind: 'batch', seq: 0, from, history: events, queue: [] }, EVENTS_PER_FRAME, { compress: 'auto' });
}

/** The post options a draft event carries, and `local` as its call says. */
function draftOptions(draft: BusEvent, local: unknown): PostOptions {
  return {
    priority: draft.priority,
    ...(local === undefined ? {} : { local: local as boolean }),
    ...(draft.topic === undefined ? {} : { topic: draft.topic }),
    ...(draft.meta === undefined ? {} : { meta: draft.meta }),
  };
}

/** Unpacks `eventsToFrame`. */
export function eventsFromFrame(frames: EventsFrame): BusEvent[] {
  const events: BusEvent[] = [];
  for (const frame of frames) {
    const message = decodeFrame(frame);
    if (message.kind !== 'batch') throw new BusError('FRAME_CORRUPT', `Expected a batch frame, got ${message.kind}.`);
    for (const event of message.history) events.push(event);
  }
  return events;
}

/** Runs `fn` and reports its value or its error as an `Outcome`. */
export async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, ...toWireError(error) };
  }
}

/** Turns an `Outcome` back into its value or its `BusError` (of its own class where it carries details). */
export function unwrap<T>(result: Outcome<T>): T {
  if (result.ok) return result.value;
  throw fromWireError(result);
}

/**
 * Loads the runtime's middleware modules (`options.middleware`), then starts
 * the thread (`createThreadService`): a module that cannot be loaded rejects
 * with `InvalidOptionError` before any bus exists.
 */
export async function startThreadService(port: MessagePortLike, options: ThreadServiceOptions): Promise<ThreadApi> {
  return createThreadService(port, options, undefined, await loadMiddlewareModules(options.middleware));
}

/** The metrics and memory of `thread`'s buses, of `side` or of both. */
export function threadStats(thread: Thread, side?: Side): ThreadStats {
  const buses: BusStats[] = [];
  const memory: MemoryStats[] = [];
  for (const each of side === undefined ? SIDES : [side]) {
    const bus = thread.bus(each);
    const stats = bus.stats();
    if (stats !== undefined) buses.push(stats);
    const held = bus.memory();
    if (held !== undefined) memory.push(held);
  }
  return { buses, memory };
}

/**
 * Starts a thread's buses over `port` (the data plane to the processor) and
 * returns the control API. `withThread` gets the thread itself (benchmarks
 * call its buses directly, without a control call in between); `middleware`
 * are the runtime's, loaded from its modules.
 */
export function createThreadService(
  port: MessagePortLike,
  options: ThreadServiceOptions,
  withThread?: (thread: Thread) => void,
  middleware: readonly Middleware[] = [],
): ThreadApi {
  let direction = options.bridge;
  let locked = false;
  let running = true;
  let thread: Thread | undefined;
  const channel = new FrameChannel(messagePortFrames(port), {
    end: 'a',
    // A port transfers frames without copying them: compressing would only cost CPU on both ends.
    compress: false,
    name: `thread ${options.processor}.${options.thread}`,
    // What its buses read stays in the frames it came in (transferred: they own their buffers), kept as places
    // there, and is delivered: scanned and decoded in one walk.
    encodedEvents: 'decoded',
    // The processor tells this thread about the bridge and asks it to clear.
    serve: (message: WireMessage) => {
      if (message.kind === 'bridgeState') ({ direction, locked } = message);
      else if (message.kind === 'clearSide') thread?.clearSide(message.scope, message.remove);
      else throw new BusError('UNSUPPORTED', `A thread does not answer ${message.kind} messages.`);
      return [];
    },
  });
  const link = new HoldableStationLink(new ChannelStationLink(channel));
  const inspectPort = options.inspectPort;
  const inspection =
    inspectPort === undefined
      ? undefined
      : portInspectionTap(inspectPort, realmName(options.processor, options.thread, options.incarnation), options.inspect === true);
  const policy = options.sync;
  // A period syncs both buses; a bus that asks (maxBatch posts, a producer waiting for room) syncs alone.
  const asked = new Set<Side>();
  const timer =
    policy === undefined
      ? undefined
      : new SyncTimer(policy.everyMs, (cause) => {
          const sides = cause === 'period' || asked.size === 0 ? SIDES : [...asked];
          asked.clear();
          return settleAll(sides.map((side) => () => busControl.autoSync(current.bus(side))));
        });
  const clockAt = options.clockAt;
  // The runtime's ManualClock cannot cross: this thread follows it with one of its own (`setClock`).
  const manualClock = typeof clockAt === 'number' && Number.isFinite(clockAt) ? new ManualClock(clockAt) : undefined;
  // Schemas are functions and cannot come from the root: this thread's own code (a spawned module's `schemas`) registers them.
  const schemas = new PayloadSchemas();
  const host: ThreadHost = {
    ...(policy === undefined
      ? {}
      : {
          ...policyLimits(policy),
          requestSync: (side) => {
            asked.add(side);
            timer?.trigger();
          },
        }),
    clock: manualClock ?? systemClock,
    ...(options.memory === undefined ? {} : { memory: new MemoryPolicies(checkMemoryOptions(options.memory)) }),
    deferred: options.deferred,
    maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED,
    schemas,
    middleware,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    get running() {
      return running;
    },
    // A function cannot cross threads, so the root's onError cannot run here: what fails (a subscriber, an
    // actor's emission, an after middleware, also posted as busline.middleware.failed: see Thread) is reported to it.
    subscriberErrorHandler: reportingErrorHandler(options.reportPort, options.processor, options.thread),
    assertRunning(call) {
      if (!running) throw new RuntimeStoppedError(call);
    },
    bridgeDirection: () => direction,
    bridgeLocked: () => locked,
    stationLink: () => link,
    ...(inspection === undefined ? {} : { inspection }),
    createBusActor: (endpoint) =>
      createActor(busMachine, {
        id: busId(endpoint),
        input: { endpoint },
        ...(inspection === undefined ? {} : { inspect: inspection.hook(endpoint.processor, endpoint.thread) }),
      }).start(),
  };
  thread = new Thread(host, options.processor, options.thread, options.incarnation ?? '');
  const current = thread;
  const listeners = new RemoteListeners(current);
  const publishes = new RemotePublishes();
  withThread?.(current);
  timer?.start();

  // A control call comes from another thread, perhaps a damaged or hostile one: its arguments are checked as a user's are.
  const busOf = (side: Side, call: string): Bus => {
    assertSide(side, `${call} side`);
    return current.bus(side);
  };
  const bus = (side: Side, generation: number, call: string): Bus => {
    if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
      throw new InvalidOptionError(`${call} generation`, `expected a bus generation (an integer from 0), got ${describe(generation)}.`);
    }
    const found = busOf(side, call);
    if (found.generation !== generation) throw new BusRetiredError(`${call}()`);
    return found;
  };
  const from = (side: Side) => endpointOf(options.processor, options.thread, side);
  // The bus a toStation() call is handing over (the thread's bus is its successor by then): sync calls for its
  // generation reach it, and its chart refuses them (BUS_BUSY, BUS_RETIRED) as it does for a caller in its thread.
  const handingOver: Partial<Record<Side, Bus>> = {};
  const syncBus = (side: Side, generation: number, call: string): Bus => {
    const handing = handingOver[side];
    if (handing !== undefined && handing.generation === generation && typeof generation === 'number') return handing;
    return bus(side, generation, call);
  };

  return {
    post: (side, generation, drafts, local) =>
      outcome(() => {
        const target = bus(side, generation, 'post');
        if (!Array.isArray(drafts) || !drafts.every((frame) => frame instanceof Uint8Array)) {
          throw new InvalidOptionError('post drafts', `expected an array of frames (Uint8Array), got ${describe(drafts)}.`);
        }
        const posted: BusEvent[] = [];
        const refused: Array<{ index: number } & WireError> = [];
        eventsFromFrame(drafts).forEach((draft, index) => {
          try {
            // Checked by the schemas of the thread that posted it, before it was encoded: not again here.
            posted.push(schemas.conformed(() => target.post(draft.type, draft.payload, draftOptions(draft, local))));
          } catch (error) {
            refused.push({ index, ...toWireError(error) });
          }
        });
        return { events: eventsToFrame(posted, from(side)), refused };
      }),
    toStation: (side, generation) =>
      outcome(async () => {
        const target = syncBus(side, generation, 'toStation');
        // Refused by its chart (BUS_BUSY): a toStation() of it is under way.
        if (target !== current.bus(side)) return (await target.toStation()).generation;
        handingOver[side] = target;
        try {
          return (await target.toStation()).generation;
        } finally {
          if (handingOver[side] === target) handingOver[side] = undefined;
        }
      }),
    fromStation: (side, generation, fromOptions) =>
      outcome(async () => {
        const result = await syncBus(side, generation, 'fromStation').fromStation(fromOptions);
        return { added: eventsToFrame(result.added, from(side)), handedBack: result.handedBack };
      }),
    sync: (side, generation, syncOptions) =>
      outcome(async () => {
        const result = await syncBus(side, generation, 'sync').sync(syncOptions);
        return { added: eventsToFrame(result.added, from(side)), handedBack: result.handedBack };
      }),
    roundTrip: (side, generation, fromOptions) =>
      outcome(async () => (await bus(side, generation, 'roundTrip').roundTrip(fromOptions)).generation),
    drain: (side, generation) => outcome(() => bus(side, generation, 'drain').drain()),
    room: (side, generation, waitMs) =>
      outcome(async () => {
        // A bounded wait: a control call that waited longer would look like a hung thread (callDeadlineMs).
        // Given up, its waiter leaves the bus (the producer's next call waits anew).
        const target = bus(side, generation, 'room');
        // setTimeout's own range: a longer wait would fire at once.
        if (typeof waitMs !== 'number' || !(waitMs > 0) || waitMs > 0x7fff_ffff) {
          throw new InvalidOptionError('room waitMs', `expected milliseconds from 1 to ${0x7fff_ffff}, got ${describe(waitMs)}.`);
        }
        const ranOut = new AbortController();
        const timer = setTimeout(() => ranOut.abort(), waitMs);
        try {
          await target.room({ signal: ranOut.signal });
          return true;
        } catch (error) {
          if (ranOut.signal.aborted && isBusError(error, 'ABORTED') && error.cause === ranOut.signal.reason) return false;
          throw error;
        } finally {
          clearTimeout(timer);
        }
      }),
    history: (side, query) =>
      outcome(() => {
        return eventsToFrame(busOf(side, 'history').history(checkHistoryQuery(query, 'history query', { filter: false })), from(side));
      }),
    queue: (side) => outcome(() => eventsToFrame(busOf(side, 'queue').queue(), from(side))),
    state: (side) =>
      outcome(() => {
        const bus = busOf(side, 'state');
        return { generation: bus.generation, state: bus.state, unsent: bus.unsent, queued: bus.queued, parked: bus.parked };
      }),
    setClock: (ms) =>
      outcome(async () => {
        if (manualClock === undefined) return false;
        if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new InvalidOptionError('setClock ms', `expected a finite number, got ${describe(ms)}.`);
        manualClock.set(ms);
        // A macrotask: what the timers' callbacks started (promise jobs) has run when the root hears back.
        await new Promise<void>((resolve) => setImmediate(resolve));
        return true;
      }),
    holdStationReplies: (hold) =>
      outcome(() => {
        if (typeof hold !== 'boolean') throw new InvalidOptionError('holdStationReplies hold', `expected true or false, got ${describe(hold)}.`);
        link.hold(hold && running);
        return null;
      }),
    stats: (side) => outcome(() => threadStats(current, side === undefined ? undefined : (assertSide(side, 'stats side'), side))),
    listen: (side, types, topics) => outcome(() => listeners.listen((assertSide(side, 'listen side'), side), types, topics)),
    take: (id, waitMs, settled) =>
      outcome(async () => {
        const taken = await listeners.take(id, waitMs, settled);
        if (taken === null) return null;
        const events = eventsToFrame(taken.events, from('external'));
        return taken.awaited === undefined ? { events, first: taken.first } : { events, first: taken.first, awaited: taken.awaited };
      }),
    ack: (id, settled) => outcome(() => listeners.ack(id, settled)),
    unlisten: (id) => outcome(() => (listeners.unlisten(id), null)),
    publish: (side, generation, drafts, local) =>
      outcome(() => {
        const target = bus(side, generation, 'publish');
        const [draft, ...more] = Array.isArray(drafts) ? eventsFromFrame(drafts) : [];
        if (draft === undefined || more.length > 0) throw new InvalidOptionError('publish drafts', 'expected a frame of one draft event.');
        // A post a middleware drops resolves with `{ dropped, middleware }`, as Bus.publish() does.
        return publishes.start(schemas.conformed(() => target.publish(draft.type, draft.payload, draftOptions(draft, local))));
      }),
    published: (ticket, waitMs) =>
      outcome(async () => {
        const done = await publishes.published(ticket, waitMs);
        if (done === undefined) return null;
        if ('dropped' in done) return { dropped: done.dropped, middleware: done.middleware };
        return { event: eventsToFrame([done.event], from(done.event.side)), outcomes: done.outcomes, failed: done.failed };
      }),
    ...userActorApi(current),
    stop: () =>
      outcome(async () => {
        await stopServices([current]);
        await timer?.stop();
        current.actors.stopAll();
        listeners.close();
        running = false;
        link.hold(false);
        current.halt();
        for (const side of SIDES) busControl.actor(current.bus(side)).stop();
        channel.close();
        port.close?.();
        inspection?.close();
        inspectPort?.close?.();
        return null;
      }),
  };
}


/** A thread's current bus of one side, as `RemoteBus.state()` tells it. */
export interface BusCounts {
  /** The thread's current bus generation. */
  readonly generation: number;
  /** The bus actor's state. */
  readonly state: string;
  /** Events its station has not taken yet (`bus.unsent`). */
  readonly unsent: number;
  /** Deferred events in its queue (`bus.queued`). */
  readonly queued: number;
  /** The thread's deferred events parked at the stations (`bus.parked`). */
  readonly parked: number;
}

/** Where an actor runs and its state, as `runtime.actors()` lists it. */
export interface ActorInfo {
  readonly id: string;
  readonly kind: 'bus' | 'station' | 'bridge' | 'user';
  readonly processor: number | null;
  readonly thread: number | null;
  readonly side: Side | null;
  readonly state: unknown;
  /** For user actors: the module it runs. */
  readonly module?: string;
  /** For user actors: XState's status, `active`, `done`, `error` or `stopped`. */
  readonly status?: string;
  /** For buses and stations whose history has a memory budget: what it holds (`memory()` tells more). */
  readonly memory?: ActorMemory;
}

/** What `runtime.actors()` shows of a history with a memory budget: events, bytes, budget and multipliers below 1. */
export type ActorMemory = Pick<MemoryStats, 'count' | 'bytes' | 'budget' | 'multipliers'>;

/** `{ memory }` for an actor's entry when its history has a budget, else nothing. */
export function memorySummary(stats: MemoryStats | undefined): { memory?: ActorMemory } {
  if (stats === undefined) return {};
  const { count, bytes, budget, multipliers } = stats;
  return { memory: { count, bytes, budget, multipliers } };
}

/** The id of a bus actor. */
export function busId(endpoint: Endpoint): string {
  return `bus:${endpoint.processor}.${endpoint.thread}:${endpoint.side}#${endpoint.generation}`;
}

/** The user-actor part of `ThreadApi` for a thread in this thread: the same calls wherever it runs. */
export function userActorApi(thread: Thread): Pick<ThreadApi, 'spawn' | 'actors' | 'sendActor' | 'stopActor'> {
  return {
    spawn: (module, spawnOptions) => outcome(() => thread.actors.spawn(moduleHref(module), spawnOptions)),
    actors: () => outcome(() => threadActors(thread)),
    sendActor: (id, event) => outcome(() => thread.actors.send(actorId(id), event)),
    stopActor: (id) => outcome(async () => (await thread.actors.stop(actorId(id)), null)),
  };
}

/** Throws `InvalidOptionError` unless `id` can name an actor (a string), as it comes in a control call. */
function actorId(id: unknown): string {
  if (typeof id !== 'string') throw new InvalidOptionError('actor id', `expected a string, got ${describe(id)}.`);
  return id;
}

/** A thread's buses and user actors. */
export function threadActors(thread: Thread): ActorInfo[] {
  const list: ActorInfo[] = [];
  for (const side of ['internal', 'external'] as const) {
    const bus = thread.bus(side);
    list.push({ id: busId(bus.endpoint), kind: 'bus', processor: thread.processor, thread: thread.index, side, state: bus.state, ...memorySummary(bus.memory()) });
  }
  for (const actor of thread.actors.list()) {
    list.push({
      id: actor.id,
      kind: 'user',
      processor: actor.processor,
      thread: actor.thread,
      side: actor.side,
      state: actor.state,
      module: actor.module,
      status: actor.status,
    });
  }
  return list;
}
