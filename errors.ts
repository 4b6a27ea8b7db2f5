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
  | 'UNSUPPORTED'
  | 'FRAME_CORRUPT'
  | 'FRAME_TOO_LARGE'
  | 'RUNTIME_STOPPED'
  | 'TRANSPORT_FAILED'
  | 'WORKER_CRASHED';

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

/** True when `error` is a `BusError` (optionally with the given code). */
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

  constructor(option: string, message: string) {
    super('INVALID_OPTION', `Invalid option "${option}": ${message}`);
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
  constructor(from: string, to: string, direction: string) {
    super(
      'BRIDGE_CLOSED',
      `The ${from} side cannot reach the ${to} side while the bridge is ${direction}. ` +
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
export type BusFullBound = 'unsent' | 'queue' | 'inFlight';

/**
 * A post refused because the bus is full. `'unsent'`: it holds `maxUnsent`
 * events its station has not taken yet (the automatic sync policy's bound),
 * so the station is not keeping up; `await bus.room()` before posting more.
 * `'queue'`: the thread holds `maxQueued` deferred events (queued or parked)
 * nobody has delivered. `'inFlight'`: this thread's async subscribers of the
 * side hold their `sync.maxInFlight` credits (unsettled promises, deliveries
 * about to start); they are behind, `await bus.room()`. Nothing already
 * accepted is lost.
 */
export class BusFullError extends BusError {
  /** Which bound refused the post. */
  readonly bound: BusFullBound;
  /** How many events (or unsettled subscriber promises) the bus held under that bound. */
  readonly held: number;
  /** The bound. */
  readonly max: number;

  constructor(held: number, max: number, bound: BusFullBound = 'unsent') {
    super('BUS_FULL', fullMessage(held, max, bound));
    this.bound = bound;
    this.held = held;
    this.max = max;
  }
}

function fullMessage(held: number, max: number, bound: BusFullBound): string {
  switch (bound) {
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
 * An error as it crosses a thread or a process (in a control call's answer):
 * its code, its message, and the details of the classes that carry some.
 */
export interface WireError {
  readonly code: string;
  readonly message: string;
  /** A `BusFullError`'s `bound`, `held` and `max`. */
  readonly full?: { readonly bound: BusFullBound; readonly held: number; readonly max: number };
}

/** `error` ready to cross: a `BusError` keeps its code (others become `TRANSPORT_FAILED`) and its details. */
export function toWireError(error: unknown): WireError {
  const code = isBusError(error) ? error.code : 'TRANSPORT_FAILED';
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof BusFullError) return { code, message, full: { bound: error.bound, held: error.held, max: error.max } };
  return { code, message };
}

/** The error that crossed as `wire`, rebuilt: its class where it carries details (`BusFullError`), else a `BusError` with its code. */
export function fromWireError(wire: WireError): BusError {
  if (wire.code === 'BUS_FULL' && wire.full !== undefined) return new BusFullError(wire.full.held, wire.full.max, wire.full.bound);
  return new BusError(wire.code as BusErrorCode, wire.message);
}
