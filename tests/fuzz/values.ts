/**
 * Argument pools for the fuzz suite: per kind of argument, values a call
 * must accept (`valid`) and values it must refuse with a `BusError`
 * (`hostile`). A case draws each argument from one pool; a call with any
 * hostile argument that succeeds was silently accepted.
 */

/** One drawn argument: its value and whether it must be refused. */
export interface Drawn {
  readonly value: unknown;
  readonly hostile: boolean;
}

/** A kind of argument: what is allowed, and what is not (made fresh per draw: some are mutable or one-shot). */
export interface Slot {
  readonly valid: ReadonlyArray<() => unknown>;
  readonly hostile: ReadonlyArray<() => unknown>;
}

const fn = () => 1;
const circular = () => {
  const value: Record<string, unknown> = { a: 1 };
  value['self'] = value;
  return value;
};

/** Values that are wrong for almost any option object or scalar. */
const junk: ReadonlyArray<() => unknown> = [
  () => null,
  () => 5,
  () => 'x',
  () => [],
  () => fn,
  () => Symbol('s'),
  () => 10n,
  () => Number.NaN,
];

/** An options object slot: `undefined` and `{}` are always fine; junk and unknown keys never. */
function options(valid: ReadonlyArray<() => unknown>, hostile: ReadonlyArray<() => unknown>): Slot {
  return {
    valid: [() => undefined, () => ({}), ...valid],
    hostile: [...junk.filter((make) => make() !== undefined), () => ({ colour: 'red' }), () => ({ __proto__: null, colour: 1 }), ...hostile],
  };
}

export const type: Slot = {
  valid: [() => 'a', () => 'user.login', () => 'x.y-z_1:2/$@'],
  hostile: [() => '', () => '.', () => 'a..b', () => 'user.', () => 'has space', () => 'x'.repeat(300), () => 'ünï', ...junk.filter((make) => make() !== 'x'), () => undefined, () => ['a']],
};

export const payload: Slot = {
  valid: [() => null, () => 1, () => 'text', () => ({ a: [1, 'b', null] }), () => [true], () => new Uint8Array(3), () => ''],
  hostile: [
    () => undefined,
    () => fn,
    () => Symbol('s'),
    () => 10n,
    () => Number.NaN,
    () => Number.POSITIVE_INFINITY,
    () => new Date(0),
    () => new Map(),
    circular,
    () => ({ f: fn }),
    () => [undefined],
    () => ({ n: 1n }),
    () => '\uD800',
    () => ({ nested: { bytes: new Uint8Array(1) } }),
  ],
};

export const postOptions: Slot = options(
  [() => ({ priority: 'immediate' }), () => ({ priority: 'deferred' }), () => ({ topic: 't' }), () => ({ meta: { a: 'b' } })],
  [
    () => ({ priority: 'urgent' }),
    () => ({ priority: 1 }),
    () => ({ topic: 5 }),
    () => ({ topic: '\uDC00' }),
    () => ({ meta: { a: 1 } }),
    () => ({ meta: null }),
    () => ({ meta: ['a'] }),
  ],
);

export const types: Slot = {
  valid: [() => 'a', () => ['a', 'b.c']],
  hostile: [() => '', () => [], () => [''], () => ['a', 5], ...junk.filter((make) => make() !== 'x'), () => undefined],
};

export const handler: Slot = { valid: [() => () => undefined], hostile: [() => null, () => 'fn', () => ({}), () => undefined, () => 5] };

export const subscribeOptions: Slot = options(
  [() => ({ topics: ['t'] }), () => ({ filter: () => true }), () => ({ onError: () => undefined })],
  [() => ({ topics: 't' }), () => ({ topics: [5] }), () => ({ filter: 5 }), () => ({ onError: 'x' })],
);

/** A history query that may carry a filter (a query answered in this thread). */
export const query: Slot = options(
  [
    () => ({ types: ['a'] }),
    () => ({ side: 'internal' }),
    () => ({ since: 0 }),
    () => ({ until: 1e15 }),
    () => ({ origin: { processor: 0, thread: 0 } }),
    () => ({ filter: () => true }),
  ],
  [
    () => ({ types: 'user' }),
    () => ({ types: [] }),
    () => ({ types: [fn] }),
    () => ({ side: 'sideways' }),
    () => ({ since: 'x' }),
    () => ({ until: Number.NaN }),
    () => ({ origin: 'x' }),
    () => ({ origin: { processor: -1, thread: 0 } }),
    () => ({ origin: { processor: 0 } }),
    () => ({ filter: 5 }),
  ],
);

/** A history query that crosses to another thread: a filter cannot. */
export const portableQuery: Slot = {
  valid: query.valid.filter((make) => !('filter' in ((make() as object | undefined) ?? {}))),
  hostile: [...query.hostile, () => ({ filter: () => true })],
};

export const eventId: Slot = { valid: [() => '0.0.1', () => 'nope'], hostile: [() => 5, () => null, () => undefined, () => ({})] };

export const fromStationOptions: Slot = options(
  [() => ({ types: ['a'] }), () => ({ side: 'internal' }), () => ({ side: 'external' })],
  [() => ({ types: 'a' }), () => ({ types: [] }), () => ({ types: [fn] }), () => ({ side: 'sideways' }), () => ({ side: 5 })],
);

export const syncOptions: Slot = options([() => ({ types: ['a'] })], [() => ({ types: 'a' }), () => ({ side: 'internal' }), () => ({ types: [1] })]);

export const roomOptions: Slot = options(
  [() => ({ signal: new AbortController().signal }), () => ({ signal: AbortSignal.abort() })],
  [() => ({ signal: 'x' }), () => ({ signal: {} }), () => ({ signal: null })],
);

export const side: Slot = { valid: [() => 'internal', () => 'external'], hostile: [() => 'sideways', () => '', () => 5, () => null, () => ({})] };

/** A side where leaving it out means the default. */
export const optionalSide: Slot = { valid: [...side.valid, () => undefined], hostile: side.hostile };

export const index: Slot = { valid: [() => 0], hostile: [() => -1, () => 1.5, () => 'x', () => null, () => Number.NaN, () => 2 ** 60] };

export const where: Slot = options([() => ({ processor: 0 }), () => ({ thread: 0 })], [() => ({ processor: 'x' }), () => ({ thread: -1 })]);

export const origin: Slot = {
  valid: [() => undefined, () => ({ processor: 0, thread: 0 })],
  hostile: [() => null, () => 'x', () => ({ processor: 'a', thread: 0 }), () => ({ processor: 0 }), () => 5],
};

export const closeOptions: Slot = options([() => ({ clearOtherSide: true }), () => ({ clearOtherSide: false })], [() => ({ clearOtherSide: 'yes' })]);

export const addThreadOptions: Slot = options([() => ({ processor: 0 })], [() => ({ processor: -1 }), () => ({ processor: '0' }), () => ({ processor: 99 })]);

export const actorEvent: Slot = {
  valid: [() => ({ type: 'reset' }), () => ({ type: 'order.created', payload: { id: 1 } })],
  hostile: [() => null, () => 'reset', () => ({ type: '' }), () => ({ type: 5 }), () => [], () => undefined],
};

/** A spawned actor's event that must also survive the copy to another thread. */
export const remoteActorEvent: Slot = { valid: actorEvent.valid, hostile: [...actorEvent.hostile, () => ({ type: 'reset', fn })] };

export const runtimeOptions: Slot = {
  valid: [() => ({ deferred: 'manual' }), () => ({ transport: 'memory' }), () => ({ maxQueued: 5 })],
  hostile: [
    () => null,
    () => 'x',
    () => ({ colour: 1 }),
    () => ({ processors: -1 }),
    () => ({ threadsPerProcessor: 1.5 }),
    () => ({ restart: 'often' }),
    () => ({ restart: { maxRestarts: -1, withinMs: 10 } }),
    () => ({ restart: { maxRestarts: 1 } }),
    () => ({ sync: 'often' }),
    () => ({ sync: { everyMs: -1 } }),
    () => ({ transport: 'pigeon' }),
    () => ({ clock: {} }),
    () => ({ maxQueued: 0 }),
    () => ({ deferred: 'later' }),
    () => ({ onError: 5 }),
    () => ({ workerLimits: { maxOldGenerationSizeMb: -1 } }),
    () => ({ workerLimits: { heap: 5 } }),
    () => ({ processorExecArgv: 'x' }),
    () => ({ journal: 5 }),
  ],
};

/** Values that may come in a control message from a damaged or hostile peer, anywhere. */
export const anything: ReadonlyArray<() => unknown> = [
  ...junk,
  () => undefined,
  () => ({}),
  () => 'internal',
  () => 0,
  () => -1,
  () => ({ type: 'x' }),
  () => [new Uint8Array(4)],
  () => new Uint8Array(8),
];
