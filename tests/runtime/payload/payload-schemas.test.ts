/**
 * Payload schemas: any Standard Schema checks and converts a payload at
 * `post()` in the thread that registered it; async schemas are for
 * `publish()`; across threads the posting thread's schemas apply, once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { InvalidEventError, InvalidOptionError, createRuntime, defineEvents, type BusEvent, type Inputs, type RemoteBus, type Replies, type Runtime, type SchemaEvents, type StandardSchemaV1 } from '../../../index.js';
import { rejects, thrown } from '../../helpers.js';

const test = suite('payload schemas');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

const Login = z.object({ user: z.object({ name: z.string(), tags: z.array(z.string()) }), attempts: z.number().int() });

test('post - a valid payload is posted as the schema outputs it (unknown keys stripped)', () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { 'user.login': Login } });
  const event = runtime.bus().post('user.login', { user: { name: 'ada', tags: ['admin'] }, attempts: 1, extra: true }, { priority: 'immediate' });
  assert.equal(event.payload, { user: { name: 'ada', tags: ['admin'] }, attempts: 1 });
  assert.equal(runtime.bus().history()[0]?.payload, { user: { name: 'ada', tags: ['admin'] }, attempts: 1 });
});

test('post - an invalid payload is refused with InvalidEventError naming each path and issue; nothing is posted', () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { 'user.login': Login } });
  const seen: BusEvent[] = [];
  runtime.bus().subscribe('user', (event) => void seen.push(event));
  const error = thrown(() => runtime!.bus().post('user.login', { user: { name: 7, tags: ['a', 3] }, attempts: 1.5 }, { priority: 'immediate' }));
  assert.instance(error, InvalidEventError);
  assert.is((error as InvalidEventError).code, 'INVALID_EVENT');
  const issues = (error as InvalidEventError).issues;
  assert.equal(
    issues.map((issue) => issue.path),
    ['$.user.name', '$.user.tags[1]', '$.attempts'],
  );
  assert.match(issues[0]!.message, /expected string, received number/);
  assert.match(error.message, /The payload of "user\.login" does not match its schema: \$\.user\.name: Invalid input: expected string/);
  assert.match(error.message, /\$\.user\.tags\[1\]: .*; \$\.attempts: /);
  assert.equal([seen.length, runtime.bus().history().length], [0, 0]);
  // The refusal used up nothing: the next post is the bus's first event.
  const posted = runtime.bus().post('user.login', { user: { name: 'ada', tags: [] }, attempts: 2 }, { priority: 'immediate' });
  assert.is(posted.id, '0.0.0');
});

class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
}

test('post - a schema converts what the wire cannot carry: a Date to an ISO string, a class instance to plain data', () => {
  const Order = z.object({
    placedAt: z.date().transform((date) => date.toISOString()),
    total: z.instanceof(Money).transform((money) => ({ amount: money.amount, currency: money.currency })),
  });
  runtime = createRuntime({ deferred: 'manual' });
  const payload = { placedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), total: new Money(42, 'EUR') };
  // Without a schema these are refused: the payload must be plain data.
  assert.match(thrown(() => runtime!.bus().post('order.placed', payload as never)).message, /\$\.placedAt is a Date, not a plain object/);
  runtime.schema('order.placed', Order);
  const event = runtime.bus().post('order.placed', payload as never, { priority: 'immediate' });
  assert.equal(event.payload, { placedAt: '2026-01-02T03:04:05.000Z', total: { amount: 42, currency: 'EUR' } });
});

test('post - a schema applies to its exact type only: not to subtypes, not to other types', () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { user: z.object({ id: z.number() }) } });
  const bus = runtime.bus();
  assert.is(thrown(() => bus.post('user', { id: 'x' })).constructor, InvalidEventError);
  assert.equal(bus.post('user.login', { name: 'ada' }).payload, { name: 'ada' });
  assert.equal(bus.post('order', { id: 'x' }).payload, { id: 'x' });
});

test('post - a schema whose output is not plain data is refused as any such payload is', () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { when: z.object({ at: z.string().transform((text) => new Date(text)) }) } });
  const error = thrown(() => runtime!.bus().post('when', { at: '2026-01-01' }));
  assert.instance(error, InvalidEventError);
  assert.match(error.message, /\$\.at is a Date/);
});

test('runtime.schema - adds, replaces and removes (undefined) a schema; refuses what is not a Standard Schema', () => {
  runtime = createRuntime({ deferred: 'manual' });
  const bus = runtime.bus();
  runtime.schema('n', z.number());
  assert.is(thrown(() => bus.post('n', 'one')).constructor, InvalidEventError);
  runtime.schema('n', z.string());
  assert.is(bus.post('n', 'one').payload, 'one');
  runtime.schema('n', undefined);
  assert.is(bus.post('n', 5).payload, 5);
  const notASchema = thrown(() => runtime!.schema('n', { parse: () => 1 } as never));
  assert.instance(notASchema, InvalidOptionError);
  assert.is((notASchema as InvalidOptionError).option, 'schema["n"]');
  assert.match(notASchema.message, /expected a Standard Schema/);
  assert.is((thrown(() => runtime!.schema('bad..type', z.number())) as InvalidOptionError).option, 'schema type');
});

test('post - any Standard Schema works, also one written by hand without a library', () => {
  const Celsius: StandardSchemaV1<number, { celsius: number }> = {
    '~standard': {
      version: 1,
      vendor: 'by-hand',
      validate: (value) =>
        typeof value === 'number' && value >= -273.15 ? { value: { celsius: value } } : { issues: [{ message: 'below absolute zero', path: [] }] },
    },
  };
  runtime = createRuntime({ deferred: 'manual', schemas: { temperature: Celsius } });
  assert.equal(runtime.bus().post('temperature', 21 as never).payload, { celsius: 21 });
  const error = thrown(() => runtime!.bus().post('temperature', -300 as never)) as InvalidEventError;
  assert.equal(error.issues, [{ path: '$', message: 'below absolute zero' }]);
});

test('post and publish - a schema that throws, rejects or returns no Standard Schema result refuses the post with INVALID_EVENT saying so; nothing is posted', async () => {
  const broken = new Error('validator crashed');
  const schema = (validate: (value: unknown) => unknown): StandardSchemaV1 => ({ '~standard': { version: 1, vendor: 'by-hand', validate: validate as never } });
  runtime = createRuntime({
    deferred: 'manual',
    schemas: {
      throws: schema(() => {
        throw broken;
      }),
      rejects: schema(() => Promise.reject(broken)),
      garbage: schema(() => 42),
      empty: schema(() => ({})),
    },
  });
  const bus = runtime.bus();
  for (const send of [(type: string): unknown => bus.post(type, {}), (type: string): unknown => bus.publish(type, {})]) {
    const threw = await Promise.resolve().then(() => send('throws')).then(() => undefined, (error: unknown) => error);
    assert.instance(threw, InvalidEventError);
    assert.is((threw as Error).message, 'The schema of "throws" threw while validating the payload (Error: validator crashed): nothing was posted. Fix the schema.');
    assert.is((threw as Error & { cause?: unknown }).cause, broken);
    for (const [type, got] of [['garbage', '42'], ['empty', 'object']]) {
      const refused = await Promise.resolve().then(() => send(type!)).then(() => undefined, (error: unknown) => error);
      assert.instance(refused, InvalidEventError);
      assert.match((refused as Error).message, `The schema of "${type}" returned ${got} from validate(), not a Standard Schema result ({ value } or { issues })`);
    }
  }
  const rejected = await bus.publish('rejects', {}).then(() => undefined, (error: unknown) => error);
  assert.instance(rejected, InvalidEventError);
  assert.is((rejected as Error & { cause?: unknown }).cause, broken);
  assert.is(bus.history().length, 0);
});

const Unique = z.object({ name: z.string() }).refine(async (value) => value.name !== 'taken', { message: 'name is taken', path: ['name'] });

test('post - an async schema is refused with UNSUPPORTED (post cannot wait); nothing is posted', () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { 'user.created': Unique } });
  const error = thrown(() => runtime!.bus().post('user.created', { name: 'ada' }));
  assert.is((error as InvalidEventError).code, 'UNSUPPORTED');
  assert.match(error.message, /schema of "user\.created" is async.*await bus\.publish/);
  assert.is(runtime.bus().history().length, 0);
});

test('publish - awaits an async schema, posts its output, and rejects with its issues', async () => {
  runtime = createRuntime({ deferred: 'manual', schemas: { 'user.created': Unique, 'user.renamed': z.object({ to: z.string().trim() }) } });
  const bus = runtime.bus();
  const handled: unknown[] = [];
  bus.subscribe('user', (event) => void handled.push(event.payload));
  const { event, failed } = await bus.publish('user.created', { name: 'ada' });
  assert.equal([event!.payload, failed], [{ name: 'ada' }, 0]);
  await rejects(bus.publish('user.created', { name: 'taken' }), 'INVALID_EVENT');
  const refused = await bus.publish('user.created', { name: 'taken' }).catch((error: InvalidEventError) => error);
  assert.equal((refused as InvalidEventError).issues, [{ path: '$.name', message: 'name is taken' }]);
  // A sync schema's output is what publish posts, as post() would.
  assert.equal((await bus.publish('user.renamed', { to: '  bob ' }, { priority: 'immediate' })).event!.payload, { to: 'bob' });
  assert.equal(handled, [{ name: 'ada' }, { to: 'bob' }]);
});

test('createRuntime - schemas that are not Standard Schemas are refused by path, with the rest of the configuration', () => {
  const error = thrown(() => createRuntime({ schemas: { 'user.login': { type: 'object' } as never, '': z.string() }, maxQueued: 0 })) as InvalidOptionError;
  assert.instance(error, InvalidOptionError);
  assert.equal(error.issues.map((issue) => issue.path).sort(), ['maxQueued', 'schemas[""]', 'schemas["user.login"]']);
});

test('across threads - a RemoteBus post converts with the posting thread\'s schema before it is encoded; a worker registers its own', async () => {
  runtime = createRuntime({ threadsPerProcessor: 1, schemas: { 'order.placed': z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) }) } });
  await runtime.ready;
  const worker = runtime.thread(0, 1).bus('external') as RemoteBus;
  // The root's schema runs here: the worker receives plain data (a Date could not be encoded).
  const placed = await worker.post('order.placed', { id: 'o-1', at: new Date(0) } as never);
  assert.equal(placed.payload, { id: 'o-1', at: '1970-01-01T00:00:00.000Z' });
  await rejects(worker.post('order.placed', { id: 1 } as never), 'INVALID_EVENT', 'refused here, before it crosses');
  // The worker's own code registers its schemas (a spawned module's `schemas` export): the Date its actor emits
  // becomes a string in the worker.
  await runtime.spawn(new URL('../fixtures/stamped.machine.ts', import.meta.url), { thread: 1 });
  const recorded = worker.waitFor('order.recorded', { timeout: 10_000 });
  await worker.post('order.placed', { id: 'o-2', at: new Date(1) } as never);
  assert.equal((await recorded).payload, { id: 'o-2', at: '1970-01-01T00:00:00.000Z' });
});

test('across processors (1 x 2) - the root\'s schemas convert posts to a child processor\'s workers; a module spawned there registers its own', async () => {
  const events = defineEvents({ 'order.placed': z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) }) });
  const typed = createRuntime({ processors: 1, threadsPerProcessor: 2, schemas: events });
  runtime = typed as unknown as Runtime;
  await typed.ready;
  const one = typed.thread(1, 1).bus('external') as RemoteBus<SchemaEvents<typeof events>>;
  const placed = await one.post('order.placed', { id: 'o-1', at: new Date(0) });
  assert.equal(placed.payload, { id: 'o-1', at: '1970-01-01T00:00:00.000Z' });
  const published = await one.publish('order.placed', { id: 'o-2', at: new Date(2) });
  assert.equal(published.event?.payload, { id: 'o-2', at: '1970-01-01T00:00:00.002Z' });
  await rejects(one.post('order.placed', { id: 1 } as never), 'INVALID_EVENT', 'refused here, before it crosses');
  await rejects(one.publish('order.placed', { id: 'o-3', at: 'yesterday' } as never), 'INVALID_EVENT');
  assert.equal((await one.history({ types: ['order.placed'] })).map((event) => event.payload.id), ['o-1', 'o-2']);
  // The actor spawned in thread 1.2 emits a Date, which the schemas its module exports convert there.
  await typed.spawn(new URL('../fixtures/stamped.machine.ts', import.meta.url), { processor: 1, thread: 2 });
  const two = typed.thread(1, 2).bus('external') as unknown as RemoteBus; // untyped: order.recorded is the worker's type
  const recorded = two.waitFor('order.recorded', { timeout: 60_000 });
  await two.post('order.placed', { id: 'o-4', at: new Date(4) } as never);
  assert.equal((await recorded).payload, { id: 'o-4', at: '1970-01-01T00:00:00.000Z' });
});

test('across processors (1 x 2) - a typed RemoteBus of a child processor\'s worker subscribes and requests with the map; schemas convert a Date to a string', async () => {
  interface Quote {
    readonly price: number;
    readonly at: string;
  }
  interface Events extends Inputs<{ 'order.placed': { id: string; at: Date }; 'quote.get': { at: Date } }>, Replies<{ 'quote.get': Quote }> {
    'order.placed': { readonly id: string; readonly at: string };
    'quote.get': { readonly at: string };
  }
  const iso = z.date().transform((date) => date.toISOString());
  const typed = createRuntime<Events>({
    processors: 1,
    threadsPerProcessor: 2,
    schemas: { 'order.placed': z.object({ id: z.string(), at: iso }), 'quote.get': z.object({ at: iso }) },
  });
  runtime = typed as unknown as Runtime;
  await typed.ready;
  const one = typed.thread(1, 1).bus('external');
  // The handler runs here on what thread 1.1 delivers: the schema's output, typed as the map's payload (a string).
  const seen: string[] = [];
  let delivered!: () => void;
  const arrived = new Promise<void>((resolve) => (delivered = resolve));
  one.subscribe('order.placed', (event) => {
    seen.push(`${event.payload.id} ${event.payload.at.slice(0, 10)}`);
    delivered();
  });
  await one.post('order.placed', { id: 'o-1', at: new Date(Date.UTC(2026, 0, 2)) });
  await arrived;
  assert.equal(seen, ['o-1 2026-01-02']);
  // @ts-expect-error -- `at` takes a Date (the schema's input): a string does not compile, and is refused at run time.
  await rejects(one.post('order.placed', { id: 'o-2', at: '2026-01-02' }), 'INVALID_EVENT');

  // Request and reply through the same RemoteBus: the request is converted before it crosses, the reply is typed by Replies.
  one.reply('quote.get', (request) => ({ price: 3, at: request.payload.at }));
  const quote: Quote = await one.request('quote.get', { at: new Date(5) }, { timeout: 60_000 });
  assert.equal(quote, { price: 3, at: '1970-01-01T00:00:00.005Z' });
  assert.equal((await one.history({ types: ['quote.get'] })).map((event) => event.payload.at), ['1970-01-01T00:00:00.005Z'], 'the worker holds the converted request');
});

test('defineEvents - returns the map as it is, typing posts by the input; refuses a wrong entry by path', async () => {
  const UserCreated = z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) });
  const events = defineEvents({ 'user.created': UserCreated });
  assert.is(events['user.created'], UserCreated);
  const typed = createRuntime({ schemas: events, threadsPerProcessor: 1 });
  runtime = typed as unknown as Runtime;
  await typed.ready;
  // No cast: the schema's input (a Date) is what post() takes here and through a worker's RemoteBus.
  const here = typed.bus().post('user.created', { id: 'u1', at: new Date(0) }, { priority: 'immediate' });
  assert.equal(here.payload, { id: 'u1', at: '1970-01-01T00:00:00.000Z' });
  const remote = typed.thread(0, 1).bus('external');
  const there = await remote.post('user.created', { id: 'u2', at: new Date(1) });
  assert.equal(there.payload, { id: 'u2', at: '1970-01-01T00:00:00.001Z' });
  const error = thrown(() => defineEvents({ 'user.created': UserCreated, '': z.string(), 'x.y': { parse: () => 1 } as never })) as InvalidOptionError;
  assert.instance(error, InvalidOptionError);
  assert.equal(error.issues.map((issue) => issue.path), ['defineEvents()[""]', 'defineEvents()["x.y"]']);
});

test.run();
