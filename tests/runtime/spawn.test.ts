/**
 * Users' own machines in the runtime: `runtime.spawn(module, { processor, thread })`
 * in this thread, in a worker of the root and in a worker of a child processor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type BusEvent, type Runtime } from '../../index.js';
import type { RemoteBus } from '../../runtime/remote-bus.js';

const COUNTER = new URL('../../examples/order-counter.machine.ts', import.meta.url);
const NOT_A_MACHINE = new URL('./fixtures/not-a-machine.ts', import.meta.url);

const test = suite('spawn');

test('spawn - in this thread: bus events drive the machine, what it emits is posted', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const emitted: BusEvent[] = [];
    runtime.bus('external').subscribe('orders.limit', (event) => void emitted.push(event));
    const counter = await runtime.spawn(COUNTER, { input: { limit: 2 }, id: 'counter' });
    assert.is(counter.id, 'counter');
    runtime.bus('external').post('order.created', { id: 1 }, { priority: 'immediate' });
    assert.is((await counter.info()).state, 'counting');
    runtime.bus('external').post('order.created', { id: 2 }, { priority: 'immediate' });
    assert.is((await counter.info()).state, 'full');
    assert.equal(emitted.map((e) => e.payload), [{ orders: 2 }]);
    assert.equal(emitted[0]!.origin, { processor: 0, thread: 0, generation: 0 });
    await counter.send({ type: 'reset' });
    assert.is((await counter.info()).state, 'counting');
    const listed = (await runtime.actors()).filter((actor) => actor.kind === 'user');
    assert.equal(listed.map((a) => [a.id, a.processor, a.thread, a.state]), [['counter', 0, 0, 'counting']]);
    await counter.stop();
    assert.equal((await runtime.actors()).filter((actor) => actor.kind === 'user'), []);
  } finally {
    await runtime.stop();
  }
});

test('spawn - bad modules and options are refused with INVALID_OPTION', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    for (const [module, options] of [
      [NOT_A_MACHINE, {}],
      [COUNTER, { colour: 'red' }],
      [COUNTER, { types: [] }],
    ] as const) {
      try {
        await runtime.spawn(module, options as never);
        assert.unreachable(String(module));
      } catch (error) {
        assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      }
    }
    await runtime.spawn(COUNTER, { id: 'twice' });
    try {
      await runtime.spawn(COUNTER, { id: 'twice' });
      assert.unreachable();
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  } finally {
    await runtime.stop();
  }
});

test('spawn - in workers of the root and of a child processor; actors() sees them all', async () => {
  const runtime: Runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    for (const [processor, thread] of [[0, 1], [1, 1]] as const) {
      const counter = await runtime.spawn(COUNTER, { processor, thread, input: { limit: 2 } });
      const bus = runtime.thread(processor, thread).bus('external') as RemoteBus;
      await bus.post('order.created', { id: 1 }, { priority: 'immediate' });
      await bus.post('order.created', { id: 2 }, { priority: 'immediate' });
      const info = await counter.info();
      assert.equal([info.processor, info.thread, info.state], [processor, thread, 'full']);
      const limit = (await bus.history()).filter((event) => event.type === 'orders.limit');
      assert.equal(limit.map((event) => [event.payload, event.origin.processor, event.origin.thread]), [[{ orders: 2 }, processor, thread]]);
    }
    const actors = await runtime.actors();
    assert.equal(
      actors.filter((a) => a.kind === 'user').map((a) => [a.processor, a.thread, a.state]),
      [[0, 1, 'full'], [1, 1, 'full']],
    );
    // Every bus, station and the bridge is listed with where it runs.
    assert.ok(actors.some((a) => a.id === 'station:local:1:external' && a.processor === 1));
    assert.ok(actors.some((a) => a.id === 'bus:1.1:internal#0' && a.state === 'active'));
    assert.ok(actors.some((a) => a.id === 'bus:0.1:external#0'));
    assert.is(actors.filter((a) => a.kind === 'bridge').length, 1);
  } finally {
    await runtime.stop();
  }
});

test.run();
