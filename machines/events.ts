/**
 * The events each statechart accepts. They are protocol steps (one per call,
 * batch or sync step), never one per posted bus event.
 */
import type { BridgeDirection, Side } from '../types.js';

/** Posts and deliveries not yet reported, carried by the step that ends a sync call (saves an ACTIVITY step). */
export interface ActivityReport {
  readonly posted: number;
  readonly delivered: number;
  readonly lastId: string | null;
}

/** Events of a bus actor. */
export type BusMachineEvent =
  /** A flushed batch of posts and deliveries (sent once per batch, not per event). */
  | { type: 'ACTIVITY'; posted: number; delivered: number; queued: number; lastId: string | null }
  /** `toStation()` begins: the bus hands its history and queue over. */
  | { type: 'TO_STATION' }
  /** The station accepted the batch. */
  | { type: 'HANDED_OVER'; events: number; activity?: ActivityReport }
  /** The hop failed; the events went to the successor bus instead. */
  | { type: 'HANDOVER_FAILED'; reason: string }
  /** `fromStation()` begins. */
  | { type: 'FROM_STATION'; side: Side }
  /** The station's reply was merged. */
  | { type: 'RECEIVED'; added: number; queued: number; activity?: ActivityReport }
  /**
   * The call failed. A read that failed changed nothing; a `sync()` whose
   * batch failed after its read arrived merged that read (`added`, `queued`).
   */
  | { type: 'RECEIVE_FAILED'; reason: string; added?: number; queued?: number }
  /** Events of the other side were removed by a bridge clearing. */
  | { type: 'CLEARED'; removed: number };

/** Events of a station actor. */
export type StationMachineEvent =
  /** A batch (from a bus, or for a main station from a local station) is in the history and queue. */
  | { type: 'MERGED'; added: number; size: number; queued: number }
  /** A reader took a snapshot (a bus's `fromStation()` or a local station's `fromMain()`). */
  | { type: 'SERVED'; events: number; handedBack: number }
  /** A local station's `toMain()` begins / ends. */
  | { type: 'TO_MAIN' }
  | { type: 'PUSHED'; events: number }
  /** A local station's `fromMain()` begins / ends. */
  | { type: 'FROM_MAIN' }
  | { type: 'PULLED'; added: number }
  /** The upstream hop failed; nothing was lost. */
  | { type: 'UPSTREAM_FAILED'; reason: string }
  /** Events of the other side were removed by a bridge clearing. */
  | { type: 'CLEARED'; removed: number };

/** Options of the bridge commands that close at least one direction. */
export interface ClearOption {
  readonly clearOtherSide?: boolean;
}

/** Events of the bridge actor. */
export type BridgeMachineEvent =
  | { type: 'OPEN' }
  | ({ type: 'CLOSE' } & ClearOption)
  | ({ type: 'ONLY_TO_EXTERNAL' } & ClearOption)
  | ({ type: 'ONLY_TO_INTERNAL' } & ClearOption)
  | ({ type: 'LOCK' } & ClearOption)
  | { type: 'UNLOCK' };

/** One clearing the bridge asks for: remove events of side `remove` from every store of side `scope`. */
export interface ClearRequest {
  readonly remove: Side;
  readonly scope: Side;
}

/** The bridge directions, for iteration. */
export const BRIDGE_DIRECTIONS: readonly BridgeDirection[] = Object.freeze([
  'closed',
  'open',
  'oneWayExternal',
  'oneWayInternal',
] as const);
