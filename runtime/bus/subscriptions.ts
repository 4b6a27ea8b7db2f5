/**
 * Subscriptions of one thread and side. They belong to the thread, not to a
 * bus generation, so they carry over when `toStation()` replaces the bus.
 */
import { typeMatches } from '../type-patterns.js';
import { assertFunction, assertSubjectType, assertSubjectTypes, knownOptions, listNow } from '../validate.js';
import { InvalidEventError, InvalidOptionError } from '../../errors.js';
import type { AnyPayload, BusEvent } from '../../types.js';
import type { BusMetrics } from '../metrics/bus-metrics.js';
import { bothWatches, type DeliveryWatch } from './outcomes.js';

/**
 * A subscriber of events with payload `P` (of any event without one). It may
 * return a promise; a rejection goes to `onError` like a throw.
 */
export type Handler<P = AnyPayload> = (event: BusEvent<P>) => unknown;

/** Receives a subscriber's error; never rethrown into the bus. */
export type ErrorHandler<Ev = BusEvent> = (error: unknown, event: Ev) => void;

/** Options of `bus.subscribe()`; `Ev` is the event the subscription receives (typed by the runtime's event map). */
export interface SubscribeOptions<Ev = BusEvent> {
  /** Only events for which this returns true. */
  readonly filter?: (event: Ev) => boolean;
  /** Only events with one of these topics. */
  readonly topics?: readonly string[];
  /** Where this subscriber's errors go; the runtime's `onError` otherwise. */
  readonly onError?: ErrorHandler<Ev>;
  /** Ends the subscription when it aborts (at once if it already has). */
  readonly signal?: AbortSignal;
}

const SUBSCRIBE_OPTIONS = ['filter', 'topics', 'onError', 'signal'] as const;

/** What `checkSubscribe` passed: the patterns as a list, and the options as they were read (once). */
export interface CheckedSubscribe {
  readonly patterns: readonly string[];
  readonly options: SubscribeOptions | undefined;
}

/**
 * The checks of `subscribe(types, handler, options)`, on a `Bus` and a
 * `RemoteBus` alike (before anything crosses). Each option, each type and
 * each topic is read once, and what was checked is what it returns: the
 * subscription uses that, never the caller's objects again.
 */
export function checkSubscribe(types: string | readonly string[], handler: unknown, options: SubscribeOptions | undefined): CheckedSubscribe {
  // INVALID_EVENT, one or a list: a subscription to a type that cannot exist (see `assertSubjectType`).
  const patterns = typeof types === 'string' ? types : listNow(types);
  if (typeof patterns === 'string') assertSubjectType(patterns, 'Subscription type');
  else assertSubjectTypes(patterns, 'subscribe types');
  assertFunction(handler, 'subscribe handler');
  const read = knownOptions(options, SUBSCRIBE_OPTIONS, 'subscribe options', ['topics']);
  if (read?.filter !== undefined) assertFunction(read.filter, 'subscribe options.filter');
  if (read?.onError !== undefined) assertFunction(read.onError, 'subscribe options.onError');
  const topics = read?.topics;
  if (topics !== undefined && (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string'))) {
    throw new InvalidOptionError('subscribe options.topics', 'expected an array of topic strings.');
  }
  if (read?.signal !== undefined && !(read.signal instanceof AbortSignal)) {
    throw new InvalidOptionError('subscribe options.signal', 'expected an AbortSignal.');
  }
  return {
    patterns: typeof patterns === 'string' ? [patterns] : patterns,
    options: read,
  };
}

/** A live subscription; `unsubscribe()` ends it. */
export interface Subscription {
  readonly types: readonly string[];
  /** Ends the subscription; later events are not delivered to it. Idempotent. */
  unsubscribe(): void;
}

export type { DeliveryWatch } from './outcomes.js';

interface Entry {
  readonly patterns: readonly string[];
  readonly handler: Handler;
  readonly filter: ((event: BusEvent) => boolean) | undefined;
  readonly topics: readonly string[] | undefined;
  readonly onError: ErrorHandler | undefined;
  /** Names it in metrics: `<n>:<patterns>`. */
  readonly label: string;
  active: boolean;
  /**
   * Active, with no topics and no filter: `deliver()` calls it after this
   * one check (a boolean compared, not three fields). False once it ends.
   */
  plain: boolean;
  /** An `async` function, or one that has returned a promise: each event it gets may take a credit. */
  async: boolean;
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

/** The constructor of `async` functions. */
const AsyncFunction = (async () => {}).constructor as FunctionConstructor;

/** Whether `entry`, not plain, takes `event`: it is active, has one of its topics (if it names any) and passes its filter (if any; it may throw). */
function admits(entry: Entry, event: BusEvent): boolean {
  if (!entry.active) return false;
  if (entry.topics !== undefined && (event.topic === undefined || !entry.topics.includes(event.topic))) return false;
  return entry.filter === undefined || entry.filter(event);
}

/** The subscribers of one thread and side, with a per-type match cache. */
export class Subscriptions {
  #entries: Entry[] = [];
  /** type → matching entries; cleared whenever the entries change. */
  #byType = new Map<string, readonly Entry[]>();
  /**
   * The type `#matching` was asked for last, and its entries. `''` (never an
   * event type) when none, not undefined: the comparison only ever sees
   * strings, so a change of subscriptions does not throw away the optimized
   * delivery path.
   */
  #lastType = '';
  #lastMatches: readonly Entry[] = NO_ENTRIES;
  readonly #fallbackError: ErrorHandler;
  /** Errors raised by subscribers so far. */
  errors = 0;
  /** Promises returned by subscribers that have not settled yet. */
  inFlight = 0;
  /**
   * Active subscribers that are `async` functions or have returned a promise:
   * under the sync policy each event may start one promise per such
   * subscriber, so reads and posts are measured against the credits left.
   */
  asyncCount = 0;
  /** A sync read less than the station had (or nothing) for lack of credits: the next one is asked for when they are back. */
  readHeld = false;
  /** Called each time a subscriber's promise settles (the thread's bus gives credits back). */
  onSettled: (() => void) | undefined;
  /**
   * Called when a subscription adds a pattern to `interest()`: the stations
   * hold events for this thread by the interest its last read declared, so
   * the thread asks for a read that declares the new one.
   */
  onWidened: (() => void) | undefined;
  /** Watches the next delivery, whichever event (an `immediate` post delivers before it returns its id). */
  #watchNext: DeliveryWatch | undefined;
  /** Watches by event id. */
  readonly #watches = new Map<string, DeliveryWatch>();
  /**
   * True while the event being delivered is watched (a `publish()` or `after`
   * middleware awaits its outcomes): a handler called now may read it, as a
   * remote listener does to know whether its caller must send its value back.
   */
  watching = false;
  /** Subscriptions added so far: numbers their metrics labels. */
  #added = 0;
  /** This side's metrics, when the runtime records them. */
  metrics: BusMetrics | undefined;

  constructor(onError: ErrorHandler) {
    this.#fallbackError = onError;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Adds a subscriber for `types` (subtype matching). */
  add(types: string | readonly string[], handler: Handler, options?: SubscribeOptions): Subscription {
    // The options as checked (read once: `plain` must say what the entry keeps, and a getter may answer otherwise when read again).
    const checked = checkSubscribe(types, handler, options);
    const { patterns } = checked;
    const { signal, filter, topics, onError } = checked.options ?? {};
    const entry: Entry = {
      patterns,
      handler,
      filter,
      topics,
      onError,
      label: `${this.#added++}:${patterns.join(',')}`,
      active: true,
      plain: filter === undefined && topics === undefined,
      // An async function is known before its first promise: the first read is already limited for it.
      async: handler instanceof AsyncFunction,
    };
    const subscription: Subscription = {
      types: entry.patterns,
      unsubscribe: () => {
        if (!entry.active) return;
        entry.active = false;
        entry.plain = false;
        signal?.removeEventListener('abort', subscription.unsubscribe);
        if (entry.async) this.asyncCount--;
        this.#entries = this.#entries.filter((e) => e !== entry);
        this.#forgetMatches();
      },
    };
    if (signal?.aborted === true) {
      // Already given up: a subscription that never receives anything.
      entry.active = false;
      entry.plain = false;
      return subscription;
    }
    const before = this.onWidened === undefined ? undefined : this.interest();
    this.#entries = [...this.#entries, entry];
    this.#forgetMatches();
    if (entry.async) this.asyncCount++;
    signal?.addEventListener('abort', subscription.unsubscribe, { once: true });
    if (before !== undefined && entry.patterns.some((pattern) => !before.includes(pattern))) this.onWidened?.();
    return subscription;
  }

  #matching(type: string): readonly Entry[] {
    // The type matched last first: a run of posts of one type compares a pointer, not a hash.
    return type === this.#lastType ? this.#lastMatches : this.#matchingOther(type);
  }

  /**
   * `#matching` of a type other than the last one. Apart: a function whose
   * closures capture a parameter allocates the context that holds it at
   * every call, on entry, whether a closure is made or not. In `#matching`
   * (inlined into `deliver()`), that was 40 bytes at every delivery.
   */
  #matchingOther(type: string): readonly Entry[] {
    let entries = this.#byType.get(type);
    if (entries === undefined) {
      entries = this.#entries.filter((entry) => entry.patterns.some((pattern) => typeMatches(pattern, type)));
      this.#byType.set(type, entries);
    }
    this.#lastType = type;
    this.#lastMatches = entries;
    return entries;
  }

  /** The entries changed: every type's matches are found anew. */
  #forgetMatches(): void {
    this.#byType.clear();
    this.#lastType = '';
    this.#lastMatches = NO_ENTRIES;
  }

  /** `interest()`, and the entries it was computed from (replaced, never mutated, on every change). */
  #interest: { readonly of: readonly Entry[]; readonly patterns: readonly string[] } | undefined;

  /**
   * The patterns of the active subscribers, each once: what this thread's
   * reads declare as its interest (`runtime/station/interest.ts`).
   */
  interest(): readonly string[] {
    if (this.#interest?.of !== this.#entries) {
      const patterns = new Set<string>();
      for (const entry of this.#entries) for (const pattern of entry.patterns) patterns.add(pattern);
      this.#interest = { of: this.#entries, patterns: [...patterns] };
    }
    return this.#interest.patterns;
  }

  /** True when some subscriber would receive events of `type`. */
  wants(type: string): boolean {
    return this.#matching(type).length > 0;
  }

  /** How many async subscribers (see `asyncCount`) would receive events of `type`: the promises one such event may start. */
  asyncWanting(type: string): number {
    if (this.asyncCount === 0) return 0;
    let count = 0;
    for (const entry of this.#matching(type)) if (entry.active && entry.async) count++;
    return count;
  }

  /** Has `watch` told about the delivery of the event with `id`, or of the next event delivered (`id` undefined). */
  watch(id: string | undefined, watch: DeliveryWatch | undefined): void {
    if (id === undefined) this.#watchNext = watch;
    else if (watch !== undefined) {
      // A publish() of an event whose `after` middleware watch it too: both are told.
      const earlier = this.#watches.get(id);
      this.#watches.set(id, earlier === undefined ? watch : bothWatches(earlier, watch));
    }
  }

  #watchOf(event: BusEvent): DeliveryWatch | undefined {
    let watch = this.#watchNext;
    this.#watchNext = undefined;
    if (this.#watches.size > 0) {
      const byId = this.#watches.get(event.id);
      if (byId !== undefined) {
        this.#watches.delete(event.id);
        watch = watch === undefined ? byId : bothWatches(watch, byId);
      }
    }
    return watch;
  }

  /**
   * Delivers one event to every matching subscriber, in subscription order.
   * A throwing or rejecting subscriber never stops the others. Returns how
   * many subscribers were called. `also` is told too (the `after`
   * middleware of a post delivered at once, without a watch by id).
   */
  deliver(event: BusEvent, also?: DeliveryWatch): number {
    const entries = this.#matching(event.type);
    let watch = this.#watchNext === undefined && this.#watches.size === 0 ? undefined : this.#watchOf(event);
    if (also !== undefined) watch = watch === undefined ? also : bothWatches(watch, also);
    const metrics = this.metrics;
    const started = metrics === undefined ? 0 : metrics.started();
    let called = 0;
    // Restored after: a handler may deliver another event (an immediate post) inside this loop.
    const outerWatching = this.watching;
    this.watching = watch !== undefined;
    // Subscribers that returned nothing and the watch has not been told of yet: told in one call, before the next other outcome.
    let nothing = 0;
    for (const entry of entries) {
      try {
        // Most subscribers are plain: one check. The others' conditions, then their filter (which may throw).
        if (entry.plain !== true && !admits(entry, event)) continue;
        called++;
        const result = entry.handler(event);
        if (result === undefined) {
          nothing++;
          continue;
        }
        if (result instanceof Promise) this.#track(result, entry, event);
        if (watch !== undefined) {
          if (nothing > 0) watch.handledNothing(nothing);
          nothing = 0;
          watch.handled(result);
        }
      } catch (error) {
        this.#fail(entry, error, event);
        if (watch !== undefined) {
          if (nothing > 0) watch.handledNothing(nothing);
          nothing = 0;
          watch.failed(error);
        }
      }
    }
    if (watch !== undefined && nothing > 0) watch.handledNothing(nothing);
    this.watching = outerWatching;
    metrics?.delivered(event.type, called, started);
    watch?.delivered(event);
    return called;
  }

  /** Counts a subscriber's promise while it is unsettled. */
  #track(result: Promise<unknown>, entry: Entry, event: BusEvent): void {
    this.inFlight++;
    if (!entry.async && entry.active) {
      entry.async = true;
      this.asyncCount++;
    }
    result.then(
      () => this.#settled(),
      (error: unknown) => {
        this.#fail(entry, error, event);
        this.#settled();
      },
    );
  }

  #settled(): void {
    this.inFlight--;
    this.onSettled?.();
  }

  #fail(entry: Entry, error: unknown, event: BusEvent): void {
    this.errors++;
    this.metrics?.failed(event.type, entry.label);
    try {
      (entry.onError ?? this.#fallbackError)(error, event);
    } catch (secondary) {
      // An error handler that throws must not unwind the bus either.
      console.error('[busline] an onError handler threw while handling a subscriber error', secondary, error);
    }
  }
}
