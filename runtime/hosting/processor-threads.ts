/**
 * Starts a processor's worker threads, supervises them, and attaches each
 * incarnation to the processor's stations: the worker's data port becomes a
 * frame channel to them, its threads.js API the thread's control plane.
 *
 * A worker that dies (throws, exits, hangs, runs out of memory) is restarted
 * within a restart budget, like OTP's restart intensity. What its buses had
 * sent to the station stays there; its parked queue is handed to the new
 * incarnation by its first `fromStation()`; event ids continue past the old
 * ones. What it had not sent is lost with it, and reported.
 */
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { InvalidOptionError, isBusError, RuntimeStoppedError } from '../../errors.js';
import type { BridgeDirection } from '../../types.js';
import { assertKnownKeys, describe, readOnce } from '../validate.js';
import type { MessagePortLike } from '../wire/frame-channel.js';
import type { ThreadCaller } from '../bus/remote-bus.js';
import type { ThreadApi, ThreadServiceOptions } from '../thread/thread-service.js';
import { RestartBudget, supervise, type Supervision } from './supervision.js';
import type { WorkerExit, WorkerHandle } from './worker-api.js';
import { startWorkerSetBy } from './worker-host.js';
import { ClockFollower } from './clock-follower.js';
import type { ThreadWorkerApi } from '../workers/thread.worker.js';
import type { Clock, ManualClock } from '../clock.js';
import type { SyncPolicy } from '../station/sync-policy.js';
import type { MemoryOptions } from '../store/memory-policy.js';
import { runtimeEntry } from './entries.js';
import type { ResolvedMetrics } from '../metrics/bus-metrics.js';
import type { MiddlewareModuleSpec } from '../bus/middleware-modules.js';
import { takeFailure, type FailureReport } from '../thread/failure-reports.js';

/** Where the started threads are attached; a restarted thread is attached again and replaces the old one. */
export interface ThreadAttacher {
  attachThread(
    processor: number,
    thread: number,
    port: MessagePortLike,
    call: ThreadCaller['call'],
    exited?: Promise<WorkerExit>,
  ): unknown;
}

/** How many restarts a processor's threads may have within a window. */
export interface RestartPolicy {
  readonly maxRestarts: number;
  readonly withinMs: number;
}

/** `policy` read once (a frozen copy); throws `InvalidOptionError` unless it is `{ maxRestarts, withinMs }` as `RestartBudget` takes them. */
export function checkRestartPolicy(policy: unknown, option: string): RestartPolicy {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new InvalidOptionError(option, `expected { maxRestarts, withinMs }, got ${describe(policy)}.`);
  }
  assertKnownKeys(policy, ['maxRestarts', 'withinMs'], option);
  const { maxRestarts, withinMs } = readOnce(policy as Record<string, unknown>, ['maxRestarts', 'withinMs'], [], option)!;
  if (typeof maxRestarts !== 'number' || !Number.isSafeInteger(maxRestarts) || maxRestarts < 0) {
    throw new InvalidOptionError(`${option}.maxRestarts`, `expected an integer >= 0, got ${describe(maxRestarts)}.`);
  }
  if (typeof withinMs !== 'number' || !Number.isFinite(withinMs) || withinMs <= 0) {
    throw new InvalidOptionError(`${option}.withinMs`, `expected a number of milliseconds > 0, got ${describe(withinMs)}.`);
  }
  return Object.freeze({ maxRestarts, withinMs });
}

/**
 * How long a worker thread of the runtime may take to start (load its modules, the middleware ones included,
 * and serve) by default. Loading the TypeScript sources on a busy 2-core machine can take seconds: a slow start
 * is not a hang. What it guards against is a start that never ends, which would hold `runtime.ready` forever.
 */
export const DEFAULT_THREAD_START_DEADLINE_MS = 60_000;

/** The default restart policy: 5 restarts within 10 s, per thread. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({ maxRestarts: 5, withinMs: 10_000 });

/** Options of one processor's worker threads. */
export interface WorkerThreadOptions {
  readonly processor: number;
  /** Worker threads to start; they are threads 1..count (thread 0 is the processor's own). */
  readonly count: number;
  readonly deferred: 'idle' | 'manual';
  /** The bound on each thread's deferred events per side, queued or parked. */
  readonly maxQueued: number;
  /** The bridge's direction now: a restarted thread starts with the current one. */
  readonly bridge: () => BridgeDirection;
  readonly callDeadlineMs?: number;
  /** How long each worker may take to start; `DEFAULT_THREAD_START_DEADLINE_MS` when not given. */
  readonly startDeadlineMs?: number;
  readonly restart?: RestartPolicy;
  /** The automatic sync policy, if any: each worker syncs its own buses. */
  readonly sync?: SyncPolicy;
  /** The runtime's memory policies, if any. */
  readonly memory?: MemoryOptions;
  /** Set when the runtime records metrics: every worker's buses record them. */
  readonly metrics?: ResolvedMetrics;
  /** The runtime's middleware modules: every worker loads them before it serves. */
  readonly middleware?: readonly MiddlewareModuleSpec[];
  /** Heap limits of each worker. */
  readonly resourceLimits?: ResourceLimits;
  /** The processor's own incarnation (`''` for the first): part of its threads' incarnation names. */
  readonly processorIncarnation?: string;
  readonly clock?: Clock;
  /** The runtime's clock when it is a `ManualClock`: each worker has a manual clock that follows it. */
  readonly manualClock?: ManualClock;
  /** Told when a worker dies: whether it was restarted, or the budget ran out. */
  readonly onCrash?: (thread: number, exit: WorkerExit, restarted: boolean) => void;
  /**
   * Inspection: each worker gets a port of its own for its inspection records
   * (`runtime/inspection/ports.ts`), attached here once it runs; `on` says
   * whether it starts with inspection on.
   */
  readonly inspection?: { on(): boolean; attach(port: MessagePort): void };
  /** Takes what fails in a worker (a subscriber or an `after` middleware threw; `thread/failure-reports.ts`). */
  readonly onFailure?: (report: FailureReport) => void;
  /**
   * Aborted when the runtime stops: workers still starting (first starts and restarts) are terminated,
   * and none restarts any more; `WorkerThreads.stop()` ends the rest.
   */
  readonly signal?: AbortSignal;
}

/** A processor's running worker threads. */
export interface WorkerThreads {
  /** Resolves once no worker is starting: a restart given up by `options.signal` has ended, its worker gone. */
  settled(): Promise<void>;
  /** Stops supervising and terminates every worker. */
  stop(): Promise<void>;
}

/**
 * Starts the workers, all or nothing, and attaches them; resolves once all
 * answer. Rejects (with every started worker stopped, those still starting
 * given up) when one cannot start, or with a `RuntimeStoppedError` when
 * `options.signal` aborts first.
 */
export async function startWorkerThreads(attacher: ThreadAttacher, options: WorkerThreadOptions): Promise<WorkerThreads> {
  const policy = options.restart ?? DEFAULT_RESTART_POLICY;
  const clock = options.manualClock;
  const followers = clock === undefined ? [] : Array.from({ length: options.count }, () => new ClockFollower(clock));
  // Each new time goes to the workers running now; one (re)starting catches up once it runs, and settled() waits for it.
  const unfollow = clock?.follow(async (now) => {
    await Promise.all(followers.map((follower) => follower.follow(now)));
  });
  /** The workers' report ports (`takeReports`). */
  const reports = new Set<MessagePort>();
  /** Every worker's start under way, first starts and restarts. */
  const starting = new Set<Promise<unknown>>();
  // One listener on the caller's signal for all the threads, each supervision listening to its own: eleven
  // on one AbortSignal are taken by Node for a leak (MaxListenersExceededWarning), and threads go up to 64.
  const stopStarts = Array.from({ length: options.count }, () => new AbortController());
  const abortStarts = () => {
    for (const controller of stopStarts) controller.abort();
  };
  options.signal?.addEventListener('abort', abortStarts, { once: true });
  if (options.signal?.aborted === true) abortStarts();
  const started = await Promise.allSettled(
    Array.from({ length: options.count }, (_, i) =>
      superviseThread(attacher, { ...options, signal: stopStarts[i]!.signal }, policy, i + 1, followers[i], reports, starting).catch(
        (error: unknown) => {
          // All or nothing: once one cannot start, the others' starts are given up rather than waited for.
          abortStarts();
          throw error;
        },
      ),
    ),
  );
  const supervisions = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = failedStart(started);
  const stop = async () => {
    options.signal?.removeEventListener('abort', abortStarts);
    unfollow?.();
    await Promise.all(supervisions.map((supervision) => supervision.stop()));
    // A report still queued on a port of a worker that is gone is dropped: onError hears nothing once stop() resolved.
    for (const port of reports) port.close();
  };
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return {
    stop,
    // A restart's start may end as the stop comes: its supervision then terminates the successor, which its own settled() waits for.
    settled: async () => {
      await Promise.allSettled([...starting]);
      await Promise.all(supervisions.map((supervision) => supervision.settled()));
    },
  };
}

/**
 * Why a start of several parts failed: the first part that failed by itself,
 * before any given up by a stop (`RUNTIME_STOPPED`), which that failure may
 * have caused and whose order says nothing; undefined when none failed.
 */
export function failedStart(outcomes: readonly PromiseSettledResult<unknown>[]): PromiseRejectedResult | undefined {
  const failures = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  return failures.find((failure) => !isBusError(failure.reason, 'RUNTIME_STOPPED')) ?? failures[0];
}

async function superviseThread(
  attacher: ThreadAttacher,
  options: WorkerThreadOptions,
  policy: RestartPolicy,
  thread: number,
  clock: ClockFollower | undefined,
  reportPorts: Set<MessagePort>,
  starting: Set<Promise<unknown>>,
): Promise<Supervision<ThreadWorkerApi>> {
  let incarnation = 0;
  const start = (signal: AbortSignal): Promise<WorkerHandle<ThreadWorkerApi>> => {
    const inspection = options.inspection === undefined ? undefined : new MessageChannel();
    const reports = options.onFailure === undefined ? undefined : new MessageChannel();
    const workerData: ThreadServiceOptions = {
      processor: options.processor,
      thread,
      deferred: options.deferred,
      maxQueued: options.maxQueued,
      bridge: options.bridge(),
      incarnation: incarnationName(options.processorIncarnation ?? '', incarnation++),
      ...(options.sync === undefined ? {} : { sync: options.sync }),
      ...(inspection === undefined ? {} : { inspectPort: inspection.port2, inspect: options.inspection!.on() }),
      ...(reports === undefined ? {} : { reportPort: reports.port2 }),
      ...(options.memory === undefined ? {} : { memory: options.memory }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.middleware === undefined || options.middleware.length === 0 ? {} : { middleware: options.middleware }),
      ...(options.manualClock === undefined ? {} : { clockAt: options.manualClock.now() }),
    };
    const started = startWorkerSetBy<ThreadWorkerApi>(runtimeEntry('thread'), {
      name: `processor ${options.processor} thread ${thread}`,
      workerData,
      startDeadlineMs: options.startDeadlineMs ?? DEFAULT_THREAD_START_DEADLINE_MS,
      ...(options.callDeadlineMs === undefined ? {} : { callDeadlineMs: options.callDeadlineMs }),
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      transfer: [...(inspection === undefined ? [] : [inspection.port2]), ...(reports === undefined ? [] : [reports.port2])],
    }, 'threadStartDeadlineMs', signal).then(
      async (handle) => {
        // Started as the stop came, or refused by a runtime that stops (attachThread): terminated, never left running.
        try {
          if (signal.aborted) throw new RuntimeStoppedError(`starting worker "${handle.name}"`);
          if (inspection !== undefined) options.inspection!.attach(inspection.port1);
          if (reports !== undefined) takeReports(reports.port1, options.onFailure!, reportPorts);
          attach(attacher, options.processor, thread, handle);
        } catch (error) {
          await handle.terminate();
          throw error;
        }
        return handle;
      },
    ).catch((error: unknown) => {
      inspection?.port1.close();
      reports?.port1.close();
      throw error;
    });
    starting.add(started);
    const ended = () => void starting.delete(started);
    started.then(ended, ended);
    // The clock may move while the worker starts: it catches up once it runs (ClockFollower).
    clock?.starting(workerData.clockAt!, started.then((handle) => (now: number) => handle.call('setClock', now), () => undefined));
    return started;
  };
  const budget = new RestartBudget({ ...policy, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  const supervision = await supervise(start, {
    budget,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onRestart: (_worker, exit) => options.onCrash?.(thread, exit, true),
  });
  void supervision.ended.then((end) => {
    if (end.reason === 'gave-up' && end.lastExit !== undefined) options.onCrash?.(thread, end.lastExit, false);
  });
  return supervision;
}

/**
 * Hands what a worker reports to `onFailure` until it is gone (its end of the
 * port closes with it, and so does this one, after the reports it had sent)
 * or the threads stop (`open`: closed then, what is still queued dropped).
 */
function takeReports(port: MessagePort, onFailure: (report: FailureReport) => void, open: Set<MessagePort>): void {
  port.on('message', (message: unknown) => {
    takeFailure(message, onFailure);
  });
  // Open ones are closed when the threads stop; one of a worker that ended closes by itself.
  open.add(port);
  port.once('close', () => open.delete(port));
  // Reports come while the worker runs, which keeps the process up by itself: this port must not.
  port.unref();
}

function attach(attacher: ThreadAttacher, processor: number, thread: number, handle: WorkerHandle<ThreadWorkerApi>): void {
  const call = ((method: keyof ThreadApi, ...args: unknown[]) =>
    (handle.call as (m: string, ...a: unknown[]) => Promise<unknown>)(method, ...args)) as ThreadCaller['call'];
  attacher.attachThread(processor, thread, handle.port, call, handle.exited);
}

/** `''` for a first thread of a first processor; otherwise `<processor incarnation>.<thread incarnation>` or `<n>`. */
export function incarnationName(processorIncarnation: string, threadIncarnation: number): string {
  if (processorIncarnation === '') return threadIncarnation === 0 ? '' : String(threadIncarnation);
  return `${processorIncarnation}.${threadIncarnation}`;
}
