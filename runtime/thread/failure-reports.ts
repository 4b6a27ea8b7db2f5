/**
 * Failures of a worker thread or child processor, on their way to the root's
 * `onError`. A function cannot cross threads, so the root's `onError` cannot
 * run where a subscriber or an `after` middleware threw: that thread sends a
 * report (the error and a copy of the event) to its host, which hands it on
 * (a child processor to the root over IPC), and the root calls its `onError`
 * with the error rebuilt. Reports travel beside the frames, on ports of their
 * own, as inspection records do: they are no bus events.
 */
import { BusError, isBusError } from '../../errors.js';
import { fromWireError, toWireError, type WireError } from '../wire/wire-errors.js';
import type { BusEvent } from '../../types.js';
import type { ErrorHandler } from '../bus/subscriptions.js';
import type { CrashReport } from '../bus/typed-events.js';

/** What a thread sends: where it failed, what was thrown, and on which event. */
export interface FailureReport {
  readonly busline: 'failure';
  readonly processor: number;
  readonly thread: number;
  readonly error: PortableError;
  /** The event's fields (a structured-clonable copy). */
  readonly event: Partial<BusEvent>;
}

/** An error as it crosses: a `BusError` keeps its code and fields, any other its name, message and stack. */
interface PortableError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly wire?: WireError;
  /** What the error's `cause` said (a throwing middleware's own error). */
  readonly cause?: { readonly name: string; readonly message: string; readonly stack?: string };
}

/** Where a thread's reports go: a `MessagePort` to its host, or the host's own function (a processor's thread 0). */
export interface FailureOutlet {
  postMessage(report: FailureReport): void;
}

/** The fields of a `BusEvent` a report copies (a lazily decoded event's getters are read once here). */
const EVENT_FIELDS = ['id', 'type', 'side', 'timestamp', 'origin', 'priority', 'topic', 'payload', 'meta'] as const;

function portable(error: unknown): PortableError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const cause: unknown = error.cause;
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(isBusError(error) ? { wire: toWireError(error) } : {}),
    ...(cause === undefined
      ? {}
      : cause instanceof Error
        ? { cause: { name: cause.name, message: cause.message, ...(cause.stack === undefined ? {} : { stack: cause.stack }) } }
        : { cause: { name: 'Error', message: String(cause) } }),
  };
}

/** `error` on `event` in thread `processor.thread`, ready to cross. */
export function failureReport(processor: number, thread: number, error: unknown, event: BusEvent): FailureReport {
  const copy: Record<string, unknown> = {};
  for (const field of EVENT_FIELDS) {
    const value = event[field];
    if (value !== undefined) copy[field] = value;
  }
  return { busline: 'failure', processor, thread, error: portable(error), event: copy as Partial<BusEvent> };
}

/**
 * The error handler of a worker thread or a child processor's thread:
 * reports go to `outlet`; without one (or if it cannot take the report) the
 * error is logged, as the root's default `onError` would.
 */
export function reportingErrorHandler(outlet: FailureOutlet | undefined, processor: number, thread: number): ErrorHandler {
  return (error, event) => {
    if (outlet !== undefined) {
      try {
        outlet.postMessage(failureReport(processor, thread, error, event));
        return;
      } catch {
        // A payload that cannot be cloned, or the host is gone: the log below is all there is.
      }
    }
    console.error(`[busline] a subscriber of "${event.type}" (event ${event.id}) in thread ${processor}.${thread} failed:`, error);
  };
}

/** True when `value` has the shape of a report (what arrives is from another thread: checked, never trusted). */
export function isFailureReport(value: unknown): value is FailureReport {
  if (typeof value !== 'object' || value === null) return false;
  const report = value as Partial<FailureReport>;
  return (
    report.busline === 'failure' &&
    typeof report.processor === 'number' &&
    typeof report.thread === 'number' &&
    typeof report.error === 'object' && report.error !== null &&
    typeof report.error.message === 'string' &&
    typeof report.event === 'object' && report.event !== null
  );
}

/** Built-in error classes a non-busline error is rebuilt as, by name. */
const BUILT_IN: Readonly<Record<string, ErrorConstructor>> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

function rebuild(error: PortableError['cause'] & {}): Error {
  // Own names only: `toString` or `constructor` must not pick Object.prototype's members.
  const rebuilt = new ((Object.hasOwn(BUILT_IN, error.name) ? BUILT_IN[error.name] : undefined) ?? Error)(error.message);
  if (rebuilt.name !== error.name) rebuilt.name = error.name;
  if (error.stack !== undefined) rebuilt.stack = error.stack;
  return rebuilt;
}

/**
 * The error and event of `report`, as the root's `onError` gets them: a
 * `BusError` of its own class (code and fields kept), any other error as an
 * `Error` (of its built-in class, if it was one) with the thrown name,
 * message and stack; `cause` rebuilt the same way. Either has `processor`
 * and `thread` fields naming the thread where it failed.
 */
export function fromFailureReport(report: FailureReport): [Error & { readonly processor: number; readonly thread: number }, BusEvent] {
  const { error } = report;
  const rebuilt: Error = error.wire === undefined ? rebuild(error) : fromWireError(error.wire);
  if (rebuilt instanceof BusError && error.stack !== undefined) rebuilt.stack = error.stack;
  if (error.cause !== undefined) Object.defineProperty(rebuilt, 'cause', { value: rebuild(error.cause), writable: true, configurable: true });
  return [Object.assign(rebuilt, { processor: report.processor, thread: report.thread }), report.event as BusEvent];
}

/** Calls `onError` with what `report` says failed; an `onError` that throws is logged. */
export function deliverFailure(onError: ErrorHandler, report: FailureReport): void {
  let failure: ReturnType<typeof fromFailureReport>;
  try {
    failure = fromFailureReport(report);
  } catch (unreadable) {
    console.error(`[busline] a failure reported by thread ${report.processor}.${report.thread} could not be rebuilt:`, unreadable, report.error);
    return;
  }
  const [error, event] = failure;
  try {
    onError(error, event);
  } catch (secondary) {
    console.error('[busline] an onError handler threw while handling an error reported by another thread', secondary, error);
  }
}

/**
 * Hands `message`, as it came from another thread or process, to
 * `onFailure`; one that is no report is logged, and nothing it does throws
 * out of the port's or channel's message listener (the host must not die of it).
 */
export function takeFailure(message: unknown, onFailure: ((report: FailureReport) => void) | undefined): void {
  if (!isFailureReport(message)) {
    console.error('[busline] a failure report that is not one was dropped:', message);
    return;
  }
  try {
    onFailure?.(message);
  } catch (error) {
    console.error(`[busline] a failure reported by thread ${message.processor}.${message.thread} could not be handed on:`, error, message.error);
  }
}

/** The root's internal bus, as far as a crash report needs it (its `publish()`, whatever its event map). */
interface InternalBus {
  publish(...args: never[]): Promise<{ readonly outcomes: readonly unknown[] }>;
}

/**
 * Posts a crash report on the root's internal bus. One that no handler there
 * heard (no subscription or wait matched it) is logged instead, so a worker
 * that dies of an uncaught exception is never silent; a report that cannot
 * be posted is logged too, but not one whose handlers the runtime's stop
 * overtook (they heard it).
 */
export function postCrashReport(bus: InternalBus, type: 'busline.thread.crashed' | 'busline.processor.crashed', report: CrashReport): void {
  const place = report.thread === null ? `processor ${report.processor}` : `worker thread ${report.processor}.${report.thread}`;
  const log = () =>
    console.error(
      `[busline] ${place} crashed: ${report.message}; ${report.restarted ? 'restarted' : 'not restarted (its restart budget is spent)'}. ` +
        `Subscribe to ${type} on runtime.bus('internal') to handle crashes yourself.`,
    );
  let published: Promise<{ readonly outcomes: readonly unknown[] }>;
  try {
    published = (bus.publish as (type: string, payload: CrashReport, options: { priority: 'immediate' }) => typeof published).call(bus, type, report, {
      priority: 'immediate',
    });
  } catch {
    log();
    return;
  }
  // RUNTIME_STOPPED: the runtime stopped while a handler of the report still ran (it was heard), as crashes during stop() are not reported.
  published.then(
    (outcome) => (outcome.outcomes.length === 0 ? log() : undefined),
    (error: unknown) => (isBusError(error, 'RUNTIME_STOPPED') ? undefined : log()),
  );
}
