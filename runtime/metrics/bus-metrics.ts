/**
 * The metrics of one thread's side, recorded on the delivery path: counters
 * by type (no lookup while one type follows another) and one
 * hdr-histogram-js record per timed delivery (not per handler call; every
 * delivery at first, then a sample), so that their cost stays a small share
 * of a post's (measured in `npm run bench`).
 * Off unless `createRuntime({ metrics })` asks for them: then the thread
 * gives each side one of these, and the delivery path checks for it once.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Histogram } from 'hdr-histogram-js';
import { InvalidOptionError } from '../../errors.js';
import type { Side } from '../../types.js';
import { describe, readOnce } from '../validate.js';
import type { BusStats, DurationSummary, MetricsOptions } from './stats.js';

/** Options as the runtime runs with them. */
export interface ResolvedMetrics {
  readonly intervalMs: number | undefined;
}

/** Checks `createRuntime({ metrics })`: `undefined`/`false` is off. */
export function checkMetricsOptions(value: unknown): ResolvedMetrics | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { intervalMs: undefined };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('metrics', `expected true, false or { intervalMs }, got ${describe(value)}.`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'intervalMs') throw new InvalidOptionError(`metrics.${key}`, 'unknown option; metrics takes intervalMs.');
  }
  const { intervalMs } = readOnce(value as MetricsOptions, ['intervalMs'], [], 'metrics')!;
  if (intervalMs !== undefined && (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 0x7fff_ffff)) {
    throw new InvalidOptionError('metrics.intervalMs', `expected whole milliseconds from 1, got ${describe(intervalMs)}.`);
  }
  return { intervalMs };
}

/** Deliveries of a side that are all timed, before sampling starts. */
export const TIMED_IN_FULL = 1_024;

/**
 * Past `TIMED_IN_FULL`, one delivery in this many is timed, and recorded
 * as this many: a timed delivery (two clock reads and a record, ~200 ns)
 * in 8 cost ~3 % of post → 10 handlers; in 64, under 0.5 %. 100 000
 * deliveries still give ~2 600 timed.
 */
export const TIMING_SAMPLE = 64;

type HistogramClass = new (lowestDiscernibleValue: number, highestTrackableValue: number, significantDigits: number) => Histogram;
let Float64Histogram: HistogramClass | undefined;

/**
 * hdr-histogram-js's plain JS histogram with float counts (a sampled
 * delivery is recorded as `TIMING_SAMPLE`: 32-bit counts would wrap after
 * ~2 billion deliveries of one bucket), loaded when the first metrics are
 * made: its main entry also decodes and compiles its WebAssembly build when
 * loaded, many times the cost of this class alone, which every thread would
 * otherwise pay at start, metrics on or off. The package has
 * no `exports` map and is pinned, so its file is reachable; its main entry is the fallback.
 */
function histogramClass(): HistogramClass {
  if (Float64Histogram !== undefined) return Float64Histogram;
  const require = createRequire(import.meta.url);
  try {
    Float64Histogram = (require('hdr-histogram-js/dist/Float64Histogram.js') as { default: HistogramClass }).default;
  } catch {
    Float64Histogram = (require('hdr-histogram-js') as { Float64Histogram: HistogramClass }).Float64Histogram;
  }
  return Float64Histogram;
}

/** Durations in nanoseconds, up to an hour, to 2 significant digits, growing as needed. */
function histogram(): Histogram {
  const recorded = new (histogramClass())(1, 3_600_000_000_000, 2);
  recorded.autoResize = true;
  return recorded;
}

/** `count` is of the values recorded, which is not the histogram's total when a value was recorded as several. */
function summary(recorded: Histogram, count = recorded.totalCount): DurationSummary {
  if (count === 0) return { count, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const { minNonZeroValue: min, maxValue: max } = recorded;
  // A percentile is its bucket's highest value, which may pass the exact max (or min): kept within them.
  const at = (percentile: number) => Math.min(max, Math.max(min, recorded.getValueAtPercentile(percentile)));
  const us = (ns: number) => Math.round(ns) / 1_000;
  return { count, min: us(min), mean: us(recorded.mean), p50: us(at(50)), p90: us(at(90)), p99: us(at(99)), max: us(max) };
}

function increment(counts: Map<string, number>, key: string, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

/** The counts of one event type, changed in place: one lookup finds all of them. */
interface TypeCounts {
  posted: number;
  delivered: number;
  dropped: number;
}

/** `{ type: count }` of the types whose `key` count is above 0, in the order the types were first counted. */
function countsOf(byType: ReadonlyMap<string, TypeCounts>, key: keyof TypeCounts): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [type, typeCounts] of byType) if (typeCounts[key] > 0) counts[type] = typeCounts[key];
  return counts;
}

/** The depths a bus reports when asked. */
export interface Depths {
  readonly queued: number;
  readonly parked: number;
  readonly unsent: number;
  readonly inFlight: number;
}

/** The counters and histograms of one thread's side. */
export class BusMetrics {
  readonly thread: string;
  readonly side: Side;
  readonly #byType = new Map<string, TypeCounts>();
  /**
   * The last type counted and its counts: a post and its delivery count one
   * type, found once. `''` (never an event type) before the first, not
   * undefined: the comparison then only ever sees strings, and the optimized
   * delivery path is not thrown away when a new side's metrics first count.
   */
  #lastType = '';
  #lastCounts: TypeCounts = { posted: 0, delivered: 0, dropped: 0 };
  readonly #errorsByType = new Map<string, number>();
  readonly #errorsBySubscription = new Map<string, number>();
  #errors = 0;
  readonly #handlerTime = histogram();
  readonly #syncTime = histogram();
  #syncs = 0;
  #syncsFailed = 0;
  /** Deliveries timed so far, and deliveries left until the next one timed (1 while every one is). */
  #timed = 0;
  /** Handler times recorded (a timed delivery that no handler took is not). */
  #handlerTimes = 0;
  #untilTimed = 1;

  constructor(thread: string, side: Side) {
    this.thread = thread;
    this.side = side;
  }

  /** The counts of `type`; callers compare with `#lastType` first, so that the hot path stays small enough to inline. */
  #countsOf(type: string): TypeCounts {
    if (type === this.#lastType) return this.#lastCounts;
    let counts = this.#byType.get(type);
    if (counts === undefined) {
      counts = { posted: 0, delivered: 0, dropped: 0 };
      this.#byType.set(type, counts);
    }
    this.#lastType = type;
    this.#lastCounts = counts;
    return counts;
  }

  posted(type: string): void {
    (type === this.#lastType ? this.#lastCounts : this.#countsOf(type)).posted++;
  }

  dropped(type: string): void {
    this.#countsOf(type).dropped++;
  }

  /**
   * The start of the next delivery's timing (`performance.now()`), or 0
   * when it is not timed: each of the first `TIMED_IN_FULL` deliveries is,
   * then one in `TIMING_SAMPLE`. Two clock reads and a histogram record are
   * most of what metrics cost per event; the counts stay exact.
   */
  started(): number {
    // A countdown, not a remainder: one decrement and one comparison for the deliveries not timed.
    return --this.#untilTimed !== 0 ? 0 : this.#startTimed();
  }

  /** Apart from `started()`, which runs at every delivery: it stays small enough to inline. */
  #startTimed(): number {
    this.#untilTimed = ++this.#timed < TIMED_IN_FULL ? 1 : TIMING_SAMPLE;
    return performance.now();
  }

  /** One event reached `calls` handlers, which took from `startedMs` (from `started()`: 0 when not timed) until now. */
  delivered(type: string, calls: number, startedMs: number): void {
    if (calls === 0) return;
    (type === this.#lastType ? this.#lastCounts : this.#countsOf(type)).delivered += calls;
    if (startedMs !== 0) this.#recordHandlerTime(startedMs);
  }

  /** Apart from `delivered()`, which runs at every delivery: it stays small for the deliveries not timed. */
  #recordHandlerTime(startedMs: number): void {
    this.#handlerTimes++;
    // At least 1 ns: a record of 0 would fall outside the histogram's lowest value. A sampled
    // delivery stands for the ones skipped before it: recorded once, the first `TIMED_IN_FULL`
    // (the code still cold, slower) would weigh as much as ~65 000 deliveries after them.
    const ns = Math.max(1, Math.round((performance.now() - startedMs) * 1e6));
    this.#handlerTime.recordValueWithCount(ns, this.#timed > TIMED_IN_FULL ? TIMING_SAMPLE : 1);
  }

  /**
   * A delivery counted by `delivered()` that no handler ran: a remote
   * subscriber's filter, which runs in its caller's thread after the
   * delivery, turned the event away.
   */
  filteredOut(type: string): void {
    const counts = this.#countsOf(type);
    if (counts.delivered > 0) counts.delivered--;
  }

  failed(type: string, subscription: string): void {
    this.#errors++;
    increment(this.#errorsByType, type);
    increment(this.#errorsBySubscription, subscription);
  }

  /** Runs a `sync()`, counting it and timing it. */
  async timeSync<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let ok = false;
    try {
      const result = await run();
      ok = true;
      return result;
    } finally {
      this.#syncs++;
      if (!ok) this.#syncsFailed++;
      this.#syncTime.recordValue(Math.max(1, Math.round((performance.now() - started) * 1e6)));
    }
  }

  snapshot(depths: Depths): BusStats {
    // Handler calls in all: the sum of those by type, not a counter of its own that every delivery would add to.
    let calls = 0;
    for (const counts of this.#byType.values()) calls += counts.delivered;
    return {
      thread: this.thread,
      side: this.side,
      posted: countsOf(this.#byType, 'posted'),
      delivered: countsOf(this.#byType, 'delivered'),
      dropped: countsOf(this.#byType, 'dropped'),
      errors: {
        total: this.#errors,
        byType: Object.fromEntries(this.#errorsByType),
        bySubscription: Object.fromEntries(this.#errorsBySubscription),
        rate: calls === 0 ? 0 : this.#errors / calls,
      },
      handlerTime: summary(this.#handlerTime, this.#handlerTimes),
      depths: { ...depths },
      sync: { count: this.#syncs, failed: this.#syncsFailed, latency: summary(this.#syncTime) },
    };
  }
}
