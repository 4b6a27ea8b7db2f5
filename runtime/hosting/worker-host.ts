/**
 * Hosting worker threads for the control plane: `startWorker()` starts a
 * worker through threads.js (`threads-js.ts`, the only module that loads it)
 * and hands back a `WorkerHandle`; the worker side is `serveWorker()` in
 * `serve-worker.ts`. Calls go through threads.js; frames go through the data
 * port every worker gets (a `MessageChannel`), never through calls (DESIGN.md,
 * "Pitfalls": threads.js keeps one listener per pending call).
 *
 * threads.js does not notice a worker that dies: a call pending at an exit, an
 * uncaught exception or an out-of-memory abort stays pending forever. So the
 * host listens to the Node worker itself, keeps its own set of pending calls,
 * gives every call a deadline, and rejects all of them with a
 * `WorkerCrashedError` the moment the worker is gone.
 */
import { MessageChannel, MessagePort } from 'node:worker_threads';
import type { ResourceLimits, Worker as NodeWorker } from 'node:worker_threads';
import { InvalidOptionError, RuntimeStoppedError, UnsupportedError, WorkerCrashedError } from '../../errors.js';
import { fromWireError } from '../wire/wire-errors.js';
import { assertKnownKeys, describe, readOnce } from '../validate.js';
import { HostedWorker, loadThreadsHost, type ThreadsHost } from './threads-js.js';
import { bootstrapSource } from './worker-bootstrap.js';
import {
  describeExit,
  messageOf,
  type Envelope,
  type UntypedWorkerApi,
  type WorkerApi,
  type WorkerCallArgs,
  type WorkerCallResult,
  type WorkerExit,
  type WorkerHandle,
  type WorkerHost,
  type WorkerOptions,
} from './worker-api.js';

const OPTION_KEYS = ['name', 'workerData', 'callDeadlineMs', 'startDeadlineMs', 'resourceLimits', 'env', 'transfer'] as const;
const RESOURCE_LIMIT_KEYS = ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
/** The longest `callDeadlineMs` or `startDeadlineMs`: setTimeout's largest delay (longer ones fire at once). */
export const MAX_DEADLINE_MS = 2 ** 31 - 1;
export const DEFAULT_CALL_DEADLINE_MS = 30_000;
const DEFAULT_START_DEADLINE_MS = 10_000;

/**
 * Starts a worker thread running `module`, which must call `serveWorker()`.
 * Resolves once the module has loaded and served its API; rejects with a
 * `WorkerCrashedError` when it fails to load, dies, or misses `startDeadlineMs`
 * first, and with an `InvalidOptionError` for bad options — also one the
 * worker refused its start with (thrown before it served: a middleware
 * module the worker cannot load, say), rebuilt here.
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
  return startWorkerSetBy<Api>(module, options, 'startDeadlineMs');
}

/**
 * `startWorker`, for a caller whose own option set `startDeadlineMs`
 * (the runtime's `threadStartDeadlineMs`): a missed deadline names that
 * option, the one its user can raise. When `signal` aborts before the worker
 * serves (the runtime stops), the worker is terminated and this rejects with
 * a `RuntimeStoppedError` once it is gone.
 */
export async function startWorkerSetBy<Api extends WorkerApi = UntypedWorkerApi>(
  module: URL,
  options: WorkerOptions,
  startDeadlineOption: string,
  signal?: AbortSignal,
): Promise<WorkerHandle<Api>> {
  const settings = { ...checkOptions(options), startDeadlineOption };
  if (!(module instanceof URL) || module.protocol !== 'file:') {
    throw new InvalidOptionError('module', `expected a file: URL of the worker module, got ${describeModule(module)}.`);
  }
  const source = bootstrapSource(module);
  const threads = loadThreadsHost();
  return ThreadWorkerHandle.start<Api>(threads, source, settings, signal);
}

/** `startWorker` as a `WorkerHost`. */
export const threadsWorkerHost: WorkerHost = { startWorker };

interface Settings {
  readonly name: string;
  readonly workerData: unknown;
  readonly callDeadlineMs: number;
  readonly startDeadlineMs: number;
  /** The option that set `startDeadlineMs`, as a missed deadline names it. */
  readonly startDeadlineOption: string;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly transfer: readonly MessagePort[];
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
    signal?: AbortSignal,
  ): Promise<ThreadWorkerHandle<Api>> {
    if (signal?.aborted === true) throw new RuntimeStoppedError(`starting worker "${settings.name}"`);
    const { port1: hostPort, port2: workerPort } = new MessageChannel();
    const envelope: Envelope = { busline: 'worker-host', name: settings.name, port: workerPort, workerData: settings.workerData };
    let worker: NodeWorker;
    try {
      // The port travels in Node's own transferList, so it is there before
      // the module's first line runs; a threads.js `Transfer` in a first call
      // would leave a window where the module has no port yet.
      worker = new HostedWorker(source, {
        name: settings.name,
        workerData: envelope,
        transferList: [workerPort, ...settings.transfer],
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
    // Given up while it starts (the runtime stops): terminated as on purpose, its start never served.
    let onAbort: (() => void) | undefined;
    const abandoned = new Promise<undefined>((resolve) => {
      onAbort = () => {
        handle.#die({ reason: 'terminated' });
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const proxy = await Promise.race([spawned, diedFirst, abandoned]);
      if (proxy !== undefined && handle.#death === undefined) {
        handle.#proxy = proxy;
        return handle;
      }
    } catch (error) {
      // spawn()'s own timeout (threads.js reports it as "Timeout: ..."), or an
      // uncaught error threads.js caught in a module that loaded it itself.
      const timedOut = messageOf(error).startsWith('Timeout');
      handle.#die(timedOut ? { reason: 'hung', error } : { reason: 'error', error });
    } finally {
      signal?.removeEventListener('abort', onAbort!);
    }
    await handle.#stopThread();
    await handle.exited;
    if (handle.#death?.reason === 'terminated') throw new RuntimeStoppedError(`starting worker "${settings.name}"`);
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
            'A crashed worker is restarted within the restart budget (busline.thread.crashed says whether it was), but a handle ' +
            'taken before the crash stays with the dead one: take the thread\'s bus again, runtime.thread(processor, thread).bus(side); ' +
            'its spawned actors died with it: spawn them again.',
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

  #startFailure(settings: Settings): WorkerCrashedError | InvalidOptionError {
    const death = this.#death ?? { reason: 'exit' };
    const refusal = death.reason === 'error' ? optionRefusal(death.error, this.name) : undefined;
    if (refusal !== undefined) return refusal;
    const why =
      death.reason === 'hung'
        ? `it did not call serveWorker() within ${settings.startDeadlineMs} ms (${settings.startDeadlineOption}: raise it if its start is only slow)`
        : death.reason === 'exit'
          ? `it exited${death.code === undefined ? '' : ` with code ${death.code}`} before calling serveWorker()`
          : describeExit(death);
    return new WorkerCrashedError(`Worker "${this.name}" failed to start: ${why}.`, { cause: death.error });
  }
}

/**
 * The `InvalidOptionError` a worker threw before it served (its start refused
 * its configuration), as Node hands over a worker's uncaught error: not of
 * its class, but with its own fields (`code`, `option`, ...). Undefined for
 * any other death, which is a crash.
 */
function optionRefusal(error: unknown, worker: string): InvalidOptionError | undefined {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'INVALID_OPTION') return undefined;
  const option = (error as { option?: unknown }).option;
  if (typeof option !== 'string') return undefined;
  const issues = (error as { issues?: unknown }).issues;
  // `issues` as busline's wire errors carry them (JSON text), so they come back as the thrower's.
  const details: Record<string, string> = Array.isArray(issues) ? { option, issues: JSON.stringify(issues) } : { option };
  const refusal = fromWireError({ code: 'INVALID_OPTION', message: `${error.message} (in worker "${worker}")`, details }) as InvalidOptionError;
  return Object.assign(refusal, { cause: error });
}

function checkOptions(options: WorkerOptions): Omit<Settings, 'startDeadlineOption'> {
  if (options === undefined) throw new InvalidOptionError('startWorker', 'expected an options object with a name.');
  assertKnownKeys(options, OPTION_KEYS, 'startWorker');
  const { name, workerData, resourceLimits, env } = options;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('startWorker.name', `expected a non-empty string, got ${describe(name)}.`);
  }
  const limits = resourceLimits === undefined ? undefined : checkResourceLimits(resourceLimits, 'startWorker.resourceLimits');
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
  const transfer = options.transfer ?? [];
  if (!Array.isArray(transfer) || !transfer.every((port) => port instanceof MessagePort)) {
    throw new InvalidOptionError('startWorker.transfer', `expected an array of MessagePorts, got ${describe(transfer)}.`);
  }
  return {
    name,
    workerData,
    transfer,
    callDeadlineMs: deadline(options.callDeadlineMs, 'callDeadlineMs', DEFAULT_CALL_DEADLINE_MS),
    startDeadlineMs: deadline(options.startDeadlineMs, 'startDeadlineMs', DEFAULT_START_DEADLINE_MS),
    resourceLimits: limits,
    env,
  };
}

/** `limits` read once (a frozen copy); throws `InvalidOptionError` unless it holds only Node's heap limits, each in megabytes > 0. */
export function checkResourceLimits(limits: unknown, option: string): ResourceLimits {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) {
    throw new InvalidOptionError(option, `expected an object of heap limits in megabytes, got ${describe(limits)}.`);
  }
  assertKnownKeys(limits, RESOURCE_LIMIT_KEYS, option);
  const read = readOnce(limits as Record<string, unknown>, RESOURCE_LIMIT_KEYS, [], option)!;
  for (const [key, value] of Object.entries(read)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new InvalidOptionError(`${option}.${key}`, `expected megabytes > 0, got ${describe(value)}.`);
    }
  }
  return Object.freeze(read) as ResourceLimits;
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

function describeModule(module: unknown): string {
  return module instanceof URL ? `a ${module.protocol} URL` : describe(module);
}
