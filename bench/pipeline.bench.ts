/**
 * The delivery pipeline (issue 22, "Done when"): publish → 10 handlers, with
 * and without middleware and metrics, against node:events with the same 10
 * listeners in the same run; throughput and per-post latency (p50, p99); the
 * cost of metrics, on against off; and against emit that keeps each event, as
 * a history does. Throughput runs each side in a process of its own, timed by
 * CPU time (as `budget-throughput.ts` does: in one process the setups share
 * V8's compiled code, which deoptimizes as the configuration changes under
 * it); latencies are taken in this process.
 */
import { EventEmitter } from 'node:events';
import { createRuntime, type Middleware, type RuntimeOptions } from '../index.js';
import type { BusEvent } from '../types.js';
import { median, percentile, rateTarget, type Comparison, type LatencyComparison } from './harness.js';
import { cpuMsSince, measuredRuns, sidesInProcesses } from './process-sides.js';

const ROUNDS = 7;
/** Processes per side for throughput; each gives the median of its measured runs. */
const PROCESS_ROUNDS = 5;
const POSTS = 100_000;
/** Runs per process before the measured ones, each on a new runtime: the per-run times still fell until about the sixth. */
const WARMUP_RUNS = 6;
/** Posts of the short first run of a process, whose runtime stays referenced (`pinned`): its history holds only these. */
const PIN_POSTS = 1_000;
/** Measured runs per process, of which the median counts: one run of `POSTS` is ~100 ms, short against a loaded machine's noise. */
const MEASURED_RUNS = 7;
const LATENCY_SAMPLES = 20_000;
const SUBSCRIBERS = 10;

/** A middleware as a user writes one for logging (seed 001), counting instead of printing. */
function countingMiddleware(): Middleware & { seen: number } {
  const middleware = {
    name: 'counting',
    seen: 0,
    before: () => void middleware.seen++,
    after: () => void middleware.seen++,
  };
  return middleware;
}

/** Middleware and metrics on, and nothing kept by the bus history (`removeAfterDelivery`). */
const KEEP_NOTHING = 'middleware + metrics, keep nothing';
/** As `KEEP_NOTHING`, posted `local`: delivered in this thread only, never held for a station. What node:events does. */
const LOCAL = 'middleware + metrics, local, keep nothing';

interface Setup {
  readonly name: string;
  readonly options: RuntimeOptions;
  /** Posts with `local: true`. */
  readonly local?: boolean;
}

const SETUPS: readonly Setup[] = [
  { name: 'plain', options: {} },
  { name: 'metrics', options: { metrics: true } },
  { name: 'middleware + metrics', options: { metrics: true } },
  // A pure pub/sub bus keeps nothing either: its one type's policy removes each event once delivered (the bus history never
  // holds an immediate one). It still goes to the station: the outbox holds it until a sync, and this bus never syncs.
  { name: KEEP_NOTHING, options: { metrics: true, memory: { policies: { user: { removeAfterDelivery: true } } } } },
  // In-thread pub/sub, as node:events is: nothing kept, nothing held for other threads.
  { name: LOCAL, options: { metrics: true, memory: { policies: { user: { removeAfterDelivery: true } } } }, local: true },
];

/** Per-post latencies (ns) of `post`, over `LATENCY_SAMPLES` calls. */
function latencies(post: (n: number) => void): { p50: number; p99: number } {
  const samples = new Float64Array(LATENCY_SAMPLES);
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const start = performance.now();
    post(i);
    samples[i] = (performance.now() - start) * 1e6;
  }
  const values = Array.from(samples);
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
}

/** What one throughput process measures: node:events, node:events keeping each event, or a bus setup (by name). */
export type PipelineSide = string;

/**
 * The runtime of this process's first run, a short one of `PIN_POSTS` posts,
 * stopped and kept referenced. V8's optimized code for the delivery path
 * holds objects of a process's first runtime weakly and is thrown away when
 * they are collected: with no runtime kept, a middleware + metrics process
 * logged ~360-420 such deoptimizations (`--trace-deopt`, "weak objects") and
 * recompiled the delivery path in the middle of later runs, which a
 * long-lived application never pays; with only the first runtime kept, 3-4,
 * as with every runtime kept. A stopped runtime keeps its history (~19 MB at
 * `POSTS` posts), so no other is kept: a measured run starts on a heap that
 * holds this small history and nothing of the earlier runs (~13 MB after a
 * full collection, against ~11 MB in node:events' processes).
 */
let pinned: unknown;

/** One run of `side`: the CPU milliseconds of `posts` posts (after a full collection, so no earlier run's garbage is counted). */
async function cpuRun(side: PipelineSide, gc: () => void, posts = POSTS): Promise<number> {
  let sink = 0;
  const listener = (payload: { n: number }) => {
    sink += payload.n;
  };
  let post: (i: number) => void;
  let done = async () => {};
  if (side === 'emit' || side === 'emit + keep') {
    const emitter = new EventEmitter();
    for (let s = 0; s < SUBSCRIBERS; s++) emitter.on('user.login', listener);
    const kept: object[] = [];
    post =
      side === 'emit'
        ? (i) => emitter.emit('user.login', { user: 'u1', n: i })
        : (i) => {
            const payload = { user: 'u1', n: i };
            kept.push({ id: `0.0.${i}`, type: 'user.login', timestamp: Date.now(), payload });
            emitter.emit('user.login', payload);
          };
  } else {
    const setup = SETUPS.find((one) => one.name === side)!;
    const middleware = countingMiddleware();
    const runtime = createRuntime({ transport: 'memory', ...setup.options, ...(side.startsWith('middleware') ? { middleware: [middleware] } : {}) });
    const bus = runtime.bus('external');
    for (let s = 0; s < SUBSCRIBERS; s++) bus.subscribe('user.login', (event: BusEvent) => listener(event.payload as { n: number }));
    post =
      setup.local === true
        ? (i) => void bus.post('user.login', { user: 'u1', n: i }, { priority: 'immediate', local: true })
        : (i) => void bus.post('user.login', { user: 'u1', n: i }, { priority: 'immediate' });
    done = async () => {
      if (side.startsWith('middleware') && middleware.seen !== 2 * posts) throw new Error('middleware skipped events');
      await runtime.stop();
      pinned ??= runtime;
    };
  }
  gc();
  const start = process.cpuUsage();
  for (let i = 0; i < posts; i++) post(i);
  const used = cpuMsSince(start);
  await done();
  if (sink === 0) throw new Error('listener never ran');
  return used;
}

/** In the process of `side` (`pipeline-process.ts`): the median CPU milliseconds of its measured runs, after the short pinning run. */
export async function pipelineRuns(side: PipelineSide, gc: () => void): Promise<number> {
  await cpuRun(side, gc, PIN_POSTS);
  return measuredRuns(() => cpuRun(side, gc), { warmup: WARMUP_RUNS, measured: MEASURED_RUNS });
}

/** Posts per CPU second of every side, each measured in `PROCESS_ROUNDS` processes of its own, the order rotating. */
async function processRates(): Promise<{ rates: Map<PipelineSide, number>; times: Map<PipelineSide, number[]>; spread: string }> {
  const sides: PipelineSide[] = ['emit', 'emit + keep', ...SETUPS.map((setup) => setup.name)];
  const { times, spread } = await sidesInProcesses(new URL('./pipeline-process.ts', import.meta.url), sides, PROCESS_ROUNDS);
  return { rates: new Map(sides.map((side) => [side, POSTS / (median(times.get(side)!) / 1000)] as const)), times, spread };
}

/**
 * `subject` ÷ `peer` in each round (rates: the peer's CPU time over the
 * subject's), as "median (least–most)": the two ran one after the other, so
 * a change of the machine's load between rounds cancels out of each ratio.
 */
function pairedRatios(times: Map<PipelineSide, number[]>, subject: PipelineSide, peer: PipelineSide): string {
  const ratios = times.get(peer)!.map((ms, round) => ms / times.get(subject)![round]!);
  return `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

/** publish → 10 handlers (immediate: delivered before post() returns), against node:events emit → 10 listeners. */
export async function pipelineVersusEmit(): Promise<{ rates: Comparison[]; latencies: LatencyComparison[]; notes: string[] }> {
  let sink = 0;
  const listener = (payload: { n: number }) => {
    sink += payload.n;
  };
  const busListener = (event: BusEvent) => listener(event.payload as { n: number });
  const emitLatencies: Array<{ p50: number; p99: number }> = [];
  const busLatencies = SETUPS.map((): Array<{ p50: number; p99: number }> => []);
  for (let round = 0; round < ROUNDS; round++) {
    const emitter = new EventEmitter();
    for (let s = 0; s < SUBSCRIBERS; s++) emitter.on('user.login', listener);
    emitLatencies.push(latencies((n) => emitter.emit('user.login', { user: 'u1', n })));
    // Each setup takes each place in turn: a later one runs on a heap that the earlier ones' histories filled.
    for (let turn = 0; turn < SETUPS.length; turn++) {
      const index = (turn + round) % SETUPS.length;
      const setup = SETUPS[index]!;
      const middleware = countingMiddleware();
      const runtime = createRuntime({
        // Every event is kept in the history, as in the core bench's post row.
        transport: 'memory',
        ...setup.options,
        ...(setup.name.startsWith('middleware') ? { middleware: [middleware] } : {}),
      });
      const bus = runtime.bus('external');
      for (let s = 0; s < SUBSCRIBERS; s++) bus.subscribe('user.login', busListener);
      const local = setup.local === true;
      busLatencies[index]!.push(latencies((n) => bus.post('user.login', { user: 'u1', n }, { priority: 'immediate', local })));
      if (setup.name.startsWith('middleware') && middleware.seen !== 2 * LATENCY_SAMPLES) throw new Error('middleware skipped events');
      if (setup.options.metrics === true && bus.stats()!.delivered['user.login'] !== SUBSCRIBERS * LATENCY_SAMPLES) {
        throw new Error('metrics missed deliveries');
      }
      await runtime.stop();
    }
  }
  if (sink === 0) throw new Error('listener never ran');
  const { rates: measured, times, spread } = await processRates();
  const peer = measured.get('emit')!;
  const medianLatency = (samples: ReadonlyArray<{ p50: number; p99: number }>) => ({
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
  });
  const peerLatency = medianLatency(emitLatencies);
  const rates: Comparison[] = SETUPS.map((setup) => {
    const subject = measured.get(setup.name)!;
    return {
      name: `post → 10 handlers, ${setup.name}`,
      subject,
      peerName: 'node:events emit → 10 listeners',
      peer,
      // The target is on the setup that does node:events' work: in-thread delivery, nothing kept (see the notes).
      ...(setup.name === LOCAL ? { target: rateTarget(subject, peer, { minRatio: 0.5 }) } : {}),
    };
  });
  rates.push({
    name: 'post → 10 handlers, middleware + metrics',
    subject: measured.get('middleware + metrics')!,
    peerName: 'emit → 10 listeners + keep event',
    peer: measured.get('emit + keep')!,
  });
  const keepNothing = measured.get(KEEP_NOTHING)!;
  rates.push({
    name: `post → 10 handlers, ${KEEP_NOTHING}`,
    subject: keepNothing,
    peerName: 'emit → 10 listeners + keep event',
    peer: measured.get('emit + keep')!,
  });
  const plain = measured.get('plain')!;
  const withMetrics = measured.get('metrics')!;
  rates.push({
    name: 'post → 10 handlers, metrics on',
    subject: withMetrics,
    peerName: 'the same, metrics off',
    peer: plain,
    target: rateTarget(withMetrics, plain, { minRatio: 0.9 }),
  });
  const latencyRows: LatencyComparison[] = SETUPS.map((setup, index) => ({
    name: `post → 10 handlers, ${setup.name}`,
    subject: medianLatency(busLatencies[index]!),
    peerName: 'node:events emit → 10 listeners',
    peer: peerLatency,
  }));
  const notes = [
    `post → 10 handlers rates: posts per CPU second, each side in a process of its own (${PROCESS_ROUNDS} each, order rotating), the median of ${MEASURED_RUNS} runs of ${POSTS} posts after ${WARMUP_RUNS} warm-up runs, each on a new runtime, stopped and released after its run; only the runtime of a first run of ${PIN_POSTS} posts stays referenced (collected, it costs V8 a recompilation of the delivery path that a long-lived runtime never pays), so a measured run's heap holds no earlier run's history; CPU time per run: ${spread}`,
    `per round (the sides of a round run one after the other): metrics on ÷ off ${pairedRatios(times, 'metrics', 'plain')}, middleware + metrics ÷ emit ${pairedRatios(times, 'middleware + metrics', 'emit')}, ÷ emit + keep ${pairedRatios(times, 'middleware + metrics', 'emit + keep')}; ${KEEP_NOTHING} ÷ emit ${pairedRatios(times, KEEP_NOTHING, 'emit')}, ÷ emit + keep ${pairedRatios(times, KEEP_NOTHING, 'emit + keep')}; ${LOCAL} ÷ emit ${pairedRatios(times, LOCAL, 'emit')}`,
    'post(immediate) delivers before it returns: a post\'s latency is the time to the last handler; one timing pair per post adds ~50 ns to both sides',
    'middleware: one before and one after, as seed 001\'s logging middleware (counting instead of printing)',
    'every post stays in the history (and the outbox, for the station): keeping each event is most of the cost, so "emit + keep event" is the floor of a bus with a history',
    `${KEEP_NOTHING}: memory.policies { user: { removeAfterDelivery: true } }, as a pure pub/sub application would set it; no other thread, never synced: the bus history holds nothing, but its outbox holds every event for the station until a sync, so "emit + keep event" is its floor too (a sync every 4 096 posts, which lets them go, costs more than holding them: the station takes each event into its history and lets it go once no reader wants it)`,
    `${LOCAL}: the same, posted with { local: true }: delivered in the posting thread only and never held for a station, which is node:events' work (the issue's ≥ 0.5× target is on this row; the rows that keep events are compared with emit + keep, their floor)`,
  ];
  return { rates, latencies: latencyRows, notes };
}
