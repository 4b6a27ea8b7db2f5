/**
 * `runtime.stats()`: the metrics of every bus of the threads hosted in this
 * JS thread, with totals, and their periodic posting as `busline.stats`
 * events, timed by the runtime's clock.
 */
import { SIDES, type Side } from '../../types.js';
import { startTimer, type Clock } from '../clock.js';
import type { BusStats, RuntimeStats } from './stats.js';

/** What the stats are read from: a thread's buses. */
export interface StatsSource {
  bus(side: Side): { stats(): BusStats | undefined };
}

/** The stats of `threads`, or `undefined` when metrics are off. */
export function collectStats(threads: Iterable<StatsSource>, clock: Clock): RuntimeStats | undefined {
  const buses: BusStats[] = [];
  for (const thread of threads) {
    for (const side of SIDES) {
      const stats = thread.bus(side).stats();
      if (stats !== undefined) buses.push(stats);
    }
  }
  if (buses.length === 0) return undefined;
  const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((total, count) => total + count, 0);
  return {
    at: clock.now(),
    buses,
    posted: buses.reduce((total, bus) => total + sum(bus.posted), 0),
    delivered: buses.reduce((total, bus) => total + sum(bus.delivered), 0),
    errors: buses.reduce((total, bus) => total + bus.errors.total, 0),
  };
}

/**
 * Calls `tick` every `intervalMs` of `clock` (a `ManualClock` drives it in
 * tests) until the returned function is called.
 */
export function everyInterval(clock: Clock, intervalMs: number, tick: () => void): () => void {
  let cancel: (() => void) | undefined;
  let stopped = false;
  // Due times, not delays from the last tick: a clock advanced by several intervals at once ticks once per interval.
  let due = clock.now() + intervalMs;
  const arm = (): void => {
    cancel = startTimer(clock, Math.max(0, due - clock.now()), () => {
      if (stopped) return;
      // A clock that jumped far ahead (or a process that was blocked) catches up by one tick, not by a burst.
      due = Math.max(due + intervalMs, clock.now());
      arm();
      tick();
    });
  };
  arm();
  return () => {
    stopped = true;
    cancel?.();
  };
}
