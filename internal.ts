/**
 * `busline/internal`: the parts under the public API, for tools and tests
 * (as nats.js exports `internal_mod.ts`): the statecharts, the frame codec,
 * the built-in transports, the wire types, event ordering, the clocks, and
 * access to the private core behind `Runtime` and `Bus`.
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
 */

// Types first.
export type { BridgeContext } from './machines/bridge.machine.js';
export type { BusContext, BusInput } from './machines/bus.machine.js';
export type { StationContext, StationInput, StationKind } from './machines/station.machine.js';
export type { Ack, BridgeState, ClearSide, EventBatch, SyncRequest, WireMessage } from './runtime/wire/protocol.js';
export type { Receiver, TransportStats } from './runtime/wire/transport.js';
export type { BusControl } from './runtime/bus/bus.js';
export type { RuntimeCore } from './runtime/runtime-core.js';
export type { ResolvedRuntimeOptions } from './runtime/options.js';

// Values.
export { bridgeMachine, canReach, clearingsFor } from './machines/bridge.machine.js';
export { busMachine } from './machines/bus.machine.js';
export { stationMachine } from './machines/station.machine.js';
export { encodeFrame, decodeFrame } from './schemas/codec.js';
export { InMemoryTransport, FrameTransport } from './runtime/wire/transport.js';
export { compareEvents, typeMatches } from './runtime/store/history.js';
export { HybridClock, systemClock } from './runtime/clock.js';
export { SIDES, PRIORITIES, otherSide } from './types.js';
export { parseRuntimeOptions } from './runtime/options.js';
export { runtimeCore } from './runtime/runtime.js';
export { busControl } from './runtime/bus/bus.js';
