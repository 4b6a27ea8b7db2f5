/**
 * Options are read once at the public API: an options object whose getters
 * answer differently when read again (a valid value first, then something
 * else) is checked and used as it answered first, never refused with a raw
 * TypeError, and never checked as one thing and used as another.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent } from '../../index.js';
import { serveThread } from './fixtures/served-thread.js';

const test = suite('option reads');

const COUNTER = new URL('../../examples/order-counter.machine.ts', import.meta.url);

/**
 * An options object whose every field is a getter: its first read answers
 * `first[key]`, every later one `later[key]`. `reads` counts the reads by key.
 */
function twoFaced<T extends object>(first: T, later: { readonly [K in keyof T]?: unknown }): { options: T; reads: Record<string, number> } {
  const reads: Record<string, number> = {};
  const options = {} as T;
  for (const key of Object.keys(first)) {
    reads[key] = 0;
    Object.defineProperty(options, key, {
      enumerable: true,
      get: () => (reads[key]!++ === 0 ? (first as Record<string, unknown>)[key] : (later as Record<string, unknown>)[key]),
    });
  }
  return { options, reads };
}

/** Every field was read at most once. */
function readOnce(reads: Record<string, number>): void {
  for (const [key, count] of Object.entries(reads)) assert.ok(count <= 1, `options.${key} was read ${count} times`);
}

test('subscribe - each option is read once, and the subscription keeps what was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const { options, reads } = twoFaced(
      { topics: ['a'], filter: (event: BusEvent) => event.payload !== 0, onError: () => undefined, signal: new AbortController().signal },
      { topics: 5, filter: 'no filter', onError: 7, signal: {} },
    );
    const got: unknown[] = [];
    bus.subscribe('t', (event) => void got.push(event.payload), options);
    readOnce(reads);
    bus.post('t', 0, { topic: 'a', priority: 'immediate' });
    bus.post('t', 1, { topic: 'a', priority: 'immediate' });
    bus.post('t', 2, { topic: 'b', priority: 'immediate' });
    assert.equal(got, [1]);
  } finally {
    await runtime.stop();
  }
});

test('subscribe - a list of types (and of topics) is copied before it is checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    let typeReads = 0;
    const types = ['x'];
    Object.defineProperty(types, 0, { enumerable: true, get: () => (typeReads++ === 0 ? 't' : 5) });
    const got: unknown[] = [];
    const subscription = bus.subscribe(types as never, (event) => void got.push(event.payload));
    assert.equal(subscription.types, ['t']);
    assert.is(typeReads, 1);
    bus.post('t', 1, { priority: 'immediate' });
    assert.equal(got, [1]);
  } finally {
    await runtime.stop();
  }
});

test('RemoteBus.subscribe - each option is read once, and the subscription keeps what was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const bus = remote.handle.bus('external');
    const { options, reads } = twoFaced(
      { topics: ['a'], filter: (event: BusEvent) => event.payload !== 0, onError: () => undefined, signal: new AbortController().signal },
      { topics: 5, filter: 'no filter', onError: 7, signal: {} },
    );
    const got: unknown[] = [];
    bus.subscribe('t', (event) => void got.push(event.payload), options);
    readOnce(reads);
    const seen = remote.thread.bus('external').waitFor('t', { filter: (event) => event.payload === 2 });
    await bus.post('t', 0, { topic: 'a' });
    await bus.post('t', 1, { topic: 'a' });
    await bus.post('t', 2, { topic: 'b' });
    await seen;
    await bus.publish('t', 3, { topic: 'a' });
    assert.equal(got, [1, 3]);
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('post - each option (and each meta entry) is read once; the event carries what was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const meta = twoFaced({ k: 'v' }, { k: 7 });
    const { options, reads } = twoFaced(
      { priority: 'immediate' as const, topic: 't', meta: meta.options, local: false },
      { priority: 'bogus', topic: 5, meta: 7, local: true },
    );
    const event = bus.post('e', 1, options);
    readOnce(reads);
    readOnce(meta.reads);
    assert.is(event.priority, 'immediate');
    assert.is(event.topic, 't');
    assert.equal(event.meta, { k: 'v' });
    // Not local: it waits for the station among the unsent events.
    const next = await bus.toStation();
    assert.equal(runtime.station('external').history().map((e) => e.id), [event.id]);
    assert.is(next.generation, 1);
    // The fast path (priority and local only) reads each once too.
    const fast = twoFaced({ priority: 'normal' as const, local: true }, { priority: 'deferred', local: false });
    const local = next.post('e', 2, fast.options);
    readOnce(fast.reads);
    assert.is(local.priority, 'normal');
    await next.toStation();
    assert.equal(runtime.station('external').history().map((e) => e.payload), [1]);
  } finally {
    await runtime.stop();
  }
});

test('RemoteBus.post - each option is read once; the event carries what was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const bus = remote.handle.bus('external');
    const { options, reads } = twoFaced(
      { priority: 'immediate' as const, topic: 't', meta: { k: 'v' }, local: true },
      { priority: 'deferred', topic: 5, meta: 7, local: false },
    );
    const event = await bus.post('e', 1, options);
    readOnce(reads);
    assert.is(event.priority, 'immediate');
    assert.is(event.topic, 't');
    assert.equal(event.meta, { k: 'v' });
    await bus.toStation();
    // Local: it never reached the station.
    assert.equal(runtime.station('external').history(), []);
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('request - each option is read once', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    bus.reply('ask', (request) => (request.payload as number) + 1);
    const { options, reads } = twoFaced({ local: true, timeout: 1_000, signal: new AbortController().signal }, { local: 'yes', timeout: -1, signal: {} });
    assert.is(await bus.request('ask', 1, options), 2);
    readOnce(reads);
  } finally {
    await runtime.stop();
  }
});

test('waitFor - each option is read once; the wait keeps the filter that was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const { options, reads } = twoFaced({ filter: (event: BusEvent) => event.payload === 2, timeout: 1_000 }, { filter: 'x', timeout: -1 });
    const waited = bus.waitFor('t', options);
    readOnce(reads);
    bus.post('t', 1, { priority: 'immediate' });
    bus.post('t', 2, { priority: 'immediate' });
    assert.is((await waited).payload, 2);
  } finally {
    await runtime.stop();
  }
});

test('history - each query field is read once; the answer is to the query that was checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    bus.post('a', 1, { priority: 'immediate' });
    bus.post('b', 2, { priority: 'immediate' });
    const origin = twoFaced({ processor: 0, thread: 0 }, { processor: 'x', thread: 9 });
    const { options, reads } = twoFaced({ types: ['a'], origin: origin.options, since: 0 }, { types: ['b'], origin: 5, since: 'now' });
    assert.equal(bus.history(options).map((event) => event.payload), [1]);
    readOnce(reads);
    readOnce(origin.reads);
    await bus.toStation();
    const again = twoFaced({ types: ['a'] }, { types: ['b'] });
    assert.equal(runtime.station('external').history(again.options).map((event) => event.payload), [1]);
    readOnce(again.reads);
  } finally {
    await runtime.stop();
  }
});

test('spawn - each option is read once; the actor is spawned as checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const { options, reads } = twoFaced(
      { id: 'counter', side: 'external' as const, types: ['order.created'], processor: 0, thread: 0, input: { limit: 2 } },
      { id: 7, side: 'sideways', types: 5, processor: -1, thread: 'x', input: undefined },
    );
    const counter = await runtime.spawn(COUNTER, options);
    readOnce(reads);
    assert.is(counter.id, 'counter');
    assert.is((await counter.info()).side, 'external');
  } finally {
    await runtime.stop();
  }
});

test('createRuntime - each option is read once; the runtime runs as checked', async () => {
  const { options, reads } = twoFaced(
    { deferred: 'manual' as const, onError: () => undefined, maxQueued: 10, callDeadlineMs: 1_000, schemas: {}, middleware: [] },
    { deferred: 'sometimes', onError: 5, maxQueued: -1, callDeadlineMs: -1, schemas: 5, middleware: 5 },
  );
  const runtime = createRuntime(options);
  try {
    readOnce(reads);
    assert.is(runtime.deferred, 'manual');
    assert.is(runtime.maxQueued, 10);
  } finally {
    await runtime.stop();
  }
});

test('sync, fromStation and roundTrip (Bus, RemoteBus, Station) - each read option, and each type, is read once; the read is of the types checked', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const writer = runtime.addThread().bus('external');
    writer.post('a', 1);
    writer.post('b', 2);
    await writer.toStation();
    const reads: Array<Record<string, number>> = [];
    const options = () => {
      const made = twoFaced({ types: ['a'] as readonly string[] }, { types: ['b'] });
      reads.push(made.reads);
      return made.options;
    };
    const added = (result: { added: readonly BusEvent[] }) => result.added.map((event) => event.type);
    assert.equal(added(await runtime.bus('external').fromStation(options())), ['a']);
    assert.equal(added(await runtime.bus('external').sync(options())), []);
    await runtime.bus('external').roundTrip(options());
    const far = remote.handle.bus('external');
    assert.equal(added(await far.fromStation(options())), ['a']);
    await far.sync(options());
    await (await far.roundTrip(options())).drain();
    await runtime.station('external').roundTrip(options());
    await runtime.station('external').fromMain(options());
    assert.equal(runtime.bus('external').history().map((event) => event.type), ['a']);
    assert.equal((await remote.handle.bus('external').history()).map((event) => event.type), ['a']);
    for (const counted of reads) readOnce(counted);
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test.run();
