/**
 * `runtime.stats()`: the metrics and memory of every bus of every thread —
 * those hosted in this JS thread read at once, worker threads and child
 * processors asked by a `stats` control call — and the memory of every
 * station, with totals; and their periodic posting as `busline.stats`
 * events, timed by the runtime's clock.
 */
import { startTimer, type Clock } from '../clock.js';
import type { MemoryStats } from '../store/memory-stats.js';
import type { BusStats, RuntimeStats } from './stats.js';

/** Stats of some buses and histories, as a thread or a processor answers them. */
export interface StatsParts {
  readonly buses: readonly BusStats[];
  readonly memory: readonly MemoryStats[];
  /** Threads or processors that did not answer, `<processor>.<thread>` or `<processor>`. */
  readonly unavailable?: readonly string[];
}

/** A thread or a processor elsewhere, asked for its stats. */
export interface RemoteStatsSource {
  /** `<processor>.<thread>` or `<processor>`: named in `unavailable` when it does not answer. */
  readonly name: string;
  stats(): Promise<StatsParts>;
}

/** The stats of `parts` at `at`, with totals; `undefined` when no bus records metrics and no history has a budget. */
export function summarize(parts: readonly StatsParts[], at: number): RuntimeStats | undefined {
  const buses = parts.flatMap((part) => part.buses);
  const memory = parts.flatMap((part) => part.memory);
  if (buses.length === 0 && memory.length === 0) return undefined;
  const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((total, count) => total + count, 0);
  return {
    at,
    buses,
    memory,
    unavailable: parts.flatMap((part) => part.unavailable ?? []),
    posted: buses.reduce((total, bus) => total + sum(bus.posted), 0),
    delivered: buses.reduce((total, bus) => total + sum(bus.delivered), 0),
    errors: buses.reduce((total, bus) => total + bus.errors.total, 0),
  };
}

/**
 * The stats of `local` and of every source of `remote`, asked at once; one
 * that does not answer (crashed, being restarted) is named in `unavailable`.
 */
export async function gatherStats(local: StatsParts, remote: readonly RemoteStatsSource[], clock: Clock): Promise<RuntimeStats | undefined> {
  const at = clock.now();
  const answers = await Promise.all(
    remote.map((source) => source.stats().catch((): StatsParts => ({ buses: [], memory: [], unavailable: [source.name] }))),
  );
  return summarize([local, ...answers], at);
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
