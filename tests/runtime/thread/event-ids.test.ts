/**
 * A thread's event ids (`Thread.nextId`): `<processor>.<thread>.<sequence>`,
 * never the same twice, even where a double stops counting up by one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError } from '../../../index.js';
import { busControl } from '../../../internal.js';
import { MAX_SEQUENCE, type Thread } from '../../../runtime/thread/thread.js';

const test = suite('event ids');

test('nextId - the last ids below 2^53 are given once each, then a post is refused (UNSUPPORTED), and stays refused', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const thread = busControl.thread(bus) as Thread;
    thread.startIdsAt(MAX_SEQUENCE - 1_000);
    const ids = new Set<string>();
    for (let i = 0; i < 1_000; i++) ids.add(bus.post('tick', i).id);
    assert.is(ids.size, 1_000);
    assert.ok(ids.has(`0.0.${MAX_SEQUENCE - 1_000}`));
    assert.ok(ids.has(`0.0.${MAX_SEQUENCE - 1}`));
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        bus.post('tick', 'one too many');
        assert.unreachable('a post past the last id was accepted');
      } catch (error) {
        assert.ok(isBusError(error, 'UNSUPPORTED'), String(error));
        assert.match((error as Error).message, 'never given twice');
      }
    }
    // Nothing refused was kept: the history holds the thousand.
    assert.is(bus.history({ types: ['tick'] }).length, 1_000);
  } finally {
    await runtime.stop();
  }
});

test.run();
