/**
 * One configuration, from a JSON file, across 1 processor × 2 threads: what
 * the file says (its sync policy, its memory policies) holds in the worker
 * threads of the child processor as in the root, and a wrong file is
 * explained whole before any process starts.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, InvalidOptionError, type RemoteBus, type RuntimeConfig } from '../../index.js';
import { processorPids } from '../helpers.js';

const test = suite('a JSON configuration across 1 processor x 2 threads');

/** The fixture's configuration, with a child processor of two worker threads. */
function config(): RuntimeConfig {
  const fromFile = JSON.parse(readFileSync(new URL('./fixtures/runtime-config.json', import.meta.url), 'utf8')) as RuntimeConfig;
  return JSON.parse(JSON.stringify({ ...fromFile, processors: 1, threadsPerProcessor: 2 })) as RuntimeConfig;
}

test('createRuntime - the file\'s sync policy and memory policies apply in the child processor\'s workers', async () => {
  const runtime = createRuntime(config());
  try {
    await runtime.ready;
    assert.equal(runtime.syncPolicy, { everyMs: 50, maxBatch: 64 });
    const one = runtime.thread(1, 1).bus('external') as RemoteBus;
    const two = runtime.thread(1, 2).bus('external') as RemoteBus;
    // The sync policy runs there: thread 1.1's event reaches thread 1.2 with no sync call.
    const arrived = two.waitFor('job.started', { timeout: 60_000 });
    const started = await one.post('job.started', { id: 1 });
    assert.is((await arrived).id, started.id);
    // The file's policy for `audit` (at most 100 events) holds in the worker's history.
    for (let i = 0; i < 105; i++) void one.post('audit', { i });
    await one.state();
    const audits = await one.history({ types: ['audit'] });
    assert.is(audits.length, 100);
    assert.equal(audits[0]?.payload, { i: 5 }, 'the oldest went');
  } finally {
    await runtime.stop();
  }
});

test('createRuntime - a wrong file is explained whole (every path) and starts no process', () => {
  const before = processorPids().length;
  const broken = { ...config(), processors: -1, threadsPerProcessor: 'two', sync: { everyMs: 0 } };
  const error = (() => {
    try {
      createRuntime(broken as never);
    } catch (thrown) {
      return thrown;
    }
    return undefined;
  })();
  assert.instance(error, InvalidOptionError);
  assert.equal((error as InvalidOptionError).issues.map((issue) => issue.path).sort(), ['processors', 'sync.everyMs', 'threadsPerProcessor']);
  assert.is(processorPids().length, before, 'no child processor was forked');
});

test.run();
