/**
 * The durable journal of a processor's local stations (DESIGN.md, "Durability
 * boundary"): every batch a station accepts is written to an embedded lmdb
 * store before the station acknowledges it, so a processor that is killed —
 * even with SIGKILL — loses nothing its stations had accepted. A restarted
 * processor replays the journal into its new stations and sends their history
 * to the main stations again (which deduplicate by id).
 *
 * lmdb is memory-mapped and written without fsync by default: it survives a
 * killed process, not a power cut.
 *
 * An accepted batch is stored as a frame of `schemas/codec/`, its events
 * copied as the station keeps them (still encoded): recording costs a copy,
 * not a decode, and replay scans the frame back into `EncodedEvent`s.
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ABORT, open, type Database, type RootDatabase } from 'lmdb';
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Side } from '../../types.js';
import { UNREAD_ENDPOINT, scanBatch } from './encoded-events.js';
import { compareEvents } from './history-query.js';
import { batchFrames, splitBatch } from '../wire/transport.js';

/** Where processor `processor`'s journal lives in the runtime's journal directory. */
export function journalPath(directory: string, processor: number): string {
  return join(directory, `processor-${processor}`);
}

/**
 * Makes the journal directories of processors 1..`processors` (and `directory`
 * itself) and checks that they can be written, before any processor starts:
 * a path that cannot be used is refused here, by the root, with an
 * `InvalidOptionError` naming it, instead of failing each processor's start.
 */
export function prepareJournalDirectories(directory: string, processors: number): void {
  for (let processor = 1; processor <= processors; processor++) {
    const path = journalPath(directory, processor);
    try {
      mkdirSync(path, { recursive: true });
      if (!statSync(path).isDirectory()) throw new Error('it is not a directory');
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch (error) {
      throw new InvalidOptionError(
        'journal',
        `processor ${processor}'s journal cannot be kept in ${path}: ${error instanceof Error ? error.message : String(error)}. ` +
          'Give a directory this process can create and write, or journal: false.',
      );
    }
  }
}

/** One recorded change of a station. */
export type JournalEntry =
  /** A batch accepted: its history merged, its queue parked. */
  | { readonly op: 'accept'; readonly side: Side; readonly history: readonly BusEvent[]; readonly queue: readonly BusEvent[] }
  /** Parked entries that left the station (handed back to a thread, or moved up to the main station). */
  | { readonly op: 'unpark'; readonly side: Side; readonly ids: readonly string[] }
  /** Parked entries that came back from the main station. */
  | { readonly op: 'park'; readonly side: Side; readonly queue: readonly BusEvent[] }
  /** A bridge clearing removed every event of `remove`. */
  | { readonly op: 'clear'; readonly side: Side; readonly remove: Side }
  /**
   * Events the memory policies let go (delivered, searched, expired, evicted): a replay leaves them out of the
   * history, so that a restarted processor's threads do not read them back (they still go on to the main station).
   */
  | { readonly op: 'remove'; readonly side: Side; readonly ids: readonly string[] };

/** How an entry is stored: an accepted batch as a frame, the others as they are. */
type StoredEntry =
  | Exclude<JournalEntry, { readonly op: 'accept' }>
  | { readonly op: 'accept'; readonly side: Side; readonly frame: Uint8Array };

/** Entries a journal takes before it compacts itself. */
export const DEFAULT_COMPACT_AFTER = 10_000;

/**
 * Bytes of entries a journal takes, at least, before it compacts itself: past
 * these, it compacts once it has taken `COMPACT_RATIO` of what its last
 * compaction kept (see `StationJournal`).
 */
export const DEFAULT_COMPACT_AFTER_BYTES = 4 * 1024 * 1024;

/** Bytes logged since the last compaction, against what it kept, that make the next one due. */
const COMPACT_RATIO = 0.5;

/** Events per entry of a rewrite. */
const SNAPSHOT_CHUNK = 4096;

/**
 * What a compaction finds of an event an entry accepted (`JournalStation.journalNeeds`): `dead`, neither held nor
 * waiting for the main station (a replay need not have it); `held` by the station; `unsent`, let go by the memory
 * policies but not yet taken by the main station (a replay still sends it on, out of the history).
 */
export const Need = { dead: 0, held: 1, unsent: 2 } as const;
export type Need = (typeof Need)[keyof typeof Need];

/** What a compaction asks of the station of a side. */
export interface JournalStation {
  /** Its parked queue, oldest first. */
  queued(): BusEvent[];
  /** Says, of an event it accepted, whether a replay still needs it (`Need`); made once per compaction. */
  journalNeeds(): (event: BusEvent) => Need;
}

const SIDES = ['internal', 'external'] as const;

/**
 * The journal's address space, reserved at open (virtual only: without a
 * write map lmdb neither allocates nor extends the file to it). lmdb-js starts
 * a map at 128 KiB and maps the file again, larger, each time it fills, and
 * keeps every old map until the journal closes (for readers still on them,
 * mdb.c says): every page read through one stays counted in the processor's
 * RSS, so a journal that grew to N bytes held about 2N of RSS in a dozen maps.
 * Reserved once, there is one map, and at most the file in it. A journal
 * larger than this still works (lmdb maps it again, larger).
 */
const JOURNAL_MAP_BYTES = 64 * 1024 ** 3;

/** True when this process's address space is known to be unlimited (Linux: `/proc/self/limits`). */
function addressSpaceUnlimited(): boolean {
  try {
    return /^Max address space\s+unlimited/m.test(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return false;
  }
}

/** What an entry that is not a frame costs in the file, roughly: its ids, and lmdb's node. */
const ID_BYTES = 32;

/**
 * A processor's journal: one lmdb environment per processor, entries in order.
 *
 * It compacts itself after `compactAfter` entries, or once the bytes recorded
 * since its last compaction reach `COMPACT_RATIO` of what that one kept (and
 * `compactAfterBytes`), whichever comes first. A compaction drops what is
 * dead: an accepted batch whose events the stations all still hold stays as
 * it is; one with events they let go (and the main station took) is deleted,
 * its needed events rewritten together into new entries; every other entry
 * (parks, removals, clearings) is replaced by the stations' queues and one
 * removal per side. Under a steady load most of the log is dead by then, so
 * a compaction mostly deletes: lmdb never shrinks a file (it reuses freed
 * pages), and the file settles at about what is kept plus one log: about 1.7 times
 * what the stations hold. A compaction that wrote a full snapshot of the
 * stations each time kept two snapshots and a log: three times.
 * The byte rule bounds the file whatever the rate: counted in entries only,
 * a log of large batches grew to hundreds of megabytes between compactions.
 *
 * @example
 * const journal = StationJournal.open('/tmp/busline-run/processor-1')
 * journal.stations = (side) => stations[side]
 * journal.record({ op: 'accept', side: 'external', history, queue })
 * await journal.committed()
 */
export class StationJournal {
  readonly #root: RootDatabase;
  readonly #entries: Database<StoredEntry, number>;
  readonly #compactAfter: number;
  readonly #compactAfterBytes: number;
  #next: number;
  #sinceCompaction = 0;
  /** Bytes recorded since the last compaction. */
  #loggedBytes = 0;
  /** Bytes the last compaction kept and wrote (0 before the first one of this incarnation). */
  #keptBytes = 0;
  #compacting = false;
  #closing = false;
  #last: Promise<unknown> = Promise.resolve();
  /** The station of each side, for a compaction: set by the owner to let the journal compact. */
  stations: ((side: Side) => JournalStation) | undefined;
  /** Compactions done, for tests and the inspector. */
  compactions = 0;

  private constructor(root: RootDatabase, compactAfter: number, compactAfterBytes: number) {
    this.#root = root;
    this.#compactAfter = compactAfter;
    this.#compactAfterBytes = compactAfterBytes;
    this.#entries = root.openDB<StoredEntry, number>({ name: 'entries', keyEncoding: 'uint32' });
    this.#next = lastKeyOf(this.#entries) + 1;
  }

  /**
   * Opens (or creates) the journal at `path`; it compacts itself every
   * `compactAfter` entries, or once it has taken at least `compactAfterBytes`
   * and half the bytes its last compaction kept.
   */
  static open(path: string, options: { compactAfter?: number; compactAfterBytes?: number } = {}): StationJournal {
    // noSync: survives SIGKILL of this process (the OS keeps the mapped pages), not a power cut.
    // Under a limit on address space (`ulimit -v`), lmdb crashes the process when the reservation does not fit (a
    // segfault, measured): there, and where the limit cannot be read, the journal grows its maps as lmdb does.
    const root = open({ path, noSync: true, maxDbs: 4, ...(addressSpaceUnlimited() ? { mapSize: JOURNAL_MAP_BYTES } : {}) });
    return new StationJournal(
      root,
      options.compactAfter ?? DEFAULT_COMPACT_AFTER,
      options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES,
    );
  }

  /** Appends an entry; `committed()` resolves once it and everything before it are written. */
  record(entry: JournalEntry): void {
    for (const stored of storedEntries(entry)) {
      this.#loggedBytes += storedBytes(stored);
      this.#last = this.#entries.put(this.#next++, stored);
    }
    const due =
      ++this.#sinceCompaction >= this.#compactAfter ||
      (this.#loggedBytes >= this.#compactAfterBytes && this.#loggedBytes >= this.#keptBytes * COMPACT_RATIO);
    if (due && this.stations !== undefined && !this.#compacting) {
      this.#compacting = true;
      queueMicrotask(() => this.#compact());
    }
  }

  /**
   * Drops the dead entries recorded so far, in one transaction (see the
   * class's note). The queues are taken now, as entries recorded from here
   * on will change them; what the stations need of each accepted event is
   * asked once every entry before is written, when the transaction reads
   * them: by then the stations hold what those entries, and the later ones
   * recorded meanwhile, made of them.
   */
  #compact(): void {
    const stations = this.stations;
    this.#compacting = false;
    if (stations === undefined || this.#closing) return;
    const queues = SIDES.map((side) => ({ side, queue: stations(side).queued() }));
    const cutoff = this.#next;
    this.#sinceCompaction = 0;
    this.#loggedBytes = 0;
    this.#last = this.#last.then(() => {
      const needs = { internal: stations('internal').journalNeeds(), external: stations('external').journalNeeds() };
      let kept = 0;
      const result = this.#entries.transactionSync(() => {
        const free: number[] = [];
        const rewrite = { internal: [] as BusEvent[], external: [] as BusEvent[] };
        const unsent = { internal: [] as string[], external: [] as string[] };
        for (const key of [...this.#entries.getKeys({ end: cutoff })]) {
          const stored = this.#entries.get(key)!;
          if (stored.op === 'accept') {
            const need = needs[stored.side];
            const { history, queue } = scanBatch(stored.frame);
            const status = history.map(need);
            if (queue.length === 0 && status.every((one) => one === Need.held)) {
              kept += storedBytes(stored);
              continue;
            }
            if (status.some((one) => one !== Need.dead)) {
              // Copied out of lmdb's buffer: they outlive this read.
              const copies = scanBatch(Uint8Array.prototype.slice.call(stored.frame)).history;
              copies.forEach((event, i) => {
                if (status[i] === Need.dead) return;
                rewrite[stored.side].push(event);
                if (status[i] === Need.unsent) unsent[stored.side].push(event.id);
              });
            }
          }
          free.push(key);
          this.#entries.removeSync(key);
        }
        // The queues first: they must replay before the entries recorded after the cutoff (the other entries replay in any order).
        const written: StoredEntry[] = [];
        for (const { side, queue } of queues) if (queue.length > 0) written.push({ op: 'park', side, queue });
        if (written.length > free.length) return ABORT; // cannot happen: what parked them was recorded before the cutoff
        for (const side of SIDES) {
          if (rewrite[side].length > 0) written.push(...snapshotEntries([{ op: 'accept', side, history: rewrite[side].sort(compareEvents), queue: [] }]));
          if (unsent[side].length > 0) written.push({ op: 'remove', side, ids: unsent[side] });
        }
        written.forEach((stored, i) => {
          kept += storedBytes(stored);
          this.#entries.putSync(i < free.length ? free[i]! : this.#next++, stored);
        });
        return undefined;
      });
      if (result !== ABORT) this.#keptBytes = kept;
    });
    this.compactions++;
  }

  /** Resolves once every recorded entry is written. */
  async committed(): Promise<void> {
    await this.#last;
  }

  /** Every entry, oldest first. */
  entries(): JournalEntry[] {
    return [...this.#entries.getRange()].map(({ value }) => restoredEntry(value));
  }

  /** Number of entries. */
  get size(): number {
    return this.#next;
  }

  /** Writes what is recorded, then closes; a compaction not yet under way does not run. */
  async close(): Promise<void> {
    this.#closing = true;
    // A compaction that was under way chains its writes after the ones awaited here.
    for (let last = this.#last; ; last = this.#last) {
      await last;
      if (last === this.#last) break;
    }
    await this.#root.close();
  }
}

/**
 * The highest key in use, or -1 for an empty journal. lmdb 3.5's reverse
 * range never yields key 0 (a uint32 0 is the range's own lower bound), so a
 * journal whose only entry is key 0 (one batch, or a compacted snapshot of one
 * chunk) looks empty that way: the next incarnation would write over it.
 */
function lastKeyOf(entries: Database<StoredEntry, number>): number {
  const [lastKey] = [...entries.getKeys({ reverse: true, limit: 1 })];
  if (lastKey !== undefined) return lastKey;
  return entries.doesExist(0) ? 0 : -1;
}

/** An entry as stored: an accepted batch as frames of at most SNAPSHOT_CHUNK events each. */
function storedEntries(entry: JournalEntry): StoredEntry[] {
  if (entry.op !== 'accept') return [entry];
  const batch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: entry.history, queue: entry.queue } as const;
  return batchFrames(batch, SNAPSHOT_CHUNK, { compress: false }).map((frame) => ({ op: 'accept', side: entry.side, frame }));
}

/**
 * A snapshot's entries as stored, made one at a time: an accepted batch is cut
 * into parts of at most SNAPSHOT_CHUNK events, each framed when it is reached.
 */
function* snapshotEntries(entries: readonly JournalEntry[]): Generator<StoredEntry> {
  for (const entry of entries) {
    if (entry.op !== 'accept' || entry.history.length + entry.queue.length <= SNAPSHOT_CHUNK) {
      yield* storedEntries(entry);
      continue;
    }
    const batch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: entry.history, queue: entry.queue } as const;
    for (const { history, queue } of splitBatch(batch, SNAPSHOT_CHUNK)) yield* storedEntries({ op: 'accept', side: entry.side, history, queue });
  }
}

/** What a stored entry takes in the file, about: a frame its bytes, the others a few bytes per id or parked event. */
function storedBytes(stored: StoredEntry): number {
  switch (stored.op) {
    case 'accept':
      return stored.frame.byteLength;
    case 'clear':
      return ID_BYTES;
    case 'park':
      return ID_BYTES * (1 + stored.queue.length);
    default:
      return ID_BYTES * (1 + stored.ids.length);
  }
}

/** An entry as read back: an accepted batch's events as `EncodedEvent`s. */
function restoredEntry(stored: StoredEntry): JournalEntry {
  if (stored.op !== 'accept') return stored;
  // The events keep a copy of their own, whatever buffer lmdb read the value into
  // (Buffer#slice would make a view: Uint8Array#slice copies).
  const { history, queue } = scanBatch(Uint8Array.prototype.slice.call(stored.frame));
  return { op: 'accept', side: stored.side, history, queue };
}
