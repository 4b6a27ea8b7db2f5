/**
 * Blocks: the older events of a history kept as one batch frame each,
 * snappy-compressed (DESIGN.md, "memory management"). Small events compress
 * badly one by one, so a block holds many (a thousand at first; blocks merge
 * up to a cap). A block is immutable: a removal makes a new block that shares
 * the frame and marks the event gone, a merge makes a new frame. That is what
 * lets a reader hold a `HistoryView` while the history changes.
 *
 * A block is read only when a query may match it (its types, origins, sides
 * and time range say so), and the events it decodes are cached weakly: the
 * garbage collector takes them back when nothing else holds them.
 */
import { NOT_MEASURED, encodeMeasuredFrame, encodeForwardFrame, scanFrame } from '../../schemas/codec/index.js';
import type { BusEvent } from '../../types.js';
import { typeMatches, typeMatchesAny } from '../type-patterns.js';
import { EncodedEvent, UNREAD_ENDPOINT, plainEvents } from './encoded-events.js';
import { EVENT_OVERHEAD_BYTES, META_ENTRY_OVERHEAD_BYTES } from './event-bytes.js';
import { compareEvents, lowerBound, matchesQuery, originKey, type HistoryQuery } from './history-query.js';

/** The order key of an event: what a block keeps of its first and last. */
export interface EventKey {
  readonly timestamp: number;
  readonly id: string;
}

/** How a history wants its blocks' events back, and what it counts. */
export interface BlockFormat {
  /** Plain objects (a bus hands its events to application code) rather than `EncodedEvent`s (a station). */
  readonly plain: boolean;
  /**
   * The size a history counted each event at, kept per event so that it counts the same size when the event leaves.
   * Asked only of events still in frames: one from an object is sized by `eventBytes`' rule as it is encoded, which
   * is what `sizeOf` gives for it (`retention.ts`).
   */
  readonly sizeOf?: (event: BusEvent) => number;
}

/**
 * An event decoded from a block, still in the block's bytes: it remembers the
 * size its history counted it at when it joined, which its place in another
 * frame would not give back.
 */
export class StoredEvent extends EncodedEvent {
  readonly #counted: number | undefined;

  constructor(batch: ConstructorParameters<typeof EncodedEvent>[0], index: number, counted: number | undefined) {
    super(batch, index);
    this.#counted = counted;
  }

  override get countedBytes(): number | undefined {
    return this.#counted;
  }
}

/** Bits per event of a block's id filter (about 1 % false positives with 3 probes). */
const FILTER_BITS_PER_EVENT = 10;

/**
 * The two hashes of an id that a block's id filter probes with (double
 * hashing), written into `into` (a block fills its filter with one pair for
 * all its events: an array per event, and its destructuring's iterator, were
 * about 200 of the 300 B an event compressing allocated on the heap).
 */
export function idHashes(id: string, into = new Uint32Array(2)): Uint32Array {
  // FNV-1a, and a second multiplicative hash for double hashing.
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b1;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x85ebca6b) ^ (h2 >>> 13);
  }
  into[0] = h1;
  into[1] = h2 | 1;
  return into;
}

/** 2^-32. */
const TO_UNIT = 2 ** -32;

/**
 * Probe `k` of an id filter of `filterBits` bits, for the id's `idHashes`:
 * the probe's 32-bit hash scaled to the filter's size (a multiplication, where
 * `%` of a sum that may pass 2^32 is a floating-point remainder).
 */
function filterBit(h1: number, h2: number, k: number, filterBits: number): number {
  return Math.floor(((h1 + Math.imul(k, h2)) >>> 0) * TO_UNIT * filterBits);
}

interface BlockParts {
  readonly frame: Uint8Array;
  readonly format: BlockFormat;
  readonly count: number;
  readonly live: number;
  readonly removed: Uint8Array | undefined;
  readonly sizes: Uint32Array | undefined;
  readonly first: EventKey;
  readonly last: EventKey;
  readonly types: readonly string[];
  readonly origins: readonly string[];
  readonly sides: number;
  readonly bodyBytes: number;
  readonly filter: Uint8Array;
  decoded: WeakRef<BusEvent[]> | undefined;
}

/**
 * Events `[first, last]` of a history, sorted, in one frame.
 *
 * @example
 * const block = EventBlock.of(events, { plain: false }, true)
 * block.events()          // decoded once, then cached weakly
 * block.without([0, 3])   // a new block without events 0 and 3
 */
export class EventBlock {
  readonly #parts: BlockParts;

  private constructor(parts: BlockParts) {
    this.#parts = parts;
  }

  /**
   * A block of `events` (sorted, at least one), snappy-compressed when
   * `compress` and when that makes it at least 1/8 smaller (the codec's
   * `'auto'`): a block that does not shrink (random bytes, or a few events) is
   * kept as it is, and its reads decompress nothing. Events still in frames
   * are copied as bytes, never decoded.
   */
  static of(events: readonly BusEvent[], format: BlockFormat, compress: boolean): EventBlock {
    const batch = { kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] } as const;
    const options = { compress: compress && 'auto' } as const;
    const sizeOf = format.sizeOf;
    let sizes: Uint32Array | undefined;
    let frame: Uint8Array;
    if (sizeOf === undefined) frame = encodeForwardFrame(batch, options);
    else {
      sizes = new Uint32Array(events.length);
      frame = encodeMeasuredFrame(batch, options, { eventBytes: EVENT_OVERHEAD_BYTES, metaEntryBytes: META_ENTRY_OVERHEAD_BYTES, into: sizes });
      for (let i = 0; i < sizes.length; i++) if (sizes[i] === NOT_MEASURED) sizes[i] = sizeOf(events[i]!);
    }
    const types = new Set<string>();
    const origins = new Set<string>();
    let sides = 0;
    const bits = Math.max(64, events.length * FILTER_BITS_PER_EVENT);
    const filter = new Uint8Array(Math.ceil(bits / 8));
    const filterBits = filter.length * 8;
    const hashes = new Uint32Array(2);
    // Neighbours mostly share their type and origin: each is added once per run of them.
    let type: string | undefined;
    let processor = -1;
    let thread = -1;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.type !== type) types.add((type = event.type));
      const origin = event.origin;
      if (origin.processor !== processor || origin.thread !== thread) {
        origins.add(originKey(origin));
        processor = origin.processor;
        thread = origin.thread;
      }
      sides |= event.side === 'external' ? 2 : 1;
      idHashes(event.id, hashes);
      const h1 = hashes[0]!;
      const h2 = hashes[1]!;
      for (let k = 0; k < 3; k++) {
        const bit = filterBit(h1, h2, k, filterBits);
        filter[bit >>> 3]! |= 1 << (bit & 7);
      }
    }
    const first = events[0]!;
    const last = events[events.length - 1]!;
    return new EventBlock({
      frame,
      format,
      count: events.length,
      live: events.length,
      removed: undefined,
      sizes,
      first: { timestamp: first.timestamp, id: first.id },
      last: { timestamp: last.timestamp, id: last.id },
      types: [...types],
      origins: [...origins],
      sides,
      bodyBytes: new DataView(frame.buffer, frame.byteOffset).getUint32(12, true),
      filter,
      decoded: undefined,
    });
  }

  /** Events held (not removed). */
  get live(): number {
    return this.#parts.live;
  }

  /** Events in the frame, removed ones included. */
  get count(): number {
    return this.#parts.count;
  }

  /** The first and last events of the frame (removed or not): the range of the order this block covers. */
  get first(): EventKey {
    return this.#parts.first;
  }

  get last(): EventKey {
    return this.#parts.last;
  }

  /** Bytes this block keeps: its frame, id filter and sizes. */
  get storedBytes(): number {
    const parts = this.#parts;
    return parts.frame.byteLength + parts.filter.byteLength + (parts.sizes?.byteLength ?? 0) + (parts.removed?.byteLength ?? 0);
  }

  /** Uncompressed bytes of the live events (estimated pro rata). */
  get liveBodyBytes(): number {
    return Math.ceil((this.#parts.bodyBytes * this.#parts.live) / this.#parts.count);
  }

  /** True when `key` is within the range this block covers. */
  covers(key: EventKey): boolean {
    return compareEvents(this.#parts.first, key) <= 0 && compareEvents(key, this.#parts.last) <= 0;
  }

  /** False when no event with this id is in the block; true when one may be (the id filter; `hashes`: the id's `idHashes`). */
  mayHold(id: string, hashes = idHashes(id)): boolean {
    const filter = this.#parts.filter;
    const h1 = hashes[0]!;
    const h2 = hashes[1]!;
    const filterBits = filter.length * 8;
    for (let k = 0; k < 3; k++) {
      const bit = filterBit(h1, h2, k, filterBits);
      if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  /** False when no event of the block can match `query` (its filter aside): the block need not be read. */
  mayMatch(query: HistoryQuery): boolean {
    const parts = this.#parts;
    if (query.since !== undefined && parts.last.timestamp < query.since) return false;
    if (query.until !== undefined && parts.first.timestamp >= query.until) return false;
    if (query.side !== undefined && (parts.sides & (query.side === 'external' ? 2 : 1)) === 0) return false;
    if (query.origin !== undefined && !parts.origins.includes(originKey(query.origin))) return false;
    if (query.types !== undefined && !parts.types.some((type) => typeMatchesAny(query.types!, type))) return false;
    return true;
  }

  /** False when no event of the block is of `pattern` or its subtypes. */
  mayHoldType(pattern: string): boolean {
    return this.#parts.types.some((type) => typeMatches(pattern, type));
  }

  /** True when event `index` of the frame is still held. */
  isLive(index: number): boolean {
    const removed = this.#parts.removed;
    return removed === undefined || (removed[index >>> 3]! & (1 << (index & 7))) === 0;
  }

  /** The size its history counted event `index` at, if it counts sizes. */
  sizeAt(index: number): number | undefined {
    return this.#parts.sizes?.[index];
  }

  /** Every event of the frame, removed ones included, in order; decoded once while something holds them. */
  all(): readonly BusEvent[] {
    const parts = this.#parts;
    const cached = parts.decoded?.deref();
    if (cached !== undefined) return cached;
    const encoded = this.#scan();
    const events = parts.format.plain ? plainEvents(encoded) : encoded;
    parts.decoded = new WeakRef(events);
    return events;
  }

  /** Every event of the frame as `StoredEvent`s, still bytes (never cached: a merge reads a block once). */
  #scan(): BusEvent[] {
    const parts = this.#parts;
    const scanned = scanFrame(parts.frame);
    if (scanned.kind !== 'encodedBatch') throw new TypeError(`a block frame reads as a ${scanned.kind}`);
    const encoded: BusEvent[] = new Array<BusEvent>(scanned.count);
    for (let i = 0; i < scanned.count; i++) encoded[i] = new StoredEvent(scanned, i, parts.sizes?.[i]);
    return encoded;
  }

  /**
   * The live events as bytes (`StoredEvent`s), whatever the format: what a
   * merge of blocks copies into a new frame without decoding any payload.
   */
  storedEvents(): BusEvent[] {
    const parts = this.#parts;
    const cached = parts.decoded?.deref();
    const all = cached !== undefined && !parts.format.plain ? cached : this.#scan();
    if (parts.removed === undefined) return all === cached ? all.slice() : all;
    const live: BusEvent[] = [];
    for (let i = 0; i < all.length; i++) if (this.isLive(i)) live.push(all[i]!);
    return live;
  }

  /** The live events, in order. */
  events(): BusEvent[] {
    const all = this.all();
    if (this.#parts.removed === undefined) return all.slice();
    const live: BusEvent[] = [];
    for (let i = 0; i < all.length; i++) if (this.isLive(i)) live.push(all[i]!);
    return live;
  }

  /** The frame index of the live event equal to `key` in the order, or -1. */
  indexOf(key: EventKey): number {
    if (!this.covers(key) || !this.mayHold(key.id)) return -1;
    const all = this.all();
    const at = lowerBound(all, key);
    const found = all[at];
    return found !== undefined && compareEvents(found, key) === 0 && this.isLive(at) ? at : -1;
  }

  /** The live events that match `query`, in order. */
  query(query: HistoryQuery): BusEvent[] {
    if (!this.mayMatch(query)) return [];
    const all = this.all();
    const found: BusEvent[] = [];
    for (let i = 0; i < all.length; i++) if (this.isLive(i) && matchesQuery(query, all[i]!)) found.push(all[i]!);
    return found;
  }

  /** This block without the events at `indices` (frame indices of live events); undefined when none is left. */
  without(indices: readonly number[]): EventBlock | undefined {
    const parts = this.#parts;
    if (indices.length === 0) return this;
    if (indices.length >= parts.live) return undefined;
    const removed = parts.removed === undefined ? new Uint8Array(Math.ceil(parts.count / 8)) : parts.removed.slice();
    for (const index of indices) removed[index >>> 3]! |= 1 << (index & 7);
    return new EventBlock({ ...parts, removed, live: parts.live - indices.length });
  }

  /** True when the block's frame is compressed (asked for, and it shrank). */
  get compressed(): boolean {
    return (this.#parts.frame[5]! & 1) === 1;
  }
}

/**
 * A reader's view of a history at one moment: the blocks and the newest
 * events as they were. Whatever the history does afterwards (merges,
 * removals, compression, merges of blocks), the view reads the same events,
 * so a paged or asynchronous reader sees each change all or nothing.
 *
 * @example
 * const view = history.view()
 * for (const page of view.pages(256)) await send(page)   // the history may change meanwhile
 */
export class HistoryView {
  readonly #blocks: readonly EventBlock[];
  readonly #recent: readonly BusEvent[];
  /** Number of events in the view. */
  readonly size: number;

  /** @internal Made by `EventHistory.view()`. */
  constructor(blocks: readonly EventBlock[], recent: readonly BusEvent[]) {
    this.#blocks = blocks;
    this.#recent = recent;
    this.size = recent.length + blocks.reduce((sum, block) => sum + block.live, 0);
  }

  /** The events in pages of at most `size`, oldest first; blocks are read only as their page comes. */
  *pages(size: number): Generator<BusEvent[], void, undefined> {
    let page: BusEvent[] = [];
    const sources: Array<() => readonly BusEvent[]> = [...this.#blocks.map((block) => () => block.events()), () => this.#recent];
    for (const source of sources) {
      for (const event of source()) {
        page.push(event);
        if (page.length >= size) {
          yield page;
          page = [];
        }
      }
    }
    if (page.length > 0) yield page;
  }

  /** Every event of the view, oldest first. */
  events(): BusEvent[] {
    return this.#blocks.flatMap((block) => block.events()).concat(this.#recent);
  }

  /** The events of the view that match `query`, oldest first; blocks that cannot match are not read. */
  query(query: HistoryQuery = {}): BusEvent[] {
    return this.#blocks.flatMap((block) => block.query(query)).concat(this.#recent.filter((event) => matchesQuery(query, event)));
  }
}
