/**
 * What a bus tells its actor about posts and deliveries: counts, once per
 * flushed batch or carried by the step that ends a sync call, never one
 * statechart step per event (the actor owns the control plane, not the data).
 */
import type { Actor } from 'xstate';
import type { busMachine } from '../../machines/bus.machine.js';
import type { ActivityReport } from '../../machines/events.js';

export class ActivityReports {
  readonly #actor: Actor<typeof busMachine>;
  /** Events posted since the last report. */
  posted = 0;
  /** Deliveries to subscribers since the last report. */
  delivered = 0;
  /**
   * The sequence of the id of the last event posted (-1 before any), its id
   * made when a report is: a string stored into this long-lived object at
   * every post would cost the garbage collector's write barrier.
   */
  lastSequence = -1;
  readonly #idOf: (sequence: number) => string;
  /** While a read is under way its RECEIVED step will carry the activity: reports wait for it. */
  held = false;

  constructor(actor: Actor<typeof busMachine>, idOf: (sequence: number) => string) {
    this.#actor = actor;
    this.#idOf = idOf;
  }

  /** Tells the actor what happened since the last report, unless a read will carry it. */
  report(queued: number): void {
    if (this.held || (this.posted === 0 && this.delivered === 0)) return;
    if (this.#actor.getSnapshot().status !== 'active') return;
    const { activity } = this.take();
    this.#actor.send({ type: 'ACTIVITY', ...activity!, queued });
  }

  /**
   * What happened since the last report, taken for a step that ends a sync
   * call to carry (one statechart step fewer than an ACTIVITY of its own).
   */
  take(): { activity?: ActivityReport } {
    if (this.posted === 0 && this.delivered === 0) return {};
    const activity = { posted: this.posted, delivered: this.delivered, lastId: this.lastSequence < 0 ? null : this.#idOf(this.lastSequence) };
    this.posted = 0;
    this.delivered = 0;
    return { activity };
  }
}
