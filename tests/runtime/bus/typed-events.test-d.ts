/**
 * Type-level tests of typed events (`createRuntime<Events>()`): checked by
 * `tsc` in `npm test` (a misplaced `@ts-expect-error` is itself an error).
 * Never executed.
 */
import {
  createRuntime,
  type Across,
  type AnyEvents,
  type AnyInternalEvents,
  type AnyPayload,
  type Bus,
  type BusEvent,
  type BuslineEvent,
  type BuslineEvents,
  type CrashReport,
  type EventMap,
  type EventOf,
  type EventTypeOf,
  type Handler,
  type JsonCompatible,
  type JsonValue,
  type Middleware,
  type Payload,
  type PostOptions,
  type Replies,
  type ReplyErrorInfo,
  type ReplyPayload,
  type RemoteBus,
  type ReplyEvent,
  type ReplyOf,
  type RequestTypeOf,
  type RuntimeStats,
  type SideEventsOf,
  type ServiceFailure,
  type Station,
  type StationEventOf,
  type RemoteStation,
  type SubscribeOptions,
  type UnsentDropReport,
} from '../../../index.js';
import type { EventOfType } from '../../../runtime/bus/typed-events.js';
import type { MemoryChange } from '../../../runtime/store/memory-stats.js';

/** True when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

// Interfaces, not type aliases: they have no index signature, and must work.
interface Login {
  readonly id: number;
  readonly at: string;
}
interface Logout {
  readonly id: number;
  readonly reason: 'timeout' | 'user';
}
interface OrderCreated {
  readonly orderId: string;
  readonly lines: ReadonlyArray<{ readonly sku: string; readonly qty: number }>;
  readonly note?: string;
}
interface Events {
  'user.login': Login;
  'user.logout': Logout;
  'user.login.failed': { readonly id: number; readonly attempts: number };
  'order.created': OrderCreated;
  'blob.stored': Uint8Array;
  tick: null;
}
interface AppInternal {
  'app.health': { readonly ok: boolean };
}

export function typedRuntime(): void {
  const runtime = createRuntime<Events>();
  const bus = runtime.bus('external');
  // The map, with the internal side's events that a read across the bridge brings (`Across`).
  expectType<Equal<typeof bus, Bus<SideEventsOf<'external', Events, {}>>>>();
  expectType<Equal<typeof bus, Bus<Events & Across<'internal', BuslineEvents>>>>();
  // A bus of the plain map (a `Bus<Events>` parameter) takes it, and gets this side's events only.
  const plain: Bus<Events> = bus;

  // post: the map's types with their payloads.
  const login = bus.post('user.login', { id: 7, at: '2024-01-01' });
  expectType<Equal<typeof login, BusEvent<Login, 'user.login'>>>();
  expectType<Equal<typeof login.type, 'user.login'>>();
  bus.post('tick', null);
  bus.post('blob.stored', new Uint8Array(2));
  bus.post('order.created', { orderId: 'o', lines: [{ sku: 's', qty: 1 }] }, { priority: 'immediate', topic: 'orders' });
  // @ts-expect-error misspelled type
  bus.post('user.logn', { id: 7, at: '' });
  // @ts-expect-error a prefix is not a type one can post
  bus.post('user', { id: 7, at: '' });
  // @ts-expect-error wrong payload: id must be a number
  bus.post('user.login', { id: '7', at: '' });
  // @ts-expect-error missing field
  bus.post('user.login', { id: 7 });
  // @ts-expect-error excess field (a literal is checked exactly)
  bus.post('user.login', { id: 7, at: '', admin: true });
  // @ts-expect-error a literal union field
  bus.post('user.logout', { id: 7, reason: 'kicked' });
  // @ts-expect-error a type's payload is not another's
  bus.post('tick', { id: 7 });
  // @ts-expect-error wildcards are for subscribing, not posting
  bus.post('user.*', { id: 7, at: '' });
  // @ts-expect-error priorities are immediate, normal, deferred
  bus.post('tick', null, { priority: 'urgent' });

  // local: true with deferred is refused at run time; a literal saying both does not compile.
  bus.post('tick', null, { local: true, priority: 'immediate' });
  bus.post('tick', null, { local: true, priority: 'normal', topic: 't', meta: { a: 'b' } });
  bus.post('tick', null, { local: false, priority: 'deferred' });
  // @ts-expect-error a local event is never deferred
  bus.post('tick', null, { local: true, priority: 'deferred' });
  // @ts-expect-error the same through publish()
  void bus.publish('tick', null, { priority: 'deferred', local: true });
  const localDeferred = { local: true, priority: 'deferred' } as const;
  // @ts-expect-error a const object saying both, too
  bus.post('tick', null, localDeferred);
  // @ts-expect-error unknown post options are still excess properties
  bus.post('tick', null, { local: true, later: true });
  // What compiles today still does: a PostOptions variable (checked at run time), an interface extending PostOptions, forwarding.
  const options: PostOptions = { local: true, priority: 'deferred' };
  bus.post('tick', null, options);
  interface Deferred extends PostOptions {
    readonly priority: 'deferred';
  }
  const deferred: Deferred = { priority: 'deferred', topic: 'later' };
  bus.post('tick', null, deferred);
  const forward = (more?: PostOptions) => bus.post('tick', null, more);
  forward({ local: true });
  bus.post<'tick', null>('tick', null, { local: true });

  // subscribe: the union of the events the patterns match, discriminated by type.
  bus.subscribe('user.login', (event) => {
    expectType<Equal<typeof event, BusEvent<Login, 'user.login'> | BusEvent<{ readonly id: number; readonly attempts: number }, 'user.login.failed'>>>();
  });
  bus.subscribe('user', (event) => {
    expectType<Equal<typeof event.type, 'user.login' | 'user.logout' | 'user.login.failed'>>();
    if (event.type === 'user.logout') {
      const reason: 'timeout' | 'user' = event.payload.reason;
      void reason;
    }
    const id: number = event.payload.id;
    void id;
    // @ts-expect-error not every user event has `at`
    void event.payload.at;
  });
  bus.subscribe(['user.logout', 'order'], (event) => {
    expectType<Equal<typeof event.type, 'user.logout' | 'order.created'>>();
  });
  // Everything: the map's events, and the replies to requests on this side, which the map does not list.
  plain.subscribe('*', (event) => {
    expectType<Equal<typeof event, EventOf<Events>>>();
    expectType<Equal<typeof event, EventOfType<Events, keyof Events> | ReplyEvent>>();
    expectType<Equal<typeof event.type, keyof Events | 'busline.reply'>>();
    if (event.type === 'busline.reply') expectType<Equal<typeof event.payload, ReplyPayload>>();
  });
  plain.subscribe('>', (event) => expectType<Equal<typeof event.type, keyof Events | 'busline.reply'>>());
  plain.subscribe(['*', 'user'], (event) => expectType<Equal<typeof event.type, keyof Events | 'busline.reply'>>());
  // Two parts, as `busline.reply` is; patterns that cannot match it do not get it.
  plain.subscribe('*.*', (event) => expectType<Equal<typeof event.type, 'user.login' | 'user.logout' | 'order.created' | 'blob.stored' | 'busline.reply'>>());
  void plain.waitFor('*').then((event) => expectType<Equal<typeof event.type, keyof Events | 'busline.reply'>>());
  const everything = plain.history({ types: ['*'] });
  expectType<Equal<(typeof everything)[number]['type'], keyof Events | 'busline.reply'>>();
  const whole = plain.history();
  expectType<Equal<(typeof whole)[number]['type'], keyof Events | 'busline.reply'>>();
  bus.history({ types: ['>'], filter: (event) => event.type !== 'busline.reply' || event.payload.request !== '' });
  // The runtime's bus gets the other side's events its patterns match too, as a read across the bridge brings them:
  // a union discriminated by `side` (and by `type`).
  bus.subscribe('*', (event) => {
    if (event.side === 'internal') expectType<Equal<typeof event, BuslineEvent & { readonly side: 'internal' }>>();
    else expectType<Equal<typeof event, EventOf<Events> & { readonly side: 'external' }>>();
  });
  void bus.waitFor('>').then((event) => expectType<Equal<typeof event.type, keyof Events | keyof BuslineEvents>>());
  expectType<Equal<ReturnType<typeof bus.history>[number]['side'], 'internal' | 'external'>>();
  expectType<Equal<EventOf<Events, '*'>, EventOf<Events>>>();
  expectType<Equal<EventOf<Events, 'user' | 'order'>['type'], 'user.login' | 'user.logout' | 'user.login.failed' | 'order.created'>>();
  // A map that lists replies itself (every internal map does) gets them once.
  expectType<Equal<EventOf<BuslineEvents, '*'>, BuslineEvent>>();
  // Replies are no type of the map: a subscription to them alone is a misspelling here, as a post of one is.
  // @ts-expect-error not in the map
  plain.subscribe('busline.reply', () => undefined);
  // On the runtime's bus the internal side lists them, whose replies a read across brings: this side's and those.
  bus.subscribe('busline.reply', (event) => {
    expectType<Equal<typeof event, (ReplyEvent & { readonly side: 'external' }) | (ReplyEvent & { readonly side: 'internal' })>>();
    expectType<Equal<typeof event.payload, ReplyPayload>>();
  });
  // @ts-expect-error replies are posted by bus.reply(), not by hand
  bus.post('busline.reply', { request: 'r' });
  // A replier's handler gets requests only: a reply matches `*` too, but is never a request (its filter sees it).
  plain.reply('*', (request) => void expectType<Equal<typeof request.type, keyof Events>>(), { filter: (event) => event.type !== 'busline.reply' });
  plain.reply('>', (request) => void expectType<Equal<typeof request, EventOfType<Events, keyof Events>>>());
  bus.reply('*', (request) => void expectType<Equal<typeof request.type, keyof Events | Exclude<keyof BuslineEvents, 'busline.reply'>>>());
  createRuntime<Events, AppInternal>().bus('internal').reply('*', (request) => request.side === 'internal' && expectType<Equal<typeof request.type, Exclude<keyof BuslineEvents, 'busline.reply'> | 'app.health'>>());
  (runtime.thread(0, 1).bus('external') as RemoteBus<Events>).reply('*.*', (request) => void expectType<Equal<typeof request.type, 'user.login' | 'user.logout' | 'order.created' | 'blob.stored'>>());
  // One level: `user.*` is login and logout, not login.failed.
  bus.subscribe('user.*', (event) => expectType<Equal<typeof event.type, 'user.login' | 'user.logout'>>());
  // Any depth below.
  bus.subscribe('user.>', (event) => expectType<Equal<typeof event.type, 'user.login' | 'user.logout' | 'user.login.failed'>>());
  bus.subscribe('*.created', (event) => expectType<Equal<typeof event.type, 'order.created'>>());
  bus.subscribe('user.*.failed', (event) => expectType<Equal<typeof event.type, 'user.login.failed'>>());
  // @ts-expect-error misspelled type
  bus.subscribe('usr', () => {});
  // @ts-expect-error a prefix of a part is not a type
  bus.subscribe('use', () => {});
  // @ts-expect-error one misspelled entry is enough
  bus.subscribe(['user', 'ordr'], () => {});
  // @ts-expect-error `tick.*` matches nothing: tick has no subtypes
  bus.subscribe('tick.*', () => {});
  // Options are typed by the same events.
  bus.subscribe('user.login', (event) => void event, {
    filter: (event) => event.payload.id > 0,
    onError: (error, event) => console.error(error, event.payload.id),
    topics: ['web'],
  });
  // @ts-expect-error the filter sees the subscription's events only
  bus.subscribe('tick', () => {}, { filter: (event) => event.payload.id > 0 });

  // history: typed by `types`; all of the map without.
  const users = bus.history({ types: ['user.login'] });
  expectType<Equal<(typeof users)[number]['type'], 'user.login' | 'user.login.failed'>>();
  const all = plain.history();
  expectType<Equal<(typeof all)[number], EventOf<Events>>>();
  const recent = bus.history({ types: ['order'], since: 0, filter: (event) => event.payload.lines.length > 0 });
  expectType<Equal<(typeof recent)[number]['payload'], OrderCreated>>();
  // @ts-expect-error misspelled type in a query
  bus.history({ types: ['oder'] });

  // waitFor, waitForEvents and publish are typed by the map too.
  void bus.waitFor('user.logout', { filter: (event) => event.payload.reason === 'user', timeout: 10 }).then((event) => {
    expectType<Equal<typeof event, BusEvent<Logout, 'user.logout'>>>();
  });
  void bus.waitFor('order.*').then((event) => expectType<Equal<typeof event.payload, OrderCreated>>());
  // @ts-expect-error misspelled type
  void bus.waitFor('usr.login');
  // @ts-expect-error the filter sees the awaited events only
  void bus.waitFor('tick', { filter: (event) => event.payload.id > 0 });
  void bus.waitForEvents(['tick', 'order.*', 'user'], { inOrder: true, grace: 5 }).then(([tick, order, user]) => {
    expectType<Equal<typeof tick, BusEvent<null, 'tick'>>>();
    expectType<Equal<typeof order, BusEvent<OrderCreated, 'order.created'>>>();
    expectType<Equal<typeof user.type, 'user.login' | 'user.logout' | 'user.login.failed'>>();
  });
  // @ts-expect-error one entry matches nothing
  void bus.waitForEvents(['tick', 'tock']);
  // A list that names an unknown type takes nothing (`never`), so the error says no more than that: not that the
  // list is not some other type of the map (`"tick"`), as `| EventTypeOf<E>`, which only a single type can be, would.
  expectType<Equal<Parameters<typeof bus.waitForEvents<readonly ['tick', 'tock']>>[0], never>>();
  expectType<Equal<NonNullable<Parameters<typeof bus.history<readonly ['oder']>>[0]>['types'], undefined>>();
  void bus.publish('user.login', { id: 1, at: '' }).then((published) => {
    // A post a middleware dropped has no event: the union narrows on `dropped`.
    if (published.dropped !== undefined) {
      expectType<Equal<typeof published.dropped, string>>();
      expectType<Equal<typeof published.event, undefined>>();
      return;
    }
    const { event, outcomes, failed } = published;
    expectType<Equal<typeof event, BusEvent<Login, 'user.login'>>>();
    expectType<Equal<typeof failed, number>>();
    void outcomes;
  });
  // @ts-expect-error publish checks payloads as post does
  void bus.publish('tick', 1);

  // Calls that return the next bus keep its map.
  void bus.toStation().then((next) => expectType<Equal<typeof next, typeof bus>>());
  void plain.toStation().then((next) => expectType<Equal<typeof next, Bus<Events>>>());
  void bus.roundTrip().then((next) => next.post('tick', null));

  // The internal side: the runtime's own events, typed.
  const internal = runtime.bus('internal');
  internal.subscribe('busline.thread.crashed', (event) => {
    const report: CrashReport = event.payload;
    const thread: number | null = event.payload.thread;
    void report;
    void thread;
  });
  internal.subscribe('busline', (event) => {
    // The runtime's events; and the external side's replies, which a read across brings.
    expectType<Equal<typeof event, (BuslineEvent & { readonly side: 'internal' }) | (ReplyEvent & { readonly side: 'external' })>>();
    if (event.type === 'busline.actor.failed') void event.payload.module;
  });
  // @ts-expect-error the external map is not on the internal side
  internal.post('tick', null);

  // Threads elsewhere: RemoteBus is typed by the same map.
  const worker = runtime.thread(0, 1).bus('external');
  void worker.post('user.logout', { id: 1, reason: 'user' });
  // @ts-expect-error on a RemoteBus too
  void worker.post('user.logout', { id: 1, reason: 'kicked' });
  // @ts-expect-error a local event is never deferred, on a RemoteBus too
  void worker.post('tick', null, { local: true, priority: 'deferred' });
  // @ts-expect-error and through its publish()
  void worker.publish('tick', null, { local: true, priority: 'deferred' });
  void worker.post('tick', null, { local: true });
  const remote = runtime.thread(0, 1).bus('external') as RemoteBus<Events>;
  void remote.history({ types: ['order'] }).then((events) => expectType<Equal<(typeof events)[number]['type'], 'order.created'>>());
  void runtime.addThread().bus('internal').post('busline.actor.failed', { id: 'a', module: 'm', message: 'x' });
  // Subscribing, waiting and publishing from elsewhere are typed as on a Bus.
  remote.subscribe('user.*', (event) => expectType<Equal<typeof event.type, 'user.login' | 'user.logout'>>());
  // @ts-expect-error no such type in the map
  remote.subscribe('user.logon', () => undefined);
  void remote.waitFor('order.created', { filter: (event) => event.payload.lines.length > 0 }).then((event) => expectType<Equal<typeof event.payload, OrderCreated>>());
  expectType<Equal<Parameters<typeof remote.waitForEvents<readonly ['tock']>>[0], never>>();
  expectType<Equal<NonNullable<Parameters<typeof remote.history<readonly ['oder']>>[0]>['types'], undefined>>();
  void remote.waitForEvents(['user.login', 'order.created']).then(([login, order]) => {
    expectType<Equal<typeof login, EventOf<Events, 'user.login'>>>(); // 'user.login' matches 'user.login.failed' too
    expectType<Equal<typeof order.payload, OrderCreated>>();
  });
  void remote.publish('user.login', { id: 1, at: 'now' }).then((published) => {
    if (published.dropped !== undefined) {
      // A post a worker's middleware dropped, as on a Bus.
      expectType<Equal<typeof published.middleware, string>>();
      expectType<Equal<typeof published.event, undefined>>();
      return;
    }
    const { event, failed } = published;
    expectType<Equal<typeof event.type, 'user.login'>>();
    expectType<Equal<typeof failed, number>>();
  });
  // @ts-expect-error a wrong payload is refused on publish too
  void remote.publish('user.login', { id: '1', at: 'now' });
}

export function internalEvents(): void {
  // The application's own internal events beside the runtime's.
  const runtime = createRuntime<Events, AppInternal>();
  const internal = runtime.bus('internal');
  internal.post('app.health', { ok: true });
  internal.subscribe('*', (event) => event.side === 'internal' && expectType<Equal<typeof event.type, 'app.health' | BuslineEvent['type']>>());
  // A request on the internal side: its reply is a declared event there, as a '*' subscriber sees it.
  internal.subscribe('*', (event) => {
    if (event.type === 'busline.reply') expectType<Equal<typeof event.payload, ReplyPayload>>();
  });
  internal.subscribe('busline.reply', (event) => expectType<Equal<typeof event.payload.request, string>>());
  // @ts-expect-error not in either map
  internal.post('app.sick', { ok: false });
  // Requests of the side's own types; a reply is no request, though the internal map lists it (refused at run time too).
  void internal.request('app.health', { ok: true });
  void internal.request('busline.stats', undefined as unknown as RuntimeStats);
  // @ts-expect-error replies are posted by bus.reply(): a request of their type would be taken for a reply
  void internal.request('busline.reply', { request: 'r', value: null });
  // @ts-expect-error on a RemoteBus too
  void (runtime.thread(0, 1).bus('internal') as RemoteBus<BuslineEvents & AppInternal>).request('busline.reply', { request: 'r', value: null });
  expectType<Equal<RequestTypeOf<BuslineEvents & AppInternal>, Exclude<keyof BuslineEvents, 'busline.reply'> | 'app.health'>>();
  // An untyped internal side takes any type: there the run-time check says no.
  void createRuntime().bus('internal').request('busline.reply', { request: 'r', value: null });
  // Nor is a replier of replies: reply() refuses their type (and subtypes) where the map lists it, as the runtime does.
  // @ts-expect-error a replier of replies
  internal.reply('busline.reply', () => undefined);
  // @ts-expect-error on a RemoteBus too
  runtime.thread(0, 1).bus('internal').reply('busline.reply', () => undefined);
  internal.reply('busline.stats', () => undefined);
  internal.reply('*', (request) => void request);
  createRuntime().bus('internal').reply('busline.reply', () => undefined);
  // A helper generic in K: K of the map's requests (RequestTypeOf) compiles; K of all its types may be a reply, and does not.
  function answer<K extends RequestTypeOf<BuslineEvents & AppInternal>>(target: Bus<BuslineEvents & AppInternal>, type: K): void {
    target.reply(type, () => undefined as never);
  }
  function answerAny<K extends EventTypeOf<BuslineEvents & AppInternal>>(target: Bus<BuslineEvents & AppInternal>, type: K): void {
    // @ts-expect-error K may be 'busline.reply'
    target.reply(type, () => undefined as never);
  }
  answer(internal, 'app.health');
  void answerAny;
}

export function acrossTheBridge(): void {
  // A bus reading across the bridge (`fromStation({ side })`) gets the other side's events: a runtime's bus is typed with them.
  const runtime = createRuntime<Events, AppInternal>();
  const external = runtime.bus('external');
  const audit = runtime.bus('internal');
  expectType<Equal<typeof audit, Bus<BuslineEvents & AppInternal & Across<'external', Events>>>>();
  // Patterns that match this side only get what they got, as they were typed.
  external.subscribe('user.logout', (event) => expectType<Equal<typeof event, BusEvent<Logout, 'user.logout'>>>());
  audit.subscribe('app.health', (event) => expectType<Equal<typeof event, BusEvent<{ readonly ok: boolean }, 'app.health'>>>());
  // Those that match the other side's types get its events, with their side; patterns may name them.
  audit.subscribe('order', (event) => {
    expectType<Equal<typeof event, BusEvent<OrderCreated, 'order.created'> & { readonly side: 'external' }>>();
    const lines: number = event.payload.lines.length;
    void lines;
  }, { filter: (event) => event.payload.orderId !== '', onError: (_error, event) => void event.payload.orderId });
  external.subscribe('busline.thread.crashed', (event) => {
    expectType<Equal<typeof event.side, 'internal'>>();
    expectType<Equal<typeof event.payload, CrashReport>>();
  });
  external.subscribe(['user.logout', 'app'], (event) => {
    if (event.side === 'internal') expectType<Equal<typeof event.payload, { readonly ok: boolean }>>();
    else expectType<Equal<typeof event.payload, Logout>>();
  });
  const orders = audit.history({ types: ['order.created'], filter: (event) => event.payload.lines.length > 0 });
  expectType<Equal<(typeof orders)[number], BusEvent<OrderCreated, 'order.created'> & { readonly side: 'external' }>>();
  void audit.waitFor('user.*', { filter: (event) => event.payload.id > 0 }).then((event) => expectType<Equal<typeof event.side, 'external'>>());
  void audit.waitForEvents(['app.health', 'tick']).then(([health, tick]) => {
    expectType<Equal<typeof health.payload, { readonly ok: boolean }>>();
    expectType<Equal<typeof tick, BusEvent<null, 'tick'> & { readonly side: 'external' }>>();
  });
  // A thread's buses, and a RemoteBus, the same.
  const worker = runtime.thread(0, 1).bus('internal');
  worker.subscribe('order.created', (event) => expectType<Equal<typeof event.side, 'external'>>());
  // A type on both sides: `side` tells the payloads apart.
  const both = createRuntime<{ status: { readonly up: boolean } }, { status: { readonly code: number } }>().bus('external');
  both.subscribe('status', (event) => {
    if (event.side === 'internal') expectType<Equal<typeof event.payload, { readonly code: number }>>();
    else expectType<Equal<typeof event.payload, { readonly up: boolean }>>();
  });
  // The read itself: its `types` are checked as history()'s, and what it added is typed by them.
  void audit.fromStation({ side: 'external', types: ['order'] }).then(({ added }) => {
    expectType<Equal<(typeof added)[number], BusEvent<OrderCreated, 'order.created'> & { readonly side: 'external' }>>();
  });
  void external.sync().then(({ added }) => expectType<Equal<(typeof added)[number], EventOf<SideEventsOf<'external', Events, AppInternal>>>>());
  void external.roundTrip({ types: ['user', 'busline.stats'] }).then((next) => expectType<Equal<typeof next, typeof external>>());
  void (runtime.thread(0, 1).bus('external') as RemoteBus<SideEventsOf<'external', Events, AppInternal>>).fromStation({ types: ['tick'] });
  // @ts-expect-error a misspelled type in a read
  void audit.fromStation({ side: 'external', types: ['ordr'] });
  // @ts-expect-error in roundTrip()
  void external.roundTrip({ types: ['usr'] });
  // @ts-expect-error in sync()
  void external.sync({ types: ['user', 'usr'] });
  // @ts-expect-error on a RemoteBus
  void (runtime.thread(0, 1).bus('external') as RemoteBus<Events>).roundTrip({ types: ['tock'] });
  void createRuntime().bus().fromStation({ types: ['anything.at.all'] });
  // What stays refused: a type on neither side, and posts of the other side's types (a bus posts on its own side).
  // @ts-expect-error on neither side
  audit.subscribe('ordr', () => undefined);
  // @ts-expect-error nor in a list
  audit.history({ types: ['order', 'app.sick'] });
  // @ts-expect-error the external map is not posted on the internal side
  audit.post('order.created', { orderId: 'o', lines: [] });
  // @ts-expect-error nor requested there
  void audit.request('tick', null);
  // Nor answered there: a replier posts its reply on its own side, while a request read across has its requester on
  // the other side, whose syncs do not read this one (and the runtime refuses a replier of replies).
  // @ts-expect-error a replier of the other side's requests
  audit.reply('order.created', () => undefined);
  // @ts-expect-error a pattern of them
  audit.reply('order.*', () => undefined);
  // @ts-expect-error on a thread's bus
  runtime.thread(0, 1).bus('internal').reply('tick', () => undefined);
  // @ts-expect-error the internal side's replies, from the external side
  external.reply('busline.reply', () => undefined);
  // @ts-expect-error nor the runtime's events, which only the internal side requests
  external.reply('busline.stats', () => undefined);
  // A replier of its own side's types, or of `*` (whose handler sees what a read across brought, as a subscriber does).
  audit.reply('app.health', (request) => void expectType<Equal<typeof request, BusEvent<{ readonly ok: boolean }, 'app.health'>>>());
  external.reply('*', (request) => void request.side);
  // Code that takes a bus of the plain map takes the runtime's: it sees this side's events only.
  const plain: Bus<Events> = external;
  const register = (bus: Bus<Events> | RemoteBus<Events>) => bus.subscribe('*', (event) => void event.id);
  register(external);
  register(runtime.thread(0, 1).bus('external'));
  const internalPlain: Bus<BuslineEvents & AppInternal> = audit;
  void plain;
  void internalPlain;
  // Code that takes a bus of the untyped map does not: it could post any type with any payload to typed handlers.
  const takesAny = (bus: Bus | RemoteBus) => bus.post('anything', 1);
  // @ts-expect-error a typed bus is no Bus
  takesAny(external);
  // @ts-expect-error nor is a typed RemoteBus a RemoteBus
  takesAny(runtime.thread(0, 1).bus('internal'));
  // @ts-expect-error nor the reverse
  const typedFromAny: Bus<Events> = createRuntime().bus();
  void typedFromAny;
  takesAny(createRuntime().bus('internal'));
  takesAny(createRuntime().thread(0, 1).bus('external'));
  // A parameter of `any` map stays the escape hatch it was: `MapKind<any>` is the untyped kind, yet it takes typed buses.
  const takesAnything = (bus: Bus<any> | RemoteBus<any>) => bus.side;
  takesAnything(external);
  takesAnything(runtime.thread(0, 1).bus('internal'));
  takesAnything(createRuntime().bus('internal'));
  expectType<Equal<typeof external.eventMap, "typed: posts only its map's types; a function taking any typed bus is generic in the map" | undefined>>();
  // An untyped side promises nothing of its events: a bus of a runtime with one is typed as before, by its own map.
  const mixed = createRuntime<Events, AnyEvents>();
  const mixedBus = mixed.bus('external');
  expectType<Equal<typeof mixedBus, Bus<Events>>>();
  const untyped = createRuntime().bus('internal');
  expectType<Equal<typeof untyped, Bus<AnyInternalEvents>>>();
}

export function annotatedHandlers(): void {
  // Seed-style code: handlers, filters and repliers written as functions of an annotated event.
  const runtime = createRuntime<RequestLike>();
  const event_bus = runtime.bus('external');
  function handle_login(event: BusEvent<Login>): void {
    void event.payload.at;
  }
  event_bus.subscribe('user.login', handle_login);
  event_bus.subscribe('user.login', (event: BusEvent<Login, 'user.login'>) => void event.payload.at);
  const onLogin: Handler<Login> = (event) => void event.payload.at;
  event_bus.subscribe('user.login', onLogin);
  const filter_fn = (event: BusEvent<Login>) => event.payload.id > 0;
  event_bus.subscribe('user.login', (event) => void event.payload.at, { filter: filter_fn });
  const get_events = (type: 'user.login' | 'user.logout', since: number) => event_bus.history({ types: [type], since });
  expectType<Equal<ReturnType<typeof get_events>[number]['type'], 'user.login' | 'user.logout'>>();
  const logins: Array<BusEvent<Login>> = event_bus.history({ types: ['user.login'] });
  void logins;
  async function handle_query(event: BusEvent<{ readonly id: string }>): Promise<{ readonly name: string }> {
    return { name: event.payload.id };
  }
  event_bus.reply('user.get', handle_query);
  // get() and queue() give the bus's events as the map types them (a union to narrow), not a bare BusEvent.
  const got = event_bus.get('an id');
  if (got?.type === 'user.login') expectType<Equal<typeof got.payload, Login>>();
  expectType<Equal<ReturnType<typeof event_bus.queue>[number], EventOf<SideEventsOf<'external', RequestLike, {}>>>>();
  void (runtime.thread(0, 1).bus('external') as RemoteBus<RequestLike>).queue().then((queued) => expectType<Equal<(typeof queued)[number], EventOf<RequestLike>>>());
  const anyGot = createRuntime().bus().get('an id');
  expectType<Equal<typeof anyGot, BusEvent<Payload> | undefined>>();
  // A handler or filter annotated with another payload than the map's was taken as naming subscribe()'s payload
  // type, and got an event of both payloads; it is refused now, as an unannotated one reading a missing field is.
  // @ts-expect-error a login subscription's handler of logouts
  event_bus.subscribe('user.login', (event: BusEvent<Logout>) => void event.payload.reason);
  // @ts-expect-error nor its filter
  event_bus.subscribe('user.login', () => undefined, { filter: (event: BusEvent<Logout>) => event.payload.reason === 'user' });
  // @ts-expect-error nor its onError
  event_bus.subscribe('user.login', () => undefined, { onError: (_error, event: BusEvent<Logout>) => void event.payload.reason });
  // @ts-expect-error on a RemoteBus too
  (runtime.thread(0, 1).bus('external') as RemoteBus<RequestLike>).subscribe('user.logout', (event: BusEvent<Login>) => void event.payload.at);
  // @ts-expect-error a replier of another request payload
  event_bus.reply('user.get', async (event: BusEvent<Login>) => ({ name: event.payload.at }));
  // @ts-expect-error history is no list of another payload's events
  const wrong: Array<BusEvent<Logout>> = event_bus.history({ types: ['user.login'] });
  void wrong;
  // Naming the payload type still works, and an untyped bus still reads it from an annotated handler.
  event_bus.subscribe<Login>('user.login', (event) => void event.payload.at);
  createRuntime().bus().subscribe('user.login', (event: BusEvent<Login>) => void event.payload.at, { filter: (event: BusEvent<Login>) => event.payload.id > 0 });
  // A helper generic in the type, on a concrete map, passes its handler on wrapped, as README says; over a
  // `Bus<RequestLike>`, or naming the runtime's bus's map: a `K` of this side may be a type of the other side too.
  const plainBus: Bus<RequestLike> = event_bus;
  function on<K extends keyof RequestLike & string>(type: K, handler: (event: EventOf<RequestLike, K>) => void) {
    return plainBus.subscribe(type, (event) => handler(event));
  }
  function onRuntimeBus<K extends keyof RequestLike & string>(type: K, handler: (event: EventOf<SideEventsOf<'external', RequestLike, {}>, K>) => void) {
    return event_bus.subscribe(type, (event) => handler(event));
  }
  function misnamed<K extends keyof RequestLike & string>(type: K, handler: (event: EventOf<RequestLike, K>) => void) {
    // @ts-expect-error the runtime's bus gets the other side's events of K's name too, which the plain map's EventOf<E, K> does not name
    return event_bus.subscribe(type, (event) => handler(event));
  }
  void onRuntimeBus;
  void misnamed;
  on('user.logout', (event) => void event.payload.reason);
}

interface RequestLike extends Replies<{ 'user.get': { readonly name: string } }> {
  'user.login': Login;
  'user.logout': Logout;
  'user.get': { readonly id: string };
}

export function badMaps(): void {
  // @ts-expect-error a function is not a payload
  createRuntime<{ 'user.login': () => void }>();
  // @ts-expect-error a Date is not JSON data (post its ISO string)
  createRuntime<{ 'user.login': { at: Date } }>();
  // @ts-expect-error neither is undefined (use null)
  createRuntime<{ 'user.login': undefined }>();
  // @ts-expect-error nor a bigint, deep inside
  createRuntime<{ 'user.login': { ids: bigint[] } }>();
  // @ts-expect-error nor a Map
  createRuntime<{ 'order.placed': { lines: Map<string, number> } }>();
  // @ts-expect-error nor a Set
  createRuntime<{ 'order.placed': { tags: Set<string> } }>();
  // @ts-expect-error nor a class instance with methods
  createRuntime<{ 'order.placed': { total: Money } }>();
  // @ts-expect-error nor a field that may be undefined without being optional
  createRuntime<{ 'order.placed': { note: string | undefined } }>();
  // @ts-expect-error nor a Date beside a string
  createRuntime<{ 'order.placed': { at: string | Date } }>();
  // @ts-expect-error nor unknown: a payload's type says what it holds
  createRuntime<{ 'order.placed': { extra: unknown } }>();
  createRuntime<{ 'user.login': { at: string; tags: string[]; nested: { ok: boolean } } }>();
  // Optional fields, unions with null, tuples, bytes (a whole payload) and recursive interfaces are data.
  createRuntime<{ 'order.placed': { note?: string; total: number | null; pair: readonly [string, number]; tree: Tree }; 'blob.stored': Uint8Array }>();
  // @ts-expect-error bytes inside data: post() refuses them
  createRuntime<{ 'order.placed': { raw: Uint8Array } }>();
  createRuntime<{ 'order.placed': { total: PlainMoney } }>();
}

// A class with methods, and an interface with data only.
declare class Money {
  readonly cents: number;
  format(): string;
}
interface PlainMoney {
  readonly cents: number;
}
interface Tree {
  readonly name: string;
  readonly children: readonly Tree[];
}

/** True when the message `M` (a `PayloadProblem`) starts with `Start` (false for `never`, which would pass unseen). */
type Says<M, Start extends string> = [M] extends [never] ? false : M extends `${Start}${string}` ? true : false;

export function badMapMessages(): void {
  // The constraint a bad map fails says, in its place, what is wrong and what to do instead.
  type Placed<T> = EventMap<{ 'order.placed': T }>['order.placed'];
  expectType<Says<Placed<{ at: Date }>['at'], "payload field 'at' is a Date: events carry JSON-like values; declare an ISO string and post date.toISOString(), or let a payload schema convert the Date">>();
  expectType<Says<Placed<Date>, 'payload is a Date: '>>();
  expectType<Says<Placed<{ lines: ReadonlyArray<{ at: Date }> }>['lines'][number]['at'], "payload field 'lines[].at' is a Date: ">>();
  expectType<Says<Placed<{ order: { lines: Map<string, number> } }>['order']['lines'], "payload field 'order.lines' is a Map: ">>();
  expectType<Says<Placed<{ tags: Set<string> }>['tags'], "payload field 'tags' is a Set: ">>();
  expectType<Says<Placed<{ total: Money }>['total']['format'], "payload field 'total.format' is a function: events carry JSON-like data, not code (a method of a class instance?">>();
  expectType<Says<Placed<{ run: () => void }>['run'], "payload field 'run' is a function: ">>();
  expectType<Says<Placed<{ id: bigint }>['id'], "payload field 'id' is a bigint: ">>();
  expectType<Says<Placed<{ extra: unknown }>['extra'], "payload field 'extra' is unknown: ">>();
  expectType<Says<Extract<Placed<{ note: string | undefined }>['note'], `payload ${string}`>, "payload field 'note' may be undefined: ">>();
  expectType<Says<Extract<Placed<{ tags: Array<string | undefined> }>['tags'][number], `payload ${string}`>, "payload field 'tags[]' may be undefined: ">>();
  // Bytes are a Uint8Array: other binary data says so, not that its methods are functions.
  expectType<Says<Placed<{ raw: ArrayBuffer }>['raw'], "payload field 'raw' is binary data other than a Uint8Array: ">>();
  expectType<Says<Placed<{ samples: Float64Array }>['samples'], "payload field 'samples' is binary data other than a Uint8Array: ">>();
  // Bytes are a whole payload only: post() refuses a Uint8Array inside data.
  expectType<Equal<Placed<Uint8Array>, Uint8Array>>();
  expectType<Equal<Placed<Buffer>, Buffer>>();
  expectType<Says<Placed<{ bytes: Uint8Array }>['bytes'], "payload field 'bytes' is a Uint8Array inside data: ">>();
  expectType<Says<Placed<{ parts: Buffer[] }>['parts'][number], "payload field 'parts[]' is a Uint8Array inside data: ">>();
  // A record's values are named by `<key>`, not by the compiler's `${string}`.
  expectType<Says<Placed<{ seen: Record<string, Date> }>['seen'][string], "payload field 'seen.<key>' is a Date: ">>();
  expectType<Says<Placed<Record<string, unknown>>[string], "payload field '<key>' is unknown: ">>();
  expectType<Says<Placed<{ by: { [id: string]: { at: Date } } }>['by'][string]['at'], "payload field 'by.<key>.at' is a Date: ">>();
  // A sentence beside `string` stays (a plain literal would be lost in `string`).
  expectType<Says<Extract<Placed<{ at: string | Date }>['at'], `payload ${string}`>, "payload field 'at' is a Date: ">>();
  // What is data stays as it is.
  expectType<Equal<Placed<{ note?: string; at: string }>, { note?: string; at: string }>>();
  // On an untyped bus, a post of a Date says the same.
  const bus = createRuntime().bus();
  // An event's payload may be bytes, which travel only as a whole payload: wrapping it handles them.
  bus.subscribe('order', (event) => {
    // @ts-expect-error "payload field 'original' is a Uint8Array inside data: ..."
    bus.post('order.seen', { original: event.payload });
    bus.post('order.seen', { original: event.payload instanceof Uint8Array ? null : event.payload });
  });
  // @ts-expect-error "payload field 'at' is a Date: ..."
  bus.post('order.placed', { at: new Date() });
  // @ts-expect-error "payload is a Date: ..."
  bus.post('order.placed', new Date());
}

export function untypedRuntime(): void {
  // No map: any type and any JSON-like payload, as before; interfaces included.
  const runtime = createRuntime();
  const bus = runtime.bus('external');
  expectType<Equal<typeof bus, Bus<AnyEvents>>>();
  expectType<Equal<typeof bus, Bus>>();
  const login: Login = { id: 1, at: '' };
  const event = bus.post('user.login', login);
  expectType<Equal<typeof event, BusEvent<Login, 'user.login'>>>();
  bus.post('anything.at.all', { nested: [1, 'two', null, { three: true }] });
  // @ts-expect-error functions are not payloads
  bus.post('x', () => 1);
  // @ts-expect-error undefined is not a payload (use null)
  bus.post('x', undefined);
  // @ts-expect-error dates are not JSON data, interfaces or not
  bus.post('x', { at: new Date() });
  // @ts-expect-error nor bigints
  bus.post('x', { n: 1n });
  bus.subscribe('whatever', (e) => expectType<Equal<typeof e, BusEvent<Payload>>>());
  bus.subscribe<Login>('user.login', (e) => {
    const id: number = e.payload.id;
    void id;
  });
  const history = bus.history({ types: ['user'] });
  expectType<Equal<typeof history, BusEvent<Payload>[]>>();
  // The internal side of an untyped runtime takes any type and payload too.
  runtime.bus('internal').post('my.own.thing', { ok: true });
  runtime.bus('internal').post('busline.custom.report', 1);
  const side: 'internal' | 'external' = Math.random() > 0.5 ? 'internal' : 'external';
  runtime.bus(side).post('either.side', 1);
}

export function untypedInternal(): void {
  // An untyped runtime's internal side: the runtime's own events typed, as on a typed runtime.
  const runtime = createRuntime();
  const internal = runtime.bus('internal');
  expectType<Equal<typeof internal, Bus<AnyInternalEvents>>>();
  internal.subscribe('busline.thread.crashed', (event) => {
    expectType<Equal<typeof event, BusEvent<CrashReport, 'busline.thread.crashed'>>>();
    const message: string = event.payload.message;
    void message;
  });
  internal.subscribe(['busline.thread.crashed', 'busline.processor.crashed'], (event) => expectType<Equal<typeof event.payload, CrashReport>>());
  internal.subscribe('busline.memory', (event) => {
    expectType<Equal<typeof event.type, 'busline.memory.multiplier' | 'busline.memory.evicted' | 'busline.memory.dropped' | 'busline.memory.refused'>>();
    if (event.type === 'busline.memory.dropped') expectType<Equal<typeof event.payload, UnsentDropReport>>();
  });
  internal.subscribe('busline', (event) => expectType<Equal<typeof event, BuslineEvent>>());
  internal.subscribe('busline.>', (event) => expectType<Equal<typeof event, BuslineEvent>>());
  internal.subscribe('busline.*.crashed', (event) => expectType<Equal<typeof event.payload, CrashReport>>());
  internal.subscribe('busline.stats', (event) => event.payload.buses.length, { filter: (event) => event.payload.at > 0 });
  const stats = internal.history({ types: ['busline.stats'] });
  expectType<Equal<(typeof stats)[number], BusEvent<RuntimeStats, 'busline.stats'>>>();
  void internal.waitFor('busline.service.failed').then((event) => expectType<Equal<typeof event.payload, ServiceFailure>>());
  void internal.waitForEvents(['busline.stats', 'app.ready']).then(([report, ready]) => {
    expectType<Equal<typeof report.payload, RuntimeStats>>();
    expectType<Equal<typeof ready, BusEvent<Payload>>>();
  });
  // A worker thread's internal bus too.
  const remote = runtime.thread(0, 1).bus('internal');
  remote.subscribe('busline.actor.failed', (event) => expectType<Equal<typeof event.payload.module, string>>());
  // Patterns that may match the application's events are untyped, as on the external side.
  internal.subscribe('*', (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  internal.subscribe('>', (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  internal.subscribe('*.crashed', (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  internal.subscribe('app.health', (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  internal.subscribe(['busline.thread.crashed', 'app.crashed'], (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  // A `busline` type the runtime does not declare is untyped too (the application's own).
  internal.subscribe('busline.custom.report', (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  // Replies are declared: their payload names the request, with a value or an error.
  internal.subscribe('busline.reply', (event) => {
    expectType<Equal<typeof event, BusEvent<ReplyPayload, 'busline.reply'>>>();
    const request: string = event.payload.request;
    if ('error' in event.payload) expectType<Equal<typeof event.payload.error, ReplyErrorInfo>>();
    void request;
  });
  expectType<Equal<BuslineEvents['busline.reply'], ReplyPayload>>();
  const pattern: string = 'busline.thread.crashed';
  internal.subscribe(pattern, (event) => expectType<Equal<typeof event, BusEvent<Payload>>>());
  // A payload type named by the caller wins, as before.
  internal.subscribe<ServiceFailure>('busline.service.failed', (event) => expectType<Equal<typeof event, BusEvent<ServiceFailure>>>());
  // @ts-expect-error a crash report has no `code`
  internal.subscribe('busline.thread.crashed', (event) => event.payload.code);
  // It is still a Bus: code that takes a `Bus` takes it.
  const asBus: Bus = internal;
  const both: Bus[] = [runtime.bus('internal'), runtime.bus('external')];
  void asBus;
  void both;
  // A typed runtime whose internal map is untyped knows the runtime's events the same way.
  const mixed = createRuntime<{ tick: null }, AnyEvents>().bus('internal');
  mixed.subscribe('busline.thread.crashed', (event) => expectType<Equal<typeof event.payload, CrashReport>>());
  mixed.post('anything', { ok: true });
  // The map declares each memory report the runtime posts, with its payload (`busline.memory.dropped` was missing).
  expectType<Declared<MemoryChange>>();
}

/** True when each change `C` (`{ type, payload }`) is in `BuslineEvents` with its payload. */
type Declared<C> = C extends { readonly type: infer K; readonly payload: infer P } ? (K extends keyof BuslineEvents ? Equal<BuslineEvents[K], P> : false) : false;

export function anyEvent(): void {
  // A bare `BusEvent` is any event: one with an `interface` payload, of a typed runtime, included.
  const log = (event: BusEvent): string => `${event.type} ${event.id}`;
  const runtime = createRuntime<Events>();
  const login = runtime.bus('external').post('user.login', { id: 7, at: 'now' });
  log(login);
  const typed: BusEvent<Login> = login;
  log(typed);
  runtime.bus('external').subscribe('user', log);
  runtime.bus('external').subscribe('user', (event) => log(event));
  const events: BusEvent[] = runtime.bus('external').history();
  const handler: Handler = (event) => log(event);
  runtime.bus('external').subscribe('order', handler);
  createRuntime().bus('internal').subscribe('busline.thread.crashed', handler);
  // Its payload is not `any`: narrow it (or name its type) to read it.
  expectType<Equal<BusEvent['payload'], AnyPayload>>();
  // @ts-expect-error a bare event's payload has no known fields
  void ((event: BusEvent) => event.payload.id);
  // An untyped bus posts it again as it is.
  const untyped = createRuntime().bus();
  const again = (event: BusEvent) => untyped.post(event.type, event.payload);
  again(login);
  void events;
}

export function middlewareEvents(): void {
  // A middleware is given the events as they are at run time, JSON data or bytes (as `before` is given
  // its draft's `Payload`): narrowing the payload reads its fields, and it goes on to code that takes a `Payload`.
  const keep = (payload: Payload): Payload => payload;
  const logging: Middleware = {
    before: (draft) => void keep(draft.payload),
    after(event) {
      keep(event.payload);
      const { payload } = event;
      if (typeof payload === 'object' && payload !== null && !(payload instanceof Uint8Array) && !isList(payload)) {
        const user: JsonValue | undefined = payload['user'];
        void user;
      }
    },
  };
  // A function of any event (a bare `BusEvent`) is one still.
  const traced: Middleware = { after: (event: BusEvent) => void event.type };
  createRuntime<Events>({ middleware: [logging, traced] });
  // So is the runtime's `onError` (it compiled so before `AnyPayload`), and one of any event still is.
  createRuntime<Events>({ onError: (_error, event) => void keep(event.payload) });
  createRuntime({ onError: (_error, event: BusEvent) => void event.type });
  // A subscription's `onError` names the payload it reads as one (a bare `SubscribeOptions` also takes a typed runtime's events).
  const options: SubscribeOptions<BusEvent<Payload>> = { onError: (_error, event) => void keep(event.payload) };
  createRuntime().bus().subscribe('user', () => undefined, options);
}

/** `Array.isArray` that narrows readonly arrays too. */
function isList(value: unknown): value is readonly JsonValue[] {
  return Array.isArray(value);
}

export function genericHelpers(): void {
  // A helper generic in the type posts the map's payload of that type: `Events[K]` is what post() takes for `K`.
  function emit<K extends keyof Events & string>(bus: Bus<Events>, type: K, payload: Events[K]): BusEvent<Events[K], K> {
    return bus.post(type, payload);
  }
  async function emitRemote<K extends keyof Events & string>(bus: RemoteBus<Events>, type: K, payload: Events[K]): Promise<BusEvent> {
    await bus.publish(type, payload);
    return bus.post(type, payload);
  }
  const bus = createRuntime<Events>().bus();
  emit(bus, 'user.login', { id: 1, at: 'now' });
  // @ts-expect-error the payload of another type
  emit(bus, 'user.login', { id: 1, reason: 'user' });
  void emitRemote;

  // A helper generic in the bus's map subscribes to everything with no cast: `*` and `>` are valid on any map.
  function audit<E extends EventMap<E>>(on: Bus<E> | RemoteBus<E>, seen: string[]): void {
    on.subscribe('*', (event) => void seen.push(`${event.type} ${event.id}`));
    on.subscribe(['*', '>'], (event) => void seen.push(event.type));
    void on.waitFor('>');
    void on.waitForEvents(['*', '>']);
    void on.history({ types: ['*'] });
    // Any other pattern names types the helper cannot know: as before, it does not compile (the error names `MatchesTypeOf<E, ...>`).
    // @ts-expect-error not known to match a type of E
    on.subscribe('user.*', () => undefined);
    // @ts-expect-error nor in a list with `*`
    on.subscribe(['*', 'user'], () => undefined);
  }
  audit(bus, []);
  audit(createRuntime().bus(), []);
  // Over a type parameter of the map, with no cast: the handler gets `EventOf<E, K>`, the events of K and of its subtypes.
  function on<E, K extends EventTypeOf<E>>(target: Bus<E> | RemoteBus<E>, type: K, handler: (event: EventOf<E, K>) => void) {
    return target.subscribe(type, (event) => handler(event));
  }
  on(bus, 'user.logout', (event) => expectType<Equal<typeof event, BusEvent<Logout, 'user.logout'>>>());
  on(bus, 'user.login', (event) => expectType<Equal<typeof event.type, 'user.login' | 'user.login.failed'>>());
  on(createRuntime<Events>().thread(0, 1).bus('external') as RemoteBus<Events>, 'tick', (event) => expectType<Equal<typeof event.payload, null>>());
  // @ts-expect-error the caller's type is still checked against its map
  on(bus, 'user.logn', () => undefined);
  // @ts-expect-error and its handler against the type's payload
  on(bus, 'user.logout', (event: BusEvent<Login, 'user.logout'>) => void event);
  // Spelled with `keyof E & string`, with options, waitFor() and reply() too. Inside, `E` unknown, an event is read as a `BusEvent`.
  function once<E extends EventMap<E>, K extends keyof E & string>(target: Bus<E>, type: K, handler: (event: EventOf<E, K>) => void) {
    target.subscribe(type, (event) => handler(event), { filter: (event) => (event as BusEvent).id !== '', onError: (_error, event) => handler(event) });
    target.reply(type, () => undefined as ReplyOf<E, K>);
    target.reply(type, (request) => (handler(request), undefined as ReplyOf<E, K>));
    return target.waitFor(type, { filter: (event) => (event as BusEvent).type !== '' });
  }
  void once(bus, 'tick', (event) => expectType<Equal<typeof event.payload, null>>()).then((event) => expectType<Equal<typeof event.type, 'tick'>>());
  // @ts-expect-error misspelled
  void once(bus, 'tik', () => undefined);
  function next<E, K extends EventTypeOf<E>>(target: RemoteBus<E>, type: K): Promise<EventOf<E, K>> {
    return target.waitFor(type);
  }
  void next(createRuntime<Events>().thread(0, 1).bus('external') as RemoteBus<Events>, 'order.created').then((event) => expectType<Equal<typeof event.payload, OrderCreated>>());
  // What stays refused inside such a helper:
  function misuses<E, K extends EventTypeOf<E>, S extends string>(target: Bus<E>, type: K, handler: (event: EventOf<E, K>) => void, any: S): void {
    // @ts-expect-error a subscription to K gets its subtypes too (`user.login` gets `user.login.failed`): `BusEvent<E[K], K>` is not all it gets
    target.subscribe(type, (event: BusEvent<E[K], K>) => void event);
    // The handler itself, as the argument, is taken too: subscribe()'s payload parameter P is no longer inferred from it.
    target.subscribe(type, handler);
    // @ts-expect-error a string type parameter is no type of the map
    target.subscribe(any, () => undefined);
    // @ts-expect-error nor in waitFor()
    void target.waitFor(any);
    // @ts-expect-error a pattern built on K is not known to match
    target.subscribe(`${type}.*`, () => undefined);
    // @ts-expect-error nor a list of a string type parameter
    target.subscribe([any], () => undefined);
    // @ts-expect-error nor a list of K with a pattern not known to match
    target.subscribe([type, 'user.*'], () => undefined);
    // @ts-expect-error nor in history()
    void target.history({ types: [type, any] });
    // @ts-expect-error nor in waitForEvents()
    void target.waitForEvents([any, type]);
  }
  void misuses;
  // Lists of K, with no cast: a list of the map's types is valid as it is; its events are the helper's `EventOf<E, K>`.
  function onAny<E, K extends EventTypeOf<E>>(target: Bus<E> | RemoteBus<E>, first: K, second: K, handler: (event: EventOf<E, K>) => void) {
    target.subscribe([first, second], (event) => handler(event), { filter: (event) => (event as BusEvent).id !== '' });
    const listed: K[] = [first, second];
    target.subscribe(listed, (event) => handler(event));
    const frozen: readonly K[] = listed;
    void target.waitForEvents(frozen);
    return target.waitForEvents([first, second, first]);
  }
  function seen<E, K extends keyof E & string>(target: Bus<E>, types: readonly K[]): Array<EventOf<E, K>> {
    return target.history({ types, filter: (event) => (event as BusEvent).id !== '' });
  }
  void onAny(bus, 'user.logout', 'tick', (event) => expectType<Equal<typeof event.type, 'user.logout' | 'tick'>>()).then(([a, b, c]) => {
    expectType<Equal<typeof a, EventOf<Events, 'user.logout' | 'tick'>>>();
    expectType<Equal<typeof b | typeof c, EventOf<Events, 'user.logout' | 'tick'>>>();
  });
  expectType<Equal<ReturnType<typeof seen<Events, 'order.created'>>, Array<BusEvent<OrderCreated, 'order.created'>>>>();
  // @ts-expect-error the caller's types are still checked against its map
  void onAny(bus, 'user.logout', 'tock', () => undefined);
  // @ts-expect-error in a list too
  void seen(bus, ['order.created', 'ordr']);
  // A list of the map's types needs no pattern check on a concrete map either; a wrong entry still takes `never`.
  bus.subscribe(['tick', 'order.created'], (event) => expectType<Equal<typeof event.type, 'tick' | 'order.created'>>());
  const listed: Array<'tick' | 'user.logout'> = ['tick'];
  bus.subscribe(listed, (event) => expectType<Equal<typeof event.type, 'tick' | 'user.logout'>>());
  void bus.waitForEvents(listed).then((events) => expectType<Equal<typeof events, Array<EventOf<Events, 'tick' | 'user.logout'>>>>());
  expectType<Equal<Parameters<typeof bus.waitForEvents<readonly ['tick', 'user', 'tock']>>[0], never>>();
  expectType<Equal<NonNullable<Parameters<typeof bus.history<readonly ['user.login', 'usr']>>[0]>['types'], undefined>>();
  const misspelled: Array<'tick' | 'tock'> = ['tick'];
  // @ts-expect-error a list variable whose type names an unknown type
  bus.subscribe(misspelled, () => undefined);
  // Non-generic calls are checked as before: a misspelled type or a pattern that matches nothing fails.
  // @ts-expect-error misspelled
  bus.subscribe('user.logn', () => undefined);
  // @ts-expect-error one pattern of a list matches nothing
  bus.subscribe(['*', 'usr.>'], () => undefined);
  // @ts-expect-error the same in history()
  bus.history({ types: ['*', 'usr'] });
}

export function stations(): void {
  // A station's reads are typed by the map of its side, as the side's buses are (what a read across brings included).
  const runtime = createRuntime<Events, AppInternal>();
  const station = runtime.station('external');
  expectType<Equal<typeof station, Station<SideEventsOf<'external', Events, AppInternal>>>>();
  const logins = station.history({ types: ['user.login'] });
  expectType<Equal<(typeof logins)[number], BusEvent<Login, 'user.login'> | BusEvent<{ readonly id: number; readonly attempts: number }, 'user.login.failed'>>>();
  station.history({ types: ['order.created'], filter: (event) => event.payload.lines.length > 0 });
  const everything = station.history();
  expectType<Equal<(typeof everything)[number], EventOf<SideEventsOf<'external', Events, AppInternal>>>>();
  const across = station.history({ types: ['app.health'] });
  expectType<Equal<(typeof across)[number], BusEvent<{ readonly ok: boolean }, 'app.health'> & { readonly side: 'internal' }>>();
  const one = station.get('0.0.1');
  if (one?.type === 'user.logout') expectType<Equal<typeof one.payload, Logout>>();
  expectType<Equal<ReturnType<typeof station.queued>, Array<EventOf<SideEventsOf<'external', Events, AppInternal>>>>>();
  // @ts-expect-error a misspelled type
  station.history({ types: ['usr'] });
  // @ts-expect-error a filter of another payload
  station.history({ types: ['tick'], filter: (event: BusEvent<Login>) => event.payload.id > 0 });
  // @ts-expect-error in fromMain()
  void station.fromMain({ types: ['ordr'] });
  // @ts-expect-error in roundTrip()
  void station.roundTrip({ types: ['tock'] });
  void station.roundTrip({ types: ['order', 'busline.stats'], side: 'internal' });
  // The internal side's: the runtime's events, the application's, and the external side's read across.
  const main = runtime.mainStation('internal');
  expectType<Equal<typeof main, Station<SideEventsOf<'internal', Events, AppInternal>>>>();
  const crashes = main.history({ types: ['busline.thread.crashed'] });
  expectType<Equal<(typeof crashes)[number], BusEvent<CrashReport, 'busline.thread.crashed'>>>();
  runtime.addProcessor().station('internal').history({ types: ['app'], filter: (event) => event.payload.ok });
  // A processor's: a RemoteStation when it is a child process, typed the same (no filter: a function does not cross).
  const far = runtime.processor(1).station('external');
  expectType<Equal<typeof far, Station<SideEventsOf<'external', Events, AppInternal>> | RemoteStation<SideEventsOf<'external', Events, AppInternal>>>>();
  const remote = far as RemoteStation<SideEventsOf<'external', Events, AppInternal>>;
  void remote.history({ types: ['order'] }).then((events) => expectType<Equal<(typeof events)[number], BusEvent<OrderCreated, 'order.created'>>>());
  void remote.queued().then((events) => expectType<Equal<(typeof events)[number], EventOf<SideEventsOf<'external', Events, AppInternal>>>>());
  // @ts-expect-error misspelled there too
  void remote.history({ types: ['ordr'] });
  // @ts-expect-error no filter
  void remote.history({ types: ['order'], filter: () => true });
  // A station posts nothing: code that takes any station (`Station`, of the untyped map) takes these, and reads any events.
  const takesAny = (any: Station | RemoteStation) => any.side;
  takesAny(station);
  takesAny(main);
  takesAny(far);
  takesAny(createRuntime().station('internal'));
  const plain: Station<Events> = station;
  void plain;
  // @ts-expect-error the reverse: an untyped station says nothing of its payloads
  const typedFromAny: Station<Events> = createRuntime().station('external');
  void typedFromAny;
  const anyMap: Station<any> | RemoteStation<any> = far;
  void anyMap;
  // An untyped runtime's: any events (a bare BusEvent, as before), the runtime's own typed on the internal side.
  const untyped = createRuntime();
  const untypedStation = untyped.station('external');
  expectType<Equal<typeof untypedStation, Station>>();
  const anything = untyped.station('external').history({ types: ['anything.at.all'], filter: (event) => event.payload !== null });
  expectType<Equal<(typeof anything)[number], BusEvent>>();
  expectType<Equal<ReturnType<Station['get']>, BusEvent | undefined>>();
  const ownCrashes = untyped.station('internal').history({ types: ['busline.thread.crashed'] });
  expectType<Equal<(typeof ownCrashes)[number], BusEvent<CrashReport, 'busline.thread.crashed'>>>();
  expectType<Equal<StationEventOf<AnyInternalEvents, 'busline.thread.crashed'>, BusEvent<CrashReport, 'busline.thread.crashed'>>>();
  expectType<Equal<StationEventOf<SideEventsOf<'internal', Events, AppInternal>, 'app'>, BusEvent<{ readonly ok: boolean }, 'app.health'>>>();
  void untyped.processor(1).station('internal');
}

export function jsonCompatible(): void {
  expectType<Equal<JsonCompatible<Login>, { readonly id: number; readonly at: string }>>();
  expectType<Says<JsonCompatible<{ f: () => void }>['f'], "payload field 'f' is a function">>();
  const ok: JsonCompatible<OrderCreated> = { orderId: 'o', lines: [] };
  void ok;
}
