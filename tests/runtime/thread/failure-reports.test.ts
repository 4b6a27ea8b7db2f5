/**
 * Failures reported by other threads (`runtime/thread/failure-reports.ts`):
 * what the root's `onError` gets, and that nothing in a report can throw out
 * of the message listener that takes it (the host must not die of a report).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidEventError, createRuntime, isBusError, type BusEvent } from '../../../index.js';
import { runtimeCore } from '../../../internal.js';
import { deliverFailure, failureReport, fromFailureReport, postCrashReport, takeFailure, type FailureReport } from '../../../runtime/thread/failure-reports.js';

const test = suite('failure reports');

const EVENT = { id: 'e-1', type: 'order.created', side: 'external', timestamp: 5, origin: { processor: 1, thread: 2, generation: 0 }, priority: 'normal', payload: { n: 1 } } as unknown as BusEvent;

/** Runs `fn` with console.error captured. */
function logged(fn: () => void): unknown[][] {
  const lines: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args);
  try {
    fn();
  } finally {
    console.error = original;
  }
  return lines;
}

test('fromFailureReport - a BusError keeps its class and code, a TypeError its class; both say where they failed', () => {
  const [bus, event] = fromFailureReport(failureReport(1, 2, new InvalidEventError('bad payload'), EVENT));
  assert.ok(bus instanceof InvalidEventError && isBusError(bus, 'INVALID_EVENT'), String(bus));
  assert.equal([bus.processor, bus.thread], [1, 2]);
  assert.equal(event.payload, { n: 1 });
  const [type] = fromFailureReport(failureReport(1, 2, new TypeError('x is not a function'), EVENT));
  assert.ok(type instanceof TypeError);
  assert.is(type.message, 'x is not a function');
});

test('fromFailureReport - errors named after Object.prototype members are rebuilt as Errors of that name, cause included', () => {
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
    const thrown = Object.assign(new Error('odd'), { name });
    const wrapped = new Error('middleware failed', { cause: thrown });
    const [error] = fromFailureReport(failureReport(0, 1, thrown, EVENT));
    assert.ok(error instanceof Error, name);
    assert.is(error.name, name);
    const [outer] = fromFailureReport(failureReport(0, 1, wrapped, EVENT));
    assert.ok(outer.cause instanceof Error, name);
    assert.is((outer.cause as Error).name, name);
  }
});

test('deliverFailure - an onError that throws, or a report that cannot be rebuilt, is logged, never thrown', () => {
  const report = failureReport(0, 1, new Error('boom'), EVENT);
  let lines = logged(() => deliverFailure(() => { throw new Error('onError failed'); }, report));
  assert.is(lines.length, 1);
  // A report checked only for its shape (isFailureReport) whose error cannot be rebuilt.
  const broken = { ...report, error: { name: 'Error', message: 'x', wire: null } } as unknown as FailureReport;
  let called = 0;
  lines = logged(() => deliverFailure(() => void called++, broken));
  assert.is(called, 0);
  assert.is(lines.length, 1);
});

test('takeFailure - what is no report is logged and dropped; a throwing taker is logged', () => {
  let taken = 0;
  for (const message of [null, 1, 'x', {}, { busline: 'failure' }, { busline: 'failure', processor: 0, thread: 1, error: { message: 3 }, event: {} }]) {
    const lines = logged(() => takeFailure(message, () => void taken++));
    assert.is(lines.length, 1, JSON.stringify(message));
  }
  assert.is(taken, 0);
  const report = failureReport(0, 1, new Error('boom'), EVENT);
  const lines = logged(() => takeFailure(report, () => { throw new Error('taker failed'); }));
  assert.is(lines.length, 1);
  logged(() => takeFailure(report, () => void taken++));
  assert.is(taken, 1);
});

test('RuntimeCore.reportFailure - a report that arrives while stop() runs reaches onError; one that arrives after it resolved does not', async () => {
  const heard: string[] = [];
  const runtime = createRuntime({ onError: (error) => void heard.push((error as Error).message) });
  const core = runtimeCore(runtime);
  core.reportFailure(failureReport(0, 1, new Error('running'), EVENT));
  const stopped = runtime.stop();
  // A service's onStop() may post to a throwing subscriber in a worker: that still reaches onError.
  core.reportFailure(failureReport(0, 1, new Error('stopping'), EVENT));
  await stopped;
  // Late: still queued on a worker's report port or a child's IPC when stop() resolved.
  const lines = logged(() => core.reportFailure(failureReport(0, 1, new Error('after stop'), EVENT)));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(heard, ['running', 'stopping']);
  assert.equal(lines, [], 'dropped quietly');
});

test('postCrashReport - logged when nothing hears it; not when a handler still runs as the runtime stops (it was heard)', async () => {
  const runtime = createRuntime();
  const lines: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args);
  try {
    const report = { processor: 0, thread: 1, reason: 'exit', message: 'it exited with code 7', restarted: true };
    postCrashReport(runtime.bus('internal'), 'busline.thread.crashed', report);
    await new Promise((resolve) => setImmediate(resolve));
    assert.is(lines.length, 1, 'unheard: logged');
    lines.length = 0;
    // A handler that takes its time (it spawns actors again, say): the report was heard, whatever it is doing when stop() comes.
    let handled!: () => void;
    const handling = new Promise<void>((resolve) => (handled = resolve));
    runtime.bus('internal').subscribe('busline.thread.crashed', () => handling);
    postCrashReport(runtime.bus('internal'), 'busline.thread.crashed', report);
    await runtime.stop();
    handled();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines, [], 'heard: nothing logged');
  } finally {
    console.error = original;
    await runtime.stop();
  }
});

test.run();
