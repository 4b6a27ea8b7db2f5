/**
 * Middleware: `before` transforms or drops a post, `after` sees the
 * outcomes of its handlers; the runtime's run before the bus's, `after` in
 * reverse; a throwing middleware is reported and never loses an event silently.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRuntime,
  isBusError,
  EventDroppedError,
  MiddlewareFailedError,
  type BusEvent,
  type DeliveryOutcome,
  type Middleware,
  type Runtime,
} from '../../../index.js';
import { rejects, thrown } from '../../helpers.js';

const test = suite('middleware');

let runtime: Runtime;
let reported: Array<{ error: unknown; event: BusEvent }>;

test.before.each(() => {
  reported = [];
  runtime = createRuntime({ deferred: 'manual', onError: (error, event) => void reported.push({ error, event }) });
});

test.after.each(async () => {
  await runtime.stop();
});

test('before - a returned payload replaces the posted one, for later middleware, the history and the handlers', async () => {
  const bus = runtime.bus('external');
  const seenByLater: unknown[] = [];
  bus.use({ before: (draft) => ({ payload: { ...(draft.payload as object), stamped: true } }) });
  bus.use({ before: (draft) => void seenByLater.push(draft.payload) });
  const got: unknown[] = [];
  bus.subscribe('user.login', (event) => void got.push(event.payload));
  const event = bus.post('user.login', { id: 7 }, { priority: 'immediate' });
  assert.equal(event.payload, { id: 7, stamped: true });
  assert.equal(seenByLater, [{ id: 7, stamped: true }]);
  assert.equal(got, [{ id: 7, stamped: true }]);
  assert.equal(bus.history().map((e) => e.payload), [{ id: 7, stamped: true }]);
});

test('before - a drop refuses the post with its reason: post() throws EVENT_DROPPED, publish() resolves with { dropped }', async () => {
  const bus = runtime.bus('external');
  bus.use({ name: 'no-tests', before: (draft) => (draft.type.startsWith('test.') ? { drop: 'test events stay out' } : undefined) });
  const got: string[] = [];
  bus.subscribe('*', (event) => void got.push(event.type));
  try {
    bus.post('test.ping', {});
    assert.unreachable('the post was dropped');
  } catch (error) {
    assert.ok(error instanceof EventDroppedError);
    assert.is(error.code, 'EVENT_DROPPED');
    assert.is(error.reason, 'test events stay out');
    assert.is(error.middleware, 'no-tests');
  }
  const published = await bus.publish('test.pong', {});
  assert.equal(published, { dropped: 'test events stay out', middleware: 'no-tests', outcomes: [], failed: 0 });
  await bus.publish('user.login', {});
  assert.equal(got, ['user.login'], 'dropped events reach no handler');
  assert.equal(bus.history().map((e) => e.type), ['user.login'], 'nor the history');
});

test('after - sees each handler outcome (values and errors) once all have settled, and publish() waits for it', async () => {
  const bus = runtime.bus('external');
  const seen: Array<{ type: string; outcome: DeliveryOutcome }> = [];
  bus.use({ after: (event, outcome) => void seen.push({ type: event.type, outcome }) });
  const failure = new Error('handler failed');
  bus.subscribe('job', () => 'sync');
  bus.subscribe('job', async () => {
    await Promise.resolve();
    throw failure;
  });
  const published = await bus.publish('job.done', {});
  assert.is(published.failed, 1);
  assert.is(seen.length, 1, 'after ran before publish() resolved');
  assert.is(seen[0]!.type, 'job.done');
  assert.equal(seen[0]!.outcome, { outcomes: [{ status: 'fulfilled', value: 'sync' }, { status: 'rejected', reason: failure }], failed: 1 });
  assert.is(reported.length, 1, 'the handler error still goes to onError');
  // A plain post is watched too: after runs once its (normal) delivery has settled.
  bus.post('job.more', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen.map((s) => s.type), ['job.done', 'job.more']);
});

test('after - handlers that returned nothing share one frozen outcome; values and errors get their own', async () => {
  const bus = runtime.bus('external');
  const seen: DeliveryOutcome[] = [];
  bus.use({ after: (_event, outcome) => void seen.push(outcome) });
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => 7);
  bus.post('tick', {}, { priority: 'immediate' });
  bus.post('tick', {}, { priority: 'immediate' });
  assert.is(seen.length, 2, 'after ran before each immediate post returned');
  const [first, second] = seen as [DeliveryOutcome, DeliveryOutcome];
  assert.equal(first.outcomes, [
    { status: 'fulfilled', value: undefined },
    { status: 'fulfilled', value: undefined },
    { status: 'fulfilled', value: 7 },
  ]);
  assert.is(first.outcomes[0], first.outcomes[1]);
  assert.is(first.outcomes[0], second.outcomes[0], 'one object for every post');
  assert.ok(Object.isFrozen(first.outcomes[0]), 'shared, so frozen');
  assert.is.not(first.outcomes[2], second.outcomes[2], 'a returned value gets its own');
  const published = await bus.publish('tick', {});
  assert.is(published.outcomes[0], first.outcomes[0], 'publish() outcomes share it too');
});

test('after - when every handler returned nothing, the outcomes array is shared and frozen; a value, a throw or a promise after them gets an array of its own', async () => {
  const bus = runtime.bus('external');
  const seen: DeliveryOutcome[] = [];
  bus.use({ after: (_event, outcome) => void seen.push(outcome) });
  const failure = new Error('third failed');
  let third: 'nothing' | 'value' | 'throw' | 'promise' = 'nothing';
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => {
    if (third === 'value') return 3;
    if (third === 'throw') throw failure;
    if (third === 'promise') return Promise.resolve('later');
    return undefined;
  });
  bus.post('tick', {}, { priority: 'immediate' });
  bus.post('tick', {}, { priority: 'immediate' });
  const [first, second] = seen as [DeliveryOutcome, DeliveryOutcome];
  const nothing = { status: 'fulfilled', value: undefined };
  assert.equal(first, { outcomes: [nothing, nothing, nothing], failed: 0 });
  assert.is(first.outcomes, second.outcomes, 'one array for every such delivery');
  assert.ok(Object.isFrozen(first.outcomes), 'shared, so frozen');
  assert.is(first, second, 'and one outcome object');
  assert.ok(Object.isFrozen(first));
  third = 'value';
  bus.post('tick', {}, { priority: 'immediate' });
  third = 'throw';
  bus.post('tick', {}, { priority: 'immediate' });
  third = 'promise';
  bus.post('tick', {}, { priority: 'immediate' });
  // Its own after runs too, after the post's: both once their promises have settled.
  await bus.publish('tick', {});
  assert.is(seen.length, 6);
  const [, , withValue, withThrow, withPromise, published] = seen as DeliveryOutcome[];
  assert.equal(withValue, { outcomes: [nothing, nothing, { status: 'fulfilled', value: 3 }], failed: 0 });
  assert.ok(!Object.isFrozen(withValue!.outcomes));
  assert.is(withValue!.outcomes[0], first.outcomes[0], 'the shared outcome of a handler that returned nothing, in an array of its own');
  assert.equal(withThrow, { outcomes: [nothing, nothing, { status: 'rejected', reason: failure }], failed: 1 });
  assert.equal(withPromise, { outcomes: [nothing, nothing, { status: 'fulfilled', value: 'later' }], failed: 0 });
  assert.equal(published, withPromise);
  assert.is.not(withValue!.outcomes, withThrow!.outcomes);
});

test('after - outcomes stay in subscription order when runs of handlers that returned nothing come between values and throws, for after and publish() alike', async () => {
  const bus = runtime.bus('external');
  const seen: DeliveryOutcome[] = [];
  bus.use({ after: (_event, outcome) => void seen.push(outcome) });
  const failure = new Error('fourth failed');
  bus.subscribe('tick', () => 1);
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => {
    throw failure;
  });
  bus.subscribe('tick', () => {});
  bus.subscribe('tick', () => Promise.resolve(6));
  bus.subscribe('tick', () => {});
  const nothing = { status: 'fulfilled', value: undefined };
  const expected = {
    outcomes: [{ status: 'fulfilled', value: 1 }, nothing, nothing, { status: 'rejected', reason: failure }, nothing, { status: 'fulfilled', value: 6 }, nothing],
    failed: 1,
  };
  const published = await bus.publish('tick', {});
  assert.equal(published.outcomes, expected.outcomes);
  assert.equal(seen, [expected]);
});

test('after - each delivery is told its own event and outcomes, also for posts made inside a handler or an after (watches are reused once a delivery is over)', async () => {
  const bus = runtime.bus('external');
  const seen: Array<{ id: string; payload: unknown; values: unknown[] }> = [];
  bus.use({
    after: (event, outcome) => {
      seen.push({ id: event.id, payload: event.payload, values: outcome.outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed')) });
      if (event.payload === 'outer') bus.post('tick', 'from-after', { priority: 'immediate' });
    },
  });
  bus.subscribe('tick', (event) => {
    if (event.payload === 'outer') bus.post('tick', 'from-handler', { priority: 'immediate' });
    return event.payload === 'valued' ? 1 : undefined;
  });
  bus.subscribe('tick', async () => 'async');
  const outer = bus.post('tick', 'outer', { priority: 'immediate' });
  const normal = bus.post('tick', 'normal');
  const valued = bus.post('tick', 'valued', { priority: 'immediate' });
  await bus.publish('tick', 'published');
  await new Promise((resolve) => setImmediate(resolve));
  const byPayload = new Map(seen.map((entry) => [entry.payload, entry]));
  assert.is(seen.length, 6, 'one after per event');
  assert.is(byPayload.get('outer')!.id, outer.id);
  assert.is(byPayload.get('normal')!.id, normal.id);
  assert.is(byPayload.get('valued')!.id, valued.id);
  for (const payload of ['outer', 'from-handler', 'from-after', 'normal', 'published']) assert.equal(byPayload.get(payload)!.values, [undefined, 'async'], String(payload));
  assert.equal(byPayload.get('valued')!.values, [1, 'async']);
  assert.is(new Set(seen.map((entry) => entry.id)).size, 6);
});

test('after - is told a deferred event as post() returned it, also when the event went to the station and came back (toStation, fromStation)', async () => {
  const told: BusEvent[] = [];
  const delivered: BusEvent[] = [];
  const parking = createRuntime({ deferred: 'manual', middleware: [{ name: 'watching', after: (event) => void told.push(event) }] });
  try {
    const bus = parking.bus('external');
    bus.subscribe('job', (event) => void delivered.push(event));
    const kept = bus.post('job.kept', { n: 1 }, { priority: 'deferred' });
    bus.drain();
    const parked = bus.post('job.parked', { n: 2 }, { priority: 'deferred' });
    const next = await bus.toStation();
    assert.equal((await next.fromStation({ types: ['job'] })).handedBack, 1);
    assert.is(next.drain(), 1);
    assert.equal(delivered.map((event) => event.type), ['job.kept', 'job.parked']);
    assert.is(told.length, 2);
    assert.is(told[0], kept);
    // Its handlers got the station's copy; the after middleware, the event as posted (as publish() resolves with it).
    assert.is(told[1], parked);
  } finally {
    await parking.stop();
  }
});

test('order - runtime middleware, then the bus\'s, in registration order; after in reverse', async () => {
  await runtime.stop();
  const order: string[] = [];
  const tracing = (name: string): Middleware => ({
    name,
    before: () => void order.push(`before ${name}`),
    after: () => void order.push(`after ${name}`),
  });
  runtime = createRuntime({ deferred: 'manual', middleware: [tracing('runtime 1'), tracing('runtime 2')] });
  const bus = runtime.bus('external');
  bus.use(tracing('bus 1'));
  const removeSecond = bus.use(tracing('bus 2'));
  bus.subscribe('x', () => void order.push('handler'));
  await bus.publish('x', {});
  assert.equal(order, [
    'before runtime 1',
    'before runtime 2',
    'before bus 1',
    'before bus 2',
    'handler',
    'after bus 2',
    'after bus 1',
    'after runtime 2',
    'after runtime 1',
  ]);
  order.length = 0;
  removeSecond();
  await bus.publish('x', {});
  assert.equal(order, ['before runtime 1', 'before runtime 2', 'before bus 1', 'handler', 'after bus 1', 'after runtime 2', 'after runtime 1']);
  // The runtime's middleware is on every bus of the thread, the internal side's too; a bus's stays with its side and generation's successors.
  order.length = 0;
  runtime.bus('internal').post('y', {}, { priority: 'immediate' });
  assert.equal(order, ['before runtime 1', 'before runtime 2', 'after runtime 2', 'after runtime 1'], 'after runs with no handler too (no outcomes)');
  order.length = 0;
  const next = await bus.toStation();
  next.post('z', {}, { priority: 'immediate' });
  assert.equal(order.slice(0, 3), ['before runtime 1', 'before runtime 2', 'before bus 1'], 'bus middleware carries over to the next generation');
});

test('before - a throwing middleware refuses the post with MIDDLEWARE_FAILED (cause: what it threw); nothing is posted, the poster knows', async () => {
  const bus = runtime.bus('external');
  const broken = new Error('enricher down');
  bus.use({ name: 'enricher', before: () => {
    throw broken;
  } });
  const got: string[] = [];
  bus.subscribe('*', (event) => void got.push(event.type));
  try {
    bus.post('order.created', { id: 1 });
    assert.unreachable('the post was refused');
  } catch (error) {
    assert.ok(error instanceof MiddlewareFailedError);
    assert.is(error.code, 'MIDDLEWARE_FAILED');
    assert.is(error.middleware, 'enricher');
    assert.is(error.cause, broken);
    assert.match(error.message, /^Middleware enricher failed in before\(\) on "order\.created" \(Error: enricher down\): the post was refused/);
  }
  await rejects(bus.publish('order.created', { id: 2 }), 'MIDDLEWARE_FAILED');
  assert.equal(got, []);
  assert.equal(bus.history(), []);
});

test('before - a result that is neither nothing, { payload } nor { drop } is a failure, not an event posted half-way', () => {
  const bus = runtime.bus('external');
  bus.use({ before: () => 'yes' as never });
  try {
    bus.post('a', {});
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'MIDDLEWARE_FAILED'));
    assert.is((error as MiddlewareFailedError).middleware, '#0', 'an unnamed middleware is named by its position');
  }
  assert.equal(bus.history(), []);
});

test('before - the refusal of a bad result says what came back: an async before, an object of other keys, a drop that is no string', () => {
  const cases: Array<[name: string, before: () => unknown, says: RegExp]> = [
    ['async', async () => undefined, /\(TypeError: before\(\) returned a promise: it runs synchronously inside post\(\), so it cannot be async; do async work before posting, or in after\(\)\)/],
    ['misspelt', () => ({ payloads: { id: 1 } }), /\(TypeError: before\(\) returned an object with keys payloads; expected nothing, \{ payload \} or \{ drop: reason \} \(a string\)\)/],
    ['numbered drop', () => ({ drop: 5 }), /returned an object with keys drop; expected/],
    // The payload returned by mistake: named, not listed key by key.
    ['payload itself', () => Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`field${i}`, i])), /returned an object with 5000 keys \(field0, field1, field2, field3, field4, field5, field6, field7, …\); expected/],
    ['array', () => Array.from({ length: 5_000 }, (_, i) => i), /returned an array; expected/],
  ];
  for (const [name, before, says] of cases) {
    const bus = runtime.bus('external');
    const remove = bus.use({ name, before: before as never });
    const error = thrown(() => bus.post('a', {}), MiddlewareFailedError);
    assert.is(error.middleware, name);
    assert.match(error.message, says, name);
    remove();
  }
  assert.equal(runtime.bus('external').history(), []);
});

test('after - a throwing after is reported to onError with the event; the others still run and publish() resolves', async () => {
  const bus = runtime.bus('external');
  const ran: string[] = [];
  bus.use({ name: 'first', after: () => void ran.push('first') });
  bus.use({ name: 'broken', after: () => {
    throw new Error('metrics sink down');
  } });
  bus.subscribe('a', () => 1);
  const published = await bus.publish('a', {});
  assert.is(published.failed, 0);
  assert.equal(ran, ['first'], 'the next after (in reverse order) still ran');
  assert.is(reported.length, 1);
  assert.ok(isBusError(reported[0]!.error, 'MIDDLEWARE_FAILED'));
  assert.is((reported[0]!.error as MiddlewareFailedError).middleware, 'broken');
  assert.is(reported[0]!.event.type, 'a');
});

test('before - an async before that rejects later is refused at the post, and its rejection is not left unhandled', async () => {
  const bus = runtime.bus('external');
  const unhandled: unknown[] = [];
  const listen = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', listen);
  try {
    let fail!: (error: Error) => void;
    bus.use({ name: 'async', before: (() => new Promise((_, reject) => (fail = reject))) as never });
    const refused = thrown(() => bus.post('a', {}), MiddlewareFailedError);
    assert.match(refused.message, /before\(\) returned a promise/);
    fail(new Error('lookup failed'));
    // Node reports unhandled rejections once the microtasks of a macrotask have run: one turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(unhandled, []);
  } finally {
    process.off('unhandledRejection', listen);
  }
});

test('before and after - a middleware that throws what has no text (a null-prototype object) is still MIDDLEWARE_FAILED, and a post whose after threw so still returns', () => {
  const bus = runtime.bus('external');
  const textless = Object.create(null) as object;
  const removeBefore = bus.use({ name: 'textless-before', before: () => {
    throw textless;
  } });
  const refused = thrown(() => bus.post('a', {}), MiddlewareFailedError);
  assert.is(refused.cause, textless);
  assert.match(refused.message, /failed in before\(\) on "a" \(a value that cannot be shown as text\)/);
  removeBefore();
  bus.use({ name: 'textless-after', after: () => {
    throw textless;
  } });
  let handled = 0;
  bus.subscribe('a', () => void handled++);
  const posted = bus.post('a', { n: 1 }, { priority: 'immediate' });
  assert.is(handled, 1);
  assert.equal(bus.history().map((event) => event.id), [posted.id]);
  assert.is(reported.length, 1);
  assert.ok(isBusError(reported[0]!.error, 'MIDDLEWARE_FAILED'));
  assert.is((reported[0]!.error as MiddlewareFailedError).cause, textless);
});

test('after - an async after that rejects is reported to onError as one that throws, not left an unhandled rejection', async () => {
  const bus = runtime.bus('external');
  const unhandled: unknown[] = [];
  const listen = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', listen);
  try {
    const down = new Error('metrics sink down');
    bus.use({ name: 'async-metrics', after: async () => {
      throw down;
    } });
    bus.subscribe('a', () => 1);
    const published = await bus.publish('a', {});
    assert.is(published.failed, 0);
    // The rejection is taken in a microtask; Node would report it unhandled after one turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(unhandled, []);
    assert.is(reported.length, 1);
    const error = reported[0]!.error as MiddlewareFailedError;
    assert.ok(isBusError(error, 'MIDDLEWARE_FAILED'));
    assert.equal([error.middleware, error.cause, reported[0]!.event.type], ['async-metrics', down, 'a']);
    assert.match(error.message, /^Middleware async-metrics threw in after\(\) on "a" \(Error: metrics sink down\)/);
  } finally {
    process.off('unhandledRejection', listen);
  }
});

test('use - refuses what is not a middleware with INVALID_OPTION naming it', () => {
  const bus = runtime.bus('external');
  for (const bad of [() => {}, null, 'logging', {}, { before: 'nope' }, { after: 1 }, { name: 3, before: () => {} }]) {
    try {
      bus.use(bad as never);
      assert.unreachable(`refused: ${String(bad)}`);
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      assert.match((error as Error).message, /use middleware/);
    }
  }
  try {
    createRuntime({ middleware: [{ before: () => {} }, { after: 'x' as never }] });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'INVALID_OPTION'));
    assert.is((error as { option?: string }).option, 'middleware[1].after');
  }
  try {
    createRuntime({ middleware: (() => {}) as never });
    assert.unreachable();
  } catch (error) {
    assert.is((error as { option?: string }).option, 'middleware');
  }
});

test.run();
