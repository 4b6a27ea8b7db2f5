/**
 * The hop between a worker thread's `InspectionTap` and its host (a processor,
 * or the root): a `MessagePort` of its own, made only for inspection. The data
 * port carries frames and nothing else (a frame channel takes anything else
 * for a broken peer), and inspection is telemetry, not bus events: it needs
 * neither the codec's checks nor the stations' flow control, only its own,
 * one batch in flight.
 *
 * Thread → host: `InspectionBatch`. Host → thread: `'ack'` (the batch was
 * taken; the next may come) and `'on'` (inspection turned on).
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

/** The host's ends of its worker threads' inspection ports. */
export class InspectionRelay {
  readonly #forward: (batch: InspectionBatch) => void;
  readonly #isOn: () => boolean;
  readonly #ports = new Set<MessagePort>();

  /** `forward` takes each batch; `isOn` says whether a thread attached now must turn inspection on. */
  constructor(forward: (batch: InspectionBatch) => void, isOn: () => boolean) {
    this.#forward = forward;
    this.#isOn = isOn;
  }

  /** Serves a thread's port until it closes (its worker is gone) or `close()`. */
  attach(port: MessagePort): void {
    this.#ports.add(port);
    port.on('message', (message: unknown) => {
      if (isInspectionBatch(message)) this.#forward(message);
      // Taken (or refused as damaged): either way the thread may send its next batch.
      port.postMessage('ack');
    });
    port.once('close', () => this.#ports.delete(port));
    // A thread that started with inspection off while it was being turned on hears it now.
    if (this.#isOn()) port.postMessage('on');
  }

  /** Tells every thread attached here that inspection is on. */
  enable(): void {
    for (const port of this.#ports) port.postMessage('on');
  }

  /** Closes every port (the runtime stops). */
  close(): void {
    for (const port of this.#ports) port.close();
    this.#ports.clear();
  }
}
