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
  | 'REQUEST_TIMEOUT'
  | 'REPLY_FAILED'
  | 'UNEXPECTED_EVENT'
  | 'UNSUPPORTED'
  | 'FRAME_CORRUPT'
  | 'FRAME_TOO_LARGE'
  | 'RUNTIME_STOPPED'
  | 'TRANSPORT_FAILED'
  | 'WORKER_CRASHED'
  | 'REPLAY_MISMATCH'
  | 'EVENT_DROPPED'
  | 'MIDDLEWARE_FAILED'
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

/**
 * @internal What the application threw, as text for a message: `Name:
 * message` for an `Error` (its message alone with `withName` false), else
 * its string form. Never throws: what was thrown may have no text (a
 * null-prototype object) or a getter, trap or `toString()` that throws, and
 * the error being made must not be lost to it.
 */
export function thrownText(thrown: unknown, withName = true): string {
  try {
    if (thrown instanceof Error) return withName ? `${thrown.name}: ${thrown.message}` : String(thrown.message);
    return String(thrown);
  } catch {
    return 'a value that cannot be shown as text';
  }
}

/** What a payload schema found wrong: where in the payload (`$.user.name`), and the validator's message. */
export interface EventIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * An event that cannot be posted: bad type, payload that can't be encoded or
 * that its schema refuses, bad options.
 *
 * @example
 * try { bus.post('user.login', { id: 'x' }) } catch (error) {
 *   if (error instanceof InvalidEventError) for (const { path, message } of error.issues) console.error(path, message)
 * }
 */
export class InvalidEventError extends BusError {
  /** What the payload's schema found wrong, each with its path; empty for other refusals. */
  readonly issues: readonly EventIssue[];

  constructor(message: string, options?: { cause?: unknown; issues?: readonly EventIssue[] }) {
    super('INVALID_EVENT', message, options);
    this.issues = Object.freeze([...(options?.issues ?? [])]);
  }
}

/** One wrong field of a configuration. */
export interface OptionIssue {
  /** The field's path, e.g. `sync.everyMs` or `memory.policies["user"].ttlMs`. */
  readonly path: string;
  /** The value found there (`undefined` when the refusal does not name one). */
  readonly value: unknown;
  /** What is allowed there, in words (the message without its "got ..." part). */
  readonly allowed: string;
  /** The whole sentence, as a single refusal's message says it. */
  readonly message: string;
}

/**
 * Options that are unknown or have values outside what is allowed.
 * `createRuntime()` checks its whole configuration and throws one of these
 * with every problem in `issues` (and in the message); `option` is the first's path.
 *
 * @example
 * try { createRuntime({ processors: -1, sync: { everyMs: 0 } }) } catch (error) {
 *   if (error instanceof InvalidOptionError) for (const { path, allowed } of error.issues) console.error(path, allowed)
 * }
 */
export class InvalidOptionError extends BusError {
  /** The option's path, e.g. `sync.everyMs` (the first one's, when there are several). */
  readonly option: string;
  /** Every problem found, each with its path, value and what is allowed (a value JSON cannot hold crosses threads as its kind, `[function]`). */
  readonly issues: readonly OptionIssue[];

  constructor(option: string, message: string, options?: { cause?: unknown; value?: unknown }) {
    super('INVALID_OPTION', `Invalid option "${option}": ${message}`, options);
    this.option = option;
    this.issues = Object.freeze([{ path: option, value: options?.value, allowed: message.replace(/,? got [^]*$/, '').replace(/\.$/, ''), message }]);
  }

  /**
   * One error for several problems: its message lists them all, its
   * `issues` holds each (with one problem, the message is that problem's).
   * `valueOf` fills in the value at each path that a refusal did not name.
   */
  static combine(errors: readonly InvalidOptionError[], where = 'options', valueOf?: (path: string) => unknown): InvalidOptionError {
    const issues = errors
      .flatMap((error) => error.issues)
      .map((issue) => (issue.value !== undefined || valueOf === undefined ? issue : { ...issue, value: valueOf(issue.path) }));
    if (issues.length === 1) {
      const [issue] = issues;
      return new InvalidOptionError(issue!.path, issue!.message, { value: issue!.value, cause: errors[0]!.cause });
    }
    const combined = new InvalidOptionError(issues[0]?.path ?? where, '');
    combined.message =
      `Invalid ${where}: ${issues.length} problems.\n` + issues.map((issue) => `  - "${issue.path}": ${issue.message}`).join('\n');
    (combined as { issues: readonly OptionIssue[] }).issues = Object.freeze(issues);
    return combined;
  }
}

/** What an `EventTooLargeError` refused: the event's type, its size and the limit in force, in bytes. */
export interface TooLargeDetails {
  readonly type: string;
  readonly size: number;
  readonly limit: number;
}

/**
 * An event larger than the size limit of its type: over 16 MiB, or over its
 * policy's `sizeLimit` times the multiplier in force (which the history's
 * memory budget lowers under pressure). When a policy refused it, `type`,
 * `size` and `limit` say which event, how large, and the limit now in force.
 */
export class EventTooLargeError extends BusError {
  /** The event's type (set when a memory policy refused it). */
  declare readonly type?: string;
  /** The event's encoded size in bytes (set when a memory policy refused it). */
  declare readonly size?: number;
  /** The size limit in force, in bytes: `sizeLimit × multiplier` (set when a memory policy refused it). */
  declare readonly limit?: number;

  constructor(message: string, details?: TooLargeDetails) {
    super('EVENT_TOO_LARGE', message);
    if (details !== undefined) Object.assign(this, { type: details.type, size: details.size, limit: details.limit });
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
export type BusFullBound = 'unsent' | 'queue' | 'inFlight' | 'backlog' | 'limit' | 'budget' | 'outbox';

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
 * `'budget'`: the history's memory budget (`memory.budget`, named by
 * `limit`) would need `high` events evicted to take the new ones, and those
 * are never evicted to meet a budget, or the new event alone is larger than
 * the whole budget; `held` and `max` are bytes.
 * `'outbox'`: the bus (or, refusing a batch, the local station) holds its memory budget's worth of events its station
 * (main station) has not taken (`held` and `max` are bytes, `limit` names the budget):
 * under the automatic sync policy, `await bus.room()`; under manual syncs
 * (where the oldest `low` and `normal` unsent events make room) only `high`
 * ones are left: sync the bus (`sync()`, `toStation()`).
 * Nothing already accepted is lost.
 */
export class BusFullError extends BusError {
  /** Which bound refused the post. */
  readonly bound: BusFullBound;
  /** How many events (or unsettled subscriber promises) the bus held under that bound. */
  readonly held: number;
  /** The bound. */
  readonly max: number;
  /** With `bound: 'limit'`, `'budget'` or `'outbox'`: the option that set it, e.g. `memory.limits.maxEvents`, `memory.budget.busBytes`. */
  declare readonly limit?: string;
  /** Refusing a local station's `toMain()` (`bound: 'limit'`, `'budget'` or `'backlog'`): the events its main station took, whole batches, oldest first. */
  declare readonly pushed?: number;
  /** Refusing a local station's `toMain()`: the events left unsent in it, which a later `toMain()` offers again. */
  declare readonly left?: number;

  /** `eventBytes`: with `bound: 'budget'`, the size of the event refused (the message says when it alone is over the budget). */
  constructor(
    held: number,
    max: number,
    bound: BusFullBound = 'unsent',
    limit?: string,
    push?: { readonly pushed: number; readonly left: number },
    options?: { cause?: unknown; eventBytes?: number },
  ) {
    super('BUS_FULL', fullMessage(held, max, bound, limit, options?.eventBytes) + (push === undefined ? '' : pushMessage(push.pushed, push.left)), options?.cause === undefined ? undefined : { cause: options.cause });
    this.bound = bound;
    this.held = held;
    this.max = max;
    if (limit !== undefined) this.limit = limit;
    if (push !== undefined) {
      this.pushed = push.pushed;
      this.left = push.left;
    }
  }
}

function pushMessage(pushed: number, left: number): string {
  return ` toMain(): ${pushed} events went to the main station (whole batches, oldest first); ${left} are left unsent in the local station, and a later toMain() or sync offers them again once events there have left (or the reader held behind has read).`;
}

function fullMessage(held: number, max: number, bound: BusFullBound, limit = 'a memory limit', eventBytes?: number): string {
  switch (bound) {
    case 'limit':
      return (
        `The history is full: it holds ${held} under ${limit} (${max}), whose discard is 'refuseNew', so new events are refused. ` +
        "Let events leave (removeAfterDelivery, removeAfterSearch, ttlMs), raise the limit, or use discard: 'oldest'."
      );
    case 'budget':
      if (eventBytes !== undefined && eventBytes > max) {
        return (
          `An event of ${eventBytes} bytes is larger than this history's whole memory budget (${limit} is ${max}): ` +
          'no eviction can make room for it. Raise the budget, or post smaller events (store large data elsewhere and ' +
          'post a reference to it).'
        );
      }
      return (
        `The history is over its memory budget: it holds ${held} bytes under ${limit} (${max}), and room for the new events ` +
        "would take evicting 'high' events, which a budget never evicts. Let events leave (removeAfterDelivery, " +
        "removeAfterSearch, ttlMs), give fewer types importance 'high', or raise the budget."
      );
    case 'outbox':
      if (limit.endsWith('stationBytes')) return `The station refused this batch: it holds ${held} bytes of events its main station has not taken yet (${limit} is ${max}). Nothing was lost: the events stay unsent in the bus; push the station (station.toMain()), then sync again.`;
      return (
        `post() was refused: this bus holds ${held} bytes of events its station has not taken yet (${limit} is ${max}). ` +
        'Sync it (bus.sync() or bus.toStation()); under the automatic sync policy, await bus.room() before posting more. ' +
        "Under manual syncs the oldest unsent 'low' and 'normal' events make room: only 'high' ones were left."
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

/** A wait (`bus.waitFor`, `bus.waitForEvents`, a call to a processor's thread 0) that ran out of time; the message says what it still missed. */
export class TimeoutError extends BusError {
  /** The timeout, in milliseconds of the runtime's clock. */
  readonly timeout: number;

  constructor(message: string, timeout: number) {
    super('TIMEOUT', message);
    this.timeout = timeout;
  }
}

/** `bus.request()` got no reply in time: no replier answered, or the syncs did not carry request and reply within `timeout`. */
export class RequestTimeoutError extends BusError {
  /** The timeout, in milliseconds of the runtime's clock. */
  readonly timeout: number;
  /** The request's event type. */
  readonly requestType: string;
  /** The request event's id. */
  readonly requestId: string;

  constructor(requestType: string, requestId: string, timeout: number) {
    super(
      'REQUEST_TIMEOUT',
      `request('${requestType}') got no reply within ${timeout} ms (request ${requestId}). Is a replier (bus.reply('${requestType}', ...)) ` +
        'running in a thread that this one syncs with? Across threads a reply takes about one sync period (sync.everyMs).',
    );
    this.timeout = timeout;
    this.requestType = requestType;
    this.requestId = requestId;
  }
}

/**
 * `bus.request()` was answered with an error: the replier's handler threw
 * (or its value could not be posted). `cause` is that error, rebuilt where
 * the request was made (a `BusError` as its class, by its code).
 */
export class ReplyFailedError extends BusError {
  /** The request's event type. */
  readonly requestType: string;
  /** The request event's id. */
  readonly requestId: string;
  /** The `name` of the replier's error. */
  readonly errorName: string;
  /** Its `code`, when it had a string one. */
  declare readonly errorCode?: string;

  constructor(requestType: string, requestId: string, error: { name: string; message: string; code?: string }, options?: { cause?: unknown }) {
    super('REPLY_FAILED', `request('${requestType}') failed in its replier: ${error.name}: ${error.message}`, options);
    this.requestType = requestType;
    this.requestId = requestId;
    this.errorName = error.name;
    if (error.code !== undefined) this.errorCode = error.code;
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

/** A post that a `before` middleware dropped (`bus.publish()` resolves with `{ dropped }` instead). Nothing was posted. */
export class EventDroppedError extends BusError {
  /** The reason the middleware gave. */
  readonly reason: string;
  /** The middleware's `name`, or its position (`#0`, ...) when it has none. */
  readonly middleware: string;

  constructor(type: string, reason: string, middleware: string) {
    super('EVENT_DROPPED', `"${type}" was dropped by middleware ${middleware}: ${reason}. Nothing was posted.`);
    this.reason = reason;
    this.middleware = middleware;
  }
}

/** A middleware threw; `cause` is what it threw. A throwing `before` refuses the post (nothing was posted). */
export class MiddlewareFailedError extends BusError {
  /** The middleware's `name`, or its position (`#0`, ...) when it has none. */
  readonly middleware: string;

  constructor(type: string, middleware: string, stage: 'before' | 'after', options: { cause: unknown }) {
    // What it threw, in the message too: a log line of this error alone says what went wrong.
    const cause = thrownText(options.cause);
    super(
      'MIDDLEWARE_FAILED',
      stage === 'before'
        ? `Middleware ${middleware} failed in before() on "${type}" (${cause}): the post was refused and nothing was posted. Fix the middleware, or catch inside it.`
        : `Middleware ${middleware} threw in after() on "${type}" (${cause}): the event was delivered; the error is only reported.`,
      options,
    );
    this.middleware = middleware;
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
    // Without its own closing full stop: most BusError messages end with one.
    const reason = thrownText(cause, false).replace(/\.$/, '');
    super('SERVICE_FAILED', `Service "${service}" failed (${phase}): ${reason}. Its subscriptions, timers and waits are released; start() it again once the cause is fixed.`, { cause });
    this.service = service;
    this.phase = phase;
  }
}
