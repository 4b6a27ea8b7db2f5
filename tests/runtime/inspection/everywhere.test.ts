/**
 * Inspection from every thread and process: a root worker thread (0.1), a
 * child processor (1) with its own thread 0 and a worker thread (1.1). Their
 * actors' inspection events reach the root's `inspect` option and the
 * inspector's receivers, tagged with where they run, in order per actor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebSocketReceiver } from '@statelyai/inspect';
import { createRuntime, type InspectionEvent, type RemoteBus } from '../../../index.js';
import { runtimeCore } from '../../../internal.js';

const test = suite('inspection everywhere');

/** Collects items and resolves `until(predicate)` as soon as they satisfy it (checked on arrival; fails after 60 s). */
function collector<T>() {
  const items: T[] = [];
  const checks = new Set<() => void>();
  return {
    items,
    push(item: T) {
      items.push(item);
      for (const check of [...checks]) check();
    },
    until(predicate: (all: T[]) => boolean, what: string) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (${items.length} items)`)), 60_000);
        const check = () => {
          if (!predicate(items)) return;
          clearTimeout(timer);
          checks.delete(check);
          resolve();
        };
        checks.add(check);
        check();
      });
    },
  };
}

const postedOf = (event: InspectionEvent) => ((event as { snapshot?: { context?: { posted?: number } } }).snapshot?.context?.posted ?? -1);

test('inspect option - a function that throws stops nothing: the runtime and its worker start, post and sync, and the throw is logged once', async () => {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  let calls = 0;
  const broken = new Error('inspector bug');
  try {
    const runtime = createRuntime({
      threadsPerProcessor: 1,
      deferred: 'manual',
      inspect: () => {
        calls++;
        throw broken;
      },
    });
    try {
      await runtime.ready;
      const bus = runtime.bus('external');
      bus.post('order.placed', { id: 1 }, { priority: 'immediate' });
      await bus.toStation();
      await runtime.thread(0, 1).bus('external').post('order.placed', { id: 2 });
      assert.is(runtime.station('external').size, 1);
    } finally {
      await runtime.stop();
    }
    assert.ok(calls > 1, `called ${calls} times`);
    assert.equal(logged, [["[busline] the inspect option's function threw (logged once; inspection goes on):", broken]]);
  } finally {
    console.error = original;
  }
});

test('inspect option - actors of worker threads and child processors reach it, tagged, in order per actor', async () => {
  const seen = collector<InspectionEvent>();
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', inspect: (event) => seen.push(event) });
  try {
    await runtime.ready;
    const worker = runtime.thread(1, 1).bus('external') as RemoteBus;
    for (let i = 0; i < 20; i++) await worker.post('tick', i, { priority: 'immediate' });
    const handedTo = await worker.toStation();
    const rootWorker = runtime.thread(0, 1).bus('internal') as RemoteBus;
    await rootWorker.post('tock', 1, { priority: 'immediate' });
    await seen.until(
      (all) =>
        all.some((e) => e.actorId === 'bus:1.1:external#0' && e.type === '@xstate.snapshot' && (e.snapshot as { value: string }).value === 'retired') &&
        all.some((e) => e.actorId === 'bus:0.1:internal#0' && e.type === '@xstate.snapshot' && postedOf(e) === 1) &&
        all.some((e) => e.actorId === 'station:local:1:external' && e.type === '@xstate.event' && e.event.type === 'MERGED'),
      'the worker bus retiring, the root worker posting and the processor station merging',
    );
    assert.is(handedTo.generation, 1);
    const bus = seen.items.filter((e) => e.actorId === 'bus:1.1:external#0');
    assert.ok(bus.every((e) => e.processor === 1 && e.thread === 1));
    assert.is(bus[0]!.type, '@xstate.actor', 'announced first');
    // In order per actor: its posted count never goes back, and the retirement comes last.
    const posted = bus.filter((e) => e.type === '@xstate.snapshot').map(postedOf);
    assert.equal(posted, [...posted].sort((a, b) => a - b), posted.join(','));
    assert.is(posted.at(-1), 20);
    const snapshots = bus.filter((e): e is Extract<InspectionEvent, { snapshot: unknown }> => e.type === '@xstate.snapshot');
    assert.is((snapshots.at(-1)!.snapshot as { value: string }).value, 'retired');
    assert.is((bus.at(-1)!.actorRef.getSnapshot() as { value?: string } | undefined)?.value, undefined, 'an ended actor is forgotten');
    const station = seen.items.find((e) => e.actorId === 'station:local:1:external')!;
    assert.equal([station.processor, station.thread], [1, null]);
    assert.ok(seen.items.some((e) => e.actorId === 'bus:1.0:external#0' && e.processor === 1 && e.thread === 0), 'the processor\'s own thread');
    const live = seen.items.find((e) => e.actorId === 'bus:1.1:external#1')!;
    assert.equal((live.actorRef.getSnapshot() as { value: string }).value, 'active', 'a remote actor ref answers its last snapshot');
    // Session ids are unique across realms: each thread numbers XState's sessions from x:0.
    const sessions = new Map<string, string>();
    for (const e of seen.items.filter((e) => e.type === '@xstate.actor' && e.processor !== 0)) {
      const other = sessions.get(e.actorRef.sessionId);
      assert.ok(other === undefined || other === e.actorId, `${e.actorRef.sessionId}: ${other} and ${e.actorId}`);
      sessions.set(e.actorRef.sessionId, e.actorId);
    }
    assert.is(runtimeCore(runtime).inspection.dropped.total, 0);
  } finally {
    await runtime.stop();
  }
});

test('runtime.inspect - turned on later, announces the actors already running in workers and processors, then their events', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    const core = runtimeCore(runtime);
    assert.not.ok(core.inspection.remoteOn, 'off by default');
    const worker = runtime.thread(1, 1).bus('external') as RemoteBus;
    await worker.post('before', 1, { priority: 'immediate' });
    const url = await runtime.inspect({ port: 0 });
    const got = collector<{ type: string; busline?: { processor: number; thread: number | null; actorId: string }; snapshot?: { context: { posted: number } } }>();
    createWebSocketReceiver({ server: url.replace('http://', 'ws://') }).subscribe((m) => got.push(m as never));
    await got.until(
      (all) => all.some((m) => m.type === '@xstate.actor' && m.busline?.actorId === 'bus:1.1:external#0' && m.snapshot?.context.posted === 1),
      'the worker bus announced with what it had done before',
    );
    await worker.post('after', 2, { priority: 'immediate' });
    await got.until(
      (all) => all.some((m) => m.type === '@xstate.snapshot' && m.busline?.actorId === 'bus:1.1:external#0' && m.snapshot?.context.posted === 2),
      'its next snapshot',
    );
    for (const id of ['station:local:1:internal', 'bus:1.0:internal#0', 'bus:0.0:external#0', 'bridge']) {
      assert.ok(got.items.some((m) => m.type === '@xstate.actor' && m.busline?.actorId === id), id);
    }
  } finally {
    await runtime.stop();
  }
});

test('runtime.inspect - resolves once every thread has turned inspection on: what a worker does right after it is inspected as it happens', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    const url = await runtime.inspect({ port: 0 });
    for (const processor of [0, 1]) await (runtime.thread(processor, 1).bus('external') as RemoteBus).post('right.after', processor, { priority: 'immediate' });
    const got = collector<{ type: string; busline?: { actorId: string }; snapshot?: { context: { posted: number } } }>();
    createWebSocketReceiver({ server: url.replace('http://', 'ws://') }).subscribe((m) => got.push(m as never));
    // A snapshot message, not an announcement: the post itself was inspected, not only the state it left.
    const postSeen = (actorId: string) => (all: typeof got.items) =>
      all.some((m) => m.type === '@xstate.snapshot' && m.busline?.actorId === actorId && m.snapshot?.context.posted === 1);
    await got.until(postSeen('bus:0.1:external#0'), 'the root worker\'s post');
    await got.until(postSeen('bus:1.1:external#0'), 'the processor worker\'s post');
    const announcedAfter = got.items.findIndex((m) => m.type === '@xstate.actor' && m.busline?.actorId === 'bus:1.1:external#0' && m.snapshot?.context.posted === 1);
    assert.is(announcedAfter, -1, 'the worker was announced before its post, not after it');
  } finally {
    await runtime.stop();
  }
});

test.run();
