/**
 * Handler outcomes as they cross a thread or a process (`RemoteBus.publish()`,
 * `RemoteBus.subscribe()` handlers): values as structured clone copies them,
 * errors as plain data rebuilt on arrival. A `BusError` crosses as busline's
 * wire errors do (`toWireError`), so it keeps its class, code and details;
 * any other error keeps its `name`, `message`, `stack` and a string `code`.
 */
import { isBusError } from '../../errors.js';
import { fromWireError, toWireError, type WireError } from './wire-errors.js';

/** A handler's error, ready to cross. */
export type PortableError =
  | { readonly bus: WireError; readonly stack?: string }
  | { readonly name: string; readonly message: string; readonly stack?: string; readonly code?: string };

/** A handler's outcome, ready to cross. */
export type PortableOutcome = { readonly status: 'fulfilled'; readonly value: unknown } | { readonly status: 'rejected'; readonly reason: PortableError };

/** A value copied as structured clone copies it, or `undefined` when it cannot be (a function, a socket, ...). */
export function portableValue(value: unknown): unknown {
  if (value === undefined || value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  try {
    return structuredClone(value);
  } catch {
    return undefined;
  }
}

/** `error` (anything a handler threw) as plain data. */
export function toPortableError(error: unknown): PortableError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const stack = typeof error.stack === 'string' ? { stack: error.stack } : {};
  if (isBusError(error)) return { bus: toWireError(error), ...stack };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...stack, ...(typeof code === 'string' ? { code } : {}) };
}

/** The error `portable` describes: a `BusError` of its class, or an `Error` with its name, message, stack and code. */
export function fromPortableError(portable: PortableError): Error {
  const error: Error = 'bus' in portable ? fromWireError(portable.bus) : new Error(portable.message);
  if (!('bus' in portable)) {
    error.name = portable.name;
    if (portable.code !== undefined) Object.assign(error, { code: portable.code });
  }
  if (portable.stack !== undefined) error.stack = portable.stack;
  return error;
}

/** `outcome` ready to cross. */
export function toPortableOutcome(outcome: PromiseSettledResult<unknown>): PortableOutcome {
  return outcome.status === 'fulfilled' ? { status: 'fulfilled', value: portableValue(outcome.value) } : { status: 'rejected', reason: toPortableError(outcome.reason) };
}

/** The outcome `portable` describes, as `Promise.allSettled` gives it. */
export function fromPortableOutcome(portable: PortableOutcome): PromiseSettledResult<unknown> {
  return portable.status === 'fulfilled' ? { status: 'fulfilled', value: portable.value } : { status: 'rejected', reason: fromPortableError(portable.reason) };
}
