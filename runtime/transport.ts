/**
 * The seam every sync hop goes through (bus ⇄ local station, local station ⇄
 * main station). In one thread the in-memory transport hands messages over as
 * they are; the frame transport encodes each one to a checksummed FlatBuffers
 * frame and decodes it again, exactly as a hop between threads or processes does.
 */
import { InvalidOptionError, TransportError, isBusError } from '../errors.js';
import { decodeFrame, encodeForwardFrame, encodeFrame, resolveFrameLimits, scanFrame, type FrameLimits } from '../schemas/codec.js';
import { eventBatchOf } from './encoded-events.js';
import type { BusEvent } from '../types.js';
import type { EventBatch, WireMessage } from './protocol.js';
import { assertKnownKeys } from './validate.js';

/** Who receives a message: a station keeps events as it received them; a bus needs them as objects. */
export type Receiver = 'station' | 'bus';

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
  readonly stats: TransportStats = { messages: 0, bytes: 0 };

  carry(message: WireMessage): Promise<WireMessage> {
    this.stats.messages++;
    return Promise.resolve(message);
  }
}

/**
 * Encodes every message to a frame (`schemas/codec.ts`) and decodes it on the
 * other end, so everything crossing it is exactly what the wire can carry.
 *
 * @example
 * const runtime = createRuntime({ transport: new FrameTransport({ compress: 'auto' }) })
 */
export class FrameTransport implements Transport {
  readonly name = 'frames';
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
    const options = { compress: this.#compress, limits: this.#limits };
    // Batches may hold events a station kept encoded: their bytes are copied on.
    const frame = message.kind === 'batch' ? encodeForwardFrame(message, options) : encodeFrame(message, options);
    this.stats.messages++;
    this.stats.bytes += frame.byteLength;
    if (receiver === 'bus') return decodeFrame(frame, this.#limits);
    const scanned = scanFrame(frame, this.#limits);
    return scanned.kind === 'encodedBatch' ? eventBatchOf(scanned) : scanned;
  }

  /**
   * A batch travels as as many frames as it needs: at most `maxBatchEvents`
   * events each, halved again while a frame would exceed the byte limit.
   * Chunks keep their order, so the reassembled history stays sorted.
   */
  #carryBatch(batch: EventBatch, receiver: Receiver): EventBatch {
    const total = batch.history.length + batch.queue.length;
    if (total <= this.#maxBatchEvents) {
      const carried = this.#tryRoundTrip(batch, receiver);
      if (carried !== undefined) return carried;
      if (total <= 1) throw new TransportError(`An event of batch ${batch.seq} is larger than a frame may be.`);
    }
    const history: BusEvent[] = [];
    const queue: BusEvent[] = [];
    const size = Math.max(1, Math.min(this.#maxBatchEvents, Math.ceil(total / 2)));
    const all = [...batch.history.map((event) => [event, true] as const), ...batch.queue.map((event) => [event, false] as const)];
    for (let start = 0; start < all.length; start += size) {
      const part = all.slice(start, start + size);
      const chunk: EventBatch = {
        ...batch,
        history: part.filter(([, inHistory]) => inHistory).map(([event]) => event),
        queue: part.filter(([, inHistory]) => !inHistory).map(([event]) => event),
      };
      const carried = this.#carryBatch(chunk, receiver);
      history.push(...carried.history);
      queue.push(...carried.queue);
    }
    return { ...batch, history, queue };
  }

  /** One frame for the whole batch, or undefined when it is too large for one. */
  #tryRoundTrip(batch: EventBatch, receiver: Receiver): EventBatch | undefined {
    try {
      const carried = this.#roundTrip(batch, receiver);
      if (carried.kind !== 'batch') throw new TransportError(`A batch came back as a ${carried.kind}.`);
      return carried;
    } catch (error) {
      if (isBusError(error, 'FRAME_TOO_LARGE')) return undefined;
      throw error;
    }
  }
}
