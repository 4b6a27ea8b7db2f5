/**
 * Processors in child processes, each with worker threads:
 * `createRuntime({ processors: 2, threadsPerProcessor: 2 })`. One runtime for
 * the suite (starting two processes and four TypeScript workers takes seconds).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  BusFullError,
  createRuntime,
  DEFAULT_PROCESSOR_EXEC_ARGV,
  isBusError,
  type InvalidOptionError,
  type Runtime,
  type RuntimeOptions,
} from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { RemoteProcessor, type RemoteStation } from '../../../runtime/hosting/processor-host.js';
import { ids, isGone, processorPids } from '../../helpers.js';

const test = suite('child processors');
let runtime: Runtime;
const bus = (processor: number, thread: number, side: 'internal' | 'external' = 'external') =>
  runtime.thread(processor, thread).bus(side) as RemoteBus;
const station = (processor: number, side: 'internal' | 'external' = 'external') =>
  runtime.processor(processor).station(side) as RemoteStation;

test.before(async () => {
  runtime = createRuntime({ processors: 2, threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000 });
  await runtime.ready;
});

test.after(async () => {
  await runtime.stop();
});

/** The arguments a process was started with (Linux). */
const commandLine = (pid: number | null) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

test('processorExecArgv - processors start with the default young generation, or the flags given', async () => {
  assert.ok(DEFAULT_PROCESSOR_EXEC_ARGV.length > 0);
  for (const processor of [1, 2]) {
    const args = commandLine(runtime.processor(processor).pid);
    for (const flag of DEFAULT_PROCESSOR_EXEC_ARGV) assert.ok(args.includes(flag), `processor ${processor}: ${args.join(' ')}`);
  }
  const own = createRuntime({ processors: 1, deferred: 'manual', processorExecArgv: ['--max-old-space-size=300'] });
  try {
    await own.ready;
    const args = commandLine(own.processor(1).pid);
    assert.ok(args.includes('--max-old-space-size=300'), args.join(' '));
    for (const flag of DEFAULT_PROCESSOR_EXEC_ARGV) assert.not.ok(args.includes(flag), args.join(' '));
  } finally {
    await own.stop();
  }
});

test('processorExecArgv - a flag Node refuses fails the start, with the exit code in the error', async () => {
  const refused = createRuntime({ processors: 1, deferred: 'manual', processorExecArgv: ['--no-such-node-flag'] });
  try {
    await refused.ready;
    assert.unreachable('the processor should not start');
  } catch (error) {
    assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
    assert.match(String(error), /exit code 9/);
  } finally {
    await refused.stop();
  }
});

test('toMain/fromMain - two processors share events through the main station', async () => {
  const event = await bus(1, 1).post('order.created', { id: 'o-1' });
  await bus(1, 1).toStation();
  assert.equal((await bus(2, 2).fromStation()).added, [], 'processor 2 cannot see it yet');
  await station(1).toMain();
  assert.ok(ids(runtime.mainStation('external').history()).includes(event.id));
  await station(2).fromMain();
  const { added } = await bus(2, 2).fromStation();
  assert.equal(added, [event]);
  // The root's own thread reads it from its local station once that syncs too.
  await runtime.station('external').fromMain();
  await runtime.bus('external').fromStation();
  assert.ok(ids(runtime.bus('external').history()).includes(event.id));
});

test('queue - a parked queue goes up with toMain and comes back only to its processor', async () => {
  const parked = await bus(1, 2).post('job.later', 1, { priority: 'deferred' });
  await bus(1, 2).toStation();
  await station(1).toMain();
  assert.ok(ids(runtime.mainStation('external').queued()).includes(parked.id));
  await station(2).fromMain();
  assert.not.ok(ids(await station(2).queued()).includes(parked.id));
  await station(1).fromMain();
  assert.ok(ids(await station(1).queued()).includes(parked.id));
  await bus(1, 2).fromStation();
  assert.equal(ids(await bus(1, 2).queue()), [parked.id]);
});

test('bridge - close({ clearOtherSide }) leaves no other-side event in any thread or processor', async () => {
  const external = await bus(1, 1).post('app.click', 1);
  await bus(1, 1).toStation();
  await station(1).toMain();
  await runtime.bridge.open();
  await station(2, 'internal').fromMain({ side: 'external' });
  await bus(2, 1, 'internal').fromStation();
  await bus(1, 2, 'internal').fromStation({ side: 'external' });
  assert.ok(ids(await bus(2, 1, 'internal').history()).includes(external.id));
  assert.ok(ids(await bus(1, 2, 'internal').history()).includes(external.id));
  await runtime.bridge.close({ clearOtherSide: true });
  for (const [p, t] of [[1, 1], [1, 2], [2, 1], [2, 2], [1, 0], [2, 0]] as const) {
    assert.equal((await bus(p, t, 'internal').history()).filter((e) => e.side === 'external'), [], `thread ${p}.${t}`);
  }
  for (const p of [1, 2]) {
    assert.equal((await station(p, 'internal').history()).filter((e) => e.side === 'external'), [], `station ${p}`);
  }
  try {
    await station(2, 'internal').fromMain({ side: 'external' });
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'BRIDGE_CLOSED'), String(error));
  }
});

test('runtime.bus(side, { processor, thread }) - a thread that runs elsewhere is named with the call that reaches it; one that does not exist, with what does', () => {
  const cases: Array<[number, number, string, RegExp]> = [
    [0, 1, 'UNSUPPORTED', /^thread 0\.1 runs in a worker thread: use runtime\.thread\(0, 1\)\.bus\(side\), a RemoteBus\.$/],
    [1, 0, 'UNSUPPORTED', /^thread 1\.0 runs in child processor 1: use runtime\.thread\(1, 0\)\.bus\(side\), a RemoteBus\.$/],
    [2, 2, 'UNSUPPORTED', /^thread 2\.2 runs in child processor 2: use runtime\.thread\(2, 2\)\.bus\(side\)/],
    [1, 3, 'INVALID_OPTION', /processor 1 has no thread 3; its threads are 0 to 2\./],
    [7, 0, 'INVALID_OPTION', /no processor 7; there are 0, 1, 2\./],
    [0, 9, 'INVALID_OPTION', /no thread 0\.9; add one with addThread/],
  ];
  for (const [processor, thread, code, message] of cases) {
    try {
      runtime.bus('external', { processor, thread });
      assert.unreachable(`${processor}.${thread}`);
    } catch (error) {
      assert.ok(isBusError(error, code as 'UNSUPPORTED'), String(error));
      assert.match((error as Error).message, message);
    }
  }
});

test.run();

const lifecycle = suite('child processors lifecycle');

lifecycle('stop - no processor process remains', async () => {
  const rt = createRuntime({ processors: 1, deferred: 'manual' });
  await rt.ready;
  const pid = rt.processor(1).pid!;
  assert.ok(pid > 0 && pid !== process.pid);
  assert.is(process.kill(pid, 0), true, 'running before stop');
  await rt.stop();
  assert.ok(isGone(pid), `process ${pid} is still there`);
});

lifecycle('start - a processor that refuses to start is killed before the start rejects: no process is left', async () => {
  const rt = createRuntime({ deferred: 'manual' });
  try {
    // Options the runtime would refuse before forking (createRuntime checks them): here they reach the child, which refuses them.
    await RemoteProcessor.start(
      { processor: 1, threads: 1, deferred: 'manual', maxQueued: 10, bridge: 'closed', callDeadlineMs: 3e9 },
      (side) => rt.mainStation(side),
      () => rt.bridge.direction,
    );
    assert.unreachable('the processor should not start');
  } catch (error) {
    // The child's refusal arrives as the configuration error it is, naming the option and the processor.
    assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    assert.is((error as InvalidOptionError).option, 'startWorker.callDeadlineMs');
    assert.match(String(error), /\(in processor 1\)$/);
    assert.equal(processorPids(), [], 'the child is gone when the start rejects');
  } finally {
    await rt.stop();
  }
});

lifecycle('createRuntime - options a processor or worker would refuse are refused here, before any process starts', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'busline-options-test-')), 'a-file');
  writeFileSync(file, '');
  const refused = (options: RuntimeOptions, option: string) => {
    try {
      createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', ...options });
      assert.unreachable(`createRuntime took ${JSON.stringify(options)}`);
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      assert.is((error as InvalidOptionError).option, option, String(error));
    }
  };
  try {
    refused({ callDeadlineMs: 3e9 }, 'callDeadlineMs');
    refused({ journal: join(file, 'journal') }, 'journal');
    refused({ restart: { maxRestarts: -1, withinMs: 1_000 } }, 'restart.maxRestarts');
    refused({ restart: { maxRestarts: 1, withinMs: 0 } }, 'restart.withinMs');
    refused({ restart: { maxRestarts: 1, withinMs: 1_000, backoff: 2 } as never }, 'restart.backoff');
    refused({ workerLimits: { maxOldGenerationSizeMb: 0 } }, 'workerLimits.maxOldGenerationSizeMb');
    refused({ workerLimits: { heapMb: 64 } as never }, 'workerLimits.heapMb');
    assert.equal(processorPids(), [], 'no processor was forked');
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
});

lifecycle('crash - a processor killed with SIGKILL rejects pending and later calls with WORKER_CRASHED', async () => {
  const rt = createRuntime({ processors: 1, deferred: 'manual' });
  await rt.ready;
  const remote = rt.thread(1, 0).bus('external') as RemoteBus;
  await remote.post('before', 1);
  process.kill(rt.processor(1).pid!, 'SIGKILL');
  try {
    await remote.post('after', 1);
    assert.unreachable();
  } catch (error) {
    assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
  }
  await rt.stop();
});

lifecycle('maxQueued - reaches every thread (a root worker, a processor\'s own thread and its worker), parked entries counted', async () => {
  const rt = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', maxQueued: 2 });
  try {
    await rt.ready;
    for (const [processor, thread] of [[0, 1], [1, 0], [1, 1]] as const) {
      const remote = rt.thread(processor, thread).bus('external') as RemoteBus;
      await remote.post('later', 1, { priority: 'deferred' });
      await remote.post('later', 2, { priority: 'deferred' });
      try {
        await remote.post('later', 3, { priority: 'deferred' });
        assert.unreachable(`thread ${processor}.${thread} took a third deferred post`);
      } catch (error) {
        assert.ok(error instanceof BusFullError, `a BusFullError from ${processor}.${thread}, got ${String(error)}`);
        assert.equal({ bound: error.bound, held: error.held, max: error.max }, { bound: 'queue', held: 2, max: 2 });
      }
      assert.equal((await remote.queue()).map((event) => event.payload), [1, 2], `thread ${processor}.${thread}`);
      // Parked at its station they still count: the station's count crosses the data plane with its Ack.
      const next = await remote.toStation();
      const refused = await next.post('later', 3, { priority: 'deferred' }).then(() => undefined, (error: unknown) => error);
      assert.ok(refused instanceof BusFullError && refused.held === 2, `parked entries count in ${processor}.${thread}: ${String(refused)}`);
      const { queued, parked } = await next.state();
      assert.equal({ queued, parked }, { queued: 0, parked: 2 }, `thread ${processor}.${thread} tells its counts`);
      await next.fromStation();
      assert.equal(await next.state().then(({ queued: q, parked: p }) => [q, p]), [2, 0]);
      assert.is(await next.drain(), 2, `thread ${processor}.${thread} took its parked entries back`);
      await next.post('later', 3, { priority: 'deferred' });
    }
  } finally {
    await rt.stop();
  }
});

lifecycle('maxQueued - a child processor\'s station counts the entries it pushed on to the main station until they come back', async () => {
  const rt = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', maxQueued: 2 });
  try {
    await rt.ready;
    let bus = rt.thread(1, 1).bus('external') as RemoteBus;
    await bus.post('later', 1, { priority: 'deferred' });
    await bus.post('later', 2, { priority: 'deferred' });
    bus = await bus.toStation();
    const station = rt.processor(1).station('external');
    await station.toMain();
    assert.equal((await station.queued()).length, 0, 'the entries went on to the main station');
    assert.equal((await bus.fromStation()).handedBack, 0);
    assert.is((await bus.state()).parked, 2, 'still counted across the processor');
    const refused = await bus.post('later', 3, { priority: 'deferred' }).then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof BusFullError && refused.bound === 'queue', String(refused));
    await station.fromMain();
    await bus.fromStation();
    assert.equal(await bus.state().then(({ queued, parked }) => [queued, parked]), [2, 0]);
  } finally {
    await rt.stop();
  }
});

lifecycle.run();
