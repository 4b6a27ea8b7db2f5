/**
 * `Arrivals`: the order events joined a station's history. Under
 * `memory.compression` the history keeps its older events in compressed
 * blocks and removes them as places there; the runs, told what moved, keep
 * those events as keys (stamp and id) and find them in the history when a
 * read reaches them, so that the frames they came in can go.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Arrivals } from '../../../runtime/station/arrivals.js';
import { Interest } from '../../../runtime/station/interest.js';
import { EncodedEvent, eventBatchOf } from '../../../runtime/store/encoded-events.js';
import { compareEvents, EventHistory } from '../../../runtime/store/history.js';
import { MemoryPolicies } from '../../../runtime/store/memory-policy.js';
import { encodeFrame, scanFrame } from '../../../schemas/codec/index.js';
import type { BusEvent } from '../../../types.js';

const test = suite('Arrivals');

const origin = { processor: 0, thread: 1, generation: 0 };
const from = { ...origin, side: 'external' as const };
const events = (count: number): BusEvent[] =>
  Array.from({ length: count }, (_, i) => ({ id: `0.1.${i + 1}`, type: 'log', side: 'external', timestamp: 1000 + i, origin, priority: 'normal', payload: { i } }));

test('remove - an event removed once in a compressed block is handed out no more, and leaves the runs', () => {
  const history = new EventHistory({ compression: { plain: false, now: () => 0, schedule: 'manual', keepEvents: 10, blockEvents: 100, maxBlockBytes: 1 << 20 } });
  const arrivals = new Arrivals();
  const sent = events(300);
  // As a station keeps them: places in the frame they came in.
  const scanned = scanFrame(encodeFrame({ kind: 'batch', seq: 0, from, history: sent, queue: [] }));
  if (scanned.kind !== 'encodedBatch') throw new Error('expected an encoded batch');
  arrivals.add(history.merge(eventBatchOf(scanned).history), 'bus:0.1', '0.1');
  while (history.compact(1000));
  assert.is(history.compressedCount, 200);

  const removed = history.remove(sent.slice(5, 7));
  assert.equal(removed.map((event) => event.id), ['0.1.6', '0.1.7']);
  arrivals.remove(removed);
  const read = arrivals.since(1, undefined, 'bus:0.2').history.map((event) => event.id);
  assert.equal(read, sent.slice(1).map((event) => event.id).filter((id) => id !== '0.1.6' && id !== '0.1.7'));

  // Half gone: the runs are rebuilt without them (and without the frames of events that all left).
  arrivals.remove(history.remove(sent.slice(7, 160)));
  assert.is(arrivals.held, 300 - 155);
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history.length, 300 - 155);
});

/** A history that compresses by hand, and arrivals wired to it as a station wires them. */
function compressing(keepEvents: number, blockEvents: number): { history: EventHistory; arrivals: Arrivals } {
  const history = new EventHistory({ compression: { plain: false, now: () => 0, schedule: 'manual', keepEvents, blockEvents, maxBlockBytes: 1 << 20 } });
  const arrivals = new Arrivals((keys) => history.find(keys));
  history.onCompressed = (moved) => arrivals.compressed(moved);
  return { history, arrivals };
}

/** `batch` as a station gets it: places in one frame. */
function framed(batch: readonly BusEvent[], seq = 0): BusEvent[] {
  const scanned = scanFrame(encodeFrame({ kind: 'batch', seq, from, history: batch, queue: [] }));
  if (scanned.kind !== 'encodedBatch') throw new Error('expected an encoded batch');
  return [...eventBatchOf(scanned).history];
}

/** The buffers of the frames the history's uncompressed events came in (not those of blocks). */
function segmentFrames(history: EventHistory): Set<ArrayBufferLike> {
  const buffers = new Set<ArrayBufferLike>();
  for (const segment of history.segments) {
    for (const event of segment.slice()) if (event.constructor === EncodedEvent) buffers.add((event as EncodedEvent).batch.body.buffer);
  }
  return buffers;
}

const bytesOf = (buffers: Set<ArrayBufferLike>): number => [...buffers].reduce((sum, buffer) => sum + buffer.byteLength, 0);
const segmentFrameBytes = (history: EventHistory): number => bytesOf(segmentFrames(history));

const logEvent = (i: number, timestamp = 1000 + i, type = 'log'): BusEvent => ({
  id: `0.1.${i}`, type, side: 'external', timestamp, origin, priority: 'normal', payload: { i, text: 'the same line of a log, again and again' },
});

test('compressed - events moved into blocks leave the runs as keys: the runs keep none of their frames, and reads find them in order', () => {
  const { history, arrivals } = compressing(512, 512);
  const sent: BusEvent[] = [];
  let allFrames = 0;
  for (let round = 0; round < 40; round++) {
    const batch = Array.from({ length: 128 }, (_, i) => logEvent(round * 128 + i + 1, 1000 + round * 128 + i, i % 4 === 0 ? 'audit' : 'log'));
    sent.push(...batch);
    const places = framed(batch, round);
    allFrames += (places[0] as EncodedEvent).batch.body.buffer.byteLength;
    arrivals.add(history.merge(places), 'bus:0.1', '0.1');
  }
  const before = arrivals.frameBytes();
  while (history.compact(1000));
  assert.ok(history.compressedCount >= 4096, `${history.compressedCount} in blocks`);
  // Only the frames of the events still uncompressed: the history holds them too.
  assert.is(arrivals.frameBytes(), segmentFrameBytes(history), 'the runs hold no frame of an event in a block');
  assert.ok(arrivals.frameBytes() * 5 < before && before === allFrames, `${arrivals.frameBytes()} of ${allFrames} bytes of frames`);

  const ids = (list: readonly BusEvent[]): string[] => list.map((event) => event.id);
  assert.equal(ids(arrivals.since(0, undefined, 'bus:0.2').history), ids(sent));
  assert.equal(ids(arrivals.since(1000, undefined, 'bus:0.2').history), ids(sent.slice(1000)));
  assert.equal(ids(arrivals.since(1000, ['audit'], 'bus:0.2').history), ids(sent.slice(1000).filter((event) => event.type === 'audit')));
  // A limited read takes the earliest arrivals, through keys and places alike.
  const limited = arrivals.since(100, undefined, 'bus:0.2', 4500);
  assert.equal(ids(limited.history), ids(sent.slice(100, 4600)));
  assert.is(limited.through, 4600);
  // What the reader sent itself is left out of its later reads.
  assert.equal(arrivals.since(10, undefined, 'bus:0.1').history, []);
  // Payloads come back as they were sent.
  assert.equal(arrivals.since(4, undefined, 'bus:0.2', 1).history[0]!.payload, sent[4]!.payload);
});

test('deliveredFirst - events in blocks that arrived after deliveredThrough are put after the delivered ones', () => {
  const { history, arrivals } = compressing(100, 100);
  const sent = Array.from({ length: 400 }, (_, i) => logEvent(i + 1));
  arrivals.add(history.merge(framed(sent.slice(0, 200), 0)), 'bus:0.1', '0.1');
  // Arrived later, stamped earlier than some of the first: the two parts interleave in the history's order.
  const late = sent.slice(200).map((event, i) => ({ ...event, timestamp: 1000 + 2 * i + 0.5 }));
  arrivals.add(history.merge(framed(late, 1)), 'bus:0.1', '0.1');
  while (history.compact(1000));
  assert.is(history.compressedCount, 300);
  const { history: ordered, alreadyDelivered } = arrivals.deliveredFirst(history.snapshot(), 200);
  assert.is(alreadyDelivered, 200);
  assert.equal(ordered.slice(0, 200).map((event) => event.id), sent.slice(0, 200).map((event) => event.id));
  assert.equal(ordered.slice(200).map((event) => event.id), [...late].sort(compareEvents).map((event) => event.id));
});

test('remove - events removed from blocks, or after they came back out of them, leave reads; isLive knows them by id', () => {
  const { history, arrivals } = compressing(10, 100);
  const sent = Array.from({ length: 300 }, (_, i) => logEvent(i + 1, 1000 + 2 * i));
  const places = framed(sent);
  arrivals.add(history.merge(places), 'bus:0.1', '0.1');
  while (history.compact(1000));
  assert.is(history.compressedCount, 200);
  arrivals.remove(history.remove([sent[5]!, sent[6]!]));
  // The interest tracker holds events at the places they came in: removed from a block, they are gone.
  assert.not.ok(arrivals.isLive(places[5]!));
  assert.ok(arrivals.isLive(places[7]!));
  // An event arriving among the blocks brings them back as segments: keys are found there, and removed there by place.
  const between = { ...logEvent(1000), timestamp: 1000 + 2 * 150 + 1 };
  arrivals.add(history.merge(framed([between], 1)), 'bus:0.3', '0.3');
  assert.ok(history.compressedCount < 200);
  arrivals.remove(history.remove([sent[160]!]));
  const expected = [...sent.filter((_, i) => i !== 5 && i !== 6 && i !== 160), between];
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history.map((event) => event.id), [...expected].sort(compareEvents).map((event) => event.id));
  // Half gone: the runs are rebuilt without them, keys included.
  arrivals.remove(history.remove(sent.slice(7, 160)));
  assert.is(arrivals.held, 301 - 156);
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history.length, 301 - 156);
});

test('interest - events in blocks are released once delivered, and their removal reaches the blocks', () => {
  const { history, arrivals } = compressing(10, 100);
  const interest = new Interest('external', new MemoryPolicies({ policies: { log: { removeAfterDelivery: true } } }));
  const sent = Array.from({ length: 300 }, (_, i) => logEvent(i + 1));
  arrivals.add(history.merge(framed(sent)), 'bus:0.1', '0.1');
  while (history.compact(1000));
  assert.is(history.compressedCount, 200);
  // Nobody reads this station: every event leaves at once.
  const released = interest.release(arrivals, history.size);
  assert.equal(released.map((event) => event.id), sent.map((event) => event.id));
  arrivals.remove(history.remove(released), true);
  assert.is(history.size, 0);
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history, []);
});

test('compressed - property: reads from behind through adds, compressions, thaws and removals equal a model of the arrivals', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 60 }), back: fc.integer({ min: 0, max: 300 }) }),
          fc.record({ kind: fc.constant('compact' as const) }),
          fc.record({ kind: fc.constant('remove' as const), picks: fc.array(fc.nat(), { maxLength: 30 }) }),
        ),
        { maxLength: 25 },
      ),
      fc.nat(),
      (steps, since) => {
        const { history, arrivals } = compressing(20, 16);
        // The model: every event numbered, and whether it is still held.
        const numbered: { event: BusEvent; live: boolean }[] = [];
        let next = 0;
        let clock = 10_000;
        for (const step of steps) {
          if (step.kind === 'add') {
            const batch = Array.from({ length: step.count }, (_, i) => logEvent(++next, clock - step.back + 2 * i, next % 3 === 0 ? 'audit' : 'log'));
            clock += 2 * step.count;
            const added = history.merge(framed(batch, next));
            arrivals.add(added, 'bus:0.1', '0.1');
            for (const event of added) numbered.push({ event, live: true });
          } else if (step.kind === 'compact') {
            while (history.compact(1000));
          } else {
            const live = numbered.filter((entry) => entry.live);
            if (live.length === 0) continue;
            const picked = [...new Set(step.picks.map((pick) => live[pick % live.length]!))];
            const removed = history.remove(picked.map((entry) => entry.event));
            assert.is(removed.length, picked.length);
            for (const entry of picked) entry.live = false;
            arrivals.remove(removed);
          }
        }
        const from = numbered.length === 0 ? 0 : since % (numbered.length + 1);
        const expected = numbered.filter((entry, i) => entry.live && i + 1 > from).map((entry) => entry.event).sort(compareEvents);
        const read = arrivals.since(from, undefined, 'bus:0.2').history;
        assert.equal(read.map((event) => `${event.timestamp}/${event.id}`), expected.map((event) => `${event.timestamp}/${event.id}`));
        const audits = arrivals.since(from, ['audit'], 'bus:0.2').history;
        assert.equal(audits.map((event) => event.id), expected.filter((event) => event.type === 'audit').map((event) => event.id));
        const { history: ordered, alreadyDelivered } = arrivals.deliveredFirst(history.snapshot(), from);
        const delivered = numbered.filter((entry, i) => entry.live && i + 1 <= from).map((entry) => entry.event).sort(compareEvents);
        assert.is(alreadyDelivered, delivered.length);
        assert.equal(ordered.map((event) => event.id), [...delivered, ...expected].map((event) => event.id));
        // No frame is kept for events in blocks: only those of uncompressed events, and of removed ones until a rebuild.
        const buffers = segmentFrames(history);
        for (const { event, live } of numbered) if (!live) buffers.add((event as EncodedEvent).batch.body.buffer);
        assert.ok(arrivals.frameBytes() <= bytesOf(buffers));
      },
    ),
    { numRuns: 300 },
  );
});

test('remove - what stays of a run stays one run, numbered as it arrived: events removed every other one leave one run, not one per event', () => {
  const history = new EventHistory();
  const arrivals = new Arrivals();
  // Ticks removed once delivered among logs that stay, as the soak posts them.
  const sent = framed(Array.from({ length: 1000 }, (_, i) => logEvent(i + 1, 1000 + i, i % 2 === 0 ? 'tick' : 'log')));
  arrivals.add(history.merge(sent), 'bus:0.1', '0.1');
  arrivals.remove(history.remove(sent.filter((event) => event.type === 'tick')));
  assert.is(arrivals.held, 500);
  assert.is(arrivals.runsAfter(0).length, 1);
  // The logs keep their numbers: 2, 4, ..., 1000.
  const logsAfter = (n: number) => sent.filter((event, i) => event.type === 'log' && i + 1 > n).map((event) => event.id);
  assert.equal(arrivals.since(500, undefined, 'bus:0.2').history.map((event) => event.id), logsAfter(500));
  const limited = arrivals.since(500, undefined, 'bus:0.2', 10);
  assert.equal(limited.history.map((event) => event.id), logsAfter(500).slice(0, 10));
  assert.is(limited.through, 520);
  arrivals.noteReader({ processor: 0, thread: 2 }, 900);
  assert.equal(arrivals.backlog(), [{ processor: 0, thread: 2, behind: 50 }]);
  assert.is(arrivals.deliveredFirst(history.snapshot(), 600).alreadyDelivered, 300);
});

/** Bytes of the frames `arrivals` keeps alive (its runs and the removed events it still skips) that `history` does not hold. */
function framesBeyondHistory(arrivals: Arrivals, history: EventHistory): number {
  const held = segmentFrames(history);
  return bytesOf(new Set([...arrivals.frameBuffers()].filter((buffer) => !held.has(buffer))));
}

test('remove - ticks removed at once among logs evicted oldest first: the frames only removed events hold go soon, not once half of what the runs hold is removed', () => {
  const history = new EventHistory();
  const arrivals = new Arrivals();
  const KEEP = 4096;
  const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));
  const logs: BusEvent[] = [];
  let most = 0;
  let mostHeld = 0;
  for (let round = 0, n = 0; round < 400; round++) {
    // A frame of 64 events, ticks and 512-byte logs alternating, as the soak's buses send them.
    const batch = Array.from({ length: 64 }, (_, i) => {
      n++;
      return i % 2 === 0 ? logEvent(n, 1000 + n, 'tick') : { ...logEvent(n, 1000 + n), payload: { n, line: line(n) } };
    });
    const added = history.merge(framed(batch, round));
    arrivals.add(added, 'bus:0.1', '0.1');
    // The ticks leave once delivered; the oldest logs leave to meet the budget.
    arrivals.remove(history.remove(added.filter((event) => event.type === 'tick')), true);
    logs.push(...added.filter((event) => event.type === 'log'));
    if (logs.length > KEEP) arrivals.remove(history.remove(logs.splice(0, logs.length - KEEP)));
    most = Math.max(most, framesBeyondHistory(arrivals, history));
    mostHeld = Math.max(mostHeld, segmentFrameBytes(history));
  }
  assert.ok(most * 4 <= mostHeld, `the arrivals kept ${most} bytes of frames beyond the history's ${mostHeld}`);
  // What stays reads as it was numbered: the last KEEP logs.
  assert.equal(arrivals.since(0, undefined, 'bus:0.2').history.map((event) => event.id), logs.map((event) => event.id));
});

test('remove - property: reads, limited reads, backlogs and deliveredFirst through adds (places in frames, or objects) and removals equal a model of the arrivals; removals never split a run', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          // Some batches as objects: a run of them keeps no frames, and a compaction must still look into it.
          fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 60 }), back: fc.integer({ min: 0, max: 300 }), plain: fc.boolean() }),
          fc.record({ kind: fc.constant('remove' as const), picks: fc.array(fc.nat(), { maxLength: 40 }) }),
        ),
        { maxLength: 25 },
      ),
      fc.nat(),
      fc.integer({ min: 1, max: 20 }),
      (steps, since, limit) => {
        const history = new EventHistory();
        const arrivals = new Arrivals();
        const numbered: { event: BusEvent; live: boolean }[] = [];
        let next = 0;
        let clock = 10_000;
        let adds = 0;
        for (const step of steps) {
          if (step.kind === 'add') {
            const batch = Array.from({ length: step.count }, (_, i) => logEvent(++next, clock - step.back + 2 * i, next % 3 === 0 ? 'audit' : 'log'));
            clock += 2 * step.count;
            const added = history.merge(step.plain ? batch : framed(batch, next));
            arrivals.add(added, 'bus:0.1', '0.1');
            adds++;
            for (const event of added) numbered.push({ event, live: true });
          } else {
            const live = numbered.filter((entry) => entry.live);
            if (live.length === 0) continue;
            const picked = [...new Set(step.picks.map((pick) => live[pick % live.length]!))];
            const removed = history.remove(picked.map((entry) => entry.event));
            for (const entry of picked) entry.live = false;
            arrivals.remove(removed);
          }
        }
        assert.ok(arrivals.runsAfter(0).length <= adds);
        const from = numbered.length === 0 ? 0 : since % (numbered.length + 1);
        const after = numbered.map((entry, i) => ({ ...entry, number: i + 1 })).filter((entry) => entry.live && entry.number > from);
        const key = (event: BusEvent) => `${event.timestamp}/${event.id}`;
        assert.equal(arrivals.since(from, undefined, 'bus:0.2').history.map(key), after.map((entry) => entry.event).sort(compareEvents).map(key));
        const limited = arrivals.since(from, undefined, 'bus:0.2', limit);
        const taken = after.slice(0, limit);
        assert.equal(limited.history.map(key), taken.map((entry) => entry.event).sort(compareEvents).map(key));
        assert.is(limited.through, after.length > limit ? taken[limit - 1]!.number : numbered.length);
        // Removed events count until the runs are rebuilt without them (removal is lazy).
        arrivals.noteReader({ processor: 0, thread: 2 }, from);
        const behind = arrivals.backlog()[0]!.behind;
        assert.ok(behind >= after.length && behind <= numbered.length - from, `behind ${behind}`);
        const delivered = numbered.filter((entry, i) => entry.live && i + 1 <= from).length;
        assert.is(arrivals.deliveredFirst(history.snapshot(), from).alreadyDelivered, delivered);
      },
    ),
    { numRuns: 300 },
  );
});

test('compressed - ids that do not pack (a bridge\'s) do not pile up in the keys\' table through rebuilds', () => {
  const { history, arrivals } = compressing(50, 100);
  const held: BusEvent[] = [];
  let n = 0;
  for (let round = 1; round <= 200; round++) {
    // Ticks and logs, ids that end in a letter: kept as strings by the keys' table.
    const batch = Array.from({ length: 100 }, (_, i) => ({ ...logEvent(++n, 1000 + n, i % 2 === 0 ? 'tick' : 'log'), id: `ext-${n.toString(36)}-x` }));
    arrivals.add(history.merge(framed(batch, round)), 'bus:0.1', '0.1');
    while (history.compact(1000));
    held.push(...batch);
    // The ticks leave once delivered; the oldest logs past 2000 leave to the budget.
    const logs = held.filter((event) => event.type === 'log');
    const gone = new Set([...held.filter((event) => event.type === 'tick'), ...logs.slice(0, Math.max(0, logs.length - 2000))]);
    arrivals.remove(history.remove([...gone]));
    held.splice(0, held.length, ...held.filter((event) => !gone.has(event)));
  }
  assert.is(history.size, 2000);
  assert.ok(arrivals.idStrings <= 2 * history.size + 4096, `${arrivals.idStrings} ids kept as strings for ${history.size} events`);
});

test.run();
