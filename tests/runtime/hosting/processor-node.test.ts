/**
 * A processor's node in this process, its root played by the test at the
 * other end of a frame channel over a MessageChannel: what the node asks of
 * the root, and when, is seen and steered from here.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { MessageChannel } from 'node:worker_threads';
import { BusFullError, isBusError, type BusEvent } from '../../../index.js';
import { FrameChannel, messagePortFrames } from '../../../runtime/wire/frame-channel.js';
import { StationJournal } from '../../../runtime/store/journal.js';
import { ProcessorNode } from '../../../runtime/hosting/processor-node.js';
import type { Outcome, ProcessorInit, WireMessage } from '../../../runtime/wire/protocol.js';
import { RemoteBus, type ThreadCaller } from '../../../runtime/bus/remote-bus.js';
import { eventsFromFrame } from '../../../runtime/thread/thread-service.js';

const test = suite('ProcessorNode');

/** A journal as a killed processor 1 leaves it: its external station had accepted `count` events. */
async function journalOf(dir: string, count: number): Promise<void> {
  const journal = StationJournal.open(dir);
  const history: BusEvent[] = Array.from({ length: count }, (_, i) => ({
    id: `1.1.${i}`,
    type: 'order.created',
    side: 'external',
    timestamp: 1_000 + i,
    origin: { processor: 1, thread: 1, generation: 0 },
    priority: 'normal',
    payload: { i },
  }));
  journal.record({ op: 'accept', side: 'external', history, queue: [] });
  await journal.committed();
  await journal.close();
}

test('start - the sync policy starts only after the journal was resent: a policy round trip under way cannot make the start fail as busy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-node-test-'));
  await journalOf(dir, 3);
  const { port1, port2 } = new MessageChannel();
  // The root: takes batches at once; holds every read (a fromMain(), the second half of the policy's
  // round trip) until the start is over, so a round trip begun while the processor starts is still under way.
  const received: string[] = [];
  const heldReads: Array<() => void> = [];
  let started = false;
  const root = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    serve: async (message: WireMessage): Promise<readonly WireMessage[]> => {
      if (message.kind === 'batch') {
        for (const event of message.history) received.push(event.id);
        return [];
      }
      if (message.kind === 'syncRequest' && !started) await new Promise<void>((resolve) => heldReads.push(resolve));
      return [{ kind: 'ack', seq: 0, ok: true, credits: 0, through: 0 }];
    },
  });
  const init: ProcessorInit = {
    processor: 1,
    // A worker takes far longer to start than the policy's period: without the fix, its round trips run meanwhile.
    threads: 1,
    deferred: 'manual',
    maxQueued: 1_000,
    bridge: 'closed',
    sync: { everyMs: 1 },
    journal: dir,
    incarnation: 1,
  };
  const node = new ProcessorNode(messagePortFrames(port1), init);
  try {
    await node.start();
    assert.equal(received.sort(), ['1.1.0', '1.1.1', '1.1.2'], 'the restored history reached the root');
    assert.is(heldReads.length, 0, 'no policy round trip ran while the processor started');
  } finally {
    started = true;
    for (const release of heldReads.splice(0)) release();
    await node.stop();
    root.close();
    port1.close();
    port2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start - a resend the main station holds back (BUS_FULL: a reader elsewhere is behind) is no failed start: the policy pushes it once the main station takes batches again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-node-test-'));
  await journalOf(dir, 3);
  const { port1, port2 } = new MessageChannel();
  const received: string[] = [];
  let refusing = true;
  let pushed: () => void = () => {};
  const allPushed = new Promise<void>((resolve) => (pushed = resolve));
  const root = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    serve: async (message: WireMessage): Promise<readonly WireMessage[]> => {
      if (message.kind === 'batch' && message.history.length > 0) {
        if (refusing) throw new BusFullError(64, 32, 'backlog');
        for (const event of message.history) received.push(event.id);
        if (received.length === 3) pushed();
      }
      return message.kind === 'syncRequest' ? [{ kind: 'ack', seq: 0, ok: true, credits: 0, through: 0 }] : [];
    },
  });
  const init: ProcessorInit = {
    processor: 1,
    threads: 0,
    deferred: 'manual',
    maxQueued: 1_000,
    bridge: 'closed',
    sync: { everyMs: 2, maxBacklog: 32 },
    journal: dir,
    incarnation: 1,
  };
  const node = new ProcessorNode(messagePortFrames(port1), init);
  try {
    await node.start();
    assert.equal(received, [], 'refused while it started');
    refusing = false;
    await allPushed;
    assert.equal(received.sort(), ['1.1.0', '1.1.1', '1.1.2']);
  } finally {
    await node.stop();
    root.close();
    port1.close();
    port2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control - a thread call tagged with a restarted worker\'s incarnation (sent before the root heard of the restart) is refused WORKER_CRASHED, never reaches the successor', async () => {
  const { port1, port2 } = new MessageChannel();
  const root = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    serve: async (message: WireMessage): Promise<readonly WireMessage[]> =>
      message.kind === 'syncRequest' ? [{ kind: 'ack', seq: 0, ok: true, credits: 0, through: 0 }] : [],
  });
  const init: ProcessorInit = { processor: 1, threads: 1, deferred: 'manual', maxQueued: 1_000, bridge: 'closed' };
  // What the processor would report to the root: held here, so the root's view stays the dead worker's.
  let replaced!: (report: { thread: number; incarnation: number }) => void;
  const threadReplaced = new Promise<{ thread: number; incarnation: number }>((resolve) => (replaced = resolve));
  const node = new ProcessorNode(messagePortFrames(port1), init, (thread, incarnation) => replaced({ thread, incarnation }));
  let id = 1;
  /** A caller of thread 1 as the root makes it for the worker of `incarnation`. */
  const callerOf = (incarnation: number): ThreadCaller => ({
    processor: 1,
    thread: 1,
    call: ((method: string, ...args: unknown[]) =>
      node.control({ type: 'call', id: id++, target: 'thread', thread: 1, incarnation, method, args })) as ThreadCaller['call'],
    advanced: () => undefined,
  });
  try {
    await node.start();
    const first = callerOf(0);
    const stale = new RemoteBus(first, 'external', 0);
    await stale.post('before.crash', 1);
    const spawned = (await first.call('spawn', new URL('../fixtures/crashing.machine.ts', import.meta.url).href, {})) as Outcome<{ id: string }>;
    assert.ok(spawned.ok);
    const crashed = await first.call('sendActor', spawned.value.id, { type: 'crash.exit' });
    assert.is(crashed.ok ? 'answered' : crashed.code, 'WORKER_CRASHED', 'the worker died under the call');
    assert.equal(await threadReplaced, { thread: 1, incarnation: 1 });

    // The root has not heard of the restart: its handle still names incarnation 0. Every call through it is refused here.
    const expected = /^post\(\) on worker "processor 1 thread 1" was refused: the worker this handle was taken from crashed and was restarted/;
    const posting = await stale.post('after.crash', 2).then(() => undefined, (error: { code?: string; message?: string }) => error);
    assert.is(posting?.code, 'WORKER_CRASHED');
    assert.match(posting?.message ?? '', expected);
    const publishing = await stale.publish('after.crash', 3).then(() => 'published', (error: { code?: string }) => error.code);
    assert.is(publishing, 'WORKER_CRASHED');
    const listening = await first.call('listen', 'external', ['after.crash']);
    assert.is(listening.ok ? 'listening' : listening.code, 'WORKER_CRASHED');

    // The successor's bus got none of it: no event, no listener.
    const successor = callerOf(1);
    const history = await successor.call('history', 'external');
    assert.ok(history.ok);
    assert.equal(eventsFromFrame(history.value).map((event) => event.type), []);
    const queue = await successor.call('queue', 'external');
    assert.ok(queue.ok);
    assert.equal(eventsFromFrame(queue.value), []);
    const actors = await successor.call('actors');
    assert.ok(actors.ok);
    assert.equal(actors.value.filter((actor) => actor.kind !== 'bus'), [], 'no actor of the dead worker');
    // A handle made for the successor reaches it; thread 0 answers its only incarnation, 0, and refuses any other.
    const fresh = await new RemoteBus(successor, 'external', 0).post('after.restart', 4);
    assert.is(fresh.type, 'after.restart');
    assert.ok((await node.control({ type: 'call', id: id++, target: 'thread', thread: 0, incarnation: 0, method: 'actors', args: [] })).ok);
    const thread0 = await node.control({ type: 'call', id: id++, target: 'thread', thread: 0, incarnation: 1, method: 'actors', args: [] });
    assert.is(thread0.ok ? 'answered' : thread0.code, 'WORKER_CRASHED');
    const untagged = await node.control({ type: 'call', id: id++, target: 'thread', thread: 0, method: 'actors', args: [] } as never);
    assert.is(untagged.ok ? 'answered' : untagged.code, 'INVALID_OPTION');
    assert.match(untagged.ok ? '' : untagged.message, /incarnation must be an integer from 0/);
  } finally {
    await node.stop();
    root.close();
    port1.close();
    port2.close();
  }
});

test('stop - while its worker threads still start: the start is given up (RUNTIME_STOPPED), its worker terminated, not started once stop() resolved', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-node-test-'));
  // The worker's load is held (gated-start.middleware.ts) until stop() has resolved.
  process.env.START_GATE_DIR = dir;
  const { port1, port2 } = new MessageChannel();
  const root = new FrameChannel(messagePortFrames(port2), {
    end: 'b',
    serve: async (message: WireMessage): Promise<readonly WireMessage[]> =>
      message.kind === 'syncRequest' ? [{ kind: 'ack', seq: 0, ok: true, credits: 0, through: 0 }] : [],
  });
  const module = new URL('../fixtures/gated-start.middleware.ts', import.meta.url).href;
  const init: ProcessorInit = {
    processor: 1,
    threads: 1,
    deferred: 'manual',
    maxQueued: 1_000,
    bridge: 'closed',
    middleware: [{ href: module, export: undefined, index: 0 }],
  };
  const node = new ProcessorNode(messagePortFrames(port1), init);
  try {
    const started = node.start().then(
      () => 'started',
      (error: unknown) => (isBusError(error) ? error.code : String(error)),
    );
    // Polls a condition (no timing is assumed): the worker is loading its modules.
    while (!existsSync(join(dir, 'loading'))) await delay(20);
    const outcome = await Promise.race([node.stop().then(() => 'stop() resolved first'), started]);
    writeFileSync(join(dir, 'release'), '');
    assert.is(outcome, 'RUNTIME_STOPPED', 'the start was given up, and had ended before stop() resolved');
    assert.is(await started, 'RUNTIME_STOPPED', 'a worker that would finish starting after stop() was terminated instead');
  } finally {
    delete process.env.START_GATE_DIR;
    await node.stop();
    root.close();
    port1.close();
    port2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop - while its thread 0 still loads the middleware modules (an import that never settles): the start is given up (RUNTIME_STOPPED) before stop() resolves, which does not wait for the import', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-node-test-'));
  // The import writes this mark, then never settles (never-loads.middleware.ts).
  process.env.NEVER_LOADS_MARK = join(dir, 'loading');
  const { port1, port2 } = new MessageChannel();
  const root = new FrameChannel(messagePortFrames(port2), { end: 'b', serve: async (): Promise<readonly WireMessage[]> => [] });
  const module = new URL('../fixtures/never-loads.middleware.ts', import.meta.url).href;
  const init: ProcessorInit = {
    processor: 1,
    threads: 1,
    deferred: 'manual',
    maxQueued: 1_000,
    bridge: 'closed',
    middleware: [{ href: module, export: undefined, index: 0 }],
  };
  const node = new ProcessorNode(messagePortFrames(port1), init);
  try {
    const started = node.start().then(
      () => 'started',
      (error: unknown) => (isBusError(error) ? error.code : String(error)),
    );
    // Polls a condition (no timing is assumed): thread 0's import is under way.
    while (!existsSync(join(dir, 'loading'))) await delay(20);
    const outcome = await Promise.race([node.stop().then(() => 'stop() resolved first'), started]);
    assert.is(outcome, 'RUNTIME_STOPPED', 'the start was given up, and had ended before stop() resolved');
  } finally {
    delete process.env.NEVER_LOADS_MARK;
    await node.stop();
    root.close();
    port1.close();
    port2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop - before start(): every stop() is one, and a start() afterwards is refused (RUNTIME_STOPPED) without opening the journal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-node-test-'));
  const { port1, port2 } = new MessageChannel();
  const root = new FrameChannel(messagePortFrames(port2), { end: 'b', serve: async (): Promise<readonly WireMessage[]> => [] });
  const journal = join(dir, 'journal');
  const init: ProcessorInit = { processor: 1, threads: 0, deferred: 'manual', maxQueued: 1_000, bridge: 'closed', journal };
  const node = new ProcessorNode(messagePortFrames(port1), init);
  try {
    const first = node.stop();
    assert.is(node.stop(), first, 'one stop for every caller');
    assert.is(await first, null);
    const started = await node.start().then(
      () => 'started',
      (error: unknown) => (isBusError(error) ? error.code : String(error)),
    );
    assert.is(started, 'RUNTIME_STOPPED');
    assert.not.ok(existsSync(journal), 'no journal was opened');
  } finally {
    root.close();
    port1.close();
    port2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
