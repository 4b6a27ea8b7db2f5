/**
 * When the histories of a thread take their next compression step, by
 * default (`EventHistory`): compression runs "while memory and CPU allow"
 * (seed 000). A step costs more per event than a post does, so while the
 * thread is busy (a loop that posts without waiting for anything) steps take
 * a small share of its time, and more of the time it leaves idle (waiting
 * for I/O or a timer), up to half: an application that pauses has its
 * histories compressed in the pause.
 *
 * The share is the thread's, not each history's (a thread may hold a bus per
 * side and stations): after any step, the next one of any history of the
 * thread waits until the thread has had that step's duration times
 * `1 / share - 1` of time (unref'd, so it keeps no process alive). The load
 * is the event loop's utilization since that step ended
 * (`performance.eventLoopUtilization()`, per thread: a worker measures its
 * own; module state is per thread too), looked at again at least every
 * `RECHECK_MS` while a step waits: a thread that goes idle after a busy
 * stretch gets its steps within about a second, not after the wait a busy
 * thread's share set (a cold first step of ~30 ms made that 1.5 s, ~5 s
 * under load, in the very pause meant for compression).
 *
 * The time a thread *had* is its CPU time plus the time its loop idled,
 * never more than the wall time: on a loaded machine a busy thread waits for
 * the CPU as well, and a share of its wall time would give steps several
 * times their share of its work (measured: a post loop's ~65 ms of CPU
 * spanned 0.3–1.1 s, and 1–3 steps of ~4.5 ms landed in it, where its CPU
 * allows one every ~220 ms). The CPU time is the thread's
 * (`process.threadCpuUsage()`, Node 23.9 on and recent Node 22); on an older Node the
 * process's, bounded by the wall time (other threads' CPU time then makes
 * steps come sooner, never sooner than a share of the wall time).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * The share of a busy thread's time that steps take. Measured on a post loop (CPU time, loaded machine): 10 % cost it
 * ~25 % of its CPU, 5 % ~0.8–1.0× of compression off, 2 % ~0.9–1.0× (a step's garbage costs more than its own time).
 */
export const BUSY_SHARE = 0.02;
/** The share of an idle thread's time that steps take. */
export const IDLE_SHARE = 0.5;

/**
 * Most milliseconds of work a step takes (a history's `compact()` budget), and the least a step is charged: a short
 * step (the end of the work, a merge that found little) would otherwise let the next one, which may take the whole
 * budget, run almost at once (a short step's multiple is short: after an idle pause that ended in one, a full step
 * could run within milliseconds of the busy stretch that followed).
 */
export const STEP_MS = 4;

/** How often a waiting step looks at the thread's load again (ms). */
export const RECHECK_MS = 50;

/** What a pacer measures and how it waits (injected in tests). */
export interface PacerMeasures {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Milliseconds of CPU time this thread has used (the process's where Node cannot tell a thread's). */
  cpu(): number;
  /** A mark of the event loop's time so far. */
  mark(): EventLoopUtilization;
  /** The share (0–1) of the time since `mark` the loop was busy; NaN when no time passed. */
  busySince(mark: EventLoopUtilization): number;
  /** Calls `step` in `waitMs` (at the next turn under 1 ms), without keeping the process alive. */
  defer(step: () => void, waitMs: number): void;
}

/** The thread's CPU time where Node has it (`process.threadCpuUsage`, Node 23.9 on and recent Node 22), else the process's. */
const cpuUsage: () => NodeJS.CpuUsage =
  (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.bind(process) ?? (() => process.cpuUsage());

const MEASURES: PacerMeasures = {
  now: () => performance.now(),
  cpu: () => {
    const { user, system } = cpuUsage();
    return (user + system) / 1000;
  },
  mark: () => performance.eventLoopUtilization(),
  busySince: (mark) => performance.eventLoopUtilization(mark).utilization,
  defer: (step, waitMs) => {
    if (waitMs < 1) setImmediate(step).unref();
    else setTimeout(step, waitMs).unref();
  },
};

/**
 * The steps of the histories of one thread, paced together.
 *
 * @example
 * const pacer = new StepPacer()   // one per thread: the module's `threadPacer()`
 * const step = () => { if (pacer.run(() => history.compact())) pacer.schedule(step) }
 * pacer.schedule(step)
 */
export class StepPacer {
  readonly #measures: PacerMeasures;
  /** When the last step ended (`now()` time, and the thread's `cpu()` then) and how long it took (ms). */
  #ended = 0;
  #endedCpu = 0;
  #duration = 0;
  /** The loop's time when the last step ended (none before the first step). */
  #since: EventLoopUtilization | undefined;

  constructor(measures: PacerMeasures = MEASURES) {
    this.#measures = measures;
  }

  /**
   * Runs `step` (true: work is left) and measures it: the next step's wait is its duration's multiple (`waitLeft`).
   * Its duration is its CPU time, never more than its wall time (a process's CPU time counts other threads'), and at
   * least `STEP_MS`.
   */
  run(step: () => boolean): boolean {
    const measures = this.#measures;
    const [started, startedCpu] = [measures.now(), measures.cpu()];
    try {
      return step();
    } finally {
      this.#ended = measures.now();
      this.#endedCpu = measures.cpu();
      this.#duration = Math.max(STEP_MS, Math.min(this.#ended - started, this.#endedCpu - startedCpu));
      this.#since = measures.mark();
    }
  }

  /**
   * Milliseconds until the next step may start (≤ 0: now): the last step's
   * duration times `1 / share - 1`, the share by the loop's load since it
   * ended (no time at all since counts as busy), less the time the thread
   * has had since: its CPU time and the time its loop idled, at most the
   * wall time.
   */
  waitLeft(): number {
    const measures = this.#measures;
    if (this.#since === undefined) return 0;
    const measured = measures.busySince(this.#since);
    const busy = Number.isFinite(measured) ? Math.min(1, Math.max(0, measured)) : 1;
    const share = BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) * (1 - busy);
    const elapsed = measures.now() - this.#ended;
    const had = Math.min(elapsed, measures.cpu() - this.#endedCpu + elapsed * (1 - busy));
    return this.#duration * (1 / share - 1) - had;
  }

  /** Calls `step` once `waitLeft()` has passed, looking again every `RECHECK_MS` (the load changes; another step may run meanwhile). */
  schedule(step: () => void): void {
    this.#measures.defer(() => (this.waitLeft() >= 1 ? this.schedule(step) : step()), Math.min(RECHECK_MS, Math.max(0, this.waitLeft())));
  }
}

let shared: StepPacer | undefined;

/** The pacer of this thread's histories. */
export function threadPacer(): StepPacer {
  return (shared ??= new StepPacer());
}
