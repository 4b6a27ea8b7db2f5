/**
 * `startWorkerThreads` (runtime/hosting/processor-threads.ts) on its own: a
 * worker that started but cannot be attached to its processor is terminated,
 * never left running.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RuntimeStoppedError } from '../../../errors.js';
import { startWorkerThreads, type ThreadAttacher } from '../../../runtime/hosting/processor-threads.js';
import type { WorkerExit } from '../../../runtime/hosting/worker-api.js';
import { osThreads, threadsSince } from '../../helpers.js';

const test = suite('processor threads');

test('startWorkerThreads - a worker its processor refuses to attach (a runtime that stops) is terminated, and the start rejects with the refusal', async () => {
  const before = await osThreads();
  const refusal = new RuntimeStoppedError('attachThread');
  const exits: Array<Promise<WorkerExit> | undefined> = [];
  const threadsWhenOffered: number[] = [];
  const attacher: ThreadAttacher = {
    attachThread(_processor, _thread, _port, _call, exited) {
      exits.push(exited);
      threadsWhenOffered.push(threadsSince(before).length);
      throw refusal;
    },
  };
  const outcome = await startWorkerThreads(attacher, { processor: 1, count: 1, deferred: 'manual', maxQueued: 100, bridge: () => 'closed' }).then(
    () => 'started',
    (error: unknown) => error,
  );
  assert.is(outcome, refusal);
  assert.is(exits.length, 1, 'the worker started and was offered');
  assert.ok(threadsWhenOffered[0]! > 0, 'the worker ran on a thread of its own when it was offered');
  assert.equal(threadsSince(before), [], 'no worker runs once the start has rejected');
  assert.is((await exits[0])?.reason, 'terminated');
});

test.run();
