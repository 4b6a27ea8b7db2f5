/**
 * The messages that travel between buses, stations and the bridge. Every hop
 * that crosses a thread or a process carries them as frames of
 * `schemas/codec/`; in one thread the in-memory transport passes them as is.
 */
import type { BridgeDirection, BusEvent, Endpoint, Side } from '../../types.js';
import type { WireError } from './wire-errors.js';
import type { SyncPolicy } from '../station/sync-policy.js';
import type { InspectionBatch } from '../inspection/tap.js';
import type { FailureReport } from '../thread/failure-reports.js';
import type { MemoryOptions } from '../store/memory-policy.js';
import type { ResolvedMetrics } from '../metrics/bus-metrics.js';
import type { MiddlewareModuleSpec } from '../bus/middleware-modules.js';

/**
 * A batch of events for one hop: a bus's `toStation()`, a station's reply to
 * `fromStation()`, a local station's `toMain()`, a main station's reply to `fromMain()`.
 * `history` is sorted by `(timestamp, id)`; `queue` holds accepted, undelivered events.
 */
export interface EventBatch {
  readonly kind: 'batch';
  /** Correlates a reply with its request; 0 when unused. */
  readonly seq: number;
  readonly from: Endpoint;
  readonly history: readonly BusEvent[];
  readonly queue: readonly BusEvent[];
  /**
   * A request too large for one frame travels as several batches of one
   * seq (`FrameChannel`): all but the last say `more`, and the receiver takes
   * them as one batch once the last has arrived. Absent: false.
   */
  readonly more?: boolean;
}

/** A request for a station's history (`fromStation`, `fromMain`). */
export interface SyncRequest {
  readonly kind: 'syncRequest';
  readonly seq: number;
  readonly from: Endpoint;
  /** Only these types (with subtype matching); all when absent. */
  readonly types?: readonly string[];
  /** The side whose station is read. */
  readonly side: Side;
  /**
   * Only history that arrived at the station after this arrival number: what
   * the reader has not merged yet (the `through` of its last unfiltered read).
   * Absent or 0: the whole history.
   */
  readonly since?: number;
  /**
   * At most this many history events, the earliest arrivals first (a reader
   * whose subscribers are behind asks for no more than it has credits for);
   * the reply's `through` says how far it got. Absent: no limit.
   */
  readonly limit?: number;
  /**
   * The reader has delivered every event that arrived at the station through
   * this arrival number: the reply's history puts those first (each part in
   * order) and the closing Ack's `alreadyDelivered` counts them, so that a
   * new bus generation reading the whole history does not deliver them again.
   * Absent or 0: none.
   */
  readonly deliveredThrough?: number;
  /**
   * The type patterns the reader is interested in: the patterns of its
   * thread's subscriptions on its side (see `runtime/station/interest.ts`).
   * A station holds an event that leaves once delivered for this reader only
   * if one of them matches its type. Absent: every type.
   */
  readonly interest?: readonly string[];
}

/** Remove every event of side `remove` from the stores of side `scope`. */
export interface ClearSide {
  readonly kind: 'clearSide';
  readonly seq: number;
  readonly remove: Side;
  readonly scope: Side;
}

/** The bridge's state, as broadcast to processors and threads. */
export interface BridgeState {
  readonly kind: 'bridgeState';
  readonly seq: number;
  readonly direction: BridgeDirection;
  readonly locked: boolean;
}

/** Acknowledges a message; carries the error when it was refused, and flow-control credits. */
export interface Ack {
  readonly kind: 'ack';
  readonly seq: number;
  readonly ok: boolean;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** With `errorCode`: the refusal's own fields (`WireError.details`) as JSON text. */
  readonly errorDetails?: string;
  /** How many more batches the receiver accepts before the sender must wait. */
  readonly credits: number;
  /** Closing the reply to a sync request: the station's arrival number the reply is complete through. */
  readonly through?: number;
  /** Answering a bus's batch or read: how many of its thread's deferred events the stations hold parked (not yet read back). */
  readonly parked?: number;
  /** Closing the reply to a sync request with `deliveredThrough`: how many of the reply's first history events arrived through it. */
  readonly alreadyDelivered?: number;
}

/** Every message of the data and control planes. */
export type WireMessage = EventBatch | SyncRequest | ClearSide | BridgeState | Ack;

/** What a processor (a child process) is started with. */
export interface ProcessorInit {
  readonly processor: number;
  readonly threads: number;
  readonly deferred: 'idle' | 'manual';
  /** The bound on each thread's deferred events per side (bus queue and parked). */
  readonly maxQueued: number;
  readonly bridge: BridgeDirection;
  /** Its workers' call deadline; the root's heartbeat of the processor uses it too. */
  readonly callDeadlineMs?: number;
  /** How long each of its worker threads may take to start (`threadStartDeadlineMs`). */
  readonly threadStartDeadlineMs?: number;
  readonly restart?: { readonly maxRestarts: number; readonly withinMs: number };
  /** Heap limits of each worker thread (Node's `resourceLimits`). */
  readonly workerLimits?: { readonly maxOldGenerationSizeMb?: number; readonly maxYoungGenerationSizeMb?: number };
  /** How many times this processor was restarted. */
  readonly incarnation?: number;
  /** The automatic sync policy, if any. */
  readonly sync?: SyncPolicy;
  /** Where this processor's stations keep their journal (an lmdb directory); none when absent. */
  readonly journal?: string;
  /** Inspection is on: the processor's actors and threads send their inspection records to the root. */
  readonly inspect?: boolean;
  /** The runtime's memory policies (`createRuntime({ memory })`), checked again by the processor. */
  readonly memory?: MemoryOptions;
  /** Set when the runtime records metrics: every bus of the processor records them. */
  readonly metrics?: ResolvedMetrics;
  /** The runtime's middleware modules: the processor and each of its workers load them before they serve. */
  readonly middleware?: readonly MiddlewareModuleSpec[];
  /** Set when the runtime's clock is a `ManualClock`: the processor and its threads follow it from this time (`clock` messages). */
  readonly clockAt?: number;
}

/** A control call's answer across a thread or process: its value, or the error with its code (and details). */
export type Outcome<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & WireError);

/**
 * Control messages from the root to a processor over the IPC channel. Frames
 * (`Uint8Array`) share the channel; they are the data plane.
 */
export type ProcessorControl =
  | { readonly type: 'init'; readonly init: ProcessorInit }
  | {
      readonly type: 'call';
      readonly id: number;
      readonly target: 'thread';
      readonly thread: number;
      /** The incarnation of the thread's worker the caller was made for (0: its first; thread 0 is never restarted alone): refused unless current. */
      readonly incarnation: number;
      readonly method: string;
      readonly args: readonly unknown[];
    }
  | {
      readonly type: 'call';
      readonly id: number;
      readonly target: 'station';
      readonly side: Side;
      readonly method: string;
      readonly args: readonly unknown[];
    }
  | { readonly type: 'actors'; readonly id: number }
  /** The metrics and memory of the processor's stations and of every bus of its threads (`runtime.stats()`). */
  | { readonly type: 'stats'; readonly id: number }
  /** Turns inspection on in the processor and its threads. */
  | { readonly type: 'inspect'; readonly id: number }
  /** The runtime's `ManualClock` moved: answered once the processor and its threads have run their timers due by `now`. */
  | { readonly type: 'clock'; readonly id: number; readonly now: number }
  | { readonly type: 'stop'; readonly id: number }
  /** The root's heartbeat: answered `pong` by the processor's main thread at once; one that answers nothing is hung. */
  | { readonly type: 'ping' };

/** Control messages from a processor to the root. */
export type ProcessorReport =
  | { readonly type: 'ready' }
  /** The answer to a `ping`. */
  | { readonly type: 'pong' }
  /** `refused`: the start refused its configuration (an `InvalidOptionError`, such as a middleware module a worker cannot load). */
  | { readonly type: 'failed'; readonly message: string; readonly refused?: WireError }
  | { readonly type: 'result'; readonly id: number; readonly outcome: Outcome<unknown> }
  /** A worker thread was restarted: its successor's buses start again at generation 0; `incarnation` is the successor's (1 for the first). */
  | { readonly type: 'threadReplaced'; readonly thread: number; readonly incarnation: number }
  /** Inspection records of the processor's actors and threads; the next batch comes once this one is written. */
  | { readonly type: 'inspection'; readonly batch: InspectionBatch }
  /** A subscriber or an after middleware threw in one of its threads: the root's `onError` hears it. */
  | { readonly type: 'failure'; readonly report: FailureReport };
