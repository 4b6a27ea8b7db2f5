/**
 * The data types every part of busline shares: events, sides, priorities and
 * where an event came from. Runtime objects (buses, stations, the bridge) are
 * described next to their implementations in `runtime/`.
 */

/** Which side of the bridge an event belongs to: the runtime's own events or the user's. */
export type Side = 'internal' | 'external';

/** Both sides, in a fixed order. */
export const SIDES: readonly Side[] = Object.freeze(['internal', 'external'] as const);

/** The other side of the bridge. */
export function otherSide(side: Side): Side {
  return side === 'internal' ? 'external' : 'internal';
}

/**
 * When a posted event reaches subscribers:
 * - `immediate`: before `post()` returns;
 * - `normal`: in the next microtask batch;
 * - `deferred`: parked in the bus queue until `drain()` (or the thread is idle).
 */
export type Priority = 'immediate' | 'normal' | 'deferred';

/** The three priorities, most urgent first. */
export const PRIORITIES: readonly Priority[] = Object.freeze(['immediate', 'normal', 'deferred'] as const);

/** JSON-compatible data: what a payload may hold besides raw bytes. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** An event payload: JSON-compatible data, or raw bytes. */
export type Payload = JsonValue | Uint8Array;

/**
 * The payload of any event, as a bare `BusEvent` types it: `Payload`, or an
 * object of a declared type. An `interface` payload has no index signature,
 * so `Payload` refuses it: with `Payload` here, `BusEvent<Login>` would not
 * be a `BusEvent`. Narrow it to read it, or name the type: `BusEvent<Login>`.
 */
export type AnyPayload = Payload | object;

/** Where an event was stamped: processor, thread, and the generation of that thread's bus. */
export interface Origin {
  /** Processor index; 0 is the root process. */
  readonly processor: number;
  /** Thread index inside the processor; 0 is the processor's main thread. */
  readonly thread: number;
  /** Bus generation: 0 for a thread's first bus, +1 after each `toStation()`. */
  readonly generation: number;
}

/**
 * One event. Immutable once posted.
 *
 * - `id` is unique across the runtime (`<processor>.<thread>.<sequence>`) and is
 *   the deduplication key everywhere.
 * - `timestamp` is a hybrid logical clock reading in milliseconds: the integer
 *   part is wall-clock milliseconds, the fraction a counter in 1/2048 steps, so
 *   one origin never stamps two events alike and `new Date(timestamp)` still works.
 * - Order everywhere is `(timestamp, id)`.
 *
 * `P` is the payload's type and `T` the event type's: on a typed runtime
 * (`createRuntime<Events>()`) events are unions of `BusEvent<Events[T], T>`,
 * so checking `event.type` narrows `event.payload`. A bare `BusEvent` is any
 * event (payload `AnyPayload`): every `BusEvent<P, T>` is one, so a function
 * taking `BusEvent` takes the events of any runtime.
 *
 * @example
 * interface Login { id: number }
 * function log(event: BusEvent): void { console.log(event.type, event.payload) }
 * log(runtime.bus().post('user.login', { id: 7 } satisfies Login))
 */
export interface BusEvent<P = AnyPayload, T extends string = string> {
  readonly id: string;
  /** Dot-separated; a subscription to `user` also matches `user.login`. */
  readonly type: T;
  readonly side: Side;
  readonly timestamp: number;
  readonly origin: Origin;
  readonly priority: Priority;
  readonly topic?: string;
  readonly payload: P;
  readonly meta?: Readonly<Record<string, string>>;
}

/** Identifies one bus or station end of a hop: where it runs and which side it serves. */
export interface Endpoint {
  readonly processor: number;
  readonly thread: number;
  readonly generation: number;
  readonly side: Side;
}

/** A local station (per processor and side) or a main station (per side, in the root). */
export type StationKind = 'local' | 'main';

/** The direction region of the bridge. */
export type BridgeDirection = 'closed' | 'open' | 'oneWayExternal' | 'oneWayInternal';

/** The lock region of the bridge. */
export type BridgeLock = 'unlocked' | 'locked';

/** An actor as an inspection event names it. */
export interface InspectedActorRef {
  readonly sessionId: string;
  getSnapshot(): unknown;
}

/** The XState event an inspection event is about. */
export interface InspectedEvent {
  readonly type: string;
}

interface InspectionBase {
  /** The session id of the actor's root. */
  readonly rootId: string;
  readonly actorRef: InspectedActorRef;
  /** The processor the actor runs in (0: the root process). */
  readonly processor: number;
  /** Its thread, or null for a station or the bridge (they belong to a processor, not to one of its threads). */
  readonly thread: number | null;
  /** The actor's id: `bus:<processor>.<thread>:<side>#<generation>`, `station:…`, `bridge`, or a spawned actor's. */
  readonly actorId: string;
}

/**
 * What `createRuntime({ inspect })` receives: XState's inspection events, for
 * every actor of the runtime, tagged with where the actor runs. Actors of the
 * root process report every XState inspection event, as it happens; actors of
 * worker threads and child processors report `@xstate.actor`, `@xstate.event`
 * and `@xstate.snapshot` (what `@statelyai/inspect` carries), batched, in
 * order per actor, their `actorRef.getSnapshot()` answering the last snapshot
 * the root has seen. Declared here with the fields XState v5 sends
 * rather than imported from xstate, so that the published types do not pull in
 * xstate's declarations (which fail a consumer's type check under
 * `exactOptionalPropertyTypes` without `skipLibCheck`).
 */
export type InspectionEvent =
  | (InspectionBase & { readonly type: '@xstate.actor' })
  | (InspectionBase & { readonly type: '@xstate.event'; readonly event: InspectedEvent; readonly sourceRef: InspectedActorRef | undefined })
  | (InspectionBase & {
      readonly type: '@xstate.snapshot' | '@xstate.transition' | '@xstate.microstep';
      readonly event: InspectedEvent;
      readonly snapshot: unknown;
    })
  | (InspectionBase & { readonly type: '@xstate.action'; readonly action: { readonly type: string; readonly params: unknown } });

/** Where one reader stands, as `station.backlog()` reports it. */
export interface ReaderBacklog {
  readonly processor: number;
  /** The reading thread; `null` when the reader is the processor's local station (at a main station). */
  readonly thread: number | null;
  readonly behind: number;
}
