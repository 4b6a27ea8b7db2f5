/**
 * A processor of the embedded runtime: the host of its threads' buses and of
 * its local stations, in the root's thread. Everything it answers comes from
 * the runtime's core (`runtime-core.ts`), which it knows by the calls it
 * makes on it (`EmbeddedCore`), so that the core can create it without an
 * import cycle.
 */
import type { Actor } from 'xstate';
import type { busMachine } from '../machines/bus.machine.js';
import type { BridgeDirection, Endpoint, Side } from '../types.js';
import type { Middleware } from './bus/middleware.js';
import type { ErrorHandler } from './bus/subscriptions.js';
import type { Clock } from './clock.js';
import type { InspectionTap } from './inspection/tap.js';
import type { ResolvedMetrics } from './metrics/bus-metrics.js';
import type { ResolvedRuntimeOptions } from './options.js';
import type { PayloadSchemas } from './payload/payload-schemas.js';
import type { StationHost, StationLink, ThreadHost } from './station/links.js';
import type { MemoryPolicies } from './store/memory-policy.js';

/** What an embedded processor asks of the runtime's core. */
export interface EmbeddedCore {
  readonly options: ResolvedRuntimeOptions;
  readonly running: boolean;
  readonly inspection: { readonly tap: InspectionTap };
  readonly bridge: { readonly locked: boolean };
  requestSync(): void;
  assertRunning(call: string): void;
  bridgeDirection(): BridgeDirection;
  mainLink(side: Side): StationLink;
  createBusActor(endpoint: Endpoint): Actor<typeof busMachine>;
}

/** A processor of the embedded runtime: hosts its threads' buses and its local stations in this thread. */
export class EmbeddedProcessor implements ThreadHost, StationHost {
  readonly #core: EmbeddedCore;
  readonly processor: number;
  links: Record<Side, StationLink> | undefined;
  readonly middleware: readonly Middleware[];
  readonly metrics: ResolvedMetrics | undefined;

  constructor(core: EmbeddedCore, processor: number) {
    this.#core = core;
    this.processor = processor;
    ({ middleware: this.middleware, metrics: this.metrics } = core.options);
  }

  get clock(): Clock {
    return this.#core.options.clock;
  }

  get deferred(): 'idle' | 'manual' {
    return this.#core.options.deferred;
  }

  get maxQueued(): number {
    return this.#core.options.maxQueued;
  }

  get running(): boolean {
    return this.#core.running;
  }

  get subscriberErrorHandler(): ErrorHandler {
    return this.#core.options.onError;
  }

  get inspection(): InspectionTap {
    return this.#core.inspection.tap;
  }

  get maxBatch(): number | undefined {
    return this.#core.options.syncLimits?.maxBatch;
  }

  get maxUnsent(): number | undefined {
    return this.#core.options.syncLimits?.maxUnsent;
  }

  get maxInFlight(): number | undefined {
    return this.#core.options.syncLimits?.maxInFlight;
  }

  get maxBacklog(): number | undefined {
    return this.#core.options.syncLimits?.maxBacklog;
  }

  get memory(): MemoryPolicies {
    return this.#core.options.memory;
  }

  get schemas(): PayloadSchemas {
    return this.#core.options.schemas;
  }

  requestSync(): void {
    this.#core.requestSync();
  }

  assertRunning(call: string): void {
    this.#core.assertRunning(call);
  }

  bridgeDirection(): BridgeDirection {
    return this.#core.bridgeDirection();
  }

  bridgeLocked(): boolean {
    return this.#core.bridge.locked;
  }

  stationLink(side: Side): StationLink {
    return this.links![side];
  }

  mainLink(side: Side): StationLink {
    return this.#core.mainLink(side);
  }

  createBusActor(endpoint: Endpoint): Actor<typeof busMachine> {
    return this.#core.createBusActor(endpoint);
  }
}
