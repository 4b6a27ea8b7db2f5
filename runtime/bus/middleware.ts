/**
 * Middleware of a thread's side: `before` runs in `post()` before the event
 * is stamped (it may transform the payload or drop the post), `after` runs
 * once the event's handlers of this thread have settled, with their
 * outcomes. The runtime's middleware (`createRuntime({ middleware })`) comes
 * first, then the bus's (`bus.use()`), each in registration order; `after`
 * runs in reverse. Functions cannot cross threads, so both apply to buses of
 * the threads hosted in the JS thread where they were given.
 */
import { EventDroppedError, InvalidOptionError, MiddlewareFailedError } from '../../errors.js';
import type { BusEvent, Payload, Priority, Side } from '../../types.js';
import { describe } from '../validate.js';
import { allOutcomes, failures, fulfilled, returnedNothing, RETURNED_NOTHING, settledOutcome, type DeliveryWatch } from './outcomes.js';

/** A post as a `before` middleware sees it: not stamped yet. */
export interface PostDraft {
  readonly type: string;
  /** The payload as posted, or as an earlier middleware returned it. */
  readonly payload: Payload;
  readonly side: Side;
  readonly priority: Priority;
  readonly topic?: string;
  readonly meta?: Readonly<Record<string, string>>;
  /** True for a post with `local: true` (it never leaves this thread); absent otherwise. */
  readonly local?: true;
}

/**
 * What `before` returns: nothing to let the post go on as it is,
 * `{ payload }` to go on with another payload (later middleware see it), or
 * `{ drop: reason }` to refuse it: nothing is posted, `post()` throws
 * `EventDroppedError` and `publish()` resolves with `{ dropped: reason }`.
 */
export type BeforeResult = void | undefined | { readonly payload: Payload } | { readonly drop: string };

/** What an `after` middleware is told of one delivery in this thread. */
export interface DeliveryOutcome {
  /**
   * One per handler the event reached, in subscription order (as `publish()` gives them). The outcome of
   * a handler that returned nothing is one shared, frozen `{ status: 'fulfilled', value: undefined }`;
   * when every handler returned nothing, the array is shared and frozen too, and so is this outcome.
   */
  readonly outcomes: ReadonlyArray<PromiseSettledResult<unknown>>;
  /** How many handlers failed. */
  readonly failed: number;
}

/**
 * A middleware: `before`, `after`, or both (an object literal or an
 * instance of a class of yours; they are called as its methods). Both are
 * synchronous, because `post()` is (a `before` that returns a promise is
 * refused as a failure).
 *
 * @example
 * const logging: Middleware = {
 *   name: 'logging',
 *   before: (draft) => console.log(`Publishing event: ${draft.type}`),
 *   after: (event) => console.log(`Published event: ${event.type}`),
 * }
 * const runtime = createRuntime({ middleware: [logging] })
 */
export interface Middleware {
  /** Names it in errors (`MIDDLEWARE_FAILED`, `EVENT_DROPPED`); its position (`#0`, ...) otherwise. */
  readonly name?: string;
  before?(draft: PostDraft): BeforeResult;
  /**
   * The event as it is at run time, JSON data or bytes (`BusEvent<Payload>`, not a bare `BusEvent`, whose
   * `AnyPayload` is for taking a typed runtime's events): a narrowed payload's fields read as `JsonValue`.
   * It may be async: it is not awaited, and what it rejects with goes to `onError` as a throw does.
   */
  after?(event: BusEvent<Payload>, outcome: DeliveryOutcome): void;
}

/** Throws `InvalidOptionError` naming `option` unless `value` is a middleware. */
export function checkMiddleware(value: unknown, option: string): Middleware {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, `expected a middleware: an object with before() and/or after(), got ${describe(value)}.`);
  }
  // Other keys are allowed: a middleware may be an instance of the user's class, with state of its own.
  const middleware = value as Middleware;
  if (middleware.before === undefined && middleware.after === undefined) {
    throw new InvalidOptionError(option, 'expected before() and/or after(); it has neither.');
  }
  for (const stage of ['before', 'after'] as const) {
    if (middleware[stage] !== undefined && typeof middleware[stage] !== 'function') {
      throw new InvalidOptionError(`${option}.${stage}`, `expected a function, got ${describe(middleware[stage])}.`);
    }
  }
  if (middleware.name !== undefined && typeof middleware.name !== 'string') {
    throw new InvalidOptionError(`${option}.name`, `expected a string, got ${describe(middleware.name)}.`);
  }
  return middleware;
}

/** The middleware of one thread's side: the runtime's, then the bus's. */
/** Keys of a wrong `before()` result named in its refusal; more are counted. */
const KEYS_SHOWN = 8;

/**
 * What a `before()` that returned neither nothing, `{ payload }` nor
 * `{ drop }` is told: a promise (an async `before`), or what came back, in
 * a line (the payload returned by mistake is not listed key by key). A
 * promise's rejection is taken here. Never throws: the result may be a proxy.
 */
function badResult(result: unknown): string {
  const expected = 'expected nothing, { payload } or { drop: reason } (a string)';
  try {
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      // Nobody awaits it: a later rejection must not surface as an unhandled one (and end the process).
      (result as PromiseLike<unknown>).then(undefined, () => undefined);
      return 'before() returned a promise: it runs synchronously inside post(), so it cannot be async; do async work before posting, or in after()';
    }
    if (typeof result !== 'object' || result === null || Array.isArray(result)) return `before() returned ${describe(result)}; ${expected}`;
    const keys = Object.keys(result);
    const what =
      keys.length === 0 ? 'no keys'
      : keys.length <= KEYS_SHOWN ? `keys ${keys.join(', ')}`
      : `${keys.length} keys (${keys.slice(0, KEYS_SHOWN).join(', ')}, …)`;
    return `before() returned an object with ${what}; ${expected}`;
  } catch {
    return `before() returned an object that cannot be read; ${expected}`;
  }
}

export class Pipeline {
  readonly #runtime: readonly Middleware[];
  #all: readonly Middleware[];
  #before: readonly Middleware[];
  #after: readonly Middleware[];
  readonly #onError: (error: unknown, event: BusEvent) => void;
  /**
   * An `AfterWatch` whose delivery is over, given out again by `watch()`:
   * one object fewer per post (a post inside a delivery gets a new one).
   */
  spare: AfterWatch | undefined;
  /** The `after` runs not finished yet, by event id: `publish()` resolves once its event's have run. */
  readonly #running = new Map<string, Promise<void>>();

  constructor(runtime: readonly Middleware[], onError: (error: unknown, event: BusEvent) => void) {
    this.#runtime = runtime;
    this.#onError = onError;
    this.#all = runtime;
    this.#before = runtime.filter((m) => m.before !== undefined);
    this.#after = runtime.filter((m) => m.after !== undefined).reverse();
  }

  /** True when some middleware has `before`: `post()` skips the pipeline otherwise. */
  get hasBefore(): boolean {
    return this.#before.length > 0;
  }

  /** True when some middleware has `after`: deliveries are then watched for their outcomes. */
  get hasAfter(): boolean {
    return this.#after.length > 0;
  }

  /**
   * The watch that tells the `after` middleware of an event's delivery; undefined when there is none. It
   * tells them the event delivered, or `posted`: a deferred post's event as `post()` returned it, which
   * the one delivered may not be (a copy from the station, after `toStation()` and `fromStation()`).
   */
  watch(posted?: BusEvent<Payload>): AfterWatch | undefined {
    if (this.#after.length === 0) return undefined;
    const spare = this.spare;
    const watch = spare === undefined ? new AfterWatch(this) : spare.reuse();
    if (spare !== undefined) this.spare = undefined;
    if (posted !== undefined) watch.posted = posted;
    return watch;
  }

  /** Adds a bus middleware (after the others); returns what removes it. */
  add(value: unknown): () => void {
    const middleware = checkMiddleware(value, 'use middleware');
    this.#set([...this.#all, middleware]);
    return () => this.#set(this.#all.filter((m) => m !== middleware || this.#runtime.includes(m)));
  }

  #set(all: readonly Middleware[]): void {
    this.#all = all;
    this.#before = all.filter((m) => m.before !== undefined);
    this.#after = all.filter((m) => m.after !== undefined).reverse();
  }

  #nameOf(middleware: Middleware): string {
    return middleware.name ?? `#${this.#all.indexOf(middleware)}`;
  }

  /**
   * Runs every `before` in order. Returns the payload to post (no wrapper: one
   * object fewer per post); throws `EventDroppedError` when one drops it,
   * `MiddlewareFailedError` when one throws (or returns something else than it may).
   */
  before(draft: PostDraft): Payload {
    let current = draft;
    for (const middleware of this.#before) {
      let result: unknown;
      try {
        result = middleware.before!(current);
      } catch (error) {
        throw new MiddlewareFailedError(draft.type, this.#nameOf(middleware), 'before', { cause: error });
      }
      if (result === undefined) continue;
      if (typeof result === 'object' && result !== null) {
        if ('drop' in result && typeof result.drop === 'string') throw new EventDroppedError(draft.type, result.drop, this.#nameOf(middleware));
        if ('payload' in result) {
          current = { ...current, payload: result.payload as Payload };
          continue;
        }
      }
      throw new MiddlewareFailedError(draft.type, this.#nameOf(middleware), 'before', { cause: new TypeError(badResult(result)) });
    }
    return current.payload;
  }

  /**
   * Runs every `after` in reverse order; one that throws (or, async, rejects) is reported to the runtime's
   * `onError` and the others still run.
   */
  after(event: BusEvent<Payload>, outcome: DeliveryOutcome): void {
    for (const middleware of this.#after) {
      try {
        const result: unknown = middleware.after!(event, outcome);
        // An async after is not awaited; what it rejects with is reported as a throw would be, never left unhandled.
        if (result !== undefined && typeof (result as { then?: unknown } | null)?.then === 'function') {
          const name = this.#nameOf(middleware);
          (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.#report(new MiddlewareFailedError(event.type, name, 'after', { cause: error }), event));
        }
      } catch (error) {
        this.#report(new MiddlewareFailedError(event.type, this.#nameOf(middleware), 'after', { cause: error }), event);
      }
    }
  }

  /** Resolves once the `after` middleware of the event with `id` have run (at once if none is pending). */
  afterDone(id: string): Promise<void> | undefined {
    return this.#running.get(id);
  }

  /** Runs the `after` middleware once `outcomes` have settled. */
  track(event: BusEvent<Payload>, outcomes: Promise<ReadonlyArray<PromiseSettledResult<unknown>>>): void {
    const running = outcomes.then((settled) => {
      this.#running.delete(event.id);
      this.after(event, { outcomes: settled, failed: failures(settled) });
    });
    this.#running.set(event.id, running);
  }

  #report(error: unknown, event: BusEvent): void {
    try {
      this.#onError(error, event);
    } catch (secondary) {
      console.error('[busline] an onError handler threw while handling a middleware error', secondary, error);
    }
  }
}

/** By handler count: the frozen outcome of a delivery where every handler returned nothing. */
const nothingOutcomes: DeliveryOutcome[] = [];

/** The outcome of a delivery to `count` handlers that each returned nothing: one frozen object per count, not one per delivery. */
function nothingOutcome(count: number): DeliveryOutcome {
  const shared = nothingOutcomes[count];
  if (shared !== undefined) return shared;
  const outcome: DeliveryOutcome = Object.freeze({ outcomes: returnedNothing(count), failed: 0 });
  // As many as `returnedNothing` shares; beyond, one each.
  if (Object.isFrozen(outcome.outcomes)) nothingOutcomes[count] = outcome;
  return outcome;
}

/**
 * Tells the `after` middleware of a pipeline the outcomes of one event's
 * delivery in this thread: at once when every handler returned a plain
 * value, else once their promises have settled. A class, not closures, and
 * reused once a delivery is over (`Pipeline.watch`).
 */
export class AfterWatch implements DeliveryWatch {
  readonly #pipeline: Pipeline;
  /** Made at the first outcome that is not "returned nothing": until then `#nothing` counts them. */
  #outcomes: Array<PromiseSettledResult<unknown> | Promise<PromiseSettledResult<unknown> | undefined>> | undefined;
  #nothing = 0;
  #promised = false;
  /** Set by `Pipeline.watch` for a deferred post only (a young event stored into this long-lived watch costs a write barrier). */
  posted: BusEvent<Payload> | undefined = undefined;
  /** Counted as they come: no second pass over the outcomes when every handler returned a plain value. */
  #failed = 0;

  constructor(pipeline: Pipeline) {
    this.#pipeline = pipeline;
  }

  /** Watches a delivery again (a spare the pipeline gives out again: its last delivery is over). */
  reuse(): this {
    this.#outcomes = undefined;
    this.#nothing = 0;
    this.#promised = false;
    this.#failed = 0;
    return this;
  }

  handled(result: unknown): void {
    if (result === undefined && this.#outcomes === undefined) {
      this.#nothing++;
      return;
    }
    const outcomes = this.#made();
    if (result instanceof Promise) {
      this.#promised = true;
      outcomes.push(settledOutcome(result));
    } else outcomes.push(fulfilled(result));
  }

  handledNothing(count: number): void {
    if (this.#outcomes === undefined) this.#nothing += count;
    else for (let i = 0; i < count; i++) this.#outcomes.push(RETURNED_NOTHING);
  }

  failed(reason: unknown): void {
    this.#failed++;
    this.#made().push({ status: 'rejected', reason });
  }

  /** The outcomes so far, in an array of their own from now on. */
  #made(): Array<PromiseSettledResult<unknown> | Promise<PromiseSettledResult<unknown> | undefined>> {
    return (this.#outcomes ??= new Array<PromiseSettledResult<unknown>>(this.#nothing).fill(RETURNED_NOTHING));
  }

  delivered(delivered: BusEvent): void {
    const outcomes = this.#outcomes;
    const posted = this.posted;
    if (posted !== undefined) this.posted = undefined;
    const event = posted ?? (delivered as BusEvent<Payload>);
    if (outcomes === undefined) this.#pipeline.after(event, nothingOutcome(this.#nothing));
    else if (this.#promised) this.#pipeline.track(event, allOutcomes(outcomes));
    else this.#pipeline.after(event, { outcomes: outcomes as Array<PromiseSettledResult<unknown>>, failed: this.#failed });
    // Told everything (a promised outcome array went to `track`): a later post may use this watch.
    this.#pipeline.spare = this;
  }
}
