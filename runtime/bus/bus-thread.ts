/**
 * What a bus needs from the thread it belongs to. The thread
 * (`thread/thread.ts`) creates its buses and implements this; the bus knows
 * only the interface, so the two modules do not import each other.
 */
import type { Side } from '../../types.js';
import type { HybridClock } from '../clock.js';
import type { ThreadHost } from '../station/links.js';
import type { DeliveredMark } from './delivered-mark.js';
import type { Pipeline } from './middleware.js';
import type { Subscriptions } from './subscriptions.js';

/** A bus's thread; `B` is the bus type its generations have. */
export interface BusThread<B> {
  readonly processor: number;
  readonly index: number;
  readonly host: ThreadHost;
  readonly clock: HybridClock;
  /** A fresh event id. */
  nextId(): string;
  /** How many ids `nextId()` has given: the last one's sequence is this minus one. */
  readonly issued: number;
  /** The id `nextId()` gives for `sequence`. */
  idOf(sequence: number): string;
  /** The thread's current bus of `side`, its latest generation (a service reaches its bus and the internal side through it). */
  bus(side: Side): B;
  /** Replaces `bus` with its next generation and returns it. */
  succeed(bus: B): B;
  /** This thread's deferred events of `side` parked at the stations (not yet read back). */
  parked(side: Side): number;
  /** Records what a station said of this thread's parked events (ignored when it said nothing). */
  noteParked(side: Side, parked: number | undefined): void;
  /** How many times the parked count of `side` was set. */
  parkedNotes(side: Side): number;
  /** The subscriptions of `side`: they belong to the thread and outlive bus generations. */
  subscriptions(side: Side): Subscriptions;
  /** The middleware of `side`: the runtime's and the buses' (`bus.use()`), which outlive bus generations too. */
  pipeline(side: Side): Pipeline;
  /** What the subscribers of `side` have been delivered of the station of side `read`. */
  delivered(side: Side, read: Side): DeliveredMark;
  assertRunning(call: string): void;
  /** Calls `stopped` when the thread halts (at once if it has); returns what forgets it. */
  whenHalted(stopped: () => void): () => void;
}
