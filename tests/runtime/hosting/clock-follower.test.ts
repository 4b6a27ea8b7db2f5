/**
 * `ClockFollower`: a worker (or child processor) that starts while the
 * runtime's `ManualClock` moves catches up once it runs, and `settled()`
 * waits for that catch-up; a running one is sent each new time.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../runtime/clock.js';
import { ClockFollower, type SetClock } from '../../../runtime/hosting/clock-follower.js';
import { gate, promiseState } from '../../helpers.js';

const test = suite('clock follower');

/** A worker's clock as the follower moves it: the times it was sent, each answered when `answer()` is called (or at once). */
function fakeWorker({ answerAtOnce = true } = {}) {
  const sent: number[] = [];
  const waiting: Array<() => void> = [];
  const set: SetClock = (now) => {
    sent.push(now);
    return answerAtOnce ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve));
  };
  return { sent, set, answer: () => waiting.shift()?.() };
}

/** `clock` followed by `follower`, as a runtime's workers follow it. */
function followed(clock: ManualClock): ClockFollower {
  const follower = new ClockFollower(clock);
  clock.follow((now) => follower.follow(now).then(() => undefined));
  return follower;
}

test('starting - the clock moves while it starts: settled() waits until it runs and has been sent the time', async () => {
  const clock = new ManualClock(1_000);
  const follower = followed(clock);
  const worker = fakeWorker();
  const started = gate<SetClock | undefined>();
  follower.starting(1_000, started.promise);
  clock.advance(500);
  const settled = clock.settled();
  assert.is(await promiseState(settled), 'pending', 'the worker has not started: it is not at 1 500 yet');
  started.open(worker.set);
  await settled;
  assert.equal(worker.sent, [1_500], 'caught up, once');
  // Running: each new time is sent to it, and awaited.
  await clock.advanceAsync(10);
  assert.equal(worker.sent, [1_500, 1_510]);
});

test('starting - no move while it starts: nothing to catch up, settled() does not wait for the start', async () => {
  const clock = new ManualClock(1_000);
  const follower = followed(clock);
  const worker = fakeWorker();
  const started = gate<SetClock | undefined>();
  follower.starting(1_000, started.promise);
  await clock.settled();
  started.open(worker.set);
  await clock.advanceAsync(0);
  assert.equal(worker.sent, [], 'it started at the clock\'s time');
  await clock.advanceAsync(5);
  assert.equal(worker.sent, [1_005]);
});

test('starting - the clock moves again during the catch-up: it is sent the last time before settled() resolves', async () => {
  const clock = new ManualClock(0);
  const follower = followed(clock);
  const worker = fakeWorker({ answerAtOnce: false });
  const started = gate<SetClock | undefined>();
  follower.starting(0, started.promise);
  clock.advance(100);
  started.open(worker.set);
  const first = clock.settled();
  await promiseState(first);
  assert.equal(worker.sent, [100]);
  clock.advance(100);
  assert.is(await promiseState(clock.settled()), 'pending');
  worker.answer();
  await promiseState(first);
  assert.equal(worker.sent, [100, 200], 'the second move is caught up too');
  worker.answer();
  await first;
  await clock.settled();
  assert.equal(worker.sent, [100, 200]);
});

test('starting - a restart: the old incarnation is no longer sent times; a failed start is not waited for again', async () => {
  const clock = new ManualClock(0);
  const follower = followed(clock);
  const old = fakeWorker();
  follower.starting(0, Promise.resolve(old.set));
  await clock.advanceAsync(1);
  assert.equal(old.sent, [1]);
  const failed = gate<SetClock | undefined>();
  follower.starting(1, failed.promise);
  clock.advance(1);
  const settled = clock.settled();
  assert.is(await promiseState(settled), 'pending', 'waits for the successor');
  failed.open(undefined);
  await settled;
  assert.equal(old.sent, [1], 'not sent to the predecessor');
  await clock.advanceAsync(1);
  const next = fakeWorker();
  follower.starting(clock.now(), Promise.resolve(next.set));
  await clock.advanceAsync(1);
  assert.equal(next.sent, [4]);
});

test.run();
