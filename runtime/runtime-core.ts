/**
 * The runtime's private core, behind the `Runtime` façade (as piscina keeps
 * its `ThreadPool` behind `#pool`): the topology of seed 000 as real actors,
 * and the calls that threads, links, workers and the bridge make on the
 * runtime. The embedded runtime runs in one process and one thread: the main
 * internal and external stations and the bridge (the root), a local station
 * per side for each processor, and a bus per side for each thread. Every hop
 * goes through the `Transport`.
 */
import { createActor, type Actor } from 'xstate';
import { InvalidOptionError, isBusError, RuntimeStoppedError, UnsupportedError } from '../errors.js';
import { bridgeMachine } from '../machines/bridge.machine.js';
import { busMachine } from '../machines/bus.machine.js';
import type { ClearRequest } from '../machines/events.js';
import { stationMachine, type StationKind } from '../machines/station.machine.js';
import { SIDES, type BridgeDirection, type Endpoint, type Side } from '../types.js';
import { Bridge, type BridgeHost } from './bridge/bridge.js';
import { busControl } from './bus/bus-control.js';
import { postMemoryChange } from './bus/memory-reports.js';
import { connectThread, type RemoteThread, type ThreadCaller } from './bus/remote-bus.js';
import type { Clock } from './clock.js';
import { ChildProcessors, type ChildProcessorsHost } from './hosting/child-processors.js';
import type { RemoteProcessor } from './hosting/processor-host.js';
import { deliverFailure, postCrashReport, type FailureReport } from './thread/failure-reports.js';
import { failedStart, startWorkerThreads, type ThreadAttacher, type WorkerThreads } from './hosting/processor-threads.js';
import { remoteSettings, rootThreadOptions, type RootThreadsHost } from './hosting/root-threads.js';
import { unlessStopped } from './hosting/given-up.js';
import { describeExit, type WorkerExit } from './hosting/worker-api.js';
import type { ResolvedRuntimeOptions } from './options.js';
import { DirectStationLink, STATION_THREAD, type StationHost, type StationLink } from './station/links.js';
import { Station } from './station/station.js';
import { EmbeddedProcessor } from './embedded-processor.js';
import { SyncTimer, settleAll } from './station/sync-policy.js';
import { Thread } from './thread/thread.js';
import { InspectionHub } from './inspection/hub.js';
import type { InspectHook } from './inspection/tap.js';
import type { InspectorServer } from '../inspector/server.js';
import type { InspectorOptions } from '../inspector/options.js';
import { Recordings } from './recording/recordings.js';
import { stopServices } from './services/registry.js';
import type { RecordingHandle, RecordOptions } from './recording/record-options.js';
import { busId, memorySummary, threadActors, threadStats, unwrap, userActorApi, type ActorInfo } from './thread/thread-service.js';
import type { RemoteStatsSource, StatsParts } from './metrics/runtime-stats.js';
import type { BusStats } from './metrics/stats.js';
import type { MemoryStats } from './store/memory-stats.js';
import { assertSide } from './validate.js';
import type { FrameChannel, MessagePortLike } from './wire/frame-channel.js';

/** The runtime's state and the calls its own modules make on it; users hold the `Runtime` façade. */
export class RuntimeCore implements BridgeHost, ThreadAttacher, ChildProcessorsHost {
  readonly options: ResolvedRuntimeOptions;
  readonly bridge: Bridge;
  /** The bridge actor, for `actors()`, `stop()` and tests. */
  readonly bridgeActor: Actor<typeof bridgeMachine>;
  /** Resolves once every worker thread and child processor has started; see `Runtime.ready`. */
  readonly ready: Promise<void>;
  /** Inspection in the root: every realm's records, the `inspect` option, the inspector server. */
  readonly inspection: InspectionHub;
  #inspector: Promise<InspectorServer> | undefined;
  readonly #recordings: Recordings;
  readonly #mainStations: Record<Side, Station>;
  readonly #mainLinks: Record<Side, StationLink>;
  /** The actors of the stations created here, stopped by `stop()`. */
  readonly #stationActors = new Map<Station, Actor<typeof stationMachine>>();
  /**
   * The processors, their local stations and threads that run in this thread,
   * by processor and thread number. Numbers taken by child processors and by
   * worker threads are holes here: iterate with `flat()` or `Object.values()`.
   */
  readonly #processors: EmbeddedProcessor[] = [];
  readonly #localStations: Array<Record<Side, Station>> = [];
  readonly #threads: Thread[][] = [];
  readonly #remoteThreads = new Map<string, RemoteThread>();
  readonly #workerThreads: WorkerThreads[] = [];
  readonly #children: ChildProcessors;
  #started: Promise<void> | undefined;
  /** Every part of the start has ended, started or failed: what started late must still be stopped. */
  #startEnded: Promise<PromiseSettledResult<unknown>[]> | undefined;
  #stopped: Promise<void> | undefined;
  /** Aborted by stop(): the root's worker threads still starting (or restarting) give up, as `#children.halt()` makes processors. */
  readonly #stopStarts = new AbortController();
  /** stop() has resolved (or rejected): failure reports that arrive later no longer reach onError. */
  #halted = false;
  /** The automatic sync policy's ticks, if any (tests await them: `SyncTimer.idle()`). */
  readonly syncTimer: SyncTimer | undefined;
  #pendingClearings: ClearRequest[] = [];
  #running = true;

  constructor(options: ResolvedRuntimeOptions) {
    this.options = options;
    this.inspection = new InspectionHub(options.inspect);
    const { processors, threadsPerProcessor: threads, syncLimits } = options;
    this.#children = new ChildProcessors(
      this,
      {
        threads,
        deferred: options.deferred,
        maxQueued: options.maxQueued,
        ...(options.callDeadlineMs === undefined ? {} : { callDeadlineMs: options.callDeadlineMs }),
        threadStartDeadlineMs: options.threadStartDeadlineMs,
        ...(options.restart === undefined ? {} : { restart: options.restart }),
        ...(options.workerLimits === undefined ? {} : { workerLimits: options.workerLimits }),
        ...(options.sync === undefined ? {} : { sync: options.sync }),
        ...(options.memory.defaults ? {} : { memory: options.memory.options }),
        ...remoteSettings(options),
      },
      options.processorExecArgv,
      processors,
      options.journal,
      options.processorStartDeadlineMs,
    );
    this.bridgeActor = createActor(
      bridgeMachine.provide({
        actions: { clearSide: (_args, params: ClearRequest) => void this.#pendingClearings.push(params) },
      }),
      { id: 'bridge', inspect: this.inspectHook(0, null) },
    );
    this.bridge = new Bridge(this.bridgeActor, this, () => {
      const taken = this.#pendingClearings;
      this.#pendingClearings = [];
      return taken;
    });
    this.bridgeActor.start();
    const mainHost: StationHost = {
      ...(syncLimits === undefined ? {} : { maxBacklog: syncLimits.maxBacklog }),
      memory: options.memory,
      clock: options.clock,
      childProcessors: processors,
      assertRunning: (call) => this.assertRunning(call),
      bridgeDirection: () => this.bridgeDirection(),
      bridgeLocked: () => this.bridge.locked,
      mainLink: () => {
        throw new UnsupportedError('A main station has no upstream.');
      },
    };
    this.#mainStations = {
      internal: this.#createStation(mainHost, 'main', 'internal', 0),
      external: this.#createStation(mainHost, 'main', 'external', 0),
    };
    this.#mainLinks = {
      internal: new DirectStationLink(this.#mainStations.internal, options.transport, 'station', () => this.bridgeDirection()),
      external: new DirectStationLink(this.#mainStations.external, options.transport, 'station', () => this.bridgeDirection()),
    };
    this.#recordings = new Recordings(this.inspection, () => options.clock.now(), this.#mainStations);
    this.addProcessor();
    // Middleware modules load here first (the root's placeholders), so a module that cannot be loaded is
    // refused as INVALID_OPTION before any worker or processor starts to load it. An import cannot be
    // cancelled, but stop() gives up waiting for it: one that never settles holds no stop.
    const placeholders = options.middlewarePlaceholders;
    const middlewareLoaded = placeholders.length === 0
      ? Promise.resolve()
      : unlessStopped(Promise.all(placeholders.map((middleware) => middleware.load())), this.#stopStarts.signal, 'loading the middleware modules');
    const host: RootThreadsHost = {
      bridgeDirection: () => this.bridgeDirection(),
      inspection: this.inspection,
      onCrash: (thread, exit, restarted) => this.#reportCrash('thread', 0, thread, exit.reason, describeExit(exit), restarted),
      reportFailure: (report) => this.reportFailure(report),
    };
    const workers =
      threads === 0
        ? middlewareLoaded
        : middlewareLoaded
            .then(() => startWorkerThreads(this, rootThreadOptions(options, host, this.#stopStarts.signal)))
            .then((started) => void this.#workerThreads.push(started));
    const children = middlewareLoaded.then(() => Promise.all(Array.from({ length: processors }, (_, i) => this.#children.start(i + 1))));
    this.#started = Promise.all([workers, children]).then(() => undefined);
    this.#startEnded = Promise.allSettled([workers, children]);
    // A runtime that cannot start stops what did start: no worker or process is left behind.
    this.ready = this.#started.catch(async (error: unknown) => {
      await this.stop();
      // A part given up by the stop hides no part that failed by itself, whichever ended first.
      throw isBusError(error, 'RUNTIME_STOPPED') ? (failedStart(await this.#startEnded!)?.reason ?? error) : error;
    });
    if (options.sync !== undefined) {
      this.syncTimer = new SyncTimer(options.sync.everyMs, () => this.#syncTick());
      this.syncTimer.start();
    }
    // A failed start is reported through `ready`; it must not also be an unhandled rejection.
    this.ready.catch(() => {});
  }

  /**
   * One automatic sync: this process's buses share and merge, its local
   * stations round-trip with the main stations, and the buses merge again —
   * so an event posted before the tick reaches every thread here within it.
   */
  async #syncTick(): Promise<void> {
    const buses = () => this.#threads.flat().flatMap((thread) => SIDES.map((side) => thread.bus(side)));
    await settleAll(buses().map((bus) => () => busControl.autoSync(bus)));
    await settleAll(Object.values(this.#localStations).flatMap((stations) => SIDES.map((side) => () => stations[side].syncUpstream())));
    await settleAll(buses().map((bus) => () => busControl.autoSync(bus)));
  }

  /** Asks the automatic sync policy for a sync now. */
  requestSync(): void {
    this.syncTimer?.trigger();
  }

  /** A child processor died by itself (see `ChildProcessors`). */
  reportCrash(processor: number, reason: string, message: string, restarted: boolean): void {
    this.#reportCrash('processor', processor, null, reason, message, restarted);
  }

  /** A worker thread or child processor reports that a subscriber or an after middleware threw: `onError` hears it here. */
  reportFailure(report: FailureReport): void {
    // A report still on its way (a port's queue, a child's IPC) once stop() resolved: the application is done with us.
    if (this.#halted) return;
    deliverFailure(this.options.onError, report);
  }

  /**
   * Reports a crashed thread or processor as an internal event on the root's
   * internal bus (`busline.thread.crashed`, `busline.processor.crashed`), or logs it when nothing there hears it.
   */
  #reportCrash(kind: 'thread' | 'processor', processor: number, thread: number | null, reason: string, message: string, restarted: boolean): void {
    if (!this.#running) return;
    postCrashReport(this.thread(0, 0).bus('internal'), `busline.${kind}.crashed`, { processor, thread, reason, message, restarted });
  }

  get clock(): Clock {
    return this.options.clock;
  }

  /** False once `stop()` was called. */
  get running(): boolean {
    return this.#running;
  }

  assertRunning(call: string): void {
    if (!this.#running) throw new RuntimeStoppedError(call);
  }

  /** The local station of `side` in a processor that runs in this thread (the root process, 0, by default). */
  station(side: Side, processor = 0): Station {
    assertSide(side, 'station side');
    const stations = this.#localStations[processor];
    if (stations === undefined && this.#children.get(processor) !== undefined) {
      throw new UnsupportedError(`processor ${processor} runs in a child process: use runtime.processor(${processor}).station(side).`);
    }
    if (stations === undefined) throw this.#noProcessor(processor);
    return stations[side];
  }

  /** There is no processor `processor`: the error names those there are. */
  #noProcessor(processor: number): InvalidOptionError {
    return new InvalidOptionError('processor', `no processor ${processor}; there are ${this.#children.listWith(Object.keys(this.#localStations).map(Number))}.`);
  }

  /** The main station of `side`, in the root. */
  mainStation(side: Side): Station {
    return this.#mainStations[side];
  }

  /** The link to the main station of `side`. */
  mainLink(side: Side): StationLink {
    return this.#mainLinks[side];
  }

  /** Child processor `processor`, when it is one and runs. */
  childProcessor(processor: number): RemoteProcessor | undefined {
    return this.#children.get(processor);
  }

  /** Thread `processor.thread` when it is a worker attached here. */
  remoteThread(processor: number, thread: number): RemoteThread | undefined {
    return this.#remoteThreads.get(`${processor}.${thread}`);
  }

  /** The threads hosted in this JS thread. */
  localThreads(): Thread[] {
    return this.#threads.flat();
  }

  /**
   * Thread `processor.index` when it runs in this thread; throws otherwise,
   * saying how to reach it when it runs elsewhere (`UnsupportedError`, as
   * `station()` of a child processor does) or that it does not exist.
   */
  thread(processor: number, index: number): Thread {
    const thread = this.#threads[processor]?.[index];
    if (thread === undefined) {
      const child = this.#children.get(processor) !== undefined;
      const threads = this.options.threadsPerProcessor;
      if (this.remoteThread(processor, index) !== undefined || (child && index <= threads)) {
        const where = child ? `child processor ${processor}` : 'a worker thread';
        throw new UnsupportedError(`thread ${processor}.${index} runs in ${where}: use runtime.thread(${processor}, ${index}).bus(side), a RemoteBus.`);
      }
      if (child) throw new InvalidOptionError('thread', `processor ${processor} has no thread ${index}; its threads are 0 to ${threads}.`);
      if (this.#threads[processor] === undefined) throw this.#noProcessor(processor);
      throw new InvalidOptionError('thread', `no thread ${processor}.${index}; add one with addThread({ processor }).`);
    }
    return thread;
  }

  /** Adds a processor that runs in this thread; returns its number. */
  addProcessor(): number {
    this.assertRunning('addProcessor');
    // Processor 0 is this process; an added one comes after every processor there is, child processors
    // included (they may not have started yet).
    const processor = this.#localStations.length === 0 ? 0 : Math.max(this.#localStations.length, this.options.processors + 1);
    const host = new EmbeddedProcessor(this, processor);
    const stations = {
      internal: this.#createStation(host, 'local', 'internal', processor),
      external: this.#createStation(host, 'local', 'external', processor),
    };
    host.links = {
      internal: new DirectStationLink(stations.internal, this.options.transport, 'bus', () => this.bridgeDirection()),
      external: new DirectStationLink(stations.external, this.options.transport, 'bus', () => this.bridgeDirection()),
    };
    this.#processors[processor] = host;
    this.#localStations[processor] = stations;
    this.#threads[processor] = [new Thread(host, processor, 0)];
    // Its thread 0 will read its stations, and the stations the main ones: until then they hold what leaves once delivered.
    for (const side of SIDES) {
      stations[side].expectReader({ processor, thread: 0 });
      this.#mainStations[side].expectReader({ processor, thread: STATION_THREAD });
    }
    return processor;
  }

  /** Adds a thread to a processor that runs in this thread. */
  addThread(processor: number): Thread {
    this.assertRunning('addThread');
    const threads = this.#threads[processor];
    if (threads === undefined) {
      throw new InvalidOptionError('addThread options.processor', `no processor ${processor}; add it with addProcessor().`);
    }
    // After every thread there is, the root's worker threads included (they may not have started yet).
    const index = Math.max(threads.length, processor === 0 ? this.options.threadsPerProcessor + 1 : 0);
    const thread = new Thread(this.#processors[processor]!, processor, index);
    threads[index] = thread;
    for (const side of SIDES) this.#localStations[processor]![side].expectReader({ processor, thread: index });
    return thread;
  }

  /** Every actor of the runtime, in every thread and processor, with where it runs and its current state. */
  async actors(): Promise<ActorInfo[]> {
    const list: ActorInfo[] = [
      { id: 'bridge', kind: 'bridge', processor: null, thread: null, side: null, state: this.bridgeActor.getSnapshot().value },
    ];
    for (const side of SIDES) {
      const station = this.#mainStations[side];
      list.push({ id: `station:main:${side}`, kind: 'station', processor: null, thread: null, side, state: station.state, ...memorySummary(station.memory()) });
    }
    this.#localStations.forEach((stations, processor) => {
      for (const side of SIDES) {
        const station = stations[side];
        list.push({ id: stationId('local', side, processor), kind: 'station', processor, thread: null, side, state: station.state, ...memorySummary(station.memory()) });
      }
    });
    for (const thread of this.#threads.flat()) list.push(...threadActors(thread));
    const remote = await Promise.all([
      ...[...this.#remoteThreads.values()].map(async (r) => unwrap(await r.caller.call('actors'))),
      ...this.#children.all().map((p) => p.actors()),
    ]);
    for (const actors of remote) list.push(...actors);
    return list;
  }

  /** The stats of what runs in this JS thread: its threads' buses and every station here. */
  localStats(): StatsParts {
    const buses: BusStats[] = [];
    const memory: MemoryStats[] = [];
    for (const station of [...SIDES.map((side) => this.#mainStations[side]), ...Object.values(this.#localStations).flatMap((s) => SIDES.map((side) => s[side]))]) {
      const held = station.memory();
      if (held !== undefined) memory.push(held);
    }
    for (const thread of this.#threads.flat()) {
      const stats = threadStats(thread);
      buses.push(...stats.buses);
      memory.push(...stats.memory);
    }
    return { buses, memory };
  }

  /** The worker threads attached here and the child processors, to be asked for their stats. */
  remoteStatsSources(): RemoteStatsSource[] {
    return [
      ...[...this.#remoteThreads.values()].map((remote) => ({
        name: `${remote.caller.processor}.${remote.caller.thread}`,
        stats: async () => unwrap(await remote.caller.call('stats')),
      })),
      ...this.#children.all().map((child) => ({ name: String(child.processor), stats: () => child.stats() })),
    ];
  }

  /** The control API of a thread wherever it runs (here, a worker, a child processor). */
  threadApi(processor: number, thread: number): { call: ThreadCaller['call']; remote: boolean } {
    const remote = this.remoteThread(processor, thread);
    if (remote !== undefined) return { call: remote.caller.call, remote: true };
    const child = this.#children.get(processor);
    if (child !== undefined) return { call: child.threadCaller(thread).call, remote: true };
    const api = userActorApi(this.thread(processor, thread));
    return {
      remote: false,
      call: ((method: keyof typeof api, ...args: unknown[]) =>
        (api[method] as (...a: unknown[]) => unknown)(...args)) as ThreadCaller['call'],
    };
  }

  /** True once `stop()` has been called: workers may be gone before the root thread halts. */
  get stopping(): boolean {
    return this.#stopped !== undefined;
  }

  /** Stops every actor, worker and child processor; see `Runtime.stop()`. */
  stop(): Promise<void> {
    // Set before whoever awaits stop() goes on (a then-callback of its promise).
    this.#stopped ??= this.#stop().finally(() => {
      this.#halted = true;
    });
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    // Starts and restarts under way give up first (workers terminated, processors killed) and are waited for: no part may come
    // up after the services it would use have stopped. Not `#started`: it rejects with the first part that fails,
    // while another (the root's workers) may still be starting.
    this.#children.halt();
    this.#stopStarts.abort();
    await this.#startEnded;
    await this.#children.settled();
    await Promise.all(this.#workerThreads.map((workers) => workers.settled()));
    // Then services, while their buses still work: their onStop() may post.
    await stopServices(this.#threads.flat());
    await this.syncTimer?.stop();
    this.#running = false;
    await Promise.all(
      [...this.#remoteThreads.values()].map((remote) => remote.caller.call('stop').catch(() => undefined)),
    );
    await Promise.all(this.#workerThreads.map((workers) => workers.stop()));
    await this.#children.stop();
    for (const remote of this.#remoteThreads.values()) remote.channel.close(new RuntimeStoppedError('a sync call'));
    for (const thread of this.#threads.flat()) {
      thread.halt();
      for (const side of SIDES) busControl.actor(thread.bus(side)).stop();
    }
    // Local stations first, then the main ones (created first), then the bridge.
    for (const actor of [...this.#stationActors.values()].reverse()) actor.stop();
    this.bridgeActor.stop();
    this.inspection.close();
    await this.#recordings.stopAll();
    await this.#inspector?.then((server) => server.stop(), () => undefined);
  }

  /** The bridge's current direction. */
  bridgeDirection(): BridgeDirection {
    return this.bridge.direction;
  }

  /** Carries out bridge clearings in every bus and station before resolving. */
  async clear(requests: readonly ClearRequest[]): Promise<void> {
    for (const { remove, scope } of requests) {
      this.#mainStations[scope].clearSide(remove);
      for (const stations of Object.values(this.#localStations)) stations[scope].clearSide(remove);
      for (const thread of this.#threads.flat()) thread.clearSide(scope, remove);
    }
    await Promise.all(
      this.#remoteChannels().map((channel) =>
        Promise.all(requests.map(({ remove, scope }) => channel.request({ kind: 'clearSide', seq: 0, remove, scope }))),
      ),
    );
  }

  /** Tells every thread and processor attached here the bridge's new state; resolves once all know it. */
  async broadcastBridgeState(direction: BridgeDirection, locked: boolean): Promise<void> {
    await Promise.all(
      this.#remoteChannels().map((channel) => channel.request({ kind: 'bridgeState', seq: 0, direction, locked })),
    );
  }

  /** The channels to every thread attached here and every child processor. */
  #remoteChannels(): FrameChannel[] {
    return [...[...this.#remoteThreads.values()].map((remote) => remote.channel), ...this.#children.all().map((remote) => remote.channel)];
  }

  /**
   * Attaches a thread that runs elsewhere (a worker): `port` is its data plane
   * to this processor's stations, `call` its control API. A restarted thread
   * replaces its predecessor.
   */
  attachThread(processor: number, thread: number, port: MessagePortLike, call: ThreadCaller['call'], exited?: Promise<WorkerExit>): RemoteThread {
    this.assertRunning('attachThread');
    if (this.#processors[processor] === undefined) throw new InvalidOptionError('processor', `no processor ${processor}.`);
    const key = `${processor}.${thread}`;
    if (this.#threads[processor]?.[thread] !== undefined) {
      throw new InvalidOptionError('thread', `thread ${key} already exists in this thread.`);
    }
    // A restarted thread replaces its predecessor, whose channel is closed by now.
    this.#remoteThreads.get(key)?.channel.close();
    // Once the runtime stops, its threads' handles refuse calls as stopped, not as crashed.
    const guarded = ((method: string, ...args: unknown[]) =>
      this.#running || method === 'stop'
        ? (call as (m: string, ...a: unknown[]) => unknown)(method, ...args)
        : Promise.resolve({ ok: false, code: 'RUNTIME_STOPPED', message: new RuntimeStoppedError(method).message })) as ThreadCaller['call'];
    const remote = connectThread(
      processor,
      thread,
      port,
      guarded,
      (side) => this.station(side, processor),
      () => this.bridgeDirection(),
      exited,
    );
    this.#remoteThreads.set(key, remote);
    return remote;
  }

  createBusActor(endpoint: Endpoint): Actor<typeof busMachine> {
    return createActor(busMachine, { id: busId(endpoint), input: { endpoint }, inspect: this.inspectHook(endpoint.processor, endpoint.thread) }).start();
  }

  #createStation(host: StationHost, kind: StationKind, side: Side, processor: number): Station {
    const actor = createActor(stationMachine, {
      id: stationId(kind, side, processor),
      input: { kind, side, processor },
      inspect: this.inspectHook(processor, null),
    }).start();
    const station = new Station(host, kind, side, processor, actor);
    // Budget changes of the root's stations are the root's internal events, as crashes are.
    station.onMemoryChange = (change) => queueMicrotask(() => postMemoryChange(() => this.thread(0, 0).bus('internal'), change));
    this.#stationActors.set(station, actor);
    return station;
  }

  /** The `inspect` option of an actor created in this thread at `processor`, `thread` (null: a station or the bridge). */
  inspectHook(processor: number, thread: number | null): InspectHook {
    return this.inspection.tap.hook(processor, thread);
  }

  /**
   * Starts the inspector server (once; later calls get the same one) and
   * turns inspection on everywhere: the root's actors, its worker threads,
   * and every child processor with its threads.
   */
  inspect(options: InspectorOptions): Promise<InspectorServer> {
    this.assertRunning('inspect');
    this.#inspector ??= (async () => {
      // Loaded on demand: a runtime that is never inspected never loads the WebSocket library.
      const { InspectorServer } = await import('../inspector/server.js');
      const server = await InspectorServer.start(options).catch((error: unknown) => {
        this.#inspector = undefined;
        const code = (error as { code?: unknown } | null)?.code;
        if (code === 'EADDRINUSE' || code === 'EACCES') {
          throw new InvalidOptionError('inspect options.port', `cannot listen on 127.0.0.1:${options.port} (${String(code)}); choose another port, or 0 for any free one.`, { cause: error });
        }
        throw error;
      });
      if (!this.#running) {
        await server.stop();
        throw new RuntimeStoppedError('inspect');
      }
      await Promise.all([this.inspection.attach(server), this.#inspectChildren()]);
      return server;
    })();
    return this.#inspector;
  }

  /** Starts a recording of the run (`recording/recorder.ts`); inspection is on everywhere from then on. */
  async record(path: string, options: RecordOptions): Promise<RecordingHandle> {
    this.assertRunning('record');
    const handle = await this.#recordings.start(path, options, () => this.#inspectChildren());
    if (!this.#running) {
      await handle.stop();
      throw new RuntimeStoppedError('record');
    }
    return handle;
  }

  async #inspectChildren(): Promise<void> {
    await Promise.all(this.#children.all().map((child) => child.inspect()));
  }
}

function stationId(kind: StationKind, side: Side, processor: number): string {
  return kind === 'main' ? `station:main:${side}` : `station:local:${processor}:${side}`;
}

let coreOf: ((runtime: object) => RuntimeCore) | undefined;

/**
 * The private core behind a `Runtime`, for the runtime's own modules, tools
 * and tests (`busline/internal`); not exported by `busline`. Here rather than
 * beside `Runtime` so that the published types of `Runtime` never refer to
 * the core (nor, through it, to XState's). Anything but a `Runtime` throws a
 * TypeError.
 */
export function runtimeCore(runtime: object): RuntimeCore {
  return coreOf!(runtime);
}

/** Called once, by `Runtime`'s static block (which alone can read its `#core`). */
export function provideCoreAccess(access: (runtime: object) => RuntimeCore): void {
  coreOf = access;
}
