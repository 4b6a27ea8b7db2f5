/**
 * Type patterns: subtype matching, `*` (one part), a final `>` (the rest) and
 * `*` alone, in subscriptions, history queries, station reads and spawned
 * actors; refused patterns; `subscribe(..., { signal })`.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type BusEvent } from '../../index.js';
import { typeMatches } from '../../runtime/type-patterns.js';
import { typePatternProblem } from '../../runtime/validate.js';
import { ids } from '../helpers.js';

const COUNTER = new URL('../../examples/order-counter.machine.ts', import.meta.url);

const test = suite('type patterns');

test('typeMatches - the table of the rules', () => {
  const cases: Array<[string, string, boolean]> = [
    ['user', 'user', true],
    ['user', 'user.login', true],
    ['user', 'user.login.failed', true],
    ['user', 'username', false],
    ['user.login', 'user', false],
    ['*', 'user', true],
    ['*', 'user.login.failed', true],
    ['>', 'a.b.c', true],
    ['user.*', 'user.login', true],
    ['user.*', 'user', false],
    ['user.*', 'user.login.failed', false],
    ['user.*', 'username.login', false],
    ['user.>', 'user.login', true],
    ['user.>', 'user.login.failed', true],
    ['user.>', 'user', false],
    ['*.login', 'user.login', true],
    ['*.login', 'admin.login', true],
    ['*.login', 'user.login.failed', false],
    ['*.login', 'login', false],
    ['user.*.failed', 'user.login.failed', true],
    ['user.*.failed', 'user.login.ok', false],
    ['user.*.failed', 'user.failed', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['*.>', 'a.b.c', true],
    ['*.>', 'a', false],
  ];
  for (const [pattern, type, expected] of cases) assert.is(typeMatches(pattern, type), expected, `${pattern} ~ ${type}`);
});

const part = fc.constantFrom('a', 'b', 'user', 'login', 'x_1');
const type = fc.array(part, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'));

test('typeMatches - property: each wildcard means what its definition by parts says', () => {
  fc.assert(
    fc.property(type, type, (pattern, candidate) => {
      const parts = candidate.split('.');
      const prefix = pattern.split('.');
      const startsWithParts = prefix.every((p, i) => parts[i] === p);
      // Plain: the type or a subtype.
      assert.is(typeMatches(pattern, candidate), startsWithParts);
      // `>`: strictly below.
      assert.is(typeMatches(`${pattern}.>`, candidate), startsWithParts && parts.length > prefix.length);
      // `*`: exactly one part below.
      assert.is(typeMatches(`${pattern}.*`, candidate), startsWithParts && parts.length === prefix.length + 1);
      // A `*` in place of any one part: the same type count, every other part equal.
      for (let i = 0; i < prefix.length; i++) {
        const starred = prefix.map((p, j) => (j === i ? '*' : p)).join('.');
        // ('*' alone is the exception: every type.)
        const expected = starred === '*' || (parts.length === prefix.length && prefix.every((p, j) => j === i || parts[j] === p));
        assert.is(typeMatches(starred, candidate), expected, starred);
      }
      assert.is(typeMatches('*', candidate), true);
    }),
  );
});

test('typePatternProblem - refused patterns say why', () => {
  for (const pattern of ['user.*', 'user.>', '*', '>', '*.login', 'a.*.c.>', 'user']) assert.is(typePatternProblem(pattern), undefined, pattern);
  const problems: Array<[unknown, RegExp]> = [
    ['', /empty.*"\*" for every type/],
    ['user.>.login', /must be the last part/],
    ['user*', /whole part/],
    ['us>er.x', /whole part/],
    ['**', /whole part/],
    ['a..*', /dot-separated parts/],
    ['user.', /not valid/],
    [7, /must be a string/],
  ];
  for (const [pattern, why] of problems) assert.match(typePatternProblem(pattern) ?? 'accepted', why, String(pattern));
});

test('subscribe - "*" gets every event, wildcards select by parts; bad patterns are refused', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const got: Record<string, string[]> = { all: [], one: [], deep: [], middle: [] };
    bus.subscribe('*', (event) => void got.all!.push(event.type));
    bus.subscribe('user.*', (event) => void got.one!.push(event.type));
    bus.subscribe('user.>', (event) => void got.deep!.push(event.type));
    bus.subscribe(['*.login', 'order.*.paid'], (event) => void got.middle!.push(event.type));
    for (const type of ['user', 'user.login', 'user.login.failed', 'admin.login', 'order.7.paid', 'tick']) {
      bus.post(type, null, { priority: 'immediate' });
    }
    assert.equal(got, {
      all: ['user', 'user.login', 'user.login.failed', 'admin.login', 'order.7.paid', 'tick'],
      one: ['user.login'],
      deep: ['user.login', 'user.login.failed'],
      middle: ['user.login', 'admin.login', 'order.7.paid'],
    });
    assert.throws(() => bus.subscribe('', () => {}), (error: unknown) => isBusError(error, 'INVALID_EVENT') && /empty/.test(String(error)));
    assert.throws(() => bus.subscribe('a.>.b', () => {}), (error: unknown) => isBusError(error, 'INVALID_EVENT') && /last part/.test(String(error)));
    assert.throws(() => bus.subscribe(['a', 'b*'], () => {}), (error: unknown) => isBusError(error, 'INVALID_EVENT') && /whole part/.test(String(error)));
    // Wildcards are for selecting: a post names one type.
    assert.throws(() => bus.post('user.*', null), (error: unknown) => isBusError(error, 'INVALID_EVENT'));
  } finally {
    await runtime.stop();
  }
});

test('history - patterns in queries agree with a scan, and with what a station read brings', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const posted: BusEvent[] = ['a', 'a.b', 'a.b.c', 'x.b', 'x.b.c', 'a.c'].map((type) => bus.post(type, type, { priority: 'immediate' }));
    const byType = (...types: string[]) => ids(posted.filter((event) => types.includes(event.type)));
    assert.equal(ids(bus.history({ types: ['*.b'] })), byType('a.b', 'x.b'));
    assert.equal(ids(bus.history({ types: ['a.>'] })), byType('a.b', 'a.b.c', 'a.c'));
    assert.equal(ids(bus.history({ types: ['*.b.*', 'a'] })), byType('a', 'a.b', 'a.b.c', 'x.b.c', 'a.c'));
    assert.equal(ids(bus.history({ types: ['>'] })), ids(posted));
    const next = await bus.toStation();
    assert.equal(ids(runtime.station('external').history({ types: ['x.*'] })), byType('x.b'));
    const reader = runtime.addThread().bus('external');
    const seen: string[] = [];
    reader.subscribe('*.*.c', (event) => void seen.push(event.type));
    const { added } = await reader.fromStation({ types: ['*.b.>'] });
    assert.equal(ids(added), byType('a.b.c', 'x.b.c'));
    assert.equal(seen, ['a.b.c', 'x.b.c']);
    void next;
  } finally {
    await runtime.stop();
  }
});

test('spawn - an actor\'s types may be patterns', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const counter = await runtime.spawn(COUNTER, { input: { limit: 2 }, types: ['*.created'] });
    // A slow first transition (over the actor's slice, under load) leaves the second for a later turn: wait for what it emits.
    const limit = runtime.bus('external').waitFor('orders.limit', { timeout: 60_000 });
    runtime.bus('external').post('order.created', { id: 1 }, { priority: 'immediate' });
    runtime.bus('external').post('order.created', { id: 2 }, { priority: 'immediate' });
    assert.equal((await limit).payload, { orders: 2 });
    assert.is((await counter.info()).state, 'full');
    try {
      await runtime.spawn(COUNTER, { types: ['order.>.created'] });
      assert.unreachable('a bad pattern is refused');
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  } finally {
    await runtime.stop();
  }
});

test('subscribe - a signal ends the subscription when it aborts, or at once if it has', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const controller = new AbortController();
    const got: number[] = [];
    const subscription = bus.subscribe('n', (event) => void got.push(event.payload as number), { signal: controller.signal });
    bus.post('n', 1, { priority: 'immediate' });
    controller.abort();
    bus.post('n', 2, { priority: 'immediate' });
    assert.equal(got, [1]);
    subscription.unsubscribe(); // still idempotent
    const late: number[] = [];
    bus.subscribe('n', (event) => void late.push(event.payload as number), { signal: AbortSignal.abort() });
    bus.post('n', 3, { priority: 'immediate' });
    assert.equal(late, []);
    // Unsubscribing by hand lets go of the signal: a later abort finds nothing to do.
    const kept = new AbortController();
    bus.subscribe('n', () => {}, { signal: kept.signal }).unsubscribe();
    kept.abort();
    assert.throws(() => bus.subscribe('n', () => {}, { signal: 'stop' as never }), (error: unknown) => isBusError(error, 'INVALID_OPTION'));
  } finally {
    await runtime.stop();
  }
});

test.run();
