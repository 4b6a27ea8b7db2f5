/**
 * Core benchmarks (issue: "A first benchmark"):
 * - post → deliver → history, against node:events `emit` with the same listener;
 * - station merge rate for 256-event batches from interleaving threads.
 */
import { EventEmitter } from 'node:events';
import { createRuntime } from '../index.js';
import type { BusEvent } from '../types.js';
import { EventHistory } from '../runtime/store/history.js';
import { median, rate, rateAsync, rateTarget, type Comparison } from './harness.js';

const ROUNDS = 7;
const POSTS = 200_000;

/** post(immediate) → subscriber → history, against EventEmitter.emit → listener. */
export async function postVersusEmit(): Promise<Comparison[]> {
  const busRates: number[] = [];
  const normalRates: number[] = [];
  const emitRates: number[] = [];
  const emitKeepRates: number[] = [];
  let sink = 0;
  // The same work in both listeners: read one field of the payload.
  const listener = (payload: { n: number }) => {
    sink += payload.n;
  };
  const busListener = (event: BusEvent) => listener(event.payload as { n: number });
  for (let round = 0; round < ROUNDS; round++) {
    const emitter = new EventEmitter();
    emitter.on('user.login', listener);
    emitRates.push(
      rate(POSTS, () => {
        for (let i = 0; i < POSTS; i++) emitter.emit('user.login', { user: 'u1', n: i });
      }),
    );

    // The fair floor for anything with a history: emit, and keep each event.
    const kept: object[] = [];
    const keeper = new EventEmitter();
    keeper.on('user.login', listener);
    emitKeepRates.push(
      rate(POSTS, () => {
        for (let i = 0; i < POSTS; i++) {
          const payload = { user: 'u1', n: i };
          kept.push({ id: `0.0.${i}`, type: 'user.login', timestamp: Date.now(), payload });
          keeper.emit('user.login', payload);
        }
      }),
    );

    const runtime = createRuntime({ transport: 'memory' });
    const bus = runtime.bus('external');
    bus.subscribe('user.login', busListener);
    busRates.push(
      rate(POSTS, () => {
        for (let i = 0; i < POSTS; i++) bus.post('user.login', { user: 'u1', n: i }, { priority: 'immediate' });
      }),
    );
    if (bus.history().length !== POSTS) throw new Error('history lost events');
    await runtime.stop();

    const runtime2 = createRuntime({ transport: 'memory' });
    const bus2 = runtime2.bus('external');
    bus2.subscribe('user.login', busListener);
    normalRates.push(
      await rateAsync(POSTS, async () => {
        for (let i = 0; i < POSTS; i++) bus2.post('user.login', { user: 'u1', n: i });
        await Promise.resolve();
      }),
    );
    await runtime2.stop();
  }
  if (sink === 0) throw new Error('listener never ran');
  const peer = median(emitRates);
  return [
    {
      name: 'post(immediate) → deliver → history',
      subject: median(busRates),
      peerName: 'node:events emit',
      peer,
      target: rateTarget(median(busRates), peer, { minRatio: 0.3 }),
    },
    { name: 'post(immediate) → deliver → history', subject: median(busRates), peerName: 'emit + keep event in an array', peer: median(emitKeepRates) },
    { name: 'post(normal) → microtask deliver → history', subject: median(normalRates), peerName: 'node:events emit', peer },
  ];
}

/** Builds `threads` streams of events whose timestamps interleave, cut into 256-event batches. */
function interleavedBatches(threads: number, perThread: number, batchSize: number): BusEvent[][] {
  const batches: BusEvent[][] = [];
  const streams = Array.from({ length: threads }, (_, t) =>
    Array.from({ length: perThread }, (_, i): BusEvent => ({
      id: `0.${t}.${i}`,
      type: i % 3 === 0 ? 'order.created' : 'user.login',
      side: 'external',
      timestamp: 1_700_000_000_000 + i + t / 8,
      origin: { processor: 0, thread: t, generation: 0 },
      priority: 'normal',
      payload: { n: i },
    })),
  );
  for (let start = 0; start < perThread; start += batchSize) {
    for (const stream of streams) batches.push(stream.slice(start, start + batchSize));
  }
  return batches;
}

/** Station merge of 256-event batches (through the station actor), against pushing the same events into an array. */
export async function stationMerge(): Promise<Comparison[]> {
  const threads = 4;
  const perThread = 65_536;
  const total = threads * perThread;
  const batches = interleavedBatches(threads, perThread, 256);
  const stationRates: number[] = [];
  const historyRates: number[] = [];
  const pushRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runtime = createRuntime({ transport: 'memory' });
    const station = runtime.station('external');
    stationRates.push(
      rate(total, () => {
        for (const batch of batches) {
          station.accept({ kind: 'batch', seq: 0, from: batch[0]!.origin as never, history: batch, queue: [] });
        }
      }),
    );
    if (station.size !== total) throw new Error(`station holds ${station.size}, expected ${total}`);
    await runtime.stop();

    const history = new EventHistory();
    historyRates.push(
      rate(total, () => {
        for (const batch of batches) history.merge(batch);
      }),
    );
    const array: BusEvent[] = [];
    pushRates.push(
      rate(total, () => {
        for (const batch of batches) for (const event of batch) array.push(event);
      }),
    );
  }
  const peer = median(pushRates);
  return [
    {
      name: 'station merge, 256-event batches (actor path)',
      subject: median(stationRates),
      peerName: 'Array#push of same events',
      peer,
      target: rateTarget(median(stationRates), peer, { minRate: 10e6 }),
    },
    { name: 'history merge, 256-event batches (store only)', subject: median(historyRates), peerName: 'Array#push of same events', peer },
  ];
}
