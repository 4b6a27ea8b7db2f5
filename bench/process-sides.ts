/**
 * Benchmarks whose sides each run in a process of their own, timed by CPU
 * time (the budget and pipeline rows): in one process the sides share V8's
 * compiled code, which deoptimizes as the configuration changes under it, and
 * a loaded machine's wall clock counts other processes' time.
 */
import { fork } from 'node:child_process';
import { median } from './harness.js';

/** CPU milliseconds of this process (all its threads: GC helpers included) since `start` (`process.cpuUsage()`). */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Runs per process before the measured ones: V8 compiles the measured path in them. */
export const WARMUP_RUNS = 2;
export const MEASURED_RUNS = 3;

/** In a side's process: the median CPU milliseconds of `measured` runs after `warmup` (by default `MEASURED_RUNS` after `WARMUP_RUNS`). */
export async function measuredRuns(run: () => Promise<number>, { warmup = WARMUP_RUNS, measured = MEASURED_RUNS } = {}): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + measured; i++) times.push(await run());
  return median(times.slice(warmup));
}

/** What a side's process sends back: its CPU milliseconds, or those and figures of its own (`detail`, for the notes). */
export type SideResult = number | { readonly ms: number; readonly detail: unknown };

/** Runs `entry` (a module that sends a `SideResult` back over IPC) with `--expose-gc` for `side`. */
function inProcess(entry: URL, side: string): Promise<SideResult> {
  const child = fork(entry, [side], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as SideResult));
    child.once('exit', (code) => reject(new Error(`${entry.pathname} "${side}" exited (${code}) without a result`)));
  });
}

/**
 * Each of `sides` measured in `rounds` processes of its own (`entry`), the
 * order rotating each round so that none always follows the same one: the
 * CPU milliseconds per side, each process's `detail` (if it sent one), and
 * a note of each side's range.
 */
export async function sidesInProcesses<Side extends string>(
  entry: URL,
  sides: readonly Side[],
  rounds: number,
): Promise<{ times: Map<Side, number[]>; details: Map<Side, unknown[]>; spread: string }> {
  const times = new Map<Side, number[]>(sides.map((side) => [side, []]));
  const details = new Map<Side, unknown[]>(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(k + round) % sides.length]!;
      const result = await inProcess(entry, side);
      times.get(side)!.push(typeof result === 'number' ? result : result.ms);
      if (typeof result !== 'number') details.get(side)!.push(result.detail);
    }
  }
  const spread = sides.map((side) => `${side} ${Math.round(Math.min(...times.get(side)!))}–${Math.round(Math.max(...times.get(side)!))} ms`).join(', ');
  return { times, details, spread };
}
