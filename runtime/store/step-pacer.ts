/**
 * When a history's next compression step runs, by default (`EventHistory`):
 * compression runs "while memory and CPU allow" (seed 000). A step costs more
 * per event than a post does, so while its thread is busy (a loop that posts
 * without waiting for anything) steps take a small share of its time, and
 * more of the time it leaves idle (waiting for I/O or a timer), up to most of
 * it: an application that pauses has its histories compressed in the pause.
 *
 * The thread's load is its event loop's utilization between two steps
 * (`performance.eventLoopUtilization()`, per thread: a worker measures its own).
 * Each step then waits (unref'd, so it keeps no process alive) for its own
 * duration times `1 / share - 1`.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** The share of a busy thread's time that steps take (measured: 5 % left posting at ≥ 0.9× of compression off). */
export const BUSY_SHARE = 0.05;
/** The share of an idle thread's time that steps take. */
export const IDLE_SHARE = 0.5;

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
 * Paces one history's steps.
 *
 * @example
 * const pacer = new StepPacer()
 * const step = () => { if (pacer.run(() => history.compact())) pacer.schedule(step) }
 * pacer.schedule(step)
 */
export class StepPacer {
  readonly #measures: PacerMeasures;
  #lastStepMs = 0;
  /** The share the last step was given: set from the loop's utilization since the step before ended. */
  #share = BUSY_SHARE;
  /** The loop's time when the last step ended. */
  #since: EventLoopUtilization | undefined;

  constructor(measures: PacerMeasures = MEASURES) {
    this.#measures = measures;
  }

  /** Runs `step` (true: work is left) and measures it, and the loop's load since the last one. */
  run(step: () => boolean): boolean {
    const measures = this.#measures;
    const busy = this.#since === undefined ? 1 : measures.busySince(this.#since);
    // No time at all between the steps (NaN) counts as busy.
    this.#share = Number.isFinite(busy) ? BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) * (1 - Math.min(1, Math.max(0, busy))) : BUSY_SHARE;
    const started = measures.now();
    try {
      return step();
    } finally {
      this.#lastStepMs = measures.now() - started;
      this.#since = measures.mark();
    }
  }

  /** Calls `step` once the last step's share of the time since has passed. */
  schedule(step: () => void): void {
    this.#measures.defer(step, this.#lastStepMs * (1 / this.#share - 1));
  }
}
