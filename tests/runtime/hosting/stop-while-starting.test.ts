/**
 * `runtime.stop()` while part of the runtime still starts: a worker thread of
 * the root loading its modules, the successor of a crashed worker being
 * restarted, everything right after `createRuntime`, or the root's own import
 * of a middleware module that never settles. `stop()` gives such
 * starts up (their workers are terminated, their processors killed) and
 * resolves once they are gone; the application's process then ends by itself.
 * Each case runs as a process of its own (`stop-while-starting-app.ts`), whose
 * held loads go on only after `stop()` resolved. The last six run in this
 * process: many threads on one stop signal, one worker's start failing by
 * itself while another's is still under way, the order of a stop
 * (starts and restarts given up before services stop), and a child
 * processor's or worker's restart that ends just as the stop comes
 * (`RemoteProcessor.start` or `attachThread` wrapped: the stop is called
 * between that start's end and whoever waits for it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as delay } from 'node:timers/promises';
import { createRuntime, isBusError, Service, type Runtime } from '../../../index.js';
import { RemoteProcessor } from '../../../runtime/hosting/processor-host.js';
import { RuntimeCore } from '../../../runtime/runtime-core.js';
import { processorPids, runCommand, threadRuns } from '../../helpers.js';

const test = suite('stop while starting');
const app = fileURLToPath(new URL('../fixtures/stop-while-starting-app.ts', import.meta.url));

for (const [mode, what, ready] of [
  ['first-start', 'a worker of the root still loading its modules (its start deadline far off)', 'RUNTIME_STOPPED'],
  ['restart', "a crashed worker's successor still loading its modules", 'ready'],
  ['at-once', 'right after createRuntime, with a child processor and worker threads', 'RUNTIME_STOPPED'],
  ['root-import', "the root's own import of a middleware module, which never settles (an import cannot be cancelled, but need not be waited for)", 'RUNTIME_STOPPED'],
] as const) {
  test(`stop - ${what}: the start is given up, stop() resolves, nothing is left running and the process ends by itself`, async () => {
    const run = await runCommand(process.execPath, ['--import', 'tsx', app, mode], { timeoutMs: 120_000 });
    assert.not.ok(run.timedOut, `${mode}: the process did not end on its own:\n${run.output}`);
    assert.is(run.code, 0, run.output);
    const seen = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ready: string; running: boolean; processors: number[] };
    assert.equal(seen, { ready, running: false, processors: [] }, mode);
  });
}

test('start and stop - more than ten worker threads give no MaxListenersExceededWarning (one abort listener each on the runtime\'s signal was taken for a leak)', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => void (warning.name === 'MaxListenersExceededWarning' && warnings.push(warning.message));
  process.on('warning', onWarning);
  try {
    const runtime = createRuntime({ threadsPerProcessor: 11 });
    await runtime.ready;
    await runtime.stop();
    // And given up at once: every start refused, each supervision's listener still added first.
    const stopped = createRuntime({ threadsPerProcessor: 11 });
    await stopped.stop();
    assert.is(await stopped.ready.then(() => 'ready', (error: { code?: string }) => error.code), 'RUNTIME_STOPPED');
    // A warning is emitted on the next tick of the one that adds the listener: long before this.
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(warnings, []);
});

test('ready - a worker whose start fails while another still starts rejects ready with that failure without waiting for the other start: it is given up (not RUNTIME_STOPPED for ready), its worker terminated', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-held-or-refused-'));
  process.env['HELD_OR_REFUSED_DIR'] = dir;
  try {
    const runtime = createRuntime({
      threadsPerProcessor: 2,
      middleware: [{ module: new URL('../fixtures/held-or-refused.middleware.ts', import.meta.url) }],
      // Thread 1's start (held once it loads the module) would end only by release, after the assertions, or its deadline: never.
      threadStartDeadlineMs: 2 ** 31 - 1,
    });
    const ready = await runtime.ready.then(
      () => 'ready',
      (error: unknown) => (isBusError(error) ? error.code : String(error)),
    );
    assert.is(ready, 'INVALID_OPTION');
    assert.is(runtime.running, false);
    assert.not.ok(threadRuns(readFileSync(join(dir, 'loading'), 'utf8')), 'the held worker is gone');
  } finally {
    delete process.env['HELD_OR_REFUSED_DIR'];
    writeFileSync(join(dir, 'release'), '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop - services stop only once every start under way was given up: a service of the root never sees its stop while a child processor still starts (it would come up after the service, and use it)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-stop-order-'));
  // Every worker's load is held (gated-start.middleware.ts; the child processor's workers inherit the variable) until
  // stop() has resolved: the child processor's start can end only by the stop.
  process.env['START_GATE_DIR'] = dir;
  try {
    const runtime = createRuntime({
      processors: 1,
      threadsPerProcessor: 1,
      middleware: [{ module: new URL('../fixtures/gated-start.middleware.ts', import.meta.url) }],
      threadStartDeadlineMs: 2 ** 31 - 1,
    });
    const seen: number[][] = [];
    class Watcher extends Service {
      protected onStart() {}
      protected override onStop() {
        seen.push(processorPids());
      }
    }
    const watcher = new Watcher(runtime.bus('external'));
    await watcher.start();
    // Polls a condition (no timing is assumed): the child processor runs, and its start is held.
    while (processorPids().length === 0) await delay(20);
    await runtime.stop();
    assert.equal(seen, [[]], 'the child processor still starting was gone when the service stopped');
    assert.is(watcher.status, 'stopped');
    assert.is(await runtime.ready.then(() => 'ready', (error: { code?: string }) => error.code), 'RUNTIME_STOPPED');
  } finally {
    delete process.env['START_GATE_DIR'];
    writeFileSync(join(dir, 'release'), '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop - services stop only once a restart under way was given up: a service of the root never sees its stop while a crashed worker\'s successor still starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-stop-order-'));
  // The first worker loads at once; its successor's load is held (gated-start.middleware.ts) until stop() has resolved.
  process.env['START_GATE_DIR'] = dir;
  process.env['START_GATE_FIRST_LOADS'] = '1';
  try {
    const runtime = createRuntime({
      threadsPerProcessor: 1,
      middleware: [{ module: new URL('../fixtures/gated-start.middleware.ts', import.meta.url) }],
      threadStartDeadlineMs: 2 ** 31 - 1,
    });
    await runtime.ready;
    let successor: string | undefined;
    const seen: boolean[] = [];
    class Watcher extends Service {
      protected onStart() {}
      protected override onStop() {
        seen.push(threadRuns(successor!));
      }
    }
    await new Watcher(runtime.bus('external')).start();
    const actor = await runtime.spawn(new URL('../fixtures/crashing.machine.ts', import.meta.url), { processor: 0, thread: 1 });
    await actor.send({ type: 'crash.exit' }).catch(() => undefined);
    // Polls a condition (no timing is assumed): the successor is loading its modules.
    while (!existsSync(join(dir, 'loading'))) await delay(20);
    successor = readFileSync(join(dir, 'loading'), 'utf8');
    assert.ok(threadRuns(successor), 'the successor runs while it loads');
    await runtime.stop();
    assert.equal(seen, [false], "the successor's thread was gone when the service stopped");
  } finally {
    delete process.env['START_GATE_DIR'];
    delete process.env['START_GATE_FIRST_LOADS'];
    writeFileSync(join(dir, 'release'), '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop - a child processor whose restart ended just as the stop came is stopped before stop() resolves (it was stopped after it, while the journal directory was removed)', async () => {
  const start = RemoteProcessor.start;
  let runtime: Runtime | undefined;
  let successorExited: boolean | undefined;
  let stopped: Promise<void> | undefined;
  let restarted!: () => void;
  const restarting = new Promise<void>((resolve) => (restarted = resolve));
  // The hook: the successor's start has ended (its child runs), and the stop comes before that start's caller goes on.
  RemoteProcessor.start = async function (...args: Parameters<typeof start>) {
    const remote = await start.apply(RemoteProcessor, args);
    if ((args[0].incarnation ?? 0) > 0 && stopped === undefined) {
      successorExited = false;
      void remote.exited.then(() => (successorExited = true));
      stopped = runtime!.stop();
      restarted();
    }
    return remote;
  };
  try {
    runtime = createRuntime({ processors: 1, deferred: 'manual' });
    await runtime.ready;
    process.kill(runtime.processor(1).pid!, 'SIGKILL');
    await restarting;
    await stopped;
    assert.is(successorExited, true, 'the successor had exited when stop() resolved');
    assert.equal(processorPids(), []);
  } finally {
    RemoteProcessor.start = start;
    await runtime?.stop();
  }
});

test('stop - a worker whose restart ended just as the stop came is gone before services stop (it was terminated meanwhile)', async () => {
  const attach = RuntimeCore.prototype.attachThread;
  let runtime: Runtime | undefined;
  let attaches = 0;
  let successorGone: boolean | undefined;
  let stopped: Promise<void> | undefined;
  let restarted!: () => void;
  const restarting = new Promise<void>((resolve) => (restarted = resolve));
  // The hook: the successor has started and is attached, and the stop comes before its supervision goes on.
  RuntimeCore.prototype.attachThread = function (this: RuntimeCore, ...args: Parameters<typeof attach>) {
    const remote = attach.apply(this, args);
    const [processor, thread, , , exited] = args;
    if (processor === 0 && thread === 1 && ++attaches === 2) {
      successorGone = false;
      void exited!.then(() => (successorGone = true));
      stopped = runtime!.stop();
      restarted();
    }
    return remote;
  };
  try {
    runtime = createRuntime({ threadsPerProcessor: 1 });
    await runtime.ready;
    const seen: Array<boolean | undefined> = [];
    class Watcher extends Service {
      protected onStart() {}
      protected override onStop() {
        seen.push(successorGone);
      }
    }
    await new Watcher(runtime.bus('external')).start();
    const actor = await runtime.spawn(new URL('../fixtures/crashing.machine.ts', import.meta.url), { processor: 0, thread: 1 });
    await actor.send({ type: 'crash.exit' }).catch(() => undefined);
    await restarting;
    await stopped;
    assert.equal(seen, [true], "the successor's worker had exited when the service stopped");
  } finally {
    RuntimeCore.prototype.attachThread = attach;
    await runtime?.stop();
  }
});

test.run();
