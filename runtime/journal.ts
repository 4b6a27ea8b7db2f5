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
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import type { BusEvent, Side } from '../types.js';

/** One recorded change of a station. */
export type JournalEntry =
  /** A batch accepted: its history merged, its queue parked. */
  | { readonly op: 'accept'; readonly side: Side; readonly history: readonly BusEvent[]; readonly queue: readonly BusEvent[] }
  /** Parked entries that left the station (handed back to a thread, or moved up to the main station). */
  | { readonly op: 'unpark'; readonly side: Side; readonly ids: readonly string[] }
  /** Parked entries that came back from the main station. */
  | { readonly op: 'park'; readonly side: Side; readonly queue: readonly BusEvent[] }
  /** A bridge clearing removed every event of `remove`. */
  | { readonly op: 'clear'; readonly side: Side; readonly remove: Side };

/**
 * A processor's journal: one lmdb environment per processor, entries in order.
 *
 * @example
 * const journal = StationJournal.open('/tmp/busline-run/processor-1')
 * journal.record({ op: 'accept', side: 'external', history, queue })
 * await journal.committed()
 */
export class StationJournal {
  readonly #root: RootDatabase;
  readonly #entries: Database<JournalEntry, number>;
  #next: number;
  #last: Promise<unknown> = Promise.resolve();

  private constructor(root: RootDatabase) {
    this.#root = root;
    this.#entries = root.openDB<JournalEntry, number>({ name: 'entries', keyEncoding: 'uint32' });
    const [lastKey] = [...this.#entries.getKeys({ reverse: true, limit: 1 })];
    this.#next = lastKey === undefined ? 0 : lastKey + 1;
  }

  /** Opens (or creates) the journal at `path`. */
  static open(path: string): StationJournal {
    // noSync: survives SIGKILL of this process (the OS keeps the mapped pages), not a power cut.
    return new StationJournal(open({ path, noSync: true, maxDbs: 4 }));
  }

  /** Appends an entry; `committed()` resolves once it and everything before it are written. */
  record(entry: JournalEntry): void {
    this.#last = this.#entries.put(this.#next++, entry);
  }

  /** Resolves once every recorded entry is written. */
  async committed(): Promise<void> {
    await this.#last;
  }

  /** Every entry, oldest first. */
  entries(): JournalEntry[] {
    return [...this.#entries.getRange()].map(({ value }) => value);
  }

  /** Number of entries. */
  get size(): number {
    return this.#next;
  }

  async close(): Promise<void> {
    await this.#last;
    await this.#root.close();
  }
}
