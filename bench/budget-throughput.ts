/**
 * post → deliver → history with the default memory budget, and under a
 * budget small enough that the bus evicts all along, against `budget: false`
 * (issue 20's "≥ 0.9×"); and with `memory.compression` on, against the
 * default (compression off). Each side runs in a process of its own
 * (`budget-process.ts`), timed by CPU time: in one process the sides share
 * V8's compiled code, which deoptimizes as the configuration changes under
 * it (measured: 0.70–0.84× in one process where separate processes gave
 * 0.91×, and the gap stayed with every budget step turned off), and a
 * loaded machine's wall clock counts other processes' time. Rounds rotate
 * the order of the sides, so none always follows the same one.
 */
import { createRuntime } from '../index.js';
import type { MemoryOptions } from '../runtime/store/memory-policy.js';
import type { Payload } from '../types.js';
import { median, rateTarget, type Comparison } from './harness.js';
import { MEASURED_RUNS, WARMUP_RUNS, measuredRuns, sidesInProcesses } from './process-sides.js';

/** Processes per side; each gives the median of its measured runs. */
const ROUNDS = 7;
export const POSTS = 100_000;
/** A budget a bus fills a hundred times over in one run of `POSTS` events: it evicts all along. */
const EVICTING_BUDGET_BYTES = 160 * 1024;

export type BudgetSide = 'off' | 'on' | 'evicting' | 'compressed';
const SIDES: readonly BudgetSide[] = ['off', 'on', 'evicting', 'compressed'];

const MEMORY: Record<BudgetSide, MemoryOptions> = {
  off: { budget: false },
  on: {},
  evicting: { budget: { busBytes: EVICTING_BUDGET_BYTES }, policies: { 'user.logout': { importance: 'low' } } },
  // Compression steps run in the idle turns the posting loop leaves (a `setImmediate` every 1000 posts).
  compressed: { compression: true },
};

/** A payload like an application's: repeated keys, a few varying values. */
export const compressible = (i: number): Payload => ({ user: `user-${i % 500}`, action: 'login', ok: true, attempt: i % 7, region: 'eu-west-1' });

let sink = 0;

/** One run of `side`: the CPU milliseconds `POSTS` posts took (after a full collection, so no earlier run's garbage is counted). */
async function run(side: BudgetSide, gc: () => void): Promise<number> {
  const runtime = createRuntime({ transport: 'memory', memory: MEMORY[side] });
  const bus = runtime.bus('external');
  bus.subscribe('user', (event) => {
    sink += (event.payload as { attempt: number }).attempt;
  });
  gc();
  const start = process.cpuUsage();
  for (let i = 0; i < POSTS; i++) {
    bus.post(i % 3 === 0 ? 'user.logout' : 'user.login', compressible(i), { priority: 'immediate' });
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(start);
  const held = bus.history().length;
  if (side === 'evicting' ? held >= POSTS : held !== POSTS) throw new Error(`history holds ${held} events after ${POSTS} posts (${side})`);
  await runtime.stop();
  return (used.user + used.system) / 1000;
}

/** In the process of `side` (`budget-process.ts`): the median CPU milliseconds of its measured runs. */
export async function budgetRuns(side: BudgetSide, gc: () => void): Promise<number> {
  const ms = await measuredRuns(() => run(side, gc));
  if (sink < 0) console.log(sink);
  return ms;
}

/** The rows: per side the median over `ROUNDS` processes, as posts per CPU second. */
export async function budgetThroughput(): Promise<{ rates: Comparison[]; notes: string[] }> {
  const { times, spread } = await sidesInProcesses(new URL('./budget-process.ts', import.meta.url), SIDES, ROUNDS);
  const rate = (side: BudgetSide) => POSTS / (median(times.get(side)!) / 1000);
  const [off, on, evicting, compressed] = [rate('off'), rate('on'), rate('evicting'), rate('compressed')];
  return {
    rates: [
      { name: 'post → deliver → history, default memory budget', subject: on, peerName: 'the same, budget: false', peer: off, target: rateTarget(on, off, { minRatio: 0.9 }) },
      { name: `post → deliver → history, evicting (${EVICTING_BUDGET_BYTES / 1024} KiB budget)`, subject: evicting, peerName: 'the same, budget: false', peer: off },
      {
        name: 'post → deliver → history, compression on',
        subject: compressed,
        peerName: 'the same, compression off',
        peer: on,
        target: rateTarget(compressed, on, { minRatio: 0.9 }),
      },
    ],
    notes: [
      `budget and compression rows: posts per CPU second, each side in a process of its own (${ROUNDS} each, order rotating), ` +
        `the median of ${MEASURED_RUNS} runs of ${POSTS} posts after ${WARMUP_RUNS} warm-up runs; CPU time per run: ${spread}`,
    ],
  };
}
