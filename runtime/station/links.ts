/**
 * The seams between a bus or station and the station it syncs with. A
 * `StationLink` is the way to one station: in this thread (through a
 * `Transport`, which may encode every hop as frames), or across a port or an
 * IPC channel to another thread or process. Buses and stations only ever talk
 * to links, so the same classes run in the root, a processor and a worker.
 */
import type { Actor } from 'xstate';
import { BridgeClosedError, TransportError } from '../../errors.js';
import { canReach } from '../../machines/bridge.machine.js';
import type { busMachine } from '../../machines/bus.machine.js';
import type { BridgeDirection, BusEvent, Endpoint, Side } from '../../types.js';
import type { Clock } from '../clock.js';
import type { FrameChannel, RequestHandler } from '../wire/frame-channel.js';
import type { EventBatch, SyncRequest, WireMessage } from '../wire/protocol.js';
import type { ErrorHandler } from '../bus/subscriptions.js';
import type { Receiver, Transport } from '../wire/transport.js';
import { EncodedEvent, plainBatch, scanBatch } from '../store/encoded-events.js';
import type { InspectionTap } from '../inspection/tap.js';
import type { MemoryPolicies } from '../store/memory-policy.js';
import type { Middleware } from '../bus/middleware.js';
import type { ResolvedMetrics } from '../metrics/bus-metrics.js';
import type { PayloadSchemas } from '../payload/payload-schemas.js';

/** A station's answer to a read: the batch, and the arrival number it is complete through. */
export interface SyncReply {
  readonly batch: EventBatch;
  /** Pass it as `since` in the next unfiltered read to get only what arrived after this one. */
  readonly through: number;
  /** To a bus reading its own side: how many of its thread's deferred events the stations still hold parked. */
  readonly parked?: number;
  /** To a read with `deliveredThrough`: how many of the history's first events arrived through it. */
  readonly alreadyDelivered?: number;
  /**
   * @internal Set by a local station that has declared wider interest to its
   * main station (`upstream-interest.ts`): the link sends the reply once it
   * resolves (it never rejects), so a reader's read returns only once the
   * main station holds what the read made it interested in.
   */
  readonly declaring?: Promise<void>;
}

/** A station's answer to a batch. */
export interface AcceptReply {
  /** To a bus: how many of its thread's deferred events the stations hold parked, this batch's queue included. */
  readonly parked?: number;
  /**
   * The batch's history as the station took it, when the hop encoded it:
   * the same events in the same order, each in a frame (`EncodedEvent`s). A
   * bus keeps its events so from then on (`EventHistory.adopt`).
   * @internal
   */
  readonly framed?: readonly EncodedEvent[];
}

/** The `thread` of a station's endpoint: stations are per processor, not per thread. */
export const STATION_THREAD = 0xffffffff;

/**
 * What a link and a station server need of the station at their end.
 * Declared here, not imported, so that links sit below stations: a station
 * knows the links it reads through, not the reverse. `Station` matches it
 * structurally (no `implements`, which would tie the public class's
 * declaration to this internal module).
 */
export interface LinkedStation {
  /** Merges one batch; returns how many history events were new. */
  accept(batch: EventBatch): number;
  /** Answers a read; the parked entries it hands back leave the station. */
  serve(request: SyncRequest): SyncReply;
  /** Puts back parked entries whose reply never arrived. */
  restoreParked(events: readonly BusEvent[]): void;
  /** How many deferred events of `origin`'s thread the stations hold parked. */
  parkedFor(origin: { readonly processor: number; readonly thread: number }): number;
  /** Resolves once every change so far is durable. */
  committed(): Promise<void>;
}

/** The way to one station. */
export interface StationLink {
  /** Carries a batch to the station, which merges it; resolves once it is accepted. */
  accept(batch: EventBatch): Promise<AcceptReply>;
  /** Carries a read to the station and its reply back. */
  serve(request: SyncRequest): Promise<SyncReply>;
}

/** What a thread and its buses need from where they run. */
export interface ThreadHost {
  readonly clock: Clock;
  readonly deferred: 'idle' | 'manual';
  readonly running: boolean;
  readonly subscriberErrorHandler: ErrorHandler;
  assertRunning(call: string): void;
  /** The bridge's direction as this thread knows it. */
  bridgeDirection(): BridgeDirection;
  /** True while the bridge is locked (a refused cross-side read then says to unlock first); unknown: false. */
  bridgeLocked?(): boolean;
  /** The link to this processor's local station of `side`. */
  stationLink(side: Side): StationLink;
  /** @internal Inspection in this thread's realm: the hook of every actor created here (buses, user actors). */
  readonly inspection?: InspectionTap;
  /** @internal Starts the bus actor of `endpoint` (its machine's types stay out of the published ones). */
  createBusActor(endpoint: Endpoint): Actor<typeof busMachine>;
  /** With an automatic sync policy: posts on one bus that ask for a sync at once. */
  readonly maxBatch?: number;
  /** With an automatic sync policy: the events a bus may hold unsent before posts are refused. */
  readonly maxUnsent?: number;
  /** With an automatic sync policy: the unsettled subscriber promises a thread's side may have before reads are held back and posts refused. */
  readonly maxInFlight?: number;
  /** The deferred events a thread may hold per side (its bus's queue and parked at the stations) before deferred posts are refused. */
  readonly maxQueued: number;
  /** Asks the automatic sync policy for a sync of the bus of `side` now. */
  requestSync?(side: Side): void;
  /** The memory policies of its buses' histories (none: keep everything). */
  readonly memory?: MemoryPolicies;
  /** The runtime's middleware (`createRuntime({ middleware })`), first on every bus of the thread; in workers, those loaded from its modules. */
  readonly middleware?: readonly Middleware[];
  /** Set when the runtime records metrics (`createRuntime({ metrics })`). */
  readonly metrics?: ResolvedMetrics | undefined;
  /** The payload schemas of this JS thread, which its posts apply (none: payloads as given). */
  readonly schemas?: PayloadSchemas;
}

/** What a local station needs from where it runs. */
export interface StationHost {
  assertRunning(call: string): void;
  bridgeDirection(): BridgeDirection;
  /** True while the bridge is locked (a refused cross-side read then says to unlock first); unknown: false. */
  bridgeLocked?(): boolean;
  /** The link to the main station of `side`. */
  mainLink(side: Side): StationLink;
  /** With an automatic sync policy: how far a reader whose subscribers are behind may fall behind before other threads' batches are refused. */
  readonly maxBacklog?: number;
  /** The memory policies of its history (none: keep everything), and the clock their `ttlMs` and `maxAgeMs` go by. */
  readonly memory?: MemoryPolicies;
  readonly clock?: Clock;
  /** A main station's: the child processors (1 to this), whose events it remembers once let go, since they may send them again (`let-go-ids.ts`). */
  readonly childProcessors?: number;
}

/**
 * A link to a station in this thread: every message crosses `transport` (so a
 * frame transport encodes and decodes each hop), then the station handles it.
 */
export class DirectStationLink implements StationLink {
  readonly #station: LinkedStation;
  readonly #transport: Transport;
  readonly #reader: Receiver;
  readonly #bridgeDirection: () => BridgeDirection;

  /**
   * @param reader who reads through this link: a bus (plain events) or a local station (events may stay encoded).
   * @param bridgeDirection the bridge now: a read of the other side is checked against it where the station serves
   *   it, as `stationServer` does, since the bridge may have closed while the request was carried.
   */
  constructor(station: LinkedStation, transport: Transport, reader: Receiver, bridgeDirection: () => BridgeDirection) {
    this.#station = station;
    this.#transport = transport;
    this.#reader = reader;
    this.#bridgeDirection = bridgeDirection;
  }

  /** What this link's transport may be handed: a station's encoded events only if it says it carries them. */
  #outgoing(batch: EventBatch): EventBatch {
    return this.#transport.carriesEncoded === true ? batch : plainBatch(batch);
  }

  async accept(batch: EventBatch): Promise<AcceptReply> {
    const carried = await this.#transport.carry(this.#outgoing(batch), 'station');
    if (carried.kind !== 'batch') throw new TypeError(`transport returned a ${carried.kind} for a batch`);
    this.#station.accept(carried);
    const reply = parkedReply(this.#station, carried.from);
    const framed = framedHistory(batch.history, carried.history);
    return framed === undefined ? reply : { ...reply, framed };
  }

  /** Parked queue entries taken for a reply that never arrives go back to the station. */
  async serve(request: SyncRequest): Promise<SyncReply> {
    const carried = await this.#transport.carry(request, 'station');
    if (carried.kind !== 'syncRequest') throw new TypeError(`transport returned a ${carried.kind} for a sync request`);
    const direction = this.#bridgeDirection();
    if (!canReach(direction, carried.from.side, carried.side)) throw new BridgeClosedError(carried.from.side, carried.side, direction);
    const { batch, through, parked, alreadyDelivered, declaring } = this.#station.serve(carried);
    // A built-in transport hands a bus its read as a station gets it: events in the reply's frames (or,
    // passed by reference, in the station's), which its history keeps as places. Others hand it plain events.
    const encoded = this.#transport.carriesEncoded === true;
    try {
      if (declaring !== undefined) await declaring;
      const back = await this.#transport.carry(this.#outgoing(batch), encoded && this.#reader === 'bus' ? 'busPlaces' : this.#reader);
      if (back.kind !== 'batch') throw new TypeError(`transport returned a ${back.kind} for a batch`);
      return {
        batch: this.#reader === 'bus' && !encoded ? plainBatch(back) : back,
        through,
        ...(parked === undefined ? {} : { parked }),
        ...(alreadyDelivered === undefined ? {} : { alreadyDelivered }),
      };
    } catch (error) {
      this.#station.restoreParked(batch.queue);
      throw error;
    }
  }
}

/** A link to a station at the other end of a frame channel. */
export class ChannelStationLink implements StationLink {
  readonly #channel: FrameChannel;

  constructor(channel: FrameChannel) {
    this.#channel = channel;
  }

  /**
   * Sends the batch as one request (the channel cuts it into frames; the
   * station merges it whole). A bus's history comes back as it was framed
   * (`framed`, as `DirectStationLink` gives it): read from copies of the
   * frames, taken before the channel transfers them.
   */
  async accept(batch: EventBatch): Promise<AcceptReply> {
    const carried: BusEvent[] = [];
    const keep = batch.from.thread === STATION_THREAD || batch.history.length === 0 ? undefined : (frames: readonly Uint8Array[]) => keepHistory(frames, carried);
    const closing = (await this.#channel.request(batch, keep)).at(-1);
    const reply = closing?.kind === 'ack' && closing.parked !== undefined ? { parked: closing.parked } : {};
    const framed = framedHistory(batch.history, carried);
    return framed === undefined ? reply : { ...reply, framed };
  }

  async serve(request: SyncRequest): Promise<SyncReply> {
    const replies = await this.#channel.request(request);
    const history: BusEvent[] = [];
    const queue: BusEvent[] = [];
    let from: EventBatch['from'] | undefined;
    let through = 0;
    let parked: number | undefined;
    let alreadyDelivered: number | undefined;
    for (const reply of replies) {
      if (reply.kind === 'ack') {
        through = reply.through ?? 0;
        parked = reply.parked;
        alreadyDelivered = reply.alreadyDelivered;
      }
      if (reply.kind !== 'batch') continue;
      from ??= reply.from;
      for (const event of reply.history) history.push(event);
      for (const event of reply.queue) queue.push(event);
    }
    return {
      batch: { kind: 'batch', seq: request.seq, from: from ?? request.from, history, queue },
      through,
      ...(parked === undefined ? {} : { parked }),
      ...(alreadyDelivered === undefined ? {} : { alreadyDelivered }),
    };
  }
}

/** Appends to `carried` the history of `frames` (a batch's parts), as `EncodedEvent`s in copies of them. */
function keepHistory(frames: readonly Uint8Array[], carried: BusEvent[]): void {
  try {
    for (const frame of frames) for (const event of scanBatch(frame.slice()).history) carried.push(event);
  } catch {
    // Nothing kept: the bus keeps its objects (`framedHistory` finds the lengths differ).
    carried.length = 0;
  }
}

/** `carried`, when it is `sent` as the hop encoded it: every event in a frame, in order. */
function framedHistory(sent: readonly BusEvent[], carried: readonly BusEvent[]): readonly EncodedEvent[] | undefined {
  if (carried === sent || carried.length !== sent.length || carried.length === 0) return undefined;
  for (let i = 0; i < carried.length; i++) {
    const event = carried[i];
    if (!(event instanceof EncodedEvent) || event.timestamp !== sent[i]!.timestamp) return undefined;
  }
  return carried as readonly EncodedEvent[];
}

/** What a station tells the sender of a batch: a bus hears its thread's parked count, a station nothing. */
function parkedReply(station: LinkedStation, from: Endpoint): AcceptReply {
  return from.thread === STATION_THREAD ? {} : { parked: station.parkedFor(from) };
}

/**
 * The station end of `ChannelStationLink`s: merges the batches that arrive
 * (each whole: the channel hands over a batch once all its frames are in) and
 * answers reads, checking the bridge for reads of the other side.
 */
export function stationServer(station: (side: Side) => LinkedStation, bridgeDirection: () => BridgeDirection): RequestHandler {
  return async (message: WireMessage) => {
    switch (message.kind) {
      case 'batch': {
        // Acknowledged only once durable, where the station keeps a journal.
        const target = station(message.from.side);
        target.accept(message);
        await target.committed();
        // Counted when the Ack goes: later Acks on this channel tell later counts.
        const { parked } = parkedReply(target, message.from);
        return parked === undefined ? [] : [{ kind: 'ack', seq: 0, ok: true, credits: 0, parked }];
      }
      case 'syncRequest': {
        const direction = bridgeDirection();
        if (!canReach(direction, message.from.side, message.side)) {
          throw new BridgeClosedError(message.from.side, message.side, direction);
        }
        const { batch, through, parked, alreadyDelivered, declaring } = station(message.side).serve(message);
        if (declaring !== undefined) await declaring;
        const ack: WireMessage = {
          kind: 'ack',
          seq: 0,
          ok: true,
          credits: 0,
          through,
          ...(parked === undefined ? {} : { parked }),
          ...(alreadyDelivered === undefined ? {} : { alreadyDelivered }),
        };
        // Nothing new: the Ack alone answers (one frame each way, as a ping-pong).
        if (batch.history.length === 0 && batch.queue.length === 0) return [ack];
        return [batch, ack];
      }
      default:
        throw new TransportError(`A station does not answer ${message.kind} messages.`);
    }
  };
}

/**
 * A link whose replies can be held back (`ThreadApi.holdStationReplies`, for
 * tests): while held, a reply that has arrived waits, so a sync call stays
 * under way until it is released, however the hops are timed. A worker's
 * calls reach it through its processor while its station's replies come
 * straight back; without a hold, a test cannot have a second call meet the
 * first one still under way.
 */
export class HoldableStationLink implements StationLink {
  readonly #inner: StationLink;
  #held: { promise: Promise<void>; release: () => void } | undefined;

  constructor(inner: StationLink) {
    this.#inner = inner;
  }

  /** Holds replies (`true`) or lets every held one through (`false`). */
  hold(on: boolean): void {
    if (on) {
      if (this.#held !== undefined) return;
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.#held = { promise, release };
    } else {
      this.#held?.release();
      this.#held = undefined;
    }
  }

  accept(batch: EventBatch): Promise<AcceptReply> {
    return this.#afterHold(this.#inner.accept(batch));
  }

  serve(request: SyncRequest): Promise<SyncReply> {
    return this.#afterHold(this.#inner.serve(request));
  }

  /** The reply, or the refusal, once no hold is on. */
  async #afterHold<T>(reply: Promise<T>): Promise<T> {
    await reply.catch(() => undefined);
    while (this.#held !== undefined) await this.#held.promise;
    return reply;
  }
}
