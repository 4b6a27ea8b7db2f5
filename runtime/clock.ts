/**
 * Time, injected. Machines never read the wall clock; the runtime stamps events
 * with a hybrid logical clock built on a `Clock`, and tests pass a manual one.
 */
import { InvalidOptionError, thrownText } from '../errors.js';

/** A source of wall-clock milliseconds, and of timers that run by it. */
export interface Clock {
  /**
   * Milliseconds since the epoch (may be fractional; only the integer part is
   * used): a finite number, not negative. A post stamped while it answers
   * otherwise, or throws, is refused with `InvalidOptionError` (`clock`).
   */
  now(): number;
  /**
   * Calls `callback` once `ms` milliseconds of this clock have passed;
   * returns a function that cancels it. Timeouts of waits (`bus.waitFor`)
   * run on it. Optional: a clock without it times them with `setTimeout`.
   */
  setTimer?(ms: number, callback: () => void): () => void;
}

/** Starts a timer on `clock`: its own when it has one, else `setTimeout`. */
export function startTimer(clock: Clock, ms: number, callback: () => void): () => void {
  if (clock.setTimer !== undefined) return clock.setTimer(ms, callback);
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
}

/**
 * What is wrong with a reading of a clock's `now()`, or undefined when it is
 * milliseconds since the epoch (a finite number, not negative): a `Date`, a
 * bigint or NaN would stamp events that no sync can carry.
 */
export function clockReadingProblem(reading: unknown): string | undefined {
  if (typeof reading === 'number' && reading >= 0 && reading < Infinity) return undefined;
  const what =
    reading instanceof Date
      ? 'a Date (return date.getTime())'
      : typeof reading === 'number'
        ? String(reading)
        : typeof reading === 'bigint'
          ? 'a bigint (return a number)'
          : typeof reading === 'string'
            ? JSON.stringify(reading.slice(0, 80))
            : reading === null
              ? 'null'
              : typeof reading;
  return `now() must return milliseconds since the epoch (a finite number, not negative), got ${what}`;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to: for tests and replay. The worker
 * threads and child processors of a runtime made with it follow it: each
 * has a manual clock of its own that every `advance()` and `set()` moves;
 * `settled()` (or `advanceAsync()`) awaits them.
 *
 * @example
 * const clock = new ManualClock(1_000)
 * const runtime = createRuntime({ clock })
 * clock.advance(5)
 * await clock.advanceAsync(5) // and the workers' timers due by then have run
 */
export class ManualClock implements Clock {
  #now: number;
  /** Pending timers, by when they are due, then by when they were set. */
  #timers: Array<{ readonly at: number; readonly seq: number; readonly callback: () => void }> = [];
  #seq = 0;
  /** Told each new time: the worker threads of the runtimes made with this clock. */
  readonly #followers = new Set<(now: number) => Promise<void>>();
  /** What the followers have not finished yet. */
  readonly #catchingUp = new Set<Promise<void>>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms`, running the timers that fall due, in order. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  /** Sets the clock; it may go backwards (the hybrid clock keeps stamps increasing anyway). Runs the timers due by then. */
  set(ms: number): void {
    this.#now = ms;
    for (const follower of this.#followers) {
      // A follower never rejects: one that cannot follow (a worker that crashed) starts again at the time then.
      const caughtUp = follower(ms).catch(() => undefined);
      this.#catchingUp.add(caughtUp);
      void caughtUp.then(() => this.#catchingUp.delete(caughtUp));
    }
    // One at a time: a callback may cancel later timers or set new ones that are already due.
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.at > this.#now) return;
      this.#timers.shift();
      next.callback();
    }
  }

  /**
   * Resolves once every worker thread and child processor that follows this
   * clock has moved to the time of the last `advance()` or `set()` and run
   * its timers due by then (their callbacks have been called, and the
   * promise jobs they queued have run); one that was starting or restarting
   * when the clock moved, once it runs and has caught up (or failed to
   * start). At once when nothing follows it.
   */
  async settled(): Promise<void> {
    while (this.#catchingUp.size > 0) await Promise.all(this.#catchingUp);
  }

  /** `advance(ms)`, then `settled()`: the timers due by then have run here, in worker threads and in child processors. */
  advanceAsync(ms: number): Promise<void> {
    this.advance(ms);
    return this.settled();
  }

  /**
   * @internal Calls `follower` with each new time until the returned
   * function is called: how a runtime's workers and child processors follow this clock.
   */
  follow(follower: (now: number) => Promise<void>): () => void {
    this.#followers.add(follower);
    return () => void this.#followers.delete(follower);
  }

  /** Timers run by `advance()` and `set()`, never by real time. */
  setTimer(ms: number, callback: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return () => {
      const index = this.#timers.indexOf(timer);
      if (index !== -1) this.#timers.splice(index, 1);
    };
  }

  /** How many timers are pending: a test can check that a wait cleaned up after itself. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}

/** Counter steps per millisecond in a timestamp's fraction; a power of two, so stamps are exact doubles. */
export const HLC_STEPS_PER_MS = 2048;
const STEP = 1 / HLC_STEPS_PER_MS;

/**
 * A hybrid logical clock: each stamp is the wall-clock millisecond plus a
 * counter in the fraction (1/2048 steps). Stamps from one clock strictly
 * increase even when the wall clock stalls or goes back, and `observe()` moves
 * it past stamps seen from elsewhere, so an event posted after receiving
 * another is always ordered after it. Exact in a double until the year 2109.
 */
export class HybridClock {
  readonly #clock: Clock;
  #last = -Infinity;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** The next stamp: greater than every stamp issued or observed before. */
  next(): number {
    let reading: unknown;
    try {
      reading = this.#clock.now();
    } catch (error) {
      // The application's clock: refused as createRuntime() refuses it, never its own error escaping post().
      throw new InvalidOptionError('clock', `now() threw: ${thrownText(error, false)}.`, { cause: error });
    }
    // NaN fails this too; checked before anything changes, so a refused stamp leaves the clock as it was.
    if (!(typeof reading === 'number' && reading >= 0 && reading < Infinity)) {
      throw new InvalidOptionError('clock', `${clockReadingProblem(reading)!}.`);
    }
    const wall = Math.floor(reading);
    const last = this.#last;
    // When the counter of the current millisecond is used up, the stamp runs
    // ahead into the next millisecond; it never repeats.
    const stamp = wall > last ? wall : last + STEP;
    this.#last = stamp;
    return stamp;
  }

  /** Moves the clock past a stamp received from another origin. */
  observe(stamp: number): void {
    if (stamp > this.#last) this.#last = stamp;
  }

  /** The last stamp issued or observed. */
  get last(): number {
    return this.#last;
  }
}
