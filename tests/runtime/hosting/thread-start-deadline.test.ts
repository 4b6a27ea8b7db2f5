/**
 * `threadStartDeadlineMs`: a worker thread of the runtime whose start never
 * ends (a module that never finishes loading) fails `runtime.ready` at that
 * deadline, in this process and in a child processor, instead of holding it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError } from '../../../index.js';
import { processorPids } from '../../helpers.js';

const test = suite('thread start deadline');

test('threadStartDeadlineMs - a worker of the runtime whose start hangs: ready rejects (WORKER_CRASHED, naming threadStartDeadlineMs), the runtime is stopped', async () => {
  const module = new URL('../fixtures/hangs-in-worker.middleware.ts', import.meta.url);
  const runtime = createRuntime({ threadsPerProcessor: 1, middleware: [{ module }], threadStartDeadlineMs: 1_000 });
  const error = await runtime.ready.then(() => undefined, (failure: unknown) => failure);
  assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
  // It names the option its user set and can raise: createRuntime's, not startWorker's startDeadlineMs.
  assert.match(String(error), /"processor 0 thread 1" failed to start: it did not call serveWorker\(\) within 1000 ms \(threadStartDeadlineMs: raise it if its start is only slow\)/);
  assert.not.match(String(error), /\bstartDeadlineMs/);
  assert.is(runtime.running, false, 'a runtime that could not start is stopped');
});

test('threadStartDeadlineMs - reaches a child processor: its hung worker fails the processor start at that deadline, long before processorStartDeadlineMs', async () => {
  const module = new URL('../fixtures/hangs-in-worker.middleware.ts', import.meta.url);
  process.env.HANG_OUTSIDE_PID = String(process.pid);
  // The root's own worker must start within it (seconds on a loaded machine); the child's never does.
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, middleware: [{ module }], threadStartDeadlineMs: 30_000 });
  try {
    const error = await runtime.ready.then(() => undefined, (failure: unknown) => failure);
    assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
    assert.match(String(error), /"processor 1 thread 1" failed to start: it did not call serveWorker\(\) within 30000 ms \(threadStartDeadlineMs: /);
    assert.is(runtime.running, false);
    assert.equal(processorPids(), [], 'the processor that could not start is gone');
  } finally {
    delete process.env.HANG_OUTSIDE_PID;
    await runtime.stop();
  }
});

test.run();
