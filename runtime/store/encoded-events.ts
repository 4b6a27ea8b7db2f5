/**
 * Events a station keeps as the bytes they arrived in (DESIGN.md, "decode
 * lazily"). A station receives every event of its processor's threads and
 * reads most of them only to pass them on, so it does not turn them into
 * objects: a batch frame is verified and indexed (`scanFrame`), and each of its
 * events becomes one small `EncodedEvent` — its timestamp and where its bytes
 * are. Passing events on copies their bytes into the next frame
 * (`encodeFrame` does so); local code that asks for an event gets a plain one
 * (`plainEvents`), decoded once.
 *
 * Why: decoding and then keeping every event as JS objects cost a station
 * ~2 µs per event here, most of it garbage collection of the kept objects,
 * and capped cross-thread sync near 0.3-0.5 M events/s.
 */
import {
  decodeEvents,
  eventIdAt,
  eventOriginAt,
  eventSideAt,
  eventTimestampAt,
  eventTypeAt,
  scanAndDecodeFrame,
  scanFrame,
  type EncodedBatch,
  type FrameLimits,
} from '../../schemas/codec/index.js';
import type { AnyPayload, BusEvent, Endpoint, Origin, Priority, Side } from '../../types.js';
import type { EventBatch, WireMessage } from '../wire/protocol.js';

/**
 * One event still in its batch's bytes. It reads as a `BusEvent` (the fields
 * are getters; `payload`, `priority`, `topic` and `meta` decode the event
 * once), so histories and indices hold it like any event; it never leaves
 * the runtime: station readers hand out `plainEvents()`.
 */
export class EncodedEvent implements BusEvent {
  readonly timestamp: number;
  readonly batch: EncodedBatch;
  readonly index: number;
  /** The decoded event, once something asked for it. */
  plain: BusEvent | undefined = undefined;

  constructor(batch: EncodedBatch, index: number) {
    this.batch = batch;
    this.index = index;
    this.timestamp = eventTimestampAt(batch, index);
  }

  get id(): string {
    return this.plain?.id ?? eventIdAt(this.batch, this.index);
  }

  get type(): string {
    return this.plain?.type ?? eventTypeAt(this.batch, this.index);
  }

  get side(): Side {
    return this.plain?.side ?? (eventSideAt(this.batch, this.index) === 1 ? 'external' : 'internal');
  }

  get origin(): Origin {
    return this.plain?.origin ?? eventOriginAt(this.batch, this.index);
  }

  get priority(): Priority {
    return this.decoded().priority;
  }

  get topic(): string | undefined {
    return this.decoded().topic;
  }

  get payload(): AnyPayload {
    return this.decoded().payload;
  }

  get meta(): Readonly<Record<string, string>> | undefined {
    return this.decoded().meta;
  }

  /** The size a history counted this event at, when it differs from its place in this batch (an event from a block). */
  get countedBytes(): number | undefined {
    return undefined;
  }

  /** The event as a plain object, decoded on first use. */
  decoded(): BusEvent {
    return (this.plain ??= decodeEvents(this.batch, [this.index])[0]!);
  }
}

/** The `from` of frames the runtime writes only to read back itself (journal entries, repacked events). */
export const UNREAD_ENDPOINT: Endpoint = { processor: 0, thread: 0, generation: 0, side: 'internal' };

/** A frame read as a station keeps it: every check of `decodeFrame`, a batch's history as `EncodedEvent`s. */
export function scanMessage(frame: Uint8Array, limits?: Partial<FrameLimits>): WireMessage {
  const scanned = scanFrame(frame, limits);
  return scanned.kind === 'encodedBatch' ? eventBatchOf(scanned) : scanned;
}

/**
 * `scanMessage` for a reader that needs every event of a batch as an object
 * now (a bus's read, `read-merge.ts`): scanned and decoded in one walk
 * (`scanAndDecodeFrame`), each `EncodedEvent` carrying its object (`plain`).
 */
export function scanDecodedMessage(frame: Uint8Array, limits?: Partial<FrameLimits>): WireMessage {
  const { message, history } = scanAndDecodeFrame(frame, limits);
  if (message.kind !== 'encodedBatch') return message;
  const batch = eventBatchOf(message);
  batch.history.forEach((event, i) => {
    (event as EncodedEvent).plain = history![i];
  });
  return batch;
}

/** `scanMessage` of a frame the runtime wrote itself as a batch. */
export function scanBatch(frame: Uint8Array): EventBatch {
  const message = scanMessage(frame);
  if (message.kind !== 'batch') throw new TypeError(`a frame written as a batch reads as a ${message.kind}`);
  return message;
}

/** The events of an encoded batch as an `EventBatch`: the history as `EncodedEvent`s, the queue as it was decoded. */
export function eventBatchOf(encoded: EncodedBatch): EventBatch {
  const history: BusEvent[] = new Array<BusEvent>(encoded.count);
  for (let i = 0; i < encoded.count; i++) history[i] = new EncodedEvent(encoded, i);
  const batch: EventBatch = { kind: 'batch', seq: encoded.seq, from: encoded.from, history, queue: encoded.queue };
  return encoded.more === true ? { ...batch, more: true } : batch;
}

/**
 * `events` as plain objects, in a new array, in order: encoded ones decoded
 * (runs from one batch together), the others as they are. With `remember`,
 * the decoded objects are also kept on the encoded events for the next
 * reader — which keeps each event twice; by default nothing is kept.
 */
export function plainEvents(events: readonly BusEvent[], options?: { readonly remember?: boolean }): BusEvent[] {
  const remember = options?.remember ?? false;
  let first = 0;
  while (first < events.length && !needsDecoding(events[first]!)) first++;
  if (first === events.length) return events.map(plainEvent);
  const result = events.slice(0, first).map(plainEvent);
  let i = first;
  while (i < events.length) {
    const event = events[i]!;
    if (!(event instanceof EncodedEvent) || event.plain !== undefined) {
      result.push(plainEvent(event));
      i++;
      continue;
    }
    // A run of events of one batch, decoded in one call.
    const batch = event.batch;
    const run: EncodedEvent[] = [];
    while (i < events.length) {
      const next = events[i];
      if (!(next instanceof EncodedEvent) || next.batch !== batch || next.plain !== undefined) break;
      run.push(next);
      i++;
    }
    const decoded = decodeEvents(
      batch,
      run.map((encoded) => encoded.index),
    );
    run.forEach((encoded, k) => {
      if (remember) encoded.plain = decoded[k];
      result.push(decoded[k]!);
    });
  }
  return result;
}

/** One event as a plain object. */
export function plainEvent(event: BusEvent): BusEvent {
  return event instanceof EncodedEvent ? event.decoded() : event;
}

/** `batch` with plain events only (the same object when it has none encoded). */
export function plainBatch(batch: EventBatch): EventBatch {
  if (!batch.history.some(isEncoded) && !batch.queue.some(isEncoded)) return batch;
  return { ...batch, history: plainEvents(batch.history), queue: plainEvents(batch.queue) };
}

function needsDecoding(event: BusEvent): boolean {
  return event instanceof EncodedEvent && event.plain === undefined;
}

function isEncoded(event: BusEvent): boolean {
  return event instanceof EncodedEvent;
}

/** The containers of an `EventSet` (strong) or a `WeakEventSet`. */
interface Members {
  readonly objects: { add(event: BusEvent): unknown; has(event: BusEvent): boolean };
  readonly places: { get(batch: EncodedBatch): Set<number> | undefined; set(batch: EncodedBatch, places: Set<number>): unknown };
}

function addMember({ objects, places }: Members, event: BusEvent): void {
  if (!(event instanceof EncodedEvent)) {
    objects.add(event);
    return;
  }
  const held = places.get(event.batch);
  if (held === undefined) places.set(event.batch, new Set([event.index]));
  else held.add(event.index);
}

function hasMember({ objects, places }: Members, event: BusEvent): boolean {
  return event instanceof EncodedEvent ? places.get(event.batch)?.has(event.index) === true : objects.has(event);
}

/**
 * A set of events in which an `EncodedEvent` is its place in its frame: two
 * reads of one stored event (a history makes a new object on each read,
 * `event-segment.ts`) are one member. Other events are members by identity.
 *
 * @example
 * const gone = new EventSet(history.remove(events))
 * added.filter((event) => !gone.has(event))
 */
export class EventSet {
  readonly #places = new Map<EncodedBatch, Set<number>>();
  readonly #members: Members = { objects: new Set<BusEvent>(), places: this.#places };
  #size = 0;

  constructor(events: Iterable<BusEvent> = []) {
    for (const event of events) this.add(event);
  }

  add(event: BusEvent): void {
    if (this.has(event)) return;
    this.#size++;
    addMember(this.#members, event);
  }

  has(event: BusEvent): boolean {
    return hasMember(this.#members, event);
  }

  /** Number of members. */
  get size(): number {
    return this.#size;
  }

  /** Members that are places in `batch`. */
  countIn(batch: EncodedBatch): number {
    return this.#places.get(batch)?.size ?? 0;
  }

  /** The frames members are places in. */
  frames(): IterableIterator<EncodedBatch> {
    return this.#places.keys();
  }
}

/** `EventSet`, holding its members weakly: a member whose frame (or object) nobody else holds is forgotten with it. */
export class WeakEventSet {
  readonly #members: Members = { objects: new WeakSet<BusEvent>(), places: new WeakMap<EncodedBatch, Set<number>>() };

  add(event: BusEvent): void {
    addMember(this.#members, event);
  }

  has(event: BusEvent): boolean {
    return hasMember(this.#members, event);
  }
}
