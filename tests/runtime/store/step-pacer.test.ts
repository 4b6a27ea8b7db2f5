/**
 * The pacing of default compression steps (`step-pacer.ts`): a small share of
 * a busy thread's time, more of an idle one's; measured by injected clocks.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUSY_SHARE, IDLE_SHARE, RECHECK_MS, STEP_MS, StepPacer, type PacerMeasures } from '../../../runtime/store/step-pacer.js';
import { ManualClock } from '../../../runtime/clock.js';
import { busRetention } from '../../../runtime/bus/memory-reports.js';
import { MemoryPolicies, checkMemoryOptions } from '../../../runtime/store/memory-policy.js';
import type { BusEvent } from '../../../types.js';
import { EventHistory } from '../../../runtime/store/history.js';
import { collectUntil } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const test = suite('StepPacer');

/**
 * Measures by hand: `clock` in ms, `busy` the loop's load since the last mark, `waits` what the pacer asked for;
 * the thread's CPU time is the clock less `waited` (time other processes held the CPU) plus `others` (other threads'
 * CPU time a process's clock counts).
 */
function measures(): PacerMeasures & { clock: number; waited: number; others: number; busy: number; waits: number[]; deferred: Array<() => void> } {
  const mark = { idle: 0, active: 0, utilization: 0 } satisfies EventLoopUtilization;
  const fake = {
    clock: 0,
    waited: 0,
    others: 0,
    busy: 1,
    waits: [] as number[],
    deferred: [] as Array<() => void>,
    now: () => fake.clock,
    cpu: () => fake.clock - fake.waited + fake.others,
    mark: () => mark,
    busySince: () => fake.busy,
    defer: (step: () => void, waitMs: number) => void (fake.waits.push(waitMs), fake.deferred.push(step)),
  };
  return fake;
}

test('waitLeft - a step waits its own duration times 1/share - 1: the busy share while the loop was busy since it ended, more of the time it idled', () => {
  const fake = measures();
  const pacer = new StepPacer(fake);
  const step = (ms: number) => () => ((fake.clock += ms), true);
  pacer.schedule(() => undefined);
  assert.equal(fake.waits, [0], 'the first step runs at the next turn');
  assert.ok(pacer.run(step(4)));
  const near = (wait: number, expected: number, what: string) => assert.ok(Math.abs(wait - expected) < 1e-9, `${what}: ${wait} ms, not ${expected}`);
  near(pacer.waitLeft(), 4 * (1 / BUSY_SHARE - 1), 'busy');
  fake.busy = 0;
  near(pacer.waitLeft(), 4 * (1 / IDLE_SHARE - 1), 'idle');
  fake.busy = 0.5;
  near(pacer.waitLeft(), 4 * (1 / (BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) / 2) - 1), 'half busy');
  // Time passes: the wait is counted from the step's end.
  fake.clock += 3;
  near(pacer.waitLeft(), 4 * (1 / (BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) / 2) - 1) - 3, 'half busy, 3 ms later');
  // No time passed since the step (NaN): busy.
  fake.busy = Number.NaN;
  pacer.run(step(6));
  near(pacer.waitLeft(), 6 * (1 / BUSY_SHARE - 1), 'no time since');
  // A short step is charged a whole step's budget: the next may take all of it.
  pacer.run(step(0.5));
  near(pacer.waitLeft(), STEP_MS * (1 / BUSY_SHARE - 1), 'a short step');
  // A step that throws is measured too.
  fake.busy = 0;
  assert.throws(() =>
    pacer.run(() => {
      fake.clock += 8;
      throw new Error('step');
    }),
  );
  near(pacer.waitLeft(), 8 * (1 / IDLE_SHARE - 1), 'after a throw');
  // A waiting step looks again at most RECHECK_MS later, and runs at once when nothing is left to wait.
  fake.busy = 1;
  pacer.schedule(() => undefined);
  assert.is(fake.waits.at(-1), RECHECK_MS);
  fake.busy = 0;
  fake.clock += 8;
  pacer.schedule(() => undefined);
  assert.is(fake.waits.at(-1), 0);
});

test('schedule - a thread that goes idle after a busy stretch takes its next step once the load since the last one allows it, not after a busy wait', () => {
  const fake = measures();
  const pacer = new StepPacer(fake);
  // A cold first step of 30 ms on a busy thread: a busy share would put the next off by 1 470 ms.
  pacer.run(() => ((fake.clock += 30), true));
  let ranAt: number | undefined;
  pacer.schedule(() => void (ranAt = fake.clock));
  const wake = () => {
    for (const due of fake.deferred.splice(0)) due();
  };
  // Still busy 100 ms on: the step waits on.
  fake.clock += 100;
  wake();
  assert.is(ranAt, undefined);
  // Then the thread idles (10 % busy since the step): its share is now nearly the idle one's.
  fake.busy = 0.1;
  fake.clock += RECHECK_MS;
  wake();
  assert.is(ranAt, 30 + 100 + RECHECK_MS, 'it ran at the next look after the thread went idle');
  assert.ok(ranAt! < 30 + 30 * (1 / BUSY_SHARE - 1));
});

test('schedule - the share is the thread\'s: a step of one history puts off the steps of the others', () => {
  const fake = measures();
  const pacer = new StepPacer(fake);
  pacer.run(() => ((fake.clock += 4), true));
  const ran: string[] = [];
  const stepOf = (name: string) => () => void pacer.run(() => (ran.push(name), (fake.clock += 4), true));
  pacer.schedule(stepOf('a'));
  pacer.schedule(stepOf('b'));
  const busyWait = 4 * (1 / BUSY_SHARE - 1);
  assert.equal(fake.waits, [RECHECK_MS, RECHECK_MS], 'both look again after RECHECK_MS at most');
  fake.clock += busyWait;
  for (const due of fake.deferred.splice(0)) due();
  assert.equal(ran, ['a'], 'b waits for the share of a\'s step');
  assert.equal(fake.waits.slice(2), [RECHECK_MS]);
  fake.clock += busyWait;
  for (const due of fake.deferred.splice(0)) due();
  assert.equal(ran, ['a', 'b']);
});

test('waitLeft - the time a thread had is its CPU time and its idle time: on a loaded machine a busy thread waits for its CPU time, not the wall clock', () => {
  const fake = measures();
  const pacer = new StepPacer(fake);
  const near = (wait: number, expected: number, what: string) => assert.ok(Math.abs(wait - expected) < 1e-9, `${what}: ${wait} ms, not ${expected}`);
  const owed = 6 * (1 / BUSY_SHARE - 1);
  // A step of 6 ms of CPU that other processes stretched to 15 ms of wall time counts 6 ms.
  pacer.run(() => ((fake.clock += 15), (fake.waited += 9), true));
  near(pacer.waitLeft(), owed, 'the step counts its CPU time');
  // Busy, and given the CPU a third of the time: 300 ms of wall time are 100 ms the thread had.
  fake.clock += 300;
  fake.waited += 200;
  near(pacer.waitLeft(), owed - 100, 'busy on a loaded machine');
  assert.ok(pacer.waitLeft() > 0, 'a share of the wall time would have let the step run');
  // Idle half of the time since: the idle time counts whole, the busy half by its CPU time.
  fake.busy = 0.5;
  const halfOwed = 6 * (1 / (BUSY_SHARE + (IDLE_SHARE - BUSY_SHARE) / 2) - 1);
  near(pacer.waitLeft(), halfOwed - (100 + 300 * 0.5), 'half idle: 100 ms of CPU and 150 ms idle');
});

test('waitLeft - a process\'s CPU time that counts other threads gives steps no more than their share of the wall time', () => {
  const fake = measures();
  const pacer = new StepPacer(fake);
  const near = (wait: number, expected: number, what: string) => assert.ok(Math.abs(wait - expected) < 1e-9, `${what}: ${wait} ms, not ${expected}`);
  // Three other busy threads: the process's clock runs four times as fast as this thread's.
  pacer.run(() => ((fake.clock += 5), (fake.others += 15), true));
  near(pacer.waitLeft(), 5 * (1 / BUSY_SHARE - 1), 'the step counts its wall time at most');
  fake.clock += 50;
  fake.others += 150;
  near(pacer.waitLeft(), 5 * (1 / BUSY_SHARE - 1) - 50, 'the time since counts the wall time at most');
});

test('allow - a stopped runtime\'s buses compress no more: their steps due after stop() move nothing', async () => {
  const host = { memory: new MemoryPolicies(checkMemoryOptions({ compression: { keepEvents: 0, blockEvents: 8 } })), clock: new ManualClock(0), running: true };
  const thread = { host, processor: 0, index: 0, bus: () => ({ post: () => undefined }) } as unknown as Parameters<typeof busRetention>[0];
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const [running, stopped] = [busRetention(thread, 'external'), busRetention(thread, 'internal')];
  const events = Array.from({ length: 64 }, (_, i): BusEvent => ({ id: `0.0.${i}`, type: 'user', side: 'external', timestamp: i, origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload: { n: i } }));
  running.history.merge(events);
  for (let i = 0; i < 8 && running.history.compressedCount === 0; i++) await turn();
  assert.ok(running.history.compressedCount > 0, 'a running one compresses in its idle steps');
  stopped.history.merge(events);
  host.running = false;
  for (let i = 0; i < 8; i++) await turn();
  assert.is(stopped.history.compressedCount, 0);
  assert.equal(stopped.history.snapshot(), events);
});

test('schedule - a history waiting for its step is held weakly: one nothing else holds is collected before its steps are done', async () => {
  const events = Array.from({ length: 40_000 }, (_, i): BusEvent => ({ id: `0.0.${i}`, type: 'user', side: 'external', timestamp: i, origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload: { n: i } }));
  const refs = [0, 1].map(() => {
    const history = new EventHistory({ compression: { plain: true, now: () => 0, keepEvents: 0, blockEvents: 1024 } });
    history.merge(events);
    return new WeakRef(history);
  });
  // Compressing 40 blocks takes a busy thread many turns; a history held by its pending step would outlive them.
  assert.is(await collectUntil(gc, refs), 0);
});

test.run();
