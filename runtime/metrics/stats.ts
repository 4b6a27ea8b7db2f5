/**
 * What `bus.stats()` and `runtime.stats()` return: plain, JSON-compatible
 * data (they are posted as `busline.stats` events when asked for).
 */
import type { Side } from '../../types.js';
import type { MemoryStats } from '../store/memory-stats.js';

/** Percentiles of recorded durations, in microseconds (hdr-histogram-js, 2 significant digits). */
export interface DurationSummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The metrics of one thread's side (its buses of every generation): counts since the runtime started. */
export interface BusStats {
  /** `<processor>.<thread>`. */
  readonly thread: string;
  readonly side: Side;
  /** Events posted here, by type. */
  readonly posted: Readonly<Record<string, number>>;
  /** Handler calls, by event type (one event reaching 3 handlers counts 3). */
  readonly delivered: Readonly<Record<string, number>>;
  /** Posts a `before` middleware dropped, by type. */
  readonly dropped: Readonly<Record<string, number>>;
  readonly errors: {
    /** Handler errors (throws and rejections), in all. */
    readonly total: number;
    /** Handler errors by event type. */
    readonly byType: Readonly<Record<string, number>>;
    /** Handler errors by subscription: `<n>:<patterns>` (its n-th subscription on this side). */
    readonly bySubscription: Readonly<Record<string, number>>;
    /** Handler errors per handler call. */
    readonly rate: number;
  };
  /**
   * Time the handlers of one event took in this thread (their synchronous
   * part: an async handler counts until it returns its promise). Every
   * delivery of the side's first 1 024 is timed, then one in 64, recorded
   * as the 64 deliveries it stands for: `count` is the deliveries timed,
   * the mean and percentiles estimate those of every delivery (timing is
   * most of what metrics cost per event).
   */
  readonly handlerTime: DurationSummary;
  readonly depths: {
    /** Deferred events in the bus's queue. */
    readonly queued: number;
    /** This thread's deferred events parked at the stations. */
    readonly parked: number;
    /** Events the station has not taken yet. */
    readonly unsent: number;
    /** Subscriber promises not settled yet. */
    readonly inFlight: number;
  };
  /** `sync()` calls (the automatic policy's included) and how long each took, in microseconds. */
  readonly sync: { readonly count: number; readonly failed: number; readonly latency: DurationSummary };
}

/** What `runtime.stats()` returns. */
export interface RuntimeStats {
  /** The runtime clock's time when taken. */
  readonly at: number;
  /**
   * One entry per side of every thread whose buses record metrics: the
   * root's, embedded processors', worker threads' and child processors'
   * (`thread` says which, `<processor>.<thread>`).
   */
  readonly buses: readonly BusStats[];
  /**
   * One entry per history with a memory budget (`memory.budget`): every
   * bus of every thread, every local station and the main stations, each
   * with its bytes, count, multipliers and types (`history` names it).
   */
  readonly memory: readonly MemoryStats[];
  /** Threads (`<processor>.<thread>`) or child processors (`<processor>`) that did not answer: crashed or restarting. */
  readonly unavailable: readonly string[];
  /** Totals over `buses`. */
  readonly posted: number;
  readonly delivered: number;
  readonly errors: number;
}

/** `createRuntime({ metrics })`: `true`, or an object (which turns metrics on). */
export interface MetricsOptions {
  /** Post `runtime.stats()` (every thread's and processor's) as a `busline.stats` event on the root's internal bus every `intervalMs` of the runtime's clock. */
  readonly intervalMs?: number;
}
