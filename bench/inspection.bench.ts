/**
 * What inspection costs: a worker thread's bus posts and syncs with its
 * station (256 posts per sync, the batch size of the sync policy's examples),
 * with inspection off against inspection on (`runtime.inspect()` running, one
 * WebSocket client reading every message). Inspection events come per
 * flushed batch and per sync step, not per event, and travel batched: the
 * ratio says what is left of the throughput.
 */
import { WebSocket } from 'ws';
import { createRuntime, type RemoteBus } from '../index.js';
import { median, rateAsync, type Comparison } from './harness.js';

const EVENTS = 20_480;
const PER_SYNC = 256;
const ROUNDS = 5;

async function workerRate(inspect: boolean): Promise<{ rate: number; messages: number }> {
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  let messages = 0;
  let client: WebSocket | undefined;
  try {
    await runtime.ready;
    if (inspect) {
      const url = await runtime.inspect({ port: 0 });
      client = new WebSocket(url.replace('http://', 'ws://'));
      client.on('message', () => messages++);
      await new Promise((resolve) => client!.once('open', resolve));
    }
    const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    const rate = await rateAsync(EVENTS, async () => {
      for (let i = 0; i < EVENTS; i += PER_SYNC) {
        const posts: Promise<unknown>[] = [];
        for (let j = 0; j < PER_SYNC; j++) posts.push(bus.post('order.placed', { n: i + j }));
        await Promise.all(posts);
        await bus.sync();
      }
    });
    return { rate, messages };
  } finally {
    client?.terminate();
    await runtime.stop();
  }
}

/** Posts and syncs of a worker thread with inspection on against off. */
export async function inspectionOverhead(): Promise<{ rates: Comparison[]; notes: string[] }> {
  const on: number[] = [];
  const off: number[] = [];
  let messages = 0;
  for (let round = 0; round < ROUNDS; round++) {
    off.push((await workerRate(false)).rate);
    const inspected = await workerRate(true);
    on.push(inspected.rate);
    messages = inspected.messages;
  }
  return {
    rates: [
      {
        name: 'worker post + sync, inspection on',
        subject: median(on),
        peerName: 'the same, inspection off',
        peer: median(off),
      },
    ],
    notes: [`inspection on: ${messages} inspection messages reached the WebSocket client for ${EVENTS} events`],
  };
}
