/**
 * What the host and a worker agree on: the types of a worker's API, how it is
 * started and how it ends, and the envelope `startWorker()` hands to
 * `serveWorker()` in Node's `workerData`. No threads.js here; the host side is
 * `worker-host.ts`, the worker side `serve-worker.ts`.
 */
import type { MessagePort, ResourceLimits } from 'node:worker_threads';

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
  /** Message ports inside `workerData` that move to the worker (Node's `transferList`). */
  readonly transfer?: readonly MessagePort[];
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

/** What `startWorker` puts in Node's `workerData`, for `serveWorker` to unpack. */
export interface Envelope {
  readonly busline: 'worker-host';
  readonly name: string;
  readonly port: MessagePort;
  readonly workerData: unknown;
}

/** True when `value` is the `Envelope` of a worker started by `startWorker()`. */
export function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && (value as Partial<Envelope>).busline === 'worker-host';
}

/** How `exit` reads in an error message: "it exited with code 1", "it hung and was terminated", ... */
export function describeExit(exit: WorkerExit): string {
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

/** The message of an error, or the thrown value as a string. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Why a call on a handle of a worker thread that has been restarted since is
 * refused, and what to do instead: the root's refusal and a processor's say the same.
 * @internal
 */
export function replacedRefusal(processor: number, thread: number, method: string): string {
  return (
    `${method}() on worker "processor ${processor} thread ${thread}" was refused: the worker this handle was taken from crashed ` +
    `and was restarted (busline.thread.crashed). Take the thread's bus again, runtime.thread(${processor}, ${thread}).bus(side); its spawned actors died with it: spawn them again.`
  );
}
