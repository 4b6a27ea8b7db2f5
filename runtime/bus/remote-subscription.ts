/**
 * The caller's half of `RemoteBus.subscribe()`: a loop that polls the
 * thread's listener (`thread/remote-listeners.ts`) with `take` calls of at
 * most TAKE_WAIT_MS, runs the handler here on each event, and tells the
 * thread when each event's handler has finished (an async one's promise has
 * settled), which is what gives the thread its credit back. With it goes the
 * handler's outcome, so a `publish()` in the thread counts it: its error
 * always, its value only for events the thread says are awaited (a value is
 * copied only when someone reads it); an event the filter turns away is
 * told as `filtered` (not delivered, for its outcomes and metrics). The filter and
 * `onError` run here, in the caller's thread; `topics` is applied in the
 * thread, so other topics never cross.
 *
 * A thread that crashes is listened to again once it is back (its new
 * incarnation, or a new worker): events it delivered in between, and what
 * the dead one had not handed over, are not seen.
 */
import { toWireError } from '../wire/wire-errors.js';
import type { BusEvent, Side } from '../../types.js';
import { systemClock, type Clock } from '../clock.js';
import type { Outcome } from '../wire/protocol.js';
import type { ThreadApi } from '../thread/thread-service.js';
import type { SettledEvent } from '../thread/remote-listeners.js';
import { portableValue, toPortableError } from '../wire/portable-outcome.js';
import { eventsFromFrame } from '../thread/thread-service.js';
import { checkSubscribe, type ErrorHandler, type SubscribeOptions, type Subscription } from './subscriptions.js';
import type { PayloadSchemas } from '../payload/payload-schemas.js';
import { TAKE_WAIT_MS } from './wait-steps.js';


/** How long to wait before listening again to a thread that crashed (its restart takes that long or more). */
const RELISTEN_MS = 100;

/** Calls a thread's control API. */
export type ThreadCall = <K extends keyof ThreadApi>(method: K, ...args: Parameters<ThreadApi[K]>) => ReturnType<ThreadApi[K]>;

/** What a `RemoteBus` takes from the runtime it was got from. */
export interface RemoteScope {
  /** Timeouts of `waitFor()` run on it. */
  readonly clock: Clock;
  /** Where handler errors go without an `onError` of their own. */
  readonly onError: ErrorHandler;
  /** Calls `stopped` when the runtime stops (at once if it has); returns what forgets it. */
  whenStopped(stopped: () => void): () => void;
  /** The thread's control API now: a restarted worker of the root is reached through a new one. */
  current(processor: number, thread: number): ThreadCall | undefined;
  /** The payload schemas of this JS thread: posts through a `RemoteBus` apply them here, before encoding. */
  readonly schemas?: PayloadSchemas;
  /** True once the runtime has begun to stop: its workers may be gone before `whenStopped` fires. */
  stopping?(): boolean;
}

/** For a `RemoteBus` made without a runtime (a processor's own calls). */
export const DETACHED_SCOPE: RemoteScope = {
  clock: systemClock,
  onError: (error, event) => console.error(`[busline] a subscriber of "${event.type}" (event ${event.id}) failed:`, error),
  whenStopped: () => () => undefined,
  current: () => undefined,
};

/** Where a remote subscription listens. */
export interface ListenTarget {
  readonly processor: number;
  readonly thread: number;
  readonly side: Side;
  readonly scope: RemoteScope;
  /** The bus's own call: it goes after the posts made before it, so the listener is in place for the posts after. */
  readonly call: ThreadCall;
}

const answerOf = <T>(call: Promise<Outcome<T>>): Promise<Outcome<T>> =>
  call.then(
    (answer) => answer,
    (error: unknown) => ({ ok: false, ...toWireError(error) }) as Outcome<T>,
  );

/** `RemoteBus.subscribe()`: checked here, then listening in the thread before this returns's next call reaches it. */
export function subscribeRemote(
  target: ListenTarget,
  types: string | readonly string[],
  handler: (event: BusEvent) => unknown,
  options: SubscribeOptions | undefined,
): Subscription {
  const checked = checkSubscribe(types, handler, options);
  const patterns = [...checked.patterns];
  const { topics, filter, signal } = checked.options ?? {};
  const onError = checked.options?.onError ?? target.scope.onError;
  let active = true;
  let id: string | undefined;
  let call: ThreadCall = target.call;
  /** Events whose handler has finished, not yet told to the thread. */
  let settled: SettledEvent[] = [];
  /** Numbers of taken events whose delivery the thread awaits (their handler's value goes back), until settled. */
  let awaited: Set<number> | undefined;
  let taking = false;
  let ackScheduled = false;
  let wakeRelisten: (() => void) | undefined;
  let forgetStop: () => void = () => undefined;
  /** The id of a listener lost (its take refused), until the subscription listens again. */
  let lost: string | undefined;

  const end = () => {
    if (!active) return;
    active = false;
    forgetStop();
    signal?.removeEventListener('abort', subscription.unsubscribe);
    wakeRelisten?.();
  };
  const subscription: Subscription = {
    types: patterns,
    unsubscribe: () => {
      if (!active) return;
      end();
      // Ends the listener now (a take waiting on it returns), so its credits come back at once.
      if (id !== undefined) void answerOf(call('unlisten', id));
    },
  };
  if (signal?.aborted === true) {
    active = false;
    return subscription;
  }

  const fail = (error: unknown, event: BusEvent) => {
    try {
      onError(error, event);
    } catch (secondary) {
      console.error('[busline] an onError handler threw while handling a subscriber error', secondary, error);
    }
  };
  /** What to tell the thread of event `number`'s handler: only its number when there is nothing it wants to hear. */
  const settledOf = (number: number, value: unknown): SettledEvent => {
    if (awaited === undefined || !awaited.delete(number) || value === undefined) return number;
    return { n: number, outcome: { status: 'fulfilled', value: portableValue(value) } };
  };
  /** `filtered`: the filter threw, so the handler never ran. */
  const failedWith = (number: number, error: unknown, filtered = false): SettledEvent => {
    awaited?.delete(number);
    const outcome = { status: 'rejected', reason: toPortableError(error) } as const;
    return filtered ? { n: number, filtered, outcome } : { n: number, outcome };
  };
  /** An async handler finished: tell the thread now if a take waits there, else the next take does. */
  const finished = (entry: SettledEvent) => {
    settled.push(entry);
    if (!taking || ackScheduled || id === undefined) return;
    ackScheduled = true;
    queueMicrotask(() => {
      ackScheduled = false;
      if (!active || id === undefined || settled.length === 0) return;
      const told = settled;
      settled = [];
      void answerOf(call('ack', id, told));
    });
  };
  const deliver = (events: readonly BusEvent[], first: number) => {
    events.forEach((event, index) => {
      const number = first + index;
      if (!active) return;
      let filtering = filter !== undefined;
      try {
        if (filter !== undefined && !filter(event)) {
          // A handler that never ran is not counted: the thread leaves it out of an awaited delivery's outcomes
          // and of its metrics' deliveries, as for a local filter.
          awaited?.delete(number);
          settled.push({ n: number, filtered: true });
          return;
        }
        filtering = false;
        const result = handler(event);
        if (!(result instanceof Promise)) {
          settled.push(settledOf(number, result));
          return;
        }
        result.then(
          (value: unknown) => finished(settledOf(number, value)),
          (error: unknown) => {
            fail(error, event);
            finished(failedWith(number, error));
          },
        );
      } catch (error) {
        fail(error, event);
        // A filter that threw: the handler never ran, as for a local one (a failure, not a delivery).
        settled.push(failedWith(number, error, filtering));
      }
    });
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeRelisten = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /**
   * A listen through the old handle may have reached the successor just before the handle was replaced (a child
   * processor's worker): that listener is ended through the current one, not left to hold the thread's credits
   * until its lease ends. Returns the current handle.
   */
  const endLost = (): ThreadCall => {
    const current = target.scope.current(target.processor, target.thread) ?? call;
    if (lost !== undefined && current !== call) void answerOf(current('unlisten', lost));
    lost = undefined;
    return current;
  };
  const run = async (listening: Promise<Outcome<string>>) => {
    let answer: Outcome<string> = await answerOf(listening);
    for (;;) {
      if (!active) {
        // Unsubscribed while a listen was under way: the listener it made goes too, and one lost through a replaced handle.
        if (answer.ok) void answerOf(call('unlisten', answer.value));
        endLost();
        return;
      }
      if (!answer.ok) {
        if (answer.code !== 'WORKER_CRASHED') {
          // RUNTIME_STOPPED ends it quietly; anything else is a listener that cannot be, said once.
          if (answer.code !== 'RUNTIME_STOPPED') console.error(`[busline] RemoteBus.subscribe(${patterns.join(', ')}) ended: ${answer.message}`);
          end();
          return;
        }
        await pause(RELISTEN_MS);
        wakeRelisten = undefined;
        // Unsubscribed meanwhile: a listener lost through a replaced handle goes all the same.
        call = endLost();
        if (!active) return;
        answer = await answerOf(call('listen', target.side, patterns, topics));
        continue;
      }
      id = answer.value;
      for (;;) {
        if (!active) {
          void answerOf(call('unlisten', id));
          return;
        }
        const told = settled;
        settled = [];
        taking = true;
        const took = await answerOf(call('take', id, TAKE_WAIT_MS, told));
        taking = false;
        if (!took.ok || took.value === null) {
          // Gone: the thread crashed (WORKER_CRASHED), or its new incarnation never had this listener (null).
          lost = id;
          id = undefined;
          settled = [];
          awaited = undefined;
          answer = took.ok ? { ok: false, code: 'WORKER_CRASHED', message: 'listener lost' } : took;
          break;
        }
        let events: BusEvent[];
        try {
          events = eventsFromFrame(took.value.events);
        } catch (error) {
          console.error(`[busline] RemoteBus.subscribe(${patterns.join(', ')}) got a damaged frame; it listens again.`, error);
          void answerOf(call('unlisten', id));
          id = undefined;
          answer = { ok: false, code: 'WORKER_CRASHED', message: 'damaged frame' };
          break;
        }
        if (took.value.awaited !== undefined) {
          awaited ??= new Set();
          for (const number of took.value.awaited) awaited.add(number);
        }
        deliver(events, took.value.first);
      }
    }
  };
  // Sent now, before any later call of this bus: posts made after subscribe() find the listener there.
  const listening = target.call('listen', target.side, patterns, topics);
  forgetStop = target.scope.whenStopped(end);
  signal?.addEventListener('abort', subscription.unsubscribe, { once: true });
  void run(listening);
  return subscription;
}
