/**
 * Typed events: a map from event type to payload type, given once to
 * `createRuntime<Events>()`, types every bus call: `post` takes only the
 * map's types with their payloads, a subscription's handler gets the union of
 * the events its patterns match, `history()` and `waitFor()` return them.
 * Without a map (`AnyEvents`, the default) every type and JSON-like payload is
 * accepted, as before. Types only: nothing here exists at run time.
 */
import type { BusEvent, Payload, Side } from '../../types.js';
import type { JsonCompatible } from './json-compatible.js';
import type { HistoryQuery } from '../store/history-query.js';
import type { EvictionReport, MultiplierChange, RefusalReport, UnsentDropReport } from '../store/memory-stats.js';
import type { RuntimeStats } from '../metrics/stats.js';
import type { ServiceFailure, ServiceStatusReport } from '../services/service-types.js';
import type { REPLY_TYPE, ReplyPayload } from './request-reply.js';

/**
 * The map of an untyped bus: any type, any payload. `createRuntime()` without
 * a type argument uses it.
 */
export type AnyEvents = { readonly [type: string]: Payload };

/** True when `E` is an untyped map (it has a string index signature). */
export type IsUntyped<E> = string extends keyof E ? true : false;

/**
 * What a bus's map lets it post, as a sentence (`bus.eventMap`): a typed
 * bus is no bus of the untyped map (a `Bus` or `RemoteBus` parameter),
 * which could post any type with any payload to the typed bus's handlers,
 * nor the reverse. The first member of a bus, so that the compiler's error
 * for either is this sentence rather than the first method whose types
 * differ. Types only.
 */
export type MapKind<E> = IsUntyped<E> extends true
  ? 'untyped: posts any type with any payload'
  : "typed: posts only its map's types; a function taking any typed bus is generic in the map";

/**
 * The constraint of an event map: every payload JSON-compatible. The untyped
 * map is taken as it is.
 *
 * @example
 * interface Events { 'user.login': { id: number }; 'user.logout': { id: number; reason: string } }
 * const runtime = createRuntime<Events>()
 */
export type EventMap<E> = IsUntyped<E> extends true
  ? unknown
  : { [K in keyof E]: K extends string ? JsonCompatible<E[K]> : K extends typeof replyTypes | typeof inputTypes | typeof acrossTypes ? unknown : never };

/** The key under which `Replies<R>` keeps its map: a symbol, so it is no event type. Types only. */
declare const replyTypes: unique symbol;

/**
 * Declares the reply of request types in an event map: `bus.request(type)`
 * resolves with `R[type]`, and `bus.reply(type, handler)` must return it.
 * Types only.
 *
 * @example
 * interface Events extends Replies<{ 'user.get': { name: string } }> { 'user.get': { id: string } }
 * const runtime = createRuntime<Events>()
 * const user = await runtime.bus('external').request('user.get', { id: 'u1' })   // { name: string }
 */
export interface Replies<R> {
  readonly [replyTypes]?: R;
}

/** The reply of requests of type `K` on map `E`: declared with `Replies`, else `unknown`. */
export type ReplyOf<E, K> = E extends { readonly [replyTypes]?: infer R } ? (K extends keyof R ? R[K] : unknown) : unknown;

/** The key under which `Inputs<I>` keeps its map: a symbol, so it is no event type. Types only. */
declare const inputTypes: unique symbol;

/**
 * Declares what `post()`, `publish()` and `request()` take for some types of
 * an event map, when a payload schema converts it (a `Date` the schema turns
 * into an ISO string): the map's own payload stays what events keep, which
 * subscribers, `history()` and `waitFor()` see. `SchemaEvents` and
 * `defineEvents()` declare it from the schemas. Types only.
 *
 * @example
 * interface Events extends Inputs<{ 'user.created': { id: string; at: Date } }> { 'user.created': { id: string; at: string } }
 * const runtime = createRuntime<Events>({ schemas: { 'user.created': UserCreated } })
 * runtime.bus().post('user.created', { id: 'u1', at: new Date() })   // the event keeps at: string
 */
export interface Inputs<I> {
  readonly [inputTypes]?: I;
}

/**
 * What posts of type `K` take on map `E`: the input `Inputs` declares for it,
 * else the map's payload. An indexed access, not `K extends keyof E ? E[K]
 * : never`: a helper generic in `K` passes its `E[K]` (a conditional on a
 * generic `K` stays unresolved, and nothing is assignable to it).
 */
export type InputOf<E, K> = E extends { readonly [inputTypes]?: infer I }
  ? K extends keyof I
    ? I[K]
    : E[K & keyof E]
  : E[K & keyof E];

/**
 * The event types of a map. `post()`, `publish()` and `RequestTypeOf` spell
 * it out (`keyof E & string`): the compiler's error for a misspelled type
 * then lists the side's types, where the alias would be printed with the
 * whole map, `Across` and the other side's map included.
 */
export type EventTypeOf<E> = keyof E & string;

/**
 * The types `request()` takes on map `E`: every type of the map but that of
 * replies (`busline.reply`, and types below it), which the internal side's
 * map lists since `bus.reply()` posts them there: a request of one would be
 * taken for a reply, and is refused at run time (`INVALID_EVENT`) on an
 * untyped bus. A helper generic in `E` that sends requests names its type
 * parameter `K extends RequestTypeOf<E>`.
 *
 * @example
 * type Asked = RequestTypeOf<BuslineEvents & AppInternal>   // every type of the map but 'busline.reply'
 */
export type RequestTypeOf<E> = Exclude<keyof E & string, ReplyType | `${ReplyType}.${string}`>;

/** True when `pattern` contains a wildcard part (`*`, or a final `>`). */
type HasWildcard<P extends string> = P extends '*' | '>' | `*.${string}` | `${string}.*` | `${string}.*.${string}` | `${string}.>`
  ? true
  : false;

/** Part by part, as NATS matches subjects: `*` is one part, a final `>` one or more. */
type PartsMatch<P extends string, K extends string> = P extends '>'
  ? true
  : P extends `${infer PatternHead}.${infer PatternRest}`
    ? K extends `${infer TypeHead}.${infer TypeRest}`
      ? PatternHead extends '*'
        ? PartsMatch<PatternRest, TypeRest>
        : [PatternHead, TypeHead] extends [TypeHead, PatternHead]
          ? PartsMatch<PatternRest, TypeRest>
          : false
      : false
    : P extends '*'
      ? K extends `${string}.${string}`
        ? false
        : true
      : K extends P
        ? true
        : false;

/**
 * True when the pattern `P` matches the event type `K`, by the rules the
 * buses apply at run time (`runtime/type-patterns.ts`): `*` or `>` alone
 * match every type; a pattern without wildcards matches its type and its
 * subtypes (`user` matches `user.login`); otherwise part by part, `*` for one
 * part and a final `>` for one or more.
 */
export type PatternMatches<P extends string, K extends string> = P extends '*' | '>'
  ? true
  : HasWildcard<P> extends true
    ? PartsMatch<P, K>
    : K extends P
      ? true
      : K extends `${P}.${string}`
        ? true
        : false;

/**
 * The patterns a subscription's `types` argument names: a string, or the
 * entries of a list. A list's entries go through `PatternOf` again, so that
 * the events of a list of a helper's type parameter `K` are the very
 * `EventOf<E, K>` the helper names (`PatternOf<K>`, not `K`).
 */
export type PatternOf<T> = T extends string ? T : T extends readonly (infer S extends string)[] ? PatternOf<S> : never;

/** The types of map `E` that one of the patterns `P` (a union) matches. */
export type MatchingTypes<E, P extends string> = {
  [K in EventTypeOf<E>]: true extends PatternMatches<P, K> ? K : never;
}[EventTypeOf<E>];

/** The event of each type `K` of map `E`: a union discriminated by `type`. */
export type EventOfType<E, K> = K extends EventTypeOf<E> ? BusEvent<E[K], K> : never;

/**
 * The events of map `E` that the pattern(s) `P` match: a union by `type`,
 * so a `switch (event.type)` narrows the payload. Every event of the map when
 * `P` is `string` (not known when compiling). On a typed map, replies
 * (`busline.reply`, `ReplyEvent`) too when a pattern matches their type
 * (`*`, `>`, `*.*`): `bus.reply()` posts them on the bus's side, whichever
 * side, and a handler there gets them whether the map lists them or not. On
 * an untyped map `BusEvent` with a `Payload`, except for patterns that name
 * only the runtime's own events on an untyped runtime's internal side
 * (`AnyInternalEvents`).
 *
 * @example
 * type UserEvent = EventOf<Events, 'user'>   // BusEvent<Login, 'user.login'> | BusEvent<Logout, 'user.logout'>
 * type Any = EventOf<Events, '*'>            // every event of Events, or a ReplyEvent
 */
export type EventOf<E, P extends string | readonly string[] = string> = EventsMatching<E, PatternOf<P>>;

/**
 * `EventOf` of patterns `P`. `EventOf` takes a list too, so that what a
 * subscription's handler gets (`EventOf<E, T>` of its `types`) is, for a
 * type parameter `K` of a helper generic in the map, the very `EventOf<E, K>`
 * the helper names. On the map of a runtime's bus (`Across`), the other
 * side's events the patterns match too.
 */
type EventsMatching<E, P extends string> = typeof acrossTypes extends keyof E ? BothSides<SideEventsMatching<E, P>, Exclude<E[typeof acrossTypes], undefined>, P> : SideEventsMatching<E, P>;

/**
 * This side's events `Own` and those of the other side (`A`: `Across`'s)
 * that patterns `P` match; when there are some, a union discriminated by
 * `side` as well as by `type` (a type may be on both sides).
 */
type BothSides<Own, A, P extends string> = A extends { readonly side: infer S extends Side; readonly events: infer O }
  ? [SideEventsMatching<O, P>] extends [never]
    ? Own
    : (Own & { readonly side: Exclude<Side, S> }) | (SideEventsMatching<O, P> & { readonly side: S })
  : Own;

/** The events of map `E` alone that patterns `P` match. */
type SideEventsMatching<E, P extends string> =
  IsUntyped<E> extends true
    ? UntypedEventOf<E, P>
    : string extends P
      ? EventOfType<E, EventTypeOf<E>> | ReplyEvent
      : EventOfType<E, MatchingTypes<E, P>> | (true extends PatternMatches<P, ReplyType> ? ReplyEvent : never);

/** The type of replies (`bus.reply()` posts them; `request()` resolves with their `value`). */
type ReplyType = typeof REPLY_TYPE;

/**
 * A reply to a request (`busline.reply`): on every typed bus, since replies
 * go out on the side of their request, the external side included, where the
 * map does not list them. `EventOf` adds it to what a pattern matching its
 * type (`*`, `>`) gets.
 */
export type ReplyEvent = BusEvent<ReplyPayload, ReplyType>;

/**
 * The requests a `bus.reply(types, handler)` handler gets: `EventOf` but
 * replies, which a pattern such as `*` matches but which are never requests
 * (its `filter` sees them, and the handler is not called for them).
 *
 * @example
 * bus.reply('*', (request: RequestOf<Events, '*'>) => undefined)   // every event of Events, no ReplyEvent
 */
export type RequestOf<E, P extends string | readonly string[] = string> = Exclude<EventOf<E, P>, ReplyEvent>;

/** The key under which an untyped map keeps the map of the types it knows nonetheless (`AnyInternalEvents`). Types only. */
declare const knownTypes: unique symbol;

/**
 * The patterns of the runtime's own events, whose first part is `busline`:
 * the runtime posts its events there, as memory policies take them.
 */
type RuntimePattern = 'busline' | `busline.${string}`;

/**
 * The events patterns `P` match on an untyped map `E`: `BusEvent` with a
 * `Payload`, unless `E` knows some types (`AnyInternalEvents`) and every
 * pattern names the runtime's own events (`busline...`) and matches at
 * least one of them; then the union of those, as on a typed runtime. Other
 * patterns match events of any type the application posted.
 */
type UntypedEventOf<E, P extends string> = typeof knownTypes extends keyof E
  ? string extends P
    ? BusEvent<Payload>
    : [P] extends [RuntimePattern]
      ? KnownEventOf<Exclude<E[typeof knownTypes], undefined>, P>
      : BusEvent<Payload>
  : BusEvent<Payload>;

/** The events of the known map `K` that patterns `P` match, if each matches one; else `BusEvent`. */
type KnownEventOf<K, P extends string> = [UnmatchedPattern<K, P>] extends [never] ? EventOfType<K, MatchingTypes<K, P>> : BusEvent<Payload>;

/**
 * What a `types` argument must be on map `E`: anything on an untyped map;
 * on a typed one, patterns that each match at least one type of the map, so
 * a misspelled type fails to compile (`never` takes no argument). `*` and
 * `>` are checked first, without `E`, so that a helper generic in its bus's
 * map (`<E>(bus: Bus<E>) => bus.subscribe('*', ...)`) compiles; and a type
 * of the map is valid as it is (`| EventTypeOf<E>`), which the conditional
 * cannot see for a type parameter `K extends EventTypeOf<E>` of such a
 * helper (it stays unresolved, and `K` is not assignable to it), while `K`
 * is assignable to `K & EventTypeOf<E>`; so is a list of them
 * (`ListOfTypes`).
 */
export type ValidPatterns<E, T> = PatternsMatch<E, T> | ListOfTypes<E, T> | EventTypeOf<E>;

/** `ValidPatterns` of one pattern (`waitFor()`): no list. */
export type ValidPattern<E, T> = PatternsMatch<E, T> | EventTypeOf<E>;

/**
 * `ValidPattern` of `reply()`: on a runtime's bus (`Across`) a pattern that
 * matches a type of the bus's own side, not one of the other side's alone.
 * A replier posts its reply on its own side, while the requester of a
 * request read across waits on the other side, which syncs do not bring it
 * (only its own read across would); and the other side's replies
 * (`busline.reply`) are no requests, nor are the runtime's own events. `*` and `>` stay valid: their
 * handler gets what a read across brought, as a subscriber's does.
 */
export type ValidReplyPattern<E, T> = (([PatternOf<T>] extends ['*' | '>'] ? unknown : OwnMatchesTypeOf<E, T>) | EventTypeOf<E>) & (IsUntyped<E> extends true ? unknown : NotReplyType[T & string]);

/**
 * What `reply()` takes on a typed map, by type: anything but the type of
 * replies and its subtypes (`never`), which the internal side's map lists
 * but which a replier refuses at run time (`INVALID_EVENT`). An indexed
 * access, not a conditional: for a helper's type parameter `K` a conditional
 * stays unresolved and takes no `K`, while `NotReplyType[K]` is read at
 * `K`'s constraint (`unknown` for `keyof E & string`, a string).
 */
type NotReplyType = { readonly [type: string]: unknown; readonly [type: `${ReplyType}.${string}`]: never; readonly [REPLY_TYPE]: never };

/**
 * `ValidPatterns` of a list alone (`history()`'s `types`, `waitForEvents()`),
 * without `| EventTypeOf<E>`, which no list is: a list that names an unknown
 * type takes `never`, rather than an intersection of the list with one of
 * the map's types, which the compiler's error would name as if it were meant.
 */
export type ValidPatternList<E, T> = PatternsMatch<E, T> | ListOfTypes<E, T>;

/** The patterns `T` past `*` and `>`: `unknown` when each matches a type of `E`, else `never`. */
type PatternsMatch<E, T> = [PatternOf<T>] extends ['*' | '>'] ? unknown : MatchesTypeOf<E, T>;

/** The brand of `ListOfTypes`' entries that are no type of the map. Types only. */
declare const notAType: unique symbol;

/**
 * A list each of whose entries is a type of `E`: valid as it is, which the
 * conditional of `PatternsMatch` cannot see for a list of a helper's type
 * parameter `K extends EventTypeOf<E>` (`[a, b]`, a `K[]`), as it stays
 * unresolved. A mapped type, not a conditional: `K & EventTypeOf<E>` takes
 * `K`. On a concrete map an entry that is no type of `E` is `notAType`, a
 * unit type, which makes the list's intersection with it `never` (as for a
 * literal property two object types disagree on): a list with a misspelled
 * entry still takes `never`, and one of patterns (`order.*`) passes by the
 * conditional. Not for a string, whose mapped type would be the string.
 */
type ListOfTypes<E, T> = T extends string ? never : { readonly [I in keyof T]: (T[I] & EventTypeOf<E>) | typeof notAType };

/**
 * `ValidPatterns` past `*` and `>`: a named alias, so that an error in a
 * helper generic in `E` names it rather than spelling it out. On the map of
 * a runtime's bus (`Across`), a pattern may match a type of the other side.
 */
type MatchesTypeOf<E, T> =
  IsUntyped<E> extends true ? unknown : string extends PatternOf<T> ? unknown : [UnmatchedAcross<E, UnmatchedPattern<E, PatternOf<T>>>] extends [never] ? unknown : never;

/** `MatchesTypeOf` of the bus's own side: the other side's types (`Across`) are not looked at. */
type OwnMatchesTypeOf<E, T> = IsUntyped<E> extends true ? unknown : string extends PatternOf<T> ? unknown : [UnmatchedPattern<E, PatternOf<T>>] extends [never] ? unknown : never;

/** Of the patterns `P` that match no type of `E`, those that match none of the other side's either (on a runtime's bus, `Across`). */
type UnmatchedAcross<E, P extends string> = [P] extends [never]
  ? never
  : typeof acrossTypes extends keyof E
    ? E[typeof acrossTypes] extends { readonly events: infer O } | undefined
      ? UnmatchedPattern<O, P>
      : P
    : P;

/** The patterns among `P` that match no type of `E`. */
type UnmatchedPattern<E, P extends string> = P extends string ? ([MatchingTypes<E, P>] extends [never] ? P : never) : never;

/**
 * The event a subscription's handler gets: the union its patterns `T` match
 * on map `E`; on an untyped map `BusEvent<P>` when the caller names a payload
 * type `P` (`subscribe<Login>('user.login', ...)`, or a handler or filter
 * annotated `BusEvent<Login>`), else `EventOf` (mostly `BusEvent<Payload>`).
 * On a typed map `P` is not inferred (`NoInfer`): a handler or a filter
 * annotated with another payload than the map's is refused, rather than
 * taken as naming `P` and given an event of both payloads; `E` is tested
 * first, so that for a known map no branch infers `P`.
 */
export type SubscribedEvent<E, T extends string | readonly string[], P> =
  IsUntyped<E> extends true
    ? [P] extends [never]
      ? EventOf<E, T>
      : BusEvent<P>
    : [NoInfer<P>] extends [never]
      ? EventOf<E, T>
      : EventOf<E, T> & BusEvent<NoInfer<P>>;

/**
 * The payload `post()` accepts for type `K`: on a typed bus the map's, or
 * the input its schema converts (`Inputs`); on an untyped one the payload as
 * given, `P`, if it is JSON-like (an intersection rather than a constraint,
 * which could not mention `P` itself).
 */
export type PostPayload<E, K extends string, P> = IsUntyped<E> extends true ? P & JsonCompatible<P> : InputOf<E, K>;

/** What `post()` returns on map `E`: the event with the map's payload, or the given payload on an untyped map. */
export type PostedEvent<E, K extends string, P> = IsUntyped<E> extends true ? BusEvent<P, K> : K extends keyof E ? BusEvent<E[K], K> : never;

/**
 * Payload of `busline.thread.crashed` and `busline.processor.crashed`: a
 * thread or child processor died (`thread` is null for a processor).
 */
export interface CrashReport {
  readonly processor: number;
  readonly thread: number | null;
  /** How it ended: `error`, `exit`, `hung`, `out-of-memory` for a thread; `hung`, the signal or `exit code <n>` for a processor. */
  readonly reason: string;
  /** What happened, in words, with what a thread threw: `it threw <message>`, `it exited with code 7`, `it was killed by SIGKILL`. */
  readonly message: string;
  /** Whether it was restarted (false once its restart budget is spent); reported once the successor runs. */
  readonly restarted: boolean;
}

/** Payload of `busline.actor.failed`: a user actor (`runtime.spawn()`) threw and stopped. */
export interface ActorFailure {
  readonly id: string;
  readonly module: string;
  readonly message: string;
}

/**
 * Payload of `busline.middleware.failed`: an `after` middleware threw on the
 * event `id` of type `type` in thread `processor.thread` (the event was
 * delivered; the runtime's `onError` got the `MiddlewareFailedError` too,
 * from any thread, with `processor` and `thread` fields when it came from a
 * worker thread or child processor).
 */
export interface MiddlewareFailure {
  readonly type: string;
  readonly id: string;
  /** The middleware's `name`, or its position (`#0`, ...). */
  readonly middleware: string;
  /** What it threw: its message. */
  readonly message: string;
  readonly processor: number;
  readonly thread: number;
}

/**
 * The runtime's own events, posted on internal buses: part of every typed
 * runtime's internal side.
 *
 * @example
 * runtime.bus('internal').subscribe('busline.thread.crashed', (event) => console.log(event.payload.reason))
 */
export interface BuslineEvents {
  readonly 'busline.thread.crashed': CrashReport;
  readonly 'busline.processor.crashed': CrashReport;
  readonly 'busline.actor.failed': ActorFailure;
  /** An `after` middleware threw (in any thread: a worker's report reaches the root with a sync). */
  readonly 'busline.middleware.failed': MiddlewareFailure;
  /** A history's memory budget lowered (over it) or recovered (well under it) a type's size-limit multiplier. */
  readonly 'busline.memory.multiplier': MultiplierChange;
  /** A history evicted events to meet its memory budget (one report per round). */
  readonly 'busline.memory.evicted': EvictionReport;
  /** A bus let unsent events go, its outbox at its budget under manual syncs (one report per round). */
  readonly 'busline.memory.dropped': UnsentDropReport;
  /** A history refused new events under memory pressure (one report until its budget's state next changes). */
  readonly 'busline.memory.refused': RefusalReport;
  /** `runtime.stats()`, every `metrics.intervalMs` when `createRuntime({ metrics: { intervalMs } })` asks for it. */
  readonly 'busline.stats': RuntimeStats;
  readonly 'busline.service.status': ServiceStatusReport;
  readonly 'busline.service.failed': ServiceFailure;
  /**
   * A reply to a `request()` on this side (`bus.reply()` posts it): in the
   * history and seen by `'*'` subscribers like any event.
   */
  readonly 'busline.reply': ReplyPayload;
}

/** One of the runtime's own events: a union discriminated by `type`. */
export type BuslineEvent = EventOfType<BuslineEvents, keyof BuslineEvents>;

/**
 * The map of an untyped runtime's internal side: any type, any payload, as
 * `AnyEvents`; but a subscription (or `history()`, `waitFor()`) whose
 * patterns name only the runtime's own events gets them typed, as on a typed
 * runtime: `subscribe('busline.thread.crashed', ...)` gets a `CrashReport`.
 * Patterns that may match the application's events (`*`, `>`, `app`) get
 * `BusEvent`.
 *
 * @example
 * createRuntime().bus('internal').subscribe('busline.thread.crashed', (event) => console.log(event.payload.message))
 */
export type AnyInternalEvents = AnyEvents & { readonly [knownTypes]?: BuslineEvents };

/**
 * The map of a runtime's internal side: on a typed runtime the runtime's own
 * events and the application's internal events `I`; untyped when `I` is,
 * with the runtime's own events known (`AnyInternalEvents`).
 */
export type InternalEventsOf<I> = IsUntyped<I> extends true ? AnyInternalEvents : BuslineEvents & I;

/** The key under which the map of a runtime's bus keeps the other side's (`Across`). Types only. */
declare const acrossTypes: unique symbol;

/**
 * The other side of a runtime's bus, `S`, and its map `O`: what a read
 * across the bridge (`fromStation({ side: S })`) brings to the bus. Its
 * subscribers whose patterns match them get those events, as do its
 * `history()` and `waitFor()`: `runtime.bus(side)` (and a thread's handle)
 * type the side's map with it, so that what they return is, where the other
 * side has events the patterns match, a union discriminated by `side`, and
 * patterns may name the other side's types. Only when both sides are typed;
 * a `Bus<Events>` of a plain map gets its own side's events only. Types only.
 *
 * @example
 * const audit = runtime.bus('internal')   // Bus<BuslineEvents & AppInternal & Across<'external', Events>>
 * audit.subscribe('order', (event) => console.log(event.side, event.payload.total))   // side: 'external'
 */
export interface Across<S extends Side, O> {
  readonly [acrossTypes]?: { readonly side: S; readonly events: O };
}

/**
 * The map of the bus of `side` on a runtime typed by `E` (external) and `I`
 * (internal): the side's own, with the other side's (`Across`) when both are typed.
 */
export type SideEventsOf<S extends Side, E, I> = S extends 'internal'
  ? IsUntyped<E> extends true ? InternalEventsOf<I> : IsUntyped<I> extends true ? InternalEventsOf<I> : InternalEventsOf<I> & Across<'external', E>
  : IsUntyped<E> extends true ? E : IsUntyped<I> extends true ? E : E & Across<'internal', InternalEventsOf<I>>;

/**
 * The options of `fromStation()`, `roundTrip()` and `sync()` on map `E`:
 * `types` must match its types (or the other side's, on a runtime's bus), as
 * `history()`'s do; what they bring is `EventOf<E, T>`.
 */
export type TypedReadOptions<O extends { readonly types?: readonly string[] }, E, T extends readonly string[]> = Omit<O, 'types'> & {
  readonly types?: T & ValidPatternList<E, T>;
};

/**
 * What a station's reads (`history()`, `get()`, `queued()`) return on map
 * `E`: `EventOf`, but a bare `BusEvent` (any event) where an untyped map's
 * `EventOf` is `BusEvent<Payload>`, so that a `Station` parameter takes the
 * stations of every runtime (a station posts nothing). An untyped runtime's
 * internal station types the runtime's own events, as its buses do.
 */
export type StationEventOf<E, T extends string | readonly string[] = string> = IsUntyped<E> extends true ? AnyRead<EventOf<E, T>> : EventOf<E, T>;

/** `BusEvent` for `BusEvent<Payload>`, the events an untyped map knows as they are. */
type AnyRead<R> = BusEvent<Payload> extends R ? BusEvent : R;

/** `TypedHistoryQuery` of a station: its `filter` gets `StationEventOf`. */
export type StationHistoryQuery<E, T extends readonly string[]> = Omit<HistoryQuery, 'types' | 'filter'> & {
  /** Event type patterns (see `subscribe`). */
  readonly types?: T & ValidPatternList<E, T>;
  /** Any further condition. */
  readonly filter?: (event: StationEventOf<E, T>) => boolean;
};

/** `StationHistoryQuery` without `filter`, which cannot cross to a processor (`RemoteStation`). */
export type StationPortableQuery<E, T extends readonly string[]> = Omit<HistoryQuery, 'types' | 'filter'> & {
  /** Event type patterns (see `subscribe`). */
  readonly types?: T & ValidPatternList<E, T>;
};

/** A history query on map `E`: `types` must match the map's types, and `filter` gets the events they match. */
export type TypedHistoryQuery<E, T extends readonly string[]> = Omit<HistoryQuery, 'types' | 'filter'> & {
  /** Event type patterns (see `subscribe`). */
  readonly types?: T & ValidPatternList<E, T>;
  /** Any further condition. */
  readonly filter?: (event: EventOf<E, T>) => boolean;
};
