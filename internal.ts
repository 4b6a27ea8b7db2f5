/**
 * `busline/internal`: the pieces behind the public API, for tools and tests:
 * the statecharts, the frame codec, the transports, the wire types and the
 * worker host. No semver promise: these change with the runtime.
 *
 * @example
 * import { encodeFrame, decodeFrame } from 'busline/internal'
 * const frame = encodeFrame({ kind: 'ack', seq: 1, ok: true, credits: 8 })
 * console.log(decodeFrame(frame))
 *
 * @packageDocumentation
 */

// Types first.
export type { BridgeContext } from './machines/bridge.machine.js';
export type { BusContext, BusInput } from './machines/bus.machine.js';
export type { StationContext, StationInput, StationKind } from './machines/station.machine.js';
export type { BusMachineEvent, StationMachineEvent, BridgeMachineEvent } from './machines/events.js';
export type { EncodeOptions, FrameHeader, FrameLimits } from './schemas/codec.js';
export type { Receiver, Transport, TransportStats } from './runtime/wire/transport.js';
export type { Ack, BridgeState, ClearSide, EventBatch, SyncRequest, WireMessage } from './runtime/wire/protocol.js';
export type {
  UntypedWorkerApi,
  WorkerApi,
  WorkerContext,
  WorkerExit,
  WorkerExitReason,
  WorkerHandle,
  WorkerOptions,
} from './runtime/hosting/worker-host.js';

// Values.
export { bridgeMachine, canReach, clearingsFor } from './machines/bridge.machine.js';
export { busMachine } from './machines/bus.machine.js';
export { stationMachine } from './machines/station.machine.js';
export { decodeFrame, encodeFrame, readFrameHeader, DEFAULT_FRAME_LIMITS } from './schemas/codec.js';
export { FrameTransport, InMemoryTransport } from './runtime/wire/transport.js';
export { serveWorker, startWorker } from './runtime/hosting/worker-host.js';
