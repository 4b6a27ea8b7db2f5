import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusFullError, createRuntime, type BusEvent } from '../../../index.js';
import type { Station } from '../../../runtime/station/station.js';
import { EncodedEvent, eventBatchOf, plainEvents } from '../../../runtime/store/encoded-events.js';
import { Need, StationJournal, type JournalStation } from '../../../runtime/store/journal.js';
import { encodeFrame, scanFrame } from '../../../schemas/codec/index.js';
import { ids, seededRandom } from '../../helpers.js';

function events(count: number, thread: number, side: 'internal' | 'external' = 'external', priority: BusEvent['priority'] = 'normal'): BusEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `0.${thread}.${priority[0]}${i}`,
    type: 'journal.test',
    side,
    timestamp: 1_000 + i * 3 + thread,
    origin: { processor: 0, thread, generation: 0 },
    priority,
    payload: { i, bytes: i === 0 ? null : 'x' },
  }));
}

const test = suite('StationJournal');

test('replay - a new station rebuilt from the journal holds what the old one held', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const first = createRuntime({ transport: 'memory', deferred: 'manual' });
  const second = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const journal = StationJournal.open(dir);
    const station = first.station('external');
    station.journal = journal;
    const from = (thread: number) => ({ processor: 0, thread, generation: 0, side: 'external' as const });
    station.accept({ kind: 'batch', seq: 0, from: from(1), history: events(3, 1), queue: events(2, 1, 'external', 'deferred') });
    station.accept({ kind: 'batch', seq: 0, from: from(2), history: events(2, 2), queue: events(1, 2, 'external', 'deferred') });
    station.accept({ kind: 'batch', seq: 0, from: from(2), history: events(2, 2), queue: [] }); // a resend
    // Thread 1 takes its parked entries back; then a bridge clearing of internal events (none here).
    station.serve({ kind: 'syncRequest', seq: 0, from: from(1), side: 'external' });
    station.clearSide('internal');
    await station.committed();
    await journal.close();

    const reopened = StationJournal.open(dir);
    const rebuilt = second.station('external');
    const restored = rebuilt.replay(reopened.entries());
    assert.is(restored, 5);
    assert.equal(ids(rebuilt.history()), ids(station.history()));
    assert.equal(ids(rebuilt.queued()), ids(station.queued()));
    assert.equal(ids(rebuilt.queued()), ['0.2.d0']);
    assert.equal(rebuilt.history()[1], station.history()[1], 'events come back exactly');
    await reopened.close();
  } finally {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const compactAfter of [10_000, 3]) {
  test(`replay - what the memory policies removed stays out of the rebuilt history, and still goes to the main station (${compactAfter === 3 ? 'from a compacted snapshot' : 'entry by entry'})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
    const memory = { policies: { 'journal.test': { removeAfterSearch: true } } };
    const first = createRuntime({ transport: 'memory', deferred: 'manual', memory });
    const second = createRuntime({ transport: 'memory', deferred: 'manual', memory });
    try {
      const journal = StationJournal.open(dir, { compactAfter });
      const station = first.station('external');
      station.journal = journal;
      journal.stations = () => station;
      const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };
      const accepted = events(4, 1);
      station.accept({ kind: 'batch', seq: 0, from, history: accepted.slice(0, 3), queue: [] });
      assert.is(station.get(accepted[0]!.id)?.id, accepted[0]!.id, 'searched: it leaves');
      station.accept({ kind: 'batch', seq: 0, from, history: accepted.slice(3), queue: [] });
      await Promise.resolve(); // a due compaction runs
      await station.committed();
      assert.is(journal.compactions, compactAfter === 3 ? 1 : 0);
      await journal.close();

      const reopened = StationJournal.open(dir);
      const rebuilt = second.station('external');
      rebuilt.replay(reopened.entries());
      assert.equal(ids(rebuilt.history()), ids(accepted.slice(1)));
      await rebuilt.toMain();
      assert.equal(ids(second.mainStation('external').history()), ids(accepted), 'the main station had not taken it yet');
      await reopened.close();
    } finally {
      await first.stop();
      await second.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('toMain - a local station pushes what it accepted only once its journal has made it durable', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const station = runtime.station('external');
    // A journal whose commit the test lets through: what the main station holds before then is what a SIGKILL
    // there would leave in the main station and not in the restarted processor's journal.
    let commit!: () => void;
    const durable = new Promise<void>((resolve) => (commit = resolve));
    station.journal = { record: () => undefined, committed: () => durable } as unknown as StationJournal;
    const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };
    station.accept({ kind: 'batch', seq: 0, from, history: events(3, 1), queue: [] });
    const pushed = station.toMain();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ids(runtime.mainStation('external').history()), [], 'nothing reached the main station before the commit');
    commit();
    await pushed;
    assert.equal(ids(runtime.mainStation('external').history()), ids(events(3, 1)));
  } finally {
    await runtime.stop();
  }
});

test('compaction during a toMain() - what the push carries and the main station refuses (in pieces) stays in the journal: a processor killed then still sends it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const memory = { policies: { 'journal.test': { removeAfterSearch: true } } };
  const first = createRuntime({ transport: 'memory', deferred: 'manual', memory });
  const second = createRuntime({ transport: 'memory', deferred: 'manual', memory });
  try {
    const journal = StationJournal.open(dir, { compactAfter: 2 });
    const station = first.station('external');
    station.journal = journal;
    journal.stations = () => station;
    const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };
    const batches = [events(3, 1), events(3, 2)];
    // The main station takes the first batch and refuses the second for want of room (as its budget would).
    const main = first.mainStation('external') as Station;
    const accept = main.accept.bind(main);
    let calls = 0;
    main.accept = (batch) => {
      calls++;
      if (batch.history.length > batches[0]!.length || calls > 2) throw new BusFullError(2048, 1024, 'budget', 'memory.budget.stationBytes');
      return accept(batch);
    };
    station.accept({ kind: 'batch', seq: 0, from, history: batches[0]!, queue: [] });
    // The second batch is searched: it leaves the history, and waits for the main station only in what is unsent.
    station.accept({ kind: 'batch', seq: 0, from: { ...from, thread: 2 }, history: batches[1]!, queue: [] });
    station.history({ types: ['journal.test'] });
    // That entry made a compaction due: it runs while the push is under way.
    const refusal = await station.toMain().then(() => undefined, (error: unknown) => error);
    assert.equal([(refusal as BusFullError).pushed, (refusal as BusFullError).left], [3, 3]);
    assert.is(journal.compactions, 1);
    assert.is(station.memory()!.unsent?.count, 3);
    await station.committed();
    station.journal = undefined; // killed here
    await journal.close();

    const reopened = StationJournal.open(dir);
    const rebuilt = second.station('external');
    rebuilt.replay(reopened.entries());
    await rebuilt.toMain();
    const reached = [...new Set([...ids(main.history()), ...ids(second.mainStation('external').history())])];
    assert.equal(reached.sort(), ids([...batches[0]!, ...batches[1]!]).sort(), 'the refused batch still reaches a main station');
    await reopened.close();
  } finally {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compaction - the journal shrinks to a snapshot and still replays to the same station', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const first = createRuntime({ transport: 'memory', deferred: 'manual' });
  const second = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const journal = StationJournal.open(dir, { compactAfter: 20 });
    const station = first.station('external');
    station.journal = journal;
    journal.stations = () => station;
    const from = (thread: number) => ({ processor: 0, thread, generation: 0, side: 'external' as const });
    for (let round = 0; round < 50; round++) {
      const thread = 1 + (round % 3);
      const history = events(4, thread).map((e) => ({ ...e, id: `${e.id}.${round}`, timestamp: e.timestamp + round * 100 }));
      const queue = events(1, thread, 'external', 'deferred').map((e) => ({ ...e, id: `${e.id}.${round}` }));
      station.accept({ kind: 'batch', seq: 0, from: from(thread), history, queue });
      if (round % 5 === 4) station.serve({ kind: 'syncRequest', seq: 0, from: from(thread), side: 'external' });
      await Promise.resolve(); // lets a due compaction run between batches, as between requests
    }
    await station.committed();
    assert.ok(journal.compactions >= 2, `${journal.compactions} compactions`);
    const kept = journal.entries().length;
    assert.ok(kept < 30, `${kept} entries after compaction, from ~60 recorded`);
    await journal.close();

    const reopened = StationJournal.open(dir);
    const rebuilt = second.station('external');
    rebuilt.replay(reopened.entries());
    assert.equal(ids(rebuilt.history()), ids(station.history()));
    assert.equal(ids(rebuilt.queued()), ids(station.queued()));
    assert.is(rebuilt.size, 200);
    await reopened.close();
  } finally {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A station of the test's own: it holds the events of `held` (by id), parks `queue`, and took nothing back. */
function stationHolding(held: () => ReadonlySet<string>, queue: () => BusEvent[] = () => []): JournalStation {
  return { queued: queue, journalNeeds: () => (event) => (held().has(event.id) ? Need.held : Need.dead) };
}

test('compaction by bytes - under large batches the file stays about 1.5 times what the stations hold, however few entries they are', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  try {
    // 200 batches of 8 events of 16 KiB: 25 MiB recorded in 200 entries, far fewer than compactAfter's 10 000.
    const journal = StationJournal.open(dir, { compactAfterBytes: 1024 * 1024 });
    const line = 'x'.repeat(16 * 1024);
    let held: BusEvent[] = [];
    journal.stations = () => stationHolding(() => new Set(held.map((event) => event.id)));
    for (let round = 0; round < 200; round++) {
      const batch = events(8, 1).map((e) => ({ ...e, id: `${e.id}.${round}`, timestamp: e.timestamp + round * 100, payload: { line: `${round}${line}` } }));
      held = [...held, ...batch].slice(-128); // the station keeps its last 2 MiB
      journal.record({ op: 'accept', side: 'external', history: batch, queue: [] });
      await journal.committed(); // lets a due compaction run, and write, between batches
    }
    const file = statSync(join(dir, 'data.mdb')).size;
    assert.ok(journal.compactions >= 3, `${journal.compactions} compactions`);
    // 2 MiB kept, a log of half that (1 MiB, compactAfterBytes) and lmdb's own pages; a full snapshot at each compaction kept two and a log (6 MiB).
    assert.ok(file < 4 * 1024 * 1024, `${(file / 1048576).toFixed(1)} MiB of journal for 2 MiB held`);
    await journal.close();
    const reopened = StationJournal.open(dir);
    const replayed = reopened.entries().flatMap((entry) => (entry.op === 'accept' ? entry.history : []));
    assert.equal(ids(replayed).sort(), ids(held).sort(), 'the entries kept and the log after them replay to what is held');
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * One run of random changes to a station (batches with parked entries, reads that hand them back, searches that
 * remove, pushes to the main station, clearings), journaled; then what a restarted processor gets from the journal:
 * the rebuilt station's history and queue, what it sends on to a main station of its own (`sent`), and what the old
 * station had pushed to its main station before it died (`pushed`).
 */
async function journaledRun(seed: number, compactAfter: number): Promise<{ history: string[]; queued: string[]; sent: string[]; pushed: string[]; compactions: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const memory = { policies: { 'journal.searched': { removeAfterSearch: true } } };
  const first = createRuntime({ transport: 'memory', deferred: 'manual', memory });
  const second = createRuntime({ transport: 'memory', deferred: 'manual', memory });
  try {
    const random = seededRandom(seed);
    const journal = StationJournal.open(dir, { compactAfter });
    const station = first.station('external');
    station.journal = journal;
    journal.stations = () => station;
    const from = (thread: number) => ({ processor: 0, thread, generation: 0, side: 'external' as const });
    const accepted: BusEvent[] = [];
    for (let round = 0; round < 80; round++) {
      const thread = 1 + Math.floor(random() * 3);
      const pick = random();
      if (pick < 0.5) {
        const history = events(1 + Math.floor(random() * 6), thread, random() < 0.2 ? 'internal' : 'external').map((e, i) => ({
          ...e,
          id: `${e.id}.${round}`,
          type: random() < 0.4 ? 'journal.searched' : 'journal.test',
          timestamp: 10_000 + Math.floor(random() * 500) * 10 + i,
        }));
        // Now and then a resend of events accepted before, among new ones.
        if (accepted.length > 0 && random() < 0.2) history.push(accepted[Math.floor(random() * accepted.length)]!);
        const queue = random() < 0.3 ? events(1, thread, 'external', 'deferred').map((e) => ({ ...e, id: `${e.id}.${round}` })) : [];
        station.accept({ kind: 'batch', seq: 0, from: from(thread), history, queue });
        accepted.push(...history);
      } else if (pick < 0.65) {
        station.serve({ kind: 'syncRequest', seq: 0, from: from(thread), side: 'external' });
      } else if (pick < 0.85 && accepted.length > 0) {
        station.get(accepted[Math.floor(random() * accepted.length)]!.id);
      } else if (pick < 0.95) {
        await station.toMain();
      } else {
        station.clearSide('internal');
      }
      await Promise.resolve(); // a due compaction runs between changes, as between requests
    }
    await station.committed();
    station.journal = undefined; // killed here: what it records from now on is not in the journal
    await journal.close();
    const reopened = StationJournal.open(dir);
    const rebuilt = second.station('external');
    rebuilt.replay(reopened.entries());
    assert.equal(ids(rebuilt.history()), ids(station.history()), 'the rebuilt station holds what the old one held');
    assert.equal(ids(rebuilt.queued()), ids(station.queued()), 'and parks what it parked');
    await rebuilt.toMain();
    await reopened.close();
    return {
      history: ids(rebuilt.history()),
      queued: ids(rebuilt.queued()),
      sent: ids(second.mainStation('external').history()),
      pushed: ids(first.mainStation('external').history()),
      compactions: journal.compactions,
    };
  } finally {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('compaction - whatever the changes, the entries a compaction kept replay as the whole log does, and the main station misses nothing', async () => {
  const reached = (run: { sent: string[]; pushed: string[] }) => [...new Set([...run.pushed, ...run.sent])].sort();
  for (const seed of [1, 2, 3, 4]) {
    const log = await journaledRun(seed, 10_000);
    const compacted = await journaledRun(seed, 4);
    assert.is(log.compactions, 0);
    assert.ok(compacted.compactions >= 5, `${compacted.compactions} compactions`);
    assert.equal(compacted.history, log.history, `seed ${seed}: history`);
    assert.equal(compacted.queued, log.queued, `seed ${seed}: queue`);
    // The whole log sends everything again; a compacted one leaves out what the main station took and the station let go.
    assert.equal(reached(compacted), reached(log), `seed ${seed}: what reaches the main station, before and after the restart`);
    assert.ok(compacted.sent.length <= log.sent.length);
  }
});

test('map - the journal file is mapped once however much it grows (lmdb-js keeps every outgrown map, and its pages, until close)', async () => {
  if (!existsSync('/proc/self/maps')) return; // Linux only: where the maps can be counted
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  try {
    const journal = StationJournal.open(dir);
    const line = 'x'.repeat(64 * 1024);
    for (let round = 0; round < 16; round++) {
      journal.record({ op: 'accept', side: 'external', history: events(4, 1).map((e) => ({ ...e, id: `${e.id}.${round}`, payload: { line } })), queue: [] });
      await journal.committed();
    }
    journal.entries(); // reads through the map, as a replay does
    const file = join(dir, 'data.mdb');
    assert.ok(statSync(file).size > 4 * 1024 * 1024, 'the file grew past 4 MiB, 32 times the map lmdb-js starts with');
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((entry) => entry.endsWith(file));
    assert.is(maps.length, 1, maps.join('\n'));
    await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encoded events - recorded by copying their bytes, replayed still encoded, equal to what was accepted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const journal = StationJournal.open(dir);
    const station = runtime.station('external');
    station.journal = journal;
    const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };
    const sent = events(5, 1);
    const scanned = scanFrame(encodeFrame({ kind: 'batch', seq: 0, from, history: sent, queue: [] }));
    if (scanned.kind !== 'encodedBatch') throw new Error('expected an encoded batch');
    const batch = eventBatchOf(scanned);
    station.accept(batch);
    await station.committed();
    assert.ok(
      (batch.history as EncodedEvent[]).every((event) => event.plain === undefined),
      'the journal copied the events without decoding them',
    );
    const [entry] = journal.entries();
    assert.is(entry?.op, 'accept');
    if (entry?.op !== 'accept') return;
    assert.ok(entry.history.every((event) => event instanceof EncodedEvent), 'replayed still encoded');
    assert.equal(plainEvents(entry.history), sent);
    await journal.close();
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reopen - entries recorded after a reopen go after the old ones, whatever the journal held (one entry, a compacted snapshot)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'busline-journal-test-'));
  const accepted = (id: string) => ({ op: 'accept' as const, side: 'external' as const, history: [{ ...events(1, 1)[0]!, id }], queue: [] });
  const held = (journal: StationJournal) =>
    journal.entries().flatMap((entry) => (entry.op === 'accept' ? plainEvents(entry.history).map((event) => event.id) : []));
  try {
    // A first incarnation accepts one batch; each later one (reopened, as a restarted processor does) one more.
    for (const id of ['a', 'b', 'c']) {
      const journal = StationJournal.open(dir);
      journal.record(accepted(id));
      await journal.committed();
      await journal.close();
    }
    const reopened = StationJournal.open(dir);
    assert.equal(held(reopened), ['a', 'b', 'c']);
    await reopened.close();

    // Compacted into one entry (a, b and c let go, the queue parked), then reopened: the next entry goes after it.
    const compacting = StationJournal.open(dir, { compactAfter: 1 });
    const parked = { ...events(1, 1, 'external', 'deferred')[0]!, id: 'q' };
    compacting.stations = (side) => stationHolding(() => new Set(), () => (side === 'external' ? [parked] : []));
    compacting.record({ op: 'park', side: 'external', queue: [parked] });
    await Promise.resolve();
    await compacting.committed();
    assert.is(compacting.compactions, 1);
    assert.equal(compacting.entries().map((entry) => entry.op), ['park']);
    await compacting.close();
    const afterCompaction = StationJournal.open(dir);
    afterCompaction.record(accepted('e'));
    await afterCompaction.committed();
    assert.equal(held(afterCompaction), ['e']);
    assert.equal(afterCompaction.entries().map((entry) => entry.op), ['park', 'accept']);
    await afterCompaction.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
