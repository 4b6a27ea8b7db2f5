/**
 * The one module that loads threads.js. threads.js 1.7.0 (its last release,
 * 2021) installs process-wide listeners when it loads, and busline removes
 * exactly those, so that threads.js hosts workers and owns nothing else:
 *
 * - on the host side, SIGINT and SIGTERM handlers that terminate its workers
 *   and exit with code 0: an application's own handler would be cut off and
 *   its exit code lost. Without them a signal does what the application says
 *   (Node's default, or its own handler), and `runtime.stop()` ends the workers;
 * - inside a worker, `uncaughtException` and `unhandledRejection` listeners
 *   that keep a broken worker running and only post a message the host ignores
 *   after initialisation, so its pending calls would hang. Without them Node
 *   ends the worker, and the host sees 'error' and 'exit'.
 *
 * Both entries are loaded with a synchronous `require` (they are CommonJS; the
 * ESM entries only re-export them), so no other code runs between the
 * listeners seen before and after: what is new was added by threads.js, and
 * listeners the application installed are left alone. An application that
 * loaded threads.js itself before keeps whatever that load installed.
 */
import { createRequire } from 'node:module';
import { Worker as NodeWorker, isMainThread, type WorkerOptions } from 'node:worker_threads';

/** The members of threads.js 1.7.0 (host side) busline uses. */
export interface ThreadsHost {
  spawn(worker: NodeWorker, options: { timeout: number }): Promise<Record<string, unknown>>;
  readonly Thread: { terminate(thread: Record<string, unknown>): Promise<void> };
}

/** The members of `threads/worker` 1.7.0 busline uses. */
export interface ThreadsWorker {
  expose(api: Record<string, unknown>): void;
}

/**
 * A Node worker that threads.js' `spawn()` and call proxies can drive: they
 * speak the web's `addEventListener`/`removeEventListener` with `{ data }`
 * events, as threads' own `Worker` adds them. Not threads' `Worker` itself:
 * that one pushes every instance into a module-level list that only its
 * (removed) SIGINT handler reads and nothing ever shortens, so each worker ever
 * started, with its listeners and what they hold, would stay in memory for the
 * life of the process, one more at every restart.
 */
export class HostedWorker extends NodeWorker {
  readonly #listeners = new WeakMap<(event: { data: unknown }) => void, (message: unknown) => void>();

  /** Evaluates `source` as the worker's entry (an ES module when it uses `import`). */
  constructor(source: string, options: WorkerOptions) {
    super(source, { ...options, eval: true });
  }

  addEventListener(event: string, listener: (event: { data: unknown }) => void): void {
    const wrapped = (message: unknown) => listener({ data: message });
    this.#listeners.set(listener, wrapped);
    this.on(event, wrapped);
  }

  removeEventListener(event: string, listener: (event: { data: unknown }) => void): void {
    const wrapped = this.#listeners.get(listener);
    if (wrapped !== undefined) this.off(event, wrapped);
  }
}

type ProcessEvent = 'SIGINT' | 'SIGTERM' | 'uncaughtException' | 'unhandledRejection';

// Loaded by name at run time: threads 1.7.0 ships no types that `module:
// nodenext` resolves for its ESM entries (TS7016), and its .d.ts files pull in
// the DOM lib; the few members used are typed above.
const require = createRequire(import.meta.url);
let threadsHost: ThreadsHost | undefined;
let threadsWorker: ThreadsWorker | undefined;

/** threads.js' host side, without its SIGINT and SIGTERM handlers. Loaded on the first call. */
export function loadThreadsHost(): ThreadsHost {
  threadsHost ??= requireWithout<ThreadsHost>('threads', ['SIGINT', 'SIGTERM']);
  return threadsHost;
}

/** `threads/worker`, without the crash guards it installs inside a worker. Loaded on the first call. */
export function loadThreadsWorker(): ThreadsWorker {
  threadsWorker ??= requireWithout<ThreadsWorker>(
    'threads/worker',
    isMainThread ? [] : ['uncaughtException', 'unhandledRejection'],
  );
  return threadsWorker;
}

/** Requires `specifier` and removes the listeners for `events` that loading it added to `process`. */
function requireWithout<Module>(specifier: string, events: readonly ProcessEvent[]): Module {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const loaded = require(specifier) as Module;
  for (const [event, listeners] of before) {
    for (const listener of emitter.listeners(event)) {
      if (!listeners.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return loaded;
}
