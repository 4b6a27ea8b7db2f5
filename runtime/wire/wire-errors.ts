/**
 * Errors as they cross a thread or a process: a `BusError` as plain data
 * (`WireError`: code, message, its class's fields) and back, an instance of
 * the class it was thrown as.
 */
import {
  BusError,
  AbortedError,
  BridgeClosedError,
  BridgeLockedError,
  BusBusyError,
  BusFullError,
  BusRetiredError,
  EventDroppedError,
  EventTooLargeError,
  FrameError,
  InvalidEventError,
  InvalidOptionError,
  MiddlewareFailedError,
  ReplayMismatchError,
  ReplyFailedError,
  RequestTimeoutError,
  RuntimeStoppedError,
  ServiceFailedError,
  TimeoutError,
  TransportError,
  UnexpectedEventError,
  UnsupportedError,
  WorkerCrashedError,
  isBusError,
  type BusErrorCode,
} from '../../errors.js';

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
  REQUEST_TIMEOUT: RequestTimeoutError,
  REPLY_FAILED: ReplyFailedError,
  UNEXPECTED_EVENT: UnexpectedEventError,
  UNSUPPORTED: UnsupportedError,
  FRAME_CORRUPT: FrameError,
  FRAME_TOO_LARGE: FrameError,
  RUNTIME_STOPPED: RuntimeStoppedError,
  TRANSPORT_FAILED: TransportError,
  WORKER_CRASHED: WorkerCrashedError,
  REPLAY_MISMATCH: ReplayMismatchError,
  EVENT_DROPPED: EventDroppedError,
  MIDDLEWARE_FAILED: MiddlewareFailedError,
  SERVICE_FAILED: ServiceFailedError,
};

/** True when `code` is one of busline's error codes. */
export function isBusErrorCode(code: string): code is BusErrorCode {
  return Object.hasOwn(CLASS_OF_CODE, code);
}

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
    if (key === 'issues' && Array.isArray(value)) {
      // As JSON text: a value that JSON cannot hold (a function given as an option) crosses as its description.
      details[key] = JSON.stringify(value, (_, item: unknown) => (typeof item === 'function' || typeof item === 'bigint' || typeof item === 'symbol' ? `[${typeof item}]` : item));
      any = true;
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      details[key] = value;
      any = true;
    }
  }
  return any ? { code, message, details } : { code, message };
}

/** Issues that crossed as JSON text, each with the fields its kind has (a `value` JSON left out is `undefined` again). */
function issuesFromJson(text: string): readonly unknown[] {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return Object.freeze([]);
    return Object.freeze(
      parsed.map((issue: Record<string, unknown>) =>
        'allowed' in issue ? { path: issue.path, value: issue.value, allowed: issue.allowed, message: issue.message } : { path: issue.path, message: issue.message },
      ),
    );
  } catch {
    return Object.freeze([]);
  }
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
  if (errorClass === InvalidEventError || errorClass === InvalidOptionError) (error as unknown as { issues: readonly never[] }).issues = Object.freeze([]);
  if (wire.details !== undefined) {
    for (const [key, value] of Object.entries(wire.details)) {
      // A class's fields are its own: what the error inherits (toString, constructor, ...) is never replaced by a peer's.
      if (COMMON_FIELDS.has(key) || (key in error && !Object.hasOwn(error, key))) continue;
      (error as unknown as Record<string, unknown>)[key] = key === 'issues' && typeof value === 'string' ? issuesFromJson(value) : value;
    }
  }
  return error;
}
