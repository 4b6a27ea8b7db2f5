/**
 * Middleware given as modules (`createRuntime({ middleware: [{ module, export }] })`):
 * loaded by every thread, so it drops and transforms posts in worker threads
 * and child processors as in the root; a module that cannot be loaded, or an
 * export that is no middleware, is refused as INVALID_OPTION at start.
 */
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, InvalidOptionError, isBusError, MiddlewareFailedError, type BusEvent, type Middleware } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../../runtime/hosting/processor-host.js';
import { processorPids, rejects, runCommand } from '../../helpers.js';

const STAMP = new URL('../fixtures/stamp.middleware.ts', import.meta.url).href;
const BAD_EMIT = new URL('../fixtures/bad-emit.machine.ts', import.meta.url).href;

const test = suite('middleware modules');

/** Where `payload.via` says the middleware ran: `<pid>:<threadId>`. */
const via = (payload: unknown) => (payload as { via?: string }).via;

test('1 processor x 2 threads - a module middleware transforms and drops posts in each worker of a child processor, and in the root', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', metrics: true, middleware: [{ module: STAMP }] });
  try {
    await runtime.ready;
    const worker = runtime.thread(1, 2).bus('external') as RemoteBus;
    const posted = await worker.post('order.created', { id: 1 });
    const [pid, thread] = via(posted.payload)!.split(':');
    assert.is.not(Number(pid), process.pid, 'ran in the child processor');
    assert.is.not(Number(thread), 0, 'in a worker thread of it');
    await rejects(worker.post('test.ping', {}), 'EVENT_DROPPED');
    assert.equal((await worker.history()).map((event) => event.type), ['order.created'], 'nothing was posted');
    assert.equal((await worker.stats())!.dropped, { 'test.ping': 1 });
    // publish() resolves with what was dropped, as Bus.publish() does (post() throws).
    assert.equal(await worker.publish('test.ping', {}), { dropped: 'test events stay out', middleware: 'stamp', outcomes: [], failed: 0 });
    assert.equal(await runtime.bus('external').publish('test.ping', {}), { dropped: 'test events stay out', middleware: 'stamp', outcomes: [], failed: 0 }, 'the same on the root\'s Bus');
    assert.equal((await worker.stats())!.dropped, { 'test.ping': 2 });

    // The child processor's own thread 0 runs it too.
    const own = await (runtime.thread(1, 0).bus('external') as RemoteBus).post('order.paid', { id: 1 });
    assert.is(via(own.payload)!.split(':')[0], pid, 'the same process');
    assert.is.not(via(own.payload), via(posted.payload), 'another thread of it');

    // And the root.
    assert.is(via(runtime.bus('external').post('order.created', { id: 2 }).payload), `${process.pid}:${threadId}`);
    assert.throws(() => runtime.bus('external').post('test.ping', {}), (error: unknown) => isBusError(error, 'EVENT_DROPPED'));
  } finally {
    await runtime.stop();
  }
});

test('1 processor x 2 threads - a middleware that throws in a worker: before refuses the post with MIDDLEWARE_FAILED here, after loses no event', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', middleware: [{ module: STAMP, export: 'faulty' }] });
  try {
    await runtime.ready;
    const worker = runtime.thread(1, 1).bus('external') as RemoteBus;
    const refused = await worker.post('boom.before', {}).then(() => undefined, (error: unknown) => error);
    assert.instance(refused, MiddlewareFailedError, 'of its own class, across the process');
    assert.is((refused as MiddlewareFailedError).middleware, 'faulty');
    assert.match((refused as Error).message, /boom\.before/);
    await rejects(worker.publish('boom.before', {}), 'MIDDLEWARE_FAILED');
    assert.equal(await worker.history(), [], 'nothing was posted');

    // A throwing after: the event is posted and delivered (a handler here sees it), publish() resolves with its outcome.
    const seen: unknown[] = [];
    worker.subscribe('boom.after', (event) => void seen.push(event.payload));
    const published = await worker.publish('boom.after', { n: 1 });
    assert.ok(published.dropped === undefined);
    assert.equal([published.outcomes.length, published.failed], [1, 0]);
    assert.equal(seen, [{ n: 1 }]);
    assert.equal((await worker.history()).map((event) => event.type), ['boom.after']);
    assert.is((await worker.post('ok', {})).type, 'ok', 'the pipeline runs on');

    // The throwing after is reported as in one thread, where the application sees it: a busline.middleware.failed
    // on the worker's internal bus, which reaches the root's with a sync (the worker's onError can only log).
    const report = { type: 'boom.after', id: published.event.id, middleware: 'faulty', message: 'the audit log is down', processor: 1, thread: 1 };
    const internal = runtime.thread(1, 1).bus('internal') as RemoteBus;
    assert.equal((await internal.history({ types: ['busline.middleware.failed'] })).map((event) => event.payload), [report]);
    const inRoot: unknown[] = [];
    runtime.bus('internal').subscribe('busline.middleware.failed', (event) => void inRoot.push(event.payload));
    await internal.toStation();
    await (runtime.processor(1).station('internal') as RemoteStation).toMain();
    await runtime.station('internal').fromMain();
    await runtime.bus('internal').fromStation();
    assert.equal(inRoot, [report], 'the root sees the worker\'s report');
  } finally {
    await runtime.stop();
  }
});

test('root - a throwing after goes to onError with the event, and is posted as busline.middleware.failed on the internal bus', async () => {
  const errors: Array<[unknown, string]> = [];
  const runtime = createRuntime({ middleware: [{ module: STAMP, export: 'faulty' }], onError: (error, event) => void errors.push([error, event.type]) });
  try {
    await runtime.ready;
    const reports: unknown[] = [];
    runtime.bus('internal').subscribe('busline.middleware.failed', (event) => void reports.push(event.payload));
    const published = await runtime.bus('external').publish('boom.after', {});
    assert.ok(published.dropped === undefined);
    assert.equal(reports, [{ type: 'boom.after', id: published.event.id, middleware: 'faulty', message: 'the audit log is down', processor: 0, thread: 0 }]);
    assert.is(errors.length, 1);
    assert.instance(errors[0]![0], MiddlewareFailedError);
    assert.is(errors[0]![1], 'boom.after');
  } finally {
    await runtime.stop();
  }
});

/** An `onError` that keeps what it is given; `next(n)` resolves once it has been called `n` times in all. */
function errorLog() {
  const errors: Array<{ error: unknown; event: BusEvent }> = [];
  const waits: Array<{ count: number; done: () => void }> = [];
  const onError = (error: unknown, event: BusEvent) => {
    errors.push({ error, event });
    for (const wait of waits.filter((each) => errors.length >= each.count)) wait.done();
  };
  // The bound only turns a report that never comes into a failure instead of a hang.
  const next = (count: number) =>
    new Promise<void>((resolve, reject) => {
      if (errors.length >= count) return resolve();
      const timer = setTimeout(() => reject(new Error(`onError was called ${errors.length} times, not ${count}`)), 60_000).unref();
      waits.push({ count, done: () => (clearTimeout(timer), resolve()) });
    });
  return { errors, onError, next };
}

/** What the root's onError says of a throwing after: [processor, thread, event type, event id, middleware, its cause]. */
function seen({ error, event }: { error: unknown; event: BusEvent }) {
  assert.instance(error, MiddlewareFailedError, String(error));
  const failed = error as MiddlewareFailedError & { processor: number; thread: number };
  assert.is(failed.code, 'MIDDLEWARE_FAILED');
  return [failed.processor, failed.thread, event.type, event.id, failed.middleware, (failed.cause as Error).message];
}

test('1 processor x 2 threads - a throwing after in each worker and in the processor\'s thread 0 reaches the root\'s onError, without a sync', async () => {
  const log = errorLog();
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', middleware: [{ module: STAMP, export: 'faulty' }], onError: log.onError });
  try {
    await runtime.ready;
    const ids: string[] = [];
    for (const thread of [1, 2, 0]) ids.push((await (runtime.thread(1, thread).bus('external') as RemoteBus).publish('boom.after', { thread })).event!.id);
    await log.next(3);
    const byThread = log.errors.map(seen).sort((a, b) => (a[1] as number) - (b[1] as number));
    assert.equal(byThread, [
      [1, 0, 'boom.after', ids[2], 'faulty', 'the audit log is down'],
      [1, 1, 'boom.after', ids[0], 'faulty', 'the audit log is down'],
      [1, 2, 'boom.after', ids[1], 'faulty', 'the audit log is down'],
    ]);
    assert.equal(log.errors.find(({ event }) => event.id === ids[0])!.event.payload, { thread: 1 }, 'a copy of the event, payload included');
    // No sync ran: the root's internal bus has none of the worker's reports, which stay on the threads' internal buses.
    assert.equal(runtime.bus('internal').history({ types: ['busline.middleware.failed'] }), []);
    assert.is((await (runtime.thread(1, 2).bus('internal') as RemoteBus).history({ types: ['busline.middleware.failed'] })).length, 1);
  } finally {
    await runtime.stop();
  }
});

test('root workers - a throwing after in a worker of the root, and an actor\'s refused emission there, reach the root\'s onError', async () => {
  const log = errorLog();
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual', middleware: [{ module: STAMP, export: 'faulty' }], onError: log.onError });
  try {
    await runtime.ready;
    const worker = runtime.thread(0, 1).bus('external') as RemoteBus;
    const published = await worker.publish('boom.after', {});
    await log.next(1);
    assert.equal(log.errors.map(seen), [[0, 1, 'boom.after', published.event!.id, 'faulty', 'the audit log is down']]);

    // The same path for what fails outside middleware: an actor's emission its thread refuses (a Date, no schema).
    await runtime.spawn(BAD_EMIT, { thread: 1, id: 'recorder' });
    await worker.post('order.placed', {});
    await log.next(2);
    const { error, event } = log.errors[1]!;
    assert.ok(isBusError(error, 'INVALID_EVENT'), String(error));
    assert.equal([(error as { processor?: number }).processor, (error as { thread?: number }).thread], [0, 1]);
    assert.equal([event.id, event.type], ['recorder:emit', 'order.recorded']);
  } finally {
    await runtime.stop();
  }
});

test('embedded workers - a named export runs in the root\'s worker threads, after a function middleware of the root in list order', async () => {
  const seen: string[] = [];
  const log: Middleware = { name: 'log', before: (draft) => void seen.push(String(draft.payload)) };
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual', middleware: [log, { module: new URL(STAMP), export: 'upper' }, { module: STAMP }] });
  try {
    await runtime.ready;
    const worker = runtime.thread(0, 1).bus('external') as RemoteBus;
    assert.is((await worker.post('greeting', 'hello')).payload, 'HELLO');
    assert.equal(seen, [], 'a function middleware stays in the thread that was given it');
    assert.is(runtime.bus('external').post('greeting', 'hi').payload, 'HI');
    assert.equal(seen, ['hi'], 'the root runs both, in order');
    const dropped = await worker.publish('test.ping', 'x');
    assert.equal(dropped, { dropped: 'test events stay out', middleware: 'stamp', outcomes: [], failed: 0 }, 'publish() of a post a worker drops resolves');
  } finally {
    await runtime.stop();
  }
});

test('root - a post before the module has loaded is refused (MIDDLEWARE_FAILED), not let through unchecked; a file path works as a URL does', async () => {
  const runtime = createRuntime({ middleware: [{ module: fileURLToPath(STAMP) }] });
  try {
    assert.throws(() => runtime.bus('external').post('order', {}), (error: unknown) => isBusError(error, 'MIDDLEWARE_FAILED'));
    await runtime.ready;
    assert.ok(via(runtime.bus('external').post('order', {}).payload));
  } finally {
    await runtime.stop();
  }
});

test('bad modules - a missing module or export rejects runtime.ready with INVALID_OPTION naming it; nothing is left running', async () => {
  for (const [entry, option] of [
    [{ module: new URL('../fixtures/no-such.middleware.js', import.meta.url).href }, 'middleware[0].module'],
    [{ module: STAMP, export: 'missing' }, 'middleware[0].export'],
    [{ module: STAMP, export: 'version' }, 'middleware[0].export (version of ' + STAMP + ')'],
  ] as const) {
    const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, middleware: [entry] });
    try {
      await runtime.ready;
      assert.unreachable(option);
    } catch (error) {
      assert.instance(error, InvalidOptionError);
      assert.is((error as InvalidOptionError).option, option);
    }
    assert.is(runtime.running, false, 'a runtime that cannot start stops');
    assert.equal(processorPids(), [], 'no processor was started, none is left');
  }
});

test('bad modules - one that loads in the root but throws in a worker rejects runtime.ready with INVALID_OPTION naming it; nothing is left running', async () => {
  const module = new URL('../fixtures/main-only.middleware.ts', import.meta.url);
  const runtime = createRuntime({ threadsPerProcessor: 1, middleware: [{ module }] });
  try {
    await runtime.ready;
    assert.unreachable('ready');
  } catch (error) {
    assert.instance(error, InvalidOptionError, String(error));
    assert.is((error as InvalidOptionError).option, 'middleware[0].module');
    assert.match((error as Error).message, /refuses to load in a worker.*in worker "processor 0 thread 1"/);
  }
  assert.is(runtime.running, false, 'a runtime that cannot start stops');
  // In a process of its own, which ends only if nothing was left running: workers of this process, and of a child
  // processor; `late-root`: the root's workers finish starting only after the child's start failed (stop() waits for them).
  const app = fileURLToPath(new URL('../fixtures/refused-middleware-app.ts', import.meta.url));
  for (const [where, processor] of [['embedded', 0], ['processor', 1], ['late-root', 1]] as const) {
    const run = await runCommand(process.execPath, ['--import', 'tsx', app, where], { timeoutMs: 120_000 });
    assert.not.ok(run.timedOut, `${where}: the process did not end on its own:\n${run.output}`);
    assert.is(run.code, 0, run.output);
    const seen = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { code: string; option: string; message: string; running: boolean; processors: number[] };
    assert.match(seen.message, new RegExp(`refuses to load in a worker \\(in worker "processor ${processor} thread \\d"\\)$`));
    assert.equal({ code: seen.code, option: seen.option, running: seen.running, processors: seen.processors }, { code: 'INVALID_OPTION', option: 'middleware[0].module', running: false, processors: [] }, where);
  }
});

test('bad entries - refused by createRuntime at once, naming the field', () => {
  for (const [entry, option] of [
    [{ module: 42 }, 'middleware[0].module'],
    [{ module: '' }, 'middleware[0].module'],
    [{ module: STAMP, export: 7 }, 'middleware[0].export'],
    [{ module: STAMP, exports: 'x' }, 'middleware[0].exports'],
  ] as const) {
    try {
      createRuntime({ middleware: [entry as never] });
      assert.unreachable(option);
    } catch (error) {
      assert.instance(error, InvalidOptionError);
      assert.is((error as InvalidOptionError).option, option);
    }
  }
});

test.run();
