/**
 * Supervision, as in OTP: `supervise()` restarts a worker that died by itself
 * while its `RestartBudget` allows.
 */
import { InvalidOptionError } from '../../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { assertFunction, assertKnownKeys, describe } from '../validate.js';
import { messageOf, type UntypedWorkerApi, type WorkerApi, type WorkerExit, type WorkerHandle } from './worker-api.js';

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
  /**
   * Resolves once no restart is under way: one given up by `signal` has ended, its successor (started or not,
   * even one that started as the stop came) terminated.
   */
  settled(): Promise<void>;
  /** Ends supervision and terminates the current worker, and one a restart under way started; every call resolves once none runs. */
  stop(): Promise<void>;
}

/** How `supervise` restarts. */
export interface SuperviseOptions<Api extends WorkerApi> {
  readonly budget: RestartBudget;
  /** Told about each successful restart, with the exit that caused it. */
  readonly onRestart?: (worker: WorkerHandle<Api>, exit: WorkerExit) => void;
  /**
   * Aborted when a stop is coming (the runtime stops): the first start or a
   * restart under way is given up (`start` gets this signal), and no restart
   * begins any more; `stop()` still ends supervision.
   */
  readonly signal?: AbortSignal;
}

/**
 * Starts a worker with `start` and restarts it whenever it dies by itself
 * (any reason but `terminated`), while `budget` allows. A restart that fails
 * counts against the budget too. Rejects when the first start fails.
 * `start` is handed an `AbortSignal`, aborted by `stop()` (and by `signal`):
 * a worker still starting then must be terminated and its start rejected.
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
  start: (signal: AbortSignal) => Promise<WorkerHandle<Api>>,
  options: SuperviseOptions<Api>,
): Promise<Supervision<Api>> {
  assertFunction(start, 'supervise(start)');
  assertKnownKeys(options, ['budget', 'onRestart', 'signal'], 'supervise');
  if (!(options?.budget instanceof RestartBudget)) {
    throw new InvalidOptionError('supervise.budget', `expected a RestartBudget, got ${describe(options?.budget)}.`);
  }
  if (options.onRestart !== undefined) assertFunction(options.onRestart, 'supervise.onRestart');
  const { budget, onRestart } = options;
  // Aborted by stop() or by the caller's signal: what is starting gives up, and nothing restarts.
  const halt = new AbortController();
  const onAbort = () => halt.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) halt.abort();
  let current: WorkerHandle<Api> | undefined;
  try {
    current = await start(halt.signal);
  } catch (error) {
    options.signal?.removeEventListener('abort', onAbort);
    throw error;
  }
  let stopped = false;
  /** The restart under way, if any: stop() waits for it (a worker it started is terminated, not left running). */
  let restarting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let end!: (value: SupervisionEnd) => void;
  const ended = new Promise<SupervisionEnd>((resolve) => (end = resolve));
  void ended.then(() => options.signal?.removeEventListener('abort', onAbort));

  const restart = async (exit: WorkerExit): Promise<void> => {
    let error: unknown;
    while (!halt.signal.aborted && budget.tryRestart()) {
      let successor: WorkerHandle<Api>;
      try {
        successor = await start(halt.signal);
      } catch (startError) {
        if (halt.signal.aborted) return;
        budget.startFailed();
        error = startError;
        continue;
      }
      budget.started();
      if (halt.signal.aborted) {
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
    // A stop is coming: it ends supervision, not the budget.
    if (halt.signal.aborted) return;
    stopped = true;
    end({ reason: 'gave-up', lastExit: exit, ...(error === undefined ? {} : { error }) });
  };

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
    restarting = restart(exit);
    await restarting;
  };
  void watch(current);

  return {
    get current() {
      return current;
    },
    ended,
    async settled() {
      await restarting?.catch(() => undefined);
    },
    stop() {
      // One stop for every caller: a second one resolves when the first does, once no worker runs.
      stopping ??= (async () => {
        if (stopped) return;
        stopped = true;
        halt.abort();
        // A restart under way ends first: its worker, started or not, is gone when it does.
        await restarting;
        const worker = current;
        current = undefined;
        await worker?.terminate();
        end({ reason: 'stopped' });
      })();
      return stopping;
    },
  };
}
