/**
 * The fuzz suite's engine (`npm run fuzz`, and a small seeded run in
 * `tests/fuzz.test.ts`): mutated frames into every decoder, hostile control
 * messages into a processor's and a thread's control API, and random calls
 * with hostile arguments into every public method of Runtime, Bus, RemoteBus,
 * Station and Bridge. Each case ends in one outcome:
 *
 * - `typed`: refused with a `BusError` (the only allowed outcome of a hostile case);
 * - `valid`: a case without hostile input that did what it should;
 * - `untyped`: something other than a `BusError` was thrown;
 * - `accepted`: hostile input was accepted, or a decoded message breaks `post()`'s rules;
 * - `hang`: no answer within the watchdog's time.
 *
 * Case `i` of seed `s` is drawn from its own seed, so any case replays alone
 * (`npm run fuzz -- --seed s --from i --cases 1`).
 */
import fc from 'fast-check';
import { MessageChannel } from 'node:worker_threads';
import { compressSync } from 'snappy';
import { BusError, isBusError } from '../../errors.js';
import { createRuntime, type Runtime } from '../../runtime/runtime.js';
import { FrameChannel, messagePortFrames } from '../../runtime/wire/frame-channel.js';
import { stationServer } from '../../runtime/station/links.js';
import { ProcessorNode } from '../../runtime/hosting/processor-node.js';
import type { ProcessorInit, WireMessage } from '../../runtime/wire/protocol.js';
import type { ThreadApi } from '../../runtime/thread/thread-service.js';
import { decodeEvents, decodeFrame, encodeFrame, scanFrame } from '../../schemas/codec/index.js';
import { assertWellFormed, bodyOf, compressedFrameAround, frameAround, mutate, mutation, snappyLengthPrefix, wireMessage } from '../schemas/fixtures.js';
import { serveThread } from '../runtime/fixtures/served-thread.js';
import { seededRandom } from '../helpers.js';
import * as pools from './values.js';
import type { Drawn, Slot } from './values.js';


export type Outcome = 'typed' | 'valid' | 'untyped' | 'accepted' | 'hang';

/** What a run found: counts per outcome, per target, and examples of each bad outcome. */
export interface FuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly counts: Record<Outcome, number>;
  readonly byTarget: Map<string, Record<Outcome, number>>;
  /** The first few cases of each bad outcome, with how to replay them. */
  readonly examples: Array<{ outcome: Outcome; index: number; target: string; detail: string }>;
  readonly elapsedMs: number;
}

export interface FuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** The first case index (to replay a case: `from: i, cases: 1`). */
  readonly from?: number;
  /** Include a runtime with a worker thread (slower; the CLI does, the test may not). */
  readonly workers?: boolean;
  /** How long a call may take before it counts as a hang. */
  readonly hangMs?: number;
  /** Called every `progressEvery` cases. */
  readonly onProgress?: (done: number, report: FuzzReport) => void;
  readonly progressEvery?: number;
}

/** The seed of case `index` of run `seed`. */
function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

type Random = () => number;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** Draws an argument: hostile with probability `p` (when the slot has hostile values). */
function draw(random: Random, slot: Slot, p: number): Drawn {
  const hostile = slot.hostile.length > 0 && random() < p;
  return { value: pick(random, hostile ? slot.hostile : slot.valid)(), hostile };
}

/** A case's verdict before the watchdog: what happened, and a line to show. */
interface Verdict {
  readonly outcome: Outcome;
  readonly detail: string;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 200)}`;
  return `non-error thrown: ${String(error).slice(0, 200)}`;
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'fn';
  if (typeof value === 'symbol' || typeof value === 'bigint') return String(value) + (typeof value === 'bigint' ? 'n' : '');
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'function' ? 'fn' : typeof v === 'bigint' ? `${v}n` : v));
    return text === undefined ? String(value) : text.slice(0, 80);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Judges a settled call: `hostile` input must be refused with a BusError. */
function judge(hostile: boolean, settled: { ok: true; value: unknown } | { ok: false; error: unknown }, label: string): Verdict {
  if (!settled.ok) {
    const error = settled.error;
    // An error that crossed from another thread without being a BusError arrives as TRANSPORT_FAILED: untyped at its source.
    if (isBusError(error) && !(error.code === 'TRANSPORT_FAILED' && hostile)) return { outcome: 'typed', detail: label };
    return { outcome: 'untyped', detail: `${label} -> ${describeError(error)}` };
  }
  return hostile ? { outcome: 'accepted', detail: `${label} -> accepted` } : { outcome: 'valid', detail: label };
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

const frameCase = fc.record({
  message: wireMessage,
  mutations: fc.array(mutation, { minLength: 0, maxLength: 3 }),
  how: fc.constantFrom('plain', 'compressed', 'snappy-damaged', 'header'),
  decoder: fc.constantFrom('decodeFrame', 'scanFrame'),
  header: fc.tuple(fc.nat(19), fc.nat(255)),
});

/** A mutated frame of any message kind into `decodeFrame` or `scanFrame` (+ `decodeEvents`). */
function frameTarget(seed: number): Verdict {
  const [input] = fc.sample(frameCase, { seed, numRuns: 1 });
  const { message, mutations, how, decoder, header } = input!;
  let frame: Uint8Array;
  try {
    const encoded = encodeFrame(message);
    const body = bodyOf(encoded);
    if (how === 'header') {
      frame = encoded.slice();
      const [at, value] = header;
      frame[at] = value;
    } else if (how === 'snappy-damaged') {
      const damaged = mutate(new Uint8Array(compressSync(body)), mutations);
      frame = frameAround(damaged, { compressed: true, uncompressedBytes: snappyLengthPrefix(damaged) ?? body.length });
    } else {
      const damaged = mutate(body, mutations);
      frame = how === 'compressed' ? compressedFrameAround(damaged) : frameAround(damaged);
    }
  } catch (error) {
    return { outcome: 'untyped', detail: `building the frame failed (a fixture bug): ${describeError(error)}` };
  }
  const label = `${decoder}(${message.kind}, ${how}, ${mutations.length} mutations)`;
  let decoded: WireMessage;
  try {
    if (decoder === 'decodeFrame') decoded = decodeFrame(frame);
    else {
      const scanned = scanFrame(frame);
      decoded =
        scanned.kind === 'encodedBatch'
          ? { kind: 'batch', seq: scanned.seq, from: scanned.from, history: decodeEvents(scanned), queue: scanned.queue }
          : scanned;
    }
  } catch (error) {
    return error instanceof BusError && error.name === 'FrameError'
      ? { outcome: 'typed', detail: label }
      : { outcome: 'untyped', detail: `${label} -> ${describeError(error)}` };
  }
  try {
    assertWellFormed(decoded, frame);
  } catch (error) {
    return { outcome: 'accepted', detail: `${label} decoded what post() would refuse: ${(error as Error).message}` };
  }
  return { outcome: 'valid', detail: label };
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

const COUNTER = new URL('../../examples/order-counter.machine.ts', import.meta.url).href;
const NOT_A_MACHINE = new URL('../runtime/fixtures/not-a-machine.ts', import.meta.url).href;
const BROKEN_IMPORT = new URL('../runtime/fixtures/broken-import.machine.ts', import.meta.url).href;

const moduleSlot: Slot = {
  valid: [() => COUNTER],
  hostile: [() => '', () => 5, () => null, () => NOT_A_MACHINE, () => BROKEN_IMPORT, () => 'file:///no/such/module.ts', () => ({})],
};
const spawnOptions = (remote: boolean): Slot => ({
  valid: [() => ({ input: { limit: 2 } }), () => ({ side: 'internal' }), () => ({ types: ['order'] })],
  hostile: [
    () => null,
    () => ({ colour: 1 }),
    () => ({ side: 'x' }),
    () => ({ types: [] }),
    () => ({ id: '' }),
    () => ({ processor: -1 }),
    () => ({ thread: 'x' }),
    ...(remote ? [() => ({ input: { callback: () => 1 } }), () => ({ input: Symbol('s') })] : []),
  ],
});

/** The world the calls go to: an embedded runtime with a served (remote) thread, and optionally one with a worker. */
export class World {
  runtime!: Runtime;
  served!: ReturnType<typeof serveThread>;
  workerRuntime: Runtime | undefined;
  node: ProcessorNode | undefined;
  nodeRoot: { runtime: Runtime; channel: FrameChannel } | undefined;
  threadApi!: ThreadApi;
  #age = 0;

  static async create(workers: boolean): Promise<World> {
    const world = new World();
    await world.#fresh();
    if (workers) {
      world.workerRuntime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
      await world.workerRuntime.ready;
    }
    return world;
  }

  async #fresh(): Promise<void> {
    this.runtime = createRuntime({ deferred: 'manual' });
    this.served = serveThread(this.runtime);
    this.threadApi = this.served.api;
    // A processor node in this process, its upstream served by the runtime's main stations.
    const { port1, port2 } = new MessageChannel();
    const runtime = this.runtime;
    const channel = new FrameChannel(messagePortFrames(port2), {
      end: 'b',
      name: 'fuzz root',
      serve: stationServer((side) => runtime.mainStation(side), () => runtime.bridge.direction),
    });
    const init: ProcessorInit = { processor: 7, threads: 0, deferred: 'manual', maxQueued: 100, bridge: 'closed' };
    this.node = new ProcessorNode(messagePortFrames(port1), init);
    await this.node.start();
    this.nodeRoot = { runtime, channel };
    this.#ports = [port1, port2];
  }

  #ports: Array<{ close(): void }> = [];

  /** Every `every` cases the embedded runtime starts afresh, so histories and threads stay small. */
  async age(every: number): Promise<void> {
    if (++this.#age < every) return;
    this.#age = 0;
    await this.#close();
    await this.#fresh();
  }

  async #close(): Promise<void> {
    await this.node?.stop().catch(() => undefined);
    this.nodeRoot?.channel.close();
    for (const port of this.#ports) port.close();
    await this.served.stop().catch(() => undefined);
    await this.runtime.stop();
  }

  async close(): Promise<void> {
    await this.#close();
    await this.workerRuntime?.stop();
  }
}

/** One call: its target's name, its arguments, and how to make it. */
interface Call {
  readonly target: string;
  readonly args: readonly Drawn[];
  run(...args: unknown[]): unknown;
}

type CallMaker = (world: World, random: Random) => Call | undefined;

const P = 0.6;
const call = (target: string, slots: readonly Slot[], run: (...args: unknown[]) => unknown) => (random: Random): Call => ({
  target,
  args: slots.map((slot) => draw(random, slot, P / Math.max(1, slots.length - 0.5))),
  run,
});

/** The public methods of a local `Bus` (or the root runtime's), by name. */
function busCalls(pickBus: (world: World, random: Random) => unknown, prefix: string): CallMaker[] {
  const on = (name: string, slots: readonly Slot[]): CallMaker => (world, random) => {
    const bus = pickBus(world, random) as Record<string, (...a: unknown[]) => unknown>;
    return call(`${prefix}.${name}`, slots, (...args) => bus[name]!.apply(bus, args))(random);
  };
  return [
    on('post', [pools.type, pools.payload, pools.postOptions]),
    on('subscribe', [pools.types, pools.handler, pools.subscribeOptions]),
    on('history', [pools.query]),
    on('get', [pools.eventId]),
    on('queue', []),
    on('drain', []),
    on('room', [pools.roomOptions]),
    on('fromStation', [pools.fromStationOptions]),
    on('sync', [pools.syncOptions]),
    on('roundTrip', [pools.fromStationOptions]),
    on('toStation', []),
  ];
}

function remoteBusCalls(pickBus: (world: World, random: Random) => unknown | undefined, prefix: string): CallMaker[] {
  const on = (name: string, slots: readonly Slot[]): CallMaker => (world, random) => {
    const bus = pickBus(world, random) as Record<string, (...a: unknown[]) => unknown> | undefined;
    if (bus === undefined) return undefined;
    return call(`${prefix}.${name}`, slots, (...args) => bus[name]!.apply(bus, args))(random);
  };
  return [
    on('post', [pools.type, pools.payload, pools.postOptions]),
    on('history', [pools.portableQuery]),
    on('queue', []),
    on('state', []),
    on('drain', []),
    on('room', [pools.roomOptions]),
    on('fromStation', [pools.fromStationOptions]),
    on('sync', [pools.syncOptions]),
    on('roundTrip', [pools.fromStationOptions]),
    on('toStation', []),
  ];
}

function stationCalls(): CallMaker[] {
  const station = (world: World, random: Random) =>
    (random() < 0.7 ? world.runtime.station(pick(random, ['internal', 'external'] as const)) : world.runtime.mainStation(pick(random, ['internal', 'external'] as const))) as unknown as Record<
      string,
      (...a: unknown[]) => unknown
    >;
  const on = (name: string, slots: readonly Slot[]): CallMaker => (world, random) => {
    const target = station(world, random);
    return call(`Station.${name}`, slots, (...args) => target[name]!.apply(target, args))(random);
  };
  return [
    on('history', [pools.query]),
    on('get', [pools.eventId]),
    on('queued', [pools.origin]),
    on('toMain', []),
    on('fromMain', [pools.fromStationOptions]),
    on('roundTrip', [pools.fromStationOptions]),
  ];
}

function bridgeCalls(): CallMaker[] {
  const on = (name: string, slots: readonly Slot[]): CallMaker => (world, random) => {
    const bridge = world.runtime.bridge as unknown as Record<string, (...a: unknown[]) => unknown>;
    return call(`Bridge.${name}`, slots, (...args) => bridge[name]!.apply(bridge, args))(random);
  };
  return [
    on('open', []),
    on('unlock', []),
    ...['close', 'onlyToExternal', 'onlyToInternal', 'lock'].map((name) => on(name, [pools.closeOptions])),
  ];
}

function runtimeCalls(): CallMaker[] {
  const on = (name: string, slots: readonly Slot[], wrap?: (value: unknown) => unknown): CallMaker => (world, random) => {
    const runtime = world.runtime as unknown as Record<string, (...a: unknown[]) => unknown>;
    return call(`Runtime.${name}`, slots, (...args) => {
      const value = runtime[name]!.apply(runtime, args);
      return wrap === undefined ? value : wrap(value);
    })(random);
  };
  const threadBus: CallMaker = (world, random) =>
    call('Runtime.thread().bus', [pools.index, pools.index, pools.optionalSide], (processor, thread, side) =>
      world.runtime.thread(processor as number, thread as number).bus(side as never),
    )(random);
  const createAndStop: CallMaker = (_world, random) =>
    call('createRuntime', [pools.runtimeOptions], (options) => {
      const runtime = createRuntime(options as never);
      return runtime.stop();
    })(random);
  const spawn = (remote: boolean): CallMaker => (world, random) =>
    call(`Runtime.spawn(${remote ? 'remote' : 'local'})`, [moduleSlot, spawnOptions(remote)], (module, options) => {
      // To the served thread 1 unless the options are not an object or name a thread themselves.
      const plain = typeof options === 'object' && options !== null && !('thread' in options);
      return world.runtime.spawn(module as string, (remote && plain ? { ...options, thread: 1 } : options) as never);
    })(random);
  const send = (remote: boolean): CallMaker => (world, random) =>
    call(`SpawnedActor.send(${remote ? 'remote' : 'local'})`, [remote ? pools.remoteActorEvent : pools.actorEvent], async (event) => {
      const actor = await world.runtime.spawn(COUNTER, remote ? { thread: 1 } : {});
      try {
        await actor.send(event as never);
      } finally {
        await actor.stop();
      }
    })(random);
  return [
    on('bus', [pools.optionalSide, pools.where]),
    on('station', [pools.side, { valid: [() => 0, () => undefined], hostile: pools.index.hostile }]),
    on('mainStation', [pools.side]),
    on('processor', [pools.index]),
    on('addThread', [pools.addThreadOptions]),
    on('actors', []),
    threadBus,
    createAndStop,
    spawn(false),
    spawn(true),
    send(false),
    send(true),
  ];
}

const THREAD_METHODS = ['post', 'toStation', 'fromStation', 'roundTrip', 'sync', 'drain', 'room', 'history', 'queue', 'state', 'spawn', 'actors', 'sendActor', 'stopActor'] as const;

/** Values no parameter of a control call accepts: a call that gets one must refuse it. */
const strictlyHostile: ReadonlyArray<() => unknown> = [
  () => null,
  () => 5,
  () => 'x',
  () => [],
  () => () => 1,
  () => Symbol('s'),
  () => 10n,
  () => Number.NaN,
  () => -1,
  () => ({ colour: 1 }),
];

/**
 * Control messages a hostile or damaged peer could send: into a processor's
 * `control()` (what the root sends over IPC) and a thread's API (what a
 * processor calls across threads). The oracle: a message is valid only when
 * its kind, target and method exist and it carries no argument, or only
 * arguments the method ignores.
 */
function controlCalls(): CallMaker[] {
  const processorControl: CallMaker = (world, random) => {
    const node = world.node!;
    const kind = random();
    let message: unknown;
    let hostile = true;
    if (kind < 0.15) message = pick(random, pools.anything)();
    else if (kind < 0.3) {
      const type = pick(random, ['actors', 'init', 'gossip', undefined, 5]);
      message = { type, id: pick(random, [1, 'x', -1]) };
      hostile = type !== 'actors';
    } else {
      const target = pick(random, ['thread', 'station', 'nowhere', undefined]);
      const stationMethods = ['history', 'queued', 'state', 'fromMain', 'toMain', 'roundTrip', 'nope', 'constructor'];
      const method = pick(random, target === 'station' ? stationMethods : [...THREAD_METHODS, 'nope', 'toString', '__proto__']);
      const thread = pick(random, [0, 5, -1, 'x']);
      // Thread 0's worker is never restarted alone: 0 is its only incarnation.
      const incarnation = pick(random, [0, 0, 1, -1, 'x']);
      const side = pick(random, ['internal', 'sideways', 5]);
      const args = random() < 0.8 ? Array.from({ length: Math.floor(random() * 4) }, () => pick(random, strictlyHostile)()) : pick(random, strictlyHostile)();
      message = { type: 'call', id: 1, target, thread, incarnation, side, method, args };
      const listed = Array.isArray(args);
      const none = listed && args.length === 0;
      if (target === 'thread') hostile = !(thread === 0 && incarnation === 0 && listed && method === 'actors');
      if (target === 'station') {
        const ignoresArgs = ['state', 'queued', 'toMain'].includes(method) || (none && ['history', 'fromMain', 'roundTrip'].includes(method));
        hostile = !(side === 'internal' && listed && ignoresArgs);
      }
    }
    return {
      target: 'ProcessorNode.control',
      args: [{ value: message, hostile }],
      run: async (msg) => {
        const answer = await node.control(msg as never);
        if (!answer.ok) throw new BusError(answer.code as never, answer.message);
        return answer.value;
      },
    };
  };
  const threadApi: CallMaker = (world, random) => {
    const method = pick(random, THREAD_METHODS);
    const args = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ value: pick(random, strictlyHostile)(), hostile: method !== 'actors' }));
    return {
      target: `ThreadApi.${method}`,
      args,
      run: async (...values: unknown[]) => {
        const api = world.threadApi as unknown as Record<string, (...a: unknown[]) => Promise<{ ok: boolean; code?: string; message?: string; value?: unknown }>>;
        const answer = await api[method]!(...values);
        if (!answer.ok) throw new BusError(answer.code as never, answer.message ?? '');
        return answer.value;
      },
    };
  };
  return [processorControl, threadApi];
}

/** Every call maker, with the world it needs. */
function callMakers(workers: boolean): CallMaker[] {
  const sides = ['internal', 'external'] as const;
  return [
    ...busCalls((world, random) => world.runtime.bus(pick(random, sides)), 'Bus'),
    ...remoteBusCalls((world, random) => world.served.handle.bus(pick(random, sides)), 'RemoteBus(served)'),
    ...(workers ? remoteBusCalls((world, random) => world.workerRuntime?.thread(0, 1).bus(pick(random, sides)), 'RemoteBus(worker)') : []),
    ...stationCalls(),
    ...bridgeCalls(),
    ...runtimeCalls(),
    ...controlCalls(),
  ];
}

/** Runs `call` under the watchdog. */
async function settle(call: Call, hangMs: number): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown } | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), hangMs)));
  try {
    const running = (async () => call.run(...call.args.map((arg) => arg.value)))().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    return await Promise.race([running, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

const emptyCounts = (): Record<Outcome, number> => ({ typed: 0, valid: 0, untyped: 0, accepted: 0, hang: 0 });

/** Runs `cases` fuzz cases from `seed`. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const { cases, seed, from = 0, workers = false, hangMs = 5_000, progressEvery = 10_000 } = options;
  const counts = emptyCounts();
  const byTarget = new Map<string, Record<Outcome, number>>();
  const examples: FuzzReport['examples'] = [];
  const report = (): FuzzReport => ({ seed, cases, counts, byTarget, examples, elapsedMs: performance.now() - started });
  const world = await World.create(workers);
  const makers = callMakers(workers);
  // Subscribers and deliveries of fuzzed posts print nothing: the counts tell.
  const error = console.error;
  console.error = () => {};
  try {
    for (let index = from; index < from + cases; index++) {
      const random = seededRandom(caseSeed(seed, index));
      let target: string;
      let verdict: Verdict;
      if (random() < 0.35) {
        target = 'frames';
        verdict = frameTarget(caseSeed(seed, index));
      } else {
        const made = pick(random, makers)(world, random);
        if (made === undefined) continue;
        target = made.target;
        const hostile = made.args.some((arg) => arg.hostile);
        const label = `${made.target}(${made.args.map((arg) => show(arg.value)).join(', ')})`;
        const settled = await settle(made, hangMs);
        verdict = settled === 'hang' ? { outcome: 'hang', detail: `${label}: no answer within ${hangMs} ms` } : judge(hostile, settled, label);
        await world.age(2_000);
      }
      counts[verdict.outcome]++;
      let perTarget = byTarget.get(target);
      if (perTarget === undefined) byTarget.set(target, (perTarget = emptyCounts()));
      perTarget[verdict.outcome]++;
      if (verdict.outcome !== 'typed' && verdict.outcome !== 'valid') {
        if (examples.filter((e) => e.outcome === verdict.outcome && e.target === target).length < 3 && examples.length < 60) {
          examples.push({ outcome: verdict.outcome, index, target, detail: verdict.detail });
        }
      }
      if ((index - from + 1) % progressEvery === 0) options.onProgress?.(index - from + 1, report());
    }
  } finally {
    console.error = error;
    await world.close();
  }
  return report();
}

/** The report as text: counts, rate, per-target bad outcomes and examples with their replay command. */
export function formatReport(report: FuzzReport): string {
  const { counts, seed, cases, elapsedMs } = report;
  const lines = [
    `fuzz: ${cases} cases from seed ${seed} in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round(cases / (elapsedMs / 1000))} cases/s)`,
    `  typed BusError: ${counts.typed}   valid: ${counts.valid}   other exception: ${counts.untyped}   silently accepted: ${counts.accepted}   hang: ${counts.hang}`,
  ];
  for (const [target, perTarget] of [...report.byTarget].sort()) {
    const bad = perTarget.untyped + perTarget.accepted + perTarget.hang;
    lines.push(`  ${target.padEnd(34)} typed ${perTarget.typed}, valid ${perTarget.valid}${bad > 0 ? `, BAD: untyped ${perTarget.untyped}, accepted ${perTarget.accepted}, hang ${perTarget.hang}` : ''}`);
  }
  for (const example of report.examples) {
    lines.push(`  [${example.outcome}] case ${example.index}: ${example.detail}`);
    lines.push(`      replay: npm run fuzz -- --seed ${seed} --from ${example.index} --cases 1`);
  }
  return lines.join('\n');
}
