/**
 * Request/response over frames: the data plane between a worker's buses and
 * its processor's stations (a `MessagePort`, frames transferred), and between
 * a processor and the root (an IPC channel). Every message crosses as one
 * checksummed frame of `schemas/codec/`; nothing else travels here.
 *
 * Each request gets a sequence number; the other end answers with zero or more
 * event batches and one closing `Ack` of the same number. Credit-based flow
 * control: at most `window` requests are outstanding; the others wait, so a
 * slow receiver slows its senders instead of growing memory.
 *
 * Batches are cut into frames by count (`maxFrameEvents`) and by bytes (the
 * frame limit). A batch request cut so travels as parts of one sequence
 * number, all but the last saying `more`; the receiver keeps the parts and
 * serves them as one batch once the last has arrived, so a station merges a
 * batch whole or not at all and no reader ever sees part of one.
 */
import { FrameError, TransportError, WorkerCrashedError, isBusError, type BusError } from '../../errors.js';
import { fromWireError, toWireError, type WireError } from './wire-errors.js';
import { decodeFrame, encodeFrame } from '../../schemas/codec/index.js';
import { scanDecodedMessage, scanMessage } from '../store/encoded-events.js';
import type { Ack, EventBatch, WireMessage } from './protocol.js';
import { batchFrames } from './transport.js';

/** The two ends a channel needs: send a frame, hear frames. */
export interface FramePort {
  /** Sends one frame; the port may transfer its buffer. */
  send(frame: Uint8Array): void;
  /** Listens for frames; returns a function that stops listening. */
  listen(listener: (data: unknown) => void): () => void;
}

/** Something with `postMessage` and `on('message')`: a `MessagePort` or a `worker_threads` parent port. */
export interface MessagePortLike {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off(event: 'message', listener: (value: unknown) => void): unknown;
  close?(): void;
}

/** A `FramePort` over a message port: frames are transferred, not copied. */
export function messagePortFrames(port: MessagePortLike): FramePort {
  return {
    send: (frame) => port.postMessage(frame, [frame.buffer as ArrayBuffer]),
    listen: (listener) => {
      port.on('message', listener);
      return () => void port.off('message', listener);
    },
  };
}

/** Answers one request: the replies to send before the closing `Ack` (which may be the last of them). */
export type RequestHandler = (message: WireMessage) => readonly WireMessage[] | Promise<readonly WireMessage[]>;

export interface FrameChannelOptions {
  /** Answers the other end's requests; a channel without one only sends. */
  readonly serve?: RequestHandler;
  /** Requests outstanding at once before `request()` waits (credits). Default 8. */
  readonly window?: number;
  /** Compress frames: `'auto'` (default) when it pays off. */
  readonly compress?: boolean | 'auto';
  /** Name for error messages, e.g. `worker 0.1`. */
  readonly name?: string;
  /**
   * Which end this is. Both ends may send requests; the two number them apart
   * (`'a'` odd, `'b'` even), so a reply is never taken for a request.
   */
  readonly end?: 'a' | 'b';
  /**
   * Event batches arrive as `EncodedEvent`s (verified, still bytes): for the
   * ends whose batches go to stations. `'decoded'`: the same, each event also
   * decoded in the same walk (`scanDecodedMessage`), for a bus that keeps
   * what it reads as places and delivers it. Default false: plain events.
   */
  readonly encodedEvents?: boolean | 'decoded';
  /** The most events one frame carries; larger batches travel as several frames. Default `MAX_FRAME_EVENTS`. */
  readonly maxFrameEvents?: number;
  /**
   * The most bytes of cut batch requests this end holds while it waits for
   * their last parts. A request that would take more is refused whole with
   * `FRAME_TOO_LARGE` (its parts are dropped as they come). Default
   * `MAX_HELD_BYTES`.
   */
  readonly maxHeldBytes?: number;
}

/** Events per frame unless `maxFrameEvents` says otherwise. */
export const MAX_FRAME_EVENTS = 4096;

/**
 * Bytes of held parts unless `maxHeldBytes` says otherwise. Far above any
 * batch the sync policy sends (`maxBatch` events); a peer that keeps saying
 * `more` must not grow this end's memory without bound.
 */
export const MAX_HELD_BYTES = 1024 * 1024 * 1024;

interface Pending {
  readonly replies: WireMessage[];
  resolve(replies: WireMessage[]): void;
  reject(error: unknown): void;
}

/**
 * One end of a frame channel.
 *
 * @example
 * const channel = new FrameChannel(messagePortFrames(port), { serve: (message) => [] })
 * const replies = await channel.request({ kind: 'clearSide', seq: 0, remove: 'external', scope: 'internal' })
 */
export class FrameChannel {
  readonly #port: FramePort;
  readonly #serve: RequestHandler | undefined;
  readonly #window: number;
  readonly #compress: boolean | 'auto';
  readonly #name: string;
  readonly #encodedEvents: boolean | 'decoded';
  readonly #maxFrameEvents: number;
  readonly #pending = new Map<number, Pending>();
  /** The parts of batch requests whose last part has not arrived yet, by sequence number. */
  readonly #parts = new Map<number, EventBatch[]>();
  /** Frame bytes of everything in `#parts`. */
  #heldBytes = 0;
  readonly #heldBytesBySeq = new Map<number, number>();
  readonly #maxHeldBytes: number;
  /** Cut requests refused for their size whose last part has not arrived: their parts are dropped. */
  readonly #dropping = new Set<number>();
  readonly #waiting: Array<() => void> = [];
  /** Slots freed and handed to woken requests that have not sent yet. */
  #handedOver = 0;
  readonly #stopListening: () => void;
  #nextSeq: number;
  readonly #parity: number;
  #closed: Error | undefined;
  /** Frames sent and received, and their bytes. */
  readonly stats = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(port: FramePort, options: FrameChannelOptions = {}) {
    this.#port = port;
    this.#serve = options.serve;
    this.#window = options.window ?? 8;
    this.#compress = options.compress ?? 'auto';
    this.#name = options.name ?? 'channel';
    this.#encodedEvents = options.encodedEvents ?? false;
    this.#maxFrameEvents = options.maxFrameEvents ?? MAX_FRAME_EVENTS;
    this.#maxHeldBytes = options.maxHeldBytes ?? MAX_HELD_BYTES;
    this.#parity = options.end === 'b' ? 0 : 1;
    this.#nextSeq = this.#parity === 1 ? 1 : 2;
    this.#stopListening = port.listen((data) => this.#receive(data));
  }

  /** Requests waiting for their closing `Ack`. */
  get outstanding(): number {
    return this.#pending.size;
  }

  /**
   * Sends a request and resolves with its replies (the closing `Ack` last).
   * Rejects with the remote error when the `Ack` says it failed, and with
   * `WorkerCrashedError` when the channel closes first. `framed` is handed a
   * batch's frames before they are sent (the port may transfer them: after
   * the call they are gone from here).
   */
  async request(message: WireMessage, framed?: (frames: readonly Uint8Array[]) => void): Promise<WireMessage[]> {
    // In turn: behind every waiting request, and a freed slot is handed to the longest-waiting one
    // (`#settle`), so requests go out in the order they were made (a station's reads and its interest
    // declarations must reach the main station in order).
    if (this.#closed === undefined && (this.#waiting.length > 0 || this.#pending.size + this.#handedOver >= this.#window)) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      this.#handedOver--;
    }
    if (this.#closed !== undefined) throw this.#closed;
    const seq = this.#nextSeq;
    this.#nextSeq += 2;
    const promise = new Promise<WireMessage[]>((resolve, reject) => {
      this.#pending.set(seq, { replies: [], resolve, reject });
    });
    try {
      // A batch too large for one frame goes as parts that the other end takes as one.
      if (message.kind === 'batch') {
        const frames = batchFrames({ ...message, seq }, this.#maxFrameEvents, { compress: this.#compress }, true);
        framed?.(frames);
        this.#sendFrames(frames);
      } else this.#send({ ...message, seq } as WireMessage);
    } catch (error) {
      this.#settle(seq);
      throw error;
    }
    return promise;
  }

  /** Rejects every outstanding and later request with `error`; stops listening. */
  close(error: Error = new WorkerCrashedError(`${this.#name}: the channel closed.`)): void {
    if (this.#closed !== undefined) return;
    this.#closed = error;
    this.#stopListening();
    this.#parts.clear();
    this.#heldBytesBySeq.clear();
    this.#heldBytes = 0;
    this.#dropping.clear();
    for (const [seq, pending] of [...this.#pending]) {
      this.#settle(seq);
      pending.reject(error);
    }
    for (const wake of this.#waiting.splice(0)) this.#handOver(wake);
  }

  #send(message: WireMessage): void {
    this.#sendFrames([encodeFrame(message, { compress: this.#compress })]);
  }

  /** Sends frames already encoded, in order. Encoding all of them first means a refusal sends none. */
  #sendFrames(frames: readonly Uint8Array[]): void {
    for (const frame of frames) {
      this.stats.sent++;
      this.stats.bytesSent += frame.byteLength;
      this.#port.send(frame);
    }
  }

  #settle(seq: number): void {
    this.#pending.delete(seq);
    const next = this.#waiting.shift();
    if (next !== undefined) this.#handOver(next);
  }

  /** Wakes a waiting request with a slot kept for it until it runs (it gives it back as it sends). */
  #handOver(wake: () => void): void {
    this.#handedOver++;
    wake();
  }

  #receive(data: unknown): void {
    if (this.#closed !== undefined) return;
    const received = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
    // A frame read from a stream (a processor's IPC channel) is a view of the chunk it arrived in.
    // Events kept as bytes keep their frame alive, so one that is less than half of its chunk is
    // copied out: a station never pins the other frames of the chunk. Transferred frames own theirs.
    const bytes =
      this.#encodedEvents && received !== undefined && received.byteLength * 2 < received.buffer.byteLength
        ? received.slice()
        : received;
    let message: WireMessage;
    try {
      if (bytes === undefined) throw new TransportError(`${this.#name}: received a ${typeof data}, not a frame.`);
      this.stats.received++;
      this.stats.bytesReceived += bytes.byteLength;
      message = this.#encodedEvents === false ? decodeFrame(bytes) : this.#encodedEvents === true ? scanMessage(bytes) : scanDecodedMessage(bytes);
    } catch (error) {
      // Without a readable sequence number no single request can be blamed:
      // the channel is broken, and every waiting request hears so.
      this.close(isBusError(error) ? error : new TransportError(`${this.#name}: ${String(error)}`, { cause: error }));
      return;
    }
    if (message.seq % 2 === this.#parity) {
      // A reply to one of our requests (or to one already given up on).
      const pending = this.#pending.get(message.seq);
      if (pending === undefined) return;
      if (message.kind !== 'ack' && message.kind !== 'batch') return;
      if (message.kind === 'batch') {
        pending.replies.push(message);
        return;
      }
      this.#settle(message.seq);
      if (message.ok) pending.resolve([...pending.replies, message]);
      else pending.reject(remoteError(message));
      return;
    }
    if (message.kind === 'batch' && (message.more === true || this.#parts.has(message.seq) || this.#dropping.has(message.seq))) {
      const joined = this.#hold(message, bytes!.byteLength);
      if (joined === undefined) return;
      message = joined;
    }
    void this.#answer(message);
  }

  /**
   * Keeps one part of a cut batch request; returns the whole batch once its
   * last part is here. A request whose parts would take more than
   * `maxHeldBytes` is refused when its last part arrives (the requester waits
   * for its Ack only then), and nothing of it is kept meanwhile.
   */
  #hold(part: EventBatch, bytes: number): EventBatch | undefined {
    const { seq } = part;
    if (!this.#dropping.has(seq)) {
      const held = (this.#heldBytesBySeq.get(seq) ?? 0) + bytes;
      if (this.#heldBytes + bytes <= this.#maxHeldBytes) {
        const parts = this.#parts.get(seq) ?? [];
        parts.push(part);
        this.#heldBytes += bytes;
        if (part.more === true) {
          this.#parts.set(seq, parts);
          this.#heldBytesBySeq.set(seq, held);
          return undefined;
        }
        this.#release(seq, held);
        return joinParts(parts);
      }
      this.#release(seq, held - bytes);
      this.#dropping.add(seq);
    }
    if (part.more === true) return undefined;
    this.#dropping.delete(seq);
    const refusal = new FrameError(
      'TOO_LARGE',
      `${this.#name}: a batch request cut into frames would hold more than ${this.#maxHeldBytes} bytes here before its last part; ` +
        'send smaller batches (sync more often, or a lower sync.maxBatch).',
    );
    this.#send({ kind: 'ack', seq, ok: false, ...refusalFields(toWireError(refusal)), credits: this.#window });
    return undefined;
  }

  #release(seq: number, held: number): void {
    this.#parts.delete(seq);
    this.#heldBytesBySeq.delete(seq);
    this.#heldBytes -= held;
  }

  async #answer(message: WireMessage): Promise<void> {
    let ack: Ack;
    try {
      if (this.#serve === undefined) throw new TransportError(`${this.#name} does not serve requests (got ${message.kind}).`);
      const replies = await this.#serve(message);
      // A handler may close its answer with an Ack of its own, to say more than "done" (e.g. `through`).
      const last = replies[replies.length - 1];
      const closing = last?.kind === 'ack' ? last : undefined;
      // Encoded before any is sent: an answer that cannot be sent is refused whole. Reply batches may
      // take several frames each (the requester gathers everything up to the Ack).
      const frames: Uint8Array[] = [];
      for (const reply of closing === undefined ? replies : replies.slice(0, -1)) {
        if (reply.kind === 'batch') frames.push(...batchFrames({ ...reply, seq: message.seq }, this.#maxFrameEvents, { compress: this.#compress }));
        else frames.push(encodeFrame({ ...reply, seq: message.seq } as WireMessage, { compress: this.#compress }));
      }
      if (this.#closed === undefined) this.#sendFrames(frames);
      ack = { ...closing, kind: 'ack', seq: message.seq, ok: true, credits: this.#window };
    } catch (error) {
      ack = { kind: 'ack', seq: message.seq, ok: false, ...refusalFields(toWireError(error)), credits: this.#window };
    }
    if (this.#closed === undefined) this.#send(ack);
  }
}

/** The parts of one batch request as the batch they were cut from (each part is in order, and so are the parts). */
function joinParts(parts: readonly EventBatch[]): EventBatch {
  const history: EventBatch['history'][number][] = [];
  const queue: EventBatch['queue'][number][] = [];
  for (const part of parts) {
    for (const event of part.history) history.push(event);
    for (const event of part.queue) queue.push(event);
  }
  const { seq, from } = parts[0]!;
  return { kind: 'batch', seq, from, history, queue };
}

/** Longest JSON text of a refusal's fields an Ack carries; longer ones (many option issues) are left out, code and message still go. */
const MAX_DETAILS_CHARS = 16 * 1024;

/** A refusal as an Ack carries it: code, message and (as JSON text) its class's fields, e.g. a `BusFullError`'s `bound`. */
function refusalFields(refusal: WireError): Pick<Ack, 'errorCode' | 'errorMessage' | 'errorDetails'> {
  const details = refusal.details === undefined ? undefined : JSON.stringify(refusal.details);
  return { errorCode: refusal.code, errorMessage: refusal.message, ...(details === undefined || details.length > MAX_DETAILS_CHARS ? {} : { errorDetails: details }) };
}

/** The refusal an Ack carries, as its class, with the fields it carries (anything but strings, numbers and booleans is left out). */
function remoteError(ack: Ack): BusError {
  const wire = { code: ack.errorCode ?? 'TRANSPORT_FAILED', message: ack.errorMessage ?? 'The other end refused the request.' };
  return fromWireError(ack.errorDetails === undefined ? wire : { ...wire, details: detailsOf(ack.errorDetails) });
}

function detailsOf(text: string): Record<string, string | number | boolean> {
  const details: Record<string, string | number | boolean> = {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return details;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return details;
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') details[key] = value;
  }
  return details;
}
