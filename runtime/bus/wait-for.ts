/**
 * Waiting for events (seed 003's EventSynchronizer): `bus.waitFor()` for the
 * next event of a type, `bus.waitForEvents()` for several, in any order or in
 * the order given, with a timeout and a grace period on the runtime's clock
 * (so a `ManualClock` drives them in tests). A wait listens from the moment
 * it is called: events already in the history do not count. Every way it ends
 * (resolved, timed out, aborted, an unexpected event, a throwing filter,
 * the runtime or thread stopping) removes its subscription, its timers and its abort listener.
 */
import { AbortedError, InvalidOptionError, RuntimeStoppedError, TimeoutError, UnexpectedEventError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import { startTimer, type Clock } from '../clock.js';
import { typeMatches } from '../type-patterns.js';
import { assertFunction, assertKnownKeys, assertSubjectType, assertSubjectTypes, describe, knownOptions, listNow } from '../validate.js';

/** Options of `bus.waitFor()`; `Ev` is the event waited for. */
export interface WaitForOptions<Ev = BusEvent> {
  /** Rejects with `TimeoutError` (`TIMEOUT`) after this many milliseconds of the runtime's clock; no limit by default. */
  readonly timeout?: number;
  /** Only an event for which this returns true ends the wait. */
  readonly filter?: (event: Ev) => boolean;
  /** Gives the wait up: it rejects with `AbortedError` (`ABORTED`). */
  readonly signal?: AbortSignal;
}

/** Options of `bus.waitForEvents()`. */
export interface WaitForEventsOptions {
  /**
   * The events must come in the order of the list: one that matches a later
   * entry before the earlier ones have come rejects with
   * `UnexpectedEventError` (`UNEXPECTED_EVENT`). Events that match no entry
   * still due are ignored either way.
   */
  readonly inOrder?: boolean;
  /** Rejects with `TimeoutError` (`TIMEOUT`) if the list is not complete after this many milliseconds; no limit by default. */
  readonly timeout?: number;
  /**
   * After the last event, keeps listening this many milliseconds: one more
   * event of the list's types in that time rejects with
   * `UnexpectedEventError`. Default 0: resolves at once.
   */
  readonly grace?: number;
  /** Gives the wait up: it rejects with `AbortedError` (`ABORTED`). */
  readonly signal?: AbortSignal;
}

/** Where a wait listens: a bus's subscriptions and its runtime's clock. */
export interface WaitSource {
  /** Subscribes `handler` to `types`; returns what ends the subscription. */
  listen(types: readonly string[], handler: (event: BusEvent) => void): () => void;
  readonly clock: Clock;
  /** Calls `stopped` when the runtime or the thread stops (at once if it has); returns what forgets it. */
  whenStopped(stopped: () => void): () => void;
}

/** The longest timer Node can set (setTimeout's limit), in milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `value` as a duration in milliseconds, or `InvalidOptionError` naming `option`. */
export function checkDuration(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, `expected milliseconds from 0 to ${MAX_TIMER_MS}, got ${describe(value)}.`);
  }
  return value;
}

/** `value` as an `AbortSignal`, or `InvalidOptionError` naming `option`. */
export function checkSignal(value: unknown, option: string): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw new InvalidOptionError(option, 'expected an AbortSignal.');
  return value;
}

/** `bus.waitFor(type, options)`: the next event of `type` (a type or a pattern) that passes `filter`. */
export function waitForEvent(source: WaitSource, type: string, options: WaitForOptions | undefined): Promise<BusEvent> {
  try {
    // Read once: the wait keeps the filter that was checked.
    const { filter, timeout: duration, signal: given } = knownOptions(options, ['timeout', 'filter', 'signal'], 'waitFor options') ?? {};
    assertSubjectType(type, 'waitFor type');
    if (filter !== undefined) assertFunction(filter, 'waitFor options.filter');
    const timeout = checkDuration(duration, 'waitFor options.timeout');
    const signal = checkSignal(given, 'waitFor options.signal');
    return wait(source, 'waitFor', [type], { timeout, grace: 0, inOrder: false, signal, filter }).then((events) => events[0]!);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `bus.waitForEvents(types, options)`: one event per entry of `types` (types or patterns; an entry twice needs two events). */
export function waitForEvents(source: WaitSource, types: readonly string[], options: WaitForEventsOptions | undefined): Promise<BusEvent[]> {
  try {
    assertKnownKeys(options, ['inOrder', 'timeout', 'grace', 'signal'], 'waitForEvents options');
    // Each entry read once: the wait is for the types that were checked.
    const list = listNow(types);
    assertSubjectTypes(list, 'waitForEvents types');
    const inOrder = options?.inOrder ?? false;
    if (typeof inOrder !== 'boolean') throw new InvalidOptionError('waitForEvents options.inOrder', `expected a boolean, got ${describe(inOrder)}.`);
    const timeout = checkDuration(options?.timeout, 'waitForEvents options.timeout');
    const grace = checkDuration(options?.grace, 'waitForEvents options.grace') ?? 0;
    const signal = checkSignal(options?.signal, 'waitForEvents options.signal');
    return wait(source, 'waitForEvents', list, { timeout, grace, inOrder, signal, filter: undefined });
  } catch (error) {
    return Promise.reject(error);
  }
}

interface Checked {
  readonly timeout: number | undefined;
  readonly grace: number;
  readonly inOrder: boolean;
  readonly signal: AbortSignal | undefined;
  readonly filter: ((event: BusEvent) => boolean) | undefined;
}

function wait(source: WaitSource, call: string, types: readonly string[], options: Checked): Promise<BusEvent[]> {
  const { timeout, grace, inOrder, signal, filter } = options;
  if (signal?.aborted === true) return Promise.reject(new AbortedError(call, signal.reason));
  return new Promise<BusEvent[]>((resolve, reject) => {
    const slots: Array<BusEvent | undefined> = types.map(() => undefined);
    let filled = 0;
    let done = false;
    let cancelTimer: (() => void) | undefined;
    let stop: (() => void) | undefined;
    let forgetStop: (() => void) | undefined;
    const onAbort = () => end(new AbortedError(call, signal!.reason));
    const end = (error?: unknown) => {
      if (done) return;
      done = true;
      stop?.();
      forgetStop?.();
      cancelTimer?.();
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(slots as BusEvent[]);
      else reject(error);
    };
    const onEvent = (event: BusEvent) => {
      if (done) return;
      try {
        if (filter !== undefined && !filter(event)) return;
      } catch (error) {
        end(error);
        return;
      }
      if (filled === types.length) {
        end(new UnexpectedEventError(`${call}(): ${event.type} (${event.id}) came within the grace period of ${grace} ms, after every expected event.`, event.type));
        return;
      }
      const slot = inOrder ? (typeMatches(types[filled]!, event.type) ? filled : -1) : slots.findIndex((taken, i) => taken === undefined && typeMatches(types[i]!, event.type));
      if (slot === -1) {
        // In order, an event that only a later entry wants came too early.
        const later = inOrder && types.some((type, i) => i > filled && typeMatches(type, event.type));
        if (later) end(new UnexpectedEventError(`${call}(): ${event.type} (${event.id}) came before ${types[filled]}, out of the order asked for (inOrder).`, event.type));
        return;
      }
      slots[slot] = event;
      filled++;
      if (filled < types.length) return;
      cancelTimer?.();
      cancelTimer = undefined;
      if (grace === 0) end();
      else cancelTimer = startTimer(source.clock, grace, () => end());
    };
    stop = source.listen(types, onEvent);
    if (done) stop();
    forgetStop = source.whenStopped(() => end(new RuntimeStoppedError(call)));
    if (done) forgetStop();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined && !done) {
      cancelTimer = startTimer(source.clock, timeout, () => {
        const missing = types.filter((_, i) => slots[i] === undefined);
        end(new TimeoutError(`${call}() timed out after ${timeout} ms still waiting for ${missing.join(', ')}.`, timeout));
      });
    }
  });
}
