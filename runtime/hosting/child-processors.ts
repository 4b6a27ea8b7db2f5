/**
 * The root's child processors (`createRuntime({ processors })`): forks each,
 * watches it, and restarts one that dies by itself within its restart budget.
 * What had reached the main stations is kept; what its local stations had
 * accepted comes back from its journal (lost with it only with `journal: false`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIDES, type BridgeDirection, type Side } from '../../types.js';
import { ManualClock, type Clock } from '../clock.js';
import { STATION_THREAD } from '../station/links.js';
import type { Station } from '../station/station.js';
import { journalPath, prepareJournalDirectories } from '../store/journal.js';
import type { ProcessorInit } from '../wire/protocol.js';
import { RemoteProcessor } from './processor-host.js';
import { DEFAULT_RESTART_POLICY } from './processor-threads.js';
import { RestartBudget } from './supervision.js';
import { DEFAULT_CALL_DEADLINE_MS } from './worker-host.js';
import type { InspectionBatch } from '../inspection/tap.js';
import type { FailureReport } from '../thread/failure-reports.js';
import { ClockFollower } from './clock-follower.js';

/** What every child processor starts with, whichever it is. */
export type ChildProcessorSettings = Pick<
  ProcessorInit,
  'threads' | 'deferred' | 'maxQueued' | 'callDeadlineMs' | 'threadStartDeadlineMs' | 'restart' | 'workerLimits' | 'sync' | 'memory' | 'metrics' | 'middleware'
>;

/** What the child processors need from the root. */
export interface ChildProcessorsHost {
  readonly clock: Clock;
  mainStation(side: Side): Station;
  bridgeDirection(): BridgeDirection;
  /** A processor died by itself: whether it was restarted, or its budget ran out. */
  reportCrash(processor: number, reason: string, message: string, restarted: boolean): void;
  /** A subscriber or an after middleware threw in the processor (`thread/failure-reports.ts`). */
  reportFailure(report: FailureReport): void;
  /** Inspection in the root: whether processors send records, and where their batches go. */
  readonly inspection: { readonly remoteOn: boolean; take(batch: InspectionBatch): void };
}

/** The child processors of one runtime, by processor number (1..n). */
export class ChildProcessors {
  readonly #host: ChildProcessorsHost;
  readonly #settings: ChildProcessorSettings;
  readonly #execArgv: readonly string[];
  /** How long a start may take before it is taken as failed (its child killed); none: until stop(). */
  readonly #startDeadlineMs: number | undefined;
  readonly #running = new Map<number, RemoteProcessor>();
  readonly #budgets = new Map<number, RestartBudget>();
  /** Starts under way, each until its child runs or is gone (one that started as `halt()` came is stopped first). */
  readonly #starting = new Set<Promise<RemoteProcessor | undefined>>();
  /** How each processor, by number, follows the runtime's ManualClock across its restarts. */
  readonly #clockFollowers = new Map<number, ClockFollower>();
  /** Aborted by `halt()`: processor starts under way give up and kill their child. */
  readonly #stopStarts = new AbortController();
  #halted = false;
  #journalDir: string | undefined;
  #unfollow: (() => void) | undefined;
  #ownsJournalDir = false;

  /**
   * Prepares the journal directory of `count` processors (a temporary one
   * unless `journal` names it; none with `false`). Throws if it cannot be
   * written, before any processor starts.
   */
  constructor(
    host: ChildProcessorsHost,
    settings: ChildProcessorSettings,
    execArgv: readonly string[],
    count: number,
    journal: string | false | undefined,
    startDeadlineMs?: number,
  ) {
    this.#host = host;
    this.#settings = settings;
    // Each new time of the runtime's ManualClock goes to the processors running now; one (re)starting catches up
    // once it runs, and settled() waits for that.
    if (count > 0 && host.clock instanceof ManualClock) {
      this.#unfollow = host.clock.follow(async (now) => {
        await Promise.all([...this.#clockFollowers.values()].map((follower) => follower.follow(now)));
      });
    }
    this.#execArgv = execArgv;
    this.#startDeadlineMs = startDeadlineMs;
    if (count === 0 || journal === false) return;
    this.#journalDir = journal ?? mkdtempSync(join(tmpdir(), 'busline-journal-'));
    this.#ownsJournalDir = journal === undefined;
    try {
      prepareJournalDirectories(this.#journalDir, count);
    } catch (error) {
      this.#removeJournal();
      throw error;
    }
  }

  /** The running child processor `processor`, if there is one. */
  get(processor: number): RemoteProcessor | undefined {
    return this.#running.get(processor);
  }

  /** The numbers of every processor there is, for messages: `local` (those that run in this process) and the running child processors, in order. */
  listWith(local: readonly number[]): string {
    return [...local, ...this.#running.keys()].sort((a, b) => a - b).join(', ');
  }

  /** Every running child processor. */
  all(): RemoteProcessor[] {
    return [...this.#running.values()];
  }

  /**
   * Forks processor `index` and watches it: when it dies by itself (or hangs, and is killed) it is
   * restarted within its restart budget, and the crash is reported.
   */
  async start(index: number, incarnation = 0): Promise<void> {
    const inspect = this.#host.inspection.remoteOn;
    const clock = this.#host.clock instanceof ManualClock ? this.#host.clock : undefined;
    const clockAt = clock?.now();
    // Its local stations will read the main stations: until they have, those keep what leaves once delivered.
    for (const side of SIDES) this.#host.mainStation(side).expectReader({ processor: index, thread: STATION_THREAD });
    const starting = RemoteProcessor.start(
      {
        processor: index,
        bridge: this.#host.bridgeDirection(),
        incarnation,
        inspect,
        ...this.#settings,
        ...(clockAt === undefined ? {} : { clockAt }),
        ...(this.#journalDir === undefined ? {} : { journal: journalPath(this.#journalDir, index) }),
      },
      (side) => this.#host.mainStation(side),
      () => this.#host.bridgeDirection(),
      this.#execArgv,
      this.#stopStarts.signal,
      (batch) => this.#host.inspection.take(batch),
      this.#startDeadlineMs,
      (report) => this.#host.reportFailure(report),
    );
    if (clock !== undefined) {
      let follower = this.#clockFollowers.get(index);
      if (follower === undefined) this.#clockFollowers.set(index, (follower = new ClockFollower(clock)));
      follower.starting(clockAt!, starting.then((remote) => (this.#halted ? undefined : (now: number) => remote.setClock(now)), () => undefined));
    }
    // halt() aborts starts in flight and settled() waits for them, so no processor started meanwhile outlives the runtime:
    // one that started as halt() came is stopped within what settled() waits for, not after it.
    const run = starting.then(async (remote) => {
      if (!this.#halted) return remote;
      await remote.stop();
      return undefined;
    });
    this.#starting.add(run);
    let remote: RemoteProcessor | undefined;
    try {
      remote = await run;
    } finally {
      this.#starting.delete(run);
    }
    if (remote === undefined) return;
    this.#running.set(index, remote);
    // Inspection turned on while it started: it hears so now.
    if (!inspect && this.#host.inspection.remoteOn) void remote.inspect();
    void remote.exited.then(async (exit) => {
      // Where its local stations stood in the main stations' reads holds no other processor back any more.
      for (const side of SIDES) this.#host.mainStation(side).forgetReader({ processor: index, thread: STATION_THREAD });
      if (exit.stopped || this.#halted) return;
      const reason = exit.hung ? 'hung' : (exit.signal ?? `exit code ${exit.code}`);
      const message = exit.hung
        ? `it hung (answered nothing within ${this.#settings.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS} ms) and was killed`
        : exit.signal === null
          ? `it exited with code ${exit.code}`
          : `it was killed by ${exit.signal}`;
      let budget = this.#budgets.get(index);
      if (budget === undefined) {
        budget = new RestartBudget({ ...(this.#settings.restart ?? DEFAULT_RESTART_POLICY), clock: this.#host.clock });
        this.#budgets.set(index, budget);
      }
      // A failed start has killed its child; it counts against the budget until a start succeeds.
      while (!this.#halted && budget.tryRestart()) {
        try {
          await this.start(index, incarnation + 1);
          budget.started();
          this.#host.reportCrash(index, reason, message, true);
          return;
        } catch {
          budget.startFailed();
          incarnation++;
        }
      }
      // A stop under way ended the restarts, not the budget.
      if (this.#halted) return;
      this.#host.reportCrash(index, reason, message, false);
    });
  }

  /** The runtime stops: starts under way give up, and no processor is restarted any more. */
  halt(): void {
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#halted = true;
    this.#stopStarts.abort();
  }

  /** Resolves once no start is under way. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#starting]);
  }

  /** Stops every child processor and removes a journal directory of the runtime's own. */
  async stop(): Promise<void> {
    await Promise.all(this.all().map((remote) => remote.stop()));
    this.#removeJournal();
  }

  #removeJournal(): void {
    if (this.#ownsJournalDir && this.#journalDir !== undefined) rmSync(this.#journalDir, { recursive: true, force: true });
  }
}
