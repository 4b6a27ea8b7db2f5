/**
 * `RemoteBus.subscribe()`, `waitFor()`, `waitForEvents()` and `publish()`:
 * a thread reached only through its control API (served over a
 * MessageChannel in this thread, as a worker is reached), its events handled
 * here. Nothing sleeps: tests await the handlers, the waits, and the
 * thread's own counts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, InvalidOptionError, ManualClock, type BusEvent, type Runtime } from '../../../index.js';
import { runtimeCore } from '../../../internal.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { DETACHED_SCOPE, subscribeRemote, type ThreadCall } from '../../../runtime/bus/remote-subscription.js';
import { LISTENER_LEASE_MS, RemoteListeners } from '../../../runtime/thread/remote-listeners.js';
import { serveThread } from '../fixtures/served-thread.js';
import { promiseJobs, turns } from '../fixtures/turns.js';
import { gate, ids, rejects } from '../../helpers.js';

const test = suite('RemoteBus subscribe, waitFor, publish');

let clock: ManualClock;
let runtime: Runtime;
let reported: Array<{ error: unknown; event: BusEvent }>;
let remote: ReturnType<typeof serveThread>;

test.before.each(() => {
  clock = new ManualClock(1_000);
  reported = [];
  runtime = createRuntime({ clock, deferred: 'manual', onError: (error, event) => void reported.push({ error, event }) });
  remote = serveThread(runtime);
});

test.after.each(async () => {
  await remote.stop();
  await runtime.stop();
});

/** Resolves with the first `count` events `bus` delivers to a subscription of `types` here. */
function collect(bus: RemoteBus, types: string, count: number, options = {}): { events: Promise<BusEvent[]>; unsubscribe: () => void } {
  const seen: BusEvent[] = [];
  const all = gate<BusEvent[]>();
  const subscription = bus.subscribe(types, (event) => {
    seen.push(event);
    if (seen.length === count) all.open(seen);
  }, options);
  return { events: all.promise, unsubscribe: subscription.unsubscribe };
}

const bus = () => remote.handle.bus('external') as RemoteBus;
/** The thread's subscribers of the external side (a remote subscription is one of them there). */
const listening = () => remote.thread.subscriptions('external').size;

test('subscribe - the thread\'s events reach a handler here, in order; posts made right after subscribe() are seen', async () => {
  const { events, unsubscribe } = collect(bus(), 'job.*', 3);
  const posted = [await bus().post('job.started', 1), await bus().post('other', 2), await bus().post('job.done', 3)];
  remote.thread.bus('external').post('job.failed', 4, { priority: 'immediate' });
  const seen = await events;
  assert.equal(ids(seen), [posted[0]!.id, posted[2]!.id, seen[2]!.id]);
  assert.is(seen[2]!.type, 'job.failed', 'what the thread posts itself too');
  assert.is(listening(), 1);
  unsubscribe();
  await bus().state(); // the unlisten went before this call
  assert.is(listening(), 0, 'unsubscribe() removed the listener in the thread');
});

test('subscribe - what the thread reads from its station reaches the handler too', async () => {
  const { events } = collect(bus(), 'order', 1);
  const local = runtime.bus('external');
  const order = local.post('order.created', { id: 1 });
  await local.toStation();
  await bus().fromStation();
  assert.equal(await events, [order]);
});

test('subscribe - filter and onError run here, topics in the thread; a handler error goes to the runtime\'s onError', async () => {
  const mine: unknown[] = [];
  const kept = collect(bus(), 'a', 1, { filter: (event: BusEvent) => event.payload === 2, topics: ['t'] });
  bus().subscribe('b', () => {
    throw new Error('b failed');
  }, { onError: (error) => void mine.push(error) });
  const fallback = gate();
  bus().subscribe('c', async () => {
    fallback.open();
    throw new Error('c failed');
  });
  await bus().post('a', 1, { topic: 't' });
  await bus().post('a', 2);
  const two = await bus().post('a', 2, { topic: 't' });
  await bus().post('b', 0);
  await bus().post('c', 0);
  assert.equal(await kept.events, [two]);
  await fallback.promise;
  await bus().state(); // a round trip: the rejection has been reported by now
  assert.is(String(mine[0]), 'Error: b failed');
  assert.is(String(reported[0]?.error), 'Error: c failed');
  assert.is(reported[0]?.event.type, 'c');
});

test('subscribe - bounds: a slow handler here holds the thread\'s credits (sync.maxInFlight); posts are refused until it finishes', async () => {
  await remote.stop();
  remote = serveThread(runtime, { sync: { everyMs: 3_600_000, maxInFlight: 2 } });
  const started: Array<() => void> = [];
  const two = gate();
  bus().subscribe('job', () => new Promise<void>((resolve) => {
    started.push(resolve);
    if (started.length === 2) two.open();
  }));
  await bus().post('job', 1);
  await bus().post('job', 2);
  await two.promise;
  assert.is(remote.thread.subscriptions('external').inFlight, 2, 'each event holds a credit in the thread until the handler here finishes');
  await rejects(bus().post('job', 3), 'BUS_FULL', 'no credit left');
  await bus().post('other', 0); // a type no async subscriber takes still goes
  for (const resolve of started.splice(0)) resolve();
  await bus().room();
  assert.is(remote.thread.subscriptions('external').inFlight, 0, 'the credits came back');
  await bus().post('job', 3);
});

test('subscribe - a caller that stops polling is dropped by the thread after the lease, giving its credits back', async () => {
  const thread = runtimeCore(runtime).thread(0, 0);
  const listeners = new RemoteListeners(thread, clock);
  const id = listeners.listen('external', ['job']);
  runtime.bus('external').post('job', 1, { priority: 'immediate' });
  assert.is(thread.subscriptions('external').inFlight, 1);
  const taken = await listeners.take(id, 0, []);
  assert.is(taken?.events.length, 1);
  clock.advance(LISTENER_LEASE_MS - 1);
  assert.is(listeners.size, 1, 'polled within the lease');
  clock.advance(LISTENER_LEASE_MS);
  assert.is(listeners.size, 0, 'dropped once nobody polled for the lease');
  await turns(1); // the handler's promise settles
  assert.is(thread.subscriptions('external').inFlight, 0, 'its unsettled event gave its credit back');
  assert.is(thread.subscriptions('external').size, 0);
  assert.is(await listeners.take(id, 0, []), null, 'a take on it says it is gone');
  assert.is(clock.pendingTimers, 0, 'no sweep is left');
});

test('subscribe - bad arguments are refused here, before anything crosses', async () => {
  assert.throws(() => bus().subscribe('', () => undefined), /type/);
  assert.throws(() => bus().subscribe('a', 5 as never), /handler/);
  assert.throws(() => bus().subscribe('a', () => undefined, { every: 1 } as never), /every/);
  const before = remote.calls.length;
  const aborted = AbortSignal.abort();
  bus().subscribe('a', () => undefined, { signal: aborted });
  assert.is(remote.calls.length, before, 'an aborted signal sends nothing');
});

test('subscribe - signal ends it; runtime.stop() ends it', async () => {
  const controller = new AbortController();
  bus().subscribe('a', () => undefined, { signal: controller.signal });
  bus().subscribe('b', () => undefined);
  await bus().state();
  assert.is(listening(), 2);
  controller.abort();
  await bus().state();
  assert.is(listening(), 1);
});

test('waitFor and waitForEvents - resolve with the thread\'s events; time out on this runtime\'s clock; leave no listener', async () => {
  const waiting = bus().waitFor('user.login', { filter: (event) => (event.payload as { id: number }).id === 7 });
  await bus().post('user.login', { id: 1 });
  const seven = await bus().post('user.login', { id: 7 });
  assert.equal(await waiting, seven);
  const both = bus().waitForEvents(['a', 'b'], { inOrder: true });
  const a = await bus().post('a', 0);
  const b = await bus().post('b', 0);
  assert.equal(await both, [a, b]);
  const late = bus().waitFor('never', { timeout: 50 });
  clock.advance(50);
  await rejects(late, 'TIMEOUT');
  await rejects(bus().waitFor('x', { timeout: -1 }), 'INVALID_OPTION');
  await bus().state();
  assert.is(listening(), 0, 'every wait removed its listener');
});

test('waitFor and publish - pending ones reject with RUNTIME_STOPPED when the runtime stops', async () => {
  bus().subscribe('slow', () => new Promise(() => undefined));
  remote.thread.bus('external').subscribe('slow', () => new Promise(() => undefined));
  const waiting = bus().waitFor('never');
  const publishing = bus().publish('slow', 1);
  await bus().state();
  await runtime.stop();
  await rejects(waiting, 'RUNTIME_STOPPED');
  await rejects(publishing, 'RUNTIME_STOPPED');
});

test('publish - resolves once the thread\'s handlers have finished, remote subscribers included, with their outcomes', async () => {
  const slow = gate<string>();
  remote.thread.bus('external').subscribe('job', () => 'in the thread');
  remote.thread.bus('external').subscribe('job', () => {
    throw new TypeError('thread handler failed');
  });
  bus().subscribe('job', async () => {
    await slow.promise;
  });
  const publishing = bus().publish('job', { n: 1 });
  let done = false;
  void publishing.then(() => (done = true));
  await bus().state();
  await bus().state();
  assert.is(done, false, 'waits for the handler here');
  slow.open('now');
  const published = await publishing;
  assert.ok(published.dropped === undefined);
  const { event, outcomes, failed } = published;
  assert.is(event.type, 'job');
  assert.match(event.id, /^0\.1\./);
  assert.is(failed, 1);
  assert.equal(outcomes[0], { status: 'fulfilled', value: 'in the thread' });
  const rejected = outcomes[1] as PromiseRejectedResult;
  assert.is(rejected.reason.name, 'TypeError');
  assert.is(rejected.reason.message, 'thread handler failed');
  assert.equal(outcomes[2], { status: 'fulfilled', value: undefined }, 'the remote subscriber, settled when its handler here had');
  await rejects(bus().publish('', 1), 'INVALID_EVENT');
  await rejects((bus() as RemoteBus).publish('x', 1, { priority: 'soon' } as never), 'INVALID_OPTION');
});

test('publish - a handler here that throws is a rejected outcome in the thread, reported once (here), counted in the thread\'s errors', async () => {
  const thrown = new RangeError('handler here failed');
  bus().subscribe('job', () => {
    throw thrown;
  });
  bus().subscribe('job', async () => {
    throw new InvalidOptionError('job.limit', 'too high.');
  });
  const loggedInThread: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void loggedInThread.push(args);
  let published: Awaited<ReturnType<RemoteBus['publish']>>;
  try {
    published = await bus().publish('job', 1);
  } finally {
    console.error = consoleError;
  }
  assert.ok(published.dropped === undefined);
  assert.is(published.failed, 2);
  const [sync, async] = published.outcomes as PromiseRejectedResult[];
  assert.is(sync!.reason.name, 'RangeError');
  assert.is(sync!.reason.message, 'handler here failed');
  assert.is(sync!.reason.stack, thrown.stack, 'its stack as it was thrown');
  assert.ok(async!.reason instanceof InvalidOptionError, 'a BusError of its class');
  assert.is(async!.reason.option, 'job.limit');
  assert.equal(reported.map(({ error }) => (error as Error).message), ['handler here failed', async!.reason.message], 'reported here, once each');
  assert.equal(loggedInThread, [], 'not reported again by the thread');
  assert.is(remote.thread.subscriptions('external').errors, 2, 'counted there, as a local handler\'s failure is');
});

test('publish - a filter here that turns an event away leaves no outcome in the thread, as a filter there does: for publish() and after middleware', async () => {
  const thread = remote.thread.bus('external');
  const afters: Array<ReadonlyArray<PromiseSettledResult<unknown>>> = [];
  thread.use({ name: 'outcomes', after: (_event, outcome) => void afters.push(outcome.outcomes) });
  thread.subscribe('job', () => 'in the thread', { filter: (event) => event.payload === 1 });
  bus().subscribe('job', () => 'here', { filter: (event) => event.payload === 1 });
  await bus().state(); // the listener is in place, after the thread's own subscriber
  const turnedAway = await bus().publish('job', 2);
  assert.equal(turnedAway.outcomes, [], 'neither handler was called');
  assert.is(turnedAway.failed, 0);
  const kept = await bus().publish('job', 1);
  const both = [
    { status: 'fulfilled', value: 'in the thread' },
    { status: 'fulfilled', value: 'here' },
  ];
  assert.equal(kept.outcomes, both);
  assert.equal(afters, [[], both], 'the thread\'s after middleware saw the same');
});

test('publish - a handler\'s value crosses back only for an awaited event: a post()\'s handler values are never copied', async () => {
  let copies = 0;
  /** A value whose copy runs its getter: counts structured clones of it. */
  const probe = () => ({
    get copied() {
      copies++;
      return true;
    },
  });
  const done = gate();
  let handled = 0;
  bus().subscribe('job', async () => {
    if (++handled === 2) done.open();
    return probe();
  });
  await bus().post('job', 1);
  await bus().post('job', 2);
  await done.promise;
  await bus().state();
  assert.is(copies, 0, 'posted, not awaited: the value stays here');
  const published = await bus().publish('job', 3);
  assert.ok(published.dropped === undefined);
  assert.equal(published.outcomes, [{ status: 'fulfilled', value: { copied: true } }]);
  assert.is(copies, 1, 'copied once, for the publish');
  // An unclonable value arrives as undefined, as a thread's own handler's does.
  bus().subscribe('fn', () => () => 'a function');
  const fn = await bus().publish('fn', 1);
  assert.equal(fn.outcomes, [{ status: 'fulfilled', value: undefined }]);
});

/**
 * A subscription to `x` of thread 1.1 made through the handle of a worker restarted meanwhile: its listen reached the
 * successor (`made-through-old`), its takes are refused; the scope's current handle is `successor`. Calls go to `told`.
 */
function subscribeThroughReplaced(told: string[], successor: ThreadCall): ReturnType<typeof subscribeRemote> {
  const old = ((method: string) => {
    told.push(`old ${method}`);
    return Promise.resolve(method === 'listen' ? { ok: true, value: 'made-through-old' } : { ok: false, code: 'WORKER_CRASHED', message: 'replaced' });
  }) as unknown as ThreadCall;
  return subscribeRemote(
    { processor: 1, thread: 1, side: 'external', call: old, scope: { ...DETACHED_SCOPE, current: () => successor } },
    'x',
    () => undefined,
    undefined,
  );
}

test('subscribe - a listener made through the handle of a thread restarted meanwhile (its answer came after the restart) is ended through the successor\'s handle', async () => {
  // A child processor's worker restarts: a listen sent through the old handle can reach the successor just before the
  // root learns of the restart; its next take through that handle is refused, and the subscription listens again.
  const told: string[] = [];
  let taking!: () => void;
  const listening = new Promise<void>((resolve) => (taking = resolve));
  let endTake!: () => void;
  const successor = ((method: string, id?: string) => {
    told.push(`successor ${method}${method === 'unlisten' ? ` ${id}` : ''}`);
    if (method !== 'take') return Promise.resolve(method === 'listen' ? { ok: true, value: 'made-through-successor' } : { ok: true, value: null });
    taking();
    return new Promise((resolve) => (endTake = () => resolve({ ok: false, code: 'RUNTIME_STOPPED', message: 'stopped' })));
  }) as unknown as ThreadCall;
  const subscription = subscribeThroughReplaced(told, successor);
  // Listening again through the successor's handle, and taking there.
  await listening;
  subscription.unsubscribe();
  endTake();
  assert.equal(told, ['old listen', 'old take', 'successor unlisten made-through-old', 'successor listen', 'successor take', 'successor unlisten made-through-successor']);
});

test('subscribe - unsubscribed while it waits to listen again after a refused take: the listener made through the replaced handle is ended through the successor\'s', async () => {
  const told: string[] = [];
  const successor = ((method: string, id?: string) => {
    told.push(`successor ${method}${method === 'unlisten' ? ` ${id}` : ''}`);
    return Promise.resolve({ ok: true, value: null });
  }) as unknown as ThreadCall;
  const subscription = subscribeThroughReplaced(told, successor);
  // The take through the old handle was refused: it waits (RELISTEN_MS, a timer) before it listens again. Promise
  // jobs, not turns of the loop, bring it there: a turn that a loaded machine holds up past RELISTEN_MS would let the
  // timer fire first, and the subscription listen again before it is unsubscribed.
  await promiseJobs(20);
  assert.equal(told, ['old listen', 'old take']);
  subscription.unsubscribe();
  await turns(3);
  assert.equal(told, ['old listen', 'old take', 'successor unlisten made-through-old']);
});

test.run();
