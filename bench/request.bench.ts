/**
 * What `bus.request()` costs: in one thread against a request-reply written
 * by hand on `node:events`, and across threads under the automatic sync
 * policy (an actor in a worker answers the root) against a bare
 * `postMessage` echo to a worker, for several sync periods — the period is
 * what a cross-thread reply waits for. `npm run bench -- request`.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { createRuntime, type RemoteBus } from '../index.js';
import { percentile, type LatencyComparison } from './harness.js';
import type { GroupResults } from './performance-doc.js';

const REPLIER = new URL('../tests/runtime/fixtures/replier.machine.ts', import.meta.url).href;

type Latency = { p50: number; p99: number };

/** p50 and p99 of `count` sequential calls of `call`, in ns, after `warmup` unmeasured ones. */
async function latencies(count: number, warmup: number, call: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/** The same exchange by hand on an EventEmitter: emit the request, the listener emits the reply, `once` awaits it. */
async function emitterPeer(count: number): Promise<Latency> {
  const emitter = new EventEmitter();
  let next = 0;
  emitter.on('user.get', ({ id, replyTo }: { id: string; replyTo: string }) => {
    queueMicrotask(() => emitter.emit(replyTo, { id, by: 'emitter' }));
  });
  return latencies(count, 200, () => {
    const replyTo = `reply.${next++}`;
    const reply = new Promise((resolve) => emitter.once(replyTo, resolve));
    emitter.emit('user.get', { id: 'u1', replyTo });
    return reply;
  });
}

/** A round trip to a worker that echoes what it gets: the floor of any cross-thread exchange. */
async function echoPeer(count: number): Promise<Latency> {
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", {
    eval: true,
  });
  try {
    return await latencies(count, 100, () => new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage({ id: 'u1' });
    }));
  } finally {
    await worker.terminate();
  }
}

/** `bus.request()` answered in the same thread. */
async function oneThread(count: number): Promise<Latency> {
  const runtime = createRuntime();
  try {
    const bus = runtime.bus('external');
    bus.reply('user.get', (request) => ({ id: (request.payload as { id: string }).id, by: 'root' }));
    return await latencies(count, 200, () => bus.request('user.get', { id: 'u1' }));
  } finally {
    await runtime.stop();
  }
}

/** The root's `bus.request()` answered by an actor in worker thread 1, under `sync: { everyMs }`; or worker 2 asking. */
async function crossThread(everyMs: number, count: number, from: 'root' | 'worker'): Promise<Latency> {
  const runtime = createRuntime({ threadsPerProcessor: 2, sync: { everyMs } });
  try {
    await runtime.ready;
    await runtime.spawn(REPLIER, { thread: 1 });
    const bus = from === 'root' ? runtime.bus('external') : (runtime.thread(0, 2).bus('external') as RemoteBus);
    return await latencies(count, 20, () => bus.request('user.get', { id: 'u1' }, { timeout: 30_000 }));
  } finally {
    await runtime.stop();
  }
}

/** Every measurement of the group. */
export async function requestLatency(): Promise<GroupResults> {
  const latencyRows: LatencyComparison[] = [];
  latencyRows.push({
    name: 'request → reply, one thread',
    subject: await oneThread(5_000),
    peerName: 'node:events, emit + once by hand',
    peer: await emitterPeer(5_000),
  });
  const echo = await echoPeer(1_000);
  for (const everyMs of [1, 5, 20]) {
    latencyRows.push({
      name: `request root → actor in a worker, sync.everyMs ${everyMs}`,
      subject: await crossThread(everyMs, everyMs === 20 ? 100 : 300, 'root'),
      peerName: 'postMessage echo to a worker',
      peer: echo,
    });
  }
  latencyRows.push({
    name: 'request worker 2 → actor in worker 1, sync.everyMs 5',
    subject: await crossThread(5, 300, 'worker'),
    peerName: 'postMessage echo to a worker',
    peer: echo,
  });
  return {
    rates: [],
    latencies: latencyRows,
    notes: [
      'A cross-thread request and its reply travel with the syncs: each asks the sync policy for a sync at once when posted, ' +
        'but the other thread reads it only at its own next sync (its period), so a round trip waits for at least one ' +
        "period on each side, plus the time the threads' timers and syncs take to get the CPU. Compare the rows at " +
        'different periods with the load average above: on a machine with more work than cores, scheduling, not the period, dominates.',
    ],
  };
}
