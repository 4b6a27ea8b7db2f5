/**
 * `runtime.record(path)`: writes every inspection record that reaches the
 * root and every event a main station accepts to a recording file
 * (`recording-file.ts`), streamed.
 *
 * The sources cannot wait (an actor's inspection hook and a station's merge
 * are synchronous), so the recorder holds what the file has not taken yet
 * and writes it in chunks, one turn of the event loop at a time; while the
 * write stream is full (`write()` returned false) it waits for `'drain'`.
 * What it holds is bounded: past `maxBuffered` records the oldest are
 * dropped and counted in the recording's last chunk. A disk slower than the
 * run therefore costs records, never memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { BusEvent } from '../../types.js';
import type { InspectionRecord } from '../inspection/tap.js';
import type { RecordingSummary } from './record-options.js';
import { chunkFrame, eventLine, RECORDING_FORMAT, RECORDING_VERSION, type RecordingEnd, type RecordLine } from './recording-file.js';

/** Records per chunk: a chunk is one frame, checksummed and maybe compressed as one. */
const CHUNK_RECORDS = 1_024;
/** Records held before the oldest are dropped, by default. */
export const DEFAULT_RECORDER_BUFFER = 100_000;

/** Writes one recording. */
export class Recorder {
  readonly path: string;
  readonly #now: () => number;
  readonly #maxBuffered: number;
  readonly #stream: WriteStream;
  #pending: RecordLine[] = [];
  #head = 0;
  #inspections = 0;
  #events = 0;
  /** Dropped here, and the hub's count of records lost upstream when recording began (subtracted at the end). */
  #dropped = 0;
  #droppedInspections = 0;
  #droppedEvents = 0;
  readonly #upstreamDropped: () => number;
  readonly #upstreamAtStart: number;
  #bytes = 0;
  #waitingForDrain = false;
  #scheduled = false;
  #stopping = false;
  #error: unknown;
  #finished: Promise<RecordingSummary> | undefined;

  private constructor(path: string, stream: WriteStream, now: () => number, upstreamDropped: () => number, maxBuffered: number) {
    this.path = path;
    this.#stream = stream;
    this.#now = now;
    this.#maxBuffered = maxBuffered;
    this.#upstreamDropped = upstreamDropped;
    this.#upstreamAtStart = upstreamDropped();
    stream.on('error', (error) => (this.#error ??= error));
    stream.on('drain', () => {
      this.#waitingForDrain = false;
      this.#schedule();
    });
    this.#write(chunkFrame({ format: RECORDING_FORMAT, version: RECORDING_VERSION, startedAt: now() }));
  }

  /** Opens (creates or truncates) `path` and resolves once it is open; rejects with the file system's error. */
  static async open(path: string, now: () => number, upstreamDropped: () => number, maxBuffered = DEFAULT_RECORDER_BUFFER): Promise<Recorder> {
    const stream = createWriteStream(path);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return new Recorder(path, stream, now, upstreamDropped, maxBuffered);
  }

  /** Records held, not yet written. */
  get buffered(): number {
    return this.#pending.length - this.#head;
  }

  /** An inspection record (the hub calls it as an `InspectionSink`). */
  publish(record: InspectionRecord): void {
    if (this.#stopping) return;
    this.#inspections++;
    this.#push({ at: this.#now(), inspection: record.json });
  }

  /** Events a main station accepted. */
  accepted(events: readonly BusEvent[]): void {
    if (this.#stopping) return;
    const at = this.#now();
    for (const event of events) {
      this.#events++;
      this.#push(eventLine(at, event));
    }
  }

  /** Writes what is held, the last chunk, and closes the file. */
  stop(): Promise<RecordingSummary> {
    this.#finished ??= this.#finish();
    return this.#finished;
  }

  async #finish(): Promise<RecordingSummary> {
    this.#stopping = true;
    while (this.buffered > 0 && this.#error === undefined) {
      if (this.#waitingForDrain) await new Promise<void>((resolve) => this.#stream.once('drain', resolve).once('error', () => resolve()));
      this.#flush();
    }
    const dropped = this.#dropped + this.#upstreamDropped() - this.#upstreamAtStart;
    const end: RecordingEnd = {
      stoppedAt: this.#now(),
      inspections: this.#inspections - this.#droppedInspections,
      events: this.#events - this.#droppedEvents,
      dropped,
    };
    if (this.#error === undefined) this.#write(chunkFrame({ end: true, ...end }));
    await new Promise<void>((resolve) => this.#stream.end(() => resolve()));
    if (this.#error !== undefined) throw this.#error;
    return { path: this.path, inspections: end.inspections, events: end.events, dropped, bytes: this.#bytes };
  }

  #push(line: RecordLine): void {
    this.#pending.push(line);
    if (this.buffered > this.#maxBuffered) {
      // Drop-oldest, as inspection does on its way to the root.
      const lost = this.#pending[this.#head]!;
      if ('inspection' in lost) this.#droppedInspections++;
      else this.#droppedEvents++;
      this.#pending[this.#head++] = undefined as unknown as RecordLine;
      this.#dropped++;
      if (this.#head > this.#maxBuffered) this.#compact();
    }
    this.#schedule();
  }

  #compact(): void {
    this.#pending = this.#pending.slice(this.#head);
    this.#head = 0;
  }

  /** One flush per turn of the event loop: a burst of records becomes one chunk. */
  #schedule(): void {
    if (this.#scheduled || this.#waitingForDrain || this.#stopping) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Writes chunks until nothing is held or the stream asks to wait. */
  #flush(): void {
    while (this.buffered > 0 && !this.#waitingForDrain && this.#error === undefined) {
      const end = Math.min(this.#pending.length, this.#head + CHUNK_RECORDS);
      const records = this.#pending.slice(this.#head, end);
      this.#head = end;
      if (this.#head === this.#pending.length) {
        this.#pending = [];
        this.#head = 0;
      }
      this.#write(chunkFrame({ records }));
    }
  }

  #write(frame: Uint8Array): void {
    this.#bytes += frame.length;
    if (!this.#stream.write(frame)) this.#waitingForDrain = true;
  }
}
