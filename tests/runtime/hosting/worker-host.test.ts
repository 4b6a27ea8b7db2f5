import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { isBusError } from '../../../errors.js';
import { ManualClock } from '../../../runtime/clock.js';
import { serveWorker } from '../../../runtime/hosting/serve-worker.js';
import { RestartBudget, supervise } from '../../../runtime/hosting/supervision.js';
import type { WorkerExit, WorkerHandle, WorkerOptions } from '../../../runtime/hosting/worker-api.js';
import { startWorker } from '../../../runtime/hosting/worker-host.js';
import type { EchoApi } from '../fixtures/echo.worker.js';
import type { FaultsApi } from '../fixtures/faults.worker.js';
import { osThreads, runCommand, threadsSince } from '../../helpers.js';

const fixture = (file: string) => new URL(`../fixtures/${file}`, import.meta.url);
const echoModule = fixture('echo.worker.ts');
const faultsModule = fixture('faults.worker.ts');

/** A promise that has already settled wins this race; one still waiting on the worker does not. */
async function settledAtOnce(promise: Promise<unknown>): Promise<boolean> {
  const waiting = Symbol('waiting');
  const outcome = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise((resolve) => setImmediate(() => resolve(waiting))),
  ]);
  return outcome !== waiting;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.unreachable('expected a rejection');
  return undefined;
}

function assertCode(error: unknown, code: string): void {
  assert.ok(isBusError(error), `expected a BusError, got ${String(error)}`);
  assert.is(error.code, code, error.message);
}

/** A dead worker refuses calls at once, with WORKER_CRASHED. */
async function assertRefusesCalls(worker: WorkerHandle<FaultsApi>): Promise<void> {
  assert.is(worker.alive, false);
  const call = worker.call('ping');
  assert.ok(await settledAtOnce(call), 'a call on a dead worker must be refused at once');
  assertCode(await rejection(call), 'WORKER_CRASHED');
}

/** Starts the faults worker, runs `fault`, and returns how the pending call and the worker ended. */
async function crash(
  fault: (worker: WorkerHandle<FaultsApi>) => Promise<unknown>,
  options: Partial<WorkerOptions> = {},
): Promise<{ error: unknown; exit: WorkerExit; worker: WorkerHandle<FaultsApi> }> {
  const worker = await startWorker<FaultsApi>(faultsModule, { name: 'faults', ...options });
  try {
    assert.is(await worker.call('ping'), 'pong');
    const error = await rejection(fault(worker));
    const exit = await worker.exited;
    return { error, exit, worker };
  } finally {
    await worker.terminate();
  }
}

const test = suite('worker-host');

/** Ports alive before this suite (other suites may share the process); Node lists no Worker among them: threads are `osThreads()`. */
const portResources = () => process.getActiveResourcesInfo().filter((resource) => resource === 'MessagePort');
let portsBefore: string[] = [];
let threadsBefore: ReadonlySet<string> = new Set();
test.before(async () => {
  portsBefore = portResources();
  threadsBefore = await osThreads();
});

test('startWorker - a TypeScript module loads and answers calls', async () => {
  const worker = await startWorker<EchoApi>(echoModule, {
    name: 'echo 1',
    workerData: { shard: 3 },
    env: { BUSLINE_ECHO: 'from the host' },
  });
  try {
    assert.is(worker.alive, true);
    assert.is(await worker.call('add', 2, 3), 5);
    assert.is(await worker.call('later', 'soon'), 'soon');
    assert.equal(await worker.call('describe'), {
      name: 'echo 1',
      workerData: { shard: 3 },
      env: 'from the host',
      typescript: true,
    });
  } finally {
    await worker.terminate();
  }
});

test('call - a method that throws rejects with its own error and the worker stays up', async () => {
  const worker = await startWorker<EchoApi>(echoModule, { name: 'echo' });
  try {
    const error = await rejection(worker.call('fail', 'no such user'));
    assert.instance(error, Error);
    assert.is((error as Error).message, 'no such user');
    assert.not.ok(isBusError(error));
    assert.is(worker.alive, true);
    assert.is(await worker.call('add', 1, 1), 2);
    // A method the worker does not serve (only reachable around the types).
    assertCode(await rejection((worker.call as (method: string) => Promise<unknown>)('missing')), 'UNSUPPORTED');
  } finally {
    await worker.terminate();
  }
});

test('port - a frame round-trips on the data port, transferred both ways', async () => {
  const worker = await startWorker<EchoApi>(echoModule, { name: 'echo' });
  try {
    const frame = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    const expected = frame.slice();
    const echoed = new Promise<Uint8Array>((resolve) => worker.port.once('message', resolve));
    worker.port.postMessage(frame, [frame.buffer]);
    assert.is(frame.buffer.byteLength, 0, 'the sender gave its buffer away (transferred, not copied)');
    const received = await echoed;
    assert.instance(received, Uint8Array);
    assert.equal(received, expected);
  } finally {
    await worker.terminate();
  }
});

test('call - an uncaught exception in the worker rejects the pending call; exited says error', async () => {
  const { error, exit, worker } = await crash((worker) => worker.call('throwLater', 'disk on fire'));
  assertCode(error, 'WORKER_CRASHED');
  assert.match((error as Error).message, 'disk on fire');
  assert.is(exit.reason, 'error');
  assert.is((exit.error as Error).message, 'disk on fire');
  await assertRefusesCalls(worker);
});

test('call - an unhandled rejection in the worker rejects the pending call; exited says error', async () => {
  const { error, exit, worker } = await crash((worker) => worker.call('rejectLater', 'nobody caught me'));
  assertCode(error, 'WORKER_CRASHED');
  assert.is(exit.reason, 'error');
  assert.is((exit.error as Error).message, 'nobody caught me');
  await assertRefusesCalls(worker);
});

test('call - process.exit() in the worker rejects the pending call; exited has the code', async () => {
  const { error, exit, worker } = await crash((worker) => worker.call('exitLater', 3));
  assertCode(error, 'WORKER_CRASHED');
  assert.equal(exit, { reason: 'exit', code: 3 });
  await assertRefusesCalls(worker);
});

test('call - no answer within callDeadlineMs: the worker is taken as hung and terminated', async () => {
  const { error, exit, worker } = await crash((worker) => worker.call('spin'), { callDeadlineMs: 500 });
  assertCode(error, 'WORKER_CRASHED');
  assert.match((error as Error).message, 'no answer within 500 ms');
  assert.is(exit.reason, 'hung');
  await assertRefusesCalls(worker);
});

test('call - a worker over its resourceLimits rejects the pending call; exited says out-of-memory', async () => {
  const { error, exit, worker } = await crash((worker) => worker.call('exhaustMemory'), {
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  assertCode(error, 'WORKER_CRASHED');
  assert.is(exit.reason, 'out-of-memory');
  assert.is((exit.error as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
  await assertRefusesCalls(worker);
});

test('terminate - rejects pending calls, is idempotent and resolves exited with terminated', async () => {
  const worker = await startWorker<FaultsApi>(faultsModule, { name: 'faults' });
  const pending = worker.call('spin');
  const first = worker.terminate();
  const second = worker.terminate();
  assert.is(worker.alive, false);
  assertCode(await rejection(pending), 'WORKER_CRASHED');
  await Promise.all([first, second]);
  await worker.terminate();
  assert.is((await worker.exited).reason, 'terminated');
  await assertRefusesCalls(worker);
});

test('startWorker - a module that throws while loading fails the start with its error', async () => {
  const error = await rejection(startWorker(fixture('throws-at-load.worker.ts'), { name: 'broken', startDeadlineMs: 5_000 }));
  assertCode(error, 'WORKER_CRASHED');
  assert.match((error as Error).message, 'bad configuration in throws-at-load');
  assert.is(((error as Error).cause as Error).message, 'bad configuration in throws-at-load');
});

test('startWorker - a module that never calls serveWorker fails after startDeadlineMs', async () => {
  const error = await rejection(startWorker(fixture('never-serves.worker.ts'), { name: 'silent', startDeadlineMs: 500 }));
  assertCode(error, 'WORKER_CRASHED');
  assert.match((error as Error).message, 'did not call serveWorker() within 500 ms (startDeadlineMs: raise it');
});

test('startWorker - a .js module loads without tsx', async () => {
  const error = await rejection(startWorker(fixture('exits-at-load.worker.js'), { name: 'plain', startDeadlineMs: 5_000 }));
  assertCode(error, 'WORKER_CRASHED');
  assert.match((error as Error).message, 'exited with code 7 before calling serveWorker()');
});

test('startWorker - unknown or bad options are refused with INVALID_OPTION', async () => {
  const refused = async (options: unknown, option: string) => {
    const error = await rejection(startWorker(echoModule, options as WorkerOptions));
    assertCode(error, 'INVALID_OPTION');
    assert.is((error as { option?: string }).option, option);
  };
  await refused({ name: 'x', deadline: 5 }, 'startWorker.deadline');
  await refused({}, 'startWorker.name');
  await refused({ name: 'x', callDeadlineMs: 0 }, 'startWorker.callDeadlineMs');
  await refused({ name: 'x', startDeadlineMs: 1.5 }, 'startWorker.startDeadlineMs');
  await refused({ name: 'x', resourceLimits: { maxHeap: 1 } }, 'startWorker.resourceLimits.maxHeap');
  await refused({ name: 'x', env: { A: 1 } }, 'startWorker.env.A');
  const error = await rejection(startWorker(echoModule.href as unknown as URL, { name: 'x' }));
  assertCode(error, 'INVALID_OPTION');
});

test('serveWorker - refuses to run outside a worker started by startWorker', async () => {
  assertCode(await rejection(serveWorker(() => ({}))), 'UNSUPPORTED');
});

test('RestartBudget - allows maxRestarts within the window, then refuses', () => {
  const clock = new ManualClock(1_000);
  const budget = new RestartBudget({ maxRestarts: 3, withinMs: 10_000, clock });
  assert.is(budget.remaining, 3);
  assert.ok(budget.tryRestart());
  clock.advance(1_000);
  assert.ok(budget.tryRestart());
  clock.advance(1_000);
  assert.ok(budget.tryRestart());
  assert.is(budget.remaining, 0);
  assert.not.ok(budget.tryRestart());
  clock.advance(7_999); // the first restart is 9 999 ms old: still inside the window
  assert.not.ok(budget.tryRestart());
});

test('RestartBudget - recovers as restarts leave the window; refusals are not recorded', () => {
  const clock = new ManualClock(0);
  const budget = new RestartBudget({ maxRestarts: 2, withinMs: 1_000, clock });
  assert.ok(budget.tryRestart()); // t=0
  clock.set(500);
  assert.ok(budget.tryRestart()); // t=500
  for (let i = 0; i < 5; i++) assert.not.ok(budget.tryRestart());
  clock.set(1_000); // t=0 leaves the window
  assert.is(budget.remaining, 1);
  assert.ok(budget.tryRestart());
  assert.not.ok(budget.tryRestart());
  clock.set(2_000); // both others leave it
  assert.is(budget.remaining, 2);
});

test('RestartBudget - maxRestarts 0 never allows; bad options are refused', () => {
  assert.not.ok(new RestartBudget({ maxRestarts: 0, withinMs: 1, clock: new ManualClock() }).tryRestart());
  const refused = (options: unknown, option: string) => {
    try {
      new RestartBudget(options as never);
      assert.unreachable('expected InvalidOptionError');
    } catch (error) {
      assertCode(error, 'INVALID_OPTION');
      assert.is((error as { option?: string }).option, option);
    }
  };
  refused({ maxRestarts: -1, withinMs: 10 }, 'RestartBudget.maxRestarts');
  refused({ maxRestarts: 1, withinMs: 0 }, 'RestartBudget.withinMs');
  refused({ maxRestarts: 1, withinMs: 10, clock: Date }, 'RestartBudget.clock');
  refused({ maxRestarts: 1, withinMs: 10, period: 5 }, 'RestartBudget.period');
});

test('RestartBudget - failed starts count until a start succeeds, however long each took', () => {
  const clock = new ManualClock(0);
  const budget = new RestartBudget({ maxRestarts: 3, withinMs: 1_000, clock });
  const failSlowly = () => {
    assert.ok(budget.tryRestart());
    clock.advance(4_000); // a start that takes longer than the whole window, then fails
    budget.startFailed();
  };
  failSlowly();
  failSlowly();
  assert.is(budget.remaining, 1);
  // One that starts: the failures before it count in the window only, which they have left.
  assert.ok(budget.tryRestart());
  budget.started();
  clock.advance(4_000);
  assert.is(budget.remaining, 3);
  failSlowly();
  failSlowly();
  failSlowly();
  assert.is(budget.remaining, 0);
  assert.not.ok(budget.tryRestart(), 'three failed starts in a row use the budget up');
  clock.advance(60_000);
  assert.not.ok(budget.tryRestart(), 'and time does not give it back');
});

test('supervise - gives up after maxRestarts failed restarts, even when each takes longer than the window', async () => {
  const clock = new ManualClock(0);
  let starts = 0;
  let keptTrying!: () => void;
  const triedTooOften = new Promise<'kept trying'>((resolve) => (keptTrying = () => resolve('kept trying')));
  const supervision = await supervise(
    async () => {
      starts++;
      if (starts === 1) return startWorker<FaultsApi>(faultsModule, { name: 'supervised' });
      if (starts > 5) keptTrying();
      clock.advance(10_000); // longer than the window
      throw new Error('cannot start');
    },
    { budget: new RestartBudget({ maxRestarts: 2, withinMs: 1_000, clock }) },
  );
  try {
    await rejection(supervision.current!.call('exitLater', 1));
    const end = await Promise.race([supervision.ended, triedTooOften]);
    assert.not.equal(end, 'kept trying', `${starts} starts: failed restarts were not counted`);
    assert.is(starts, 3, 'the first start and two failed restarts');
    assert.equal((end as { reason: string }).reason, 'gave-up');
  } finally {
    await supervision.stop();
  }
});

test('supervise - restarts a worker that dies, then gives up when the budget runs out', async () => {
  const clock = new ManualClock(0);
  const restarts: WorkerExit[] = [];
  let restarted!: (worker: WorkerHandle<FaultsApi>) => void;
  const nextRestart = new Promise<WorkerHandle<FaultsApi>>((resolve) => (restarted = resolve));
  const supervision = await supervise(() => startWorker<FaultsApi>(faultsModule, { name: 'supervised' }), {
    budget: new RestartBudget({ maxRestarts: 1, withinMs: 60_000, clock }),
    onRestart: (worker, exit) => {
      restarts.push(exit);
      restarted(worker);
    },
  });
  try {
    const first = supervision.current!;
    await rejection(first.call('exitLater', 4));
    const second = await nextRestart;
    assert.equal(restarts, [{ reason: 'exit', code: 4 }]);
    assert.is(supervision.current, second);
    assert.is(await second.call('ping'), 'pong');

    await rejection(second.call('throwLater', 'again'));
    const end = await supervision.ended;
    assert.is(end.reason, 'gave-up');
    assert.is(end.lastExit?.reason, 'error');
    assert.is(supervision.current, undefined);
    assert.is(restarts.length, 1);
  } finally {
    await supervision.stop();
  }
});

test('supervise - stop() terminates the worker and does not restart it', async () => {
  const budget = new RestartBudget({ maxRestarts: 5, withinMs: 60_000, clock: new ManualClock() });
  const supervision = await supervise(() => startWorker<FaultsApi>(faultsModule, { name: 'supervised' }), { budget });
  const worker = supervision.current!;
  await supervision.stop();
  assert.is((await worker.exited).reason, 'terminated');
  assert.equal(await supervision.ended, { reason: 'stopped' });
  assert.is(supervision.current, undefined);
  assert.is(budget.remaining, 5);
});

test('supervise - stop() during a restart aborts it and resolves (every call of it) once it has ended: a worker it started anyway is gone by then', async () => {
  const budget = new RestartBudget({ maxRestarts: 5, withinMs: 60_000, clock: new ManualClock() });
  let starts = 0;
  let restartBegan!: (signal: AbortSignal) => void;
  const restart = new Promise<AbortSignal>((resolve) => (restartBegan = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let successor: WorkerHandle<FaultsApi> | undefined;
  const supervision = await supervise(async (signal) => {
    starts++;
    if (starts === 1) return startWorker<FaultsApi>(faultsModule, { name: 'supervised' });
    restartBegan(signal);
    // A start that ends although its signal was aborted (it does not listen to it): its worker then runs.
    await released;
    successor = await startWorker<FaultsApi>(faultsModule, { name: 'successor' });
    return successor;
  }, { budget });
  await rejection(supervision.current!.call('exitLater', 1));
  const signal = await restart;
  const stopped = supervision.stop();
  assert.ok(signal.aborted, 'stop() aborts the start under way');
  assert.not.ok(await settledAtOnce(stopped), 'stop() waits for the restart under way');
  const again = supervision.stop();
  assert.not.ok(await settledAtOnce(again), 'and so does a second stop() meanwhile');
  release();
  await again;
  assert.ok(successor !== undefined && (await settledAtOnce(successor.exited)), 'the worker the restart started was gone when stop() resolved');
  await stopped;
  assert.is((await successor.exited).reason, 'terminated');
  assert.equal(await supervision.ended, { reason: 'stopped' });
  assert.is(starts, 2, 'nothing restarted after the stop');
});

test('supervise - a worker terminated on purpose is not restarted', async () => {
  const budget = new RestartBudget({ maxRestarts: 5, withinMs: 60_000, clock: new ManualClock() });
  const supervision = await supervise(() => startWorker<FaultsApi>(faultsModule, { name: 'supervised' }), { budget });
  await supervision.current!.terminate();
  const end = await supervision.ended;
  assert.is(end.reason, 'stopped');
  assert.is(end.lastExit?.reason, 'terminated');
  assert.is(supervision.current, undefined);
  assert.is(budget.remaining, 5);
});

test('terminate - a stopped worker and its handle are freed (nothing keeps every worker ever started)', async () => {
  const run = await runCommand(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(fixture('workers-freed.ts'))], {
    timeoutMs: 60_000,
  });
  assert.is(run.code, 0, run.output);
  const counts = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
  assert.equal(counts, { started: 3, workers: 3, handlesAlive: 0, workersAlive: 0 });
});

test('startWorker - no worker thread or port outlives its test', () => {
  assert.equal(portResources(), portsBefore);
  assert.equal(threadsSince(threadsBefore), [], 'no worker thread runs');
});

test.run();
