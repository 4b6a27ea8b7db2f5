/**
 * `runtime.record(path)`: writes every inspection record that reaches the
 * root and every event a main station accepts to a recording file
 * (`recording-file.ts`), streamed.
 *
 * The sources cannot wait (an actor's inspection hook and a station's merge
 * are synchronous), and a run that only awaits promises never gives the
 * event loop a turn to write. So records are gathered into a chunk and
 * encoded as soon as it is full (or at the next turn of the event loop),
 * which makes them a frame of bytes, snappy-compressed; frames go to the
 * write stream while it takes them and are held while it is full (until
 * `'drain'`). What is held is bounded in bytes: past `maxBufferedBytes` the
 * oldest held frames are dropped and their records counted in the
 * recording's last chunk. A disk slower than the run costs records, never
 * memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent } from '../../types.js';
import type { InspectionRecord } from '../inspection/tap.js';
import type { RecordingSummary } from './record-options.js';
import { chunkFrame, eventLine, RECORDING_FORMAT, RECORDING_VERSION, type RecordingEnd, type RecordLine } from './recording-file.js';

/** Records per chunk: a chunk is one frame, checksummed and maybe compressed as one. */
const CHUNK_RECORDS = 1_024;
/** Bytes of encoded chunks held while the file is slow, by default. */
export const DEFAULT_RECORDER_BUFFER_BYTES = 64 * 1024 * 1024;

/** An encoded chunk and what it holds (counted as lost if it is dropped). */
interface HeldFrame {
  readonly bytes: Uint8Array;
  readonly inspections: number;
  readonly events: number;
}

/** Writes one recording. */
export class Recorder {
  readonly path: string;
  readonly #now: () => number;
  readonly #maxBufferedBytes: number;
  readonly #stream: WriteStream;
  /** Records of the chunk being gathered, and how many of them are inspection records. */
  #chunk: RecordLine[] = [];
  #chunkInspections = 0;
  /** Frames the stream has not taken yet (it asked to wait), oldest first: `#held[#heldHead..]`. */
  #held: HeldFrame[] = [];
  #heldHead = 0;
  #heldBytes = 0;
  #inspections = 0;
  #events = 0;
  #droppedInspections = 0;
  #droppedEvents = 0;
  /** The hub's count of records lost on their way to the root, when recording began. */
  readonly #upstreamDropped: () => number;
  readonly #upstreamAtStart: number;
  #bytes = 0;
  #waitingForDrain = false;
  #scheduled = false;
  #stopping = false;
  #error: unknown;
  #finished: Promise<RecordingSummary> | undefined;

  private constructor(path: string, stream: WriteStream, now: () => number, upstreamDropped: () => number, maxBufferedBytes: number) {
    this.path = path;
    this.#stream = stream;
    this.#now = now;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#upstreamDropped = upstreamDropped;
    this.#upstreamAtStart = upstreamDropped();
    stream.on('error', (error) => (this.#error ??= error));
    stream.on('drain', () => {
      this.#waitingForDrain = false;
      this.#writeHeld();
    });
    this.#write(chunkFrame({ format: RECORDING_FORMAT, version: RECORDING_VERSION, startedAt: now() }));
  }

  /**
   * Opens (creates or truncates) `path` and resolves once it is open; rejects
   * with `InvalidOptionError` (`record path`) when it cannot be, the file
   * system's error as its cause.
   */
  static async open(path: string, now: () => number, upstreamDropped: () => number, maxBufferedBytes = DEFAULT_RECORDER_BUFFER_BYTES): Promise<Recorder> {
    const stream = createWriteStream(path);
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
    } catch (error) {
      throw new InvalidOptionError(
        'record path',
        `cannot write ${path}: ${(error as Error)?.message ?? String(error)}. ` +
          'Give a file in a directory that exists and that this process can write.',
        { cause: error },
      );
    }
    return new Recorder(path, stream, now, upstreamDropped, maxBufferedBytes);
  }

  /** Bytes of encoded chunks held, waiting for the file. */
  get bufferedBytes(): number {
    return this.#heldBytes;
  }

  /** An inspection record (the hub calls it as an `InspectionSink`). */
  publish(record: InspectionRecord): void {
    if (this.#stopping) return;
    this.#inspections++;
    this.#chunkInspections++;
    this.#add({ at: this.#now(), inspection: record.json });
  }

  /** Events a main station accepted. */
  accepted(events: readonly BusEvent[]): void {
    if (this.#stopping) return;
    const at = this.#now();
    for (const event of events) {
      this.#events++;
      this.#add(eventLine(at, event));
    }
  }

  /** Writes what is held, the last chunk, and closes the file. */
  stop(): Promise<RecordingSummary> {
    this.#finished ??= this.#finish();
    return this.#finished;
  }

  async #finish(): Promise<RecordingSummary> {
    this.#stopping = true;
    this.#seal();
    while (this.#heldHead < this.#held.length && this.#error === undefined) {
      await this.#drained();
      this.#writeHeld();
    }
    const dropped = this.#droppedInspections + this.#droppedEvents + this.#upstreamDropped() - this.#upstreamAtStart;
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

  /** Resolves once the stream takes more (at once if it is not full), or has failed. */
  #drained(): Promise<void> {
    if (!this.#waitingForDrain || this.#error !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#stream.off('drain', done).off('error', done);
        resolve();
      };
      this.#stream.on('drain', done).on('error', done);
    });
  }

  #add(line: RecordLine): void {
    this.#chunk.push(line);
    if (this.#chunk.length >= CHUNK_RECORDS) this.#seal();
    else this.#schedule();
  }

  /** One partial chunk per turn of the event loop: a burst of records becomes one chunk. */
  #schedule(): void {
    if (this.#scheduled || this.#stopping) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#seal();
    });
  }

  /** Encodes the chunk gathered so far and writes it, or holds it while the stream is full. */
  #seal(): void {
    if (this.#chunk.length === 0) return;
    const frame: HeldFrame = {
      bytes: chunkFrame({ records: this.#chunk }),
      inspections: this.#chunkInspections,
      events: this.#chunk.length - this.#chunkInspections,
    };
    this.#chunk = [];
    this.#chunkInspections = 0;
    if (this.#error !== undefined) return this.#lose(frame);
    if (!this.#waitingForDrain) return this.#write(frame.bytes);
    this.#held.push(frame);
    this.#heldBytes += frame.bytes.length;
    while (this.#heldBytes > this.#maxBufferedBytes && this.#heldHead < this.#held.length - 1) {
      // Drop-oldest, as inspection does on its way to the root; the newest frame is always kept.
      const oldest = this.#held[this.#heldHead]!;
      this.#held[this.#heldHead++] = undefined as unknown as HeldFrame;
      this.#heldBytes -= oldest.bytes.length;
      this.#lose(oldest);
    }
    if (this.#heldHead > 64 && this.#heldHead * 2 > this.#held.length) this.#compact();
  }

  #lose(frame: HeldFrame): void {
    this.#droppedInspections += frame.inspections;
    this.#droppedEvents += frame.events;
  }

  #compact(): void {
    this.#held = this.#held.slice(this.#heldHead);
    this.#heldHead = 0;
  }

  /** Writes held frames until none is left or the stream asks to wait. */
  #writeHeld(): void {
    while (this.#heldHead < this.#held.length && !this.#waitingForDrain && this.#error === undefined) {
      const frame = this.#held[this.#heldHead]!;
      this.#held[this.#heldHead++] = undefined as unknown as HeldFrame;
      this.#heldBytes -= frame.bytes.length;
      this.#write(frame.bytes);
    }
    if (this.#heldHead === this.#held.length) {
      this.#held = [];
      this.#heldHead = 0;
    }
  }

  #write(frame: Uint8Array): void {
    this.#bytes += frame.length;
    if (!this.#stream.write(frame)) this.#waitingForDrain = true;
  }
}
