/**
 * A thread reached only through its control API and a frame channel, as a
 * worker is — here over a MessageChannel in this thread, so the semantics are
 * tested apart from worker hosting.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BridgeClosedError, BusFullError, BusRetiredError, createRuntime, type BusEvent } from '../../../index.js';
import { eventsFromFrame, eventsToFrame } from '../../../runtime/thread/thread-service.js';
import { MAX_PAYLOAD_BYTES } from '../../../runtime/payload/payload-copy.js';
import { serveThread } from '../fixtures/served-thread.js';
import { turns } from '../fixtures/turns.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { ids, rejects, watchMerges } from '../../helpers.js';

/** Histories that keep every event, whatever it weighs. */
const NO_BUDGET = { budget: false } as const;

const test = suite('remote thread over a frame channel');

test('toStation/fromStation - a remote thread\'s events reach a local thread only through the station', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const bus = remote.handle.bus('external');
  const event = await bus.post('work.done', { n: 1 });
  assert.equal(event.origin, { processor: 0, thread: 1, generation: 0 });
  const local = runtime.bus('external');
  await local.fromStation();
  assert.equal(local.history(), []);
  const next = await bus.toStation();
  assert.is(next.generation, 1);
  assert.is(remote.handle.bus('external').generation, 1, 'the handle follows the thread\'s current bus');
  const { added } = await local.fromStation();
  assert.equal(ids(added), [event.id]);
  assert.equal(added[0], event);
  await remote.stop();
  await runtime.stop();
});

test('sync - a remote bus shares and merges back without retiring; options are checked before they cross', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const bus = remote.handle.bus('external') as RemoteBus;
    const mine = await bus.post('work.done', { n: 1 });
    const local = runtime.bus('external');
    const theirs = local.post('work.asked', { n: 2 });
    await local.toStation();
    const { added } = await bus.sync();
    assert.equal(ids(added), [theirs.id], 'what another thread sent comes back; its own event does not');
    assert.equal(ids(runtime.station('external').history()).sort(), [theirs.id, mine.id].sort(), 'and its own reached the station');
    assert.is(bus.generation, 0);
    assert.equal((await bus.state()).generation, 0, 'the bus did not retire');
    await rejects(bus.sync({ types: 'work' } as never), 'INVALID_OPTION');
    await rejects(bus.sync({ side: 'internal' } as never), 'INVALID_OPTION');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('room - a remote producer can give its wait up with a signal; options are checked before they cross', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime, { sync: { everyMs: 3_600_000, maxInFlight: 1 } });
  try {
    const unfinished: Array<() => void> = [];
    remote.thread.bus('external').subscribe('job', () => new Promise<void>((resolve) => unfinished.push(resolve)));
    const bus = remote.handle.bus('external') as RemoteBus;
    await bus.post('job', 0, { priority: 'immediate' }); // its one credit taken
    const controller = new AbortController();
    const waiting = bus.room({ signal: controller.signal }).then(() => 'room', (error: unknown) => String(error));
    controller.abort(new Error('enough waiting'));
    assert.match(await Promise.race([waiting, turns(20)]), 'enough waiting');
    await rejects(bus.room({ signal: 'soon' } as never), 'INVALID_OPTION');
    await rejects(bus.room({ wait: 5 } as never), 'INVALID_OPTION');
    for (const resolve of unfinished.splice(0)) resolve();
    await bus.room();
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('fromStation - a remote thread gets the station history and its own parked queue back', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const localEvent = runtime.bus('external').post('local', 1);
  await runtime.bus('external').toStation();
  let bus: RemoteBus = remote.handle.bus('external');
  const parked = await bus.post('job', 2, { priority: 'deferred' });
  bus = await bus.roundTrip();
  assert.equal(ids(await bus.history()), [localEvent.id]);
  assert.equal(ids(await bus.queue()), [parked.id]);
  assert.is(await bus.drain(), 1);
  assert.equal(new Set(ids(await bus.history())), new Set([localEvent.id, parked.id]));
  await remote.stop();
  await runtime.stop();
});

test('errors - codes and classes survive the thread boundary; a retired remote bus is refused', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const bus = remote.handle.bus('internal');
  await rejects(bus.fromStation({ side: 'external' }), 'BRIDGE_CLOSED');
  const closed = await bus.fromStation({ side: 'external' }).then(() => undefined, (error: unknown) => error);
  assert.ok(closed instanceof BridgeClosedError, `a BridgeClosedError from the thread, got ${String(closed)}`);
  await rejects(bus.post('', 1), 'INVALID_EVENT');
  await rejects(bus.post('f', (() => 1) as never), 'INVALID_EVENT');
  await bus.toStation();
  await rejects(bus.post('late', 1), 'BUS_RETIRED');
  const retired = await bus.drain().then(() => undefined, (error: unknown) => error);
  assert.ok(retired instanceof BusRetiredError, `a BusRetiredError from the thread, got ${String(retired)}`);
  await rejects(bus.fromStation({ types: [] }), 'INVALID_OPTION');
  await remote.stop();
  await runtime.stop();
});

test('holdStationReplies - a held reply keeps a handover under way, so a call meets it busy; released, it ends', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const bus = remote.handle.bus('external') as RemoteBus;
    const event = await bus.post('work.done', 1);
    assert.equal(await remote.api.holdStationReplies(true), { ok: true, value: null });
    const handing = bus.toStation();
    handing.catch(() => undefined);
    // The station has merged the batch and replied; the reply waits in the thread.
    while (runtime.station('external').size === 0) await turns(1);
    assert.is(await Promise.race([handing.then(() => 'ended'), turns(10)]), 'still waiting');
    assert.is((await bus.state()).generation, 1, 'the thread has the successor already');
    await rejects(bus.fromStation(), 'BUS_RETIRED');
    assert.equal(await remote.api.holdStationReplies(false), { ok: true, value: null });
    assert.is((await handing).generation, 1);
    assert.equal(ids(runtime.station('external').history()), [event.id]);
    const refused = await remote.api.holdStationReplies('yes' as never);
    assert.is(refused.ok ? undefined : refused.code, 'INVALID_OPTION');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('post - posts of one tick cross together as one frame of drafts, in order, each settled on its own', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const bus = remote.handle.bus('external');
  const posts = Array.from({ length: 5 }, (_, i) => bus.post('order.placed', { i, note: 'ünïcode' }, { topic: `t${i}` }));
  const refused = bus.post('order.placed', 1, { priority: 'urgent' as never });
  const events = await Promise.all(posts);
  await rejects(refused, 'INVALID_OPTION');
  const postCalls = remote.calls.filter((c) => c.method === 'post');
  assert.is(postCalls.length, 1, 'one control call for the tick');
  const frames = postCalls[0]!.args[2] as unknown[];
  assert.ok(frames.length > 0 && frames.every((frame) => frame instanceof Uint8Array), 'the payloads crossed as frames');
  assert.equal(events.map((e) => (e.payload as { i: number }).i), [0, 1, 2, 3, 4]);
  assert.equal(events.map((e) => e.topic), ['t0', 't1', 't2', 't3', 't4']);
  assert.equal(ids(await bus.history()), ids(events), 'the thread gave them ids, in post order');
  assert.ok(events.every((e, i) => i === 0 || e.timestamp > events[i - 1]!.timestamp));
  await remote.stop();
  await runtime.stop();
});

test('post - a call made after a post reaches the thread after it, whichever handle makes it', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const posted = remote.handle.bus('external').post('before.handover', 1);
  const next = await runtime.thread(0, 1).bus('external').toStation();
  assert.equal((await posted).type, 'before.handover');
  assert.equal(ids(runtime.station('external').history()), [(await posted).id], 'the handover carried the post');
  const later = next.post('before.history', 2);
  assert.equal(ids(await next.history()), [(await later).id]);
  await remote.stop();
  await runtime.stop();
});

test('post - the payload is taken when post() is called; frames are cut by size, so big posts of one tick all pass', async () => {
  // 70 MB kept: more than the default memory budgets, which would evict some (tests/runtime/store/memory-budget.test.ts).
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual', memory: NO_BUDGET });
  const remote = serveThread(runtime, { memory: NO_BUDGET });
  const bus = remote.handle.bus('external');
  const payload = { n: 1 };
  const first = bus.post('mutable', payload);
  payload.n = 2;
  const second = bus.post('mutable', payload);
  assert.equal([(await first).payload, (await second).payload], [{ n: 1 }, { n: 2 }]);
  // Five posts of 14 MB in one tick: 70 MB, more than one frame may hold (64 MiB).
  const big = await Promise.all(Array.from({ length: 5 }, (_, i) => bus.post('big', new Uint8Array(14 * 1024 * 1024).fill(i))));
  assert.equal(big.map((event) => (event.payload as Uint8Array)[100]), [0, 1, 2, 3, 4]);
  assert.is((await bus.history({ types: ['big'] })).length, 5);
  await remote.stop();
  await runtime.stop();
});

test('post - a remote post reads each getter of its payload once, as Bus.post does, and sends what it read', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const prototype = Object.prototype as Record<string, unknown>;
  try {
    let reads = 0;
    // A getter that gives Object.prototype an enumerable key for a while: the objects read meanwhile own none.
    const payload = {
      get a(): object {
        reads++;
        prototype['lent'] = 1;
        return { b: 1 };
      },
      get c(): number {
        delete prototype['lent'];
        return 2;
      },
    };
    const event = await remote.handle.bus('external').post('lent', payload);
    delete prototype['lent'];
    assert.is(JSON.stringify(event.payload), '{"a":{"b":1},"c":2}');
    assert.is(reads, 1);
  } finally {
    delete prototype['lent'];
    await remote.stop();
    await runtime.stop();
  }
});

test('room - a remote producer refused with BUS_FULL waits for room, then goes on; nothing accepted is lost', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime, { sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 2 } });
  const bus = remote.handle.bus('external');
  try {
    const results = await Promise.allSettled([1, 2, 3].map((n) => bus.post('produced', n)));
    assert.equal(results.map((result) => result.status), ['fulfilled', 'fulfilled', 'rejected']);
    const refusal = (results[2] as PromiseRejectedResult).reason;
    assert.ok(refusal instanceof BusFullError && refusal.bound === 'unsent', `a BusFullError of the unsent bound, got ${String(refusal)}`);
    await bus.room();
    const accepted = results.slice(0, 2).map((result) => (result as PromiseFulfilledResult<BusEvent>).value.id);
    assert.equal(ids(runtime.station('external').history()), accepted, 'the thread synced what it had accepted');
    assert.equal((await bus.post('produced', 3)).payload, 3, 'room again');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('post - a draft the thread refuses fails alone; the others are posted', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const draft = (type: string, payload: BusEvent['payload'] = 1): BusEvent => ({
      id: 'draft', type, side: 'external', timestamp: 0, origin: { processor: 0, thread: 1, generation: 0 }, priority: 'normal', payload,
    });
    // Drafts made elsewhere than RemoteBus.post (which checks first): the thread checks each again.
    // (Frames hold events to post()'s rules, except payload size: a frame carries up to 64 MiB, post() takes 16 MiB.)
    const tooLarge = new Uint8Array(MAX_PAYLOAD_BYTES + 1);
    const frames = eventsToFrame([draft('ok.one'), draft('ok.large', tooLarge), draft('ok.two')], { processor: 0, thread: 1, generation: 0, side: 'external' });
    const result = await remote.api.post('external', 0, frames);
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.equal(eventsFromFrame(result.value.events).map((e) => e.type), ['ok.one', 'ok.two']);
    assert.equal(result.value.refused.map((r) => [r.index, r.code]), [[1, 'EVENT_TOO_LARGE']]);
    const retired = await remote.api.post('external', 7, frames);
    assert.equal(retired.ok ? 'ok' : retired.code, 'BUS_RETIRED', 'a stale generation refuses the whole call');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('bridge - its state and clearing reach the remote thread before the call resolves', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  runtime.bus('external').post('app.click', 1);
  await runtime.bus('external').toStation();
  await runtime.bridge.open();
  const internal = remote.handle.bus('internal');
  const { added } = await internal.fromStation({ side: 'external' });
  assert.is(added.length, 1);
  await runtime.bridge.close({ clearOtherSide: true });
  assert.equal(await internal.history(), [], 'external events left the remote internal bus');
  await rejects(internal.fromStation({ side: 'external' }), 'BRIDGE_CLOSED');
  await runtime.bridge.onlyToExternal();
  assert.is((await internal.fromStation({ side: 'external' })).added.length, 1);
  await remote.stop();
  await runtime.stop();
});

test('fromStation - results larger than one frame come back whole and in order', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime);
  const local = runtime.bus('external');
  for (let i = 0; i < 10_000; i++) local.post('bulk.item', { i });
  await local.toStation();
  const bus = remote.handle.bus('external');
  const { added } = await bus.fromStation();
  assert.is(added.length, 10_000);
  assert.equal(added.map((e) => (e.payload as { i: number }).i), Array.from({ length: 10_000 }, (_, i) => i));
  assert.is((await bus.history()).length, 10_000);
  await remote.stop();
  await runtime.stop();
});

test('toStation and sync - posts of 15 MB each, more than a frame together, and the small ones behind them all reach the station and come back', async () => {
  // 150 MB kept: more than the default memory budgets, which would evict some.
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual', memory: NO_BUDGET });
  const remote = serveThread(runtime, { memory: NO_BUDGET });
  try {
    const bus = remote.handle.bus('external') as RemoteBus;
    const big = (i: number) => new Uint8Array(15 * 1024 * 1024).fill(i);
    for (let i = 0; i < 5; i++) await bus.post('big.handed', big(i));
    const small = await bus.post('small.handed', 1);
    const next = await bus.toStation();
    const station = runtime.station('external');
    assert.equal(station.history().map((event) => (event.payload as Uint8Array)[7] ?? event.payload), [0, 1, 2, 3, 4, 1]);
    for (let i = 5; i < 10; i++) await next.post('big.synced', big(i));
    const behind = await next.post('small.synced', 2);
    await next.sync();
    assert.is((await next.state()).unsent, 0);
    assert.equal(ids(station.history({ types: ['small'] })), [small.id, behind.id]);
    assert.is(station.history({ types: ['big'] }).length, 10);
    // And back: a read of all of it crosses as several frames.
    const reader = (await next.toStation()) as RemoteBus;
    const read = await reader.fromStation();
    assert.equal(read.added.map((event) => event.type), [...Array(5).fill('big.handed'), 'small.handed', ...Array(5).fill('big.synced'), 'small.synced']);
    assert.equal((read.added[10]!.payload as Uint8Array)[7], 9);
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('toStation - a batch of more than one frame merges at once: no reader of the station sees part of it', async () => {
  // Every change of the station, as a reader at that moment sees it.
  const { runtime, seen } = watchMerges('station:local:0:external', (watched) => watched.station('external').history({ types: ['many'] }).length);
  const remote = serveThread(runtime);
  try {
    const bus = remote.handle.bus('external') as RemoteBus;
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => bus.post('many', i)));
    await bus.toStation();
    assert.equal(seen, [10_000]);
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test.run();
