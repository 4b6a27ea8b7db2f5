/**
 * A thread's share of the runtime: its two buses (one per side), the
 * subscriptions that outlive bus generations, its clock and id sequence.
 */
import type { Side } from '../types.js';
import { Bus } from './bus.js';
import { HybridClock } from './clock.js';
import type { Runtime } from './runtime.js';
import type { Station } from './station.js';
import { Subscriptions } from './subscriptions.js';

/** @internal One thread (a worker, or a processor's main thread). */
export class Thread {
  readonly processor: number;
  readonly index: number;
  readonly runtime: Runtime;
  readonly clock: HybridClock;
  readonly #idPrefix: string;
  #sequence = 0;
  readonly #buses: Record<Side, Bus>;
  readonly #subscriptions: Record<Side, Subscriptions>;
  /** Ids of events from other threads already delivered here, so a later generation never redelivers them. */
  readonly #delivered: Record<Side, Set<string>> = { internal: new Set(), external: new Set() };

  constructor(runtime: Runtime, processor: number, index: number) {
    this.runtime = runtime;
    this.processor = processor;
    this.index = index;
    this.clock = new HybridClock(runtime.clock);
    this.#idPrefix = `${processor}.${index}.`;
    const onError = runtime.subscriberErrorHandler;
    this.#subscriptions = { internal: new Subscriptions(onError), external: new Subscriptions(onError) };
    this.#buses = { internal: this.#createBus('internal', 0), external: this.#createBus('external', 0) };
  }

  #createBus(side: Side, generation: number): Bus {
    return new Bus(this, side, generation, (endpoint) => this.runtime.createBusActor(endpoint));
  }

  /** The thread's current bus of `side`. */
  bus(side: Side): Bus {
    return this.#buses[side];
  }

  /** Replaces `bus` with a new generation and returns it. */
  succeed(bus: Bus): Bus {
    const next = this.#createBus(bus.side, bus.generation + 1);
    this.#buses[bus.side] = next;
    return next;
  }

  /** A fresh event id: `<processor>.<thread>.<sequence>`. */
  nextId(): string {
    return this.#idPrefix + this.#sequence++;
  }

  subscriptions(side: Side): Subscriptions {
    return this.#subscriptions[side];
  }

  delivered(side: Side): Set<string> {
    return this.#delivered[side];
  }

  /** The local station of `side` in this thread's processor. */
  station(side: Side): Station {
    return this.runtime.station(side, this.processor);
  }

  /** Removes every event of `remove` from this thread's `scope` bus. */
  clearSide(scope: Side, remove: Side): number {
    return this.#buses[scope].clearSide(remove);
  }

  assertRunning(call: string): void {
    this.runtime.assertRunning(call);
  }
}
