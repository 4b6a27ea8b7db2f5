/**
 * The options of `createRuntime()` in one place, as nats.js keeps its
 * `options.ts`: what each one means, its default, and its check. The whole
 * configuration is checked at once: one `InvalidOptionError` lists every
 * field that is wrong (its path, value and what is allowed), and every check
 * runs before anything starts, so a refused runtime leaves no worker or
 * process behind.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidOptionError, thrownText } from '../errors.js';
import type { BusEvent, InspectionEvent, Payload } from '../types.js';
import { DEFAULT_MAX_QUEUED } from './bus/bus-options.js';
import type { ErrorHandler } from './bus/subscriptions.js';
import { clockReadingProblem, systemClock, type Clock } from './clock.js';
import { DEFAULT_THREAD_START_DEADLINE_MS, checkRestartPolicy, type RestartPolicy } from './hosting/processor-threads.js';
import { MAX_DEADLINE_MS, checkResourceLimits } from './hosting/worker-host.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from './store/memory-policy.js';
import { policyLimits, syncPolicyOf, type PolicyLimits, type SyncPolicy } from './station/sync-policy.js';
import { PayloadSchemas, checkSchemaMap, type PayloadSchemaMap } from './payload/payload-schemas.js';
import { assertFunction, assertKnownKeys, describe, readEntries, readOnce, type Report } from './validate.js';
import type { Middleware } from './bus/middleware.js';
import { checkMiddlewareEntries, type MiddlewareModule, type MiddlewareModuleSpec, type ModuleMiddleware } from './bus/middleware-modules.js';
import { checkMetricsOptions, type ResolvedMetrics } from './metrics/bus-metrics.js';
import type { MetricsOptions } from './metrics/stats.js';
import { FrameTransport, InMemoryTransport, type Transport } from './wire/transport.js';
import { LONGEST_WAIT_STEP_MS } from './bus/wait-steps.js';

/**
 * The shortest `callDeadlineMs`: calls that wait by design answer after up to
 * `LONGEST_WAIT_STEP_MS` a step (a subscription's `take`, `room()`, an awaited
 * publish: `bus/wait-steps.ts`), and under a shorter deadline those steps
 * would time out or have their thread taken as hung.
 */
export const MIN_CALL_DEADLINE_MS = 1_000;

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
  /**
   * Receives subscriber errors that have no `onError` of their own, and
   * `after` middleware that threw (`MiddlewareFailedError`). Logs them by
   * default. It runs in the root, and hears of every thread: a failure in a
   * worker thread or a child processor (a subscriber there, a user actor's
   * emission its thread refused, an `after` middleware) arrives without a sync,
   * as the error rebuilt here (a `BusError` of its own class, code and fields,
   * e.g. `MIDDLEWARE_FAILED` with `middleware`; any other error as an `Error`
   * of its name, message and stack; `cause` likewise) with `processor` and
   * `thread` fields naming where it failed, and a copy of the event.
   * While `stop()` runs, failures still reach it (a service's `onStop()` may
   * post to a subscriber that throws); one a worker or child processor
   * reported that has not arrived by the time `stop()` resolves is dropped:
   * once `stop()` has resolved, `onError` is not called again.
   *
   * @example
   * createRuntime({ processors: 1, onError: (error, event) => console.log((error as { thread?: number }).thread, event.type, error) })
   *
   * The event is as it is at run time, JSON data or bytes (`BusEvent<Payload>`, as a middleware's `after` gets it).
   */
  readonly onError?: ErrorHandler<BusEvent<Payload>>;
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
  /**
   * How long a call to a worker may go unanswered, or a child processor's
   * heartbeat (a ping its main thread answers at once), before the worker or
   * processor is taken as hung: it is terminated (a processor is killed) and
   * restarted within `restart`. Default 30 000 ms; at least 1 000 ms
   * (calls that wait by design take up to 250 ms a step).
   */
  readonly callDeadlineMs?: number;
  /**
   * How long a child processor may take to start (fork, replay its journal,
   * start its workers, resend what it restored) before the start is taken as
   * failed: the child is killed, and a restart counts it against `restart`.
   * Default 120 000 ms.
   */
  readonly processorStartDeadlineMs?: number;
  /**
   * How long a worker thread of the runtime (`threadsPerProcessor`, in this
   * process or a child processor, and each restart of one) may take to start:
   * load its modules, the middleware modules among them, and serve. Missing it
   * fails the start with `WORKER_CRASHED` (the worker is terminated): the
   * first start rejects `ready`, a restart counts against `restart`.
   * Default 60 000 ms.
   */
  readonly threadStartDeadlineMs?: number;
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
  /**
   * What histories keep: policies per event type or pattern (`'>'` every type but `busline.*`; `removeAfterDelivery`,
   * `removeAfterSearch`, `ttlMs`, `sizeLimit`, limits, ...) and limits of
   * every history (each bus and station), in every thread and processor,
   * and the memory budget of each (`budget`). Default: no policies, and a
   * budget of 32 MiB of events a bus and 128 MiB a station, over which the
   * oldest, largest events go (`memory: { budget: false }`: none).
   *
   * @example
   * createRuntime({ memory: { budget: { busBytes: 8 * 1024 * 1024 }, policies: { trace: { importance: 'low' } } } })
   */
  readonly memory?: MemoryOptions;
  /**
   * Middleware of every bus, before each bus's own (`bus.use()`), in order.
   * A middleware object runs on the buses of the threads hosted in this JS
   * thread (functions cannot reach workers); a `{ module, export? }` entry
   * is loaded by every thread, worker threads and child processors included,
   * and runs on all their buses (`runtime.ready` waits for it, and rejects
   * with `INVALID_OPTION` if the module cannot be loaded). Default none.
   */
  readonly middleware?: readonly (Middleware | MiddlewareModule)[];
  /** Record metrics (`bus.stats()`, `runtime.stats()`), and post them every `intervalMs` if given. Default off. */
  readonly metrics?: boolean | MetricsOptions;
  /**
   * Payload schemas by event type (exact type; any Standard Schema: zod,
   * valibot, arktype, ...): `post()` in this thread refuses a payload its
   * schema refuses and keeps the schema's output. Functions cannot cross
   * threads: they apply to posts made in this thread (its buses, and the
   * `RemoteBus`es it holds); a worker's own code registers its own (a spawned
   * module's `schemas` export). More with `runtime.schema(type, schema)`.
   */
  readonly schemas?: PayloadSchemaMap;
}

/**
 * What of `RuntimeOptions` can come from a JSON file: every option but the
 * functions and objects with methods (`clock`, `onError`, `inspect`,
 * `schemas`, a `Transport` of your own). `createRuntime()` takes the parsed
 * JSON as it is, and checks it whole.
 */
export type RuntimeConfig = Omit<RuntimeOptions, 'clock' | 'onError' | 'inspect' | 'schemas' | 'transport'> & {
  readonly transport?: 'memory' | 'frames';
};

/**
 * The flags child processors start with unless `processorExecArgv` says
 * otherwise: the young generation at 16 MB (V8's default upper bound on 64-bit)
 * from the start instead of growing there only when many objects survive.
 * Scavenges then come 2.5x less often; each takes as long as before (their
 * cost is what survives, not the space). 2 x 16 MB of semi-spaces per thread.
 */
export const DEFAULT_PROCESSOR_EXEC_ARGV: readonly string[] = Object.freeze(['--min-semi-space-size=16']);

/**
 * How long a child processor's start may take by default. A start replays the
 * processor's journal and resends it to the main stations; generous, since a
 * deadline that a large journal on a loaded machine misses would turn every
 * restart of that processor into a failed one. What it guards against is a
 * start that never ends (a child that never says it is ready).
 */
export const DEFAULT_PROCESSOR_START_DEADLINE_MS = 120_000;

/** The most processors, and the most worker threads per processor, a runtime takes. */
export const MAX_PROCESSORS = 64;

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
  'processorStartDeadlineMs',
  'threadStartDeadlineMs',
  'restart',
  'workerLimits',
  'processorExecArgv',
  'sync',
  'journal',
  'memory',
  'middleware',
  'metrics',
  'schemas',
] as const;

/** `RuntimeOptions` checked, with every default filled in: what the runtime runs with. */
export interface ResolvedRuntimeOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly deferred: 'idle' | 'manual';
  readonly maxQueued: number;
  readonly onError: ErrorHandler;
  readonly inspect: ((event: InspectionEvent) => void) | undefined;
  readonly threadsPerProcessor: number;
  readonly processors: number;
  /** Left to the worker host's own default when not given. */
  readonly callDeadlineMs: number | undefined;
  readonly processorStartDeadlineMs: number;
  readonly threadStartDeadlineMs: number;
  /** Left to the supervisors' own default when not given. */
  readonly restart: RestartPolicy | undefined;
  readonly workerLimits: ResourceLimits | undefined;
  readonly processorExecArgv: readonly string[];
  /** The automatic sync policy, or none (`'manual'`). */
  readonly sync: SyncPolicy | undefined;
  /** The policy's bounds with their defaults, which every bus and station of this process checks. */
  readonly syncLimits: PolicyLimits | undefined;
  /** A directory, none (`false`), or a temporary one the runtime makes (`undefined`). */
  readonly journal: string | false | undefined;
  /** The memory policies every bus and station of this process applies. */
  readonly memory: MemoryPolicies;
  /** The middleware of this thread's buses, module entries as placeholders in their places. */
  readonly middleware: readonly Middleware[];
  /** The module entries, for workers and child processors to load. */
  readonly middlewareModules: readonly MiddlewareModuleSpec[];
  /** The root's placeholders of the module entries, loaded as the runtime starts. */
  readonly middlewarePlaceholders: readonly ModuleMiddleware[];
  /** Off: `undefined`. */
  readonly metrics: ResolvedMetrics | undefined;
  /** The payload schemas of this thread (empty when none were given; `runtime.schema()` adds more). */
  readonly schemas: PayloadSchemas;
}

/** Logs a subscriber's error: `onError` when none is given. */
export function defaultErrorHandler(error: unknown, event: BusEvent): void {
  console.error(`[busline] a subscriber of "${event.type}" (event ${event.id}) failed:`, error);
}

/**
 * Checks `createRuntime()` options and fills in the defaults. Every option is
 * checked, and every field of `sync` and `memory`: one `InvalidOptionError`
 * lists all that are wrong, each in `issues` with its path, value and what is
 * allowed (with one problem, its message is that problem's, as always).
 */
export function parseRuntimeOptions(given: RuntimeOptions = {}): ResolvedRuntimeOptions {
  const errors: InvalidOptionError[] = [];
  const report: Report = (error) => void errors.push(error);
  /** One option's own check: what it throws is reported, and `fallback` stands in. */
  const check = <T>(run: () => T, fallback: T): T => {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      report(error);
      return fallback;
    }
  };
  assertKnownKeys(given, RUNTIME_OPTIONS, 'createRuntime options', report);
  if (typeof given !== 'object' || given === null) throw InvalidOptionError.combine(errors);
  // Each option read once: what is checked is what the runtime uses (a getter may answer otherwise when read again).
  const options = readOnce(given, RUNTIME_OPTIONS, [], '', report) ?? {};
  const threadsPerProcessor = check(() => checkCount(options.threadsPerProcessor, 'threadsPerProcessor'), 0);
  const sync = syncPolicyOf(options.sync, report);
  const processors = check(() => checkCount(options.processors, 'processors'), 0);
  const processorExecArgv = options.processorExecArgv ?? DEFAULT_PROCESSOR_EXEC_ARGV;
  if (!Array.isArray(processorExecArgv) || processorExecArgv.some((flag) => typeof flag !== 'string' || !flag.startsWith('-'))) {
    report(new InvalidOptionError('processorExecArgv', `expected an array of flags such as '--max-old-space-size=4096', got ${describe(processorExecArgv)}.`));
  }
  const callDeadlineMs = options.callDeadlineMs;
  if (callDeadlineMs !== undefined && (!Number.isInteger(callDeadlineMs) || callDeadlineMs < MIN_CALL_DEADLINE_MS || callDeadlineMs > MAX_DEADLINE_MS)) {
    report(
      new InvalidOptionError(
        'callDeadlineMs',
        `expected whole milliseconds from ${MIN_CALL_DEADLINE_MS} to ${MAX_DEADLINE_MS}, got ${describe(callDeadlineMs)} ` +
          `(calls that wait by design, such as a subscription taking events from another thread, wait up to ${LONGEST_WAIT_STEP_MS} ms a step).`,
      ),
    );
  }
  const processorStartDeadlineMs = options.processorStartDeadlineMs ?? DEFAULT_PROCESSOR_START_DEADLINE_MS;
  if (!Number.isInteger(processorStartDeadlineMs) || processorStartDeadlineMs < 1 || processorStartDeadlineMs > MAX_DEADLINE_MS) {
    report(
      new InvalidOptionError(
        'processorStartDeadlineMs',
        `expected whole milliseconds from 1 to ${MAX_DEADLINE_MS}, got ${describe(processorStartDeadlineMs)}.`,
      ),
    );
  }
  const threadStartDeadlineMs = options.threadStartDeadlineMs ?? DEFAULT_THREAD_START_DEADLINE_MS;
  if (!Number.isInteger(threadStartDeadlineMs) || threadStartDeadlineMs < 1 || threadStartDeadlineMs > MAX_DEADLINE_MS) {
    report(
      new InvalidOptionError('threadStartDeadlineMs', `expected whole milliseconds from 1 to ${MAX_DEADLINE_MS}, got ${describe(threadStartDeadlineMs)}.`),
    );
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function') report(new InvalidOptionError('clock', 'expected an object with a now() method.'));
  else if (clock.setTimer !== undefined && typeof clock.setTimer !== 'function') report(new InvalidOptionError('clock', 'setTimer must be a function when given.'));
  else if (clock !== systemClock) {
    // Read once here: a clock that answers a Date, a bigint or NaN would otherwise stamp events that no sync can carry.
    let problem: string | undefined;
    try {
      problem = clockReadingProblem(clock.now());
    } catch (error) {
      problem = `now() threw: ${thrownText(error, false)}`;
    }
    if (problem !== undefined) report(new InvalidOptionError('clock', `${problem}.`));
  }
  const transport = check(() => resolveTransport(options.transport), undefined);
  const deferred = options.deferred ?? 'idle';
  if (deferred !== 'idle' && deferred !== 'manual') {
    report(new InvalidOptionError('deferred', `expected 'idle' or 'manual', got ${describe(deferred)}.`));
  }
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  if (typeof maxQueued !== 'number' || !Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    report(new InvalidOptionError('maxQueued', `expected a positive integer, got ${describe(maxQueued)}.`));
  }
  if (options.onError !== undefined) check(() => assertFunction(options.onError, 'onError'), undefined);
  if (options.inspect !== undefined) check(() => assertFunction(options.inspect, 'inspect'), undefined);
  // Workers and child processors check these again when they start; checked here, a refusal comes
  // before anything has started, instead of leaving a half-started runtime.
  const restart = options.restart === undefined ? undefined : check(() => checkRestartPolicy(options.restart, 'restart'), undefined);
  const workerLimits = options.workerLimits === undefined ? undefined : check(() => checkResourceLimits(options.workerLimits, 'workerLimits'), undefined);
  const journal = options.journal;
  if (journal !== undefined && journal !== false && (typeof journal !== 'string' || journal.length === 0)) {
    report(new InvalidOptionError('journal', `expected a directory path or false, got ${describe(journal)}.`));
  }
  const memoryOptions = checkMemoryOptions(options.memory, 'memory', report);
  // The schemas by type read once: the ones checked are the ones applied.
  const schemas = typeof options.schemas === 'object' && options.schemas !== null && !Array.isArray(options.schemas) ? (readEntries(options.schemas, 'schemas', report) as PayloadSchemaMap) : options.schemas;
  if (schemas !== undefined) checkSchemaMap(schemas, 'schemas', report);
  const middleware = check(() => checkMiddlewareEntries(options.middleware, 'middleware'), { root: [], modules: [], placeholders: [] });
  const metrics = check(() => checkMetricsOptions(options.metrics), undefined);
  if (errors.length > 0) throw InvalidOptionError.combine(errors, 'createRuntime options', (path) => valueAt(options, path) ?? valueAt(given, path));
  return {
    transport: transport!,
    clock,
    deferred,
    maxQueued,
    // Every event the runtime holds carries JSON data or bytes (post() refuses anything else): a `Payload`.
    onError: (options.onError ?? defaultErrorHandler) as ErrorHandler,
    inspect: options.inspect,
    threadsPerProcessor,
    processors,
    callDeadlineMs,
    processorStartDeadlineMs,
    threadStartDeadlineMs,
    restart,
    workerLimits,
    processorExecArgv: Object.freeze([...processorExecArgv]),
    sync,
    syncLimits: sync === undefined ? undefined : policyLimits(sync),
    journal,
    memory: new MemoryPolicies(memoryOptions),
    middleware: middleware.root,
    middlewareModules: middleware.modules,
    middlewarePlaceholders: middleware.placeholders,
    metrics,
    schemas: new PayloadSchemas(schemas),
  };
}

/**
 * The value at an option's path in `options` (`memory.policies["user"].ttlMs`,
 * `workerLimits.maxOldGenerationSizeMb`, `createRuntime options.transprt`), or
 * undefined when the path does not lead to one.
 */
export function valueAt(options: unknown, path: string): unknown {
  let value = options;
  const steps = path.replace(/^createRuntime options\./, '').matchAll(/(?:^|\.)([^.[\]]+)|\[("(?:[^"\\]|\\.)*"|\d+)\]/g);
  for (const [, name, bracket] of steps) {
    if (typeof value !== 'object' || value === null) return undefined;
    const key = name ?? (bracket!.startsWith('"') ? (JSON.parse(bracket!) as string) : Number(bracket));
    if (!Object.hasOwn(value, key)) return undefined;
    try {
      value = (value as Record<string | number, unknown>)[key];
    } catch {
      return undefined; // a getter that throws (refused as such)
    }
  }
  return value;
}

/** A count of processors or threads: an integer from 0 to `MAX_PROCESSORS`, 0 by default. */
function checkCount(value: number | undefined, option: string): number {
  const count = value ?? 0;
  if (!Number.isInteger(count) || count < 0 || count > MAX_PROCESSORS) {
    throw new InvalidOptionError(option, `expected an integer from 0 to ${MAX_PROCESSORS}, got ${describe(count)}.`);
  }
  return count;
}

function resolveTransport(transport: RuntimeOptions['transport']): Transport {
  if (transport === undefined || transport === 'frames') return new FrameTransport();
  if (transport === 'memory') return new InMemoryTransport();
  if (typeof transport === 'object' && transport !== null && typeof transport.carry === 'function') return transport;
  throw new InvalidOptionError('transport', `expected 'memory', 'frames' or a Transport, got ${describe(transport)}.`);
}

/** Throws `InvalidOptionError` unless `value` is a processor or thread index: an integer from 0. */
export function assertIndex(value: unknown, option: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `expected an integer from 0, got ${describe(value)}.`);
  }
}
