/**
 * Hosting worker threads for the control plane, and supervising them. This is
 * the only module that touches threads.js: `startWorker()` on the host side,
 * `serveWorker()` inside the worker. Calls go through threads.js; frames go
 * through the data port every worker gets (a `MessageChannel`), never through
 * calls (DESIGN.md, "Pitfalls": threads.js keeps one listener per pending call).
 *
 * threads.js does not notice a worker that dies: a call pending at an exit, an
 * uncaught exception or an out-of-memory abort stays pending forever. So the
 * host listens to the Node worker itself, keeps its own set of pending calls,
 * gives every call a deadline, and rejects all of them with a
 * `WorkerCrashedError` the moment the worker is gone.
 */
import { MessageChannel, isMainThread, workerData as rawWorkerData } from 'node:worker_threads';
import type { MessagePort, ResourceLimits, Worker as NodeWorker } from 'node:worker_threads';
import { InvalidOptionError, UnsupportedError, WorkerCrashedError } from '../../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { assertFunction, assertKnownKeys, describe } from '../validate.js';

/** The API a worker module serves: named functions of structured-clonable arguments and results. */
export type WorkerApi = { readonly [method: string]: (...args: never[]) => unknown };

/** The API of a worker whose module type is not given: any method, any arguments. */
export type UntypedWorkerApi = { readonly [method: string]: (...args: unknown[]) => unknown };

/** How to start a worker. */
export interface WorkerOptions {
  /** Names the worker in error messages and in its thread title, e.g. `processor 0 thread 2`. */
  readonly name: string;
  /** Any structured-clonable value; the worker reads it as `context.workerData`. */
  readonly workerData?: unknown;
  /**
   * How long a call may go unanswered. When one does, the call is rejected,
   * the worker is taken to be hung and is terminated (`exited.reason === 'hung'`).
   * Default 30 000 ms.
   */
  readonly callDeadlineMs?: number;
  /** How long the module may take to load and call `serveWorker()`. Default 10 000 ms. */
  readonly startDeadlineMs?: number;
  /**
   * Node's heap limits for the worker. Over them the worker alone is stopped
   * (`exited.reason === 'out-of-memory'`), not the process.
   */
  readonly resourceLimits?: ResourceLimits;
  /** The worker's `process.env`, replacing the default (a copy of the host's). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Why a worker is gone. */
export type WorkerExitReason =
  /** It ended by itself (`process.exit()`, or its event loop ran dry). */
  | 'exit'
  /** An uncaught exception or unhandled rejection in the worker. */
  | 'error'
  /** A call outlived its deadline; the host terminated the worker. */
  | 'hung'
  /** It went over its `resourceLimits` (`ERR_WORKER_OUT_OF_MEMORY`). */
  | 'out-of-memory'
  /** `terminate()` was called. */
  | 'terminated';

/** How a worker ended. */
export interface WorkerExit {
  readonly reason: WorkerExitReason;
  /** The thread's exit code, when it has one. */
  readonly code?: number;
  /** The error that ended it (`error`, `out-of-memory`, `hung`). */
  readonly error?: unknown;
}

/** The arguments of `Api[Method]`. */
export type WorkerCallArgs<Api extends WorkerApi, Method extends keyof Api> = Api[Method] extends (
  ...args: infer Args
) => unknown
  ? Args
  : never;

/** What a call of `Api[Method]` resolves to on the host. */
export type WorkerCallResult<Api extends WorkerApi, Method extends keyof Api> = Api[Method] extends (
  ...args: never[]
) => infer Result
  ? Awaited<Result>
  : never;

/**
 * A running worker, as the host sees it.
 *
 * @example
 * import type { EchoApi } from './workers/echo.worker.js'
 * const worker = await startWorker<EchoApi>(new URL('./workers/echo.worker.ts', import.meta.url), { name: 'echo' })
 * await worker.call('add', 1, 2)                  // 3, typed from EchoApi
 * worker.port.postMessage(frame, [frame.buffer])  // the data plane
 * await worker.terminate()
 */
export interface WorkerHandle<Api extends WorkerApi = UntypedWorkerApi> {
  readonly name: string;
  /**
   * The host's end of the data plane: a `MessagePort` whose other end the
   * worker gets as `context.port`. Closed when the worker is gone.
   */
  readonly port: MessagePort;
  /** False from the moment the host knows the worker is dead, hung or being terminated. */
  readonly alive: boolean;
  /** Resolves, never rejects, once the worker thread is gone, whatever the reason. */
  readonly exited: Promise<WorkerExit>;
  /**
   * Calls a method of the worker's API. Rejects with the worker's own error
   * when the method throws, and with a `WorkerCrashedError` when the worker
   * dies, hangs (no answer within `callDeadlineMs`) or is terminated first.
   */
  call<Method extends keyof Api & string>(
    method: Method,
    ...args: WorkerCallArgs<Api, Method>
  ): Promise<WorkerCallResult<Api, Method>>;
  /** Stops the worker; rejects its pending calls. Idempotent; resolves once it is gone. */
  terminate(): Promise<void>;
}

/** What a worker module gets from `serveWorker()`. */
export interface WorkerContext {
  /** `WorkerOptions.name`. */
  readonly name: string;
  /** The worker's end of the data plane; the other end is the host's `handle.port`. */
  readonly port: MessagePort;
  /** `WorkerOptions.workerData`. */
  readonly workerData: unknown;
}

/** The seam the runtime starts workers through. */
export interface WorkerHost {
  startWorker<Api extends WorkerApi = UntypedWorkerApi>(module: URL, options: WorkerOptions): Promise<WorkerHandle<Api>>;
}

/** The members of threads.js 1.7.0 (host side) this module uses. */
interface ThreadsHost {
  /** threads' `Worker` is a subclass of Node's; `fromSource` makes it evaluate `source` as the entry. */
  readonly Worker: new (source: string, options: Record<string, unknown>) => NodeWorker;
  spawn(worker: NodeWorker, options: { timeout: number }): Promise<Record<string, unknown>>;
  readonly Thread: { terminate(thread: Record<string, unknown>): Promise<void> };
}

/** The members of `threads/worker` 1.7.0 this module uses. */
interface ThreadsWorker {
  expose(api: Record<string, unknown>): void;
}

/** What `startWorker` puts in Node's `workerData`, for `serveWorker` to unpack. */
interface Envelope {
  readonly busline: 'worker-host';
  readonly name: string;
  readonly port: MessagePort;
  readonly workerData: unknown;
}

const OPTION_KEYS = ['name', 'workerData', 'callDeadlineMs', 'startDeadlineMs', 'resourceLimits', 'env'] as const;
const RESOURCE_LIMIT_KEYS = ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
/** The longest `callDeadlineMs` or `startDeadlineMs`: setTimeout's largest delay (longer ones fire at once). */
export const MAX_DEADLINE_MS = 2 ** 31 - 1;
const DEFAULT_CALL_DEADLINE_MS = 30_000;
const DEFAULT_START_DEADLINE_MS = 10_000;
const TYPESCRIPT_MODULE = /\.(ts|mts|tsx)$/;

/**
 * Starts a worker thread running `module`, which must call `serveWorker()`.
 * Resolves once the module has loaded and served its API; rejects with a
 * `WorkerCrashedError` when it fails to load, dies, or misses `startDeadlineMs`
 * first, and with an `InvalidOptionError` for bad options.
 *
 * A `.ts` module loads through tsx inside the worker, with no build step.
 *
 * @example
 * const worker = await startWorker<EchoApi>(new URL('./echo.worker.ts', import.meta.url), {
 *   name: 'echo',
 *   callDeadlineMs: 5_000,
 *   resourceLimits: { maxOldGenerationSizeMb: 256 },
 * })
 * worker.exited.then(({ reason }) => console.log('echo is gone:', reason))
 */
export async function startWorker<Api extends WorkerApi = UntypedWorkerApi>(
  module: URL,
  options: WorkerOptions,
): Promise<WorkerHandle<Api>> {
  const settings = checkOptions(options);
  if (!(module instanceof URL) || module.protocol !== 'file:') {
    throw new InvalidOptionError('module', `expected a file: URL of the worker module, got ${describeModule(module)}.`);
  }
  const source = bootstrapSource(module);
  const threads = await loadThreadsHost();
  return ThreadWorkerHandle.start<Api>(threads, source, settings);
}

/** `startWorker` as a `WorkerHost`. */
export const threadsWorkerHost: WorkerHost = { startWorker };

/**
 * Serves a worker module's API to its host. Call it once, at the top level of
 * a module started with `startWorker()`; `createApi` gets the data port and
 * the `workerData`, and returns the methods the host may `call()`.
 *
 * An uncaught exception or an unhandled rejection ends the worker (Node's
 * default; threads.js would otherwise swallow them and leave the host's calls
 * pending), and the host sees `exited.reason === 'error'`.
 *
 * @example
 * // echo.worker.ts
 * function createApi({ port }: WorkerContext) {
 *   port.on('message', (frame: Uint8Array) => port.postMessage(frame, [frame.buffer]))
 *   return { add: (a: number, b: number) => a + b }
 * }
 * export type EchoApi = ReturnType<typeof createApi>
 * await serveWorker(createApi)
 */
export async function serveWorker<Api extends WorkerApi>(
  createApi: (context: WorkerContext) => Api | Promise<Api>,
): Promise<void> {
  assertFunction(createApi, 'serveWorker(createApi)');
  const envelope: unknown = rawWorkerData;
  if (isMainThread || !isEnvelope(envelope)) {
    throw new UnsupportedError(
      'serveWorker() serves a worker module started with startWorker(); it cannot run on the main thread ' +
        'or in a worker started any other way.',
    );
  }
  const threads = await importWithoutCrashGuards<ThreadsWorker>(THREADS_WORKER);
  const api: unknown = await createApi({ name: envelope.name, port: envelope.port, workerData: envelope.workerData });
  if (typeof api !== 'object' || api === null || Array.isArray(api)) {
    throw new InvalidOptionError('serveWorker(createApi)', `createApi must return an object of methods, got ${describe(api)}.`);
  }
  if ('then' in api) {
    // The host receives the API as an object from an async function; a `then` would make it a thenable.
    throw new InvalidOptionError('serveWorker(createApi)', 'the API cannot have a method named "then".');
  }
  threads.expose(api as Record<string, unknown>);
}

/** How a `RestartBudget` is set. */
export interface RestartBudgetOptions {
  /** Restarts allowed within any `withinMs` window. */
  readonly maxRestarts: number;
  /** The window, in milliseconds. */
  readonly withinMs: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * Restart intensity, as in OTP supervisors: at most `maxRestarts` restarts
 * within any `withinMs`. A refused restart is not recorded, so the budget
 * recovers as old restarts leave the window.
 *
 * A restart whose start fails (`startFailed()`) also counts until a start
 * succeeds (`started()`), however long ago it was: `maxRestarts` failed starts
 * in a row use the budget up even when each one takes longer than the window
 * (a processor replaying a large journal), so what cannot start is given up
 * instead of being tried forever.
 *
 * @example
 * const budget = new RestartBudget({ maxRestarts: 5, withinMs: 10_000 })
 * while (budget.tryRestart()) {
 *   try {
 *     await start()
 *     budget.started()
 *     break
 *   } catch {
 *     budget.startFailed()
 *   }
 * }
 */
export class RestartBudget {
  readonly #maxRestarts: number;
  readonly #withinMs: number;
  readonly #clock: Clock;
  /** Times of the restarts still inside the window, oldest first. */
  #restarts: number[] = [];
  /** Restarts that failed to start since the last one that started. */
  #failedStarts = 0;

  constructor(options: RestartBudgetOptions) {
    assertKnownKeys(options, ['maxRestarts', 'withinMs', 'clock'], 'RestartBudget');
    if (options === undefined) throw new InvalidOptionError('RestartBudget', 'expected { maxRestarts, withinMs }.');
    const { maxRestarts, withinMs, clock = systemClock } = options;
    if (!Number.isSafeInteger(maxRestarts) || maxRestarts < 0) {
      throw new InvalidOptionError('RestartBudget.maxRestarts', `expected an integer >= 0, got ${describe(maxRestarts)}.`);
    }
    if (typeof withinMs !== 'number' || !Number.isFinite(withinMs) || withinMs <= 0) {
      throw new InvalidOptionError('RestartBudget.withinMs', `expected a number of milliseconds > 0, got ${describe(withinMs)}.`);
    }
    if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
      throw new InvalidOptionError('RestartBudget.clock', `expected a Clock ({ now(): number }), got ${describe(clock)}.`);
    }
    this.#maxRestarts = maxRestarts;
    this.#withinMs = withinMs;
    this.#clock = clock;
  }

  /** Records a restart and returns true when the budget allows it; returns false (recording nothing) when not. */
  tryRestart(): boolean {
    if (this.remaining <= 0) return false;
    this.#restarts.push(this.#clock.now());
    return true;
  }

  /** The restart last allowed did not start: it counts until a start succeeds. */
  startFailed(): void {
    this.#failedStarts++;
  }

  /** The restart last allowed started: the failed starts before it count only while inside the window. */
  started(): void {
    this.#failedStarts = 0;
  }

  /** Restarts the budget would allow now. */
  get remaining(): number {
    this.#forgetBefore(this.#clock.now());
    return this.#maxRestarts - Math.max(this.#restarts.length, this.#failedStarts);
  }

  #forgetBefore(now: number): void {
    const windowStart = now - this.#withinMs;
    let expired = 0;
    while (expired < this.#restarts.length && (this.#restarts[expired] ?? Infinity) <= windowStart) expired++;
    if (expired > 0) this.#restarts = this.#restarts.slice(expired);
  }
}

/** How supervision ended. */
export interface SupervisionEnd {
  /**
   * `stopped`: `stop()` was called, or the worker was terminated with its own
   * `terminate()`; `gave-up`: it died more often than the budget allows.
   */
  readonly reason: 'stopped' | 'gave-up';
  /** The last exit seen, when the worker had died. */
  readonly lastExit?: WorkerExit;
  /** Why the last restart failed, when a restart itself failed. */
  readonly error?: unknown;
}

/** A supervised worker: always the current incarnation. */
export interface Supervision<Api extends WorkerApi = UntypedWorkerApi> {
  /** The running worker, or undefined while it is being restarted or after supervision ended. */
  readonly current: WorkerHandle<Api> | undefined;
  /** Resolves once supervision ends. */
  readonly ended: Promise<SupervisionEnd>;
  /** Ends supervision and terminates the current worker. */
  stop(): Promise<void>;
}

/** How `supervise` restarts. */
export interface SuperviseOptions<Api extends WorkerApi> {
  readonly budget: RestartBudget;
  /** Told about each successful restart, with the exit that caused it. */
  readonly onRestart?: (worker: WorkerHandle<Api>, exit: WorkerExit) => void;
}

/**
 * Starts a worker with `start` and restarts it whenever it dies by itself
 * (any reason but `terminated`), while `budget` allows. A restart that fails
 * counts against the budget too. Rejects when the first start fails.
 *
 * @example
 * const supervision = await supervise(
 *   () => startWorker<EchoApi>(url, { name: 'echo' }),
 *   { budget: new RestartBudget({ maxRestarts: 5, withinMs: 10_000 }) },
 * )
 * await supervision.current?.call('add', 1, 2)
 * supervision.ended.then((end) => end.reason === 'gave-up' && console.error('echo keeps crashing', end.lastExit))
 */
export async function supervise<Api extends WorkerApi>(
  start: () => Promise<WorkerHandle<Api>>,
  options: SuperviseOptions<Api>,
): Promise<Supervision<Api>> {
  assertFunction(start, 'supervise(start)');
  assertKnownKeys(options, ['budget', 'onRestart'], 'supervise');
  if (!(options?.budget instanceof RestartBudget)) {
    throw new InvalidOptionError('supervise.budget', `expected a RestartBudget, got ${describe(options?.budget)}.`);
  }
  if (options.onRestart !== undefined) assertFunction(options.onRestart, 'supervise.onRestart');
  const { budget, onRestart } = options;
  let current: WorkerHandle<Api> | undefined = await start();
  let stopped = false;
  let end!: (value: SupervisionEnd) => void;
  const ended = new Promise<SupervisionEnd>((resolve) => (end = resolve));

  const watch = async (worker: WorkerHandle<Api>): Promise<void> => {
    const exit = await worker.exited;
    if (stopped) return;
    current = undefined;
    if (exit.reason === 'terminated') {
      // Someone terminated the worker on purpose: supervision ends with it.
      stopped = true;
      end({ reason: 'stopped', lastExit: exit });
      return;
    }
    let error: unknown;
    while (budget.tryRestart()) {
      let successor: WorkerHandle<Api>;
      try {
        successor = await start();
      } catch (startError) {
        if (stopped) return;
        budget.startFailed();
        error = startError;
        continue;
      }
      budget.started();
      if (stopped) {
        await successor.terminate();
        return;
      }
      current = successor;
      void watch(successor);
      try {
        onRestart?.(successor, exit);
      } catch (listenerError) {
        // A failing listener must not stop supervision; it is reported, not thrown.
        process.emitWarning(`supervise(): onRestart threw: ${messageOf(listenerError)}`);
      }
      return;
    }
    stopped = true;
    end({ reason: 'gave-up', lastExit: exit, ...(error === undefined ? {} : { error }) });
  };
  void watch(current);

  return {
    get current() {
      return current;
    },
    ended,
    async stop() {
      if (stopped) return;
      stopped = true;
      const worker = current;
      current = undefined;
      await worker?.terminate();
      end({ reason: 'stopped' });
    },
  };
}

interface Settings {
  readonly name: string;
  readonly workerData: unknown;
  readonly callDeadlineMs: number;
  readonly startDeadlineMs: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly env: Readonly<Record<string, string>> | undefined;
}

interface PendingCall {
  readonly method: string;
  readonly reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A worker started through threads.js, watched through the Node worker underneath. */
class ThreadWorkerHandle<Api extends WorkerApi> implements WorkerHandle<Api> {
  readonly name: string;
  readonly port: MessagePort;
  readonly exited: Promise<WorkerExit>;
  readonly #threads: ThreadsHost;
  readonly #worker: NodeWorker;
  readonly #callDeadlineMs: number;
  readonly #pending = new Set<PendingCall>();
  /** The threads.js proxy, once the worker has served its API. */
  #proxy: Record<string, unknown> | undefined;
  /** The first reason the host learned the worker is gone; later ones don't replace it. */
  #death: WorkerExit | undefined;
  #resolveExited!: (exit: WorkerExit) => void;

  static async start<Api extends WorkerApi>(
    threads: ThreadsHost,
    source: string,
    settings: Settings,
  ): Promise<ThreadWorkerHandle<Api>> {
    const { port1: hostPort, port2: workerPort } = new MessageChannel();
    const envelope: Envelope = { busline: 'worker-host', name: settings.name, port: workerPort, workerData: settings.workerData };
    let worker: NodeWorker;
    try {
      // The port travels in Node's own transferList, so it is there before
      // the module's first line runs; a threads.js `Transfer` in a first call
      // would leave a window where the module has no port yet.
      worker = new threads.Worker(source, {
        fromSource: true,
        name: settings.name,
        workerData: envelope,
        transferList: [workerPort],
        ...(settings.resourceLimits === undefined ? {} : { resourceLimits: settings.resourceLimits }),
        ...(settings.env === undefined ? {} : { env: settings.env }),
      });
    } catch (error) {
      hostPort.close();
      workerPort.close();
      throw new WorkerCrashedError(`Worker "${settings.name}" could not be created: ${messageOf(error)}`, { cause: error });
    }
    // threads.js adds one 'message' listener per pending call; we bound calls by deadlines instead.
    worker.setMaxListeners(0);
    const handle = new ThreadWorkerHandle<Api>(threads, worker, hostPort, settings);
    const spawned = threads.spawn(worker, { timeout: settings.startDeadlineMs });
    // spawn() has just added its one listener, waiting for the worker's init
    // message under a timer that it clears only when that message comes. Node
    // drops a Worker's 'message' listeners when it exits, so after an early
    // death we hand that listener a stand-in init ourselves: spawn() settles
    // (its result is ignored) and no timer outlives the failed start.
    const initListeners = worker.listeners('message');
    const diedFirst = handle.exited.then(() => {
      if (handle.#proxy !== undefined) return undefined; // it started; spawn() settled long ago
      for (const listener of initListeners) listener({ type: 'init', exposed: { type: 'module', methods: [] } });
      return undefined;
    });
    try {
      const proxy = await Promise.race([spawned, diedFirst]);
      if (proxy !== undefined && handle.#death === undefined) {
        handle.#proxy = proxy;
        return handle;
      }
    } catch (error) {
      // spawn()'s own timeout (threads.js reports it as "Timeout: ..."), or an
      // uncaught error threads.js caught in a module that loaded it itself.
      const timedOut = messageOf(error).startsWith('Timeout');
      handle.#die(timedOut ? { reason: 'hung', error } : { reason: 'error', error });
    }
    await handle.#stopThread();
    await handle.exited;
    throw handle.#startFailure(settings);
  }

  private constructor(threads: ThreadsHost, worker: NodeWorker, port: MessagePort, settings: Settings) {
    this.name = settings.name;
    this.port = port;
    this.#threads = threads;
    this.#worker = worker;
    this.#callDeadlineMs = settings.callDeadlineMs;
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    // Node emits 'error' (uncaught exception, unhandled rejection, out of
    // memory) before 'exit'; 'exit' comes for every ending, terminate included.
    worker.on('error', (error: unknown) => {
      const outOfMemory = (error as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.#die({ reason: outOfMemory ? 'out-of-memory' : 'error', error });
    });
    worker.once('exit', (code: number) => {
      this.#die({ reason: 'exit', code });
      const death = this.#death ?? { reason: 'exit', code };
      port.close();
      this.#resolveExited(death.code === undefined ? { ...death, code } : death);
    });
  }

  get alive(): boolean {
    return this.#death === undefined;
  }

  call<Method extends keyof Api & string>(
    method: Method,
    ...args: WorkerCallArgs<Api, Method>
  ): Promise<WorkerCallResult<Api, Method>> {
    if (this.#death !== undefined) {
      return Promise.reject(
        new WorkerCrashedError(
          `${String(method)}() on worker "${this.name}" was refused: the worker is gone (${describeExit(this.#death)}). ` +
            'Start a new one.',
          { cause: this.#death.error },
        ),
      );
    }
    const invoke = this.#proxy?.[method];
    if (typeof invoke !== 'function') {
      const methods = Object.keys(this.#proxy ?? {}).filter((key) => typeof this.#proxy?.[key] === 'function');
      return Promise.reject(
        new UnsupportedError(
          `Worker "${this.name}" has no method ${JSON.stringify(String(method))}; it serves ${methods.join(', ') || 'none'}.`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: PendingCall = { method, reject, timer: undefined };
      this.#pending.add(pending);
      pending.timer = setTimeout(() => this.#hung(pending), this.#callDeadlineMs);
      const settle = (outcome: () => void) => {
        if (!this.#pending.delete(pending)) return; // already rejected because the worker died
        clearTimeout(pending.timer);
        outcome();
      };
      let answer: unknown;
      try {
        answer = (invoke as (...args: unknown[]) => unknown)(...args);
      } catch (error) {
        settle(() => reject(error));
        return;
      }
      Promise.resolve(answer).then(
        (value) => settle(() => resolve(value as WorkerCallResult<Api, Method>)),
        (error: unknown) => settle(() => reject(error)),
      );
    });
  }

  async terminate(): Promise<void> {
    this.#die({ reason: 'terminated' });
    await this.#stopThread();
    await this.exited;
  }

  /** A call missed its deadline: the worker is hung, and is terminated. */
  #hung(call: PendingCall): void {
    const error = new WorkerCrashedError(
      `${call.method}() on worker "${this.name}" got no answer within ${this.#callDeadlineMs} ms; ` +
        'the worker is taken to be hung and was terminated. Raise callDeadlineMs if the call is just slow.',
    );
    this.#pending.delete(call);
    call.reject(error);
    this.#die({ reason: 'hung', error });
    void this.#stopThread();
  }

  /** Records the first reason the worker is gone and rejects every pending call. */
  #die(death: WorkerExit): void {
    if (this.#death !== undefined) return;
    this.#death = death;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const call of pending) {
      clearTimeout(call.timer);
      call.reject(
        new WorkerCrashedError(
          `${call.method}() on worker "${this.name}" failed: the worker is gone (${describeExit(death)}).`,
          { cause: death.error },
        ),
      );
    }
  }

  /** Stops the thread; safe to call on a thread that has already exited. */
  async #stopThread(): Promise<void> {
    try {
      // Through threads.js when it holds the worker, so it drops its own listeners too.
      if (this.#proxy !== undefined) await this.#threads.Thread.terminate(this.#proxy);
      else await this.#worker.terminate();
    } catch {
      // A thread that is already gone cannot be stopped twice; `exited` tells the rest.
    }
  }

  #startFailure(settings: Settings): WorkerCrashedError {
    const death = this.#death ?? { reason: 'exit' };
    const why =
      death.reason === 'hung'
        ? `it did not call serveWorker() within ${settings.startDeadlineMs} ms (startDeadlineMs)`
        : death.reason === 'exit'
          ? `it exited${death.code === undefined ? '' : ` with code ${death.code}`} before calling serveWorker()`
          : describeExit(death);
    return new WorkerCrashedError(`Worker "${this.name}" failed to start: ${why}.`, { cause: death.error });
  }
}

function checkOptions(options: WorkerOptions): Settings {
  if (options === undefined) throw new InvalidOptionError('startWorker', 'expected an options object with a name.');
  assertKnownKeys(options, OPTION_KEYS, 'startWorker');
  const { name, workerData, resourceLimits, env } = options;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('startWorker.name', `expected a non-empty string, got ${describe(name)}.`);
  }
  if (resourceLimits !== undefined) checkResourceLimits(resourceLimits, 'startWorker.resourceLimits');
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) {
      throw new InvalidOptionError('startWorker.env', `expected an object of strings, got ${describe(env)}.`);
    }
    for (const [key, value] of Object.entries(env)) {
      if (typeof value !== 'string') {
        throw new InvalidOptionError(`startWorker.env.${key}`, `expected a string, got ${describe(value)}.`);
      }
    }
  }
  return {
    name,
    workerData,
    callDeadlineMs: deadline(options.callDeadlineMs, 'callDeadlineMs', DEFAULT_CALL_DEADLINE_MS),
    startDeadlineMs: deadline(options.startDeadlineMs, 'startDeadlineMs', DEFAULT_START_DEADLINE_MS),
    resourceLimits,
    env,
  };
}

/** Throws `InvalidOptionError` unless `limits` holds only Node's heap limits, each in megabytes > 0. */
export function checkResourceLimits(limits: unknown, option: string): asserts limits is ResourceLimits {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) {
    throw new InvalidOptionError(option, `expected an object of heap limits in megabytes, got ${describe(limits)}.`);
  }
  assertKnownKeys(limits, RESOURCE_LIMIT_KEYS, option);
  for (const [key, value] of Object.entries(limits)) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
      throw new InvalidOptionError(`${option}.${key}`, `expected megabytes > 0, got ${describe(value)}.`);
    }
  }
}

function deadline(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_DEADLINE_MS) {
    throw new InvalidOptionError(
      `startWorker.${option}`,
      `expected whole milliseconds from 1 to ${MAX_DEADLINE_MS}, got ${describe(value)}.`,
    );
  }
  return value;
}

/**
 * The worker's entry, evaluated by threads.js (`fromSource`). A TypeScript
 * module needs tsx's loader hooks registered *inside* the worker before it is
 * imported: `execArgv: ['--import', 'tsx']` does not reach a worker's entry
 * (DESIGN.md, "Pitfalls"). tsx is resolved here, on the host, so the worker
 * does not depend on its working directory to find it. A `.js` module is
 * imported as is. A failed import is an unhandled rejection, which ends the
 * worker with the import's error, and `startWorker` rejects with it.
 * Only ESM TypeScript is covered (this package is `"type": "module"`); a `.ts`
 * that resolves to CommonJS would also need tsx's `tsx/cjs/api` registered.
 */
function bootstrapSource(module: URL): string {
  const moduleUrl = JSON.stringify(module.href);
  if (!TYPESCRIPT_MODULE.test(module.pathname)) return `import(${moduleUrl});\n`;
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (error) {
    throw new UnsupportedError(
      `Worker module ${module.href} is TypeScript, and loading it needs tsx (npm install tsx), which was not found: ` +
        `${messageOf(error)}. Or start the compiled .js module.`,
    );
  }
  return `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${moduleUrl}); });\n`;
}

// Specifiers in variables: threads 1.7.0's ESM entries ship no types that
// `module: nodenext` can resolve (TS7016), and its .d.ts files pull in the DOM
// lib; the few members used are typed above (ThreadsHost, ThreadsWorker).
const THREADS_HOST = 'threads';
const THREADS_WORKER = 'threads/worker';
let threadsHost: Promise<ThreadsHost> | undefined;

/** threads.js' host side, loaded on the first `startWorker()`. */
function loadThreadsHost(): Promise<ThreadsHost> {
  threadsHost ??= importWithoutCrashGuards<ThreadsHost>(THREADS_HOST);
  return threadsHost;
}

/**
 * Imports a threads.js entry and removes the `uncaughtException` and
 * `unhandledRejection` listeners it installs when it loads inside a worker:
 * they keep a broken worker running and only post a message the host ignores
 * after initialisation, so its pending calls would hang. Without them Node
 * ends the worker, and the host sees 'error' and 'exit'.
 */
async function importWithoutCrashGuards<Module>(specifier: string): Promise<Module> {
  const exceptionListeners = new Set(process.listeners('uncaughtException'));
  const rejectionListeners = new Set(process.listeners('unhandledRejection'));
  const loaded = (await import(specifier)) as Module;
  if (!isMainThread) {
    for (const listener of process.listeners('uncaughtException')) {
      if (!exceptionListeners.has(listener)) process.off('uncaughtException', listener);
    }
    for (const listener of process.listeners('unhandledRejection')) {
      if (!rejectionListeners.has(listener)) process.off('unhandledRejection', listener);
    }
  }
  return loaded;
}

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && (value as Partial<Envelope>).busline === 'worker-host';
}

function describeExit(exit: WorkerExit): string {
  const code = exit.code === undefined ? '' : ` with code ${exit.code}`;
  switch (exit.reason) {
    case 'exit':
      return `it exited${code}`;
    case 'error':
      return `it threw ${messageOf(exit.error)}`;
    case 'hung':
      return 'it hung and was terminated';
    case 'out-of-memory':
      return 'it ran out of memory (resourceLimits)';
    case 'terminated':
      return 'it was terminated';
  }
}

function describeModule(module: unknown): string {
  return module instanceof URL ? `a ${module.protocol} URL` : describe(module);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
