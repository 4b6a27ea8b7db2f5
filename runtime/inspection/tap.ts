/**
 * Inspection at the source: every actor of a thread (buses, user actors) or
 * of a processor (its stations, and in the root the bridge) is created with
 * the hook of its realm's `InspectionTap`. While inspection is on, the tap
 * turns XState's inspection events into `@statelyai/inspect` messages (JSON
 * text, written once here) and sends them towards the root in batches: at
 * most one batch in flight per hop, the next one only once the other end has
 * taken it. What accumulates meanwhile is bounded: past `maxBuffered`
 * records the oldest are dropped and counted, and the count travels with the
 * next batch. A slow inspector therefore costs records, never memory.
 *
 * Off (the default), the hook only remembers which actors are alive, so that
 * turning inspection on later can announce them; nothing is sent.
 */
import type { InspectionEvent } from '../../types.js';
import {
  messageText,
  snapshotStatus,
  toStatelyMessage,
  type ActorPlace,
  type StatelyMessageType,
  type XStateInspectionEvent,
} from '../../inspector/protocol.js';

/** One inspection message on its way to the root. */
export interface InspectionRecord {
  readonly type: StatelyMessageType;
  /** The actor's session id, unique across the runtime (`<realm>/x:<n>`). */
  readonly sessionId: string;
  /** The actor has ended (its snapshot is `done`, `error` or `stopped`): the inspector forgets it. */
  readonly ended: boolean;
  /** The `@statelyai/inspect` message, as the text frame a client receives. */
  readonly json: string;
}

/** Records that travel together, and how many were dropped before them (since the previous batch). */
export interface InspectionBatch {
  readonly records: readonly InspectionRecord[];
  readonly dropped: number;
}

/** An actor's XState inspection hook. */
export type InspectHook = (event: XStateInspectionEvent) => void;

/** Sends a batch one hop towards the root; `taken` is called once the next batch may go. */
export type InspectionOutlet = (batch: InspectionBatch, taken: () => void) => void;

/** Records held per realm (and per processor for what its threads send) before the oldest are dropped. */
export const DEFAULT_MAX_BUFFERED = 10_000;
/** Records per batch: a backlog travels in several batches rather than one huge message. */
const MAX_BATCH = 2_048;

export interface InspectionTapOptions {
  /** Names this realm (a thread's JavaScript context) in session ids: `<processor>.<thread>`, `~<incarnation>` for a restarted one. */
  readonly realm: string;
  /** Inspection on from the start. */
  readonly on?: boolean;
  /** Where records go one by one, at once (the root). */
  readonly deliver?: (record: InspectionRecord) => void;
  /** Where batches go (towards the root) when there is no `deliver`. */
  readonly outlet?: InspectionOutlet;
  /** The application's own hook (the root's `inspect` option): every XState event of the actors here, tagged, on or off. */
  readonly raw?: (event: InspectionEvent) => void;
  readonly maxBuffered?: number;
}

/** The inspection of one realm. */
export class InspectionTap {
  readonly realm: string;
  #on: boolean;
  readonly #deliver: ((record: InspectionRecord) => void) | undefined;
  readonly #outlet: InspectionOutlet | undefined;
  readonly #raw: ((event: InspectionEvent) => void) | undefined;
  readonly #maxBuffered: number;
  /** Live actors and where they run, to announce when inspection turns on. */
  readonly #actors = new Map<InspectionEvent['actorRef'], ActorPlace>();
  #sweepAt = 64;
  /** Records not yet sent: `#buffer[#head..]`. */
  #buffer: InspectionRecord[] = [];
  #head = 0;
  #dropped = 0;
  /** Records dropped here since inspection began, for tests and stats. */
  droppedTotal = 0;
  #inFlight = false;
  #scheduled = false;
  #closed = false;

  constructor(options: InspectionTapOptions) {
    this.realm = options.realm;
    this.#on = options.on ?? false;
    this.#deliver = options.deliver;
    this.#outlet = options.outlet;
    this.#raw = options.raw;
    this.#maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  }

  /** True once inspection is on here. */
  get on(): boolean {
    return this.#on;
  }

  /** Records waiting to be sent. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** The XState `inspect` option of an actor created at `place` (its id is taken from the actor). */
  hook(processor: number, thread: number | null): InspectHook {
    return (event) => {
      const ref = event.actorRef;
      const actorId = (ref as { id?: string }).id ?? ref.sessionId;
      if (event.type === '@xstate.actor') this.#track(ref, { processor, thread, actorId });
      if (this.#raw !== undefined) this.#raw({ ...event, processor, thread, actorId } as InspectionEvent);
      if (this.#on) this.#record(event, { processor, thread, actorId });
    };
  }

  /**
   * Turns inspection on (for good): every live actor is announced with its
   * current snapshot. Called again (a recording begins while inspection is
   * on), it announces them again, so that the new listener knows where
   * each actor stands.
   */
  enable(): void {
    this.#on = true;
    this.#sweep();
    for (const [ref, place] of this.#actors) {
      this.#record({ type: '@xstate.actor', actorRef: ref, rootId: rootIdOf(ref) }, place);
    }
  }

  /** Takes records that a thread hosted here sent, to pass them on with this realm's. */
  forward(batch: InspectionBatch): void {
    this.#dropped += batch.dropped;
    for (const record of batch.records) this.#push(record);
  }

  /** Stops sending; what is buffered is dropped. */
  close(): void {
    this.#closed = true;
    this.#buffer = [];
    this.#head = 0;
  }

  #record(event: XStateInspectionEvent, place: ActorPlace): void {
    const message = toStatelyMessage(event, this.realm, place);
    if (message === undefined) return;
    const ended = message.type !== '@xstate.event' && snapshotStatus(message.snapshot) !== 'active';
    this.#push({ type: message.type, sessionId: message.sessionId, ended, json: messageText(message) });
  }

  #push(record: InspectionRecord): void {
    if (this.#closed) return;
    if (this.#deliver !== undefined) {
      this.#deliver(record);
      return;
    }
    this.#buffer.push(record);
    if (this.#buffer.length - this.#head > this.#maxBuffered) {
      // Drop-oldest: what the inspector shows last is what happened last.
      this.#head++;
      this.#dropped++;
      this.droppedTotal++;
      if (this.#head > this.#maxBuffered) this.#compact();
    }
    this.#schedule();
  }

  #compact(): void {
    this.#buffer = this.#buffer.slice(this.#head);
    this.#head = 0;
  }

  /** One flush per turn of the event loop, so a burst of transitions travels as one batch. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#outlet === undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed || this.#inFlight || this.buffered === 0 || this.#outlet === undefined) return;
    const end = Math.min(this.#buffer.length, this.#head + MAX_BATCH);
    const records = this.#buffer.slice(this.#head, end);
    this.#head = end;
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    }
    const dropped = this.#dropped;
    this.#dropped = 0;
    this.#inFlight = true;
    this.#outlet({ records, dropped }, () => {
      this.#inFlight = false;
      if (this.buffered > 0) this.#schedule();
    });
  }

  #track(ref: InspectionEvent['actorRef'], place: ActorPlace): void {
    this.#actors.set(ref, place);
    // Actors that ended are forgotten in sweeps, amortized over the actors created.
    if (this.#actors.size >= this.#sweepAt) {
      this.#sweep();
      this.#sweepAt = Math.max(64, this.#actors.size * 2);
    }
  }

  #sweep(): void {
    for (const ref of this.#actors.keys()) {
      if (snapshotStatus(ref.getSnapshot()) !== 'active') this.#actors.delete(ref);
    }
  }
}

/** The session id of an actor's root (XState keeps the parent on the ref). */
function rootIdOf(ref: InspectionEvent['actorRef']): string {
  let root = ref as { sessionId: string; _parent?: unknown };
  while (root._parent !== undefined) root = root._parent as typeof root;
  return root.sessionId;
}

/** The realm name of a thread: `<processor>.<thread>`, and `~<incarnation>` once restarted. */
export function realmName(processor: number, thread: number, incarnation = ''): string {
  return incarnation === '' ? `${processor}.${thread}` : `${processor}.${thread}~${incarnation}`;
}
