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
  /** Files still opening: a recording started as the runtime stops is finished by the stop too, not after it. */
  readonly #opening = new Set<Promise<Recorder>>();

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
    const opening = Recorder.open(path, this.#now, () => this.#hub.dropped.total, options.maxBufferedBytes);
    this.#opening.add(opening);
    let recorder: Recorder;
    try {
      recorder = await opening;
    } finally {
      this.#opening.delete(opening);
    }
    this.#recorders.add(recorder);
    const rootThreads = this.#hub.attach(recorder);
    this.#hookStations();
    await Promise.all([rootThreads, turnOn()]);
    return { path, stop: () => this.#stop(recorder) };
  }

  /** Finishes every recording (the runtime stops, after its actors have). */
  async stopAll(): Promise<void> {
    // Each opened one is among the recorders by the time this goes on (its start's own wait on it came first).
    await Promise.allSettled([...this.#opening]);
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
