/**
 * The seams between a bus or station and the station it syncs with. A
 * `StationLink` is the way to one station: in this thread (through a
 * `Transport`, which may encode every hop as frames), or across a port or an
 * IPC channel to another thread or process. Buses and stations only ever talk
 * to links, so the same classes run in the root, a processor and a worker.
 */
import type { Actor } from 'xstate';
import type { busMachine } from '../machines/bus.machine.js';
import type { BridgeDirection, Endpoint, Side } from '../types.js';
import type { Clock } from './clock.js';
import type { EventBatch, SyncRequest } from './protocol.js';
import type { Station } from './station.js';
import type { ErrorHandler } from './subscriptions.js';
import type { Transport } from './transport.js';

/** The way to one station. */
export interface StationLink {
  /** Carries a batch to the station, which merges it; resolves once it is accepted. */
  accept(batch: EventBatch): Promise<void>;
  /** Carries a read to the station and its reply back. */
  serve(request: SyncRequest): Promise<EventBatch>;
}

/** What a thread and its buses need from where they run. */
export interface ThreadHost {
  readonly clock: Clock;
  readonly deferred: 'idle' | 'manual';
  readonly running: boolean;
  readonly subscriberErrorHandler: ErrorHandler;
  assertRunning(call: string): void;
  /** The bridge's direction as this thread knows it. */
  bridgeDirection(): BridgeDirection;
  /** The link to this processor's local station of `side`. */
  stationLink(side: Side): StationLink;
  createBusActor(endpoint: Endpoint): Actor<typeof busMachine>;
}

/** What a local station needs from where it runs. */
export interface StationHost {
  assertRunning(call: string): void;
  bridgeDirection(): BridgeDirection;
  /** The link to the main station of `side`. */
  mainLink(side: Side): StationLink;
}

/**
 * A link to a station in this thread: every message crosses `transport` (so a
 * frame transport encodes and decodes each hop), then the station handles it.
 */
export class DirectStationLink implements StationLink {
  readonly #station: Station;
  readonly #transport: Transport;

  constructor(station: Station, transport: Transport) {
    this.#station = station;
    this.#transport = transport;
  }

  async accept(batch: EventBatch): Promise<void> {
    const carried = await this.#transport.carry(batch);
    if (carried.kind !== 'batch') throw new TypeError(`transport returned a ${carried.kind} for a batch`);
    this.#station.accept(carried);
  }

  /** Parked queue entries taken for a reply that never arrives go back to the station. */
  async serve(request: SyncRequest): Promise<EventBatch> {
    const carried = await this.#transport.carry(request);
    if (carried.kind !== 'syncRequest') throw new TypeError(`transport returned a ${carried.kind} for a sync request`);
    const reply = this.#station.serve(carried);
    try {
      const back = await this.#transport.carry(reply);
      if (back.kind !== 'batch') throw new TypeError(`transport returned a ${back.kind} for a batch`);
      return back;
    } catch (error) {
      this.#station.restoreParked(reply.queue);
      throw error;
    }
  }
}
