/**
 * `busline/internal`: the parts under the public API, for tools and tests
 * (as nats.js exports `internal_mod.ts`): the statecharts, the frame codec,
 * the built-in transports, the wire types, the worker host, event ordering,
 * the clocks, and access to the private core behind `Runtime` and `Bus`.
 *
 * No stability promise: anything here may change in any release. An
 * application imports `busline`.
 *
 * @example
 * import { createRuntime } from 'busline'
 * import { busControl, runtimeCore } from 'busline/internal'
 * const runtime = createRuntime()
 * console.log(busControl.actor(runtime.bus('external')).getSnapshot().context.posted)
 * console.log(runtimeCore(runtime).bridgeActor.getSnapshot().value)
 *
 * @packageDocumentation
 */

// Types first.
export type { BridgeContext } from './machines/bridge.machine.js';
export type { BusContext, BusInput } from './machines/bus.machine.js';
export type { StationContext, StationInput } from './machines/station.machine.js';
export type { BusMachineEvent, StationMachineEvent, BridgeMachineEvent } from './machines/events.js';
export type { StationKind } from './types.js';
export type { EncodeOptions, FrameHeader, FrameLimits } from './schemas/codec/index.js';
export type { Ack, BridgeState, ClearSide, EventBatch, SyncRequest, WireMessage } from './runtime/wire/protocol.js';
export type { Receiver, TransportStats } from './runtime/wire/transport.js';
export type {
  UntypedWorkerApi,
  WorkerApi,
  WorkerContext,
  WorkerExit,
  WorkerExitReason,
  WorkerHandle,
  WorkerOptions,
} from './runtime/hosting/worker-api.js';
export type { BusControl } from './runtime/bus/bus-control.js';
export type { RuntimeCore } from './runtime/runtime-core.js';
export type { ResolvedRuntimeOptions } from './runtime/options.js';

// Values.
export { bridgeMachine, canReach, clearingsFor } from './machines/bridge.machine.js';
export { busMachine } from './machines/bus.machine.js';
export { stationMachine } from './machines/station.machine.js';
export { decodeFrame, encodeFrame, readFrameHeader, DEFAULT_FRAME_LIMITS } from './schemas/codec/index.js';
export { InMemoryTransport, FrameTransport } from './runtime/wire/transport.js';
export { startWorker } from './runtime/hosting/worker-host.js';
export { serveWorker } from './runtime/hosting/serve-worker.js';
export { compareEvents, typeMatches } from './runtime/store/history.js';
export { HybridClock, systemClock } from './runtime/clock.js';
export { SIDES, PRIORITIES, otherSide } from './types.js';
export { parseRuntimeOptions } from './runtime/options.js';
export { runtimeCore } from './runtime/runtime-core.js';
export { busControl } from './runtime/bus/bus-control.js';
