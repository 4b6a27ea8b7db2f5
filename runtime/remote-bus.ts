/**
 * A bus in another thread, seen from here: the same calls as `Bus`, each one
 * a control call to the thread that owns it. Events cross as frames both ways
 * (posts as frames of drafts); the control call carries only the frames.
 * Input is checked here, before it crosses, so errors are the same as a local
 * bus's and nothing the wire can't carry leaves this thread.
 */
import type { BridgeDirection, BusEvent, Payload, Side } from '../types.js';
import { FrameChannel, messagePortFrames, type MessagePortLike } from './frame-channel.js';
import { stationServer } from './links.js';
import type { Station } from './station.js';
import { checkPostOptions, type CheckedPostOptions, type FromStationOptions, type FromStationResult, type PostOptions } from './bus.js';
import type { ThreadApi } from './thread-service.js';
import { eventsFromFrame, eventsToFrame, unwrap, type PortableQuery, type PostedDrafts } from './thread-service.js';
import { assertEventType, assertKnownKeys, assertPayload, assertSide, assertTypeList } from './validate.js';
import { BusError, InvalidOptionError, WorkerCrashedError, type BusErrorCode } from '../errors.js';

/** Calls a thread's control API, wherever it runs. */
export interface ThreadCaller {
  readonly processor: number;
  readonly thread: number;
  call<K extends keyof ThreadApi>(method: K, ...args: Parameters<ThreadApi[K]>): ReturnType<ThreadApi[K]>;
  /** Records the generation a sync call moved the thread's bus to. */
  advanced(side: Side, generation: number): void;
}

const DEFAULT_POST: CheckedPostOptions = { priority: 'normal', topic: undefined, meta: undefined };

/**
 * A bus of a worker thread.
 *
 * @example
 * const bus = runtime.thread(0, 1).bus('external')   // a RemoteBus when thread 1 is a worker
 * await bus.post('job.done', { id: 3 })
 * const next = await bus.toStation()
 */
export class RemoteBus {
  readonly side: Side;
  readonly generation: number;
  readonly #caller: ThreadCaller;
  /** Posts of this tick, waiting to travel together. */
  #drafts: Array<{ readonly draft: BusEvent; resolve(event: BusEvent): void; reject(error: unknown): void }> = [];

  constructor(caller: ThreadCaller, side: Side, generation: number) {
    this.#caller = caller;
    this.side = side;
    this.generation = generation;
  }

  /** Where the bus runs. */
  get endpoint(): { processor: number; thread: number; generation: number; side: Side } {
    return { processor: this.#caller.processor, thread: this.#caller.thread, generation: this.generation, side: this.side };
  }

  /**
   * Posts on the thread's bus, checked here as `Bus.post` checks. Posts made
   * in the same tick travel together: one control call carrying them as a
   * frame of drafts (no id or timestamp yet; the thread gives them), in order.
   */
  post<P extends Payload>(type: string, payload: P, options?: PostOptions): Promise<BusEvent<P>> {
    try {
      assertEventType(type);
      assertPayload(payload);
      const { priority, topic, meta } = options === undefined ? DEFAULT_POST : checkPostOptions(options);
      const origin = { processor: this.#caller.processor, thread: this.#caller.thread, generation: this.generation };
      const draft: BusEvent = {
        id: 'draft',
        type,
        side: this.side,
        timestamp: 0,
        origin,
        priority,
        ...(topic === undefined ? {} : { topic }),
        payload,
        ...(meta === undefined ? {} : { meta }),
      };
      return new Promise<BusEvent<P>>((resolve, reject) => {
        this.#drafts.push({ draft, resolve: resolve as (event: BusEvent) => void, reject });
        if (this.#drafts.length === 1) queueMicrotask(() => void this.#sendDrafts());
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends the drafts of this tick in one control call and settles each post. */
  async #sendDrafts(): Promise<void> {
    const posts = this.#drafts;
    this.#drafts = [];
    let result: PostedDrafts;
    try {
      const frames = eventsToFrame(
        posts.map((post) => post.draft),
        this.endpoint,
      );
      result = unwrap(await this.#caller.call('post', this.side, this.generation, frames));
    } catch (error) {
      for (const post of posts) post.reject(error);
      return;
    }
    const events = eventsFromFrame(result.events);
    const refused = new Map(result.refused.map((refusal) => [refusal.index, refusal]));
    let next = 0;
    posts.forEach((post, index) => {
      const refusal = refused.get(index);
      if (refusal === undefined) post.resolve(events[next++]!);
      else post.reject(new BusError(refusal.code as BusErrorCode, refusal.message));
    });
  }

  async toStation(): Promise<RemoteBus> {
    const generation = unwrap(await this.#caller.call('toStation', this.side, this.generation));
    this.#caller.advanced(this.side, generation);
    return new RemoteBus(this.#caller, this.side, generation);
  }

  async fromStation(options?: FromStationOptions): Promise<FromStationResult> {
    checkFromStation(options, 'fromStation');
    const result = unwrap(await this.#caller.call('fromStation', this.side, this.generation, options));
    return { added: eventsFromFrame(result.added), handedBack: result.handedBack };
  }

  async roundTrip(options?: FromStationOptions): Promise<RemoteBus> {
    checkFromStation(options, 'roundTrip');
    const generation = unwrap(await this.#caller.call('roundTrip', this.side, this.generation, options));
    this.#caller.advanced(this.side, generation);
    return new RemoteBus(this.#caller, this.side, generation);
  }

  async drain(): Promise<number> {
    return unwrap(await this.#caller.call('drain', this.side, this.generation));
  }

  /** The thread's current bus history (a query's `filter` cannot cross threads). */
  async history(query?: PortableQuery): Promise<BusEvent[]> {
    if (query !== undefined && 'filter' in query) {
      throw new InvalidOptionError('history query.filter', 'a function cannot cross to another thread; filter the result here.');
    }
    return eventsFromFrame(unwrap(await this.#caller.call('history', this.side, query)));
  }

  async queue(): Promise<BusEvent[]> {
    return eventsFromFrame(unwrap(await this.#caller.call('queue', this.side)));
  }

  /** The bus actor's state and the thread's current generation. */
  async state(): Promise<{ generation: number; state: string }> {
    return unwrap(await this.#caller.call('state', this.side));
  }
}

/** The checks of `Bus.fromStation()`, made before the options cross to the thread. */
function checkFromStation(options: FromStationOptions | undefined, call: string): void {
  assertKnownKeys(options, ['types', 'side'], `${call} options`);
  if (options?.types !== undefined) assertTypeList(options.types, `${call} options.types`);
  if (options?.side !== undefined) assertSide(options.side, `${call} options.side`);
}

/** A thread attached from elsewhere: its control API, its data channel, its buses' generations. */
export interface RemoteThread {
  readonly caller: ThreadCaller;
  readonly channel: FrameChannel;
  readonly generations: Record<Side, number>;
}

/**
 * Connects a thread that runs elsewhere to this processor's stations: `port`
 * becomes the frame channel its buses sync over, `call` its control API. When
 * `exited` resolves (the worker is gone), the channel closes and what waits on
 * it is rejected with `WorkerCrashedError`.
 */
export function connectThread(
  processor: number,
  thread: number,
  port: MessagePortLike,
  call: ThreadCaller['call'],
  station: (side: Side) => Station,
  bridgeDirection: () => BridgeDirection,
  exited?: Promise<{ readonly reason: string }>,
): RemoteThread {
  const channel = new FrameChannel(messagePortFrames(port), {
    end: 'b',
    // A port transfers frames without copying them: compressing would only cost CPU on both ends.
    compress: false,
    name: `processor ${processor} ↔ thread ${processor}.${thread}`,
    // What arrives goes to this processor's stations: events stay encoded.
    encodedEvents: true,
    serve: stationServer(station, bridgeDirection),
  });
  const generations: Record<Side, number> = { internal: 0, external: 0 };
  const caller: ThreadCaller = {
    processor,
    thread,
    call,
    advanced: (side, generation) => {
      generations[side] = Math.max(generations[side], generation);
    },
  };
  void exited?.then((exit) =>
    channel.close(
      new WorkerCrashedError(`thread ${processor}.${thread} is gone (${exit.reason}); its pending sync calls were rejected.`),
    ),
  );
  return { caller, channel, generations };
}
