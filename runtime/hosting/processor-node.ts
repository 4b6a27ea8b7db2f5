/**
 * What runs in a processor (a child process): its local internal and external
 * stations, linked to the root's main stations by frames over the IPC
 * channel; its own thread 0; and its worker threads. The root drives it with
 * control messages (`ProcessorControl`) on the same channel.
 */
import { MessageChannel } from 'node:worker_threads';
import { InspectionRelay } from '../inspection/ports.js';
import { InspectionTap, realmName, type InspectionOutlet } from '../inspection/tap.js';
import { createActor } from 'xstate';
import { BusError, TimeoutError, UnsupportedError, isBusError } from '../../errors.js';
import { toWireError } from '../wire/wire-errors.js';
import { stationMachine } from '../../machines/station.machine.js';
import { SIDES, type BridgeDirection, type Side } from '../../types.js';
import { FrameChannel, type FramePort, type MessagePortLike } from '../wire/frame-channel.js';
import { ChannelStationLink, STATION_THREAD, type StationHost } from '../station/links.js';
import type { Outcome, ProcessorControl, ProcessorInit, ProcessorReport, WireMessage } from '../wire/protocol.js';
import { RemoteBus, connectThread, type RemoteThread, type ThreadCaller } from '../bus/remote-bus.js';
import { incarnationName, startWorkerThreads, type WorkerThreads } from './processor-threads.js';
import { SyncTimer, policyLimits, settleAll } from '../station/sync-policy.js';
import { StationJournal } from '../store/journal.js';
import { MemoryPolicies, checkMemoryOptions } from '../store/memory-policy.js';
import { ManualClock, systemClock, type Clock } from '../clock.js';
import { Station } from '../station/station.js';
import { THREAD_API_METHODS, createThreadService, eventsToFrame, memorySummary, outcome, type ActorInfo, type ThreadApi } from '../thread/thread-service.js';
import { loadMiddlewareModules } from '../bus/middleware-modules.js';
import { unlessStopped } from './given-up.js';
import type { BusStats } from '../metrics/stats.js';
import type { StatsParts } from '../metrics/runtime-stats.js';
import type { MemoryStats } from '../store/memory-stats.js';
import { describeExit, replacedRefusal, type WorkerExit } from './worker-api.js';
import { DEFAULT_CALL_DEADLINE_MS } from './worker-host.js';
import type { FailureReport } from '../thread/failure-reports.js';

const STATION_METHODS = ['toMain', 'fromMain', 'roundTrip', 'history', 'queued', 'state', 'backlog', 'memory'];

/** Why `message` is not a control message this node can act on, or undefined when it is one. */
function controlProblem(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return 'expected an object';
  const { type, target, method, args } = message as Record<string, unknown>;
  if (type === 'actors' || type === 'stats' || type === 'stop' || type === 'init' || type === 'inspect') return undefined;
  if (type === 'clock') return Number.isFinite((message as { now?: unknown }).now) ? undefined : 'clock needs a finite now';
  if (type !== 'call') return `unknown type ${JSON.stringify(String(type)).slice(0, 40)}`;
  if (!Array.isArray(args)) return 'args must be an array';
  if (target === 'thread') {
    const { thread } = message as { thread?: unknown };
    if (typeof thread !== 'number' || !Number.isSafeInteger(thread) || thread < 0) return 'thread must be an integer from 0';
    const { incarnation } = message as { incarnation?: unknown };
    if (typeof incarnation !== 'number' || !Number.isSafeInteger(incarnation) || incarnation < 0) return 'incarnation must be an integer from 0';
    if (!THREAD_API_METHODS.includes(method as never)) return `a thread has no method ${JSON.stringify(String(method)).slice(0, 40)}`;
    return undefined;
  }
  if (target === 'station') {
    const { side } = message as { side?: unknown };
    if (side !== 'internal' && side !== 'external') return "side must be 'internal' or 'external'";
    if (!STATION_METHODS.includes(method as never)) return `a station has no remote method ${JSON.stringify(String(method)).slice(0, 40)}`;
    return undefined;
  }
  return "target must be 'thread' or 'station'";
}

/** One processor's stations and threads. */
export class ProcessorNode implements StationHost {
  readonly processor: number;
  readonly #stations: Record<Side, Station>;
  readonly #upstream: FrameChannel;
  readonly #threads = new Map<number, RemoteThread>();
  /** The incarnation of each thread's current worker: 0 for its first, one more for each restart. */
  readonly #incarnations = new Map<number, number>();
  #workers: WorkerThreads | undefined;
  #syncTimer: SyncTimer | undefined;
  #journal: StationJournal | undefined;
  readonly #init: ProcessorInit;
  #direction: BridgeDirection;
  #locked = false;
  #running = true;
  /** Aborted by stop(): a start under way gives up (its imports are no longer waited for, its workers are terminated), and worker threads restarting too. */
  readonly #stopStarts = new AbortController();
  /** The start, once called: stop() waits for it to end (given up or done) before it stops what it started. */
  #starting: Promise<void> | undefined;
  #stopping: Promise<null> | undefined;
  readonly #onThreadReplaced: ((thread: number, incarnation: number) => void) | undefined;
  readonly #sendFailure: ((report: FailureReport) => void) | undefined;
  /** Inspection of this processor's realm (its stations), and the ports its threads send theirs on. */
  readonly #inspection: { readonly tap: InspectionTap; readonly relay: InspectionRelay } | undefined;

  /** The runtime's memory policies, for this processor's stations and threads. */
  readonly memory: MemoryPolicies;
  /**
   * The clock their `ttlMs` and `maxAgeMs` go by (a function cannot cross
   * processes): this one's, or a manual one that follows the runtime's `ManualClock`.
   */
  readonly clock: Clock;
  readonly #manualClock: ManualClock | undefined;

  /**
   * `onThreadReplaced` is told when a restarted worker thread replaces its
   * predecessor, with the successor's incarnation (the root resets what it
   * knows of its buses, and tags its calls with it); `sendInspection`
   * carries inspection batches to the root (none: no inspection here);
   * `sendFailure` carries what fails in its threads to the root's `onError` (none: logged here).
   */
  constructor(
    parent: FramePort,
    init: ProcessorInit,
    onThreadReplaced?: (thread: number, incarnation: number) => void,
    sendInspection?: InspectionOutlet,
    sendFailure?: (report: FailureReport) => void,
  ) {
    this.processor = init.processor;
    this.#init = init;
    this.#manualClock = typeof init.clockAt === 'number' && Number.isFinite(init.clockAt) ? new ManualClock(init.clockAt) : undefined;
    this.clock = this.#manualClock ?? systemClock;
    this.memory = new MemoryPolicies(checkMemoryOptions(init.memory));
    this.#onThreadReplaced = onThreadReplaced;
    this.#sendFailure = sendFailure;
    if (sendInspection !== undefined) {
      const tap = new InspectionTap({
        realm: realmName(init.processor, 0, this.#incarnation()),
        on: init.inspect === true,
        outlet: sendInspection,
      });
      // What the threads send joins this processor's records, under the same bound, one batch to the root at a time.
      this.#inspection = { tap, relay: new InspectionRelay((batch) => tap.forward(batch), () => tap.on) };
    }
    this.#direction = init.bridge;
    this.#upstream = new FrameChannel(parent, {
      end: 'a',
      name: `processor ${init.processor} ↔ root`,
      // What arrives (the main stations' replies) goes to this processor's local stations: events stay encoded.
      encodedEvents: true,
      serve: (message) => this.#fromRoot(message),
    });
    const station = (side: Side) =>
      this.#withMemoryReports(new Station(
        this,
        'local',
        side,
        init.processor,
        createActor(stationMachine, {
          id: `station:local:${init.processor}:${side}`,
          input: { kind: 'local', side, processor: init.processor },
          ...(this.#inspection === undefined ? {} : { inspect: this.#inspection.tap.hook(init.processor, null) }),
        }).start(),
      ));
    this.#stations = { internal: station('internal'), external: station('external') };
  }

  /**
   * Opens the journal and replays it into the stations (a restarted processor
   * gets back what its stations had accepted), starts thread 0 here and the
   * worker threads, sends restored history on to the main stations, and only
   * then starts the sync policy: the resend is a `toMain()`, and one of the
   * policy's round trips running meanwhile would make it fail as busy.
   * Resolves once all of that is done; rejects with `RUNTIME_STOPPED` when
   * `stop()` gives it up.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const stopped = this.#stopStarts.signal;
    // Started after a stop: nothing is opened (the journal) that the stop would not close.
    if (stopped.aborted) throw new BusError('RUNTIME_STOPPED', `start() was refused: processor ${this.processor} has stopped.`);
    let restored = 0;
    if (this.#init.journal !== undefined) {
      this.#journal = StationJournal.open(this.#init.journal);
      this.#journal.stations = (side) => this.#stations[side];
      const entries = this.#journal.entries();
      for (const side of ['internal', 'external'] as const) {
        restored += this.#stations[side].replay(entries);
        this.#stations[side].journal = this.#journal;
      }
    }
    // The runtime's middleware modules, loaded before thread 0 exists: one that cannot be loaded fails the start.
    // An import cannot be cancelled, but a stop gives up waiting for it (and for what follows: no thread 0 then).
    const middleware = await unlessStopped(loadMiddlewareModules(this.#init.middleware), stopped, 'loading the middleware modules');
    const { port1, port2 } = new MessageChannel();
    const inspectPorts = this.#inspection === undefined ? undefined : new MessageChannel();
    if (inspectPorts !== undefined) this.#inspection!.relay.attach(inspectPorts.port2);
    const sendFailure = this.#sendFailure;
    const api = createThreadService(port1, {
      ...(inspectPorts === undefined ? {} : { inspectPort: inspectPorts.port1, inspect: this.#inspection!.tap.on }),
      ...(sendFailure === undefined ? {} : { reportPort: { postMessage: sendFailure } }),
      processor: this.processor,
      thread: 0,
      deferred: this.#init.deferred,
      maxQueued: this.#init.maxQueued,
      bridge: this.#direction,
      incarnation: incarnationName(this.#incarnation(), 0),
      ...(this.#init.sync === undefined ? {} : { sync: this.#init.sync }),
      ...(this.#init.memory === undefined ? {} : { memory: this.#init.memory }),
      ...(this.#init.metrics === undefined ? {} : { metrics: this.#init.metrics }),
      ...(this.#manualClock === undefined ? {} : { clockAt: this.#manualClock.now() }),
    }, undefined, middleware);
    const call = ((method: keyof ThreadApi, ...args: unknown[]) =>
      (api[method] as (...a: unknown[]) => unknown)(...args)) as ThreadCaller['call'];
    this.attachThread(this.processor, 0, port2, call);
    // What a predecessor's stations had accepted reaches the main stations again (they deduplicate),
    // while the workers start.
    // Held back (BUS_FULL: a reader in another processor is behind), the events stay in the station, which the
    // sync policy pushes again each period: that is no failed start.
    const resend = (side: Side) => this.#stations[side].toMain().catch((error: unknown) => {
      if (!isBusError(error, 'BUS_FULL')) throw error;
    });
    const resent = restored === 0 ? undefined : Promise.all(SIDES.map(resend));
    // Awaited below; a failure while the workers start must not go unhandled meanwhile.
    resent?.catch(() => undefined);
    this.#workers = await startWorkerThreads(this, {
      processor: this.processor,
      count: this.#init.threads,
      deferred: this.#init.deferred,
      maxQueued: this.#init.maxQueued,
      bridge: () => this.#direction,
      ...(this.#init.callDeadlineMs === undefined ? {} : { callDeadlineMs: this.#init.callDeadlineMs }),
      ...(this.#init.threadStartDeadlineMs === undefined ? {} : { startDeadlineMs: this.#init.threadStartDeadlineMs }),
      ...(this.#init.restart === undefined ? {} : { restart: this.#init.restart }),
      onCrash: (thread, exit, restarted) =>
        // A report that cannot be posted (thread 0 stopping, its bus full) is not worth this processor.
        void this.#reportCrash(thread, exit, restarted).catch(() => undefined),
      processorIncarnation: this.#incarnation(),
      ...(this.#init.workerLimits === undefined ? {} : { resourceLimits: this.#init.workerLimits }),
      ...(this.#init.sync === undefined ? {} : { sync: this.#init.sync }),
      ...(this.#inspection === undefined
        ? {}
        : { inspection: { on: () => this.#inspection!.tap.on, attach: (port) => this.#inspection!.relay.attach(port) } }),
      ...(this.#init.memory === undefined ? {} : { memory: this.#init.memory }),
      ...(this.#init.metrics === undefined ? {} : { metrics: this.#init.metrics }),
      ...(this.#init.middleware === undefined ? {} : { middleware: this.#init.middleware }),
      ...(this.#manualClock === undefined ? {} : { manualClock: this.#manualClock }),
      ...(sendFailure === undefined ? {} : { onFailure: sendFailure }),
      signal: stopped,
    });
    // A stop() that came meanwhile stops the workers once this has ended; it does not wait for a resend the root never answers.
    await unlessStopped<unknown>(resent ?? Promise.resolve(), stopped, 'resending the restored history');
    if (this.#init.sync !== undefined) {
      this.#syncTimer = new SyncTimer(this.#init.sync.everyMs, () =>
        settleAll(SIDES.map((side) => () => this.#stations[side].syncUpstream())),
      );
      this.#syncTimer.start();
    }
  }

  /** `''` for a first processor, else the number of times it was restarted. */
  #incarnation(): string {
    const incarnation = this.#init.incarnation ?? 0;
    return incarnation === 0 ? '' : String(incarnation);
  }

  /** A station whose budget changes are posted on thread 0's internal bus, as crashes are (dropped if that fails). */
  #withMemoryReports(station: Station): Station {
    station.onMemoryChange = (change) => {
      const local = this.#threads.get(0);
      if (local === undefined || !this.#running) return;
      void local.caller
        .call('state', 'internal')
        .then((state) => (state.ok ? new RemoteBus(local.caller, 'internal', state.value.generation).post(change.type, change.payload, { priority: 'immediate' }) : undefined))
        .catch(() => undefined);
    };
    return station;
  }

  /** Posts `busline.thread.crashed` on thread 0's internal bus. */
  async #reportCrash(thread: number, exit: WorkerExit, restarted: boolean): Promise<void> {
    const local = this.#threads.get(0);
    if (local === undefined || !this.#running) return;
    const state = await local.caller.call('state', 'internal');
    if (!state.ok) return;
    await new RemoteBus(local.caller, 'internal', state.value.generation).post(
      'busline.thread.crashed',
      { processor: this.processor, thread, reason: exit.reason, message: describeExit(exit), restarted },
      { priority: 'immediate' },
    );
  }

  attachThread(
    processor: number,
    thread: number,
    port: MessagePortLike,
    call: ThreadCaller['call'],
    exited?: Promise<WorkerExit>,
  ): void {
    const predecessor = this.#threads.get(thread);
    predecessor?.channel.close();
    const remote = connectThread(processor, thread, port, call, (side) => this.#stations[side], () => this.#direction, exited);
    this.#threads.set(thread, remote);
    if (predecessor === undefined) {
      this.#incarnations.set(thread, 0);
      return;
    }
    const incarnation = (this.#incarnations.get(thread) ?? 0) + 1;
    this.#incarnations.set(thread, incarnation);
    this.#onThreadReplaced?.(thread, incarnation);
  }

  assertRunning(call: string): void {
    if (!this.#running) throw new BusError('RUNTIME_STOPPED', `${call}() was refused: processor ${this.processor} is stopping.`);
  }

  bridgeDirection(): BridgeDirection {
    return this.#direction;
  }

  bridgeLocked(): boolean {
    return this.#locked;
  }

  get maxBacklog(): number | undefined {
    return this.#init.sync === undefined ? undefined : policyLimits(this.#init.sync).maxBacklog;
  }

  mainLink(): ChannelStationLink {
    return new ChannelStationLink(this.#upstream);
  }

  /** The root tells this processor about the bridge and asks it to clear; threads hear it before the answer. */
  async #fromRoot(message: WireMessage): Promise<readonly WireMessage[]> {
    if (message.kind === 'bridgeState') {
      this.#direction = message.direction;
      this.#locked = message.locked;
    } else if (message.kind === 'clearSide') {
      this.#stations[message.scope].clearSide(message.remove);
    } else {
      throw new UnsupportedError(`A processor does not answer ${message.kind} messages from the root.`);
    }
    await Promise.all([...this.#threads.values()].map((thread) => thread.channel.request(message)));
    return [];
  }

  /**
   * `answer`, or a `TimeoutError` once `callDeadlineMs` has passed without it.
   * A loop that is blocked is the root's heartbeat's to find (it kills the
   * processor); this is a call that never settles while the loop is free (a
   * module that never finishes loading, a service whose start never
   * settles): the caller is told, and this processor lives on.
   */
  #withinDeadline(answer: Promise<Outcome<unknown>>, method: string): Promise<Outcome<unknown>> {
    const deadlineMs = this.#init.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Outcome<unknown>>((resolve) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(
          `${method}() on processor ${this.processor}'s thread 0 got no answer within ${deadlineMs} ms (callDeadlineMs), though the ` +
            'processor runs (it answers its heartbeat): the call was given up, and what it started there may still finish. ' +
            'Raise callDeadlineMs if the call is just slow.',
          deadlineMs,
        );
        resolve({ ok: false, ...toWireError(error) });
      }, deadlineMs);
    });
    return Promise.race([answer, late]).finally(() => clearTimeout(timer));
  }

  /** Answers one control message from the root. */
  async control(message: ProcessorControl): Promise<Outcome<unknown>> {
    // What arrives over IPC may be damaged: a message this node cannot act on is answered as refused, never thrown.
    const problem = controlProblem(message);
    if (problem !== undefined) return { ok: false, code: 'INVALID_OPTION', message: `Invalid control message: ${problem}` };
    if (message.type === 'call' && message.target === 'thread') {
      const thread = this.#threads.get(message.thread);
      if (thread === undefined) {
        return { ok: false, code: 'INVALID_OPTION', message: `processor ${this.processor} has no thread ${message.thread}.` };
      }
      // Sent through a handle of a worker that was restarted since (before the root heard of it): refused, as the
      // root refuses such a handle, rather than reach the successor (a post landing there, a listener left behind).
      if (message.incarnation !== this.#incarnations.get(message.thread)) {
        return { ok: false, code: 'WORKER_CRASHED', message: replacedRefusal(this.processor, message.thread, message.method) };
      }
      // A worker's call rejects (WORKER_CRASHED) when the worker exits, throws or hangs meanwhile: that is its
      // outcome, as the root's callers get it from their own workers; the thread is restarted, not this processor.
      const call = thread.caller.call as (m: string, ...a: unknown[]) => Promise<Outcome<unknown>>;
      const answer = call(message.method, ...message.args).catch((error: unknown) => ({ ok: false, ...toWireError(error) }) as Outcome<unknown>);
      // Thread 0 runs on this main thread, where no worker host times a call: it gets the deadline a worker's call has.
      return message.thread === 0 ? this.#withinDeadline(answer, message.method) : answer;
    }
    if (message.type === 'call' && message.target === 'station') {
      const station = this.#stations[message.side];
      const [options] = message.args as [never];
      return outcome(async () => {
        switch (message.method) {
          case 'toMain':
            return station.toMain();
          case 'fromMain':
            return station.fromMain(options);
          case 'roundTrip':
            return station.roundTrip(options);
          case 'history':
            return eventsToFrame(station.history(options), this.#endpoint(message.side));
          case 'queued':
            return eventsToFrame(station.queued(), this.#endpoint(message.side));
          case 'state':
            return { size: station.size, bytes: station.bytes, state: station.state };
          case 'backlog':
            return station.backlog();
          case 'memory':
            return station.memory() ?? null;
          default:
            throw new UnsupportedError(`A station has no remote method ${message.method}.`);
        }
      });
    }
    if (message.type === 'inspect') {
      // Answered once this processor's threads have turned inspection on too.
      return outcome(async () => {
        this.#inspection?.tap.enable();
        await this.#inspection?.relay.enable();
        return null;
      });
    }
    if (message.type === 'stop') return outcome(() => this.stop());
    if (message.type === 'actors') return outcome(() => this.actors());
    if (message.type === 'stats') return outcome(() => this.stats());
    if (message.type === 'clock') return outcome(() => this.#setClock(message.now));
    return { ok: false, code: 'UNSUPPORTED', message: `unexpected control message ${message.type}` };
  }

  /** The runtime's ManualClock moved: this processor's clock (its workers follow it) and its thread 0's. */
  async #setClock(now: number): Promise<boolean> {
    const clock = this.#manualClock;
    if (clock === undefined) return false;
    const own = this.#threads.get(0)?.caller.call('setClock', now);
    clock.set(now);
    await Promise.all([own, clock.settled()]);
    return true;
  }

  /** This processor's stations and every actor of its threads. */
  async actors(): Promise<ActorInfo[]> {
    const list: ActorInfo[] = (['internal', 'external'] as const).map((side) => ({
      id: `station:local:${this.processor}:${side}`,
      kind: 'station',
      processor: this.processor,
      thread: null,
      side,
      state: this.#stations[side].state,
      ...memorySummary(this.#stations[side].memory()),
    }));
    // A worker that is gone (being restarted) has no actors to list; its call rejects.
    const threads = await Promise.all(
      [...this.#threads.values()].map((thread) => thread.caller.call('actors').catch(() => undefined)),
    );
    for (const result of threads) if (result?.ok === true) list.push(...result.value);
    return list;
  }

  /**
   * The memory of this processor's stations and the metrics and memory of
   * every bus of its threads; a thread that does not answer (being
   * restarted) is named in `unavailable`.
   */
  async stats(): Promise<StatsParts> {
    const memory: MemoryStats[] = [];
    for (const side of SIDES) {
      const held = this.#stations[side].memory();
      if (held !== undefined) memory.push(held);
    }
    const buses: BusStats[] = [];
    const unavailable: string[] = [];
    await Promise.all(
      [...this.#threads.entries()].map(async ([index, thread]) => {
        const answer = await thread.caller.call('stats').catch(() => undefined);
        if (answer?.ok !== true) return void unavailable.push(`${this.processor}.${index}`);
        buses.push(...answer.value.buses);
        memory.push(...answer.value.memory);
      }),
    );
    return { buses, memory, unavailable };
  }

  /** Gives up a start under way, then stops the threads and workers and the station actors; resolves once nothing of them runs. */
  stop(): Promise<null> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<null> {
    this.#stopStarts.abort();
    // The start ends first (given up, or done as the stop came): what it started is in the lists read below, none comes up after.
    await this.#starting?.catch(() => undefined);
    await this.#workers?.settled();
    await this.#syncTimer?.stop();
    this.#running = false;
    await Promise.all([...this.#threads.values()].map((thread) => thread.caller.call('stop').catch(() => undefined)));
    await this.#workers?.stop();
    for (const thread of this.#threads.values()) thread.channel.close();
    this.#upstream.close();
    this.#inspection?.relay.close();
    this.#inspection?.tap.close();
    await this.#journal?.close();
    this.#stations.internal.actor.stop();
    this.#stations.external.actor.stop();
    return null;
  }

  #endpoint(side: Side) {
    return { processor: this.processor, thread: STATION_THREAD, generation: 0, side };
  }
}
