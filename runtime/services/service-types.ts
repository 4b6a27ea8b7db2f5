/**
 * The types of services (`Service`, `defineService`) that other modules name
 * too: the internal events the runtime posts about services are part of
 * `BuslineEvents` (`bus/typed-events.ts`). Types only.
 */

/**
 * Where a service is in its life. `stopped` → `starting` → `running` →
 * `stopping` → `stopped`; a start, a stop, a handler or a timer that fails
 * leaves it `failed` (with `service.error`), its subscriptions, timers and
 * waits already removed. A failed service may be started again.
 */
export type ServiceStatus = 'stopped' | 'starting' | 'running' | 'stopping' | 'failed';

/** What failed in a service: its start, its stop, one of its handlers, or one of its timers. */
export type ServiceFailurePhase = 'start' | 'stop' | 'handler' | 'timer';

/**
 * One change of a service's status: what `service.onStatus()` listeners get.
 * `error` is set when the new status is `failed`.
 */
export interface ServiceStatusChange {
  readonly name: string;
  readonly status: ServiceStatus;
  readonly previous: ServiceStatus;
  readonly error?: unknown;
}

/**
 * Payload of `busline.service.status`, posted on the internal bus of the
 * service's thread at every change of its status.
 */
export interface ServiceStatusReport {
  readonly name: string;
  readonly status: ServiceStatus;
  readonly previous: ServiceStatus;
  /** Where the service runs. */
  readonly processor: number;
  readonly thread: number;
}

/**
 * Payload of `busline.service.failed`, posted on the internal bus of the
 * service's thread when it fails (before the `busline.service.status` to
 * `failed`, or alone when a handler fails while the service stops).
 */
export interface ServiceFailure {
  readonly name: string;
  readonly phase: ServiceFailurePhase;
  /** The error's message (the error itself is `service.error`, in the service's thread). */
  readonly message: string;
  readonly processor: number;
  readonly thread: number;
}
