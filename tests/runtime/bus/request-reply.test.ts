/**
 * `bus.request()` and `bus.reply()` in one process: replies, error replies,
 * timeouts on the runtime's clock (a ManualClock, so nothing sleeps), aborts,
 * several repliers, bad input, replies carried by syncs between threads,
 * `RemoteBus.request()` / `reply()` on a thread served here, and the cleanup
 * after every path. Real workers and processes: request-reply-threads.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRuntime,
  isBusError,
  ManualClock,
  ReplyFailedError,
  replyEvent,
  REPLY_TYPE,
  RequestTimeoutError,
  InvalidEventError,
  InvalidOptionError,
  type Runtime,
} from '../../../index.js';
import { runtimeCore } from '../../../internal.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { serveThread } from '../fixtures/served-thread.js';
import { gate, promiseState as state, rejects, thrown } from '../../helpers.js';

const REPLIER = new URL('../fixtures/replier.machine.ts', import.meta.url).href;

const test = suite('request-reply');

let clock: ManualClock;
let runtime: Runtime;

test.before.each(() => {
  clock = new ManualClock(1_000);
  runtime = createRuntime({ clock, deferred: 'manual' });
});

test.after.each(async () => {
  await runtime.stop();
});

/** The subscriptions of the root thread's external bus: a request must leave none behind. */
const subscriptions = () => runtimeCore(runtime).thread(0, 0).subscriptions('external').size;

test('request - resolves with what the replier returns; the request is an event of its type, the reply a busline.reply naming it', async () => {
  const bus = runtime.bus('external');
  const seen: string[] = [];
  bus.subscribe('*', (event) => void seen.push(event.type));
  bus.reply('user.get', (request) => ({ name: `user ${(request.payload as { id: string }).id}` }));
  const user = await bus.request('user.get', { id: 'u1' });
  assert.equal(user, { name: 'user u1' });
  assert.equal(seen, ['user.get', REPLY_TYPE]);
  const [request, reply] = bus.history();
  assert.equal(request!.meta, { 'busline.request': 'true' });
  assert.equal(reply!.payload, { request: request!.id, value: { name: 'user u1' } });
  assert.is(subscriptions(), 2, 'the replier and the * subscriber; the request listens no more');
});

test('request - an async replier; undefined replies with no value; null is a value', async () => {
  const bus = runtime.bus('external');
  bus.reply('slow', async () => {
    await Promise.resolve();
    return [1, 2];
  });
  bus.reply('nothing', () => undefined);
  bus.reply('nil', () => null);
  assert.equal(await bus.request('slow', {}), [1, 2]);
  assert.is(await bus.request('nothing', {}), undefined);
  assert.is(await bus.request('nil', {}), null);
});

test('request - concurrent requests each get their own reply', async () => {
  const bus = runtime.bus('external');
  bus.reply('double', (request) => (request.payload as number) * 2);
  const answers = await Promise.all([1, 2, 3, 4].map((n) => bus.request('double', n)));
  assert.equal(answers, [2, 4, 6, 8]);
  assert.is(subscriptions(), 1);
});

test('reply - a handler that throws rejects the request with ReplyFailedError; a BusError comes back as its class', async () => {
  const bus = runtime.bus('external');
  bus.reply('user.get', () => {
    throw new RangeError('no such user');
  });
  const error = await bus.request('user.get', { id: 'nobody' }).catch((failure: unknown) => failure);
  assert.ok(error instanceof ReplyFailedError);
  assert.is(error.code, 'REPLY_FAILED');
  assert.is(error.errorName, 'RangeError');
  assert.match(error.message, /no such user/);
  assert.is((error.cause as Error).message, 'no such user');
  assert.is((error.cause as Error).name, 'RangeError');

  bus.reply('bad.reply', () => () => 'a function is no payload');
  const refused = await bus.request('bad.reply', {}).catch((failure: unknown) => failure);
  assert.ok(refused instanceof ReplyFailedError, 'a value that cannot be posted is an error reply, not a timeout');
  assert.is(refused.errorCode, 'INVALID_EVENT');
  assert.ok(refused.cause instanceof InvalidEventError);
  assert.is(subscriptions(), 2);
});

test('request - times out on the runtime clock with RequestTimeoutError when nobody replies, and cleans up', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.request('user.get', { id: 'u1' }, { timeout: 500 });
  await Promise.resolve();
  assert.is(subscriptions(), 1, 'listening for the reply');
  clock.advance(499);
  assert.is(await state(waiting), 'pending');
  clock.advance(1);
  const error = await waiting.catch((failure: unknown) => failure);
  assert.ok(error instanceof RequestTimeoutError);
  assert.is(error.code, 'REQUEST_TIMEOUT');
  assert.is(error.timeout, 500);
  assert.is(error.requestType, 'user.get');
  assert.is(error.requestId, bus.history({ types: ['user.get'] })[0]!.id);
  assert.is(subscriptions(), 0, 'no listener left');
  assert.is(clock.pendingTimers, 0, 'no timer left');
  // A reply after the timeout is ignored.
  bus.post(REPLY_TYPE, { request: error.requestId, value: 1 });
});

test('request - a reply in time cancels the timer', async () => {
  const bus = runtime.bus('external');
  bus.reply('ping', () => 'pong');
  assert.is(await bus.request('ping', {}, { timeout: 1_000 }), 'pong');
  assert.is(clock.pendingTimers, 0);
});

test('request - signal: aborts with AbortedError, at once if already aborted; a later reply is ignored', async () => {
  const bus = runtime.bus('external');
  const controller = new AbortController();
  const waiting = bus.request('user.get', { id: 'u1' }, { signal: controller.signal, timeout: 1_000 });
  controller.abort('changed my mind');
  const error = await waiting.catch((failure: unknown) => failure);
  assert.ok(isBusError(error, 'ABORTED'));
  assert.is((error as Error).cause, 'changed my mind');
  assert.is(subscriptions(), 0);
  assert.is(clock.pendingTimers, 0);
  await rejects(bus.request('user.get', { id: 'u2' }, { signal: controller.signal }), 'ABORTED', 'already aborted');
  assert.is(bus.history({ types: ['user.get'] }).length, 1, 'an aborted signal posts nothing');
});

test('request - two repliers: the first reply wins, the second is ignored', async () => {
  const bus = runtime.bus('external');
  const answered: string[] = [];
  bus.reply('who', () => {
    answered.push('first');
    return 'first';
  });
  bus.reply('who', async () => {
    answered.push('second');
    return 'second';
  });
  assert.is(await bus.request('who', {}), 'first');
  await Promise.resolve();
  assert.equal(answered, ['first', 'second'], 'both answered');
  assert.is(bus.history({ types: [REPLY_TYPE] }).length, 2);
  assert.is(subscriptions(), 2);
});

test('reply - answers requests only: a plain post of the type is not answered; unsubscribe() and signal stop it; filter selects', async () => {
  const bus = runtime.bus('external');
  let calls = 0;
  const replier = bus.reply('job.run', () => ++calls, { filter: (request) => request.payload !== 'skip' });
  bus.post('job.run', 'plain', { priority: 'immediate' });
  assert.is(calls, 0);
  assert.is(await bus.request('job.run', 'go'), 1);
  const skipped = bus.request('job.run', 'skip', { timeout: 10 });
  await Promise.resolve();
  clock.advance(10);
  await rejects(skipped, 'REQUEST_TIMEOUT', 'filtered out');
  replier.unsubscribe();
  const unanswered = bus.request('job.run', 'go', { timeout: 10 });
  await Promise.resolve();
  clock.advance(10);
  await rejects(unanswered, 'REQUEST_TIMEOUT', 'unsubscribed');
  const controller = new AbortController();
  bus.reply('job.run', () => 'again', { signal: controller.signal });
  assert.is(await bus.request('job.run', 'go'), 'again');
  controller.abort();
  assert.is(subscriptions(), 0);
});

test('reply - a pattern answers its types; a * subscription never answers replies', async () => {
  const bus = runtime.bus('external');
  bus.reply('*', (request) => `answered ${request.type}`);
  assert.is(await bus.request('user.get', {}), 'answered user.get');
  assert.is(await bus.request('order.get', {}), 'answered order.get');
  assert.is(bus.history({ types: [REPLY_TYPE] }).length, 2, 'one reply each: replies are not requests');
});

test('request - the runtime stopping rejects it with RuntimeStoppedError and removes its timer', async () => {
  const bus = runtime.bus('external');
  const waiting = bus.request('user.get', {}, { timeout: 1_000 });
  await runtime.stop();
  await rejects(waiting, 'RUNTIME_STOPPED');
  assert.is(clock.pendingTimers, 0);
  await rejects(bus.request('user.get', {}), 'RUNTIME_STOPPED', 'after stop');
});

test('bad input - InvalidEventError for a bad type or payload, InvalidOptionError for bad options; nothing is left behind', async () => {
  const bus = runtime.bus('external');
  await rejects(bus.request('', {}), 'INVALID_EVENT', 'empty type');
  await rejects(bus.request('user..get', {}), 'INVALID_EVENT', 'empty part');
  await rejects(bus.request('x', (() => 1) as never), 'INVALID_EVENT', 'a function payload');
  await rejects(bus.request(REPLY_TYPE, {}), 'INVALID_EVENT', 'the reply type');
  await rejects(bus.request('x', {}, { timeout: -1 }), 'INVALID_OPTION', 'negative timeout');
  await rejects(bus.request('x', {}, { timeout: Number.NaN }), 'INVALID_OPTION', 'NaN timeout');
  await rejects(bus.request('x', {}, { signal: 'no' as never }), 'INVALID_OPTION', 'not a signal');
  await rejects(bus.request('x', {}, { retries: 3 } as never), 'INVALID_OPTION', 'unknown option');
  assert.throws(() => bus.reply('x', 'no' as never), (error: unknown) => isBusError(error, 'INVALID_OPTION'));
  assert.throws(() => bus.reply('x', () => 1, { topics: ['a'] } as never), (error: unknown) => isBusError(error, 'INVALID_OPTION'));
  assert.throws(() => bus.reply('', () => 1), (error: unknown) => isBusError(error, 'INVALID_EVENT'));
  assert.throws(() => bus.reply(REPLY_TYPE, () => 1), (error: unknown) => isBusError(error, 'INVALID_EVENT'));
  assert.is(subscriptions(), 0);
  assert.is(bus.history().length, 0, 'nothing was posted');
  assert.throws(() => replyEvent(undefined as never, 1), (error: unknown) => isBusError(error, 'INVALID_EVENT'));
});

test('request - a retired bus refuses it (BUS_RETIRED); a replier keeps answering on the thread\'s next bus', async () => {
  const bus = runtime.bus('external');
  bus.reply('ping', () => 'pong');
  const next = await bus.toStation();
  await rejects(bus.request('ping', {}), 'BUS_RETIRED');
  assert.is(subscriptions(), 1, 'only the replier');
  assert.is(await next.request('ping', {}), 'pong');
  assert.is(next.history({ types: [REPLY_TYPE] }).length, 1, 'the reply was posted on the current bus');
});

test('across threads - request and reply travel with manual syncs; replyEvent() answers as an actor would', async () => {
  const requester = runtime.bus('external');
  const other = runtime.addThread().bus('external');
  other.reply('user.get', (request) => ({ from: 'other', id: (request.payload as { id: string }).id }));
  const waiting = requester.request('user.get', { id: 'u1' }, { timeout: 1_000 });
  await requester.sync();
  await other.sync(); // reads the request, answers it
  assert.is(await state(waiting), 'pending');
  await other.sync(); // shares the reply
  await requester.sync(); // reads it
  assert.equal(await waiting, { from: 'other', id: 'u1' });

  // An answer posted by hand, as an actor emits it.
  const asked = requester.request('sum', [1, 2]);
  await requester.sync();
  await other.sync();
  const [request] = other.history({ types: ['sum'] });
  const answer = replyEvent(request!, 3);
  other.post(answer.type, answer.payload);
  await other.sync();
  await requester.sync();
  assert.is(await asked, 3);
});

test('across threads - under the sync policy, a request and its reply ask for a sync at once', async () => {
  const policed = createRuntime({ sync: { everyMs: 3_600_000 } });
  try {
    const other = policed.addThread().bus('external');
    other.reply('ping', () => 'pong');
    // The period is an hour: only the syncs the request and the reply ask for can carry them.
    assert.is(await policed.bus('external').request('ping', {}), 'pong');
  } finally {
    await policed.stop();
  }
});

test('request - local: the request and its reply are posted local, reach no station and ask for no sync', async () => {
  const policed = createRuntime({ clock, sync: { everyMs: 3_600_000 }, metrics: true });
  try {
    const bus = policed.bus('external');
    const other = policed.addThread().bus('external');
    other.reply('ping', () => 'from the other thread');
    bus.reply('ping', () => 'pong');
    assert.is(await bus.request('ping', {}, { local: true, timeout: 1_000 }), 'pong');
    const [request, reply] = bus.history();
    assert.equal(request!.meta, { 'busline.request': 'local' }, 'the replier sees the request is local');
    assert.equal(reply!.payload, { request: request!.id, value: 'pong' });
    assert.is(bus.unsent, 0, 'neither waits for the station');
    await Promise.resolve();
    assert.is(bus.stats()!.sync.count, 0, 'no sync was asked for (the period is an hour)');
    assert.is(clock.pendingTimers, 0, 'the request\'s timer is gone');
    await bus.sync();
    await other.sync();
    assert.equal(policed.station('external').history().length, 0, 'the station got neither');
    assert.equal(other.history().length, 0, 'the other thread saw neither');

    // Only its own thread answers a local request: the other thread's has no replier of this type, this one's never sees it.
    bus.reply('root.only', () => 'from the root');
    const unanswered = other.request('root.only', {}, { local: true, timeout: 100 });
    await other.sync();
    await bus.sync();
    clock.advance(100);
    await rejects(unanswered, 'REQUEST_TIMEOUT', 'no replier in its thread');
    assert.is(runtimeCore(policed).thread(0, 1).subscriptions('external').size, 1, 'its replier: the request listens no more');
    assert.is(clock.pendingTimers, 0, 'nor waits');
    assert.is(other.unsent, 0, 'nothing left for the station');
    // The same request, not local, asks for a sync and is answered across threads.
    assert.is(await other.request('root.only', {}, { timeout: 1_000 }), 'from the root');
    assert.ok(other.stats()!.sync.count > 0);
  } finally {
    await policed.stop();
  }
});

test('request - local: an error reply is local too; a bad local value is refused with InvalidOptionError', async () => {
  const bus = runtime.bus('external');
  bus.reply('fail', () => {
    throw new RangeError('nope');
  });
  const error = await bus.request('fail', {}, { local: true }).catch((failure: unknown) => failure);
  assert.ok(error instanceof ReplyFailedError);
  assert.is(bus.unsent, 0, 'the error reply stayed in the thread too');
  const refused = await bus.request('x', {}, { local: 'yes' as never }).catch((failure: unknown) => failure);
  assert.ok(isBusError(refused, 'INVALID_OPTION'));
  assert.match((refused as Error).message, /request options\.local/);
  await rejects(bus.request('x', {}, { local: 1 as never }), 'INVALID_OPTION', 'a number');
  assert.is(bus.history({ types: ['x'] }).length, 0, 'nothing was posted');
  assert.is(subscriptions(), 1, 'only the replier');
});

test('post - meta marking a local request is refused on a post that is not local: its reply would stay in the replier\'s thread', async () => {
  const bus = runtime.bus('external');
  const other = runtime.addThread().bus('external');
  other.reply('by.hand', () => 'answer');
  const mark = { 'busline.request': 'local' };
  assert.match(thrown(() => bus.post('by.hand', {}, { meta: mark }), InvalidOptionError).message, /post options\.meta.*local: true/);
  thrown(() => bus.post('by.hand', {}, { meta: mark, priority: 'immediate', local: false }), InvalidOptionError);
  await rejects(bus.publish('by.hand', {}, { meta: mark }), 'INVALID_OPTION', 'publish()');
  assert.is(bus.history({ types: ['by.hand'] }).length, 0, 'nothing was posted');
  // Posted local, it is a local request made by hand: this thread's replier answers it, local.
  bus.reply('by.hand', () => 'here');
  const reply = bus.waitFor(REPLY_TYPE);
  const posted = bus.post('by.hand', {}, { meta: mark, local: true });
  assert.equal((await reply).payload, { request: posted.id, value: 'here' });
  assert.is(bus.unsent, 0, 'neither waits for the station');
  // Any other value marks an ordinary request, as before.
  bus.post('by.hand', {}, { meta: { 'busline.request': 'yes' } });
  assert.is(bus.unsent, 1);
});

test('request - local: an actor answering with replyEvent() posts its reply local too', async () => {
  const bus = runtime.bus('external');
  const actor = await runtime.spawn(REPLIER, { input: { name: 'actor' } });
  try {
    assert.equal(await bus.request('user.get', { id: 'u5' }, { local: true }), { id: 'u5', by: 'actor' });
    assert.is(bus.unsent, 0, 'neither the request nor the emitted reply waits for the station');
    assert.equal(await bus.request('user.get', { id: 'u6' }), { id: 'u6', by: 'actor' });
    assert.is(bus.unsent, 2, 'an ordinary request and its reply do');
    const [local, ordinary] = bus.history({ types: ['user.get'] });
    assert.equal(replyEvent(local!, 1), { type: REPLY_TYPE, payload: { request: local!.id, value: 1 }, local: true });
    assert.equal(replyEvent(ordinary!, 1), { type: REPLY_TYPE, payload: { request: ordinary!.id, value: 1 } });
  } finally {
    await actor.stop();
  }
});

test('RemoteBus - request() and reply() on a thread served over a port, both ways', async () => {
  const remote = serveThread(runtime);
  try {
    const far = remote.handle.bus('external') as RemoteBus;
    // A replier here, answering requests the thread delivers; the reply is posted in the thread.
    far.reply('user.get', (request) => ({ name: `far ${(request.payload as { id: string }).id}` }));
    assert.equal(await far.request('user.get', { id: 'u1' }), { name: 'far u1' });
    // A replier in the thread itself.
    remote.thread.bus('external').reply('clock.now', () => 42);
    assert.is(await far.request('clock.now', {}), 42);
    // Error replies cross as ReplyFailedError.
    far.reply('fail', () => {
      throw new TypeError('nope');
    });
    const error = await far.request('fail', {}).catch((failure: unknown) => failure);
    assert.ok(error instanceof ReplyFailedError);
    assert.is(error.errorName, 'TypeError');
    // A timeout on this runtime's clock, and nothing left listening in the thread.
    const late = far.request('nobody', {}, { timeout: 100 });
    await far.state();
    clock.advance(100);
    await rejects(late, 'REQUEST_TIMEOUT');
    await far.state();
    assert.is(remote.thread.subscriptions('external').size, 3, 'the three repliers; no reply listener');
    // A local request: posted local in the thread, answered there by a replier here or in the thread, the reply posted local.
    const near = remote.thread.bus('external');
    const unsent = near.unsent;
    assert.equal(await far.request('user.get', { id: 'u2' }, { local: true }), { name: 'far u2' });
    assert.is(await far.request('clock.now', {}, { local: true }), 42);
    assert.is(near.unsent, unsent, 'none of the four local events waits for the station');
    const locals = near.history().slice(-4);
    assert.equal(locals.map((event) => event.type), ['user.get', REPLY_TYPE, 'clock.now', REPLY_TYPE]);
    assert.equal(locals[0]!.meta, { 'busline.request': 'local' });
    await rejects(far.request('x', {}, { local: 'yes' as never }), 'INVALID_OPTION', 'refused here, before crossing');
    await rejects(far.post('x', {}, { meta: { 'busline.request': 'local' } }), 'INVALID_OPTION', 'a local request\'s mark on a post that is not local');
  } finally {
    await remote.stop();
  }
});

test('RemoteBus - local: a replier here that answers after toStation() posts its reply local on the thread\'s next bus', async () => {
  const remote = serveThread(runtime);
  try {
    const far = remote.handle.bus('external') as RemoteBus;
    const started = gate();
    const release = gate();
    far.reply('slow', async () => {
      started.open();
      await release.promise;
      return 'late';
    });
    const asked = far.request('slow', {}, { local: true });
    await started.promise;
    const next = await far.toStation();
    assert.is(next.generation, far.generation + 1);
    // Its post on the retired generation is refused: it is posted again, local still, on the next one.
    release.open();
    assert.is(await asked, 'late');
    assert.is((await next.state()).unsent, 0, 'the reply waits for no station');
    assert.equal(remote.thread.bus('external').history().map((event) => event.type), [REPLY_TYPE]);
    assert.equal(runtime.station('external').history().length, 0, 'the station got neither');
  } finally {
    await remote.stop();
  }
});

test.run();
