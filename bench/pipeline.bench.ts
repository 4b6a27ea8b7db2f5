/**
 * The delivery pipeline (issue 22, "Done when"): publish → 10 handlers, with
 * and without middleware and metrics, against node:events with the same 10
 * listeners in the same run; throughput and per-post latency (p50, p99); the
 * cost of metrics, on against off; and against emit that keeps each event, as
 * a history does.
 */
import { EventEmitter } from 'node:events';
import { createRuntime, type Middleware, type RuntimeOptions } from '../index.js';
import type { BusEvent } from '../types.js';
import { median, percentile, rate, rateTarget, type Comparison, type LatencyComparison } from './harness.js';

const ROUNDS = 7;
const POSTS = 100_000;
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

interface Setup {
  readonly name: string;
  readonly options: RuntimeOptions;
}

const SETUPS: readonly Setup[] = [
  { name: 'plain', options: {} },
  { name: 'metrics', options: { metrics: true } },
  { name: 'middleware + metrics', options: { metrics: true } },
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

/** publish → 10 handlers (immediate: delivered before post() returns), against node:events emit → 10 listeners. */
export async function pipelineVersusEmit(): Promise<{ rates: Comparison[]; latencies: LatencyComparison[]; notes: string[] }> {
  let sink = 0;
  const listener = (payload: { n: number }) => {
    sink += payload.n;
  };
  const busListener = (event: BusEvent) => listener(event.payload as { n: number });
  const emitRates: number[] = [];
  const emitKeepRates: number[] = [];
  const emitLatencies: Array<{ p50: number; p99: number }> = [];
  const busRates = SETUPS.map((): number[] => []);
  const busLatencies = SETUPS.map((): Array<{ p50: number; p99: number }> => []);
  for (let round = 0; round < ROUNDS; round++) {
    const emitter = new EventEmitter();
    for (let s = 0; s < SUBSCRIBERS; s++) emitter.on('user.login', listener);
    emitRates.push(
      rate(POSTS, () => {
        for (let i = 0; i < POSTS; i++) emitter.emit('user.login', { user: 'u1', n: i });
      }),
    );
    emitLatencies.push(latencies((n) => emitter.emit('user.login', { user: 'u1', n })));
    // The floor for anything with a history (as in the core bench): emit, and keep each event.
    const kept: object[] = [];
    emitKeepRates.push(
      rate(POSTS, () => {
        for (let i = 0; i < POSTS; i++) {
          const payload = { user: 'u1', n: i };
          kept.push({ id: `0.0.${i}`, type: 'user.login', timestamp: Date.now(), payload });
          emitter.emit('user.login', payload);
        }
      }),
    );
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
      busRates[index]!.push(
        rate(POSTS, () => {
          for (let i = 0; i < POSTS; i++) bus.post('user.login', { user: 'u1', n: i }, { priority: 'immediate' });
        }),
      );
      busLatencies[index]!.push(latencies((n) => bus.post('user.login', { user: 'u1', n }, { priority: 'immediate' })));
      if (setup.name.startsWith('middleware') && middleware.seen !== 2 * (POSTS + LATENCY_SAMPLES)) throw new Error('middleware skipped events');
      if (setup.options.metrics === true && bus.stats()!.delivered['user.login'] !== SUBSCRIBERS * (POSTS + LATENCY_SAMPLES)) {
        throw new Error('metrics missed deliveries');
      }
      await runtime.stop();
    }
  }
  if (sink === 0) throw new Error('listener never ran');
  const peer = median(emitRates);
  const medianLatency = (samples: ReadonlyArray<{ p50: number; p99: number }>) => ({
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
  });
  const peerLatency = medianLatency(emitLatencies);
  const rates: Comparison[] = SETUPS.map((setup, index) => {
    const subject = median(busRates[index]!);
    return {
      name: `post → 10 handlers, ${setup.name}`,
      subject,
      peerName: 'node:events emit → 10 listeners',
      peer,
      ...(setup.name === 'middleware + metrics' ? { target: rateTarget(subject, peer, { minRatio: 0.5 }) } : {}),
    };
  });
  const full = SETUPS.findIndex((setup) => setup.name === 'middleware + metrics');
  rates.push({
    name: 'post → 10 handlers, middleware + metrics',
    subject: median(busRates[full]!),
    peerName: 'emit → 10 listeners + keep event',
    peer: median(emitKeepRates),
  });
  const plain = median(busRates[0]!);
  const withMetrics = median(busRates[1]!);
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
    'post(immediate) delivers before it returns: a post\'s latency is the time to the last handler; one timing pair per post adds ~50 ns to both sides',
    'middleware: one before and one after, as seed 001\'s logging middleware (counting instead of printing)',
    'every post stays in the history (and the outbox, for the station): keeping each event is most of the cost, so "emit + keep event" is the floor of a bus with a history',
  ];
  return { rates, latencies: latencyRows, notes };
}
