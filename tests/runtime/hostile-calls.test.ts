/**
 * Hostile input at the public API: every refusal is a typed `BusError` that
 * says what is wrong and where to go, and nothing hostile is silently
 * accepted (the cases a new user hit; the fuzz suite covers the rest).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type BusErrorCode } from '../../index.js';
import { serveThread } from './fixtures/served-thread.js';

const BROKEN_IMPORT = new URL('./fixtures/broken-import.machine.ts', import.meta.url);

/** Runs `call` and returns the BusError it threw or rejected with (anything else fails the test). */
async function refusal(call: () => unknown, code: BusErrorCode): Promise<Error> {
  try {
    await call();
  } catch (error) {
    assert.ok(isBusError(error, code), `expected ${code}, got ${String(error)}`);
    return error as Error;
  }
  assert.unreachable(`expected ${code}, but the call was accepted`);
  throw new Error('unreachable');
}

const test = suite('hostile calls');

test('spawn - a module whose own imports fail says what failed to load, and why', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const error = await refusal(() => runtime.spawn(BROKEN_IMPORT), 'INVALID_OPTION');
    assert.match(error.message, 'broken-import.machine.ts');
    assert.match(error.message, 'no-such-module');
  } finally {
    await runtime.stop();
  }
});

test('fromStation and fromMain - a cross-side read while the bridge is locked says to unlock first', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    await runtime.bridge.lock();
    for (const read of [
      () => runtime.bus('internal').fromStation({ side: 'external' }),
      () => runtime.station('internal').fromMain({ side: 'external' }),
    ]) {
      const error = await refusal(read, 'BRIDGE_CLOSED');
      assert.match(error.message, 'bridge.unlock()');
      assert.not.match(error.message, /^.*Open it \(bridge\.open\(\)\)/);
    }
  } finally {
    await runtime.stop();
  }
});

test('toStation - a second call while the first runs is BUS_BUSY, and the first completes', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    bus.post('a', 1);
    const first = bus.toStation();
    await refusal(() => bus.toStation(), 'BUS_BUSY');
    const next = await first;
    assert.is(next.generation, 1);
    assert.is(runtime.station('external').size, 1);
    await refusal(() => bus.toStation(), 'BUS_RETIRED');
  } finally {
    await runtime.stop();
  }
});

test('history - bad queries are refused on a bus, a station and a remote bus, not answered with nothing', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    runtime.bus('external').post('user.login', 1, { priority: 'immediate' });
    const queries = [
      { types: 'user' },
      { types: [] },
      { side: 'sideways' },
      { since: 'x' },
      { until: Number.NaN },
      { origin: { processor: -1, thread: 0 } },
      { origin: 'x' },
      { filter: 'no' },
      { colour: 'red' },
      'all',
      null,
    ];
    for (const query of queries) {
      const label = JSON.stringify(query);
      await refusal(() => runtime.bus('external').history(query as never), 'INVALID_OPTION').catch((e) => assert.unreachable(`bus ${label}: ${e}`));
      await refusal(() => runtime.station('external').history(query as never), 'INVALID_OPTION').catch((e) => assert.unreachable(`station ${label}: ${e}`));
      await refusal(() => remote.handle.bus('external').history(query as never), 'INVALID_OPTION').catch((e) => assert.unreachable(`remote ${label}: ${e}`));
    }
    await refusal(() => remote.handle.bus('external').history({ types: [(() => 1) as never] }), 'INVALID_OPTION');
    assert.is(runtime.bus('external').history({ types: ['user'] }).length, 1, 'a good query still answers');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('runtime - bad sides, places and restart options are refused', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    await refusal(() => runtime.bus('x' as never), 'INVALID_OPTION');
    await refusal(() => runtime.bus('external', 'x' as never), 'INVALID_OPTION');
    await refusal(() => runtime.bus('external', { processor: 0, colour: 1 } as never), 'INVALID_OPTION');
    await refusal(() => runtime.station('up' as never), 'INVALID_OPTION');
    await refusal(() => runtime.mainStation('up' as never), 'INVALID_OPTION');
    await refusal(() => runtime.thread(0, -1), 'INVALID_OPTION');
    await refusal(() => runtime.thread(0, 0).bus('x' as never), 'INVALID_OPTION');
    await refusal(() => runtime.processor(1.5), 'INVALID_OPTION');
    await refusal(() => runtime.bus('external').get(42 as never), 'INVALID_OPTION');
    await refusal(() => runtime.station('external').queued(null as never), 'INVALID_OPTION');
  } finally {
    await runtime.stop();
  }
  for (const restart of ['often', null, { maxRestarts: -1, withinMs: 1000 }, { maxRestarts: 1 }, { maxRestarts: 1, withinMs: 0 }, { maxRestarts: 1, withinMs: 10, extra: 1 }]) {
    const error = await refusal(() => createRuntime({ restart: restart as never }), 'INVALID_OPTION');
    assert.match(error.message, 'restart');
  }
  await refusal(() => createRuntime({ workerLimits: { maxOldGenerationSizeMb: -5 } }), 'INVALID_OPTION');
});

test('post, subscribe, drain, room, use and schema - refused with a BusError, never a TypeError, and not after stop()', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const bus = runtime.bus('external');
  await refusal(() => bus.post('a', 1, null as never), 'INVALID_OPTION');
  await refusal(() => bus.post('a', 1, 'immediate' as never), 'INVALID_OPTION');
  const aborted = AbortSignal.abort();
  const error = await refusal(() => bus.room({ signal: aborted }), 'ABORTED' as BusErrorCode);
  assert.is((error as Error & { cause?: unknown }).cause, aborted.reason);
  await runtime.stop();
  await refusal(() => bus.subscribe('a', () => {}), 'RUNTIME_STOPPED');
  await refusal(() => bus.drain(), 'RUNTIME_STOPPED');
  assert.match((await refusal(() => bus.use({ before: () => undefined }), 'RUNTIME_STOPPED')).message, /^use\(\) was refused/);
  assert.match((await refusal(() => runtime.schema('a', undefined), 'RUNTIME_STOPPED')).message, /^schema\(\) was refused/);
});

test('post - a payload whose getter or proxy trap throws is refused with INVALID_EVENT (the thrown error its cause), here and on a remote bus', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  try {
    const thrown = new Error('no such field');
    const payloads = () => [
      { ok: 1, get broken(): never { throw thrown; } },
      { nested: [new Proxy({}, { ownKeys: () => { throw thrown; } })] },
      new Proxy({}, { getPrototypeOf: () => { throw thrown; } }),
    ];
    const bus = runtime.bus('external');
    const remoteBus = remote.handle.bus('external');
    for (const [where, post] of [
      ['bus', (payload: object) => bus.post('user.login', payload as never)],
      ['remote bus', (payload: object) => remoteBus.post('user.login', payload as never)],
      ['request', (payload: object) => bus.request('user.login', payload as never, { timeout: 1 })],
    ] as const) {
      for (const payload of payloads()) {
        const error = await refusal(() => post(payload), 'INVALID_EVENT');
        assert.match(error.message, /^Payload cannot be read: reading it threw Error: no such field\./, where);
        assert.is((error as Error & { cause?: unknown }).cause, thrown, where);
      }
    }
    // Nothing was posted (not even an id used up), and the buses still take plain data.
    assert.equal([bus.history().length, (await remoteBus.history()).length], [0, 0]);
    assert.is(bus.post('user.login', { ok: 1 }).id, '0.0.0');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('what has no text (a null-prototype object) thrown by a getter, a schema or a clock - still refused with its BusError, what was thrown its cause', async () => {
  const textless = Object.create(null) as object;
  const cannot = /a value that cannot be shown as text/;
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const getter = await refusal(() => bus.post('user.login', { get broken(): never { throw textless; } } as never), 'INVALID_EVENT');
    assert.match(getter.message, cannot);
    assert.is((getter as Error & { cause?: unknown }).cause, textless);
    runtime.schema('user.login', { '~standard': { version: 1, vendor: 'by-hand', validate: () => { throw textless; } } });
    const schema = await refusal(() => bus.post('user.login', {}), 'INVALID_EVENT');
    assert.match(schema.message, cannot);
    assert.is((schema as Error & { cause?: unknown }).cause, textless);
    assert.is(bus.history().length, 0);
  } finally {
    await runtime.stop();
  }
  const clock = await refusal(() => createRuntime({ clock: { now: () => { throw textless; } } }), 'INVALID_OPTION');
  assert.match(clock.message, /now\(\) threw: a value that cannot be shown as text\./);
});

test('a child processor\'s RemoteStation and RemoteBus after stop() - refused with RUNTIME_STOPPED naming the call, as local ones are', async () => {
  const runtime = createRuntime({ processors: 1, deferred: 'manual' });
  await runtime.ready;
  const station = runtime.processor(1).station('external');
  const bus = runtime.thread(1, 0).bus('external');
  await runtime.stop();
  for (const [call, run] of [
    ['toMain', () => station.toMain()],
    ['history', () => station.history()],
    ['fromStation', () => bus.fromStation()],
  ] as const) {
    const error = await refusal(run, 'RUNTIME_STOPPED');
    assert.is(error.message, `${call}() was refused: the runtime has stopped. Create a new one with createRuntime().`);
  }
});

test('spawn and send - what cannot reach another thread is refused before it crosses', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime);
  const COUNTER = new URL('../../examples/order-counter.machine.ts', import.meta.url);
  try {
    await refusal(() => runtime.spawn(COUNTER, { thread: 1, input: { limit: 2, callback: () => 1 } }), 'INVALID_OPTION');
    await refusal(() => runtime.spawn(COUNTER, { thread: 1, processor: 'x' as never }), 'INVALID_OPTION');
    const counter = await runtime.spawn(COUNTER, { thread: 1, input: { limit: 2 } });
    await refusal(() => counter.send({ type: 'reset', fn: () => 1 }), 'INVALID_OPTION');
    await refusal(() => counter.send(null as never), 'INVALID_OPTION');
    await refusal(() => counter.send({ type: '' }), 'INVALID_OPTION');
    await counter.send({ type: 'reset' });
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test.run();
