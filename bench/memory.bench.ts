/**
 * Memory benchmarks (issue 20, "Measure"):
 * - bytes per stored event (heap + external after a full GC) against the
 *   event's encoded size in a 256-event frame, for a station's history (events
 *   kept as bytes) and a bus's (objects; and bytes, after syncs framed them,
 *   and after it read another thread's events from its station, in one
 *   read and in reads of 5 events, framed by its read framer),
 *   compression off and on, with a compressible payload and an incompressible one;
 * - post → deliver → history with compression on against off, with the
 *   default memory budget against none, and under a budget small enough that
 *   the bus evicts all along: `budget-throughput.ts` (each side in a process
 *   of its own).
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRuntime } from '../index.js';
import { encodeFrame } from '../schemas/codec/index.js';
import { UNREAD_ENDPOINT, scanBatch, scanDecodedMessage, type EncodedEvent } from '../runtime/store/encoded-events.js';
import { frameReadsOf } from '../runtime/bus/read-framer.js';
import { mergeReadHistory } from '../runtime/bus/read-merge.js';
import type { EventBatch } from '../runtime/wire/protocol.js';
import { MemoryPolicies } from '../runtime/store/memory-policy.js';
import { Retention } from '../runtime/store/retention.js';
import type { BusEvent, Payload } from '../types.js';
import { compressible } from './budget-throughput.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const EVENTS = 100_000;
const FRAME_EVENTS = 256;

/** 48 random bytes: nothing for snappy to find. */
const incompressible = (): Payload => new Uint8Array(randomBytes(48));

function events(payload: (i: number) => Payload): BusEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => ({
    id: `0.0.${i}`,
    type: i % 3 === 0 ? 'user.login' : 'user.logout',
    side: 'external',
    timestamp: 1_700_000_000_000 + i,
    origin: { processor: 0, thread: 0, generation: 0 },
    priority: 'normal',
    payload: payload(i),
  }));
}

/** Encoded bytes per event in frames of 256, and the events as a station holds them (still in those frames). */
function framed(all: readonly BusEvent[]): { bytes: number; encoded: BusEvent[] } {
  let bytes = 0;
  const encoded: BusEvent[] = [];
  for (let i = 0; i < all.length; i += FRAME_EVENTS) {
    const frame = encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: all.slice(i, i + FRAME_EVENTS), queue: [] });
    bytes += frame.byteLength;
    encoded.push(...scanBatch(frame).history);
  }
  return { bytes: bytes / all.length, encoded };
}

/** Heap + external after full collections, in a later turn: a `WeakRef`'s target lives until its turn ends. */
async function heldBytes(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/**
 * Bytes per event a history holds once `fill` has put the events in it (and
 * compression, when on, is done). With `synced`, a bus's: its events were
 * posted as objects, then each run of 256 went to the station in a frame,
 * which the history keeps them in from then on (`EventHistory.adopt`); the
 * station is not measured (in the runtime it holds the same frames).
 */
async function bytesPerEvent(fill: () => BusEvent[] | undefined, plain: boolean, compress: boolean, synced = false): Promise<number> {
  const before = await heldBytes();
  let source = fill();
  // Compression is opt-in (`memory.compression`).
  const policies = new MemoryPolicies({ compression: compress });
  const retention = new Retention(policies, () => 0, { blocks: { plain, schedule: 'manual' }, ...(synced ? { kind: 'bus' as const } : {}) });
  for (let i = 0; i < source!.length; i += FRAME_EVENTS) {
    const run = source!.slice(i, i + FRAME_EVENTS);
    if (synced) for (const event of run) retention.history.insert(event);
    else retention.history.merge(run);
  }
  if (synced) {
    for (let i = 0; i < source!.length; i += FRAME_EVENTS) {
      const sent = source!.slice(i, i + FRAME_EVENTS);
      retention.adopt(sent, framed(sent).encoded as EncodedEvent[]);
    }
  }
  source = undefined;
  while (retention.history.compact(50));
  const after = await heldBytes();
  if (retention.history.size !== EVENTS) throw new Error('history lost events');
  return (after - before) / EVENTS;
}

/**
 * Bytes per event a bus holds once it has read `EVENTS` from its station (one
 * `fromStation()` of another thread's events, through the default frame
 * transport): what its history and budget keep of the read, after the
 * delivered objects are gone. The station and the writer are measured before
 * and after alike, so they cancel out.
 */
export async function readBytesPerEvent(payload: (i: number) => Payload, create: typeof createRuntime = createRuntime): Promise<number> {
  const runtime = create({ transport: 'frames', deferred: 'manual' });
  try {
    const writer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    for (let i = 0; i < EVENTS; i++) writer.post(i % 3 === 0 ? 'user.login' : 'user.logout', payload(i), { priority: 'immediate' });
    await writer.sync();
    const before = await heldBytes();
    // What fromStation() returns is the caller's, and gone when it is: counted in a function of its own.
    const read = async (): Promise<number> => (await reader.fromStation()).added.length;
    const added = await read();
    if (added !== EVENTS) throw new Error(`the reader read ${added} events`);
    const after = await heldBytes();
    if (reader.history().length !== EVENTS) throw new Error('the reader\'s history lost events');
    return (after - before) / EVENTS;
  } finally {
    await runtime.stop();
  }
}

/** Events a small-reads row reads, in reads of `SMALL_READ_EVENTS`: reads as small as the sync policy's usually are. */
const SMALL_READS_EVENTS = 40_960;
const SMALL_READ_EVENTS = 5;

/**
 * Bytes per event a bus's history holds once it has merged `SMALL_READS_EVENTS`
 * read in replies of `SMALL_READ_EVENTS` (each reply a frame as the frame
 * transport hands it over, `scanDecodedMessage`; merged by `mergeReadHistory`)
 * and its read framer has framed them (`read-framer.ts`, the work of its idle
 * steps once memory is short), or not (`frame: false`: as before the framer).
 * The replies are made before the first measure and kept to the last, so they
 * cancel out; the least of three rounds (a heap measure only overshoots).
 */
export async function smallReadBytesPerEvent(payload: (i: number) => Payload, frame = true): Promise<number> {
  const all = events(payload).slice(0, SMALL_READS_EVENTS);
  const replies: Uint8Array[] = [];
  for (let at = 0; at < all.length; at += SMALL_READ_EVENTS) {
    replies.push(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: all.slice(at, at + SMALL_READ_EVENTS), queue: [] }));
  }
  all.length = 0;
  // A round in a function of its own: nothing of one round is alive in the next one's first measure.
  const round = async (): Promise<number> => {
    const before = await heldBytes();
    const retention = new Retention(new MemoryPolicies({ budget: { busBytes: 1 << 30 } }), () => 0, { kind: 'bus' });
    const framer = frameReadsOf(retention, { schedule: 'manual' });
    for (const reply of replies) mergeReadHistory(retention.history, retention, { batch: scanDecodedMessage(reply) as EventBatch });
    if (frame) framer.frame();
    const after = await heldBytes();
    if (retention.history.size !== SMALL_READS_EVENTS) throw new Error('the history lost events');
    return (after - before) / SMALL_READS_EVENTS;
  };
  let least = Infinity;
  for (let i = 0; i < 3; i++) least = Math.min(least, await round());
  return least;
}

/** The memory rows, as notes: bytes per event against the encoded size, with the targets. */
export async function storedBytes(): Promise<string[]> {
  const notes: string[] = [];
  for (const [name, payload] of [['compressible', compressible], ['incompressible', incompressible]] as const) {
    const { bytes: encodedBytes } = framed(events(payload));
    const holders = [
      ['station (bytes)', false, false],
      ['bus (objects)', true, false],
      ['bus (bytes, after syncs)', true, true],
    ] as const;
    for (const [holder, plain, synced] of holders) {
      for (const compress of [false, true]) {
        const fill = plain ? () => events(payload) : () => framed(events(payload)).encoded;
        const held = await bytesPerEvent(fill, plain, compress, synced);
        const ratio = held / encodedBytes;
        const goal =
          compress && name === 'compressible' ? { text: '< 1x', met: ratio < 1 } : !compress && (!plain || synced) ? { text: '≤ 1.2x', met: ratio <= 1.2 } : undefined;
        notes.push(
          `bytes per stored event, ${holder}, ${name} payload, compression ${compress ? 'on' : 'off'}: ${held.toFixed(0)} B against ` +
            `${encodedBytes.toFixed(0)} B encoded in ${FRAME_EVENTS}-event frames = ${ratio.toFixed(2)}x` +
            (goal === undefined ? '' : ` (target ${goal.text}: ${goal.met ? 'met' : 'NOT met'})`),
        );
      }
    }
    // A bus after reads: what one fromStation() of another thread's events left in its history.
    const read = await readBytesPerEvent(payload);
    const ratio = read / encodedBytes;
    notes.push(
      `bytes per stored event, bus (bytes, after reads), ${name} payload, compression off: ${read.toFixed(0)} B against ` +
        `${encodedBytes.toFixed(0)} B encoded in ${FRAME_EVENTS}-event frames = ${ratio.toFixed(2)}x (target ≤ 1.2x: ${ratio <= 1.2 ? 'met' : 'NOT met'})`,
    );
    // A bus after small reads (as the sync policy makes them), framed once memory is short.
    for (const frame of [false, true]) {
      const small = await smallReadBytesPerEvent(payload, frame);
      const smallRatio = small / encodedBytes;
      notes.push(
        `bytes per stored event, bus (${frame ? 'bytes' : 'objects'}, after ${SMALL_READ_EVENTS}-event reads${frame ? ', framed' : ''}), ${name} payload, ` +
          `compression off: ${small.toFixed(0)} B against ${encodedBytes.toFixed(0)} B encoded in ${FRAME_EVENTS}-event frames = ${smallRatio.toFixed(2)}x` +
          (frame ? ` (target ≤ 1.2x: ${smallRatio <= 1.2 ? 'met' : 'NOT met'})` : ''),
      );
    }
  }
  return notes;
}
