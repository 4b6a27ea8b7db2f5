/**
 * Faults of real workers and processes: a worker that runs out of memory,
 * throws, exits or hangs, and a processor killed with SIGKILL or hung (SIGSTOP), are detected, their pending calls rejected,
 * they are restarted, and nothing that reached a station (or, for a processor,
 * the main station) is lost. Tests wait for the runtime's own crash report, an
 * internal-side event, never for time.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type BusEvent, type Runtime } from '../../index.js';
import type { RemoteBus } from '../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../runtime/hosting/processor-host.js';

import { ids, isGone, nextCrash, processorPids } from '../helpers.js';

/** Thread 0.1 hands a kept event and a deferred one over to its station (parked there): what its crash must not lose. */
async function handOver(runtime: Runtime): Promise<{ kept: BusEvent; parked: BusEvent }> {
  const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
  const kept = await bus.post('order.created', { id: 1 });
  const parked = await bus.post('order.later', { id: 2 }, { priority: 'deferred' });
  await bus.toStation();
  return { kept, parked };
}

/** After thread 0.1 crashed and restarted: the station kept `kept`, the successor gets `parked` back. Returns the successor and what it read. */
async function assertNothingLost(
  runtime: Runtime,
  { kept, parked }: { kept: BusEvent; parked: BusEvent },
): Promise<{ successor: RemoteBus; added: readonly BusEvent[] }> {
  assert.ok(ids(runtime.station('external').history()).includes(kept.id));
  const successor = runtime.thread(0, 1).bus('external') as RemoteBus;
  const { handedBack, added } = await successor.fromStation();
  assert.is(handedBack, 1);
  assert.equal(ids(await successor.queue()), [parked.id]);
  assert.ok(ids(added).includes(kept.id));
  return { successor, added };
}

const test = suite('faults');

test('worker out of memory - pending call rejected, worker restarted, station events and parked queue kept', async () => {
  const runtime = createRuntime({
    threadsPerProcessor: 1,
    deferred: 'manual',
    workerLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
    // The worker must run out of memory: its default budget would evict the blobs first.
    memory: { budget: false },
  });
  await runtime.ready;
  try {
    const handed = await handOver(runtime);
    const crashed = nextCrash(runtime, 'thread');
    // Keep 4 MiB payloads in the worker's history until its heap limit stops it.
    let failure: unknown;
    const next = runtime.thread(0, 1).bus('external') as RemoteBus;
    for (let i = 0; i < 64 && failure === undefined; i++) {
      try {
        await next.post('blob', { data: 'x'.repeat(4 * 1024 * 1024), i });
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(isBusError(failure, 'WORKER_CRASHED'), `expected WORKER_CRASHED, got ${String(failure)}`);
    const report = await crashed;
    assert.equal(report.payload, { processor: 0, thread: 1, reason: 'out-of-memory', message: 'it ran out of memory (resourceLimits)', restarted: true });
    assert.is(report.side, 'internal');
    // The station kept what reached it; the successor gets its parked queue back.
    const { successor, added } = await assertNothingLost(runtime, handed);
    const fresh = await successor.post('order.created', { id: 3 });
    assert.ok(!ids(added).includes(fresh.id) && fresh.id !== handed.kept.id, 'ids of the new incarnation are new');
    assert.match(fresh.id, /^0\.1\.1-/);
  } finally {
    await runtime.stop();
  }
});

for (const [how, reason, message] of [
  ['throw', 'error', 'it threw uncaught in a worker'],
  ['exit', 'exit', 'it exited with code 7'],
  ['hang', 'hung', 'it hung and was terminated'],
] as const) {
  test(`worker ${how === 'hang' ? 'that hangs' : how === 'exit' ? 'calling process.exit' : 'throwing'} - detected as ${reason}, restarted, station events and parked queue kept`, async () => {
    // A hung worker is one that misses callDeadlineMs: 5 s for the hang (far beyond any call here), the default otherwise.
    const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual', ...(how === 'hang' ? { callDeadlineMs: 5_000 } : {}) });
    await runtime.ready;
    try {
      const handed = await handOver(runtime);
      const handle = runtime.thread(0, 1);
      const before = handle.bus('external') as RemoteBus;
      const actor = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { processor: 0, thread: 1 });
      const crashed = nextCrash(runtime, 'thread');
      const sent = actor.send({ type: `crash.${how}` });
      if (how === 'throw') {
        // The exception comes after the call has returned, but the answer and the worker's death reach this
        // thread by different channels: either may be seen first, and a call whose answer was not seen is rejected.
        await sent.catch((error: unknown) => assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error)));
      } else {
        try {
          await sent;
          assert.unreachable('the call that brought the worker down resolved');
        } catch (error) {
          assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
        }
      }
      const report = await crashed;
      assert.equal(report.payload, { processor: 0, thread: 1, reason, message, restarted: true });
      // A handle taken before the crash stays with the dead worker, and says so: the thread's bus, taken again, is the successor's.
      const refused: unknown = await before.post('late', 1).then(() => undefined, (error: unknown) => error);
      assert.ok(isBusError(refused, 'WORKER_CRASHED'), String(refused));
      assert.match(refused.message, /restarted within the restart budget .*take the thread's bus again, runtime\.thread\(processor, thread\)\.bus\(side\)/);
      // The thread's handle gives the thread's current bus: the successor's.
      assert.match((await (handle.bus('external') as RemoteBus).post('through.handle', 1)).id, /^0\.1\.1-/);
      await assertNothingLost(runtime, handed);
    } finally {
      await runtime.stop();
    }
  });
}

for (const [how, reason, message] of [
  ['exit', 'exit', 'it exited with code 7'],
  ['hang', 'hung', 'it hung and was terminated'],
] as const) {
  test(`worker of a child processor that ${how === 'exit' ? 'exits' : 'hangs'} while a call to it is in flight - only the thread is restarted; the processor lives on`, async () => {
    // The processor reports its thread's crash on its thread 0's internal bus; the sync policy brings it to the root's.
    const runtime = createRuntime({
      processors: 1,
      threadsPerProcessor: 1,
      deferred: 'manual',
      sync: { everyMs: 10 },
      ...(how === 'hang' ? { callDeadlineMs: 5_000 } : {}),
    });
    await runtime.ready;
    try {
      const pid = runtime.processor(1).pid!;
      // A later generation than the successor's first: the root must not keep naming it.
      const handle = runtime.thread(1, 1);
      const first = handle.bus('external') as RemoteBus;
      const second = await first.toStation();
      const actor = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { processor: 1, thread: 1 });
      const crashed = nextCrash(runtime, 'thread');
      try {
        await actor.send({ type: `crash.${how}` });
        assert.unreachable('the call that brought the worker down resolved');
      } catch (error) {
        assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
        assert.match(String(error), /worker/, 'the worker is gone, not the processor');
      }
      assert.equal((await crashed).payload, { processor: 1, thread: 1, reason, message, restarted: true });
      assert.is(runtime.processor(1).pid, pid, 'the processor lived on');
      // Handles taken before the crash belong to the dead worker: refused, whatever their generation, never the successor's bus.
      for (const stale of [first, second]) {
        const refused: unknown = await stale.post('late', 1).then(() => undefined, (error: unknown) => error);
        assert.ok(isBusError(refused, 'WORKER_CRASHED'), String(refused));
        assert.match(refused.message, /the worker this handle was taken from crashed and was restarted .*runtime\.thread\(1, 1\)\.bus\(side\)/);
      }
      // The thread's handle, taken before the crash, gives the thread's current bus: the successor's.
      const fresh = await (handle.bus('external') as RemoteBus).post('after.crash', 1);
      assert.match(fresh.id, /^1\.1\.1-/, 'the thread\'s successor answers');
      assert.is(fresh.origin.generation, 0, 'through a handle on the successor\'s own bus');
    } finally {
      await runtime.stop();
    }
  });
}

test('worker crash nobody listens for - logged with what happened, never silent; a listener hears it instead of the log', async () => {
  const runtime = createRuntime({ threadsPerProcessor: 1 });
  await runtime.ready;
  const original = console.error;
  const logged: string[] = [];
  try {
    let heard!: (line: string) => void;
    const first = new Promise<string>((resolve) => (heard = resolve));
    console.error = (...args: unknown[]) => {
      logged.push(args.join(' '));
      heard(args.join(' '));
    };
    const actor = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { thread: 1 });
    await actor.send({ type: 'crash.exit' }).catch(() => undefined);
    assert.match(await first, /^\[busline\] worker thread 0\.1 crashed: it exited with code 7; restarted\. Subscribe to busline\.thread\.crashed on runtime\.bus\('internal'\)/);
    // With a listener on the root's internal bus, the report is the listener's: nothing is logged.
    const crashed = nextCrash(runtime, 'thread');
    const again = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { thread: 1 });
    await again.send({ type: 'crash.exit' }).catch(() => undefined);
    assert.equal((await crashed).payload, { processor: 0, thread: 1, reason: 'exit', message: 'it exited with code 7', restarted: true });
    // A round trip to the successor: the report's handlers settled long before it answers.
    await (runtime.thread(0, 1).bus('external') as RemoteBus).post('after', 1);
    assert.is(logged.length, 1, logged.join('\n'));
  } finally {
    console.error = original;
    await runtime.stop();
  }
});

test('processor SIGKILL - pending calls rejected, processor restarted from its journal: no accepted event lost', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual' });
  await runtime.ready;
  try {
    const bus = runtime.thread(1, 1).bus('external') as RemoteBus;
    const reachedMain = await bus.post('order.created', { id: 1 });
    await bus.toStation();
    await (runtime.processor(1).station('external') as RemoteStation).toMain();
    const onlyLocal = await (runtime.thread(1, 1).bus('external') as RemoteBus).post('order.local', { id: 2 });
    await (runtime.thread(1, 1).bus('external') as RemoteBus).toStation();
    const staleStation = runtime.processor(1).station('external') as RemoteStation;
    const pid = runtime.processor(1).pid!;
    const crashed = nextCrash(runtime, 'processor');
    process.kill(pid, 'SIGKILL');
    try {
      await (runtime.thread(1, 1).bus('external') as RemoteBus).post('lost', 1);
      // The call may reach the successor if it is already up: then it must work.
    } catch (error) {
      assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
    }
    const report = await crashed;
    assert.equal(report.payload, { processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: true });
    const newPid = runtime.processor(1).pid!;
    assert.ok(newPid !== pid);
    // Handles taken before the crash stay with the dead processor, and say what to take instead.
    for (const stale of [() => bus.post('late', 1), () => staleStation.toMain()]) {
      const refused: unknown = await stale().then(() => undefined, (error: unknown) => error);
      assert.ok(isBusError(refused, 'WORKER_CRASHED'), String(refused));
      assert.match(refused.message, /^processor 1 died \(SIGKILL\) before this call\. .*runtime\.thread\(1, thread\)\.bus\(side\) or runtime\.processor\(1\)\.station\(side\)/);
    }
    assert.ok(ids(runtime.mainStation('external').history()).includes(reachedMain.id));
    // Accepted by the dead processor's local station only: its journal brought it back and on to main.
    assert.ok(ids(runtime.mainStation('external').history()).includes(onlyLocal.id));
    // The restarted processor works and gets the main history back.
    const station = runtime.processor(1).station('external') as RemoteStation;
    await station.fromMain();
    const reborn = runtime.thread(1, 1).bus('external') as RemoteBus;
    const { added } = await reborn.fromStation();
    assert.ok(ids(added).includes(reachedMain.id));
    assert.ok(ids(added).includes(onlyLocal.id));
    const fresh = await reborn.post('order.created', { id: 3 });
    assert.match(fresh.id, /^1\.1\.1\.0-/);
  } finally {
    await runtime.stop();
  }
});

test('processor killed again and again - its restarted stations hold everything they had accepted, after any number of kills', async () => {
  const runtime = createRuntime({ processors: 1, deferred: 'manual' });
  await runtime.ready;
  const pids: number[] = [];
  try {
    const accepted: string[] = [];
    for (let kill = 1; kill <= 3; kill++) {
      // Each incarnation's station accepts one batch (its journal's only entry, the first time), then dies before any toMain() of its own.
      const bus = runtime.thread(1, 0).bus('external') as RemoteBus;
      accepted.push((await bus.post('order.created', { kill })).id);
      await bus.toStation();
      const crashed = nextCrash(runtime, 'processor');
      pids.push(runtime.processor(1).pid!);
      process.kill(pids.at(-1)!, 'SIGKILL');
      assert.equal((await crashed).payload, { processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: true });
      const held = ids(await (runtime.processor(1).station('external') as RemoteStation).history());
      assert.equal([...held].sort(), [...accepted].sort(), `after kill ${kill}`);
    }
  } finally {
    pids.push(runtime.processor(1).pid!);
    await runtime.stop();
  }
  assert.ok(pids.every(isGone), 'every incarnation is gone');
  assert.equal(processorPids(), []);
});

test('processor SIGKILL under the sync policy, twice - what a resolved sync carried is in the restarted station and the main station; only posts no sync had carried are lost', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, sync: { everyMs: 5 } });
  await runtime.ready;
  try {
    const synced: string[] = [];
    for (let kill = 1; kill <= 2; kill++) {
      const bus = runtime.thread(1, 1).bus('external') as RemoteBus;
      // The posts of one tick travel in one control call, in order.
      const post = async (count: number) =>
        ids(await Promise.all(Array.from({ length: count }, (_, i) => bus.post('order.created', { kill, i }))));
      synced.push(...(await post(300)));
      await bus.sync(); // resolved: the station has accepted all of them
      const onlyPosted = await post(200);
      // The bus's unsent events are its last posts; the policy may still carry some of them before the kill.
      const { unsent } = await bus.state();
      const crashed = nextCrash(runtime, 'processor');
      process.kill(runtime.processor(1).pid!, 'SIGKILL');
      assert.equal((await crashed).payload, { processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: true });

      const main = new Set(ids(runtime.mainStation('external').history()));
      const local = new Set(ids(await (runtime.processor(1).station('external') as RemoteStation).history()));
      assert.equal(synced.filter((id) => !main.has(id)), [], `after kill ${kill}: every synced event is in the main station`);
      assert.equal(synced.filter((id) => !local.has(id)), [], `after kill ${kill}: and in the restarted processor's station`);
      const lost = onlyPosted.filter((id) => !main.has(id));
      assert.ok(lost.length <= unsent, `after kill ${kill}: ${lost.length} lost, but only ${unsent} were unsent`);
      assert.equal(lost, onlyPosted.slice(onlyPosted.length - lost.length), 'only the last posts, which no sync had carried, are lost');
      synced.push(...onlyPosted.filter((id) => main.has(id)));
    }
  } finally {
    await runtime.stop();
  }
  assert.equal(processorPids(), []);
});

test('processor whose restarts cannot start - each failed start kills its child and counts: maxRestarts of them give up, however short the window', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-restart-test-'));
  // A window far shorter than a start: only failed starts that count can use the budget up.
  const runtime = createRuntime({ processors: 1, deferred: 'manual', journal: dir, restart: { maxRestarts: 2, withinMs: 1 } });
  try {
    await runtime.ready;
    // Its journal's directory becomes a file: every later start of processor 1 fails to open it.
    rmSync(join(dir, 'processor-1'), { recursive: true, force: true });
    writeFileSync(join(dir, 'processor-1'), 'not a journal');
    const crashed = nextCrash(runtime, 'processor');
    process.kill(runtime.processor(1).pid!, 'SIGKILL');
    assert.equal((await crashed).payload, { processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: false });
    assert.equal(processorPids(), [], 'no failed start left its child behind');
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Preloads fixtures/hangs-at-start.mjs into child processors: their starts hang while `marker` exists. */
function hangingStarts(marker: string): readonly string[] {
  process.env.BUSLINE_TEST_HANG_MARKER = marker;
  return [`--import=${new URL('./fixtures/hangs-at-start.mjs', import.meta.url).href}`];
}

test('processorStartDeadlineMs - a processor that never says ready: ready rejects (WORKER_CRASHED, naming the option), its child is killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-hang-test-'));
  const marker = join(dir, 'hang');
  writeFileSync(marker, '');
  const runtime = createRuntime({ processors: 1, deferred: 'manual', processorExecArgv: hangingStarts(marker), processorStartDeadlineMs: 500 });
  try {
    const failure = await runtime.ready.then(() => undefined, (error: unknown) => error);
    assert.ok(isBusError(failure, 'WORKER_CRASHED'), String(failure));
    assert.match(String(failure), /did not start within 500 ms \(processorStartDeadlineMs\)/);
    assert.equal(processorPids(), [], 'the hung child is gone when ready rejects');
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a processor killed while it starts: ready rejects at once (WORKER_CRASHED, SIGKILL), not at the deadline; the other start is given up, nothing is left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-hang-test-'));
  const marker = join(dir, 'hang');
  writeFileSync(marker, '');
  // Both starts are held in their preload; the default deadline (120 s) is far off, so only the kill can end the start.
  const runtime = createRuntime({ processors: 2, deferred: 'manual', processorExecArgv: hangingStarts(marker) });
  try {
    const failure = runtime.ready.then(() => undefined, (error: unknown) => error);
    // Forked a few turns after createRuntime() (once the middleware modules, none here, are loaded).
    while (processorPids().length < 2) await new Promise<void>((resolve) => setImmediate(resolve));
    process.kill(processorPids()[0]!, 'SIGKILL');
    const error = await failure;
    assert.ok(isBusError(error, 'WORKER_CRASHED'), String(error));
    assert.match(String(error), /exited while starting \(SIGKILL/);
    assert.equal(processorPids(), [], 'the other processor, still starting, was killed with the failed start');
    assert.is(runtime.running, false, 'a runtime that could not start is stopped');
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('processorStartDeadlineMs - restarts that hang each miss the deadline, are killed and count: the budget gives up, no process is left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-hang-test-'));
  const marker = join(dir, 'hang');
  const start = (deadlineMs: number) =>
    createRuntime({
      processors: 1,
      deferred: 'manual',
      processorExecArgv: hangingStarts(marker),
      // Seconds for the first start; the restarts never get there.
      processorStartDeadlineMs: deadlineMs,
      // A window far shorter than a start: only failed starts that count can use the budget up.
      restart: { maxRestarts: 2, withinMs: 1 },
    });
  let deadlineMs = 8_000;
  let runtime = start(deadlineMs);
  try {
    // The first start must beat the deadline its restarts are to miss, and a loaded machine can make it miss 8 s too
    // (three starts in a row did, with two busy loops on 2 cores): then the runtime starts again with twice the deadline,
    // up to 32 s.
    for (;;) {
      const failure: unknown = await runtime.ready.then(() => undefined, (error: unknown) => error);
      if (failure === undefined) break;
      const slow = isBusError(failure, 'WORKER_CRASHED') && failure.message.includes(`did not start within ${deadlineMs} ms`);
      assert.ok(slow && deadlineMs < 32_000, `the first start, given ${deadlineMs} ms: ${String(failure)}`);
      await runtime.stop();
      deadlineMs *= 2;
      runtime = start(deadlineMs);
    }
    writeFileSync(marker, '');
    const crashed = nextCrash(runtime, 'processor');
    const started = Date.now();
    process.kill(runtime.processor(1).pid!, 'SIGKILL');
    assert.equal((await crashed).payload, { processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: false });
    assert.ok(Date.now() - started >= 2 * deadlineMs, 'two starts, each given up at its deadline');
    assert.equal(processorPids(), [], 'no hung start left its child behind');
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** callDeadlineMs of the hang tests: a heartbeat a second long, answered at once by any processor that runs, loaded machine or not. */
const HANG_DEADLINE_MS = 1_000;

for (const how of ['SIGSTOP', 'a handler on its thread 0 that never returns'] as const) {
  test(`processor hung (${how}) - no heartbeat answer within callDeadlineMs: killed, its pending call rejected (WORKER_CRASHED), restarted, reported as hung; stop() leaves no process`, async () => {
    // Stopped, the process has a worker too: the call to it waits on the processor's main thread, and the worker dies with the process.
    const threads = how === 'SIGSTOP' ? 1 : 0;
    const runtime = createRuntime({ processors: 1, threadsPerProcessor: threads, deferred: 'manual', callDeadlineMs: HANG_DEADLINE_MS });
    await runtime.ready;
    const pid = runtime.processor(1).pid!;
    try {
      const stale = runtime.thread(1, threads).bus('external') as RemoteBus;
      const crashed = nextCrash(runtime, 'processor');
      if (how === 'SIGSTOP') process.kill(pid, 'SIGSTOP');
      else {
        const actor = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { processor: 1, thread: 0 });
        void actor.send({ type: 'crash.hang' }).catch(() => undefined);
      }
      // Never answered: the processor's main thread runs no more.
      const failure: unknown = await stale.post('order.created', { id: 1 }).then(() => undefined, (error: unknown) => error);
      assert.ok(isBusError(failure, 'WORKER_CRASHED'), String(failure));
      assert.match(failure.message, /^processor 1 answered nothing within 1000 ms \(callDeadlineMs\): it is taken to be hung .*was killed/);
      assert.equal((await crashed).payload, {
        processor: 1,
        thread: null,
        reason: 'hung',
        message: 'it hung (answered nothing within 1000 ms) and was killed',
        restarted: true,
      });
      assert.ok(isGone(pid), 'the hung process was killed, its workers with it');
      assert.ok(runtime.processor(1).pid !== pid, 'a successor runs');
      const refused: unknown = await stale.post('late', 1).then(() => undefined, (error: unknown) => error);
      assert.ok(isBusError(refused, 'WORKER_CRASHED'), String(refused));
      assert.match(refused.message, /^processor 1 hung and was killed before this call\. .*runtime\.thread\(1, thread\)\.bus\(side\)/);
      const fresh = await (runtime.thread(1, threads).bus('external') as RemoteBus).post('order.created', { id: 2 });
      assert.equal([fresh.origin.processor, fresh.origin.thread], [1, threads]);
    } finally {
      await runtime.stop();
    }
    assert.equal(processorPids(), [], 'no process left behind');
  });
}

test('processor idle, then in a call that waits by design, each for two callDeadlineMs - it answers its heartbeat and lives on; request() on its thread 0 times out as asked', async () => {
  const runtime = createRuntime({ processors: 1, deferred: 'manual', callDeadlineMs: HANG_DEADLINE_MS });
  await runtime.ready;
  try {
    const pid = runtime.processor(1).pid!;
    let crashes = 0;
    runtime.bus('internal').subscribe('busline.processor.crashed', () => void crashes++);
    // Idle (manual syncs): nothing but the heartbeat goes to the processor or comes back; no crash report comes within the window.
    const idle: unknown = await runtime.bus('internal').waitFor('busline.processor.crashed', { timeout: 2 * HANG_DEADLINE_MS }).then(() => undefined, (error: unknown) => error);
    assert.ok(isBusError(idle, 'TIMEOUT'), String(idle));
    // Nobody replies: the request waits its whole timeout, its thread polled meanwhile.
    const bus = runtime.thread(1, 0).bus('external') as RemoteBus;
    const unanswered: unknown = await bus.request('nobody.replies', {}, { timeout: 2 * HANG_DEADLINE_MS }).then(() => undefined, (error: unknown) => error);
    assert.ok(isBusError(unanswered, 'REQUEST_TIMEOUT'), String(unanswered));
    assert.is(runtime.processor(1).pid, pid, 'not killed');
    assert.is(crashes, 0);
    assert.is((await bus.post('order.created', { id: 1 })).origin.processor, 1);
  } finally {
    await runtime.stop();
  }
});

/** Runs fixtures/send-after-death.ts with `name` in a process of its own: its exit code, and the JSON lines it printed. */
function sendAfterDeath(name: string): Promise<{ code: number | null; lines: Array<Record<string, string>>; stderr: string }> {
  const fixture = fileURLToPath(new URL('./fixtures/send-after-death.ts', import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', fixture, name], { timeout: 120_000 }, (error, stdout, stderr) => {
      const lines = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, string>);
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, lines, stderr });
    });
  });
}

for (const name of ['post', 'bridge.open', 'stop']) {
  test(`processor dead, its 'exit' not yet seen - ${name} does not crash the root: the send fails as WORKER_CRASHED`, async () => {
    const { code, lines, stderr } = await sendAfterDeath(name);
    assert.is(code, 0, `the root process crashed:\n${stderr}`);
    const [call, restarted] = lines;
    if (name === 'stop') assert.equal(call, { case: 'stop', outcome: 'resolved' });
    else {
      assert.equal(call, { case: name, outcome: 'rejected', code: 'WORKER_CRASHED' });
      assert.equal(restarted, { case: 'restarted', outcome: JSON.stringify({ processor: 1, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: true }) });
    }
  });
}

test.run();
