/**
 * `createRuntime()` and the `Runtime` façade: what an application calls.
 * Arguments are checked here; the work is done by the runtime's private core
 * (`runtime-core.ts`), which the runtime's own modules talk to, so none of
 * their calls shows on the public class.
 */
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '../errors.js';
import type { BusEvent, Side } from '../types.js';
import type { Bridge } from './bridge/bridge.js';
import type { Bus } from './bus/bus.js';
import { RemoteBus } from './bus/remote-bus.js';
import type { RemoteScope } from './bus/remote-subscription.js';
import type { Clock } from './clock.js';
import { assertClonable, checkActorEvent, checkSpawnOptions, moduleHref, type SpawnOptions } from './actors/user-actors.js';
import { RemoteStation } from './hosting/processor-host.js';
import { assertIndex, parseRuntimeOptions, type RuntimeOptions } from './options.js';
import { RuntimeCore, provideCoreAccess } from './runtime-core.js';
import type { Station } from './station/station.js';
import type { SyncPolicy } from './station/sync-policy.js';
import type { Thread } from './thread/thread.js';
import { unwrap, type ActorInfo } from './thread/thread-service.js';
import { assertKnownKeys, assertSide } from './validate.js';
import { checkInspectorOptions, type InspectorOptions } from '../inspector/options.js';
import { checkRecordArguments, type RecordingHandle, type RecordOptions } from './recording/record-options.js';
import type { Transport } from './wire/transport.js';
import { everyInterval, gatherStats, summarize } from './metrics/runtime-stats.js';
import type { RuntimeStats } from './metrics/stats.js';
import type { AnyEvents, EventMap, EventTypeOf, IsUntyped, SideEventsOf } from './bus/typed-events.js';
import type { EventSchemas, PayloadSchema, PayloadSchemaMap, SchemaEvents, SchemaFor, SchemaMapFor } from './payload/payload-schemas.js';

export type { ActorInfo, InspectorOptions, RuntimeOptions };

/** Which thread: `{ processor, thread }`, each 0 by default. */
type Where = { processor?: number; thread?: number };

/**
 * The application's internal events when it names none: untyped on an
 * untyped runtime, none on a typed one (its internal buses then carry the
 * runtime's own events, `BuslineEvents`).
 */
export type InternalDefault<E> = IsUntyped<E> extends true ? AnyEvents : {};
export { DEFAULT_PROCESSOR_EXEC_ARGV } from './options.js';

/**
 * A user actor started by `runtime.spawn()`.
 *
 * @example
 * const counter: SpawnedActor = await runtime.spawn(new URL('./counter.machine.js', import.meta.url))
 * await counter.send({ type: 'increment' })
 * console.log((await counter.info()).state)
 * await counter.stop()
 */
export interface SpawnedActor {
  readonly id: string;
  readonly processor: number;
  readonly thread: number;
  /** Sends it an XState event. */
  send(event: { type: string; [key: string]: unknown }): Promise<void>;
  /** Where it runs and its current state. */
  info(): Promise<ActorInfo>;
  /** Stops it (and its bus subscription). */
  stop(): Promise<void>;
}

/**
 * A thread's handle: its current buses.
 *
 * @example
 * const worker = runtime.thread(0, 1)        // a worker thread: its buses are RemoteBuses
 * await worker.bus('external').post('job.started', { id: 3 })
 */
export interface ThreadHandle<B = Bus, Internal = B> {
  readonly processor: number;
  readonly thread: number;
  /** The thread's current bus of `side` (`external` by default): a `RemoteBus` when the thread is a worker. */
  bus(side?: 'external'): B;
  bus(side: 'internal'): Internal;
  bus(side: Side): B | Internal;
}

/**
 * A processor: where it runs and its local stations (`RemoteStation`s in a child process).
 *
 * @example
 * const processor = runtime.processor(1)
 * console.log(processor.pid)
 * await processor.station('external').roundTrip()
 */
export interface ProcessorInfo<External = Station | RemoteStation, Internal = External> {
  readonly processor: number;
  /** The process it runs in. */
  readonly pid: number | null;
  /** Its local station of `side`, typed by the runtime's map of that side (as `runtime.station()`). */
  station(side: 'external'): External;
  station(side: 'internal'): Internal;
  station(side: Side): External | Internal;
}

/**
 * A processor's handle: its local stations.
 *
 * @example
 * const { processor, station } = runtime.addProcessor()
 * await station('external').toMain()
 */
export interface ProcessorHandle<External = Station, Internal = External> {
  readonly processor: number;
  station(side: 'external'): External;
  station(side: 'internal'): Internal;
  station(side: Side): External | Internal;
}

/**
 * A running busline: stations, the bridge, and the buses of every thread.
 *
 * @example
 * const runtime = createRuntime()
 * const bus = runtime.bus('external')
 * bus.subscribe('greeting', (event) => console.log(event.payload))
 * bus.post('greeting', { text: 'hello' })
 * const next = await bus.roundTrip()
 * await runtime.stop()
 */
export class Runtime<E = AnyEvents, I = InternalDefault<E>> {
  readonly #core: RuntimeCore;

  static {
    // The runtime's own modules and tests reach the core through `runtimeCore()` (a class static
    // block shares `#core` with this module only), so it never shows on the public class.
    provideCoreAccess((runtime) => (runtime as Runtime).#core);
  }

  /** The same as `createRuntime(options)`: checks the options and starts the runtime. */
  constructor(options?: RuntimeOptions) {
    const core = (this.#core = new RuntimeCore(parseRuntimeOptions(options)));
    const intervalMs = core.options.metrics?.intervalMs;
    if (intervalMs !== undefined) {
      const root = core.thread(0, 0);
      const post = (stats: RuntimeStats | undefined) => {
        try {
          if (stats !== undefined && core.running) root.bus('internal').post('busline.stats', stats as never);
        } catch (error) {
          // A full internal bus refuses it like any post; the next interval tries again.
          core.options.onError(error, { type: 'busline.stats', id: 'busline.stats' } as BusEvent);
        }
      };
      const stop = everyInterval(core.clock, intervalMs, () => {
        const remote = core.remoteStatsSources();
        // Everything here: posted within the tick. Workers and processors answer a control call first.
        if (remote.length === 0) post(summarize([core.localStats()], core.clock.now()));
        else void gatherStats(core.localStats(), remote, core.clock).then(post);
      });
      root.whenHalted(stop);
    }
  }

  /**
   * The metrics of every bus of every thread — the root's, embedded
   * processors', worker threads' and child processors' — and the memory of
   * every history with a budget (buses, local and main stations), with
   * totals; `undefined` unless `createRuntime({ metrics })` turned metrics on
   * or some history has a memory budget. A thread or processor that does not
   * answer (crashed, restarting) is named in `unavailable`.
   *
   * @example
   * const runtime = createRuntime({ metrics: true, threadsPerProcessor: 2 })
   * await runtime.ready
   * const stats = await runtime.stats()
   * console.log(stats?.posted, stats?.buses.map((bus) => bus.thread))
   */
  stats(): Promise<RuntimeStats | undefined> {
    return gatherStats(this.#core.localStats(), this.#core.remoteStatsSources(), this.#core.clock);
  }

  /** The wall clock events are stamped with (`clock`). */
  get clock(): Clock {
    return this.#core.options.clock;
  }

  /** What sync hops travel through (`transport`). */
  get transport(): Transport {
    return this.#core.options.transport;
  }

  /** When `deferred` events are delivered: `'idle'` or `'manual'` (`deferred`). */
  get deferred(): 'idle' | 'manual' {
    return this.#core.options.deferred;
  }

  /** The bound on each thread's deferred events per side, queued or parked (`maxQueued`). */
  get maxQueued(): number {
    return this.#core.options.maxQueued;
  }

  /** The automatic sync policy, when there is one (`sync`). */
  get syncPolicy(): SyncPolicy | undefined {
    return this.#core.options.sync;
  }

  /**
   * Sets the payload schema of event `type` (exact type) for the posts made
   * in this thread — on its buses and through the `RemoteBus`es it holds —
   * replacing one it had; `undefined` removes it. A worker's posts are not
   * affected: schemas are functions and stay in the thread that registers
   * them (a spawned module registers its own with a `schemas` export).
   *
   * @example
   * runtime.schema('user.login', z.object({ id: z.number(), at: z.date().transform((d) => d.toISOString()) }))
   * runtime.bus().post('user.login', { id: 7, at: new Date() })   // the event keeps at: '2026-…Z'
   */
  schema<K extends EventTypeOf<E>>(type: K, schema: SchemaFor<E, K> | undefined): void {
    this.#core.assertRunning('schema');
    this.#core.options.schemas.set(type, schema as PayloadSchema | undefined, 'schema');
  }

  /** The bridge between the internal and the external side. */
  get bridge(): Bridge {
    return this.#core.bridge;
  }

  /**
   * Resolves once every worker thread and child processor has started (at
   * once when there are none); rejects with the reason when one could not
   * start, after stopping what did; with a `RuntimeStoppedError` when
   * `stop()` came while one still started (and none failed by itself).
   */
  get ready(): Promise<void> {
    return this.#core.ready;
  }

  /** False once `stop()` was called. */
  get running(): boolean {
    return this.#core.running;
  }

  /**
   * The current bus of `side` of a thread (the root's main thread by default).
   *
   * @example
   * const bus = runtime.bus('external', { processor: 1, thread: 0 })   // an embedded processor's thread
   */
  bus(side?: 'external', where?: Where): Bus<SideEventsOf<'external', E, I>>;
  bus(side: 'internal', where?: Where): Bus<SideEventsOf<'internal', E, I>>;
  bus(side: Side, where?: Where): Bus<SideEventsOf<'external', E, I>> | Bus<SideEventsOf<'internal', E, I>>;
  bus(side: Side = 'external', where: Where = {}): Bus<SideEventsOf<'external', E, I>> | Bus<SideEventsOf<'internal', E, I>> {
    assertSide(side, 'bus side');
    assertKnownKeys(where, ['processor', 'thread'], 'bus where');
    return this.#core.thread(where.processor ?? 0, where.thread ?? 0).bus(side) as never;
  }

  /**
   * The local station of `side` in a processor (the root process, 0, by
   * default). On a typed runtime its reads are typed by the side's map, as
   * the side's buses are (`SideEventsOf`: with what a read across brings).
   *
   * @example
   * await runtime.station('external').roundTrip()
   * const logins = runtime.station('external').history({ types: ['user.login'] })
   */
  station(side: 'external', processor?: number): Station<SideEventsOf<'external', E, I>>;
  station(side: 'internal', processor?: number): Station<SideEventsOf<'internal', E, I>>;
  station(side: Side, processor?: number): Station<SideEventsOf<'external', E, I>> | Station<SideEventsOf<'internal', E, I>>;
  station(side: Side, processor = 0): Station<SideEventsOf<'external', E, I>> | Station<SideEventsOf<'internal', E, I>> {
    return this.#core.station(side, processor) as never;
  }

  /** A processor's local stations: `RemoteStation`s when it runs in a child process. */
  processor(
    processor: number,
  ): ProcessorInfo<Station<SideEventsOf<'external', E, I>> | RemoteStation<SideEventsOf<'external', E, I>>, Station<SideEventsOf<'internal', E, I>> | RemoteStation<SideEventsOf<'internal', E, I>>> {
    assertIndex(processor, 'processor');
    const child = this.#core.childProcessor(processor);
    if (child !== undefined) {
      return { processor, pid: child.pid ?? null, station: (side: Side) => new RemoteStation(child, side) } as never;
    }
    this.station('internal', processor);
    return { processor, pid: process.pid, station: (side: Side) => this.station(side, processor) } as never;
  }

  /**
   * The main station of `side`, in the root, typed as `station()` is.
   *
   * @example
   * const everything = runtime.mainStation('external').history()
   */
  mainStation(side: 'external'): Station<SideEventsOf<'external', E, I>>;
  mainStation(side: 'internal'): Station<SideEventsOf<'internal', E, I>>;
  mainStation(side: Side): Station<SideEventsOf<'external', E, I>> | Station<SideEventsOf<'internal', E, I>>;
  mainStation(side: Side): Station<SideEventsOf<'external', E, I>> | Station<SideEventsOf<'internal', E, I>> {
    assertSide(side, 'mainStation side');
    return this.#core.mainStation(side) as never;
  }

  /** A thread's handle. */
  thread(
    processor = 0,
    thread = 0,
  ): ThreadHandle<Bus<SideEventsOf<'external', E, I>> | RemoteBus<SideEventsOf<'external', E, I>>, Bus<SideEventsOf<'internal', E, I>> | RemoteBus<SideEventsOf<'internal', E, I>>> {
    assertIndex(processor, 'thread processor');
    assertIndex(thread, 'thread index');
    const core = this.#core;
    if (core.remoteThread(processor, thread) === undefined && core.childProcessor(processor) === undefined) return localHandle(core.thread(processor, thread)) as never;
    const scope = remoteScope(core);
    // Found at each bus(): the thread's current bus, also once a crashed worker or processor has a successor.
    const bus = (side: Side = 'external') => (assertSide(side, 'bus side'), remoteBus(core, processor, thread, side, scope));
    return { processor, thread, bus } as never;
  }

  /**
   * Adds a processor with its own local internal and external stations and a
   * main thread. Embedded: it runs in this process, with the same actors and
   * the same transport as a child process would have.
   */
  addProcessor(): ProcessorHandle<Station<SideEventsOf<'external', E, I>>, Station<SideEventsOf<'internal', E, I>>> {
    const processor = this.#core.addProcessor();
    return { processor, station: (side: Side) => this.station(side, processor) } as never;
  }

  /**
   * Adds a thread (an internal and an external bus) to a processor. Embedded: it runs in this thread.
   *
   * @example
   * const second = runtime.addThread()
   * second.bus('external').subscribe('order', (event) => console.log(event.id))
   */
  addThread(options: { processor?: number } = {}): ThreadHandle<Bus<SideEventsOf<'external', E, I>>, Bus<SideEventsOf<'internal', E, I>>> {
    this.#core.assertRunning('addThread');
    assertKnownKeys(options, ['processor'], 'addThread options');
    const processor = options.processor ?? 0;
    assertIndex(processor, 'addThread options.processor');
    return localHandle(this.#core.addThread(processor)) as never;
  }

  /**
   * Every actor of the runtime — the bridge, the stations, every thread's
   * buses and the users' own actors, in every thread and processor — with
   * where it runs and its current state.
   *
   * @example
   * for (const actor of await runtime.actors()) console.log(actor.id, actor.state)
   */
  actors(): Promise<ActorInfo[]> {
    return this.#core.actors();
  }

  /**
   * Starts a user's XState machine in a thread. The module exports the
   * machine (default export or `machine`) and may export `subscribes`, the
   * bus event types it receives as XState events `{ type, payload, event }`;
   * what it emits is posted on that thread's bus.
   *
   * @example
   * const counter = await runtime.spawn(new URL('./counter.machine.ts', import.meta.url), { processor: 1, thread: 1 })
   * await counter.send({ type: 'reset' })
   * console.log((await counter.info()).state)
   */
  async spawn(module: string | URL, given: SpawnOptions = {}): Promise<SpawnedActor> {
    this.#core.assertRunning('spawn');
    const href = moduleHref(module);
    // Read once: what crosses to the thread is what was checked.
    const { processor = 0, thread = 0, ...rest } = checkSpawnOptions(given);
    const api = this.#core.threadApi(processor, thread);
    // What goes to another thread must survive the copy: refused here, naming the option, not as a DataCloneError.
    const remote = api.remote;
    if (remote) assertClonable(rest.input, 'spawn options.input');
    const info = unwrap(await api.call('spawn', href, rest));
    return {
      id: info.id,
      processor,
      thread,
      send: async (event) => {
        checkActorEvent(event);
        if (remote) assertClonable(event, 'send event');
        unwrap(await api.call('sendActor', info.id, event));
      },
      info: async () => {
        const found = unwrap(await api.call('actors')).find((actor) => actor.kind === 'user' && actor.id === info.id);
        if (found === undefined) throw new UnsupportedError(`actor "${info.id}" has stopped.`);
        return found;
      },
      stop: async () => void unwrap(await api.call('stopActor', info.id)),
    };
  }

  /**
   * Starts the inspector on 127.0.0.1 and resolves with its URL
   * (`http://127.0.0.1:<port>/`). It speaks the `@statelyai/inspect`
   * WebSocket protocol on the same port: a `createWebSocketReceiver` gets
   * every inspection event of every actor of the runtime — buses, stations,
   * the bridge and spawned actors, in every worker thread and child processor
   * — and an XState app's `createWebSocketInspector` is shown beside them.
   * Inspection is on from then on, everywhere, until `stop()`, which closes
   * the server. A WebSocket from a web page of another origin is refused.
   * Calling it again resolves with the same URL.
   *
   * @example
   * const url = await runtime.inspect({ port: 0 })   // any free port
   * console.log(`inspector: ${url}`)                   // ws://127.0.0.1:<port> for WebSocket clients
   */
  async inspect(options?: InspectorOptions): Promise<string> {
    const checked = checkInspectorOptions(options);
    return (await this.#core.inspect(checked)).url;
  }

  /**
   * Records the run to `path` (a path or a `file:` URL; created or truncated) until the handle's
   * `stop()` or `runtime.stop()`: every inspection record of every actor,
   * in every thread and processor, and every event a main station accepts,
   * streamed in checksummed chunks (snappy when it pays). Inspection is on
   * everywhere from then on. Read it back with `readRecording()` and replay
   * it against the machines with `replay()` (`busline/testing`). Timestamps
   * are the runtime's clock (a `ManualClock` makes them reproducible).
   *
   * @example
   * const recording = await runtime.record('run.blrec')
   * runtime.bridge.open()
   * const { inspections, dropped } = await recording.stop()
   */
  async record(path: string | URL, options?: RecordOptions): Promise<RecordingHandle> {
    const checked = checkRecordArguments(path, options);
    return this.#core.record(path instanceof URL ? fileURLToPath(path) : path, checked);
  }

  /**
   * Stops every actor, worker thread and child processor. Calls afterwards
   * are refused with `RuntimeStoppedError`.
   *
   * @example
   * process.once('SIGTERM', () => void runtime.stop().then(() => process.exit(0)))
   */
  stop(): Promise<void> {
    return this.#core.stop();
  }
}

function localHandle(thread: Thread): ThreadHandle {
  const bus = (side: Side = 'external') => (assertSide(side, 'bus side'), thread.bus(side));
  return { processor: thread.processor, thread: thread.index, bus };
}

/** The current bus of `side` of a thread in a worker or a child processor (the caller of its current incarnation). */
function remoteBus(core: RuntimeCore, processor: number, thread: number, side: Side, scope: RemoteScope): RemoteBus {
  const remote = core.remoteThread(processor, thread);
  if (remote !== undefined) return new RemoteBus(remote.caller, side, remote.generations[side], scope);
  const child = core.childProcessor(processor)!;
  return new RemoteBus(child.threadCaller(thread), side, child.generation(thread, side), scope);
}

/**
 * What a `RemoteBus` got from this runtime uses here: its clock, its
 * `onError`, its stop (the root thread halts), and the current caller of a
 * thread (a restarted worker of the root has a new one).
 */
function remoteScope(core: RuntimeCore): RemoteScope {
  const root = core.thread(0, 0);
  return {
    clock: core.clock,
    onError: root.host.subscriberErrorHandler,
    whenStopped: (stopped) => root.whenHalted(stopped),
    current: (processor, thread) => core.remoteThread(processor, thread)?.caller.call ?? core.childProcessor(processor)?.threadCaller(thread).call,
    schemas: core.options.schemas,
    stopping: () => core.stopping,
  };
}

/**
 * Creates a runtime typed by the schemas `defineEvents()` made: each type's
 * posts take its schema's input, its events keep the output (`SchemaEvents`).
 *
 * @example
 * const runtime = createRuntime({ schemas: defineEvents({ 'user.created': z.object({ at: z.date().transform(String) }) }) })
 * runtime.bus().post('user.created', { at: new Date() })
 */
export function createRuntime<S extends PayloadSchemaMap, I = {}>(
  options: Omit<RuntimeOptions, 'schemas'> & { readonly schemas: EventSchemas<S> },
): Runtime<SchemaEvents<S>, I>;
/**
 * Creates a runtime. With no options everything runs in this process and
 * thread: main stations, the bridge, processor 0's local stations and the
 * main thread's buses, all real actors, every hop framed. Throws
 * `InvalidOptionError` listing every option that is wrong (`issues`: path, value, what is
 * allowed), before anything starts. A configuration read from a JSON file (`RuntimeConfig`) is taken as it is.
 *
 * @example
 * const runtime = createRuntime({ deferred: 'manual' })
 */
export function createRuntime<E extends EventMap<E> = AnyEvents, I = InternalDefault<E>>(
  options?: Omit<RuntimeOptions, 'schemas'> & { readonly schemas?: NoInfer<SchemaMapFor<E>> },
): Runtime<E, I>;
export function createRuntime<E, I>(options?: RuntimeOptions): Runtime<E, I> {
  return new Runtime<E, I>(options as RuntimeOptions);
}
