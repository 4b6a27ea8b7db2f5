/**
 * `busControl`: the calls the runtime's own modules make on a bus, kept off
 * the public `Bus` class. `Bus` fills it in from a class static block (which
 * shares its private members with its own module only). It lives in a module
 * of its own so that the published types of `Bus` never refer to it, nor to
 * XState's actor types (a strict consumer type-checks them without
 * `skipLibCheck`). Each call takes a `Bus`; anything else throws a TypeError.
 */
import type { Actor } from 'xstate';
import type { busMachine } from '../../machines/bus.machine.js';
import type { Side } from '../../types.js';
import type { FromStationResult } from './bus-options.js';
import type { BusThread } from './bus-thread.js';

/**
 * The calls the runtime's own modules make on a bus (its thread, the sync
 * policy, the runtime's stop), kept off the public class; tools and tests get
 * them from `busline/internal`.
 */
export interface BusControl {
  /** The bus actor, for stopping it and for tests. */
  actor(bus: object): Actor<typeof busMachine>;
  /**
   * The automatic sync policy's `sync()`. A call of the user's
   * (`fromStation()`, `sync()`, `toStation()`) made meanwhile waits for it
   * instead of being refused as busy; the policy's sync skips (BUS_BUSY) a
   * bus that is busy with the user's.
   */
  autoSync(bus: object): Promise<FromStationResult>;
  /** A subscriber's promise settled: see `BackPressure.subscribersSettled()`. */
  subscribersSettled(bus: object): void;
  /** The runtime or thread stops: producers waiting for room hear so. */
  halt(bus: object): void;
  /** Removes every event of `side` (a bridge clearing). Returns how many. */
  clearSide(bus: object, side: Side): number;
  /** The thread the bus belongs to: services reach its clock, its current buses and its halt through it. */
  thread(bus: object): BusThread<object>;
}


const calls: Partial<BusControl> = {};

/** The calls the runtime's own modules make on buses, e.g. `busControl.halt(bus)`: the public `Bus` has none of them. */
export const busControl: BusControl = {
  actor: (bus) => calls.actor!(bus),
  autoSync: (bus) => calls.autoSync!(bus),
  subscribersSettled: (bus) => calls.subscribersSettled!(bus),
  halt: (bus) => calls.halt!(bus),
  clearSide: (bus, side) => calls.clearSide!(bus, side),
  thread: (bus) => calls.thread!(bus),
};

/** Called once, by `Bus`'s static block. */
export function provideBusControl(control: BusControl): void {
  Object.assign(calls, control);
}
