/**
 * The runtime's recordings under way: each is an inspection sink of the
 * root's `InspectionHub` and hears the events the two main stations accept.
 * The stations' hook is set only while a recording runs, so a runtime that
 * never records pays nothing for it.
 */
import type { BusEvent, Side } from '../../types.js';
import type { InspectionHub } from '../inspection/hub.js';
import type { Station } from '../station/station.js';
import type { RecordingHandle, RecordingSummary, RecordOptions } from './record-options.js';
import { Recorder } from './recorder.js';

export class Recordings {
  readonly #hub: InspectionHub;
  readonly #now: () => number;
  readonly #mainStations: Record<Side, Station>;
  readonly #recorders = new Set<Recorder>();

  constructor(hub: InspectionHub, now: () => number, mainStations: Record<Side, Station>) {
    this.#hub = hub;
    this.#now = now;
    this.#mainStations = mainStations;
  }

  /**
   * Opens the file and starts recording; `turnOn` then turns inspection on
   * in every child processor. Resolves once every thread has it on: what
   * happens from then on anywhere is recorded.
   */
  async start(path: string, options: RecordOptions, turnOn: () => Promise<void>): Promise<RecordingHandle> {
    const recorder = await Recorder.open(path, this.#now, () => this.#hub.dropped.total, options.maxBufferedBytes);
    this.#recorders.add(recorder);
    const rootThreads = this.#hub.attach(recorder);
    this.#hookStations();
    await Promise.all([rootThreads, turnOn()]);
    return { path, stop: () => this.#stop(recorder) };
  }

  /** Finishes every recording (the runtime stops, after its actors have). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#recorders].map((recorder) => this.#stop(recorder).catch(() => undefined)));
  }

  #stop(recorder: Recorder): Promise<RecordingSummary> {
    this.#hub.detach(recorder);
    this.#recorders.delete(recorder);
    this.#hookStations();
    return recorder.stop();
  }

  #hookStations(): void {
    const hook = this.#recorders.size === 0 ? undefined : (events: readonly BusEvent[]) => {
      for (const recorder of this.#recorders) recorder.accepted(events);
    };
    this.#mainStations.internal.onAccepted = hook;
    this.#mainStations.external.onAccepted = hook;
  }
}
