/**
 * Request-response on a bus (seed 001's request-response pattern, NATS's
 * `request`/`respond`): `bus.request(type, payload)` posts an event marked as
 * a request and resolves with the first reply; `bus.reply(type, handler)`
 * answers requests of a type with what its handler returns.
 *
 * A reply is an ordinary event of type `busline.reply` on the same side,
 * whose payload names the request by its event id (`ReplyPayload`). Requests
 * and replies therefore travel as every event does: delivered at once in one
 * thread, carried between threads and processes by syncs (the automatic sync
 * policy, or manual calls). A post of either asks the sync policy for a sync
 * at once (`awaited()`, in `Bus.post`), so neither waits for the period to
 * leave its thread. A spawned actor
 * can answer too, by emitting `replyEvent(request, value)`. A `local`
 * request is posted `local` and marked so in its `meta`: its replier posts
 * the reply `local` too, so an RPC within one thread never reaches a station
 * nor asks for a sync.
 *
 * The requesting side routes replies per thread and side (one listener for
 * all of that thread's pending requests, removed when none is left). Every
 * way a request ends (a reply, the timeout, the signal, the runtime or
 * thread stopping, a refused post) removes what it added.
 */
import { AbortedError, InvalidEventError, InvalidOptionError, ReplyFailedError, RequestTimeoutError, RuntimeStoppedError } from '../../errors.js';
import { fromWireError, isBusErrorCode } from '../wire/wire-errors.js';
import type { BusEvent, JsonValue, Payload } from '../../types.js';
import { startTimer, type Clock } from '../clock.js';
import { typeMatches } from '../type-patterns.js';
import { assertFunction, assertKnownKeys, describe, knownOptions } from '../validate.js';
import { LOCAL_REQUEST, REQUEST_META, type PostOptions } from './bus-options.js';
import type { SubscribeOptions, Subscription } from './subscriptions.js';
import { checkDuration, checkSignal } from './wait-for.js';

/** The type of every reply event. */
export const REPLY_TYPE = 'busline.reply';

/** True for a request or a reply: a post of one asks the automatic sync policy for a sync at once. */
export function awaited(type: string, meta: Readonly<Record<string, string>> | undefined): boolean {
  return type === REPLY_TYPE || (meta !== undefined && meta[REQUEST_META] !== undefined);
}

/** Options of `bus.request()`. */
export interface RequestOptions {
  /**
   * Rejects with `RequestTimeoutError` (`REQUEST_TIMEOUT`) when no reply has
   * come after this many milliseconds of the runtime's clock; no limit by default.
   */
  readonly timeout?: number;
  /** Gives the request up: it rejects with `AbortedError` (`ABORTED`); a reply that comes later is ignored. */
  readonly signal?: AbortSignal;
  /**
   * Within this thread only: the request is posted `local` (`post()`'s
   * option), and its replier posts the reply `local` too, so neither goes to
   * a station nor asks for a sync. Only this thread's repliers can answer
   * it. Default false.
   */
  readonly local?: boolean;
}

/** Options of `bus.reply()`; `Ev` is the request event. */
export interface ReplyOptions<Ev = BusEvent> {
  /** Answers only requests for which this returns true; others are left to other repliers. */
  readonly filter?: (event: Ev) => boolean;
  /** Stops answering when it aborts (as `unsubscribe()`). */
  readonly signal?: AbortSignal;
  /**
   * Where an answer that could not be posted at all goes (the thread stopped);
   * the runtime's `onError` otherwise. A handler that throws is not an error
   * here: the requester gets it.
   */
  readonly onError?: (error: unknown, event: Ev) => void;
}

/** What a handler threw, as it travels in an error reply. */
export interface ReplyErrorInfo {
  readonly name: string;
  readonly message: string;
  /** The error's `code`, when it had a string one (a `BusError`'s, a Node system error's). */
  readonly code?: string;
}

/**
 * The payload of a `busline.reply` event: `request` is the id of the request
 * event; `value` what the handler returned (absent for `undefined`), or
 * `error` what it threw.
 */
export type ReplyPayload =
  | { readonly request: string; readonly value?: JsonValue }
  | { readonly request: string; readonly error: ReplyErrorInfo };

/**
 * The reply event answering `request` with `value`, for a spawned actor that
 * answers by emitting it (XState `emit`): what the actor emits is posted on
 * its thread's bus, and the requester, in whichever thread, gets `value`.
 * Given the whole request event, the reply to a `local` request says
 * `local: true`, and is posted local.
 *
 * @example
 * // in a machine spawned with subscribes: ['user.get']
 * actions: { answer: emit(({ event }) => replyEvent(event.event, { name: 'Ada' })) }
 */
export function replyEvent(
  request: Pick<BusEvent, 'id' | 'meta'>,
  value?: JsonValue,
): { type: typeof REPLY_TYPE; payload: ReplyPayload; local?: true } {
  if (typeof request?.id !== 'string') throw new InvalidEventError(`replyEvent() needs the request event (with its id), got ${describe(request)}.`);
  const payload = value === undefined ? { request: request.id } : { request: request.id, value };
  return isLocalRequest(request) ? { type: REPLY_TYPE, payload, local: true } : { type: REPLY_TYPE, payload };
}

/** True for a request posted `local`: its reply is posted local too. */
export function isLocalRequest(event: Pick<BusEvent, 'meta'>): boolean {
  return event.meta?.[REQUEST_META] === LOCAL_REQUEST;
}

/** A local request's reply's post options: one object for all of them. */
const LOCAL_REPLY: PostOptions = Object.freeze({ local: true });

/** The post options of a reply (every replier's: `bus.reply()`, a `RemoteBus`'s, an actor's): `local` for a local request's, none otherwise. */
export function replyOptions(local: boolean): PostOptions | undefined {
  return local ? LOCAL_REPLY : undefined;
}

/** What a request and a replier need from the bus they run on (a `Bus` or a `RemoteBus`). */
export interface RequestSource {
  /** The same object for every bus of one thread and side: replies are routed per thread and side. */
  readonly key: object;
  post(type: string, payload: Payload, options: PostOptions): BusEvent | Promise<BusEvent>;
  subscribe(types: string | readonly string[], handler: (event: BusEvent) => unknown, options?: SubscribeOptions): Subscription;
  /** Posts a reply on the thread's current bus (a retired one takes no posts); `local` for a local request's. */
  answer(reply: ReplyPayload, local: boolean): unknown;
  readonly clock: Clock;
  /** Calls `stopped` when the runtime or the thread stops (at once if it has); returns what forgets it. */
  whenStopped(stopped: () => void): () => void;
}

/** A request in flight: its id once its post has one. */
interface Ticket {
  id: string | undefined;
  readonly settle: (reply: ReplyPayload) => void;
}

/** At most this many replies are kept for requests whose id is not known yet (a `RemoteBus` post in flight). */
const MAX_EARLY_REPLIES = 1024;

/** The replies of one thread and side, routed to its pending requests by id. */
class ReplyRouter {
  readonly #pending = new Map<string, Ticket>();
  /** Requests whose post has not answered with the event yet. */
  #unidentified = 0;
  /** Replies for no known request that came while some request had no id yet: maybe one of theirs. */
  readonly #early = new Map<string, ReplyPayload>();
  #listening: Subscription | undefined;

  /** A request begins on `source`: replies are listened for from now on, before its post. */
  open(source: RequestSource, settle: (reply: ReplyPayload) => void): Ticket {
    // Through the requesting bus: a subscription belongs to the thread, whichever generation made it.
    this.#listening ??= source.subscribe(REPLY_TYPE, (event) => this.#route(event.payload));
    this.#unidentified++;
    return { id: undefined, settle };
  }

  /** The request's post has its event: its reply, already here or to come, goes to it. */
  identify(ticket: Ticket, id: string): void {
    this.#unidentified--;
    ticket.id = id;
    const early = this.#early.get(id);
    if (this.#unidentified === 0) this.#early.clear();
    if (early !== undefined) ticket.settle(early);
    else this.#pending.set(id, ticket);
  }

  /** The request has ended, however: forgets it, and stops listening once nothing is pending. */
  close(ticket: Ticket): void {
    if (ticket.id === undefined) this.#unidentified--;
    else if (this.#pending.get(ticket.id) === ticket) this.#pending.delete(ticket.id);
    if (this.#unidentified === 0) this.#early.clear();
    if (this.#unidentified === 0 && this.#pending.size === 0) {
      this.#listening?.unsubscribe();
      this.#listening = undefined;
    }
  }

  #route(payload: unknown): void {
    // Anyone may post busline.reply: what is not a reply is ignored.
    if (typeof payload !== 'object' || payload === null || typeof (payload as ReplyPayload).request !== 'string') return;
    const reply = payload as ReplyPayload;
    const ticket = this.#pending.get(reply.request);
    if (ticket !== undefined) {
      // The first reply wins: the ticket leaves with it.
      this.#pending.delete(reply.request);
      ticket.settle(reply);
    } else if (this.#unidentified > 0) {
      if (this.#early.size >= MAX_EARLY_REPLIES) this.#early.delete(this.#early.keys().next().value!);
      this.#early.set(reply.request, reply);
    }
  }
}

const routers = new WeakMap<object, ReplyRouter>();

function routerOf(source: RequestSource): ReplyRouter {
  let router = routers.get(source.key);
  if (router === undefined) routers.set(source.key, (router = new ReplyRouter()));
  return router;
}

/** Refuses the reply type itself as a request type: a request of it would be taken for a reply. */
function assertRequestType(type: unknown, call: string): void {
  if (typeof type === 'string' && typeMatches(REPLY_TYPE, type)) {
    throw new InvalidEventError(`${call}(): "${type}" is the type of replies (${REPLY_TYPE}); requests need a type of their own.`);
  }
}

/** `bus.request(type, payload, options)`: resolves with the first reply's value. */
export function sendRequest(source: RequestSource, type: string, payload: Payload, given: RequestOptions | undefined): Promise<unknown> {
  let timeout: number | undefined;
  let signal: AbortSignal | undefined;
  let options: RequestOptions | undefined;
  try {
    // Read once: what is checked is what the request uses.
    options = knownOptions(given, ['timeout', 'signal', 'local'], 'request options');
    if (options?.local !== undefined && typeof options.local !== 'boolean') {
      throw new InvalidOptionError('request options.local', `expected true or false, got ${describe(options.local)}.`);
    }
    assertRequestType(type, 'request');
    timeout = checkDuration(options?.timeout, 'request options.timeout');
    signal = checkSignal(options?.signal, 'request options.signal');
    if (signal?.aborted === true) throw new AbortedError('request', signal.reason);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<unknown>((resolve, reject) => {
    let done = false;
    let cancelTimer: (() => void) | undefined;
    let forgetStop: (() => void) | undefined;
    const onAbort = () => end(new AbortedError('request', signal!.reason));
    const router = routerOf(source);
    let ticket: Ticket | undefined;
    const end = (error: unknown, value?: unknown) => {
      if (done) return;
      done = true;
      if (ticket !== undefined) router.close(ticket);
      cancelTimer?.();
      forgetStop?.();
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const settle = (reply: ReplyPayload) => {
      if ('error' in reply) end(replyFailure(type, reply.request, reply.error));
      else end(undefined, reply.value);
    };
    let posted: BusEvent | Promise<BusEvent>;
    try {
      ticket = router.open(source, settle);
      posted =
        options?.local === true
          ? source.post(type, payload, { meta: { [REQUEST_META]: LOCAL_REQUEST }, local: true })
          : source.post(type, payload, { meta: { [REQUEST_META]: 'true' } });
    } catch (error) {
      // Refused as post() refuses (bad type or payload, a retired bus, a full one): nothing is left behind.
      end(error);
      return;
    }
    forgetStop = source.whenStopped(() => end(new RuntimeStoppedError('request')));
    if (done) forgetStop();
    signal?.addEventListener('abort', onAbort, { once: true });
    const identified = (event: BusEvent) => {
      if (done) return;
      router.identify(ticket!, event.id);
      if (done) return;
      if (timeout !== undefined) {
        const id = event.id;
        cancelTimer = startTimer(source.clock, timeout, () => end(new RequestTimeoutError(type, id, timeout)));
      }
    };
    if (posted instanceof Promise) posted.then(identified, end);
    else identified(posted);
  });
}

/** The rejection of a request whose replier threw: its error rebuilt as its cause. */
function replyFailure(type: string, request: string, info: ReplyErrorInfo): ReplyFailedError {
  let cause: Error;
  if (info.code !== undefined && isBusErrorCode(info.code)) cause = fromWireError({ code: info.code, message: info.message });
  else {
    cause = new Error(info.message);
    cause.name = info.name;
    if (info.code !== undefined) (cause as Error & { code?: string }).code = info.code;
  }
  return new ReplyFailedError(type, request, info, { cause });
}

/** What a handler threw, ready to travel. */
export function errorInfo(error: unknown): ReplyErrorInfo {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { name: error.name, message: error.message, code } : { name: error.name, message: error.message };
}

/** `bus.reply(type, handler, options)`: answers requests of `type` (a type or a pattern) with what `handler` returns. */
export function answerRequests(
  source: RequestSource,
  type: string,
  handler: (event: BusEvent) => unknown,
  options: ReplyOptions | undefined,
): Subscription {
  assertKnownKeys(options, ['filter', 'signal', 'onError'], 'reply options');
  assertRequestType(type, 'reply');
  assertFunction(handler, 'reply handler');
  const answer = async (event: BusEvent): Promise<void> => {
    const local = isLocalRequest(event);
    let reply: ReplyPayload;
    try {
      const value = (await handler(event)) as JsonValue | undefined;
      reply = value === undefined ? { request: event.id } : { request: event.id, value };
    } catch (error) {
      reply = { request: event.id, error: errorInfo(error) };
    }
    try {
      await source.answer(reply, local);
    } catch (error) {
      // The value could not be posted (not JSON data, too large): the requester hears why rather than timing out.
      await source.answer({ request: event.id, error: errorInfo(error) }, local);
    }
  };
  // Only requests: a plain post of the type, and replies (a pattern such as `*` matches them), are not answered.
  return source.subscribe(type, (event) => (event.meta?.[REQUEST_META] === undefined ? undefined : answer(event)), options);
}
