/**
 * Cross-thread benchmarks (issue 4, item 6), each against raw `postMessage`
 * to a plain `worker_threads` worker measured in the same run:
 *
 * - sync throughput: events a worker thread's bus delivers into the
 *   processor's local station with `toStation()` (batch encode → transferred
 *   frame on the data port → decode → station merge → Ack frame back),
 *   against raw transferred ArrayBuffers of the same sizes and count;
 * - round-trip latency of `fromStation()` with nothing new, in the worker
 *   (request and Ack frames), and from the root through `RemoteBus` (plus a
 *   control call), against a raw ping-pong of transferred buffers.
 */
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createRuntime, DEFAULT_PROCESSOR_EXEC_ARGV, type Runtime } from '../runtime/runtime.js';
import { runtimeCore } from '../runtime/runtime-core.js';
import type { RemoteBus, ThreadCaller } from '../runtime/bus/remote-bus.js';
import type { EventBatch } from '../runtime/wire/protocol.js';
import type { Station } from '../runtime/station/station.js';
import type { SyncPolicy } from '../runtime/station/sync-policy.js';
import type { WorkerHandle } from '../runtime/hosting/worker-api.js';
import { startWorker } from '../runtime/hosting/worker-host.js';
import { encodeFrame } from '../schemas/codec/index.js';
import type { BusEvent } from '../types.js';
import { median, p99Target, percentile, rateTarget, type Comparison, type LatencyComparison } from './harness.js';
import type { SyncWorkerApi } from './sync.worker.js';
import type { CodecPeerApi } from './codec-peer.worker.js';
import { scanMessage } from '../runtime/store/encoded-events.js';

const ROUNDS = 5;
const BATCH_EVENTS = 256;
/** 256-event batches per round of the toStation() benchmark. */
const BATCHES = 64;
/** Events of one large toStation() through createRuntime({ threadsPerProcessor: 1 }): 4 frames of 4096 events. */
const LARGE_EVENTS = 16_384;
/** Round trips per round of the latency benchmark: enough that its p99 is not one of three stalls. */
const ROUND_TRIPS = 1_000;
/** Issue 4's throughput targets for the cross-thread rows, against raw transferred buffers. */
const ISSUE_TARGET = { minRatio: 0.8, minRate: 3e6 };
/** Events per message of the structured-clone peer: a frame's worth, as the runtime sends them. */
const CLONE_EVENTS = 4096;

/**
 * The raw peer: a plain worker (no busline, no tsx) that sends fresh
 * transferred ArrayBuffers of given sizes as fast as postMessage takes them,
 * sends them one by one waiting for an ack after each, answers pings, or
 * receives event objects (structured clone) and keeps them.
 */
const RAW_WORKER = `
const { parentPort } = require('node:worker_threads');
let pending = [];
/** What the clone peer received this round: kept, as a bus keeps its history. */
let kept = [];
function sendNext() {
  const bytes = pending.shift();
  if (bytes === undefined) return;
  const buffer = new ArrayBuffer(bytes);
  new Uint8Array(buffer)[0] = 1;
  parentPort.postMessage(buffer, [buffer]);
}
parentPort.on('message', (message) => {
  if (message === 'ping') return parentPort.postMessage('pong');
  if (message instanceof Uint8Array) {
    // A frame-sized pong, transferred, as a station's Ack is.
    const pong = new Uint8Array(message.length);
    return parentPort.postMessage(pong, [pong.buffer]);
  }
  if (message === 'ack') return sendNext();
  if (message.kind === 'clone') {
    if (message.first) kept = [];
    for (const event of message.events) kept.push(event);
    return parentPort.postMessage(message.events.length);
  }
  if (message.kind === 'stream') {
    for (const bytes of message.sizes) {
      const buffer = new ArrayBuffer(bytes);
      new Uint8Array(buffer)[0] = 1;
      parentPort.postMessage(buffer, [buffer]);
    }
  } else if (message.kind === 'acked') {
    pending = [...message.sizes];
    sendNext();
  }
});
`;

export function startRawWorker(): Worker {
  const worker = new Worker(RAW_WORKER, { eval: true });
  worker.unref();
  return worker;
}

/** Seconds until the raw worker has delivered buffers of `sizes`, all sent at once. */
function rawStreamOnce(worker: Worker, sizes: readonly number[]): Promise<number> {
  return new Promise((resolve) => {
    let left = sizes.length;
    const start = process.hrtime.bigint();
    const onMessage = () => {
      if (--left > 0) return;
      worker.off('message', onMessage);
      resolve(Number(process.hrtime.bigint() - start) / 1e9);
    };
    worker.on('message', onMessage);
    worker.postMessage({ kind: 'stream', sizes });
  });
}

/** The raw peers take a millisecond or two: each is the median of five runs, so one hiccup does not decide. */
const RAW_REPEATS = 5;

/** The median of RAW_REPEATS runs of a raw peer, one after another. */
async function medianOfRaw(once: () => Promise<number>): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < RAW_REPEATS; i++) runs.push(await once());
  return median(runs);
}

/** `rawStreamOnce`, median of RAW_REPEATS runs. */
function rawStream(worker: Worker, sizes: readonly number[]): Promise<number> {
  return medianOfRaw(() => rawStreamOnce(worker, sizes));
}

/** Seconds until the raw worker has delivered buffers of `sizes`, each after the ack of the one before. */
function rawAckedOnce(worker: Worker, sizes: readonly number[]): Promise<number> {
  return new Promise((resolve) => {
    let left = sizes.length;
    const start = process.hrtime.bigint();
    const onMessage = () => {
      if (--left > 0) return void worker.postMessage('ack');
      worker.off('message', onMessage);
      resolve(Number(process.hrtime.bigint() - start) / 1e9);
    };
    worker.on('message', onMessage);
    worker.postMessage({ kind: 'acked', sizes });
  });
}

/** `rawAckedOnce`, median of RAW_REPEATS runs. */
function rawAcked(worker: Worker, sizes: readonly number[]): Promise<number> {
  return medianOfRaw(() => rawAckedOnce(worker, sizes));
}

/**
 * Seconds until the raw worker holds `events`, posted to it as plain objects
 * (structured clone) CLONE_EVENTS per message, all at once, and kept there:
 * what moving the same events to another thread costs without busline.
 */
function rawCloneOnce(worker: Worker, events: readonly BusEvent[]): Promise<number> {
  return new Promise((resolve) => {
    let left = events.length;
    const start = process.hrtime.bigint();
    const onMessage = (count: number) => {
      if ((left -= count) > 0) return;
      worker.off('message', onMessage);
      resolve(Number(process.hrtime.bigint() - start) / 1e9);
    };
    worker.on('message', onMessage);
    for (let first = 0; first < events.length; first += CLONE_EVENTS) {
      worker.postMessage({ kind: 'clone', first: first === 0, events: events.slice(first, first + CLONE_EVENTS) });
    }
  });
}

/** `rawCloneOnce`, median of RAW_REPEATS runs. */
function rawClone(worker: Worker, events: readonly BusEvent[]): Promise<number> {
  return medianOfRaw(() => rawCloneOnce(worker, events));
}

/** Bytes of the raw pings: about a SyncRequest frame. */
const PING_BYTES = 96;

/** Round-trip times (ns) of `count` raw pings: transferred buffers of PING_BYTES, answered in kind. */
async function rawPings(worker: Worker, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      const ping = new Uint8Array(PING_BYTES);
      worker.postMessage(ping, [ping.buffer]);
    });
    times.push(Number(process.hrtime.bigint() - start));
  }
  return times;
}

/** Frame sizes of `events` sent in batches of `size`, as a FrameChannel sends them (compress: 'auto'). */
function frameSizes(events: readonly BusEvent[], size: number): number[] {
  const sizes: number[] = [];
  for (let start = 0; start < events.length; start += size) {
    const batch: EventBatch = {
      kind: 'batch',
      seq: 1,
      from: { processor: 0, thread: 1, generation: 0, side: 'external' },
      history: events.slice(start, start + size),
      queue: [],
    };
    sizes.push(encodeFrame(batch, { compress: 'auto' }).length);
  }
  return sizes;
}

/** The codec peer: a worker that encodes batches; this thread scans each (as a station's channel does) and answers an Ack frame. */
async function startCodecPeer(): Promise<WorkerHandle<CodecPeerApi>> {
  const worker = await startWorker<CodecPeerApi>(new URL('./codec-peer.worker.ts', import.meta.url), { name: 'bench codec peer' });
  worker.port.on('message', (data: Uint8Array) => {
    const message = scanMessage(data);
    const ack = encodeFrame({ kind: 'ack', seq: message.seq, ok: true, credits: 8 }, { compress: false });
    worker.port.postMessage(ack, [ack.buffer as ArrayBuffer]);
  });
  return worker;
}

/** Attaches a bench worker's buses (thread 1 unless told) to processor 0's stations, as the runtime attaches its own workers. */
async function startSyncWorker(runtime: Runtime, sync?: SyncPolicy, thread = 1): Promise<WorkerHandle<SyncWorkerApi>> {
  const worker = await startWorker<SyncWorkerApi>(new URL('./sync.worker.ts', import.meta.url), {
    name: `bench thread 0.${thread}`,
    workerData: { processor: 0, thread, deferred: 'manual', bridge: runtime.bridge.direction, ...(sync === undefined ? {} : { sync }) },
  });
  const call = ((method: string, ...args: unknown[]) =>
    (worker.call as (m: string, ...a: unknown[]) => Promise<unknown>)(method, ...args)) as ThreadCaller['call'];
  runtimeCore(runtime).attachThread(0, thread, worker.port, call, worker.exited);
  return worker;
}

/**
 * 256-event toStation()s, one after another, timed inside the worker, against
 * the raw worker streaming the same buffers, and sending them one ack at a time.
 */
async function smallBatches(raw: Worker): Promise<Comparison[]> {
  const runtime = createRuntime({ deferred: 'manual' });
  const worker = await startSyncWorker(runtime);
  const codecPeer = await startCodecPeer();
  const syncRates: number[] = [];
  const streamRates: number[] = [];
  const ackedRates: number[] = [];
  const codecRates: number[] = [];
  let generation = 0;
  let posted = 0;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      let ns = 0;
      for (let batch = 0; batch < BATCHES; batch++) {
        await worker.call('benchPost', BATCH_EVENTS, posted);
        posted += BATCH_EVENTS;
        const result = await worker.call('benchToStation', generation);
        generation = result.generation;
        ns += result.ns;
      }
      const events = BATCHES * BATCH_EVENTS;
      const station = runtime.station('external');
      if (station.size !== posted) throw new Error(`the station holds ${station.size} events, ${posted} were sent`);
      const sizes = frameSizes(station.history().slice(-events), BATCH_EVENTS);
      const stream = await rawStream(raw, sizes);
      const acked = await rawAcked(raw, sizes);
      const codecNs = await codecPeer.call('stream', BATCHES, BATCH_EVENTS, posted);
      // Round 0 warms up (JIT, worker start) and is not counted.
      if (round === 0) continue;
      syncRates.push(events / (ns / 1e9));
      streamRates.push(events / stream);
      ackedRates.push(events / acked);
      codecRates.push(events / (codecNs / 1e9));
    }
  } finally {
    await runtime.stop();
    await worker.terminate();
    await codecPeer.terminate();
  }
  const subject = median(syncRates);
  return [
    {
      name: 'toStation() in a worker, 256-event batches',
      subject,
      peerName: 'raw postMessage stream, same',
      peer: median(streamRates),
      target: rateTarget(subject, median(streamRates), ISSUE_TARGET),
    },
    { name: 'toStation() in a worker, 256-event batches', subject, peerName: 'raw postMessage, ack after each', peer: median(ackedRates) },
    {
      name: 'toStation() in a worker, 256-event batches',
      subject,
      peerName: 'encode → postMessage → scan → Ack, no bus',
      peer: median(codecRates),
    },
  ];
}

/**
 * What "thread U sees thread T's events" costs: thread 1 posts LARGE_EVENTS
 * and hands them to the station (`toStation()`, not timed), then thread 2's
 * `fromStation()` brings them into its bus, timed in thread 2 — the station's
 * reply frames (4096 events each, copied from the bytes it keeps), the hop,
 * decoding into event objects and the merge into its history. Peers: the same
 * events posted to a plain worker as objects (structured clone, 4096 per
 * message, kept there), and raw transferred buffers of the frames' sizes.
 */
async function delivery(raw: Worker): Promise<Comparison[]> {
  const runtime = createRuntime({ deferred: 'manual' });
  const producer = await startSyncWorker(runtime);
  const reader = await startSyncWorker(runtime, undefined, 2);
  const rates: number[] = [];
  const cloneRates: number[] = [];
  const streamRates: number[] = [];
  let generation = 0;
  let posted = 0;
  try {
    const station = runtime.station('external');
    for (let round = 0; round <= ROUNDS; round++) {
      await producer.call('benchPost', LARGE_EVENTS, posted);
      posted += LARGE_EVENTS;
      generation = (await producer.call('benchToStation', generation)).generation;
      const { ns, added } = await reader.call('benchRead');
      if (added !== LARGE_EVENTS) throw new Error(`fromStation() brought ${added} events, ${LARGE_EVENTS} were sent`);
      const events = station.history().slice(-LARGE_EVENTS);
      const clone = await rawClone(raw, events);
      const stream = await rawStream(raw, frameSizes(events, CLONE_EVENTS));
      if (round === 0) continue;
      rates.push(LARGE_EVENTS / (ns / 1e9));
      cloneRates.push(LARGE_EVENTS / clone);
      streamRates.push(LARGE_EVENTS / stream);
    }
  } finally {
    await runtime.stop();
    await producer.terminate();
    await reader.terminate();
  }
  const name = `fromStation(): ${LARGE_EVENTS / 1024}k events into another worker`;
  return [
    {
      name,
      subject: median(rates),
      peerName: 'raw postMessage stream, same',
      peer: median(streamRates),
      target: rateTarget(median(rates), median(streamRates), ISSUE_TARGET),
    },
    { name, subject: median(rates), peerName: 'postMessage of the events (cloned)', peer: median(cloneRates) },
  ];
}

/** Events of one round of the streaming benchmark. */
const STREAM_EVENTS = 32_768;

/** Resolves once `station` holds `size` events. */
function stationHolds(station: Station, size: number): Promise<void> {
  return new Promise((resolve) => {
    if (station.size >= size) return resolve();
    const subscription = station.actor.subscribe(() => {
      if (station.size < size) return;
      subscription.unsubscribe();
      resolve();
    });
  });
}

/**
 * End to end under the automatic sync policy: a producer in the worker posts
 * in chunks of 256 and yields; the policy (`maxBatch: 256`) syncs what was
 * posted, one sync at a time, while the producer goes on. Timed from the
 * root, from the start of the posts until the station holds every event:
 * posting, encoding, the hop, the merge, and the policy's read-back of each sync.
 * Second peer: the same worker creating and keeping as many event objects
 * (what any post costs at least, with no bus at all), in the same rounds.
 */
async function streamed(raw: Worker): Promise<Comparison[]> {
  const runtime = createRuntime({ deferred: 'manual' });
  const worker = await startSyncWorker(runtime, { everyMs: 60_000, maxBatch: BATCH_EVENTS });
  const rates: number[] = [];
  const rawRates: number[] = [];
  const floorRates: number[] = [];
  let posted = 0;
  try {
    const station = runtime.station('external');
    for (let round = 0; round <= ROUNDS; round++) {
      const start = process.hrtime.bigint();
      const arrived = stationHolds(station, posted + STREAM_EVENTS);
      await worker.call('benchStream', STREAM_EVENTS, BATCH_EVENTS, posted);
      await arrived;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      posted += STREAM_EVENTS;
      const stream = await rawStream(raw, frameSizes(station.history().slice(-STREAM_EVENTS), BATCH_EVENTS));
      const floorNs = await worker.call('benchKeepFloor', STREAM_EVENTS, posted);
      if (round === 0) continue;
      rates.push(STREAM_EVENTS / seconds);
      rawRates.push(STREAM_EVENTS / stream);
      floorRates.push(STREAM_EVENTS / (floorNs / 1e9));
    }
  } finally {
    await runtime.stop();
    await worker.terminate();
  }
  return [
    {
      name: 'post → sync policy → station, from a worker',
      subject: median(rates),
      peerName: 'raw postMessage stream, 256/frame',
      peer: median(rawRates),
      target: rateTarget(median(rates), median(rawRates), { minRate: ISSUE_TARGET.minRate }),
    },
    {
      name: 'post → sync policy → station, from a worker',
      subject: median(rates),
      peerName: 'create + keep event objects',
      peer: median(floorRates),
    },
  ];
}

/** Posts `count` events on a worker's bus, 32 per tick (RemoteBus sends each tick's posts in one control call). */
async function postRemote(bus: RemoteBus, count: number, first: number): Promise<void> {
  for (let i = 0; i < count; i += 32) {
    const posts: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(count, i + 32); k++) {
      const n = first + k;
      posts.push(bus.post(n % 3 === 0 ? 'order.created' : 'user.login', { user: 'u1', n }));
    }
    await Promise.all(posts);
  }
}

/**
 * The whole path through createRuntime({ threadsPerProcessor: 1 }), timed from
 * the root around `await bus.toStation()` (so with its control call): batches
 * of 256 events one after another, and one toStation() of LARGE_EVENTS, which
 * the worker's link sends as frames of 4096 events, several in flight.
 */
async function runtimeWorker(raw: Worker, notes: string[]): Promise<Comparison[]> {
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  const smallRates: number[] = [];
  const largeRates: number[] = [];
  const smallStreamRates: number[] = [];
  const largeStreamRates: number[] = [];
  const largeCloneRates: number[] = [];
  const postRates: number[] = [];
  const smallBatches = BATCHES / 2;
  try {
    await runtime.ready;
    let bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    let posted = 0;
    const station = runtime.station('external');
    for (let round = 0; round <= ROUNDS; round++) {
      let smallSeconds = 0;
      for (let batch = 0; batch < smallBatches; batch++) {
        await postRemote(bus, BATCH_EVENTS, posted);
        posted += BATCH_EVENTS;
        const start = process.hrtime.bigint();
        bus = await bus.toStation();
        smallSeconds += Number(process.hrtime.bigint() - start) / 1e9;
      }
      if (station.size !== posted) throw new Error(`the station holds ${station.size} events, ${posted} were sent`);
      const smallStream = await rawStream(raw, frameSizes(station.history().slice(-smallBatches * BATCH_EVENTS), BATCH_EVENTS));

      const postStart = process.hrtime.bigint();
      await postRemote(bus, LARGE_EVENTS, posted);
      postRates.push(LARGE_EVENTS / (Number(process.hrtime.bigint() - postStart) / 1e9));
      posted += LARGE_EVENTS;
      const start = process.hrtime.bigint();
      bus = await bus.toStation();
      const largeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (station.size !== posted) throw new Error(`the station holds ${station.size} events, ${posted} were sent`);
      const largeEvents = station.history().slice(-LARGE_EVENTS);
      const largeStream = await rawStream(raw, frameSizes(largeEvents, 4096));
      const largeClone = await rawClone(raw, largeEvents);
      if (round === 0) continue;
      largeCloneRates.push(LARGE_EVENTS / largeClone);
      smallRates.push((smallBatches * BATCH_EVENTS) / smallSeconds);
      largeRates.push(LARGE_EVENTS / largeSeconds);
      smallStreamRates.push((smallBatches * BATCH_EVENTS) / smallStream);
      largeStreamRates.push(LARGE_EVENTS / largeStream);
    }
  } finally {
    await runtime.stop();
  }
  notes.push(
    `RemoteBus rows: the events were posted by RemoteBus.post, 32 per tick (one control call each), at ${(median(postRates) / 1e3).toFixed(1)} k/s, not timed`,
  );
  return [
    {
      name: 'RemoteBus.toStation(), 256-event batches',
      subject: median(smallRates),
      peerName: 'raw postMessage stream, same',
      peer: median(smallStreamRates),
      target: rateTarget(median(smallRates), median(smallStreamRates), ISSUE_TARGET),
    },
    {
      name: `RemoteBus.toStation(), ${LARGE_EVENTS / 1024}k events (4096/frame)`,
      subject: median(largeRates),
      peerName: 'raw postMessage stream, same',
      peer: median(largeStreamRates),
      target: rateTarget(median(largeRates), median(largeStreamRates), ISSUE_TARGET),
    },
    {
      name: `RemoteBus.toStation(), ${LARGE_EVENTS / 1024}k events (4096/frame)`,
      subject: median(largeRates),
      peerName: 'postMessage of the events (cloned)',
      peer: median(largeCloneRates),
    },
  ];
}

/**
 * Round trips before the measured rounds, for the subject and the raw peer
 * alike. The subject's code paths (bus and station statecharts, codec) keep
 * being compiled for the first few thousand round trips, and on two cores the
 * JIT's background threads delay the thread wake-ups being measured: without
 * this the p99 measured the compiler (3-5 ms here), not the round trip.
 */
const WARMUP_ROUND_TRIPS = 3_000;

/**
 * Round-trip times of `measure` (ns, ROUND_TRIPS of them per call) against raw
 * pings, interleaved round by round after WARMUP_ROUND_TRIPS of each: medians
 * of the rounds' p50 and p99.
 */
async function latencyRounds(
  raw: Worker,
  measure: (count: number) => Promise<number[]>,
): Promise<Pick<LatencyComparison, 'subject' | 'peer'>> {
  const p50s: number[] = [];
  const p99s: number[] = [];
  const rawP50s: number[] = [];
  const rawP99s: number[] = [];
  for (let warm = 0; warm < WARMUP_ROUND_TRIPS; warm += ROUND_TRIPS) {
    await measure(ROUND_TRIPS);
    await rawPings(raw, ROUND_TRIPS);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const times = await measure(ROUND_TRIPS);
    const rawTimes = await rawPings(raw, ROUND_TRIPS);
    p50s.push(percentile(times, 0.5));
    p99s.push(percentile(times, 0.99));
    rawP50s.push(percentile(rawTimes, 0.5));
    rawP99s.push(percentile(rawTimes, 0.99));
  }
  return {
    subject: { p50: median(p50s), p99: median(p99s) },
    peer: { p50: median(rawP50s), p99: median(rawP99s) },
  };
}

/**
 * fromStation() with nothing new, called in the worker on its own bus and
 * timed there: one SyncRequest frame to the station and its Ack back — the
 * data plane's round trip — against a raw ping-pong of transferred buffers.
 * Measured where it runs: in this process (`processors: 0`, Node's default
 * heap unless node was started with other flags), or in a process started as
 * the runtime starts its processors (`inProcessor`).
 */
export async function dataPlaneRoundTrips(raw: Worker, where: 'here' | 'inProcessor' = 'here'): Promise<LatencyComparison[]> {
  const runtime = createRuntime({ deferred: 'manual' });
  const worker = await startSyncWorker(runtime);
  try {
    const measured = await latencyRounds(raw, (count) => worker.call('benchFromStation', count));
    const name = where === 'here' ? 'fromStation() in a worker, nothing new' : "fromStation() in a processor's worker";
    return [{ name, peerName: 'raw postMessage ping-pong', target: p99Target(measured.subject, measured.peer, 2), ...measured }];
  } finally {
    await runtime.stop();
    await worker.terminate();
  }
}

/**
 * `dataPlaneRoundTrips` in a child process forked with the flags the runtime
 * gives its processors (`DEFAULT_PROCESSOR_EXEC_ARGV`), the raw peer in the
 * same process: what a worker of a `createRuntime({ processors })` gets.
 */
function processorRoundTrips(): Promise<LatencyComparison[]> {
  const child = fork(new URL('./in-processor.ts', import.meta.url), [], {
    execArgv: ['--import', import.meta.resolve('tsx'), ...DEFAULT_PROCESSOR_EXEC_ARGV],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (rows) => resolve(rows as LatencyComparison[]));
    child.once('exit', (code) => reject(new Error(`the in-processor benchmark exited (${code}) without a result`)));
  });
}

/**
 * RemoteBus.fromStation() from the root, nothing new: the control call to the
 * worker (threads.js) on top of the data plane's round trip.
 */
async function roundTrips(raw: Worker): Promise<LatencyComparison[]> {
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    const bus = runtime.thread(0, 1).bus('external') as RemoteBus;
    const measured = await latencyRounds(raw, async (count) => {
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const start = process.hrtime.bigint();
        const { added } = await bus.fromStation();
        times.push(Number(process.hrtime.bigint() - start));
        if (added.length !== 0) throw new Error('fromStation() brought events; the station should be empty');
      }
      return times;
    });
    return [{ name: 'RemoteBus.fromStation() from the root', peerName: 'raw postMessage ping-pong', ...measured }];
  } finally {
    await runtime.stop();
  }
}

/** Every cross-thread benchmark, with one raw worker as the peer of all; `notes` say what the rows cannot. */
export async function crossThread(): Promise<{ rates: Comparison[]; latencies: LatencyComparison[]; notes: string[] }> {
  const raw = startRawWorker();
  const notes: string[] = [];
  try {
    const rates = [...(await smallBatches(raw)), ...(await streamed(raw)), ...(await runtimeWorker(raw, notes)), ...(await delivery(raw))];
    const latencies = [...(await dataPlaneRoundTrips(raw)), ...(await processorRoundTrips()), ...(await roundTrips(raw))];
    return { rates, latencies, notes };
  } finally {
    await raw.terminate();
  }
}
