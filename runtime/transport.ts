/**
 * The seam every sync hop goes through (bus ⇄ local station, local station ⇄
 * main station). In one thread the in-memory transport hands messages over as
 * they are; the frame transport encodes each one to a checksummed FlatBuffers
 * frame and decodes it again, exactly as a hop between threads or processes does.
 */
import { TransportError, isBusError } from '../errors.js';
import { decodeFrame, encodeFrame } from '../schemas/codec.js';
import type { WireMessage } from './protocol.js';

/** Carries messages across one hop. */
export interface Transport {
  /** A short name for logs and the inspector. */
  readonly name: string;
  /** Carries `message` across the hop; resolves with the message as the receiver sees it. */
  carry(message: WireMessage): Promise<WireMessage>;
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

  constructor(options: { compress?: boolean | 'auto' } = {}) {
    this.#compress = options.compress ?? 'auto';
  }

  carry(message: WireMessage): Promise<WireMessage> {
    try {
      const frame = encodeFrame(message, { compress: this.#compress });
      this.stats.messages++;
      this.stats.bytes += frame.byteLength;
      return Promise.resolve(decodeFrame(frame));
    } catch (error) {
      // Encoding refusals (InvalidEventError) and frame errors keep their type.
      if (isBusError(error)) return Promise.reject(error);
      return Promise.reject(new TransportError(`The frame transport failed: ${String(error)}`, { cause: error }));
    }
  }
}
