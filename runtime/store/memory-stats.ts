/**
 * What memory budgets report (`memory-budget.ts`): the stats of a history
 * and the payloads of the `busline.memory.*` internal events. Types only, so
 * that the published types reach nothing of the stores.
 */

/** Which kind of history a budget bounds. */
export type HistoryKind = 'bus' | 'station';

/** What one event type takes in a history. */
export interface TypeMemory {
  readonly count: number;
  readonly bytes: number;
}

/** `bus.memory()`, `station.memory()`: what a history holds against its budget. */
export interface MemoryStats {
  /** The history: `bus:<processor>.<thread>:<side>` or `station:<kind>:<processor>:<side>`. */
  readonly history: string;
  /** Events held. */
  readonly count: number;
  /** Bytes held (encoded size). */
  readonly bytes: number;
  /** The budget in bytes. */
  readonly budget: number;
  /** Multipliers below 1 by policy key, a type or a pattern (a key absent here is at 1). */
  readonly multipliers: { readonly [type: string]: number };
  /** Events and bytes by event type. */
  readonly types: { readonly [type: string]: TypeMemory };
  /** Events evicted to meet the budget so far. */
  readonly evicted: number;
  /**
   * Bytes of the received frames the history keeps alive (a station keeps
   * each event in the frame it came in; a bus what its syncs framed; 0 for
   * a history of objects), each buffer once: those of the held events, and
   * those a station keeps besides (frames of events that left, until its
   * arrival order and eviction queues let go of them; of events it has not
   * pushed to the main station yet). Not counted against the budget:
   * evicting more events would not free them. A frame whose events are less
   * than half held has them copied into a frame of their own, so this stays
   * within about twice `bytes`, plus the latest batches, as long as a local
   * station pushes to the main station (the sync policy does; under manual
   * syncs it keeps the frames of at most its budget's worth of events the
   * main station has not taken, letting the oldest `low` and `normal` ones
   * go past that).
   */
  readonly frameBytes: number;
  /**
   * What `memory.compression` has moved into blocks: events (counted in
   * `count` too) and the bytes the blocks keep (their compressed frames and
   * filters). Zeros without compression, or before its idle steps have run.
   */
  readonly compressed: { readonly count: number; readonly bytes: number };
  /** A bus's, a local station's: the events its station (main station) has not taken yet (its outbox, held to the same budget), and their bytes. */
  readonly unsent?: { readonly count: number; readonly bytes: number };
}

/** Payload of `busline.memory.multiplier`: a type's size-limit multiplier went down (over budget) or back up. */
export interface MultiplierChange {
  readonly history: string;
  /** The policy's key, a type or a pattern (its `sizeLimit` is multiplied). */
  readonly type: string;
  readonly multiplier: number;
  readonly previous: number;
  /** The size limit now in force: `sizeLimit × multiplier`, bytes. */
  readonly limit: number;
  readonly bytes: number;
  readonly budget: number;
}

/** Payload of `busline.memory.evicted`: one round of eviction to meet the budget. */
export interface EvictionReport {
  readonly history: string;
  readonly count: number;
  /** Bytes freed. */
  readonly freed: number;
  /** The types evicted, each once. */
  readonly types: readonly string[];
  /** Bytes held after it. */
  readonly bytes: number;
  readonly budget: number;
}

/**
 * Payload of `busline.memory.dropped`: one round of unsent events a bus let
 * go under manual syncs, its outbox (what its station has not seen) being
 * at its budget: its station never gets them. The oldest go, `low` first,
 * then `normal`; `high` never. Shaped as an eviction's report: `history`
 * names the bus (`bus:<processor>.<thread>:<side>`), `bytes` is what stays
 * unsent after it.
 */
export type UnsentDropReport = EvictionReport;

/**
 * Payload of `busline.memory.refused`: new events refused under memory
 * pressure, by the budget (`reason: 'budget'`) or by a size limit a lowered
 * multiplier set (`'sizeLimit'`). One report per episode: the next comes
 * after the budget's state changed (a multiplier, an eviction).
 */
export interface RefusalReport {
  readonly history: string;
  readonly reason: 'budget' | 'sizeLimit';
  readonly type: string;
  readonly size: number;
  /** The limit that refused it: the budget, or `sizeLimit × multiplier`, bytes. */
  readonly limit: number;
  readonly bytes: number;
}

/** A change of a history's budget state, to be posted as an internal event of its type. */
export type MemoryChange =
  | { readonly type: 'busline.memory.multiplier'; readonly payload: MultiplierChange }
  | { readonly type: 'busline.memory.evicted'; readonly payload: EvictionReport }
  | { readonly type: 'busline.memory.dropped'; readonly payload: UnsentDropReport }
  | { readonly type: 'busline.memory.refused'; readonly payload: RefusalReport };
