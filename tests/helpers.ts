/**
 * What many suites need, in one place (a helper defined in several test files
 * is a helper missing from here):
 * - events: `ids`, `assertSorted`, `rejects`;
 * - the runtime's processes, threads and crash reports: `nextCrash`, `isGone`, `processorPids`, `threadRuns`,
 *   `osThreads`/`threadsSince`, `watchMerges`;
 * - a suite's runtime of 1 processor × 2 threads: `processorRuntime`, `gate`;
 * - reproducible randomness: `seededRandom`;
 * - the README's snippets: `readmeSnippets`;
 * - child commands: `runCommand`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, TransportError, type BusErrorCode, type BusEvent, type RemoteBus, type Runtime, type RuntimeOptions, type Side } from '../index.js';
import { STATION_THREAD } from '../runtime/station/links.js';
import type { Station } from '../runtime/station/station.js';
import type { EventBatch } from '../runtime/wire/protocol.js';

// ─── Events ─────────────────────────────────────────────────────────────────

/** The events' ids in order: what most assertions on a history or queue compare. */
export function ids(events: readonly BusEvent[]): string[] {
  return events.map((event) => event.id);
}

/** Asserts that `events` are in the runtime's total order, (timestamp, id), with no id twice; `where` names them in the failure. */
export function assertSorted(events: readonly BusEvent[], where: string): void {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1]!;
    const b = events[i]!;
    assert.ok(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.id < b.id), `${where}: ${a.id} then ${b.id} is out of (timestamp, id) order`);
  }
}

/** Asserts that `promise` rejects with a `BusError` of `code`; `what` names the call in the failure. */
export async function rejects(promise: Promise<unknown>, code: BusErrorCode, what = ''): Promise<void> {
  const prefix = what === '' ? '' : `${what}: `;
  try {
    await promise;
  } catch (error) {
    assert.ok(isBusError(error, code), `${prefix}expected ${code}, got ${String(error)}`);
    return;
  }
  assert.unreachable(`${prefix}expected a rejection with ${code}`);
}

/** What a promise has come to so far, without waiting for it: `pending`, `resolved` or `rejected <error>`. */
export async function promiseState(promise: Promise<unknown>): Promise<string> {
  const pending = Symbol('pending');
  const result = await Promise.race([promise.then(() => 'resolved', (error: unknown) => `rejected ${String(error)}`), Promise.resolve().then(() => pending)]);
  return result === pending ? 'pending' : (result as string);
}

// ─── The runtime's processes and crash reports ──────────────────────────────

/** Resolves with the next `busline.<kind>.crashed` event on the root's internal bus. */
export function nextCrash(runtime: Runtime, kind: 'thread' | 'processor'): Promise<BusEvent> {
  return new Promise((resolve) => {
    const subscription = runtime.bus('internal').subscribe(`busline.${kind}.crashed`, (event) => {
      subscription.unsubscribe();
      resolve(event);
    });
  });
}

/** True once no process has this id (signal 0 answers ESRCH). A zombie not yet reaped still counts as there. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether OS thread `task` (`<pid>/task/<tid>`, as a worker reads it from
 * `/proc/thread-self`) still runs: a worker's thread is gone once the worker
 * has exited (Node joins it before 'exit'). Node lists no Worker among
 * `process.getActiveResourcesInfo()`, so that cannot tell.
 */
export function threadRuns(task: string): boolean {
  return existsSync(`/proc/${task}`);
}

/**
 * This process's OS threads (`/proc/self/task`), taken before a part starts so
 * that `threadsSince()` tells the threads it added: a worker's (Node lists no
 * Worker among `process.getActiveResourcesInfo()`), and any of its own. libuv's
 * thread pool starts (all of it) on its first use: it is made to run first, so
 * that it is not taken for one of them.
 */
export async function osThreads(): Promise<ReadonlySet<string>> {
  await access('/proc/self/task');
  return new Set(readdirSync('/proc/self/task'));
}

/** The OS threads running now that did not run at `before` (`osThreads()`), as `threadRuns()` names them. */
export function threadsSince(before: ReadonlySet<string>): string[] {
  return readdirSync('/proc/self/task')
    .filter((tid) => !before.has(tid))
    .map((tid) => `${process.pid}/task/${tid}`);
}

/**
 * The processor processes (children running `processor.worker`) of this
 * process, alive or not yet reaped. Other children (tsx's esbuild service) are
 * left out.
 */
export function processorPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('processor.worker')) pids.push(Number(name));
    } catch {
      // It ended while we looked.
    }
  }
  return pids;
}

/**
 * An embedded runtime (memory transport, manual deferral) that records, each
 * time the station `stationId` merges a batch, what `read` sees of it then: a
 * reader's view after every merge, to show that none sees part of a batch.
 */
export function watchMerges(stationId: string, read: (runtime: Runtime) => number): { runtime: Runtime; seen: number[] } {
  const seen: number[] = [];
  const runtime: Runtime = createRuntime({
    transport: 'memory',
    deferred: 'manual',
    inspect: (event) => {
      if (event.type === '@xstate.event' && (event.actorRef as { id?: string }).id === stationId && event.event.type === 'MERGED') {
        seen.push(read(runtime));
      }
    },
  });
  return { runtime, seen };
}

// ─── A suite's runtime of 1 processor × 2 threads ───────────────────────────

/** What `processorRuntime()` gives a suite. */
export interface ProcessorRuntime {
  /** The runtime of the test that runs now. */
  readonly runtime: Runtime;
  /** The `RemoteBus` of `side` (default external) of worker `thread` of processor 1. */
  worker(thread: number, side?: Side): RemoteBus;
}

/**
 * The runtime that the cross-thread suites run on: 1 child processor × 2
 * worker threads, manual deferral, plus `options` (a function: called at
 * each creation, for what must be new each time, a `ManualClock` or an
 * `onError` that records). Created and ready before the suite (before each
 * test with `each`), stopped after it.
 */
export function processorRuntime(test: Test, options: () => Partial<RuntimeOptions> = () => ({}), { each = false } = {}): ProcessorRuntime {
  let runtime: Runtime | undefined;
  const start = async () => {
    runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', ...options() } as RuntimeOptions);
    await runtime.ready;
  };
  const stop = async () => {
    await runtime?.stop();
  };
  if (each) {
    test.before.each(start);
    test.after.each(stop);
  } else {
    test.before(start);
    test.after(stop);
  }
  const current = (): Runtime => {
    if (runtime === undefined) throw new Error('processorRuntime: no runtime before the suite starts.');
    return runtime;
  };
  return {
    get runtime() {
      return current();
    },
    worker: (thread, side = 'external') => current().thread(1, thread).bus(side) as RemoteBus,
  };
}

/**
 * Collects garbage between turns of the event loop (a WeakRef is cleared only
 * after the job that made it ends, and one full collection may leave some)
 * until at most `expectAlive` of `refs` are alive, 20 rounds at most: how
 * many are alive then. A test asserts that number, so an object that is
 * really kept still fails it.
 */
export async function collectUntil(gc: () => void, refs: ReadonlyArray<WeakRef<object>>, expectAlive = 0): Promise<number> {
  const alive = () => refs.filter((ref) => ref.deref() !== undefined).length;
  for (let round = 0; round < 20; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    if (alive() <= expectAlive) break;
  }
  return alive();
}

/**
 * Waits while a history's paced idle steps (framing, compression: unref'd
 * timers, each waiting several times its own length) let the objects of
 * `refs` go, collecting garbage now and then, until at most `expectAlive`
 * are alive or 60 s have passed; how many are alive then. The deadline is the
 * test's bound on a loaded machine, not a measure of the steps' speed: a test
 * asserts the number, so objects really kept still fail it.
 */
export async function collectedByIdleSteps(gc: () => void, refs: ReadonlyArray<WeakRef<object>>, expectAlive = 0): Promise<number> {
  const alive = () => refs.filter((ref) => ref.deref() !== undefined).length;
  const until = Date.now() + 60_000;
  for (let turn = 1; alive() > expectAlive && Date.now() < until; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (turn % 20 !== 0) continue;
    gc();
    // A WeakRef is cleared once the job that collected it has ended.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return alive();
}

/**
 * The error `run` throws; it must throw. With `type`, the error must be one
 * (anything else is thrown on, so the test shows it).
 */
export function thrown<T = Error>(run: () => unknown, type?: new (...args: never[]) => T): T {
  try {
    run();
  } catch (error) {
    if (type === undefined || error instanceof type) return error as T;
    throw error;
  }
  throw new Error(type === undefined ? 'expected a throw' : `expected a ${type.name}`);
}

/** A promise and the function that resolves it: a handler held until a test lets it go. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

// ─── Reproducible randomness ────────────────────────────────────────────────

/** A small seeded PRNG (mulberry32): the same seed gives the same numbers (chaos plans, fuzz cases). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ─── The README's snippets ──────────────────────────────────────────────────

/** One fenced code block of the README, with the heading it sits under. */
export interface ReadmeSnippet {
  /** The nearest `#`/`##`/`###` heading above the block, without the hashes. */
  heading: string;
  /** The fence's language tag (`ts`, `js`, `sh`, ...; empty when none). */
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for failure messages. */
  line: number;
}

/** The README's fenced code blocks in order, so tests can run every snippet a user reads. */
export function readmeSnippets(readme = new URL('../README.md', import.meta.url)): ReadmeSnippet[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const snippets: ReadmeSnippet[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence === null) {
      const title = /^#{1,6}\s+(.*)$/.exec(line);
      if (title !== null) heading = title[1]!.trim();
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    snippets.push({ heading, lang: fence[1] ?? '', code: body.join('\n'), line: start + 1 });
  }
  return snippets;
}

// ─── Child commands ─────────────────────────────────────────────────────────

/** How a command run by `runCommand` ended, and what it printed. */
export interface CommandRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
  /** The command ran past `timeoutMs` and was killed. */
  readonly timedOut: boolean;
  readonly pid: number | undefined;
}

export interface CommandOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run in a process group of its own (`detached`), so that a timeout kills the whole group. */
  readonly group?: boolean;
  /** Killed (SIGKILL; its group too with `group`) after this long. Default: never. */
  readonly timeoutMs?: number;
}

/**
 * Runs `command` to its end and resolves with its exit and output; never
 * rejects on a non-zero exit (only when it cannot start).
 */
export function runCommand(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandRun> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: options.group ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => ((stdout += chunk), (output += chunk)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => ((stderr += chunk), (output += chunk)));
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          try {
            process.kill(options.group === true ? -child.pid! : child.pid!, 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }, options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output, timedOut, pid: child.pid });
    });
  });
}

/**
 * An async subscriber that finishes only when the test says so: `got` holds
 * what it was given, `finish(n)` settles its `n` oldest promises, `reached(n)`
 * resolves once it has been given `n` events.
 */
export function slowSubscriber() {
  const got: unknown[] = [];
  const unfinished: Array<() => void> = [];
  const waiters: Array<{ count: number; resolve(): void }> = [];
  return {
    got,
    handler: async (event: BusEvent) => {
      got.push(event.payload);
      for (const waiter of waiters.filter((w) => got.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      await new Promise<void>((resolve) => unfinished.push(resolve));
    },
    finish(count: number) {
      for (const resolve of unfinished.splice(0, count)) resolve();
    },
    reached(count: number): Promise<void> {
      return got.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

/**
 * Loses the Ack of the next push from `sender`'s local station to `main` once: the main station takes the batch,
 * then the answer is lost on the way back (as when the channel closes), so the sender's `toMain()` fails holding it.
 */
export function loseNextAck(main: Station, sender: number): void {
  const accept = main.accept.bind(main);
  let lose = 1;
  main.accept = (batch: EventBatch) => {
    const added = accept(batch);
    if (batch.from.thread === STATION_THREAD && batch.from.processor === sender && lose-- > 0) throw new TransportError('the Ack was lost');
    return added;
  };
}
