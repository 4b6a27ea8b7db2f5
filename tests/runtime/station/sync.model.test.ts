/**
 * Model-based tests of bus/station sync: random command sequences run against
 * the runtime and against a tiny reference model made of sets; after every
 * command the two must agree.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createRuntime, ManualClock, type BusEvent, type Runtime } from '../../../index.js';
import { typeMatchesAny } from '../../../runtime/store/history.js';

/** Threads under test: [processor, thread]. */
const THREADS = [
  [0, 0],
  [0, 1],
  [1, 0],
] as const;
const PROCESSORS = [0, 1] as const;
const TYPES = ['a', 'a.x', 'b'] as const;
const FILTERS = [undefined, ['a'], ['b']] as const;

interface ThreadModel {
  history: Set<string>;
  queue: Set<string>;
  delivered: Set<string>;
}

interface Model {
  types: Map<string, string>;
  threads: ThreadModel[];
  stations: Array<{ history: Set<string>; parked: Map<number, Set<string>> }>;
  main: { history: Set<string>; parked: Map<number, Set<string>> };
}

interface Real {
  runtime: Runtime;
  clock: ManualClock;
  delivered: string[][];
}

const union = (into: Set<string>, from: Iterable<string>) => {
  for (const id of from) into.add(id);
};
const keep = (ids: Iterable<string>, model: Model, filter: readonly string[] | undefined) =>
  [...ids].filter((id) => filter === undefined || typeMatchesAny(filter, model.types.get(id)!));

function bus(real: Real, t: number) {
  const [processor, thread] = THREADS[t]!;
  return real.runtime.bus('external', { processor, thread });
}

function sorted(events: readonly BusEvent[]): boolean {
  return events.every(
    (e, i) => i === 0 || events[i - 1]!.timestamp < e.timestamp || (events[i - 1]!.timestamp === e.timestamp && events[i - 1]!.id < e.id),
  );
}

function check(model: Model, real: Real): void {
  THREADS.forEach(([processor], t) => {
    const b = bus(real, t);
    const history = b.history();
    assert.ok(sorted(history), `thread ${t} history sorted`);
    assert.equal(new Set(history.map((e) => e.id)), model.threads[t]!.history, `thread ${t} history`);
    assert.equal(new Set(b.queue().map((e) => e.id)), model.threads[t]!.queue, `thread ${t} queue`);
    const delivered = real.delivered[t]!;
    assert.is(new Set(delivered).size, delivered.length, `thread ${t}: no event delivered twice`);
    assert.equal(new Set(delivered), model.threads[t]!.delivered, `thread ${t} delivered`);
    void processor;
  });
  PROCESSORS.forEach((p) => {
    const station = real.runtime.station('external', p);
    assert.ok(sorted(station.history()));
    assert.equal(new Set(station.history().map((e) => e.id)), model.stations[p]!.history, `station ${p} history`);
    const parked = new Set(station.queued().map((e) => e.id));
    assert.equal(parked, new Set([...model.stations[p]!.parked.values()].flatMap((s) => [...s])), `station ${p} parked`);
  });
  const main = real.runtime.mainStation('external');
  assert.equal(new Set(main.history().map((e) => e.id)), model.main.history, 'main history');
  assert.equal(new Set(main.queued().map((e) => e.id)), new Set([...model.main.parked.values()].flatMap((s) => [...s])), 'main parked');
}

type Command = fc.AsyncCommand<Model, Real>;

class Post implements Command {
  constructor(readonly t: number, readonly type: string, readonly deferred: boolean, readonly tick: boolean) {}
  check = () => true;
  async run(model: Model, real: Real) {
    if (this.tick) real.clock.advance(1);
    const event = bus(real, this.t).post(this.type, { t: this.t }, this.deferred ? { priority: 'deferred' } : {});
    model.types.set(event.id, event.type);
    const thread = model.threads[this.t]!;
    if (this.deferred) thread.queue.add(event.id);
    else {
      thread.history.add(event.id);
      thread.delivered.add(event.id);
    }
    await Promise.resolve();
    check(model, real);
  }
  toString = () => `post(${this.t}, ${this.type}${this.deferred ? ', deferred' : ''})`;
}

class Drain implements Command {
  constructor(readonly t: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    bus(real, this.t).drain();
    const thread = model.threads[this.t]!;
    union(thread.history, thread.queue);
    union(thread.delivered, thread.queue);
    thread.queue.clear();
    check(model, real);
  }
  toString = () => `drain(${this.t})`;
}

function modelToStation(model: Model, t: number): void {
  const processor = THREADS[t]![0];
  const thread = model.threads[t]!;
  const station = model.stations[processor]!;
  union(station.history, thread.history);
  const parked = station.parked.get(t) ?? new Set();
  union(parked, thread.queue);
  if (parked.size > 0) station.parked.set(t, parked);
  thread.history = new Set();
  thread.queue = new Set();
}

function modelFromStation(model: Model, t: number, filter: readonly string[] | undefined): void {
  const processor = THREADS[t]![0];
  const thread = model.threads[t]!;
  const station = model.stations[processor]!;
  const incoming = keep(station.history, model, filter);
  union(thread.history, incoming);
  union(thread.delivered, incoming);
  union(thread.queue, station.parked.get(t) ?? []);
  station.parked.delete(t);
}

class ToStation implements Command {
  constructor(readonly t: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await bus(real, this.t).toStation();
    modelToStation(model, this.t);
    check(model, real);
  }
  toString = () => `toStation(${this.t})`;
}

class FromStation implements Command {
  constructor(readonly t: number, readonly filter: readonly string[] | undefined) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await bus(real, this.t).fromStation(this.filter === undefined ? undefined : { types: this.filter });
    modelFromStation(model, this.t, this.filter);
    check(model, real);
  }
  toString = () => `fromStation(${this.t}, ${JSON.stringify(this.filter)})`;
}

class RoundTrip implements Command {
  constructor(readonly t: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await bus(real, this.t).roundTrip();
    modelToStation(model, this.t);
    modelFromStation(model, this.t, undefined);
    check(model, real);
  }
  toString = () => `roundTrip(${this.t})`;
}

class Sync implements Command {
  constructor(readonly t: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await bus(real, this.t).sync();
    const processor = THREADS[this.t]![0];
    union(model.stations[processor]!.history, model.threads[this.t]!.history);
    modelFromStation(model, this.t, undefined);
    check(model, real);
  }
  toString = () => `sync(${this.t})`;
}

class ToMain implements Command {
  constructor(readonly p: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await real.runtime.station('external', this.p).toMain();
    const station = model.stations[this.p]!;
    union(model.main.history, station.history);
    for (const [t, ids] of station.parked) {
      const parked = model.main.parked.get(t) ?? new Set();
      union(parked, ids);
      model.main.parked.set(t, parked);
    }
    station.parked.clear();
    check(model, real);
  }
  toString = () => `toMain(${this.p})`;
}

class FromMain implements Command {
  constructor(readonly p: number, readonly filter: readonly string[] | undefined) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await real.runtime.station('external', this.p).fromMain(this.filter === undefined ? undefined : { types: this.filter });
    const station = model.stations[this.p]!;
    union(station.history, keep(model.main.history, model, this.filter));
    for (const [t, ids] of [...model.main.parked]) {
      if (THREADS[t]![0] !== this.p) continue;
      const parked = station.parked.get(t) ?? new Set();
      union(parked, ids);
      station.parked.set(t, parked);
      model.main.parked.delete(t);
    }
    check(model, real);
  }
  toString = () => `fromMain(${this.p}, ${JSON.stringify(this.filter)})`;
}

const thread = fc.nat(THREADS.length - 1);
const processor = fc.constantFrom(...PROCESSORS);
const filter = fc.constantFrom(...FILTERS);
const commandArbitraries: Array<fc.Arbitrary<Command>> = [
    fc.tuple(thread, fc.constantFrom(...TYPES), fc.boolean(), fc.boolean()).map(([t, type, d, tick]) => new Post(t, type, d, tick)),
    thread.map((t) => new Drain(t)),
    thread.map((t) => new ToStation(t)),
    fc.tuple(thread, filter).map(([t, f]) => new FromStation(t, f)),
    thread.map((t) => new RoundTrip(t)),
    thread.map((t) => new Sync(t)),
    processor.map((p) => new ToMain(p)),
    fc.tuple(processor, filter).map(([p, f]) => new FromMain(p, f)),
];
const commands = fc.commands(commandArbitraries, { maxCommands: 60, size: 'large' });

function setup(transport: 'memory' | 'frames'): { model: Model; real: Real } {
  const clock = new ManualClock(10_000);
  const runtime = createRuntime({ transport, clock, deferred: 'manual' });
  runtime.addThread({ processor: 0 });
  runtime.addProcessor();
  const delivered: string[][] = THREADS.map(() => []);
  THREADS.forEach(([p, t], index) => {
    runtime.bus('external', { processor: p, thread: t }).subscribe(['a', 'b'], (event) => void delivered[index]!.push(event.id));
  });
  return {
    model: {
      types: new Map(),
      threads: THREADS.map(() => ({ history: new Set(), queue: new Set(), delivered: new Set() })),
      stations: PROCESSORS.map(() => ({ history: new Set(), parked: new Map() })),
      main: { history: new Set(), parked: new Map() },
    },
    real: { runtime, clock, delivered },
  };
}

const test = suite('sync model');

for (const transport of ['memory', 'frames'] as const) {
  test(`bus and station sync - agrees with the reference model over ${transport} (fc.commands)`, async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const { model, real } = setup(transport);
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          await real.runtime.stop();
        }
      }),
      { numRuns: transport === 'memory' ? 300 : 150 },
    );
  });
}

test.run();
