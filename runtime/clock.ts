/**
 * Time, injected. Machines never read the wall clock; the runtime stamps events
 * with a hybrid logical clock built on a `Clock`, and tests pass a manual one.
 */

/** A source of wall-clock milliseconds. */
export interface Clock {
  /** Milliseconds since the epoch (may be fractional; only the integer part is used). */
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to: for tests and replay.
 *
 * @example
 * const clock = new ManualClock(1_000)
 * const runtime = createRuntime({ clock })
 * clock.advance(5)
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms;
  }

  /** Sets the clock; it may go backwards (the hybrid clock keeps stamps increasing anyway). */
  set(ms: number): void {
    this.#now = ms;
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
    const wall = Math.floor(this.#clock.now());
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
