/**
 * The seam every sync hop goes through (bus ⇄ local station, local station ⇄
 * main station). In one thread the in-memory transport hands messages over as
 * they are; the frame transport encodes each one to a checksummed FlatBuffers
 * frame and decodes it again, exactly as a hop between threads or processes does.
 */
import { InvalidOptionError, TransportError, isBusError } from '../../errors.js';
import { decodeFrame, encodeFrame, resolveFrameLimits, type EncodeOptions, type FrameLimits } from '../../schemas/codec/index.js';
import { scanDecodedMessage, scanMessage } from '../store/encoded-events.js';
import type { BusEvent } from '../../types.js';
import type { EventBatch, WireMessage } from './protocol.js';
import { assertKnownKeys } from '../validate.js';

/**
 * Who receives a message: a station keeps events as it received them; a bus
 * needs them as objects. `'busPlaces'`, passed only to a transport that
 * `carriesEncoded`: a bus that keeps a read's events as places in their
 * frames and needs their objects too (`EncodedEvent`s carrying them).
 */
export type Receiver = 'station' | 'bus' | 'busPlaces';

/** Carries messages across one hop. */
export interface Transport {
  /** A short name for logs and the inspector. */
  readonly name: string;
  /**
   * Carries `message` across the hop; resolves with the message as the
   * receiver sees it. For a station, batch events may arrive as
   * `EncodedEvent`s (still bytes); for a bus (the default) they are plain.
   */
  carry(message: WireMessage, receiver?: Receiver): Promise<WireMessage>;
  /**
   * True for transports that carry a station's `EncodedEvent`s as they are
   * (the built-in ones: by reference, or by copying their bytes into frames).
   * Any other transport is handed plain events only.
   */
  readonly carriesEncoded?: boolean;
}

/** Counters every transport keeps. */
export interface TransportStats {
  messages: number;
  bytes: number;
}

/**
 * Passes messages by reference. The default in one process.
 *
 * @example
 * const runtime = createRuntime({ transport: new InMemoryTransport() })
 */
export class InMemoryTransport implements Transport {
  readonly name = 'memory';
  readonly carriesEncoded = true;
  readonly stats: TransportStats = { messages: 0, bytes: 0 };

  carry(message: WireMessage): Promise<WireMessage> {
    this.stats.messages++;
    return Promise.resolve(message);
  }
}

/**
 * Encodes every message to a frame (`schemas/codec/`) and decodes it on the
 * other end, so everything crossing it is exactly what the wire can carry.
 *
 * @example
 * const runtime = createRuntime({ transport: new FrameTransport({ compress: 'auto' }) })
 */
export class FrameTransport implements Transport {
  readonly name = 'frames';
  readonly carriesEncoded = true;
  readonly stats: TransportStats = { messages: 0, bytes: 0 };
  readonly #compress: boolean | 'auto';
  readonly #maxBatchEvents: number;
  readonly #limits: Partial<FrameLimits>;

  /**
   * @param options.compress snappy: `'auto'` (default) when it pays off, `true`, `false`.
   * @param options.maxBatchEvents events per frame; larger batches travel as several frames.
   * @param options.limits the receiver's frame limits (see `DEFAULT_FRAME_LIMITS`).
   */
  constructor(options: { compress?: boolean | 'auto'; maxBatchEvents?: number; limits?: Partial<FrameLimits> } = {}) {
    assertKnownKeys(options, ['compress', 'maxBatchEvents', 'limits'], 'FrameTransport options');
    this.#compress = options.compress ?? 'auto';
    this.#limits = options.limits ?? {};
    const limits = resolveFrameLimits(this.#limits);
    this.#maxBatchEvents = options.maxBatchEvents ?? Math.min(4096, limits.maxEvents);
    if (!Number.isInteger(this.#maxBatchEvents) || this.#maxBatchEvents < 1 || this.#maxBatchEvents > limits.maxEvents) {
      throw new InvalidOptionError('FrameTransport options.maxBatchEvents', `expected an integer from 1 to ${limits.maxEvents}.`);
    }
  }

  carry(message: WireMessage, receiver: Receiver = 'bus'): Promise<WireMessage> {
    try {
      if (message.kind !== 'batch') return Promise.resolve(this.#roundTrip(message, receiver));
      return Promise.resolve(this.#carryBatch(message, receiver));
    } catch (error) {
      // Encoding refusals (InvalidEventError) and frame errors keep their type.
      if (isBusError(error)) return Promise.reject(error);
      return Promise.reject(new TransportError(`The frame transport failed: ${String(error)}`, { cause: error }));
    }
  }

  #roundTrip(message: WireMessage, receiver: Receiver): WireMessage {
    const frame = encodeFrame(message, { compress: this.#compress, limits: this.#limits });
    this.stats.messages++;
    this.stats.bytes += frame.byteLength;
    return this.#read(frame, receiver);
  }

  /** Reads a frame as `receiver` sees it: a station keeps batch events encoded. */
  #read(frame: Uint8Array, receiver: Receiver): WireMessage {
    if (receiver === 'bus') return decodeFrame(frame, this.#limits);
    return receiver === 'busPlaces' ? scanDecodedMessage(frame, this.#limits) : scanMessage(frame, this.#limits);
  }

  /** A batch travels as as many frames as it needs (`batchFrames`), read back in order. */
  #carryBatch(batch: EventBatch, receiver: Receiver): EventBatch {
    const history: BusEvent[] = [];
    const queue: BusEvent[] = [];
    for (const frame of batchFrames(batch, this.#maxBatchEvents, { compress: this.#compress, limits: this.#limits })) {
      this.stats.messages++;
      this.stats.bytes += frame.byteLength;
      const carried = this.#read(frame, receiver);
      if (carried.kind !== 'batch') throw new TransportError(`A batch came back as a ${carried.kind}.`);
      for (const event of carried.history) history.push(event);
      for (const event of carried.queue) queue.push(event);
    }
    return { ...batch, history, queue };
  }
}

/**
 * Encodes a batch as as many frames as it needs: at most `maxEvents` events
 * each (history first, then queue), halved again while a frame would exceed
 * the byte limit — so batches are cut by bytes as well as by count. Frames
 * keep the batch's order. Events a station kept encoded are copied, not
 * decoded (as `encodeFrame` does). With `chained`, the frames are parts of
 * one message: every one but the last says `more` (see `EventBatch.more`).
 */
export function batchFrames(batch: EventBatch, maxEvents: number, options: EncodeOptions, chained = false): Uint8Array[] {
  const frames: Uint8Array[] = [];
  cutFrames(batch, maxEvents, options, chained ? false : undefined, frames);
  return frames;
}

/** Appends `batch`'s frames to `frames`; `more` (when chaining) is what its last frame says. */
function cutFrames(batch: EventBatch, maxEvents: number, options: EncodeOptions, more: boolean | undefined, frames: Uint8Array[]): void {
  const total = batch.history.length + batch.queue.length;
  if (total <= maxEvents) {
    try {
      frames.push(encodeFrame(more === true ? { ...batch, more } : batch, options));
      return;
    } catch (error) {
      if (!isBusError(error, 'FRAME_TOO_LARGE')) throw error;
      if (total <= 1) throw new TransportError(`An event of batch ${batch.seq} is larger than a frame may be.`);
    }
  }
  const size = Math.max(1, Math.min(maxEvents, Math.ceil(total / 2)));
  const parts = splitBatch(batch, size);
  parts.forEach((part, i) => cutFrames(part, maxEvents, options, more === undefined ? undefined : more || i < parts.length - 1, frames));
}

/**
 * Cuts a batch into batches of at most `size` events (history first, then
 * queue; a part may hold the end of one and the start of the other), each
 * sorted as the original. Merging them one by one gives what merging the
 * whole gives: histories and parked queues deduplicate by id.
 */
export function splitBatch(batch: EventBatch, size: number): EventBatch[] {
  const inHistory = batch.history.length;
  const total = inHistory + batch.queue.length;
  if (total <= size) return [batch];
  const parts: EventBatch[] = [];
  for (let start = 0; start < total; start += size) {
    const end = Math.min(total, start + size);
    parts.push({
      ...batch,
      history: batch.history.slice(Math.min(start, inHistory), Math.min(end, inHistory)),
      queue: batch.queue.slice(Math.max(0, start - inHistory), Math.max(0, end - inHistory)),
    });
  }
  return parts;
}
