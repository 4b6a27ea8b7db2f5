/**
 * The bus's end of the sync protocol with its station: reads that go on from
 * where the last one stopped and say what the thread has delivered already,
 * and batches of what the station has not seen.
 */
import type { BusEvent, Endpoint, Side } from '../../types.js';
import type { EncodedEvent } from '../store/encoded-events.js';
import { declaredInterest } from '../station/interest.js';
import type { EventBatch } from '../wire/protocol.js';
import type { BusThread } from './bus-thread.js';
import type { DeliveredMark } from './delivered-mark.js';

/** A station's reply to a read, with the parked count it told (reads of the bus's own side). */
export interface Read {
  readonly batch: EventBatch;
  readonly parked?: number;
  /** How many of the history's first events the thread has delivered already (the station counted them). */
  readonly alreadyDelivered?: number;
  /** For a read that reached a station: the thread's mark of that station, where the read started and how far it is complete. */
  readonly delivery?: {
    readonly mark: DeliveredMark;
    readonly since: number;
    readonly through: number;
    readonly filtered: boolean;
  };
}

/** What a batch sent to the station came to: what it took, and its refusal of the rest. */
export interface Shared {
  readonly sent: readonly BusEvent[];
  /** The events of `sent` that the hop encoded, as the station took them (`framed[k]` is `sent[k]`): a prefix of `sent`, or all. */
  readonly framed: readonly EncodedEvent[];
  readonly refused?: { readonly error: unknown };
}

export class StationExchange {
  readonly #thread: BusThread<unknown>;
  readonly #endpoint: Endpoint;
  /** Per station read: the arrival number this bus has merged everything through. */
  #through: Record<Side, number> = { internal: 0, external: 0 };

  constructor(thread: BusThread<unknown>, endpoint: Endpoint) {
    this.#thread = thread;
    this.#endpoint = endpoint;
  }

  /**
   * Reads a station: an unfiltered read asks only for what arrived after the
   * last one (`since`), since everything before it is merged here already.
   */
  async read(side: Side, types: readonly string[] | undefined, limit?: number): Promise<Read> {
    const own = this.#endpoint.side;
    const since = types === undefined ? this.#through[side] : 0;
    const mark = this.#thread.delivered(own, side);
    const { batch, through, parked, alreadyDelivered } = await this.#thread.host.stationLink(side).serve({
      kind: 'syncRequest',
      seq: 0,
      from: this.#endpoint,
      side,
      ...(types === undefined ? {} : { types: [...types] }),
      ...(since > 0 ? { since } : {}),
      // Only an unfiltered read goes on from where the last one stopped, so only it may stop early.
      ...(limit === undefined || types !== undefined ? {} : { limit }),
      // What arrived through the mark is delivered here already: the station puts it first and counts it.
      ...(mark.through > since ? { deliveredThrough: mark.through } : {}),
      ...this.#interest(),
    });
    if (types === undefined) this.#through[side] = through;
    return {
      batch,
      // Only a read of this bus's own side hands parked entries back, and says how many are left.
      parked: side === own ? parked : undefined,
      alreadyDelivered: alreadyDelivered ?? 0,
      delivery: { mark, since, through, filtered: types !== undefined },
    };
  }

  /**
   * The interest this thread's reads declare: the patterns of its
   * subscriptions on this bus's side, which are what a read's events reach
   * (events that leave once delivered never join a bus history). Only where
   * some policy removes events after delivery: otherwise stations keep every
   * event and the field would be bytes for nothing.
   */
  #interest(): { interest?: readonly string[] } {
    if (this.#thread.host.memory?.afterDelivery !== true) return {};
    const interest = declaredInterest(this.#thread.subscriptions(this.#endpoint.side).interest());
    return interest === undefined ? {} : { interest };
  }

  /** A read that waits for credits: nothing, at once. */
  nothing(): Read {
    return { batch: { kind: 'batch', seq: 0, from: this.#endpoint, history: [], queue: [] } };
  }

  /**
   * Sends `unsent` to the station: resolves with what it took, and its
   * refusal of the rest. Held back for a slow reader, the bus first sends one
   * event to ask whether the station takes batches again, rather than have
   * its whole outbox carried, scanned and refused every period.
   */
  async share(unsent: readonly BusEvent[], heldBack: boolean): Promise<Shared> {
    const link = this.#thread.host.stationLink(this.#endpoint.side);
    // Its Ack's parked count is not taken: the read's, noted as its entries join the queue, is.
    // What the hop encoded, in order, while every part so far was encoded: a prefix of what was sent.
    let framed: readonly EncodedEvent[] = [];
    let whole = true;
    const send = async (history: readonly BusEvent[]): Promise<void> => {
      const reply = await link.accept({ kind: 'batch', seq: 0, from: this.#endpoint, history, queue: [] });
      if (whole && reply.framed !== undefined) framed = framed.length === 0 ? reply.framed : framed.concat(reply.framed);
      else whole = false;
    };
    let sent = 0;
    try {
      if (heldBack && unsent.length > 1) {
        await send(unsent.slice(0, 1));
        sent = 1;
      }
      await send(sent === 0 ? unsent : unsent.slice(sent));
      return { sent: unsent, framed };
    } catch (error) {
      return { sent: unsent.slice(0, sent), framed, refused: { error } };
    }
  }

  /** What was merged has been removed (a bridge clearing) and may be wanted again: read stations whole next time. */
  restart(): void {
    this.#through = { internal: 0, external: 0 };
  }
}
