/**
 * The root's side of a processor that runs as a child process: forks it,
 * serves its local stations' syncs with the main stations (frames over IPC),
 * and carries control calls to its stations and threads. A processor that
 * dies, or hangs (its main thread answers nothing within `callDeadlineMs`: it
 * is killed), rejects what is pending with `WorkerCrashedError`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BusError, RuntimeStoppedError, WorkerCrashedError } from '../../errors.js';
import { fromWireError } from '../wire/wire-errors.js';
import type { BridgeDirection, Side } from '../../types.js';
import type { ReaderBacklog } from '../../types.js';
import type { FromMainOptions } from '../station/station-options.js';
import { FrameChannel, type FramePort } from '../wire/frame-channel.js';
import { stationServer } from '../station/links.js';
import type { Outcome, ProcessorControl, ProcessorInit, ProcessorReport } from '../wire/protocol.js';
import type { ThreadCaller } from '../bus/remote-bus.js';
import type { AnyEvents, StationEventOf, StationPortableQuery, TypedReadOptions } from '../bus/typed-events.js';
import type { Station } from '../station/station.js';
import { eventsFromFrame, unwrap, type ActorInfo, type EventsFrame, type PortableQuery, type ThreadApi } from '../thread/thread-service.js';
import { entryExecArgv, runtimeEntry } from './entries.js';
import { isInspectionBatch } from '../inspection/ports.js';
import type { InspectionBatch } from '../inspection/tap.js';
import { takeFailure, type FailureReport } from '../thread/failure-reports.js';
import type { MemoryStats } from '../store/memory-stats.js';
import type { StatsParts } from '../metrics/runtime-stats.js';
import { DEFAULT_CALL_DEADLINE_MS } from './worker-host.js';
import { replacedRefusal } from './worker-api.js';


/** How a processor process ended. */
export interface ProcessorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the runtime stopped it. */
  readonly stopped: boolean;
  /** True when it answered nothing within `callDeadlineMs` and was killed for it. */
  readonly hung: boolean;
}

/** Why a call made after processor `processor` died is refused, and what to do instead. */
function refusedAfterDeath(processor: number, how: string): string {
  return (
    `processor ${processor} ${how} before this call. A crashed processor is restarted within the restart budget ` +
    '(busline.processor.crashed says whether it was), but a handle taken before the crash stays with the dead one: take it again, ' +
    `runtime.thread(${processor}, thread).bus(side) or runtime.processor(${processor}).station(side).`
  );
}

/**
 * Sends one message over a child's IPC channel. Every send has a callback: a
 * send to a child that has just died fails with EPIPE or
 * ERR_IPC_CHANNEL_CLOSED, which Node would otherwise raise as an 'error' on
 * the ChildProcess — before its 'exit' — and crash this process. A failed
 * send means the child is gone: `lost` hears why.
 */
function sendToChild(child: ChildProcess, message: ProcessorControl | Uint8Array, lost: (error: Error) => void): void {
  try {
    child.send(message, (error) => {
      if (error !== null && error !== undefined) lost(error);
    });
  } catch (error) {
    // Only a message that cannot be serialized throws here; the channel is fine, this send alone failed.
    if (message instanceof Uint8Array) lost(error instanceof Error ? error : new Error(String(error)));
    else throw error;
  }
}

/** Frames over a child's IPC channel. */
function childFrames(child: ChildProcess, lost: (error: Error) => void): FramePort {
  return {
    send: (frame) => sendToChild(child, frame, lost),
    listen: (listener) => {
      const onMessage = (message: unknown) => {
        if (message instanceof Uint8Array) listener(message);
      };
      child.on('message', onMessage);
      return () => void child.off('message', onMessage);
    },
  };
}

/** A processor in a child process, seen from the root. */
export class RemoteProcessor {
  readonly processor: number;
  readonly channel: FrameChannel;
  readonly exited: Promise<ProcessorExit>;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(outcome: Outcome<unknown>): void }>();
  readonly #generations = new Map<string, number>();
  readonly #callers = new Map<number, ThreadCaller>();
  /**
   * Each thread's current worker incarnation as last reported (0 until its first `threadReplaced`): callers tag their
   * calls with theirs, and a caller of an older one (a handle of a dead worker) is refused here.
   */
  readonly #incarnations = new Map<number, number>();
  #nextId = 1;
  #gone: Error | undefined;
  /** Why a call made once it is gone is refused: the same as `#gone` for a stop, with what to do for a crash. */
  #refusal: string | undefined;
  #stopping = false;
  /** How long the child may answer nothing while a heartbeat is out before it is taken as hung (`callDeadlineMs`). */
  readonly #deadlineMs: number;
  #watchdog: NodeJS.Timeout | undefined;
  /** Whether the root heard from the child (any message: its main thread ran) since the watchdog's last look. */
  #heard = true;
  /** When the heartbeat that is still unanswered went out, by `performance.now()`; undefined: none is. */
  #pingedAt: number | undefined;
  #hung = false;

  private constructor(
    child: ChildProcess,
    processor: number,
    mainStation: (side: Side) => Station,
    bridge: () => BridgeDirection,
    onInspection: ((batch: InspectionBatch) => void) | undefined,
    onFailure: ((report: FailureReport) => void) | undefined,
    deadlineMs: number,
  ) {
    this.#child = child;
    this.processor = processor;
    this.#deadlineMs = deadlineMs;
    // A ChildProcess with no 'error' listener crashes this process on any error it raises.
    child.on('error', (error) => this.#lost(error));
    this.channel = new FrameChannel(childFrames(child, (error) => this.#lost(error)), {
      end: 'b',
      name: `root ↔ processor ${processor}`,
      // What arrives goes to the main stations: events stay encoded.
      encodedEvents: true,
      serve: stationServer(mainStation, bridge),
    });
    child.on('message', (message: unknown) => {
      // Whatever it sends, frames too, its main thread sent: it is alive (a flag: this runs for every frame).
      this.#heard = true;
      if (message instanceof Uint8Array) return;
      const report = message as ProcessorReport;
      if (report.type === 'result') {
        this.#pending.get(report.id)?.resolve(report.outcome);
        this.#pending.delete(report.id);
      }
      if (report.type === 'inspection') {
        if (isInspectionBatch(report.batch)) onInspection?.(report.batch);
        return;
      }
      if (report.type === 'failure') {
        takeFailure(report.report, onFailure);
        return;
      }
      // Its successor's buses count generations from 0 again: handles made from here on must not name the old ones.
      if (report.type === 'threadReplaced') {
        this.#generations.delete(`${report.thread}:internal`);
        this.#generations.delete(`${report.thread}:external`);
        // Handles on the dead incarnation are refused, as a dead root worker's are, rather than reach the successor's bus of their generation.
        this.#incarnations.set(report.thread, report.incarnation);
        this.#callers.delete(report.thread);
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        clearInterval(this.#watchdog);
        // A hung one was killed for it: its calls were rejected, and the refusals say so, not the SIGKILL.
        if (!this.#hung) {
          this.#end(`died (${signal ?? `exit code ${code}`})`);
        }
        resolve({ code, signal, stopped: this.#stopping, hung: this.#hung });
      });
    });
  }

  /**
   * It is gone (`how` it went: `died (SIGKILL)`, ...): its pending calls are
   * rejected with `crash` (a `RuntimeStoppedError` while the runtime stops it),
   * and calls made from now on are refused saying what happened and what to do.
   */
  #end(how: string, crash: Error = new WorkerCrashedError(`processor ${this.processor} ${how}; its pending calls were rejected.`)): void {
    const error = this.#stopping ? new RuntimeStoppedError('a processor call') : crash;
    this.#gone = error;
    this.#refusal = this.#stopping ? error.message : refusedAfterDeath(this.processor, how);
    this.#rejectPending(error);
  }

  /** Closes the frame channel and answers every pending call with `error`. */
  #rejectPending(error: Error): void {
    this.channel.close(error);
    for (const pending of this.#pending.values()) {
      pending.resolve({ ok: false, code: error instanceof BusError ? error.code : 'WORKER_CRASHED', message: error.message });
    }
    this.#pending.clear();
  }

  /**
   * A send failed, or the child raised an error: it is gone (or no use without
   * its channel). Its calls are rejected now, and it is killed so that its
   * 'exit' comes and the runtime restarts it.
   */
  #lost(cause: Error): void {
    if (this.#gone !== undefined) return;
    const how = `is gone (${cause.message})`;
    this.#end(how, new WorkerCrashedError(`processor ${this.processor} ${how}; its pending calls were rejected.`, { cause }));
    this.#kill();
  }

  /**
   * Watches the child's main thread once it runs: when the root has heard
   * nothing from it for a while it sends a heartbeat (`ping`), which the
   * child answers at once from its event loop; one unanswered for
   * `callDeadlineMs` means that loop is blocked (a handler that never
   * returns on its thread 0, a process stopped by SIGSTOP): it is hung.
   * Calls that wait by design (`room`, `take`, a long sync) keep the loop
   * free, so they never look hung; its worker threads have deadlines of their own.
   */
  #watch(): void {
    const tickMs = Math.max(1, Math.floor(this.#deadlineMs / 4));
    this.#watchdog = setInterval(() => this.#checkPulse(), tickMs);
    // It never holds the root's process open by itself.
    this.#watchdog.unref();
  }

  #checkPulse(): void {
    if (this.#gone !== undefined || this.#stopping) {
      clearInterval(this.#watchdog);
      return;
    }
    if (this.#heard) {
      // Heard from since the last look: nothing to ask, and any heartbeat out is answered.
      this.#heard = false;
      this.#pingedAt = undefined;
      return;
    }
    if (this.#pingedAt === undefined) {
      this.#pingedAt = performance.now();
      sendToChild(this.#child, { type: 'ping' }, (error) => this.#lost(error));
      return;
    }
    if (performance.now() - this.#pingedAt < this.#deadlineMs) return;
    // The root's own loop may have been the one blocked: an answer waiting in the channel is read (poll phase) before this runs.
    setImmediate(() => {
      if (!this.#heard) this.#hang();
    });
  }

  /** Its main thread answered nothing within `callDeadlineMs`: it is killed, and its 'exit' restarts it as a crash. */
  #hang(): void {
    if (this.#gone !== undefined || this.#stopping) return;
    this.#hung = true;
    this.#end(
      'hung and was killed',
      new WorkerCrashedError(
        `processor ${this.processor} answered nothing within ${this.#deadlineMs} ms (callDeadlineMs): it is taken to be hung ` +
          '(its main thread blocked, or the process stopped) and was killed; its pending calls were rejected. Raise callDeadlineMs if it is only busy.',
      ),
    );
    this.#kill();
  }

  /** SIGKILLs the child unless it has exited already. */
  #kill(): void {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    try {
      this.#child.kill('SIGKILL');
    } catch {
      // Gone meanwhile: its 'exit' tells the rest.
    }
  }

  /**
   * Forks the processor and resolves once its stations and threads are up.
   * A start that fails (the processor says so, exits, its channel breaks, or
   * it is not ready within `deadlineMs`) or is given up (`signal` aborts: the
   * runtime stops) kills the child and rejects once it is gone: a failed
   * start leaves no process behind.
   */
  static async start(
    init: ProcessorInit,
    mainStation: (side: Side) => Station,
    bridge: () => BridgeDirection,
    execArgv: readonly string[] = [],
    signal?: AbortSignal,
    onInspection?: (batch: InspectionBatch) => void,
    deadlineMs?: number,
    onFailure?: (report: FailureReport) => void,
  ): Promise<RemoteProcessor> {
    const child = fork(runtimeEntry('processor'), [], {
      // Compiled: plain node. From the sources: tsx first, then the user's flags.
      execArgv: [...entryExecArgv(), ...execArgv],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const processor = new RemoteProcessor(
      child,
      init.processor,
      mainStation,
      bridge,
      onInspection,
      onFailure,
      init.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS,
    );
    let onMessage: ((message: unknown) => void) | undefined;
    let onAbort: (() => void) | undefined;
    let deadline: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        // A child that never says it is ready (a preloaded module that never finishes, a replay that hangs)
        // would otherwise hold this start, and the restarts waiting on it, until stop().
        if (deadlineMs !== undefined) {
          deadline = setTimeout(
            () =>
              reject(
                new WorkerCrashedError(
                  `processor ${init.processor} did not start within ${deadlineMs} ms (processorStartDeadlineMs); it was killed.`,
                ),
              ),
            deadlineMs,
          );
        }
        onMessage = (message: unknown) => {
          const report = message as ProcessorReport;
          if (report?.type === 'ready') resolve();
          else if (report?.type === 'failed') reject(startFailure(init.processor, report));
        };
        child.on('message', onMessage);
        onAbort = () => reject(new RuntimeStoppedError(`starting processor ${init.processor}`));
        if (signal?.aborted === true) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void processor.exited.then(({ code, signal: killedBy }) =>
          reject(
            new WorkerCrashedError(
              `processor ${init.processor} exited while starting (${killedBy ?? `exit code ${code}`}; ` +
                `its stderr says why; a flag of processorExecArgv Node does not take ends it so).`,
            ),
          ),
        );
        // The channel broke: the child is dying (a flag Node refuses ends it at once) or no use. Its exit,
        // which comes after the kill, says why, better than the EPIPE does.
        sendToChild(child, { type: 'init', init }, () => processor.#kill());
      });
    } catch (error) {
      processor.#kill();
      // A child that never ran (fork failed: no pid) may never say 'exit'.
      if (child.pid !== undefined) await processor.exited;
      throw error;
    } finally {
      clearTimeout(deadline);
      child.off('message', onMessage!);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
    // Its start (journal replay, workers) is bounded by `deadlineMs`; from here on the heartbeat watches it.
    processor.#watch();
    return processor;
  }

  /** The process id, e.g. to check that it is gone. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  #send(message: Exclude<ProcessorControl, { type: 'init' } | { type: 'ping' }>): Promise<Outcome<unknown>> {
    if (this.#gone !== undefined) {
      const code = this.#gone instanceof BusError ? this.#gone.code : 'WORKER_CRASHED';
      // A call after stop() names what was called (`toMain() was refused: ...`), as a call on a local station does.
      const refusal = this.#stopping && message.type === 'call' ? new RuntimeStoppedError(message.method).message : (this.#refusal ?? this.#gone.message);
      return Promise.resolve({ ok: false, code, message: refusal });
    }
    return new Promise((resolve) => {
      this.#pending.set(message.id, { resolve });
      try {
        sendToChild(this.#child, message, (error) => this.#lost(error));
      } catch (error) {
        // Arguments that cannot cross (e.g. a function): this call alone fails.
        this.#pending.delete(message.id);
        throw error;
      }
    });
  }

  /** Turns inspection on in this processor and its threads. */
  inspect(): Promise<Outcome<unknown>> {
    return this.#send({ type: 'inspect', id: this.#nextId++ });
  }

  /**
   * Calls a thread's control API in this processor, on its worker of `incarnation`:
   * the processor refuses the call (WORKER_CRASHED) if that worker was restarted since.
   */
  callThread(thread: number, incarnation: number, method: string, args: readonly unknown[]): Promise<Outcome<unknown>> {
    return this.#send({ type: 'call', id: this.#nextId++, target: 'thread', thread, incarnation, method, args });
  }

  /** Calls a local station of this processor. */
  callStation(side: Side, method: string, args: readonly unknown[]): Promise<Outcome<unknown>> {
    return this.#send({ type: 'call', id: this.#nextId++, target: 'station', side, method, args });
  }

  /** The processor's stations and every actor of its threads. */
  async actors(): Promise<ActorInfo[]> {
    return unwrap((await this.#send({ type: 'actors', id: this.#nextId++ })) as Outcome<ActorInfo[]>);
  }

  /** The runtime's `ManualClock` moved to `now`: resolves once the processor and its threads have run their timers due by then. */
  async setClock(now: number): Promise<void> {
    unwrap(await this.#send({ type: 'clock', id: this.#nextId++, now }));
  }

  /** The memory of the processor's stations and the metrics and memory of every bus of its threads. */
  async stats(): Promise<StatsParts> {
    return unwrap((await this.#send({ type: 'stats', id: this.#nextId++ })) as Outcome<StatsParts>);
  }

  /** The caller of one of this processor's threads (one per thread: posts and calls through it keep their order). */
  threadCaller(thread: number): ThreadCaller {
    let caller = this.#callers.get(thread);
    if (caller === undefined) this.#callers.set(thread, (caller = this.#newCaller(thread)));
    return caller;
  }

  #newCaller(thread: number): ThreadCaller {
    // The worker this caller is for: a call the processor gets after that worker was restarted never reaches its successor,
    // even when it was sent before the `threadReplaced` report reached the root.
    const incarnation = this.#incarnations.get(thread) ?? 0;
    const replaced = () => incarnation !== (this.#incarnations.get(thread) ?? 0);
    return {
      processor: this.processor,
      thread,
      call: ((method: keyof ThreadApi, ...args: unknown[]) =>
        replaced()
          ? Promise.resolve({ ok: false, code: 'WORKER_CRASHED', message: replacedRefusal(this.processor, thread, method) })
          : this.callThread(thread, incarnation, method, args)) as ThreadCaller['call'],
      advanced: (side, generation) => {
        if (replaced()) return; // a generation of the dead incarnation
        const key = `${thread}:${side}`;
        this.#generations.set(key, Math.max(this.#generations.get(key) ?? 0, generation));
      },
    };
  }

  /** The generation of a thread's bus as last seen from here. */
  generation(thread: number, side: Side): number {
    return this.#generations.get(`${thread}:${side}`) ?? 0;
  }

  /** Asks the processor to stop, and kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<ProcessorExit> {
    if (this.#gone === undefined && !this.#stopping) {
      this.#stopping = true;
      void this.#send({ type: 'stop', id: this.#nextId++ });
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }
}

/**
 * A local station in a child processor, seen from the root.
 *
 * @example
 * const station = runtime.processor(1).station('external')
 * await station.roundTrip()
 */
export class RemoteStation<E = AnyEvents> {
  /** Types only: undefined at run time. Lets a typed runtime's station be passed as a `RemoteStation`, as `Station.eventTypes`. */
  declare readonly eventTypes?: { readonly [K in keyof E]?: unknown };
  readonly side: Side;
  readonly processor: number;
  readonly kind = 'local' as const;
  readonly #host: RemoteProcessor;

  /** @internal Created by the runtime; use `runtime.processor(n).station(side)`. */
  constructor(host: RemoteProcessor, side: Side) {
    this.#host = host;
    this.side = side;
    this.processor = host.processor;
  }

  async #call<T>(method: string, ...args: unknown[]): Promise<T> {
    return unwrap((await this.#host.callStation(this.side, method, args)) as Outcome<T>);
  }

  toMain(): Promise<void> {
    return this.#call('toMain');
  }

  fromMain<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromMainOptions, E, T>): Promise<{ readonly added: number; readonly handedBack: number }> {
    return this.#call('fromMain', options);
  }

  roundTrip<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromMainOptions, E, T>): Promise<void> {
    return this.#call('roundTrip', options);
  }

  /** `Station.history()` in the processor, without `filter` (a function stays here): typed by the runtime's map. */
  async history<const T extends readonly string[] = readonly string[]>(query?: StationPortableQuery<E, T>): Promise<Array<StationEventOf<E, T>>> {
    return eventsFromFrame(await this.#call<EventsFrame>('history', query as PortableQuery | undefined)) as Array<StationEventOf<E, T>>;
  }

  /** `Station.queued()` in the processor. */
  async queued(): Promise<Array<StationEventOf<E>>> {
    return eventsFromFrame(await this.#call<EventsFrame>('queued')) as Array<StationEventOf<E>>;
  }

  /** The station's size, bytes (counted when some `maxBytes` is set) and actor state. */
  state(): Promise<{ size: number; bytes: number; state: unknown }> {
    return this.#call('state');
  }

  /** The readers whose subscribers are behind, each with how far (see `Station.backlog()`). */
  backlog(): Promise<ReaderBacklog[]> {
    return this.#call('backlog');
  }

  /**
   * `Station.memory()` in the processor: what the station's history holds
   * against its memory budget (bytes, count, multipliers, by type), and
   * `unsent`: what its main station has not taken yet;
   * `undefined` without `memory.budget`.
   *
   * @example
   * const held = await runtime.processor(1).station('external').memory()
   * console.log(held?.bytes, held?.multipliers)
   */
  async memory(): Promise<MemoryStats | undefined> {
    return (await this.#call<MemoryStats | null>('memory')) ?? undefined;
  }
}


/** Why a processor failed to start: the configuration it refused (`INVALID_OPTION`, naming the option), else a crash. */
function startFailure(processor: number, report: Extract<ProcessorReport, { type: 'failed' }>): BusError {
  const refused = report.refused;
  if (refused?.code !== 'INVALID_OPTION') return new WorkerCrashedError(`processor ${processor} failed to start: ${report.message}`);
  // A worker's refusal names its worker ("processor 1 thread 2") already.
  return refused.message.includes(`processor ${processor}`) ? fromWireError(refused) : fromWireError({ ...refused, message: `${refused.message} (in processor ${processor})` });
}
