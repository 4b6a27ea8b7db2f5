/**
 * The interest tracker under `memory.compression`: events that leave once
 * delivered and wait for a reader that has not read are held as keys (stamp,
 * id, arrival, type, sender), not as places in the frames they came in, so
 * that those frames can go once the history moved the events into
 * compressed blocks. The reader still gets exactly its events, they leave
 * once it has read them, and a new generation does not read them back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent as PublicEvent, type Runtime } from '../../../index.js';
import { Arrivals } from '../../../runtime/station/arrivals.js';
import { Interest, withoutDeliveredTransient } from '../../../runtime/station/interest.js';
import { EncodedEvent, eventBatchOf } from '../../../runtime/store/encoded-events.js';
import { EventHistory } from '../../../runtime/store/history.js';
import { MemoryPolicies } from '../../../runtime/store/memory-policy.js';
import { encodeFrame, scanFrame } from '../../../schemas/codec/index.js';
import type { BusEvent, Endpoint } from '../../../types.js';
import { collectUntil, ids } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const test = suite('Interest under compression');

const origin = { processor: 0, thread: 1, generation: 0 };
const from = { ...origin, side: 'external' as const };
const policies = new MemoryPolicies({ policies: { log: { removeAfterDelivery: true } } });
const reader = (thread: number, generation = 0): Endpoint => ({ processor: 0, thread, generation, side: 'external' });

/** A history that compresses by hand, and arrivals wired to it as a station wires them. */
function compressing(): { history: EventHistory; arrivals: Arrivals } {
  const history = new EventHistory({ compression: { plain: false, now: () => 0, schedule: 'manual', keepEvents: 256, blockEvents: 512, maxBlockBytes: 1 << 20 } });
  const arrivals = new Arrivals((keys) => history.find(keys));
  history.onCompressed = (moved) => arrivals.compressed(moved);
  return { history, arrivals };
}

/** `batch` as a station gets it: places in one frame. */
function framed(batch: BusEvent[], seq: number): BusEvent[] {
  const scanned = scanFrame(encodeFrame({ kind: 'batch', seq, from, history: batch, queue: [] }));
  if (scanned.kind !== 'encodedBatch') throw new Error('expected an encoded batch');
  return [...eventBatchOf(scanned).history];
}

const logEvent = (i: number, type = 'log'): BusEvent => ({
  id: `0.1.${i}`, type, side: 'external', timestamp: 1000 + i, origin, priority: 'normal', payload: { i, text: 'the same line of a log, again and again' },
});

/** How many frames the history's uncompressed events are in. */
function segmentFrames(history: EventHistory): number {
  const buffers = new Set<ArrayBufferLike>();
  for (const segment of history.segments) for (const event of segment.slice()) if (event instanceof EncodedEvent) buffers.add(event.batch.body.buffer);
  return buffers.size;
}

/** The frames of `filled` still alive once collected (the history's and arrivals' own). */
async function filledFrames(interest: Interest, history: EventHistory, arrivals: Arrivals): Promise<number[]> {
  const { frames } = filled(interest, history, arrivals);
  arrivals.frameBytes();
  await collectUntil(gc, frames, 0);
  return frames.flatMap((frame, i) => (frame.deref() === undefined ? [] : [i]));
}

/** What a station does after a batch or a read: releases what every interested reader has read. */
function release(interest: Interest, history: EventHistory, arrivals: Arrivals): string[] {
  const released = history.remove(interest.release(arrivals, history.size));
  arrivals.remove(released, true);
  return ids(released);
}

/**
 * 40 batches of 128 events (a quarter `audit`, kept) from thread 1, held for readers 2 and 3 (expected, not read
 * yet), then compressed; returns WeakRefs to the buffers of the frames they came in.
 */
function filled(interest: Interest, history: EventHistory, arrivals: Arrivals): { sent: BusEvent[]; frames: WeakRef<ArrayBufferLike>[] } {
  const sent: BusEvent[] = [];
  const frames: WeakRef<ArrayBufferLike>[] = [];
  for (let round = 0; round < 40; round++) {
    const batch = Array.from({ length: 128 }, (_, i) => logEvent(round * 128 + i + 1, i % 4 === 0 ? 'audit' : 'log'));
    sent.push(...batch);
    const places = framed(batch, round);
    frames.push(new WeakRef((places[0] as EncodedEvent).batch.body.buffer));
    arrivals.add(history.merge(places), 'bus:0.1', '0.1');
    assert.equal(release(interest, history, arrivals), [], 'nothing read yet');
  }
  while (history.compact(1000));
  return { sent, frames };
}

test('release - events held for a reader that has not read keep no frame alive once compressed; it reads them all, then they leave', async () => {
  const { history, arrivals } = compressing();
  const interest = new Interest('external', policies);
  interest.expect(reader(2), 'external');
  interest.expect(reader(3), 'external');
  const { sent, frames } = filled(interest, history, arrivals);
  const logs = sent.filter((event) => event.type === 'log');
  assert.ok(history.compressedCount >= 4096, `${history.compressedCount} in blocks`);
  assert.is(interest.waiting, logs.length);
  // The frames the history keeps alive by itself (those of its uncompressed events, and of its newest block): a
  // control history fed the same, whose events no reader holds, keeps as many.
  const control = compressing();
  const kept = (await filledFrames(new Interest('external', new MemoryPolicies({})), control.history, control.arrivals)).length;
  assert.ok(kept <= 8 && segmentFrames(history) <= kept, `${kept} frames kept by the history`);
  // The arrival runs swap the places of the last events moved for keys lazily (amortized): now.
  arrivals.frameBytes();
  assert.is(await collectUntil(gc, frames, kept), kept, 'the frames of the compressed events are let go');

  // Reader 2 reads everything: it gets exactly what was sent; reader 3 still holds the logs.
  const read = arrivals.since(0, undefined, 'bus:0.2');
  assert.equal(ids(read.history), ids(sent));
  interest.noteRead(reader(2), undefined, read.through, arrivals.count);
  assert.equal(release(interest, history, arrivals), [], 'reader 3 has not read');
  assert.is(interest.waiting, logs.length);
  assert.is(await collectUntil(gc, frames, kept), kept, 'held for reader 3 now: still no frame');

  // A new generation of reader 2 reads from the start: what its thread delivered that leaves once delivered is not read back.
  const delivered = arrivals.deliveredFirst(history.snapshot(), arrivals.count);
  const again = withoutDeliveredTransient(delivered.history, delivered.alreadyDelivered, policies);
  assert.equal(ids(again.history), ids(sent.filter((event) => event.type === 'audit')));

  // Reader 3 reads them: they leave, found in the blocks; the audits stay.
  const third = arrivals.since(0, undefined, 'bus:0.3');
  assert.equal(ids(third.history), ids(sent));
  interest.noteRead(reader(3), undefined, third.through, arrivals.count);
  assert.equal(release(interest, history, arrivals).sort(), ids(logs).sort());
  assert.is(interest.waiting, 0);
  assert.equal(ids(history.snapshot()), ids(sent.filter((event) => event.type === 'audit')));
  assert.equal(ids(arrivals.since(0, undefined, 'bus:0.4').history), ids(sent.filter((event) => event.type === 'audit')));
});

test('release - a filtered reader hands held keys on to the next holder; events removed meanwhile are not released again', () => {
  const { history, arrivals } = compressing();
  const interest = new Interest('external', policies);
  interest.expect(reader(2), 'external');
  interest.expect(reader(3), 'external');
  const { sent } = filled(interest, history, arrivals);
  // Some logs leave another way (a limit, a search) while held.
  const other = history.remove(sent.slice(0, 100).filter((event) => event.type === 'log'));
  arrivals.remove(other);
  // Reader 2 reads only audits: it never asked for logs, so reader 3 holds them from now on.
  const audits = arrivals.since(0, ['audit'], 'bus:0.2');
  interest.noteRead(reader(2), ['audit'], audits.through, arrivals.count);
  assert.equal(release(interest, history, arrivals), []);
  interest.noteRead(reader(3), undefined, arrivals.count, arrivals.count);
  const released = interest.release(arrivals, history.size);
  const expected = sent.filter((event, i) => event.type === 'log' && i >= 100);
  assert.equal(ids(released).sort(), ids(expected).sort(), 'each held log once, found in the history; none of those gone');
  assert.is(history.remove(released).length, expected.length);
});

test('release - with traffic that always leaves something held, ids that do not pack do not pile up in the tables', () => {
  const { history, arrivals } = compressing();
  const interest = new Interest('external', policies);
  interest.expect(reader(2), 'external');
  interest.expect(reader(3), 'external');
  let readThrough = 0;
  let most = 0;
  for (let round = 0; round < 200; round++) {
    // A bridge's ids: a UUID-like tail, not `<prefix><sequence>`.
    const batch = Array.from({ length: 128 }, (_, i) => ({ ...logEvent(round * 128 + i + 1), id: `bridge-${(round * 128 + i).toString(16)}-x` }));
    arrivals.add(history.merge(framed(batch, round)), 'bus:0.1', '0.1');
    // Reader 2 reads each batch; reader 3 one behind: some are held at every release, never none.
    interest.noteRead(reader(2), undefined, arrivals.count, arrivals.count);
    interest.noteRead(reader(3), undefined, readThrough, arrivals.count);
    readThrough = arrivals.count;
    const released = release(interest, history, arrivals);
    if (round > 0) assert.is(released.length, 128, `round ${round}: the batch before is released`);
    if (round % 16 === 0) while (history.compact(1000));
    most = Math.max(most, interest.keptStrings);
  }
  // 25 600 such ids went through; without repacking the tables would keep them all.
  assert.ok(most <= 2 * 128 + 4096 + 8, `${most} strings kept at most`);
  assert.ok(interest.keptStrings <= 2 * 128 + 4096 + 8, `${interest.keptStrings} strings kept`);
});

test.run();

const station = suite('Station interest under compression');
let runtime: Runtime | undefined;
station.after.each(async () => {
  await runtime?.stop();
});

station('fromStation - with compression on, a ping waits for the reader that has not read, reaches it once, leaves, and a new generation does not read it back', async () => {
  runtime = createRuntime({
    transport: 'frames',
    deferred: 'manual',
    memory: { policies: { ping: { removeAfterDelivery: true } }, compression: { keepEvents: 16, blockEvents: 32 } },
  });
  const producer = runtime.bus('external');
  const [a, b] = [runtime.addThread(), runtime.addThread()];
  const seen: string[] = [];
  a.bus().subscribe(['ping', 'pong'], (event) => void seen.push(event.id));
  const posted: PublicEvent[] = [];
  for (let i = 0; i < 200; i++) posted.push(producer.post(i % 5 === 0 ? 'pong' : 'ping', i, { priority: 'immediate' }));
  await producer.toStation();
  const held = () => ids(runtime!.station('external').history({ types: ['ping'] }));
  const pings = ids(posted.filter((event) => event.type === 'ping'));
  assert.equal(held(), pings, 'a and b have not read');
  await a.bus().fromStation();
  assert.equal(held(), pings, 'b has not read');
  const reply = runtime.station('external').serve({
    kind: 'syncRequest',
    seq: 0,
    from: { processor: 0, thread: a.thread, generation: 1, side: 'external' },
    side: 'external',
    deliveredThrough: 200,
  });
  assert.equal(ids(reply.batch.history), ids(posted.filter((event) => event.type === 'pong')), 'a new generation of a reads no ping back');
  await b.bus().fromStation();
  assert.equal(held(), [], 'both have read them');
  assert.equal(seen, ids(posted));
});

station.run();
