/**
 * The hop between a worker thread's `InspectionTap` and its host (a processor,
 * or the root): a `MessagePort` of its own, made only for inspection. The data
 * port carries frames and nothing else (a frame channel takes anything else
 * for a broken peer), and inspection is telemetry, not bus events: it needs
 * neither the codec's checks nor the stations' flow control, only its own,
 * one batch in flight.
 *
 * Thread → host: `InspectionBatch`, and `'enabled'` once the thread has turned
 * inspection on (its live actors announced). Host → thread: `'ack'` (the
 * batch was taken; the next may come) and `'on'` (turn inspection on).
 */
import type { MessagePort } from 'node:worker_threads';
import type { MessagePortLike } from '../wire/frame-channel.js';
import { InspectionTap, type InspectionBatch } from './tap.js';

/** The tap of a worker thread, sending over `port`; `on` when inspection is on from the start. */
export function portInspectionTap(port: MessagePortLike, realm: string, on: boolean): InspectionTap {
  let taken: (() => void) | undefined;
  const tap = new InspectionTap({
    realm,
    on,
    outlet: (batch, done) => {
      taken = done;
      port.postMessage(batch);
    },
  });
  port.on('message', (message: unknown) => {
    if (message === 'ack') {
      const done = taken;
      taken = undefined;
      done?.();
    } else if (message === 'on') {
      tap.enable();
      port.postMessage('enabled');
    }
  });
  return tap;
}

/** True when `value` has the shape of a batch (a damaged or hostile worker may send anything). */
export function isInspectionBatch(value: unknown): value is InspectionBatch {
  if (typeof value !== 'object' || value === null) return false;
  const { records, dropped } = value as Record<string, unknown>;
  return (
    Array.isArray(records) &&
    typeof dropped === 'number' &&
    records.every(
      (record: unknown) =>
        typeof record === 'object' &&
        record !== null &&
        typeof (record as { json?: unknown }).json === 'string' &&
        typeof (record as { sessionId?: unknown }).sessionId === 'string' &&
        typeof (record as { type?: unknown }).type === 'string',
    )
  );
}

/**
 * How long `InspectionRelay.enable()` waits for a thread to say it turned
 * inspection on. A thread answers at its next turn of the event loop; one
 * that does not for this long is stuck in a handler (or hung, and its
 * supervision will replace it), and turns inspection on when it gets to it.
 */
export const ENABLE_WAIT_MS = 5_000;

/** The host's ends of its worker threads' inspection ports. */
export class InspectionRelay {
  readonly #forward: (batch: InspectionBatch) => void;
  readonly #isOn: () => boolean;
  readonly #ports = new Set<MessagePort>();
  /** Threads told to turn inspection on that have not said so yet, with what to call when they do (or are gone). */
  readonly #enabling = new Map<MessagePort, Set<() => void>>();

  /** `forward` takes each batch; `isOn` says whether a thread attached now must turn inspection on. */
  constructor(forward: (batch: InspectionBatch) => void, isOn: () => boolean) {
    this.#forward = forward;
    this.#isOn = isOn;
  }

  /** Serves a thread's port until it closes (its worker is gone) or `close()`. */
  attach(port: MessagePort): void {
    this.#ports.add(port);
    port.on('message', (message: unknown) => {
      if (message === 'enabled') return this.#enabled(port);
      if (isInspectionBatch(message)) this.#forward(message);
      // Taken (or refused as damaged): either way the thread may send its next batch.
      port.postMessage('ack');
    });
    port.once('close', () => {
      this.#ports.delete(port);
      this.#enabled(port);
    });
    // A thread that started with inspection off while it was being turned on hears it now.
    if (this.#isOn()) port.postMessage('on');
  }

  /**
   * Tells every thread attached here to turn inspection on. Resolves once each
   * has (its live actors are announced, and what it does from then on is
   * inspected), is gone, or has not answered within `ENABLE_WAIT_MS`.
   */
  enable(): Promise<void> {
    return Promise.all(
      [...this.#ports].map(
        (port) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(done, ENABLE_WAIT_MS).unref();
            function done(): void {
              clearTimeout(timer);
              resolve();
            }
            let waiting = this.#enabling.get(port);
            if (waiting === undefined) this.#enabling.set(port, (waiting = new Set()));
            waiting.add(done);
            port.postMessage('on');
          }),
      ),
    ).then(() => undefined);
  }

  /** Closes every port (the runtime stops). */
  close(): void {
    for (const port of this.#ports) port.close();
    this.#ports.clear();
    for (const port of [...this.#enabling.keys()]) this.#enabled(port);
  }

  #enabled(port: MessagePort): void {
    const waiting = this.#enabling.get(port);
    this.#enabling.delete(port);
    for (const done of waiting ?? []) done();
  }
}
