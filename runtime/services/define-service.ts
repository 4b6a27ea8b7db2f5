/**
 * `defineService({ name, start, stop })`: a service from plain functions, for
 * those who would rather not write a class. It returns a `Service` subclass;
 * `start` and `stop` get a context with the service's owned helpers, which a
 * subclass reaches as protected members.
 */
import { InvalidOptionError } from '../../errors.js';
import type { Bus } from '../bus/bus.js';
import type { SubscribeOptions, Subscription } from '../bus/subscriptions.js';
import type { Payload } from '../../types.js';
import type { ReplyOptions, RequestOptions } from '../bus/request-reply.js';
import type { AnyEvents, EventOf, PostPayload, ReplyOf, RequestOf, RequestTypeOf, SubscribedEvent, ValidPattern, ValidReplyPattern, ValidPatternList, ValidPatterns } from '../bus/typed-events.js';
import type { WaitForEventsOptions, WaitForOptions } from '../bus/wait-for.js';
import { assertFunction, assertKnownKeys, describe } from '../validate.js';
import { Service, type ServiceOptions } from './service.js';

/** What a defined service's `start` and `stop` get: the service's bus, signal and owned helpers (see `Service`). */
export interface ServiceContext<E = AnyEvents> {
  readonly name: string;
  readonly bus: Bus<E>;
  readonly signal: AbortSignal;
  subscribe<P = never, const T extends string | readonly string[] = string | readonly string[]>(
    types: T & ValidPatterns<E, T>,
    handler: (event: SubscribedEvent<E, T, P>) => unknown,
    options?: SubscribeOptions<SubscribedEvent<E, T, P>>,
  ): Subscription;
  waitFor<const T extends string>(type: T & ValidPattern<E, T>, options?: WaitForOptions<EventOf<E, T>>): Promise<EventOf<E, T>>;
  waitForEvents<const T extends readonly string[]>(
    types: T & ValidPatternList<E, T>,
    options?: WaitForEventsOptions,
  ): Promise<{ -readonly [I in keyof T]: EventOf<E, T[I] & string> }>;
  request<R = never, K extends RequestTypeOf<E> = RequestTypeOf<E>, P = Payload>(
    type: K,
    payload: PostPayload<E, K, P>,
    options?: RequestOptions,
  ): Promise<[R] extends [never] ? ReplyOf<E, K> : R>;
  reply<const T extends string>(
    type: T & ValidReplyPattern<E, T>,
    handler: (request: RequestOf<E, T>) => ReplyOf<E, T> | PromiseLike<ReplyOf<E, T>>,
    options?: ReplyOptions<EventOf<E, T>>,
  ): Subscription;
  every(ms: number, fn: () => unknown): () => void;
  after(ms: number, fn: () => unknown): () => void;
  defer(cleanup: () => unknown): void;
}

/** What `defineService()` takes. */
export interface ServiceDefinition<E = AnyEvents> {
  /** The services' name (a constructor's `options.name` overrides it). */
  readonly name: string;
  /** `onStart()`: subscribe, start timers, acquire. */
  readonly start: (service: ServiceContext<E>) => void | Promise<void>;
  /** `onStop()`: called while the service still owns everything. */
  readonly stop?: (service: ServiceContext<E>) => void | Promise<void>;
}

/** A service class made by `defineService()`. */
export type DefinedService<E = AnyEvents> = new (bus: Bus<E>, options?: ServiceOptions) => Service<E>;

/**
 * Makes a `Service` class from a name and `start`/`stop` functions.
 *
 * @example
 * const Heartbeat = defineService({
 *   name: 'heartbeat',
 *   start: ({ bus, every }) => void every(1_000, () => bus.post('heartbeat', {})),
 * })
 * const heartbeat = new Heartbeat(runtime.bus('external'))
 * await heartbeat.start()
 */
export function defineService<E = AnyEvents>(definition: ServiceDefinition<E>): DefinedService<E> {
  assertKnownKeys(definition, ['name', 'start', 'stop'], 'defineService definition');
  if (definition === undefined) throw new InvalidOptionError('defineService definition', 'expected { name, start, stop? }, got undefined.');
  const { name, start, stop } = definition;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('defineService definition.name', `expected a non-empty string, got ${describe(name)}.`);
  }
  assertFunction(start, 'defineService definition.start');
  if (stop !== undefined) assertFunction(stop, 'defineService definition.stop');
  return class extends Service<E> {
    readonly #context: ServiceContext<E>;

    constructor(bus: Bus<E>, options?: ServiceOptions) {
      super(bus, { name, ...options });
      // Bound once: `start: ({ subscribe }) => ...` destructures them.
      const self = this as unknown as ServiceContext<E>;
      this.#context = {
        name: this.name,
        get bus() {
          return self.bus;
        },
        get signal() {
          return self.signal;
        },
        subscribe: (types, handler, opts) => this.subscribe(types, handler, opts),
        waitFor: (type, opts) => this.waitFor(type, opts),
        waitForEvents: (types, opts) => this.waitForEvents(types as never, opts) as never,
        request: (type, payload, opts) => this.request(type, payload, opts) as never,
        reply: (type, handler, opts) => this.reply(type, handler, opts),
        every: (ms, fn) => this.every(ms, fn),
        after: (ms, fn) => this.after(ms, fn),
        defer: (cleanup) => this.defer(cleanup),
      };
    }

    protected override onStart(): void | Promise<void> {
      return start(this.#context);
    }

    protected override onStop(): void | Promise<void> {
      return stop?.(this.#context);
    }
  };
}
