/**
 * Benchmarks whose sides each run in a process of their own, timed by CPU
 * time (the budget and pipeline rows): in one process the sides share V8's
 * compiled code, which deoptimizes as the configuration changes under it, and
 * a loaded machine's wall clock counts other processes' time.
 */
import { fork } from 'node:child_process';
import { median } from './harness.js';

/** Runs per process before the measured ones: V8 compiles the measured path in them. */
export const WARMUP_RUNS = 2;
export const MEASURED_RUNS = 3;

/** In a side's process: the median CPU milliseconds of `measured` runs after `warmup` (by default `MEASURED_RUNS` after `WARMUP_RUNS`). */
export async function measuredRuns(run: () => Promise<number>, { warmup = WARMUP_RUNS, measured = MEASURED_RUNS } = {}): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + measured; i++) times.push(await run());
  return median(times.slice(warmup));
}

/** Runs `entry` (a module that sends its CPU milliseconds back over IPC) with `--expose-gc` for `side`. */
function inProcess(entry: URL, side: string): Promise<number> {
  const child = fork(entry, [side], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ms) => resolve(ms as number));
    child.once('exit', (code) => reject(new Error(`${entry.pathname} "${side}" exited (${code}) without a result`)));
  });
}

/**
 * Each of `sides` measured in `rounds` processes of its own (`entry`), the
 * order rotating each round so that none always follows the same one: the
 * CPU milliseconds per side, and a note of each side's range.
 */
export async function sidesInProcesses<Side extends string>(
  entry: URL,
  sides: readonly Side[],
  rounds: number,
): Promise<{ times: Map<Side, number[]>; spread: string }> {
  const times = new Map<Side, number[]>(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(k + round) % sides.length]!;
      times.get(side)!.push(await inProcess(entry, side));
    }
  }
  const spread = sides.map((side) => `${side} ${Math.round(Math.min(...times.get(side)!))}–${Math.round(Math.max(...times.get(side)!))} ms`).join(', ');
  return { times, spread };
}
