/**
 * busline: an actor-model event bus runtime. Buses per thread, stations per
 * process, a bridge between the internal and external sides; every bus,
 * station and the bridge is an XState v5 actor.
 *
 * This is what an application needs. Machines, the codec, the transports and
 * the wire types are for tools and tests: `busline/internal` (`internal.ts`).
 *
 * @example
 * import { createRuntime } from 'busline'
 * const runtime = createRuntime()
 * runtime.bus('external').post('user.login', { id: 7 })
 */

// Types first.
export type {
  AnyPayload,
  BridgeDirection,
  BridgeLock,
  BusEvent,
  Endpoint,
  InspectedActorRef,
  InspectedEvent,
  InspectionEvent,
  JsonValue,
  Origin,
  Payload,
  Priority,
  ReaderBacklog,
  Side,
} from './types.js';
export type { BusErrorCode, BusFullBound, EventIssue, FrameErrorReason, OptionIssue, TooLargeDetails } from './errors.js';
export type {
  ActorInfo,
  InspectorOptions,
  InternalDefault,
  ProcessorHandle,
  ProcessorInfo,
  RuntimeOptions,
  SpawnedActor,
  ThreadHandle,
} from './runtime/runtime.js';
export type { RecordingHandle, RecordingSummary, RecordOptions } from './runtime/recording/record-options.js';
export type { SpawnOptions } from './runtime/actors/user-actors.js';
export type { RuntimeConfig } from './runtime/options.js';
export type {
  EventSchemas,
  JsonOutputSchemas,
  PayloadIssue,
  PayloadSchema,
  PayloadSchemaMap,
  SchemaEvents,
  SchemaFor,
  SchemaMapFor,
  StandardSchemaV1,
} from './runtime/payload/payload-schemas.js';
export type { BusCounts, PortableQuery } from './runtime/thread/thread-service.js';
export type { SyncPolicy } from './runtime/station/sync-policy.js';
export type { RestartPolicy } from './runtime/hosting/processor-threads.js';
export type { FromStationOptions, FromStationResult, PostOptions, RoomOptions, SyncOptions } from './runtime/bus/bus-options.js';
export type { FromMainOptions } from './runtime/station/station-options.js';
export type { CloseOptions } from './runtime/bridge/bridge.js';
export type { ErrorHandler, Handler, SubscribeOptions, Subscription } from './runtime/bus/subscriptions.js';
export type { AwaitableBus, Dropped, Published } from './runtime/bus/bus-awaits.js';
export type { BeforeResult, DeliveryOutcome, Middleware, PostDraft } from './runtime/bus/middleware.js';
export type { MiddlewareModule } from './runtime/bus/middleware-modules.js';
export type { ActorMemory } from './runtime/thread/thread-service.js';
export type { BusStats, DurationSummary, MetricsOptions, RuntimeStats } from './runtime/metrics/stats.js';
export type { WaitForEventsOptions, WaitForOptions } from './runtime/bus/wait-for.js';
export type { ReplyErrorInfo, ReplyOptions, ReplyPayload, RequestOptions } from './runtime/bus/request-reply.js';
export type { HistoryQuery } from './runtime/store/history-query.js';
export type {
  Across,
  ActorFailure,
  AnyEvents,
  AnyInternalEvents,
  BuslineEvent,
  BuslineEvents,
  CrashReport,
  EventMap,
  EventOf,
  EventTypeOf,
  InputOf,
  Inputs,
  MiddlewareFailure,
  PatternMatches,
  Replies,
  ReplyEvent,
  ReplyOf,
  RequestOf,
  RequestTypeOf,
  SideEventsOf,
  StationEventOf,
} from './runtime/bus/typed-events.js';
export type { JsonCompatible, PayloadProblem } from './runtime/bus/json-compatible.js';
export type { CompressionOptions, DiscardPolicy, EventPolicy, HistoryLimits, Importance, MemoryBudgetOptions, MemoryOptions } from './runtime/store/memory-policy.js';
export type { EvictionReport, MemoryStats, MultiplierChange, RefusalReport, TypeMemory, UnsentDropReport } from './runtime/store/memory-stats.js';
export type { Clock } from './runtime/clock.js';
export type { ServiceOptions, ServiceStatusListener } from './runtime/services/service.js';
export type { DefinedService, ServiceContext, ServiceDefinition } from './runtime/services/define-service.js';
export type {
  ServiceFailure,
  ServiceFailurePhase,
  ServiceStatus,
  ServiceStatusChange,
  ServiceStatusReport,
} from './runtime/services/service-types.js';
export type { Transport } from './runtime/wire/transport.js';

// Values.
export { createRuntime, Runtime, DEFAULT_PROCESSOR_EXEC_ARGV } from './runtime/runtime.js';
export { Bus } from './runtime/bus/bus.js';
export { RemoteBus } from './runtime/bus/remote-bus.js';
export { RemoteStation } from './runtime/hosting/processor-host.js';
export { Station } from './runtime/station/station.js';
export { Bridge } from './runtime/bridge/bridge.js';
export { ManualClock } from './runtime/clock.js';
export { replyEvent, REPLY_TYPE } from './runtime/bus/request-reply.js';
export { Service } from './runtime/services/service.js';
export { defineService } from './runtime/services/define-service.js';
export { defineEvents } from './runtime/payload/payload-schemas.js';
export {
  BusError,
  isBusError,
  InvalidEventError,
  InvalidOptionError,
  EventTooLargeError,
  BridgeLockedError,
  BridgeClosedError,
  BusRetiredError,
  BusBusyError,
  BusFullError,
  AbortedError,
  TimeoutError,
  RequestTimeoutError,
  ReplyFailedError,
  UnexpectedEventError,
  UnsupportedError,
  FrameError,
  RuntimeStoppedError,
  TransportError,
  WorkerCrashedError,
  ReplayMismatchError,
  EventDroppedError,
  MiddlewareFailedError,
  ServiceFailedError,
} from './errors.js';
