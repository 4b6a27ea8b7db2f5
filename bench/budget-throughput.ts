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
 *
 * Compression steps are paced by the thread's load (2 % of a busy thread's CPU
 * time): each run of the compressed side is followed by an idle pause in
 * which they finish, so that they run warm in the next timed window, and the
 * notes count the steps and events compressed in those windows. Without the
 * pause none ran in one (the first ran cold in a warm-up run, and the pacer
 * then waited longer than the process lived).
 *
 * Each run posts on a runtime of its own, while a small runtime of the same
 * side (`keepAlive`), made first, lives as long as the process, as an
 * application's runtime lives all along. Without it every run also timed a
 * recompilation of the post path that a long-lived runtime pays once: V8
 * holds the hidden classes (maps) of objects weakly, so when the previous
 * run's runtime was collected the maps only its objects had died, and the
 * code optimized for them was thrown away with them (`--trace-deopt`: "weak
 * objects") and compiled again during the next run's timed posts. Every side
 * paid that in every run (the compressed side more in its first runs, with
 * the code of its blocks besides): the kept runtime makes every side faster
 * and leaves the ratios between them about as they were.
 *
 * A control (`pausedOn`) posts without compression after a pause of the
 * `compressed` side's shape (the same blocks made ~4 ms at a time, then
 * dropped): what the pause's work does to V8's heap, and so to the next
 * window, with no compression on the post path.
 *
 * A second pair of sides (`steadyOn`, `steadyCompressed`) posts the same
 * events in bursts of `STEADY_BURST` a timer's `STEADY_GAP_MS` apart, with
 * no idle pause of its own: the compression steps run in the gaps, as the
 * pacer gives them a mostly idle thread's share, and the timed CPU counts
 * posts, steps and their garbage together (a steady application's case,
 * where the first pair times the posts alone after a pause).
 */
import { createRuntime, type Bus, type Runtime } from '../index.js';
import { compressionSteps } from '../runtime/store/history.js';
import type { MemoryOptions } from '../runtime/store/memory-policy.js';
import type { BusEvent, Payload } from '../types.js';
import { EventBlock } from '../runtime/store/blocks.js';
import { median, rateTarget, type Comparison } from './harness.js';
import { MEASURED_RUNS, WARMUP_RUNS, cpuMsSince, measuredRuns, sidesInProcesses, type SideResult } from './process-sides.js';

/** Processes per side; each gives the median of its measured runs. */
const ROUNDS = 7;
export const POSTS = 100_000;
/** A budget a bus fills a hundred times over in one run of `POSTS` events: it evicts all along. */
const EVICTING_BUDGET_BYTES = 160 * 1024;

export type BudgetSide = 'off' | 'on' | 'evicting' | 'compressed' | 'pausedOn' | 'steadyOn' | 'steadyCompressed';
const SIDES: readonly BudgetSide[] = ['off', 'on', 'evicting', 'compressed', 'pausedOn', 'steadyOn', 'steadyCompressed'];
/** Posts per burst of the steady sides, and the timer's wait between bursts (ms). */
const STEADY_BURST = 1000;
const STEADY_GAP_MS = 10;

const MEMORY: Record<BudgetSide, MemoryOptions> = {
  off: { budget: false },
  on: {},
  evicting: { budget: { busBytes: EVICTING_BUDGET_BYTES }, policies: { 'user.logout': { importance: 'low' } } },
  // Its steps are paced by the thread's load (2 % of a busy thread's time, up to half of an idle one's): see `run`.
  compressed: { compression: true },
  pausedOn: {},
  steadyOn: {},
  steadyCompressed: { compression: true },
};

/** True for the sides whose runs post in bursts with the compression steps between them (no idle pause). */
const isSteady = (side: BudgetSide): boolean => side === 'steadyOn' || side === 'steadyCompressed';
/** True for the sides that compress. */
const compresses = (side: BudgetSide): boolean => side === 'compressed' || side === 'steadyCompressed';

/** A payload like an application's: repeated keys, a few varying values. */
export const compressible = (i: number): Payload => ({ user: `user-${i % 500}`, action: 'login', ok: true, attempt: i % 7, region: 'eu-west-1' });

let sink = 0;

/**
 * The compression steps of this process as they run (`countSteps`): how
 * many, their CPU milliseconds, and how many are waiting for the pacer.
 */
const steps = { run: 0, ms: 0, pending: 0, firstMs: Number.NaN };

/** Counts the histories' compression steps (they are paced by the thread's load, `runtime/store/step-pacer.ts`). */
function countSteps(): void {
  const schedule = compressionSteps.schedule;
  compressionSteps.schedule = (step) => {
    steps.pending++;
    schedule(() => {
      steps.pending--;
      const start = process.cpuUsage();
      try {
        step();
      } finally {
        const ms = cpuMsSince(start);
        steps.ms += ms;
        if (steps.run++ === 0) steps.firstMs = ms;
      }
    });
  };
}

/** What compression did in a run of the `compressed` side: in its measured window, and in the idle pause after it. */
export interface CompressionWindow {
  /** Steps run while the posts were timed, their CPU ms, and the events they moved into blocks. */
  readonly steps: number;
  readonly stepMs: number;
  readonly compressed: number;
  /** The idle pause after (until no step is left): its CPU ms, wall ms, steps, and the events compressed in it. */
  readonly idleMs: number;
  readonly idleWallMs: number;
  readonly idleSteps: number;
  readonly idleCompressed: number;
}

/** The runs of the `compressed` side in this process, oldest first; its first step's CPU ms (cold). */
const windows: CompressionWindow[] = [];
/** Events held in blocks at the end of each run of the `steadyCompressed` side (compressed in its timed window). */
const steadyCompressed: number[] = [];

/** The longest an idle pause may wait for the compression steps to finish. */
const IDLE_DEADLINE_MS = 120_000;

/**
 * Waits, idle, until no compression step is left (the pacer gives them up
 * to half of an idle thread's time): what a long-running application's
 * histories get in its pauses. Polls, as the bench may: no step signals its end.
 */
async function idleUntilCompressed(): Promise<void> {
  const deadline = performance.now() + IDLE_DEADLINE_MS;
  while (steps.pending > 0) {
    if (performance.now() > deadline) throw new Error(`compression steps still pending after ${IDLE_DEADLINE_MS} ms idle`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The timed posts of a run, in a function of their own: `run`, around them, meets new maps after its window (each run's
 * runtime and its notes) and deoptimizes there, and V8 then compiled it again, with the post path inlined, and
 * on-stack-replaced its loop inside the next window (`--trace-opt`), timing a compilation in every window of every side.
 * This loop meets the same objects in every run and stays compiled.
 */
async function postAll(bus: Bus, steady: boolean): Promise<void> {
  for (let i = 0; i < POSTS; i++) {
    bus.post(i % 3 === 0 ? 'user.logout' : 'user.login', compressible(i), { priority: 'immediate' });
    if (steady && i % STEADY_BURST === STEADY_BURST - 1) await new Promise((resolve) => setTimeout(resolve, STEADY_GAP_MS));
    else if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * One run of `side`: the CPU milliseconds `POSTS` posts took (after a full
 * collection, so no earlier run's garbage is counted). The `compressed`
 * side then pauses, idle, until its history's compression steps are done,
 * outside the timed window: each run starts as after an application's pause
 * (steps warm, the pacer's last step measured on an idle thread), and its
 * figures (`windows`) say what compression did in the window and after.
 */
async function run(side: BudgetSide, gc: () => void): Promise<number> {
  const runtime = createRuntime({ transport: 'memory', memory: MEMORY[side] });
  const bus = runtime.bus('external');
  bus.subscribe('user', (event) => {
    sink += (event.payload as { attempt: number }).attempt;
  });
  gc();
  const before = { run: steps.run, ms: steps.ms };
  const start = process.cpuUsage();
  await postAll(bus, isSteady(side));
  const used = cpuMsSince(start);
  const held = bus.history().length;
  if (side === 'evicting' ? held >= POSTS : held !== POSTS) throw new Error(`history holds ${held} events after ${POSTS} posts (${side})`);
  if (side === 'steadyCompressed') steadyCompressed.push(bus.memory()!.compressed.count);
  if (side === 'compressed') {
    const compressed = bus.memory()!.compressed.count;
    const window = { steps: steps.run - before.run, stepMs: steps.ms - before.ms, compressed };
    const [idleStart, idleWall, idleSteps] = [process.cpuUsage(), performance.now(), steps.run];
    await idleUntilCompressed();
    const idleMs = cpuMsSince(idleStart);
    windows.push({
      ...window,
      idleMs,
      idleWallMs: performance.now() - idleWall,
      idleSteps: steps.run - idleSteps,
      idleCompressed: bus.memory()!.compressed.count - compressed,
    });
  }
  if (side === 'pausedOn') await idleLikeCompressing(bus.history());
  await runtime.stop();
  return used;
}

/**
 * The `compressed` side's idle pause without compression: the same events (all but the newest 4 096) made into
 * the same snappy blocks, ~4 ms at a time with as long a wait between, and the blocks dropped when the run ends;
 * the history keeps its events.
 */
async function idleLikeCompressing(events: readonly BusEvent[]): Promise<void> {
  const blocks: EventBlock[] = [];
  const format = { plain: true };
  let at = 0;
  while (at + 1024 <= events.length - 4096) {
    const started = performance.now();
    while (performance.now() - started < 4 && at + 1024 <= events.length - 4096) {
      blocks.push(EventBlock.of(events.slice(at, at + 1024), format, true));
      at += 1024;
    }
    await new Promise((resolve) => setTimeout(resolve, 4));
  }
  if (blocks.length === 0) throw new Error('the pause made no block');
}

/** Events the runtime that outlives the runs holds: a few blocks' worth, so that the compressed side's has blocks too. */
const KEPT_POSTS = 8192;

/**
 * A runtime of `side`'s configuration with `KEPT_POSTS` events (the
 * compressed side's in blocks), alive until the process ends: its objects
 * keep their hidden classes alive across the runs (see the module's comment).
 */
async function keepAlive(side: BudgetSide): Promise<Runtime> {
  const runtime = createRuntime({ transport: 'memory', memory: MEMORY[side] });
  const bus = runtime.bus('external');
  bus.subscribe('user', (event) => {
    sink += (event.payload as { attempt: number }).attempt;
  });
  for (let i = 0; i < KEPT_POSTS; i++) bus.post(i % 3 === 0 ? 'user.logout' : 'user.login', compressible(i), { priority: 'immediate' });
  if (compresses(side)) {
    await idleUntilCompressed();
    if (bus.memory()!.compressed.count === 0) throw new Error('the kept runtime compressed no event');
  }
  return runtime;
}

/** What a `compressed` side's process reports besides its CPU time: its measured runs' `windows`, and the warm-up's. */
export interface CompressionDetail {
  readonly measured: readonly CompressionWindow[];
  readonly warmup: readonly CompressionWindow[];
  /** The CPU ms of the process's first step (the codec still cold). */
  readonly firstStepMs: number;
}

/** In the process of `side` (`budget-process.ts`): the median CPU milliseconds of its measured runs (and, compressed, what compression did). */
export async function budgetRuns(side: BudgetSide, gc: () => void): Promise<SideResult> {
  if (compresses(side)) countSteps();
  const kept = await keepAlive(side);
  const firstStepMs = steps.firstMs;
  const ms = await measuredRuns(() => run(side, gc));
  await kept.stop();
  if (sink < 0) console.log(sink);
  if (side === 'steadyCompressed') return { ms, detail: steadyCompressed.slice(WARMUP_RUNS) };
  if (side !== 'compressed') return ms;
  const detail: CompressionDetail = { measured: windows.slice(WARMUP_RUNS), warmup: windows.slice(0, WARMUP_RUNS), firstStepMs };
  return { ms, detail };
}

/** The rows: per side the median over `ROUNDS` processes, as posts per CPU second. */
export async function budgetThroughput(): Promise<{ rates: Comparison[]; notes: string[] }> {
  const { times, details, spread } = await sidesInProcesses(new URL('./budget-process.ts', import.meta.url), SIDES, ROUNDS);
  const rate = (side: BudgetSide) => POSTS / (median(times.get(side)!) / 1000);
  const [off, on, evicting, compressed] = [rate('off'), rate('on'), rate('evicting'), rate('compressed')];
  const steadyHeld = (details.get('steadyCompressed')! as number[][]).flat();
  const compression = details.get('compressed')! as CompressionDetail[];
  // Per process: its timed posts (the median run) and the median idle pause after them, in which the steps the pacer
  // left finished: what posting and compressing every event cost together.
  const withIdle = compression.map((detail, k) => times.get('compressed')![k]! + median(detail.measured.map((window) => window.idleMs)));
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
      {
        name: 'post → deliver → history, compression on',
        subject: compressed,
        peerName: 'compression off, after as long a pause making as many snappy blocks',
        peer: rate('pausedOn'),
      },
      {
        name: 'post → deliver → history, compression on, CPU time of its idle pause counted',
        subject: POSTS / (median(withIdle) / 1000),
        peerName: 'the same, compression off',
        peer: on,
      },
      {
        name: `post → deliver → history, compression on, steady (bursts of ${STEADY_BURST} posts ${STEADY_GAP_MS} ms apart, steps between)`,
        subject: rate('steadyCompressed'),
        peerName: 'the same, compression off',
        peer: rate('steadyOn'),
      },
    ],
    notes: [
      `budget and compression rows: posts per CPU second, each side in a process of its own (${ROUNDS} each, order rotating), ` +
        `the median of ${MEASURED_RUNS} runs of ${POSTS} posts after ${WARMUP_RUNS} warm-up runs; CPU time per run: ${spread}`,
      compressionNote(compression),
      `compression on, steady: no idle pause; the timed CPU counts posts and the steps run between bursts; events in blocks ` +
        `at a run's end: ${spreadOf(steadyHeld)} of ${POSTS} (median (min–max) of ${steadyHeld.length} runs)`,
    ],
  };
}

/** `median (min–max)` of `values`, rounded to `digits`. */
const spreadOf = (values: readonly number[], digits = 0): string =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

/** What compression did in the measured runs of the `compressed` side's processes, and in the idle pauses after them. */
function compressionNote(details: readonly CompressionDetail[]): string {
  const measured = details.flatMap((detail) => detail.measured);
  const of = (pick: (window: CompressionWindow) => number, digits?: number) => spreadOf(measured.map(pick), digits);
  const idlePerThousand = measured.map((window) => (window.idleMs / window.idleCompressed) * 1000);
  return (
    `compression on: each run followed by an idle pause until no compression step is left (outside the timed window: steps run warm, ` +
    `as in an application that pauses); compression steps in measured windows: ${of((window) => window.steps)} per run, ` +
    `${of((window) => window.stepMs, 1)} ms CPU, events compressed: ${of((window) => window.compressed)} of ${POSTS} ` +
    `(median (min–max) of ${measured.length} runs; the thread is busy posting, so the step pacer gives steps 2 % of it); ` +
    `in the idle pause after: ${of((window) => window.idleCompressed)} events in ${of((window) => window.idleSteps)} steps, ` +
    `${spreadOf(idlePerThousand, 2)} ms CPU per 1 000 events, ${of((window) => window.idleWallMs)} ms wall; ` +
    `a process's first step (cold): ${spreadOf(details.map((detail) => detail.firstStepMs), 1)} ms CPU`
  );
}
