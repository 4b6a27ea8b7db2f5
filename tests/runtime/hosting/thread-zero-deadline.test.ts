/**
 * A call from the root to a child processor's thread 0 has the deadline a
 * call to a worker has (`callDeadlineMs`): one that never settles while that
 * thread's loop stays free (the heartbeat is answered, so the processor is not
 * hung) is given up with a `TimeoutError`, and the processor lives on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type BusEvent } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';

const NEVER_LOADS = new URL('../fixtures/never-loads.machine.ts', import.meta.url);

const test = suite('thread 0 deadline');

test('spawn on a processor\'s thread 0 - a module that never loads is given up after callDeadlineMs (TIMEOUT); the processor is not taken as hung', async () => {
  const crashes: BusEvent[] = [];
  const runtime = createRuntime({ processors: 1, deferred: 'manual', callDeadlineMs: 1_000 });
  try {
    await runtime.ready;
    runtime.bus('internal').subscribe('busline.processor.crashed', (event) => void crashes.push(event));
    const error = await runtime.spawn(NEVER_LOADS, { processor: 1, thread: 0 }).then(
      () => undefined,
      (refusal: unknown) => refusal,
    );
    assert.ok(isBusError(error, 'TIMEOUT'), `expected TIMEOUT, got ${String(error)}`);
    assert.match((error as Error).message, 'callDeadlineMs');
    assert.match((error as Error).message, 'spawn()');
    // Its thread 0 still answers, and nothing was reported as crashed.
    const bus = runtime.thread(1, 0).bus('external') as RemoteBus;
    await bus.post('still.alive', 1, { priority: 'immediate' });
    assert.equal((await bus.history({ types: ['still.alive'] })).map((event) => event.payload), [1]);
    assert.equal(crashes, []);
  } finally {
    await runtime.stop();
  }
});

test.run();
