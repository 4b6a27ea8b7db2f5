/**
 * Inspection in the root: where every realm's records end up. The root's own
 * actors go through its `InspectionTap` (the application's `inspect` option
 * gets their XState events as they happen); worker threads of the root send
 * batches over their inspection ports (`InspectionRelay`), child processors
 * over their IPC channel (their own threads' records included). The hub hands
 * each record to the inspector server, and the remote ones to the `inspect`
 * option as `InspectionEvent`s, in the order each realm sent them.
 */
import type { InspectionEvent } from '../../types.js';
import type { StatelyMessage } from '../../inspector/protocol.js';
import { InspectionRelay } from './ports.js';
import { InspectionTap, realmName, type InspectionBatch, type InspectionRecord } from './tap.js';

/** Where the root's records go when an inspector runs (`inspector/server.ts` implements it). */
export interface InspectionSink {
  publish(record: InspectionRecord): void;
}


/**
 * The application's `inspect` function, kept from unwinding what it watches:
 * XState calls it inside the actors' own steps (a throw there would fail the
 * actor's start, or `createRuntime()` itself). What it throws is logged, the
 * first time only: it is called for every step of every actor.
 */
function guarded(inspect: (event: InspectionEvent) => void): (event: InspectionEvent) => void {
  let logged = false;
  return (event) => {
    try {
      inspect(event);
    } catch (error) {
      if (logged) return;
      logged = true;
      console.error('[busline] the inspect option\'s function threw (logged once; inspection goes on):', error);
    }
  };
}

/** The root's inspection. */
export class InspectionHub {
  readonly tap: InspectionTap;
  readonly relay: InspectionRelay;
  readonly #inspect: ((event: InspectionEvent) => void) | undefined;
  /** The inspector server and any recordings. */
  readonly #sinks = new Set<InspectionSink>();
  /** The last snapshot of each live remote actor: what its `actorRef.getSnapshot()` answers in the `inspect` option. */
  readonly #snapshots = new Map<string, unknown>();
  /** Records dropped on the way (by a busy realm or processor), by where they were dropped. */
  readonly dropped = { total: 0 };

  constructor(inspect: ((event: InspectionEvent) => void) | undefined) {
    this.#inspect = inspect === undefined ? undefined : guarded(inspect);
    this.tap = new InspectionTap({
      realm: realmName(0, 0),
      deliver: (record) => this.#publish(record),
      ...(this.#inspect === undefined ? {} : { raw: this.#inspect }),
    });
    this.relay = new InspectionRelay((batch) => this.take(batch), () => this.remoteOn);
  }

  /** Whether workers and processors send records: with an `inspect` option, or once an inspector or a recording runs. */
  get remoteOn(): boolean {
    return this.#inspect !== undefined || this.#sinks.size > 0;
  }

  /**
   * Records reach `sink` from now on; the root's actors are announced to it,
   * and its worker threads are told to announce theirs: resolves once they
   * have (child processors must be told by the caller). Inspection stays on
   * when it detaches.
   */
  attach(sink: InspectionSink): Promise<void> {
    this.#sinks.add(sink);
    // Announces the live actors (again, when inspection was on already: the new sink has not heard of them).
    this.tap.enable();
    return this.relay.enable();
  }

  /** `sink` gets no more records. */
  detach(sink: InspectionSink): void {
    this.#sinks.delete(sink);
  }

  #publish(record: InspectionRecord): void {
    for (const sink of this.#sinks) sink.publish(record);
  }

  /** A batch from a worker thread of the root or from a child processor. */
  take(batch: InspectionBatch): void {
    this.dropped.total += batch.dropped;
    for (const record of batch.records) {
      this.#publish(record);
      if (this.#inspect !== undefined) this.#inspect(this.#toEvent(record));
    }
  }

  close(): void {
    this.relay.close();
    this.tap.close();
    this.#sinks.clear();
  }

  /** A remote record as an `InspectionEvent`: its actor ref answers the last snapshot the root has seen of it. */
  #toEvent(record: InspectionRecord): InspectionEvent {
    const message = JSON.parse(record.json) as StatelyMessage;
    const place = message.busline ?? { processor: -1, thread: null, actorId: message.sessionId };
    if (record.ended) this.#snapshots.delete(message.sessionId);
    else if (message.snapshot !== undefined) this.#snapshots.set(message.sessionId, message.snapshot);
    const ref = (sessionId: string) => ({ sessionId, id: sessionId === message.sessionId ? place.actorId : sessionId, getSnapshot: () => this.#snapshots.get(sessionId) });
    const base = { ...place, rootId: message.rootId ?? message.sessionId, actorRef: ref(message.sessionId) };
    const event = (message.event ?? { type: '' }) as { type: string };
    if (message.type === '@xstate.actor') return { ...base, type: '@xstate.actor' };
    if (message.type === '@xstate.event') {
      return { ...base, type: '@xstate.event', event, sourceRef: message.sourceId === undefined ? undefined : ref(message.sourceId) };
    }
    return { ...base, type: '@xstate.snapshot', event, snapshot: message.snapshot };
  }
}
