/**
 * Every error busline throws on purpose is a `BusError` with a stable `code`
 * and a message that says what to do about it.
 */

/** The stable codes of busline's errors. */
export type BusErrorCode =
  | 'INVALID_EVENT'
  | 'INVALID_OPTION'
  | 'EVENT_TOO_LARGE'
  | 'BRIDGE_LOCKED'
  | 'BRIDGE_CLOSED'
  | 'BUS_RETIRED'
  | 'BUS_BUSY'
  | 'BUS_FULL'
  | 'ABORTED'
  | 'TIMEOUT'
  | 'UNEXPECTED_EVENT'
  | 'UNSUPPORTED'
  | 'FRAME_CORRUPT'
  | 'FRAME_TOO_LARGE'
  | 'RUNTIME_STOPPED'
  | 'TRANSPORT_FAILED'
  | 'WORKER_CRASHED'
  | 'REPLAY_MISMATCH'
  | 'SERVICE_FAILED';

/**
 * Base class of every error busline raises on purpose.
 *
 * @example
 * try { bus.post('', {}) } catch (error) {
 *   if (isBusError(error) && error.code === 'INVALID_EVENT') console.error(error.message)
 * }
 */
export class BusError extends Error {
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * True when `error` is a `BusError` (optionally with the given code), also for
 * errors that crossed a thread or a process.
 *
 * @example
 * await bus.toStation().catch((error) => {
 *   if (isBusError(error, 'BUS_BUSY')) return retryLater()
 *   throw error
 * })
 */
export function isBusError(error: unknown, code?: BusErrorCode): error is BusError {
  return error instanceof BusError && (code === undefined || error.code === code);
}

/** An event that cannot be posted: bad type, payload that can't be encoded, bad options. */
export class InvalidEventError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_EVENT', message, options);
  }
}

/** An option that is unknown or has a value outside what is allowed. */
export class InvalidOptionError extends BusError {
  /** The option's path, e.g. `sync.everyMs`. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('INVALID_OPTION', `Invalid option "${option}": ${message}`, options);
    this.option = option;
  }
}

/** An event larger than the size limit of its type. */
export class EventTooLargeError extends BusError {
  constructor(message: string) {
    super('EVENT_TOO_LARGE', message);
  }
}

/** A bridge command refused because the bridge is locked. */
export class BridgeLockedError extends BusError {
  constructor(command: string) {
    super(
      'BRIDGE_LOCKED',
      `bridge.${command}() was refused: the bridge is locked. Call bridge.unlock() first; ` +
        'a locked bridge stays closed so that one side can be tested on its own.',
    );
  }
}

/** A read across the bridge that its direction does not allow. */
export class BridgeClosedError extends BusError {
  /** `locked`: the bridge is locked, which refuses opening it until `bridge.unlock()`. */
  constructor(from: string, to: string, direction: string, locked = false) {
    super(
      'BRIDGE_CLOSED',
      locked
        ? `The ${from} side cannot reach the ${to} side while the bridge is locked (and so ${direction}). ` +
            `Call bridge.unlock() first, then open it or make it one-way towards ${to}.`
        : `The ${from} side cannot reach the ${to} side while the bridge is ${direction}. ` +
            `Open it (bridge.open()) or make it one-way towards ${to} first.`,
    );
  }
}

/** A call on a bus that has handed over to its successor with `toStation()`. */
export class BusRetiredError extends BusError {
  constructor(what: string) {
    super(
      'BUS_RETIRED',
      `${what}: this bus has retired after toStation(). Use the bus that toStation() returned, ` +
        'or runtime.bus(side) for the thread\'s current bus.',
    );
  }
}

/** A sync call while another sync call on the same bus or station is still running. */
export class BusBusyError extends BusError {
  constructor(call: string, running: string, where = 'this bus') {
    super('BUS_BUSY', `${call}() was refused: ${running}() on ${where} has not finished. Await it first.`);
  }
}

/** Which bound a `BusFullError` hit. */
export type BusFullBound = 'unsent' | 'queue' | 'inFlight' | 'backlog' | 'limit';

/**
 * A post refused because the bus is full. `'unsent'`: it holds `maxUnsent`
 * events its station has not taken yet (the automatic sync policy's bound),
 * so the station is not keeping up; `await bus.room()` before posting more.
 * `'queue'`: the thread holds `maxQueued` deferred events (queued or parked)
 * nobody has delivered. `'inFlight'`: this thread's async subscribers of the
 * side hold their `sync.maxInFlight` credits (unsettled promises, deliveries
 * about to start); they are behind, `await bus.room()`. `'backlog'`: not a
 * post but a batch (a sync, a `toStation()`) refused by the station, one of
 * whose readers has `sync.maxBacklog` events it has not read yet; the events
 * stay unsent in the bus for a later sync. `'limit'`: a history limit with
 * `discard: 'refuseNew'` (`memory` options, named by `limit`) is reached, at
 * the bus (a post) or its station (a batch, whose events stay unsent).
 * Nothing already accepted is lost.
 */
export class BusFullError extends BusError {
  /** Which bound refused the post. */
  readonly bound: BusFullBound;
  /** How many events (or unsettled subscriber promises) the bus held under that bound. */
  readonly held: number;
  /** The bound. */
  readonly max: number;
  /** With `bound: 'limit'`: the option that set it, e.g. `memory.limits.maxEvents`. */
  declare readonly limit?: string;

  constructor(held: number, max: number, bound: BusFullBound = 'unsent', limit?: string) {
    super('BUS_FULL', fullMessage(held, max, bound, limit));
    this.bound = bound;
    this.held = held;
    this.max = max;
    if (limit !== undefined) this.limit = limit;
  }
}

function fullMessage(held: number, max: number, bound: BusFullBound, limit = 'a memory limit'): string {
  switch (bound) {
    case 'limit':
      return (
        `The history is full: it holds ${held} under ${limit} (${max}), whose discard is 'refuseNew', so new events are refused. ` +
        "Let events leave (removeAfterDelivery, removeAfterSearch, ttlMs), raise the limit, or use discard: 'oldest'."
      );
    case 'unsent':
      return (
        `post() was refused: ${held} events of this bus wait for its station (sync.maxUnsent is ${max}). ` +
        'The station is not keeping up; await bus.room() before posting more.'
      );
    case 'queue':
      return (
        `post() of a deferred event was refused: this thread holds ${held} deferred events, in its bus queue and parked ` +
        `at its stations (maxQueued is ${max}). Deliver them first: bus.drain(), or let the thread go idle ` +
        "(deferred: 'idle'); parked ones come back with fromStation()."
      );
    case 'inFlight':
      return (
        `post() was refused: this thread's async subscribers hold ${held} credits (unsettled promises, and deliveries ` +
        `about to start; sync.maxInFlight is ${max}). The subscribers are behind; await bus.room() before posting more.`
      );
    case 'backlog':
      return (
        `The station refused this batch: ${held} events wait there for a reader whose subscribers are behind (unread by ` +
        `it, or, for a reader in another processor, not yet taken by the main station; sync.maxBacklog is ${max}). ` +
        'Nothing was lost: the events stay unsent in this bus and a later sync offers them again; await bus.room() ' +
        'before posting more.'
      );
  }
}

/** A wait given up because its `AbortSignal` aborted; the signal's reason is the `cause`. */
export class AbortedError extends BusError {
  constructor(call: string, reason: unknown) {
    super('ABORTED', `${call}() was given up: its signal aborted (${String(reason)}). Nothing else changed.`, { cause: reason });
  }
}

/** A wait (`bus.waitFor`, `bus.waitForEvents`) that ran out of time; the message says what it still missed. */
export class TimeoutError extends BusError {
  /** The timeout, in milliseconds of the runtime's clock. */
  readonly timeout: number;

  constructor(message: string, timeout: number) {
    super('TIMEOUT', message);
    this.timeout = timeout;
  }
}

/**
 * `bus.waitForEvents()` saw an event it was told not to expect: out of order
 * (`inOrder`), or one more of its types within the grace period.
 */
export class UnexpectedEventError extends BusError {
  /** The type of the event that came unexpectedly. */
  readonly eventType: string;

  constructor(message: string, eventType: string) {
    super('UNEXPECTED_EVENT', message);
    this.eventType = eventType;
  }
}

/** A call that this kind of object does not support. */
export class UnsupportedError extends BusError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}

/** Why a frame was refused. */
export type FrameErrorReason =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'BAD_VERSION'
  | 'BAD_FLAGS'
  | 'LENGTH_MISMATCH'
  | 'TOO_LARGE'
  | 'CHECKSUM'
  | 'DECOMPRESS'
  | 'MALFORMED';

/** A frame that failed verification. Nothing from it was decoded. */
export class FrameError extends BusError {
  readonly reason: FrameErrorReason;

  constructor(reason: FrameErrorReason, message: string, options?: { cause?: unknown }) {
    super(reason === 'TOO_LARGE' ? 'FRAME_TOO_LARGE' : 'FRAME_CORRUPT', `Frame refused (${reason}): ${message}`, options);
    this.reason = reason;
  }
}

/**
 * A run's transitions are not the expected ones (`assertTransitions`,
 * `assertReplay` of `busline/testing`): the message is a readable diff
 * around the first step that differs (`step`, 0-based).
 */
export class ReplayMismatchError extends BusError {
  readonly step: number;

  constructor(diff: string, step: number) {
    super('REPLAY_MISMATCH', diff);
    this.step = step;
  }
}

/** A call on a runtime that has been stopped. */
export class RuntimeStoppedError extends BusError {
  constructor(call: string) {
    super('RUNTIME_STOPPED', `${call}() was refused: the runtime has stopped. Create a new one with createRuntime().`);
  }
}

/** A transport failed to carry a batch; the batch was not accepted and nothing was lost. */
export class TransportError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSPORT_FAILED', message, options);
  }
}

/** A worker or processor died while a call to it was pending. */
export class WorkerCrashedError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WORKER_CRASHED', message, options);
  }
}

/**
 * A service's start or stop failed (`start()` and `stop()` reject with it);
 * `cause` is what its `onStart()`, `onStop()`, a handler or a timer threw.
 */
export class ServiceFailedError extends BusError {
  /** The service's name. */
  readonly service: string;
  /** What failed: `start`, `stop`, `handler` or `timer` (a handler or timer that failed during the start). */
  readonly phase: string;

  constructor(service: string, phase: string, cause?: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('SERVICE_FAILED', `Service "${service}" failed (${phase}): ${reason}. Its subscriptions, timers and waits are released; start() it again once the cause is fixed.`, { cause });
    this.service = service;
    this.phase = phase;
  }
}

/**
 * An error as it crosses a thread or a process (in a control call's answer
 * or a refusing Ack): its code, its message, and the fields its class adds.
 */
export interface WireError {
  readonly code: string;
  readonly message: string;
  /** The class's own fields (`BusFullError`'s `bound`, `held`, `max`; `FrameError`'s `reason`; ...). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** The class of each code: an error rebuilt after crossing is an instance of the class it was thrown as. */
const CLASS_OF_CODE: Readonly<Record<BusErrorCode, abstract new (...args: never[]) => BusError>> = {
  INVALID_EVENT: InvalidEventError,
  INVALID_OPTION: InvalidOptionError,
  EVENT_TOO_LARGE: EventTooLargeError,
  BRIDGE_LOCKED: BridgeLockedError,
  BRIDGE_CLOSED: BridgeClosedError,
  BUS_RETIRED: BusRetiredError,
  BUS_BUSY: BusBusyError,
  BUS_FULL: BusFullError,
  ABORTED: AbortedError,
  TIMEOUT: TimeoutError,
  UNEXPECTED_EVENT: UnexpectedEventError,
  UNSUPPORTED: UnsupportedError,
  FRAME_CORRUPT: FrameError,
  FRAME_TOO_LARGE: FrameError,
  RUNTIME_STOPPED: RuntimeStoppedError,
  TRANSPORT_FAILED: TransportError,
  WORKER_CRASHED: WorkerCrashedError,
  REPLAY_MISMATCH: ReplayMismatchError,
  SERVICE_FAILED: ServiceFailedError,
};

/** Fields every error has; the rest of an error's own fields are its class's details. */
const COMMON_FIELDS = new Set(['code', 'message', 'name', 'stack', 'cause']);

/** `error` ready to cross: a `BusError` keeps its code (others become `TRANSPORT_FAILED`) and its class's fields. */
export function toWireError(error: unknown): WireError {
  const code = isBusError(error) ? error.code : 'TRANSPORT_FAILED';
  const message = error instanceof Error ? error.message : String(error);
  if (!isBusError(error)) return { code, message };
  const details: Record<string, string | number | boolean> = {};
  let any = false;
  for (const [key, value] of Object.entries(error)) {
    if (COMMON_FIELDS.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      details[key] = value;
      any = true;
    }
  }
  return any ? { code, message, details } : { code, message };
}

/**
 * The error that crossed as `wire`, rebuilt as an instance of its class (by
 * its code), with its message and its class's fields; an unknown code gives
 * a plain `BusError`.
 */
export function fromWireError(wire: WireError): BusError {
  const error = new BusError(wire.code as BusErrorCode, wire.message);
  const errorClass = CLASS_OF_CODE[wire.code as BusErrorCode];
  if (errorClass !== undefined) {
    Object.setPrototypeOf(error, errorClass.prototype);
    error.name = errorClass.name;
  }
  if (wire.details !== undefined) {
    for (const [key, value] of Object.entries(wire.details)) {
      if (!COMMON_FIELDS.has(key)) (error as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return error;
}
