/**
 * Type-level tests of posts typed by a schema's input and events by its
 * output (`defineEvents()`, `SchemaEvents`, `Inputs`): checked by `tsc` in
 * `npm test` (a misplaced `@ts-expect-error` is itself an error). Never executed.
 */
import { z } from 'zod';
import {
  createRuntime,
  defineEvents,
  type Bus,
  type BusEvent,
  type EventSchemas,
  type InputOf,
  type Inputs,
  type RemoteBus,
  type Replies,
  type Runtime,
  type SchemaEvents,
  type SideEventsOf,
  type StandardSchemaV1,
} from '../../../index.js';

/** True when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

const UserCreated = z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) });
const UserDeleted = z.object({ id: z.string(), reason: z.enum(['asked', 'banned']).default('asked') });
const Tick = z.null();

type Created = { id: string; at: string };

export function definedEvents(): void {
  const events = defineEvents({ 'user.created': UserCreated, 'user.deleted': UserDeleted, tick: Tick });
  expectType<Equal<typeof events, EventSchemas<{ 'user.created': typeof UserCreated; 'user.deleted': typeof UserDeleted; tick: typeof Tick }>>>();
  const runtime = createRuntime({ schemas: events, threadsPerProcessor: 1 });
  type Events = SchemaEvents<{ 'user.created': typeof UserCreated; 'user.deleted': typeof UserDeleted; tick: typeof Tick }>;
  expectType<Equal<typeof runtime, Runtime<Events, {}>>>();
  const bus = runtime.bus();
  // The external map, with the internal side's events a read across the bridge brings (Across).
  expectType<Equal<typeof bus, Bus<SideEventsOf<'external', Events, {}>>>>();

  // post, publish and request take the schema's input: a Date, a field with a default left out.
  const created = bus.post('user.created', { id: 'u1', at: new Date() });
  // ... and return the event as it is kept: the schema's output.
  expectType<Equal<typeof created, BusEvent<Created, 'user.created'>>>();
  expectType<Equal<typeof created.payload.at, string>>();
  bus.post('user.deleted', { id: 'u1' });
  bus.post('user.deleted', { id: 'u1', reason: 'banned' });
  bus.post('tick', null);
  void bus.publish('user.created', { id: 'u1', at: new Date() }).then((published) => {
    if (published.dropped === undefined) expectType<Equal<typeof published.event.payload, Created>>();
  });
  void bus.request('user.created', { id: 'u1', at: new Date() }, { timeout: 10 });

  // @ts-expect-error the input is a Date, not the output's string
  bus.post('user.created', { id: 'u1', at: '2026-01-01T00:00:00.000Z' });
  // @ts-expect-error a number is neither
  bus.post('user.created', { id: 'u1', at: 0 });
  // @ts-expect-error missing field
  bus.post('user.created', { at: new Date() });
  // @ts-expect-error not one of the enum's values
  bus.post('user.deleted', { id: 'u1', reason: 'bored' });
  // @ts-expect-error no schema, no type: the map is the whole list
  bus.post('user.renamed', { id: 'u1' });
  // @ts-expect-error publish checks the input as post does
  void bus.publish('user.created', { id: 'u1', at: 'now' });
  // @ts-expect-error request too
  void bus.request('user.created', { id: 'u1', at: 'now' });

  // Subscribers, history, waitFor and filters see the output.
  bus.subscribe('user.created', (event) => {
    expectType<Equal<typeof event.payload, Created>>();
    void event.payload.at.slice(0, 10);
  });
  bus.subscribe('user', (event) => {
    if (event.type === 'user.deleted') expectType<Equal<typeof event.payload.reason, 'asked' | 'banned'>>();
  });
  bus.subscribe('user.created', () => undefined, {
    // @ts-expect-error the filter sees the output: `at` is a string, not a Date
    filter: (event) => event.payload.at.getTime() > 0,
  });
  const history = bus.history({ types: ['user.created'] });
  expectType<Equal<(typeof history)[number]['payload'], Created>>();
  void bus.waitFor('user.deleted').then((event) => expectType<Equal<typeof event.payload, { id: string; reason: 'asked' | 'banned' }>>());
  // @ts-expect-error misspelled type
  bus.subscribe('user.create', () => undefined);

  // A worker's bus, reached from here, is typed the same way (the schemas apply here, before encoding).
  const handle = runtime.thread(0, 1).bus('external');
  expectType<Equal<typeof handle, Bus<SideEventsOf<'external', Events, {}>> | RemoteBus<SideEventsOf<'external', Events, {}>>>>();
  const worker = handle as RemoteBus<Events>;
  void worker.post('user.created', { id: 'u1', at: new Date() }).then((event) => expectType<Equal<typeof event.payload.at, string>>());
  // @ts-expect-error on a RemoteBus too
  void worker.post('user.created', { id: 'u1', at: 'now' });
  worker.subscribe('user.created', (event) => expectType<Equal<typeof event.payload, Created>>());

  // runtime.schema() replaces a schema by one with the same output.
  runtime.schema('user.created', UserCreated);
  // @ts-expect-error its output must be the map's payload
  runtime.schema('user.created', z.object({ id: z.number() }));

  // The internal side is the runtime's own events, typed.
  runtime.bus('internal').subscribe('busline.thread.crashed', (event) => void event.payload.reason);
  // @ts-expect-error the application's types are not on the internal side
  runtime.bus('internal').post('tick', null);
}

export function badDefinitions(): void {
  // @ts-expect-error an output the wire cannot carry: a Date not converted
  defineEvents({ 'user.created': z.object({ at: z.date() }) });
  // @ts-expect-error not a Standard Schema
  defineEvents({ 'user.created': { parse: (value: unknown) => value } });
  // A schema map not made by defineEvents() types nothing: the runtime stays untyped.
  const untyped = createRuntime({ schemas: { 'user.created': UserCreated } });
  expectType<Equal<typeof untyped, Runtime>>();
  // ... so a Date needs a cast there, as before.
  // @ts-expect-error a Date is not JSON data
  untyped.bus().post('user.created', { id: 'u1', at: new Date() });
  // Explicit maps still win over the overload.
  interface Plain {
    'user.created': Created;
  }
  const plain = createRuntime<Plain>({ schemas: { 'user.created': UserCreated } });
  expectType<Equal<typeof plain, Runtime<Plain>>>();
  // @ts-expect-error without Inputs, the map's payload is what post() takes
  plain.bus().post('user.created', { id: 'u1', at: new Date() });
}

export function schemaEventsByHand(): void {
  // The same map, written out: SchemaEvents of the schemas, given to createRuntime<...>().
  const schemas = { 'user.created': UserCreated };
  const runtime = createRuntime<SchemaEvents<typeof schemas>>({ schemas });
  const event = runtime.bus().post('user.created', { id: 'u1', at: new Date() });
  expectType<Equal<typeof event.payload, Created>>();
  expectType<Equal<SchemaEvents<typeof schemas>['user.created'], Created>>();
  expectType<Equal<InputOf<SchemaEvents<typeof schemas>, 'user.created'>, { id: string; at: Date }>>();

  // A hand-written Standard Schema: input number, output { celsius }.
  const celsius: StandardSchemaV1<number, { celsius: number }> = {
    '~standard': { version: 1, vendor: 'by-hand', validate: (value) => ({ value: { celsius: Number(value) } }) },
  };
  const measured = createRuntime({ schemas: defineEvents({ temperature: celsius }) });
  measured.bus().post('temperature', 21.5);
  measured.bus().subscribe('temperature', (event) => expectType<Equal<typeof event.payload, { celsius: number }>>());
  // @ts-expect-error the input is a number
  measured.bus().post('temperature', { celsius: 21.5 });
}

export function inputsInAMap(): void {
  // Inputs in an interface, beside Replies: for schemas given to runtime.schema() later, or to a worker's module.
  interface Events extends Inputs<{ 'user.created': { id: string; at: Date } }>, Replies<{ 'user.get': Created }> {
    'user.created': Created;
    'user.get': { id: string };
  }
  const runtime = createRuntime<Events>({ schemas: { 'user.created': UserCreated } });
  const bus = runtime.bus();
  bus.post('user.created', { id: 'u1', at: new Date() });
  // A type without a declared input takes the map's payload.
  bus.post('user.get', { id: 'u1' });
  void bus.request('user.get', { id: 'u1' }).then((user) => expectType<Equal<typeof user, Created>>());
  bus.subscribe('user.created', (event) => expectType<Equal<typeof event.payload, Created>>());
  // @ts-expect-error the declared input, not the output
  bus.post('user.created', { id: 'u1', at: 'now' });
  expectType<Equal<InputOf<Events, 'user.get'>, { id: string }>>();
  // Inputs are no event types (replies are: every side carries them).
  bus.subscribe('*', (event) => event.side === 'external' && expectType<Equal<typeof event.type, 'user.created' | 'user.get' | 'busline.reply'>>());
}
