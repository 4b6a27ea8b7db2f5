/**
 * `createRuntime()`: the topology of seed 000 as real actors. The embedded
 * runtime runs in one process and one thread: the main internal and external
 * stations and the bridge (the root), a local station per side for each
 * processor, and a bus per side for each thread. Every hop goes through the
 * `Transport`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { createActor, type Actor } from 'xstate';
import { InvalidOptionError, RuntimeStoppedError, UnsupportedError } from '../errors.js';
import { bridgeMachine } from '../machines/bridge.machine.js';
import { busMachine } from '../machines/bus.machine.js';
import type { ClearRequest } from '../machines/events.js';
import { stationMachine, type StationKind } from '../machines/station.machine.js';
import type { BridgeDirection, BusEvent, Endpoint, InspectionEvent, Side } from '../types.js';
import { Bridge } from './bridge/bridge.js';
import { DEFAULT_MAX_QUEUED, type Bus } from './bus/bus.js';
import { systemClock, type Clock } from './clock.js';
import type { MessagePortLike } from './wire/frame-channel.js';
import { DirectStationLink, type StationHost, type StationLink, type ThreadHost } from './station/links.js';
import { RemoteBus, connectThread, type RemoteThread, type ThreadCaller } from './bus/remote-bus.js';
import { busId, threadActors, unwrap, userActorApi, type ActorInfo } from './thread/thread-service.js';
import { assertClonable, checkActorEvent, checkSpawnOptions, moduleHref, type SpawnOptions } from './actors/user-actors.js';
import { SyncTimer, policyLimits, settleAll, syncPolicyOf, type PolicyLimits, type SyncPolicy } from './station/sync-policy.js';
import { DEFAULT_RESTART_POLICY, checkRestartPolicy, startWorkerThreads, type RestartPolicy, type WorkerThreads } from './hosting/processor-threads.js';
import { journalPath, prepareJournalDirectories } from './store/journal.js';
import type { ProcessorInit } from './wire/protocol.js';
import { RemoteProcessor, RemoteStation } from './hosting/processor-host.js';
import type { FrameChannel } from './wire/frame-channel.js';
import { RestartBudget } from './hosting/supervision.js';
import type { WorkerExit } from './hosting/worker-api.js';
import { MAX_DEADLINE_MS, checkResourceLimits } from './hosting/worker-host.js';
import { Station } from './station/station.js';
import type { ErrorHandler } from './bus/subscriptions.js';
import { Thread } from './thread/thread.js';
import { FrameTransport, InMemoryTransport, type Transport } from './wire/transport.js';
import { assertFunction, assertKnownKeys, assertSide, describe } from './validate.js';

/** Options of `createRuntime()`. */
export interface RuntimeOptions {
  /**
   * How sync hops travel: `'memory'` passes batches by reference; `'frames'`
   * (the default) encodes each to a FlatBuffers frame and decodes it, as
   * between threads; or a `Transport` of your own.
   */
  readonly transport?: 'memory' | 'frames' | Transport;
  /** Wall clock for event stamps; inject a `ManualClock` in tests. */
  readonly clock?: Clock;
  /**
   * When `deferred` events are delivered: `'idle'` (default) when the thread
   * is idle, or `'manual'`: only on `bus.drain()`.
   */
  readonly deferred?: 'idle' | 'manual';
  /**
   * The deferred events a thread may hold per side, in its bus's queue and
   * parked at the stations: a deferred post beyond it is refused with
   * `BusFullError` (`BUS_FULL`, `bound: 'queue'`), so deferred events nobody
   * drains cannot grow without end, in the thread or at its stations. Default 65 536.
   */
  readonly maxQueued?: number;
  /** Receives subscriber errors that have no `onError` of their own. Logs them by default. */
  readonly onError?: ErrorHandler;
  /** XState's inspection hook, for every actor of the runtime (its events as `InspectionEvent` describes them). */
  readonly inspect?: (event: InspectionEvent) => void;
  /**
   * Worker threads per processor (threads.js workers), each with its own
   * internal and external bus; they are threads 1..n, thread 0 being the
   * processor's own. Default 0. Await `runtime.ready` before using them.
   */
  readonly threadsPerProcessor?: number;
  /**
   * Processors in child processes (`child_process.fork`), each with its own
   * local stations, its thread 0 and `threadsPerProcessor` workers. They are
   * processors 1..n; processor 0 is this process. Default 0: everything here.
   */
  readonly processors?: number;
  /** How long a call to a worker may go unanswered before it is taken as hung. Default 30 000 ms. */
  readonly callDeadlineMs?: number;
  /** How often a crashed worker thread or processor is restarted: default 5 times within 10 s each. */
  readonly restart?: RestartPolicy;
  /**
   * Sync without manual calls: every `everyMs` each bus shares its new events
   * with its station and merges the station's history back (`bus.sync()`: no
   * bus retires, no queue moves) and each local station round-trips with its
   * main station; a bus with `maxBatch` posts since its last sync asks for one
   * at once. `'manual'` (default): only explicit calls sync.
   */
  readonly sync?: 'manual' | SyncPolicy;
  /**
   * Where child processors keep their stations' journals (lmdb): a batch a
   * processor's station accepts is durable before it is acknowledged, and a
   * restarted processor replays it. Default: a temporary directory removed by
   * `stop()`; `false`: no journal (a killed processor loses what only its
   * local stations held).
   */
  readonly journal?: string | false;
  /**
   * Heap limits of each worker thread (Node's `resourceLimits`): a worker over
   * them is stopped alone and restarted, instead of taking the process down.
   */
  readonly workerLimits?: ResourceLimits;
  /**
   * Node and V8 flags of each child processor (its `execArgv`; the compiled
   * package adds none of its own), one per entry (`--name=value`); its worker
   * threads share them. A flag Node refuses makes `runtime.ready` reject. Default
   * `DEFAULT_PROCESSOR_EXEC_ARGV`: a 16 MB young generation from the start
   * (`--min-semi-space-size=16`). A statechart step allocates a few kilobytes
   * and Node's default new space is a few megabytes, so a busy thread
   * scavenged every ~150 sync round trips; now every ~500. `[]` gives Node's
   * defaults.
   */
  readonly processorExecArgv?: readonly string[];
}

/**
 * The flags child processors start with unless `processorExecArgv` says
 * otherwise: the young generation at 16 MB (V8's default upper bound on 64-bit)
 * from the start instead of growing there only when many objects survive.
 * Scavenges then come 2.5x less often; each takes as long as before (their
 * cost is what survives, not the space). 2 x 16 MB of semi-spaces per thread.
 */
export const DEFAULT_PROCESSOR_EXEC_ARGV: readonly string[] = Object.freeze(['--min-semi-space-size=16']);

const RUNTIME_OPTIONS = [
  'transport',
  'clock',
  'deferred',
  'maxQueued',
  'onError',
  'inspect',
  'threadsPerProcessor',
  'processors',
  'callDeadlineMs',
  'restart',
  'workerLimits',
  'processorExecArgv',
  'sync',
  'journal',
] as const;

export type { ActorInfo };

/** A user actor started by `runtime.spawn()`. */
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

/** A thread's handle: its current buses. */
export interface ThreadHandle<B extends Bus | RemoteBus = Bus> {
  readonly processor: number;
  readonly thread: number;
  /** The thread's current bus of `side` (`external` by default): a `RemoteBus` when the thread is a worker. */
  bus(side?: Side): B;
}

/** A processor: where it runs and its local stations (`RemoteStation`s in a child process). */
export interface ProcessorInfo {
  readonly processor: number;
  /** The process it runs in. */
  readonly pid: number | null;
  station(side: Side): Station | RemoteStation;
}

/** A processor's handle: its local stations. */
export interface ProcessorHandle {
  readonly processor: number;
  station(side: Side): Station;
}

function defaultErrorHandler(error: unknown, event: BusEvent): void {
  console.error(`[busline] a subscriber of "${event.type}" (event ${event.id}) failed:`, error);
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
export class Runtime {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly deferred: 'idle' | 'manual';
  /** The bound on each thread's deferred events per side, queued or parked (`maxQueued`). */
  readonly maxQueued: number;
  readonly bridge: Bridge;
  /** @internal */
  readonly subscriberErrorHandler: ErrorHandler;
  readonly #inspect: ((event: InspectionEvent) => void) | undefined;
  readonly #mainStations: Record<Side, Station>;
  readonly #mainLinks: Record<Side, StationLink>;
  /**
   * The processors, their local stations and threads that run in this thread,
   * by processor and thread number. Numbers taken by child processors and by
   * worker threads are holes here: iterate with `flat()` or `Object.values()`.
   */
  readonly #processors: EmbeddedProcessor[] = [];
  readonly #localStations: Array<Record<Side, Station>> = [];
  readonly #threads: Thread[][] = [];
  /** Processor numbers 1..n belong to child processors (`processors`), thread numbers 1..m of processor 0 to its workers: never given to an added one. */
  #childProcessors = 0;
  #rootWorkers = 0;
  readonly #remoteThreads = new Map<string, RemoteThread>();
  readonly #workerThreads: WorkerThreads[] = [];
  readonly #remoteProcessors = new Map<number, RemoteProcessor>();
  readonly #processorBudgets = new Map<number, RestartBudget>();
  readonly #starting = new Set<Promise<RemoteProcessor>>();
  /** Aborted by stop(): processor starts under way give up and kill their child. */
  readonly #stopStarts = new AbortController();
  #stopping = false;
  #journalDir: string | undefined;
  #ownsJournalDir = false;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #syncTimer: SyncTimer | undefined;
  /** The automatic sync policy, when there is one. */
  readonly syncPolicy: SyncPolicy | undefined;
  /** @internal The policy's bounds (defaults filled in) that every bus of this process checks. */
  readonly syncLimits: PolicyLimits | undefined;
  readonly #processorExecArgv: readonly string[];
  #processorInit!: Pick<ProcessorInit, 'threads' | 'maxQueued' | 'callDeadlineMs' | 'restart' | 'workerLimits' | 'sync'>;
  #pendingClearings: ClearRequest[] = [];
  #running = true;

  /** @internal Use `createRuntime()`. */
  constructor(options: RuntimeOptions = {}) {
    assertKnownKeys(options, RUNTIME_OPTIONS, 'createRuntime options');
    const threads = options.threadsPerProcessor ?? 0;
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) {
      throw new InvalidOptionError('threadsPerProcessor', `expected an integer from 0 to 64, got ${describe(threads)}.`);
    }
    const syncPolicy = syncPolicyOf(options.sync);
    this.syncLimits = syncPolicy === undefined ? undefined : policyLimits(syncPolicy);
    const processors = options.processors ?? 0;
    if (!Number.isInteger(processors) || processors < 0 || processors > 64) {
      throw new InvalidOptionError('processors', `expected an integer from 0 to 64, got ${describe(processors)}.`);
    }
    this.#childProcessors = processors;
    this.#rootWorkers = threads;
    const execArgv = options.processorExecArgv ?? DEFAULT_PROCESSOR_EXEC_ARGV;
    if (!Array.isArray(execArgv) || execArgv.some((flag) => typeof flag !== 'string' || !flag.startsWith('-'))) {
      throw new InvalidOptionError('processorExecArgv', `expected an array of flags such as '--max-old-space-size=4096', got ${describe(execArgv)}.`);
    }
    this.#processorExecArgv = Object.freeze([...execArgv]);
    const deadline = options.callDeadlineMs;
    if (deadline !== undefined && (!Number.isInteger(deadline) || deadline < 1 || deadline > MAX_DEADLINE_MS)) {
      throw new InvalidOptionError('callDeadlineMs', `expected whole milliseconds from 1 to ${MAX_DEADLINE_MS}, got ${describe(deadline)}.`);
    }
    this.clock = options.clock ?? systemClock;
    if (typeof this.clock?.now !== 'function') throw new InvalidOptionError('clock', 'expected an object with a now() method.');
    this.transport = resolveTransport(options.transport);
    const deferred = options.deferred ?? 'idle';
    if (deferred !== 'idle' && deferred !== 'manual') {
      throw new InvalidOptionError('deferred', `expected 'idle' or 'manual', got ${describe(deferred)}.`);
    }
    this.deferred = deferred;
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (typeof maxQueued !== 'number' || !Number.isSafeInteger(maxQueued) || maxQueued < 1) {
      throw new InvalidOptionError('maxQueued', `expected a positive integer, got ${describe(maxQueued)}.`);
    }
    this.maxQueued = maxQueued;
    if (options.onError !== undefined) assertFunction(options.onError, 'onError');
    if (options.inspect !== undefined) assertFunction(options.inspect, 'inspect');
    this.subscriberErrorHandler = options.onError ?? defaultErrorHandler;
    this.#inspect = options.inspect;
    // What workers and child processors check again is checked here, before anything starts: a start
    // they refuse would come after this constructor had taken the option, and leave a half-started runtime.
    if (options.restart !== undefined) checkRestartPolicy(options.restart, 'restart');
    if (options.workerLimits !== undefined) checkResourceLimits(options.workerLimits, 'workerLimits');
    const journal = options.journal;
    if (journal !== undefined && journal !== false && (typeof journal !== 'string' || journal.length === 0)) {
      throw new InvalidOptionError('journal', `expected a directory path or false, got ${describe(journal)}.`);
    }
    if (processors > 0 && journal !== false) {
      this.#journalDir = journal ?? mkdtempSync(join(tmpdir(), 'busline-journal-'));
      this.#ownsJournalDir = journal === undefined;
      try {
        prepareJournalDirectories(this.#journalDir, processors);
      } catch (error) {
        if (this.#ownsJournalDir) rmSync(this.#journalDir, { recursive: true, force: true });
        throw error;
      }
    }

    const bridgeActor = createActor(
      bridgeMachine.provide({
        actions: { clearSide: (_args, params: ClearRequest) => void this.#pendingClearings.push(params) },
      }),
      { id: 'bridge', ...this.#inspectOption() },
    );
    this.bridge = new Bridge(bridgeActor, this, () => {
      const taken = this.#pendingClearings;
      this.#pendingClearings = [];
      return taken;
    });
    bridgeActor.start();
    const mainHost: StationHost = {
      ...(this.syncLimits === undefined ? {} : { maxBacklog: this.syncLimits.maxBacklog }),
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
      internal: new DirectStationLink(this.#mainStations.internal, this.transport, 'station'),
      external: new DirectStationLink(this.#mainStations.external, this.transport, 'station'),
    };
    this.addProcessor();
    const workers =
      threads === 0
        ? Promise.resolve()
        : startWorkerThreads(this, {
            processor: 0,
            count: threads,
            deferred: this.deferred,
            maxQueued,
            bridge: () => this.bridgeDirection(),
            ...(deadline === undefined ? {} : { callDeadlineMs: deadline }),
            ...(options.restart === undefined ? {} : { restart: options.restart }),
            ...(options.workerLimits === undefined ? {} : { resourceLimits: options.workerLimits }),
            ...(syncPolicy === undefined ? {} : { sync: syncPolicy }),
            onCrash: (thread, exit, restarted) => this.#reportCrash('thread', 0, thread, exit.reason, restarted),
          }).then((started) => {
            this.#workerThreads.push(started);
          });
    this.#processorInit = {
      threads,
      maxQueued,
      ...(deadline === undefined ? {} : { callDeadlineMs: deadline }),
      ...(options.restart === undefined ? {} : { restart: options.restart }),
      ...(options.workerLimits === undefined ? {} : { workerLimits: options.workerLimits }),
      ...(syncPolicy === undefined ? {} : { sync: syncPolicy }),
    };
    const children = Promise.all(Array.from({ length: processors }, (_, i) => this.#startProcessor(i + 1, 0)));
    this.#started = Promise.all([workers, children]).then(() => undefined);
    // A runtime that cannot start stops what did start: no worker or process is left behind.
    this.ready = this.#started.catch(async (error: unknown) => {
      await this.stop();
      throw error;
    });
    if (syncPolicy !== undefined) {
      this.syncPolicy = syncPolicy;
      this.#syncTimer = new SyncTimer(syncPolicy.everyMs, () => this.#syncTick());
      this.#syncTimer.start();
    }
    // A failed start is reported through `ready`; it must not also be an unhandled rejection.
    this.ready.catch(() => {});
  }

  /**
   * Resolves once every worker thread has started (at once when there are
   * none); rejects with the reason when one could not start.
   */
  readonly ready: Promise<void>;

  /**
   * One automatic sync: this process's buses share and merge, its local
   * stations round-trip with the main stations, and the buses merge again —
   * so an event posted before the tick reaches every thread here within it.
   */
  async #syncTick(): Promise<void> {
    const buses = () => this.#threads.flat().flatMap((thread) => [thread.bus('internal'), thread.bus('external')]);
    await settleAll(buses().map((bus) => () => bus.autoSync()));
    await settleAll(Object.values(this.#localStations).flatMap((stations) => [() => stations.internal.roundTrip(), () => stations.external.roundTrip()]));
    await settleAll(buses().map((bus) => () => bus.autoSync()));
  }

  /** @internal Asks the automatic sync policy for a sync now. */
  requestSync(): void {
    this.#syncTimer?.trigger();
  }

  /**
   * Forks processor `index` and watches it: when it dies by itself it is
   * restarted within its restart budget, and the crash is reported. What had
   * reached the main stations is kept; what its local stations had accepted
   * comes back from its journal (lost with it only with `journal: false`).
   */
  async #startProcessor(index: number, incarnation: number): Promise<void> {
    const starting = RemoteProcessor.start(
      {
        processor: index,
        deferred: this.deferred,
        bridge: this.bridgeDirection(),
        incarnation,
        ...this.#processorInit,
        ...(this.#journalDir === undefined ? {} : { journal: journalPath(this.#journalDir, index) }),
      },
      (side) => this.mainStation(side),
      () => this.bridgeDirection(),
      this.#processorExecArgv,
      this.#stopStarts.signal,
    );
    // stop() aborts starts in flight and waits for them, so no processor started meanwhile outlives it.
    this.#starting.add(starting);
    let remote: RemoteProcessor;
    try {
      remote = await starting;
    } finally {
      this.#starting.delete(starting);
    }
    if (!this.#stopping && this.#running) this.#remoteProcessors.set(index, remote);
    else {
      await remote.stop();
      return;
    }
    void remote.exited.then(async (exit) => {
      if (exit.stopped || !this.#running || this.#stopping) return;
      const reason = exit.signal ?? `exit code ${exit.code}`;
      let budget = this.#processorBudgets.get(index);
      if (budget === undefined) {
        budget = new RestartBudget({ ...(this.#processorInit.restart ?? DEFAULT_RESTART_POLICY), clock: this.clock });
        this.#processorBudgets.set(index, budget);
      }
      // A failed start has killed its child; it counts against the budget until a start succeeds.
      while (this.#running && !this.#stopping && budget.tryRestart()) {
        try {
          await this.#startProcessor(index, incarnation + 1);
          budget.started();
          this.#reportCrash('processor', index, null, reason, true);
          return;
        } catch {
          budget.startFailed();
          incarnation++;
        }
      }
      // A stop() under way ended the restarts, not the budget.
      if (this.#stopping) return;
      this.#reportCrash('processor', index, null, reason, false);
    });
  }

  /**
   * Reports a crashed thread or processor as an internal event on the root's
   * internal bus (`busline.thread.crashed`, `busline.processor.crashed`).
   */
  #reportCrash(kind: 'thread' | 'processor', processor: number, thread: number | null, reason: string, restarted: boolean): void {
    if (!this.#running) return;
    this.bus('internal').post(`busline.${kind}.crashed`, { processor, thread, reason, restarted }, { priority: 'immediate' });
  }

  /** False once `stop()` was called. */
  get running(): boolean {
    return this.#running;
  }

  /** The current bus of `side` of a thread (the root's main thread by default). */
  bus(side: Side = 'external', where: { processor?: number; thread?: number } = {}): Bus {
    assertSide(side, 'bus side');
    assertKnownKeys(where, ['processor', 'thread'], 'bus where');
    return this.#thread(where.processor ?? 0, where.thread ?? 0).bus(side);
  }

  /** The local station of `side` in a processor (the root process, 0, by default). */
  station(side: Side, processor = 0): Station {
    assertSide(side, 'station side');
    const stations = this.#localStations[processor];
    if (stations === undefined && this.#remoteProcessors.has(processor)) {
      throw new UnsupportedError(`processor ${processor} runs in a child process: use runtime.processor(${processor}).station(side).`);
    }
    if (stations === undefined) {
      const known = [...Object.keys(this.#localStations), ...this.#remoteProcessors.keys()].join(', ');
      throw new InvalidOptionError('processor', `no processor ${processor}; there are ${known}.`);
    }
    return stations[side];
  }

  /** A processor's local stations: `RemoteStation`s when it runs in a child process. */
  processor(processor: number): ProcessorInfo {
    assertIndex(processor, 'processor');
    const child = this.#remoteProcessors.get(processor);
    if (child !== undefined) {
      return { processor, pid: child.pid ?? null, station: (side) => new RemoteStation(child, side) };
    }
    this.station('internal', processor);
    return { processor, pid: process.pid, station: (side) => this.station(side, processor) };
  }

  /** The main station of `side`, in the root. */
  mainStation(side: Side): Station {
    assertSide(side, 'mainStation side');
    return this.#mainStations[side];
  }

  /** A thread's handle. */
  thread(processor = 0, thread = 0): ThreadHandle<Bus | RemoteBus> {
    assertIndex(processor, 'thread processor');
    assertIndex(thread, 'thread index');
    const remote = this.#remoteThreads.get(`${processor}.${thread}`);
    if (remote !== undefined) return this.#remoteHandle(remote);
    const child = this.#remoteProcessors.get(processor);
    if (child !== undefined) {
      const caller = child.threadCaller(thread);
      return {
        processor,
        thread,
        bus: (side = 'external') => (assertSide(side, 'bus side'), new RemoteBus(caller, side, child.generation(thread, side))),
      };
    }
    return this.#handle(this.#thread(processor, thread));
  }

  /**
   * Adds a processor with its own local internal and external stations and a
   * main thread. Embedded: it runs in this process, with the same actors and
   * the same transport as a child process would have.
   */
  addProcessor(): ProcessorHandle {
    this.assertRunning('addProcessor');
    // Processor 0 is this process; an added one comes after every processor there is, child processors
    // included (they may not have started yet).
    const processor = this.#localStations.length === 0 ? 0 : Math.max(this.#localStations.length, this.#childProcessors + 1);
    const host = new EmbeddedProcessor(this, processor);
    const stations = {
      internal: this.#createStation(host, 'local', 'internal', processor),
      external: this.#createStation(host, 'local', 'external', processor),
    };
    host.links = {
      internal: new DirectStationLink(stations.internal, this.transport),
      external: new DirectStationLink(stations.external, this.transport),
    };
    this.#processors[processor] = host;
    this.#localStations[processor] = stations;
    this.#threads[processor] = [new Thread(host, processor, 0)];
    return { processor, station: (side) => this.station(side, processor) };
  }

  /** Adds a thread (an internal and an external bus) to a processor. Embedded: it runs in this thread. */
  addThread(options: { processor?: number } = {}): ThreadHandle {
    this.assertRunning('addThread');
    assertKnownKeys(options, ['processor'], 'addThread options');
    const processor = options.processor ?? 0;
    assertIndex(processor, 'addThread options.processor');
    const threads = this.#threads[processor];
    if (threads === undefined) {
      throw new InvalidOptionError('addThread options.processor', `no processor ${processor}; add it with addProcessor().`);
    }
    // After every thread there is, the root's worker threads included (they may not have started yet).
    const index = Math.max(threads.length, processor === 0 ? this.#rootWorkers + 1 : 0);
    const thread = new Thread(this.#processors[processor]!, processor, index);
    threads[index] = thread;
    return this.#handle(thread);
  }

  /**
   * Every actor of the runtime — the bridge, the stations, every thread's
   * buses and the users' own actors, in every thread and processor — with
   * where it runs and its current state.
   */
  async actors(): Promise<ActorInfo[]> {
    const list: ActorInfo[] = [
      { id: 'bridge', kind: 'bridge', processor: null, thread: null, side: null, state: this.bridge.actor.getSnapshot().value },
    ];
    for (const side of ['internal', 'external'] as const) {
      list.push({ id: `station:main:${side}`, kind: 'station', processor: null, thread: null, side, state: this.#mainStations[side].state });
    }
    this.#localStations.forEach((stations, processor) => {
      for (const side of ['internal', 'external'] as const) {
        list.push({ id: stationId('local', side, processor), kind: 'station', processor, thread: null, side, state: stations[side].state });
      }
    });
    for (const thread of this.#threads.flat()) list.push(...threadActors(thread));
    const remote = await Promise.all([
      ...[...this.#remoteThreads.values()].map(async (r) => unwrap(await r.caller.call('actors'))),
      ...[...this.#remoteProcessors.values()].map((p) => p.actors()),
    ]);
    for (const actors of remote) list.push(...actors);
    return list;
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
  async spawn(module: string | URL, options: SpawnOptions = {}): Promise<SpawnedActor> {
    this.assertRunning('spawn');
    const href = moduleHref(module);
    checkSpawnOptions(options);
    const { processor = 0, thread = 0, ...rest } = options;
    const api = this.#threadApi(processor, thread);
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

  /** The control API of a thread wherever it runs (here, a worker, a child processor). */
  #threadApi(processor: number, thread: number): { call: ThreadCaller['call']; remote: boolean } {
    const remote = this.#remoteThreads.get(`${processor}.${thread}`);
    if (remote !== undefined) return { call: remote.caller.call, remote: true };
    const child = this.#remoteProcessors.get(processor);
    if (child !== undefined) return { call: child.threadCaller(thread).call, remote: true };
    const api = userActorApi(this.#thread(processor, thread));
    return {
      remote: false,
      call: ((method: keyof typeof api, ...args: unknown[]) =>
        (api[method] as (...a: unknown[]) => unknown)(...args)) as ThreadCaller['call'],
    };
  }

  /** Stops every actor. Calls afterwards are refused with `RuntimeStoppedError`. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#stopStarts.abort();
    await this.#syncTimer?.stop();
    await this.#started?.catch(() => {});
    await Promise.allSettled([...this.#starting]);
    this.#running = false;
    await Promise.all(
      [...this.#remoteThreads.values()].map((remote) => remote.caller.call('stop').catch(() => undefined)),
    );
    await Promise.all(this.#workerThreads.map((workers) => workers.stop()));
    await Promise.all([...this.#remoteProcessors.values()].map((remote) => remote.stop()));
    if (this.#ownsJournalDir && this.#journalDir !== undefined) rmSync(this.#journalDir, { recursive: true, force: true });
    for (const remote of this.#remoteThreads.values()) remote.channel.close(new RuntimeStoppedError('a sync call'));
    for (const thread of this.#threads.flat()) {
      thread.halt();
      for (const side of ['internal', 'external'] as const) thread.bus(side).actor.stop();
    }
    for (const stations of Object.values(this.#localStations)) {
      stations.internal.actor.stop();
      stations.external.actor.stop();
    }
    this.#mainStations.internal.actor.stop();
    this.#mainStations.external.actor.stop();
    this.bridge.actor.stop();
  }

  /** @internal */
  assertRunning(call: string): void {
    if (!this.#running) throw new RuntimeStoppedError(call);
  }

  /** @internal The bridge's current direction. */
  bridgeDirection(): BridgeDirection {
    return this.bridge.direction;
  }

  /** @internal Carries out bridge clearings in every bus and station before resolving. */
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

  /** The channels to every thread attached here and every child processor. */
  #remoteChannels(): FrameChannel[] {
    return [
      ...[...this.#remoteThreads.values()].map((remote) => remote.channel),
      ...[...this.#remoteProcessors.values()].map((remote) => remote.channel),
    ];
  }

  /** @internal Tells every remote thread the bridge's new state before the bridge call resolves. */
  async changed(direction: BridgeDirection, locked: boolean): Promise<void> {
    await Promise.all(
      this.#remoteChannels().map((channel) => channel.request({ kind: 'bridgeState', seq: 0, direction, locked })),
    );
  }

  /**
   * @internal Attaches a thread that runs elsewhere (a worker): `port` is its
   * data plane to this processor's stations, `call` its control API.
   */
  attachThread(
    processor: number,
    thread: number,
    port: MessagePortLike,
    call: ThreadCaller['call'],
    exited?: Promise<WorkerExit>,
  ): ThreadHandle<RemoteBus> {
    this.assertRunning('attachThread');
    const host = this.#processors[processor];
    if (host === undefined) throw new InvalidOptionError('processor', `no processor ${processor}.`);
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
    return this.#remoteHandle(remote);
  }

  #remoteHandle(remote: RemoteThread): ThreadHandle<RemoteBus> {
    return {
      processor: remote.caller.processor,
      thread: remote.caller.thread,
      bus: (side = 'external') => (assertSide(side, 'bus side'), new RemoteBus(remote.caller, side, remote.generations[side])),
    };
  }

  /** @internal */
  createBusActor(endpoint: Endpoint): Actor<typeof busMachine> {
    return createActor(busMachine, { id: busId(endpoint), input: { endpoint }, ...this.#inspectOption() }).start();
  }

  /** @internal The link to the main station of `side`. */
  mainLink(side: Side): StationLink {
    return this.#mainLinks[side];
  }

  #createStation(host: StationHost, kind: StationKind, side: Side, processor: number): Station {
    const actor = createActor(stationMachine, {
      id: stationId(kind, side, processor),
      input: { kind, side, processor },
      ...this.#inspectOption(),
    }).start();
    return new Station(host, kind, side, processor, actor);
  }

  #inspectOption(): { inspect?: (event: InspectionEvent) => void } {
    return this.#inspect === undefined ? {} : { inspect: this.#inspect };
  }

  #thread(processor: number, index: number): Thread {
    const thread = this.#threads[processor]?.[index];
    if (thread === undefined) {
      throw new InvalidOptionError('thread', `no thread ${processor}.${index}; add one with addThread({ processor }).`);
    }
    return thread;
  }

  #handle(thread: Thread): ThreadHandle {
    return { processor: thread.processor, thread: thread.index, bus: (side = 'external') => (assertSide(side, 'bus side'), thread.bus(side)) };
  }
}

/** A processor of the embedded runtime: hosts its threads' buses and its local stations in this thread. */
class EmbeddedProcessor implements ThreadHost, StationHost {
  readonly #runtime: Runtime;
  readonly processor: number;
  links: Record<Side, StationLink> | undefined;

  constructor(runtime: Runtime, processor: number) {
    this.#runtime = runtime;
    this.processor = processor;
  }

  get clock(): Clock {
    return this.#runtime.clock;
  }

  get deferred(): 'idle' | 'manual' {
    return this.#runtime.deferred;
  }

  get maxQueued(): number {
    return this.#runtime.maxQueued;
  }

  get running(): boolean {
    return this.#runtime.running;
  }

  get subscriberErrorHandler(): ErrorHandler {
    return this.#runtime.subscriberErrorHandler;
  }

  get maxBatch(): number | undefined {
    return this.#runtime.syncLimits?.maxBatch;
  }

  get maxUnsent(): number | undefined {
    return this.#runtime.syncLimits?.maxUnsent;
  }

  get maxInFlight(): number | undefined {
    return this.#runtime.syncLimits?.maxInFlight;
  }

  get maxBacklog(): number | undefined {
    return this.#runtime.syncLimits?.maxBacklog;
  }

  requestSync(): void {
    this.#runtime.requestSync();
  }

  assertRunning(call: string): void {
    this.#runtime.assertRunning(call);
  }

  bridgeDirection(): BridgeDirection {
    return this.#runtime.bridgeDirection();
  }

  bridgeLocked(): boolean {
    return this.#runtime.bridge.locked;
  }

  stationLink(side: Side): StationLink {
    return this.links![side];
  }

  mainLink(side: Side): StationLink {
    return this.#runtime.mainLink(side);
  }

  createBusActor(endpoint: Endpoint): Actor<typeof busMachine> {
    return this.#runtime.createBusActor(endpoint);
  }
}


/** Throws `InvalidOptionError` unless `value` is a processor or thread index: an integer from 0. */
function assertIndex(value: unknown, option: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `expected an integer from 0, got ${describe(value)}.`);
  }
}

function stationId(kind: StationKind, side: Side, processor: number): string {
  return kind === 'main' ? `station:main:${side}` : `station:local:${processor}:${side}`;
}

function resolveTransport(transport: RuntimeOptions['transport']): Transport {
  if (transport === undefined || transport === 'frames') return new FrameTransport();
  if (transport === 'memory') return new InMemoryTransport();
  if (typeof transport === 'object' && transport !== null && typeof transport.carry === 'function') return transport;
  throw new InvalidOptionError('transport', `expected 'memory', 'frames' or a Transport, got ${describe(transport)}.`);
}

/**
 * Creates a runtime. With no options everything runs in this process and
 * thread: main stations, the bridge, processor 0's local stations and the
 * main thread's buses, all real actors, every hop framed.
 *
 * @example
 * const runtime = createRuntime({ deferred: 'manual' })
 */
export function createRuntime(options?: RuntimeOptions): Runtime {
  return new Runtime(options);
}
