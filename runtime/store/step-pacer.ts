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
 * thread waits for that step's duration times `1 / share - 1` (unref'd, so
 * it keeps no process alive). The load is the event loop's utilization
 * since that step ended (`performance.eventLoopUtilization()`, per thread:
 * a worker measures its own; module state is per thread too), looked at
 * again at least every `RECHECK_MS` while a step waits: a thread that goes
 * idle after a busy stretch gets its steps within about a second, not after
 * the wait a busy thread's share set (a cold first step of ~30 ms made that
 * 1.5 s, ~5 s under load, in the very pause meant for compression).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * The share of a busy thread's time that steps take. Measured on a post loop (CPU time, loaded machine): 10 % cost it
 * ~25 % of its CPU, 5 % ~0.8–1.0× of compression off, 2 % ~0.9–1.0× (a step's garbage costs more than its own time).
 */
export const BUSY_SHARE = 0.02;
/** The share of an idle thread's time that steps take. */
export const IDLE_SHARE = 0.5;

/** How often a waiting step looks at the thread's load again (ms). */
export const RECHECK_MS = 50;

/** What a pacer measures and how it waits (injected in tests). */
export interface PacerMeasures {
  /** Milliseconds, monotonic. */
  now(): number;
  /** A mark of the event loop's time so far. */
  mark(): EventLoopUtilization;
  /** The share (0–1) of the time since `mark` the loop was busy; NaN when no time passed. */
  busySince(mark: EventLoopUtilization): number;
  /** Calls `step` in `waitMs` (at the next turn under 1 ms), without keeping the process alive. */
  defer(step: () => void, waitMs: number): void;
}

const MEASURES: PacerMeasures = {
  now: () => performance.now(),
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
  /** When the last step ended (`now()` time) and how long it took (ms). */
  #ended = 0;
  #duration = 0;
  /** The loop's time when the last step ended (none before the first step). */
  #since: EventLoopUtilization | undefined;

  constructor(measures: PacerMeasures = MEASURES) {
    this.#measures = measures;
  }

  /** Runs `step` (true: work is left) and measures it: the next step's wait is its duration's multiple (`waitLeft`). */
  run(step: () => boolean): boolean {
    const measures = this.#measures;
    const started = measures.now();
    try {
      return step();
    } finally {
      this.#ended = measures.now();
      this.#duration = this.#ended - started;
      this.#since = measures.mark();
    }
  }

  /**
   * Milliseconds until the next step may start (≤ 0: now): the last step's
   * duration times `1 / share - 1` after it ended, the share by the loop's
   * load since then (no time at all since counts as busy).
   */
  waitLeft(): number {
    const measures = this.#measures;
    if (this.#since === undefined) return 0;
    const busy = measures.busySince(this.#since);
    const share = Number.isFinite(busy) ? BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) * (1 - Math.min(1, Math.max(0, busy))) : BUSY_SHARE;
    return this.#ended + this.#duration * (1 / share - 1) - measures.now();
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
