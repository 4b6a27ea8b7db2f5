/**
 * The metrics of one thread's side, recorded on the delivery path: counters
 * in `Map`s (one lookup per post and per delivered event) and one
 * hdr-histogram-js record per delivered event, not per handler call, so that
 * their cost stays a small share of a post's (measured in `npm run bench`).
 * Off unless `createRuntime({ metrics })` asks for them: then the thread
 * gives each side one of these, and the delivery path checks for it once.
 */
import { InvalidOptionError } from '../../errors.js';
import { build, type Histogram } from 'hdr-histogram-js';
import type { Side } from '../../types.js';
import { describe } from '../validate.js';
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
  const { intervalMs } = value as MetricsOptions;
  if (intervalMs !== undefined && (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 0x7fff_ffff)) {
    throw new InvalidOptionError('metrics.intervalMs', `expected whole milliseconds from 1, got ${describe(intervalMs)}.`);
  }
  return { intervalMs };
}

/** Durations in nanoseconds, up to an hour, to 2 significant digits. */
function histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 2, autoResize: true });
}

function summary(recorded: Histogram): DurationSummary {
  const count = recorded.totalCount;
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
  readonly #posted = new Map<string, number>();
  readonly #delivered = new Map<string, number>();
  readonly #dropped = new Map<string, number>();
  readonly #errorsByType = new Map<string, number>();
  readonly #errorsBySubscription = new Map<string, number>();
  #errors = 0;
  #calls = 0;
  readonly #handlerTime = histogram();
  readonly #syncTime = histogram();
  #syncs = 0;
  #syncsFailed = 0;

  constructor(thread: string, side: Side) {
    this.thread = thread;
    this.side = side;
  }

  posted(type: string): void {
    increment(this.#posted, type);
  }

  dropped(type: string): void {
    increment(this.#dropped, type);
  }

  /** One event reached `calls` handlers, which took from `startedMs` (`now()`) until now. */
  delivered(type: string, calls: number, startedMs: number): void {
    if (calls === 0) return;
    increment(this.#delivered, type, calls);
    this.#calls += calls;
    // At least 1 ns: a record of 0 would fall outside the histogram's lowest value.
    this.#handlerTime.recordValue(Math.max(1, Math.round((performance.now() - startedMs) * 1e6)));
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
    return {
      thread: this.thread,
      side: this.side,
      posted: Object.fromEntries(this.#posted),
      delivered: Object.fromEntries(this.#delivered),
      dropped: Object.fromEntries(this.#dropped),
      errors: {
        total: this.#errors,
        byType: Object.fromEntries(this.#errorsByType),
        bySubscription: Object.fromEntries(this.#errorsBySubscription),
        rate: this.#calls === 0 ? 0 : this.#errors / this.#calls,
      },
      handlerTime: summary(this.#handlerTime),
      depths: { ...depths },
      sync: { count: this.#syncs, failed: this.#syncsFailed, latency: summary(this.#syncTime) },
    };
  }
}
