import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, EventTooLargeError, InvalidOptionError, isBusError } from '../../../errors.js';
import { ManualClock } from '../../../runtime/clock.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { BusEvent, Payload } from '../../../types.js';
import { ids } from '../../helpers.js';

function event(id: string, timestamp: number, type = 't', payload: Payload = null): BusEvent {
  return { id, type, side: 'external', timestamp, origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload };
}

function retention(options: MemoryOptions, clock = new ManualClock(0)): Retention {
  return new Retention(new MemoryPolicies(checkMemoryOptions(options)), () => clock.now());
}

function refusal(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

const policy = suite('MemoryPolicies');

policy('checkMemoryOptions - each wrong field is named, with what is allowed', () => {
  const cases: Array<[unknown, string]> = [
    [{ policy: {} }, 'memory.policy'],
    [{ policies: [] }, 'memory.policies'],
    [{ policies: { 'bad..type': {} } }, 'memory.policies["bad..type"]'],
    [{ policies: { user: { ttl: 5 } } }, 'memory.policies["user"].ttl'],
    [{ policies: { user: { ttlMs: 0 } } }, 'memory.policies["user"].ttlMs'],
    [{ policies: { user: { sizeLimit: 1.5 } } }, 'memory.policies["user"].sizeLimit'],
    [{ policies: { user: { removeAfterDelivery: 'yes' } } }, 'memory.policies["user"].removeAfterDelivery'],
    [{ policies: { user: { importance: 'urgent' } } }, 'memory.policies["user"].importance'],
    [{ policies: { user: { maxEvents: -1 } } }, 'memory.policies["user"].maxEvents'],
    [{ policies: { user: { discard: 'refuseNew' } } }, 'memory.policies["user"].discard'],
    [{ limits: { maxBytes: 'lots' } }, 'memory.limits.maxBytes'],
    [{ limits: { maxEvents: 5, discard: 'newest' } }, 'memory.limits.discard'],
    [{ limits: { ttlMs: 5 } }, 'memory.limits.ttlMs'],
  ];
  for (const [options, option] of cases) assert.is(refusal(() => checkMemoryOptions(options)).option, option, JSON.stringify(options));
  assert.match(refusal(() => checkMemoryOptions({ policies: { user: { importance: 'urgent' } } })).message, /'low', 'normal' or 'high'/);
});

policy('of - subtype rules: the most specific policy applies, whole', () => {
  const policies = new MemoryPolicies(
    checkMemoryOptions({ policies: { user: { ttlMs: 10, importance: 'low' }, 'user.login': { removeAfterDelivery: true } } }),
  );
  assert.is(policies.of('user')?.pattern, 'user');
  assert.is(policies.of('user.logout.ok')?.pattern, 'user');
  assert.is(policies.of('user.login')?.pattern, 'user.login');
  assert.is(policies.of('user.login.ok')?.ttlMs, undefined, 'nothing is inherited from "user"');
  assert.is(policies.of('username'), undefined);
  assert.ok(policies.removesAfterDelivery('user.login.ok'));
  assert.not.ok(policies.removesAfterDelivery('user.logout'));
});

const test = suite('Retention');

test('maxEvents with discard oldest - the oldest leave, per history and per policy', () => {
  const kept = retention({ policies: { metric: { maxEvents: 2 } }, limits: { maxEvents: 4 } });
  kept.history.merge([event('m1', 1, 'metric'), event('a', 2), event('m2', 3, 'metric.cpu'), event('m3', 4, 'metric')]);
  assert.equal(ids(kept.settle()), ['m1']);
  kept.history.merge([event('b', 5), event('c', 6)]);
  assert.equal(ids(kept.settle()), ['a']);
  assert.equal(ids(kept.history.snapshot()), ['m2', 'm3', 'b', 'c']);
  assert.is(kept.removedCount, 2);
});

test('maxEvents with discard refuseNew - a post is refused naming the limit; a read keeps what fits', () => {
  const kept = retention({ policies: { audit: { maxEvents: 2, discard: 'refuseNew' } } });
  kept.admitPost(event('a1', 1, 'audit'));
  kept.history.insert(event('a1', 1, 'audit'));
  kept.history.insert(event('a2', 2, 'audit'));
  kept.admitPost(event('x', 3, 'other'));
  try {
    kept.admitPost(event('a3', 3, 'audit.login'));
    assert.unreachable('refused');
  } catch (error) {
    assert.instance(error, BusFullError);
    assert.is((error as BusFullError).bound, 'limit');
    assert.is((error as BusFullError).limit, 'memory.policies["audit"].maxEvents');
    assert.is((error as BusFullError).max, 2);
  }
  kept.history.remove([event('a1', 1, 'audit')]);
  assert.equal(ids(kept.fit([event('a3', 3, 'audit'), event('a4', 4, 'audit'), event('y', 5)])), ['a3', 'y']);
});

test('maxBytes - counted as events join and leave', () => {
  const big = 'x'.repeat(200);
  const size = eventBytes(event('e1', 1, 't', big));
  const kept = retention({ limits: { maxBytes: size * 2 } });
  kept.history.merge([event('e1', 1, 't', big), event('e2', 2, 't', big)]);
  assert.equal(kept.settle(), []);
  assert.is(kept.bytes, 2 * size);
  kept.history.insert(event('e3', 3, 't', big));
  assert.equal(ids(kept.settle()), ['e1']);
  assert.is(kept.bytes, 2 * size);
});

test('limits - lowest importance leaves first, then the oldest; high last', () => {
  const kept = retention({ policies: { keep: { importance: 'high' }, noise: { importance: 'low' } }, limits: { maxEvents: 3 } });
  kept.history.merge([event('k1', 1, 'keep'), event('n1', 2), event('z1', 3, 'noise'), event('k2', 4, 'keep'), event('z2', 5, 'noise'), event('n2', 6)]);
  assert.equal(ids(kept.settle()), ['z1', 'z2', 'n1']);
  kept.history.merge([event('k3', 7, 'keep'), event('k4', 8, 'keep')]);
  assert.equal(ids(kept.settle()), ['n2', 'k1']);
});

test('ttlMs - only types that set it expire, by the injected clock', () => {
  const clock = new ManualClock(0);
  const kept = retention({ policies: { session: { ttlMs: 100 }, 'session.audit': {} } }, clock);
  kept.history.merge([event('s1', 10, 'session'), event('keep', 20, 'user'), event('a1', 30, 'session.audit'), event('s2', 50, 'session.start')]);
  clock.set(109);
  assert.equal(kept.expire(), []);
  clock.set(110);
  assert.equal(ids(kept.expire()), ['s1']);
  clock.set(10_000);
  assert.equal(ids(kept.expire()), ['s2']);
  assert.equal(ids(kept.history.snapshot()), ['keep', 'a1']);
});

test('maxAgeMs of the history - every event expires', () => {
  const clock = new ManualClock(0);
  const kept = retention({ limits: { maxAgeMs: 50 } }, clock);
  kept.history.merge([event('a', 10), event('b', 20), event('c', 30)]);
  clock.set(70);
  assert.equal(ids(kept.settle()), ['a', 'b']);
});

test('afterSearch - only events whose policy says so leave', () => {
  const kept = retention({ policies: { job: { removeAfterSearch: true } } });
  kept.history.merge([event('j', 1, 'job.done'), event('o', 2, 'other')]);
  assert.equal(ids(kept.afterSearch(kept.history.query())), ['j']);
  assert.equal(ids(kept.history.snapshot()), ['o']);
});

test('admitPost - a type over its sizeLimit is refused with EventTooLargeError', () => {
  const kept = retention({ policies: { blob: { sizeLimit: 300 } } });
  kept.admitPost(event('small', 1, 'blob', 'x'.repeat(100)));
  try {
    kept.admitPost(event('big', 1, 'blob', new Uint8Array(400)));
    assert.unreachable('refused');
  } catch (error) {
    assert.instance(error, EventTooLargeError);
    assert.ok(isBusError(error, 'EVENT_TOO_LARGE'));
    assert.match((error as Error).message, /over the size limit of 300/);
  }
});

test('no policies - the history has no observer and nothing is ever removed', () => {
  const kept = retention({});
  kept.history.merge([event('a', 1)]);
  assert.equal(kept.settle(), []);
  assert.equal(kept.afterSearch(kept.history.query()), []);
  assert.is(kept.history.size, 1);
});

policy.run();
test.run();
