/**
 * How one worker thread or child processor follows the runtime's
 * `ManualClock` across its starts and restarts. A running one is sent each
 * new time. One that is starting began at the time of its start: a new time
 * meanwhile waits until it runs and has caught up (every time the clock took
 * while it started), so `clock.settled()` covers the catch-up too, and a test
 * that advances the clock while a worker (re)starts finds it at that time.
 */
import type { ManualClock } from '../clock.js';

/** Sends a time to a running worker or processor; resolves once it has run its timers due by then. */
export type SetClock = (now: number) => Promise<unknown>;

/** One worker thread (or child processor) of a runtime under a `ManualClock`, whatever its incarnation. */
export class ClockFollower {
  readonly #clock: ManualClock;
  /** The running incarnation's `setClock`; none while one starts, or after a start failed. */
  #set: SetClock | undefined;
  /** The start under way and its catch-up; none once it runs at the clock's time (or failed). */
  #starting: Promise<void> | undefined;

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  /**
   * An incarnation starts, at `at` (the clock's time it was given);
   * `started` resolves with its `setClock` once it runs, or with undefined
   * when the start failed.
   */
  starting(at: number, started: Promise<SetClock | undefined>): void {
    this.#set = undefined;
    const catchUp = async (): Promise<void> => {
      const set = await started.catch(() => undefined);
      let sent = at;
      try {
        // The clock may move again while a catch-up is on its way: until it is where the clock is.
        while (set !== undefined && this.#clock.now() !== sent) {
          sent = this.#clock.now();
          await set(sent);
        }
      } catch {
        // It died while catching up: its successor starts at the clock's time then.
      }
      // In the same turn as the last check: a time set from now on goes to it directly.
      if (this.#starting === caughtUp) {
        this.#starting = undefined;
        this.#set = set;
      }
    };
    const caughtUp: Promise<void> = catchUp();
    this.#starting = caughtUp;
  }

  /** `now` for this worker: sent to it if it runs, else awaited with its start. Never rejects. */
  follow(now: number): Promise<unknown> {
    if (this.#starting !== undefined) return this.#starting;
    return this.#set === undefined ? Promise.resolve() : this.#set(now).catch(() => undefined);
  }
}
