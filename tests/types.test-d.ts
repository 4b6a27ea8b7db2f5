/**
 * Type-level tests of the public API: checked by `tsc` in `npm test`
 * (a misplaced `@ts-expect-error` is itself an error). Never executed.
 */
import * as busline from '../index.js';
import { z } from 'zod';
import {
  createRuntime,
  ReplyFailedError,
  RequestTimeoutError,
  replyEvent,
  type Bus,
  type BusEvent,
  type RemoteBus,
  type Replies,
  type ReplyOf,
  type ReplyPayload,
  type Station,
  type Subscription,
} from '../index.js';

declare const bus: Bus;

export function typeTests(): void {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });

  // post() keeps the payload's type.
  const event: BusEvent<{ id: number }> = bus.post('user.login', { id: 7 });
  const id: number = event.payload.id;
  void id;

  // @ts-expect-error functions are not payloads
  bus.post('x', () => 1);
  // @ts-expect-error undefined is not a payload (use null)
  bus.post('x', undefined);
  // @ts-expect-error dates are not JSON data
  bus.post('x', { at: new Date() });
  bus.post('bytes', new Uint8Array(4));

  // @ts-expect-error there are two sides
  runtime.bus('sideways');
  // @ts-expect-error priorities are immediate, normal, deferred
  bus.post('x', 1, { priority: 'urgent' });

  // Typed subscriptions.
  bus.subscribe<{ id: number }>('user', (e) => {
    const n: number = e.payload.id;
    void n;
  });

  // open() takes no options; the closing commands take clearOtherSide.
  // @ts-expect-error
  void runtime.bridge.open({ clearOtherSide: true });
  void runtime.bridge.close({ clearOtherSide: true });

  // toStation() returns the next bus; fromStation() reports what it brought.
  void bus.toStation().then((next: Bus) => next.fromStation({ types: ['user'], side: 'internal' }));
  const station: Station = runtime.station('external');
  void station.roundTrip({ types: ['user'] });

  // The public classes show no internals: they are in busline/internal (busControl, runtimeCore).
  // @ts-expect-error the bus actor is not public
  void bus.actor;
  // @ts-expect-error the runtime's own calls are on its private core
  void runtime.attachThread;
  // @ts-expect-error the bridge actor is not public
  void runtime.bridge.actor;
  // @ts-expect-error machines, codec and transports are in busline/internal
  void busline.busMachine;
  // @ts-expect-error
  void busline.FrameTransport;
  // @ts-expect-error
  void busline.encodeFrame;
  const transport: busline.Transport = { name: 'mine', carry: (message) => Promise.resolve(message) };
  void createRuntime({ transport, processorExecArgv: busline.DEFAULT_PROCESSOR_EXEC_ARGV });
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

/** Payload schemas and the whole-configuration types. */
export function schemaTypeTests(): void {
  interface Events {
    'user.login': { id: number; at: string };
    'user.logout': { id: number };
  }
  const Login = z.object({ id: z.number(), at: z.date().transform((date) => date.toISOString()) });

  // A schema's output must be the map's payload of its type: what the event keeps.
  const typed = createRuntime<Events>({ schemas: { 'user.login': Login } });
  // @ts-expect-error the output ({ id: string }) is not the map's payload
  createRuntime<Events>({ schemas: { 'user.logout': z.object({ id: z.string() }) } });
  // @ts-expect-error a type outside the map
  createRuntime<Events>({ schemas: { 'order.placed': z.object({}) } });
  typed.schema('user.logout', z.object({ id: z.number() }));
  // @ts-expect-error the same rule for runtime.schema()
  typed.schema('user.logout', z.object({ id: z.boolean() }));
  typed.schema('user.login', undefined);

  // An untyped runtime takes any schema; schemas never make createRuntime infer a map.
  const untyped = createRuntime({ schemas: { anything: z.string() } });
  expectType<Equal<typeof untyped, busline.Runtime>>();
  untyped.schema('x.y', z.number());
  // @ts-expect-error not a Standard Schema
  untyped.schema('x.y', { parse: (value: unknown) => value });

  // The map can come from the schemas: each payload is its schema's output.
  const schemas = { 'user.login': Login, 'user.logout': z.object({ id: z.number() }) };
  type FromSchemas = busline.SchemaEvents<typeof schemas>;
  expectType<Equal<FromSchemas['user.login'], { id: number; at: string }>>();
  const derived = createRuntime<FromSchemas>({ schemas });
  const login = derived.bus().history({ types: ['user.login'] })[0];
  expectType<Equal<NonNullable<typeof login>['payload'], { id: number; at: string }>>();

  // A hand-written Standard Schema is one too.
  const byHand: busline.StandardSchemaV1<number, { celsius: number }> = {
    '~standard': { version: 1, vendor: 'by-hand', validate: (value) => ({ value: { celsius: Number(value) } }) },
  };
  createRuntime({ schemas: { temperature: byHand } });

  // Refusals carry their issues.
  const eventError = new busline.InvalidEventError('refused');
  expectType<Equal<typeof eventError.issues, readonly busline.EventIssue[]>>();
  const optionError = new busline.InvalidOptionError('maxQueued', 'expected a positive integer, got 0.');
  const issue = optionError.issues[0]!;
  expectType<Equal<typeof issue.path | typeof issue.allowed, string>>();
  expectType<Equal<typeof issue.value, unknown>>();

  // What a JSON file can hold: no functions, no objects with methods.
  const config: busline.RuntimeConfig = { deferred: 'manual', sync: { everyMs: 10 }, memory: { policies: { audit: { ttlMs: 1_000 } } } };
  createRuntime(config);
  // @ts-expect-error a clock is not JSON
  const withClock: busline.RuntimeConfig = { clock: new busline.ManualClock() };
  void withClock;
}

// Request-response: a map declares its replies with Replies<...>; interfaces work.
interface User {
  readonly name: string;
  readonly roles: readonly string[];
}
interface RequestEvents extends Replies<{ 'user.get': User; 'user.count': number }> {
  'user.get': { readonly id: string };
  'user.count': { readonly active: boolean };
  'user.login': { readonly id: string };
}

export async function requestTypeTests(): Promise<void> {
  const runtime = createRuntime<RequestEvents>();
  const bus = runtime.bus('external');

  // request() resolves with the declared reply; a type without one resolves with unknown.
  const user = await bus.request('user.get', { id: 'u1' });
  expectType<Equal<typeof user, User>>();
  const count = await bus.request('user.count', { active: true }, { timeout: 1_000, signal: AbortSignal.timeout(5_000) });
  expectType<Equal<typeof count, number>>();
  const undeclared = await bus.request('user.login', { id: 'u1' });
  expectType<Equal<typeof undeclared, unknown>>();
  expectType<Equal<ReplyOf<RequestEvents, 'user.get'>, User>>();
  expectType<Equal<ReplyOf<RequestEvents, 'user.login'>, unknown>>();

  // @ts-expect-error a misspelled request type
  void bus.request('user.gte', { id: 'u1' });
  // @ts-expect-error the request payload is the map's
  void bus.request('user.get', { id: 1 });
  // A request within this thread only.
  const near = await bus.request('user.get', { id: 'u1' }, { local: true, timeout: 1_000 });
  expectType<Equal<typeof near, User>>();
  // @ts-expect-error request options are timeout, signal and local
  void bus.request('user.get', { id: 'u1' }, { priority: 'immediate' });
  // @ts-expect-error local is a boolean
  void bus.request('user.get', { id: 'u1' }, { local: 'yes' });
  // @ts-expect-error a timeout is milliseconds
  void bus.request('user.get', { id: 'u1' }, { timeout: '1s' });

  // reply(): the handler gets the request event and must return the declared reply (or a promise of it).
  const replier: Subscription = bus.reply('user.get', (request) => {
    expectType<Equal<typeof request, BusEvent<{ readonly id: string }, 'user.get'>>>();
    return { name: request.payload.id, roles: [] };
  });
  replier.unsubscribe();
  bus.reply('user.count', async () => 3, { filter: (request) => request.payload.active, signal: AbortSignal.timeout(1_000) });
  bus.reply('user.login', () => 'anything: no reply declared');
  // @ts-expect-error the declared reply is a User
  bus.reply('user.get', () => ({ name: 7, roles: [] }));
  // @ts-expect-error a promise of the wrong reply
  bus.reply('user.count', async () => 'three');
  // @ts-expect-error a misspelled type
  bus.reply('user.gte', () => ({ name: 'x', roles: [] }));
  // @ts-expect-error reply options have no topics
  bus.reply('user.get', () => ({ name: 'x', roles: [] }), { topics: ['a'] });

  // The same on a RemoteBus of a typed runtime.
  const far = runtime.thread(0, 1).bus('external') as RemoteBus<RequestEvents>;
  const remoteUser = await far.request('user.get', { id: 'u2' }, { local: true });
  expectType<Equal<typeof remoteUser, User>>();
  far.reply('user.count', () => 1);
  // @ts-expect-error the declared reply is a number
  far.reply('user.count', () => 'one');

  // Untyped buses: the reply is unknown, or named by the caller.
  const any = await (bus as unknown as Bus).request('what', { x: 1 });
  expectType<Equal<typeof any, unknown>>();
  const named = await (bus as unknown as Bus).request<User>('user.get', { id: 'u1' });
  expectType<Equal<typeof named, User>>();
  // @ts-expect-error payloads must be JSON data on untyped buses too
  void (bus as unknown as Bus).request('what', () => 1);

  // Errors and the actor helper.
  const failure: unknown = undefined;
  if (failure instanceof RequestTimeoutError) {
    const ms: number = failure.timeout;
    const type: string = failure.requestType;
    void [ms, type];
  }
  if (failure instanceof ReplyFailedError) {
    const name: string = failure.errorName;
    const code: string | undefined = failure.errorCode;
    void [name, code];
  }
  const emitted = replyEvent({ id: '0.0.1' }, { name: 'Ada', roles: [] });
  expectType<Equal<typeof emitted.type, 'busline.reply'>>();
  const payload: ReplyPayload = emitted.payload;
  void payload;
  // Given the whole request, the reply to a local request says so.
  const local = replyEvent({ id: '0.0.1', meta: { 'busline.request': 'local' } }, 1);
  expectType<Equal<typeof local.local, true | undefined>>();
  // @ts-expect-error a reply value is JSON data
  replyEvent({ id: '0.0.1' }, new Map());
}
