/**
 * Payload schemas: any Standard Schema validator (zod, valibot, arktype, ...)
 * registered per event type checks, and may convert, a payload before it is
 * posted. Schemas are functions, so they cannot cross threads: a registry
 * belongs to one JS thread (the runtime's, or a worker's) and applies to the
 * posts made there — on its own buses and on the `RemoteBus`es it holds,
 * before the payload is encoded.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { InvalidEventError, InvalidOptionError, UnsupportedError, thrownText, type EventIssue } from '../../errors.js';
import { describe, eventTypeProblem } from '../validate.js';
import type { JsonCompatibleAs } from '../bus/json-compatible.js';
import type { Inputs, IsUntyped } from '../bus/typed-events.js';

export type { StandardSchemaV1 };

/** A Standard Schema for the payload of one event type: `Input` is what `post()` is given, `Output` what the event keeps. */
export type PayloadSchema<Input = unknown, Output = Input> = StandardSchemaV1<Input, Output>;

/** Schemas by event type, as `createRuntime({ schemas })` takes them. */
export type PayloadSchemaMap = { readonly [type: string]: PayloadSchema };

/**
 * The event map of a schema map: each type's payload is its schema's output
 * (what events keep: subscribers, `history()`, `waitFor()`), and what
 * `post()`, `publish()` and `request()` take is its input (`Inputs`), as
 * tRPC types a procedure's caller by its schema's input and its resolver by
 * the output. `defineEvents()` spares writing it out.
 *
 * @example
 * const schemas = { 'user.created': z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) }) }
 * const runtime = createRuntime<SchemaEvents<typeof schemas>>({ schemas })
 * runtime.bus().post('user.created', { id: 'u1', at: new Date() })    // the event's payload.at is a string
 */
export type SchemaEvents<S extends PayloadSchemaMap> = { [K in keyof S & string]: StandardSchemaV1.InferOutput<S[K]> } & Inputs<{
  [K in keyof S & string]: StandardSchemaV1.InferInput<S[K]>;
}>;

/** Marks a schema map made by `defineEvents()`, from which `createRuntime()` takes its event map. Types only. */
declare const definedEvents: unique symbol;

/** A schema map made by `defineEvents()`: `createRuntime({ schemas })` given one is typed by `SchemaEvents<S>`. */
export type EventSchemas<S extends PayloadSchemaMap = PayloadSchemaMap> = S & { readonly [definedEvents]: true };

/** Each schema of `S` with an output the wire can carry: a schema whose output is a `Date` (not converted) fails to compile. */
export type JsonOutputSchemas<S extends PayloadSchemaMap> = {
  readonly [K in keyof S & string]: PayloadSchema<any, JsonCompatibleAs<StandardSchemaV1.InferOutput<S[K]>, '', 'schema'>>;
};

/**
 * Defines a runtime's events by their payload schemas: given as
 * `createRuntime({ schemas })`, they type every bus of the runtime, each
 * type's posts by its schema's input and its events by the output
 * (`SchemaEvents`). The map is checked now (a wrong entry throws
 * `InvalidOptionError` naming it) and returned as it is. A type without a
 * schema is no type of the runtime: the map is the whole list.
 *
 * @example
 * const events = defineEvents({
 *   'user.created': z.object({ id: z.string(), at: z.date().transform((date) => date.toISOString()) }),
 *   'user.deleted': z.object({ id: z.string() }),
 * })
 * const runtime = createRuntime({ schemas: events })
 * runtime.bus().post('user.created', { id: 'u1', at: new Date() })
 * runtime.bus().subscribe('user.created', (event) => event.payload.at.slice(0, 10))   // a string
 */
export function defineEvents<S extends PayloadSchemaMap>(schemas: S & JsonOutputSchemas<S>): EventSchemas<S> {
  const errors: InvalidOptionError[] = [];
  checkSchemaMap(schemas, 'defineEvents()', (error) => void errors.push(error));
  if (errors.length > 0) throw InvalidOptionError.combine(errors, 'defineEvents() schemas');
  return schemas as EventSchemas<S>;
}

/**
 * The schemas a runtime typed by event map `E` takes: any input, and an
 * output that is the map's payload of that type (what the event keeps).
 * Types outside the map are refused by the compiler.
 */
export type SchemaMapFor<E> = IsUntyped<E> extends true
  ? PayloadSchemaMap
  : { readonly [K in keyof E]?: PayloadSchema<any, E[K]> };

/** The schema `runtime.schema(type, schema)` takes for `type` on event map `E`. */
export type SchemaFor<E, K extends string> = IsUntyped<E> extends true ? PayloadSchema : K extends keyof E ? PayloadSchema<any, E[K]> : never;

/** One thing a schema found wrong with a payload: where (`$` is the payload itself, `$.user.tags[0]` a nested value), and the validator's message. */
export type PayloadIssue = EventIssue;

/** `$`-rooted path of a Standard Schema issue: `$.user.tags[0]`. */
export function issuePath(path: StandardSchemaV1.Issue['path']): string {
  let text = '$';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) text += `.${key}`;
    else text += `[${typeof key === 'symbol' ? key.toString() : JSON.stringify(key)}]`;
  }
  return text;
}

/** The error for a payload its schema refused: the type, and each issue with its path. */
export function payloadRefused(type: string, issues: readonly StandardSchemaV1.Issue[]): InvalidEventError {
  const found = issues.map((issue): PayloadIssue => ({ path: issuePath(issue.path), message: String(issue.message) }));
  const list = found.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return new InvalidEventError(`The payload of "${type}" does not match its schema: ${list}.`, { issues: found });
}

function isSchema(value: unknown): value is PayloadSchema {
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

/** Throws `InvalidOptionError` naming `option` unless `schema` is a Standard Schema (v1). */
export function assertPayloadSchema(schema: unknown, option: string): asserts schema is PayloadSchema {
  if (!isSchema(schema)) {
    throw new InvalidOptionError(
      option,
      `expected a Standard Schema (an object with "~standard": { version: 1, validate }, as zod, valibot and arktype schemas are), got ${describe(schema)}.`,
    );
  }
}

/**
 * The schemas of one JS thread, by exact event type: a schema for `user`
 * does not apply to `user.login` (subtypes carry payloads of their own).
 */
export class PayloadSchemas {
  readonly #byType = new Map<string, PayloadSchema>();
  /** Set by `conformed()` for the one `post()` that carries a payload `publish()` has already conformed. */
  #bypass = false;

  /** Registers `schemas` (checked whole first: a refused map registers nothing). */
  constructor(schemas?: PayloadSchemaMap) {
    if (schemas !== undefined) checkSchemaMap(schemas, 'schemas');
    for (const [type, schema] of Object.entries(schemas ?? {})) this.#byType.set(type, schema);
  }

  /** How many types have a schema. */
  get size(): number {
    return this.#byType.size;
  }

  /** The schema of `type`, if any. */
  get(type: string): PayloadSchema | undefined {
    return this.#byType.get(type);
  }

  /** Sets the schema of `type` (replacing one it had), or removes it with `undefined`. */
  set(type: string, schema: PayloadSchema | undefined, option = 'schema'): void {
    const problem = eventTypeProblem(type, 'The schema type');
    if (problem !== undefined) throw new InvalidOptionError(`${option} type`, problem);
    if (schema === undefined) {
      this.#byType.delete(type);
      return;
    }
    assertPayloadSchema(schema, `${option}[${JSON.stringify(type)}]`);
    this.#byType.set(type, schema);
  }

  /**
   * The payload `post()` keeps: `payload` itself without a schema, its
   * schema's output otherwise. Throws `InvalidEventError` (with `issues`)
   * when the schema refuses it, and `UnsupportedError` when the schema is
   * async: `post()` cannot wait, `publish()` can.
   */
  conform(type: string, payload: unknown): unknown {
    const schema = this.#schemaToApply(type);
    if (schema === undefined) return payload;
    const result = validateWith(schema, type, payload);
    if (result instanceof Promise) {
      // Nobody will read it; a rejection must not surface as an unhandled one.
      result.catch(() => undefined);
      throw new UnsupportedError(
        `The schema of "${type}" is async (its validate() returned a Promise), and post() cannot wait for it. ` +
          'Use await bus.publish(type, payload), which awaits async schemas, or a synchronous schema.',
      );
    }
    assertSchemaResult(result, type);
    if (result.issues !== undefined) throw payloadRefused(type, result.issues);
    return result.value;
  }

  /** The schema a post of `type` goes through: none for the one post `conformed()` lets by, or for a type without one. */
  #schemaToApply(type: string): PayloadSchema | undefined {
    if (!this.#bypass) return this.#byType.get(type);
    this.#bypass = false;
    return undefined;
  }

  /** `conform()` for `publish()`: an async schema is awaited. */
  conformAsync(type: string, payload: unknown): unknown {
    const schema = this.#schemaToApply(type);
    if (schema === undefined) return payload;
    const result = validateWith(schema, type, payload);
    const settle = (settled: StandardSchemaV1.Result<unknown>): unknown => {
      assertSchemaResult(settled, type);
      if (settled.issues !== undefined) throw payloadRefused(type, settled.issues);
      return settled.value;
    };
    return result instanceof Promise ? result.then(settle, (error: unknown) => Promise.reject(schemaFailed(type, error))) : settle(result);
  }

  /**
   * Runs `post` (one `post()` or `publish()` call, which consumes the pass)
   * without applying a schema to a payload that was conformed already: by
   * `publish()`, or by the thread that posted it through a `RemoteBus`.
   */
  conformed<T>(post: () => T): T {
    this.#bypass = true;
    try {
      return post();
    } finally {
      this.#bypass = false;
    }
  }
}

/**
 * `schema`'s `validate(payload)`; a schema that throws refuses the post as
 * `InvalidEventError`, what it threw the `cause` (as a middleware's `before`
 * that throws refuses it, never an error of its own escaping `post()`).
 */
function validateWith(schema: PayloadSchema, type: string, payload: unknown): StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>> {
  try {
    return schema['~standard'].validate(payload);
  } catch (error) {
    throw schemaFailed(type, error);
  }
}

function schemaFailed(type: string, error: unknown): InvalidEventError {
  const reason = thrownText(error);
  return new InvalidEventError(`The schema of "${type}" threw while validating the payload (${reason}): nothing was posted. Fix the schema.`, { cause: error });
}

/** Throws `InvalidEventError` unless `result` is a Standard Schema result: `{ value }` or `{ issues }`. */
function assertSchemaResult(result: unknown, type: string): asserts result is StandardSchemaV1.Result<unknown> {
  if (typeof result === 'object' && result !== null && ('value' in result || Array.isArray((result as { issues?: unknown }).issues))) return;
  throw new InvalidEventError(
    `The schema of "${type}" returned ${describe(result)} from validate(), not a Standard Schema result ({ value } or { issues }): nothing was posted. Fix the schema.`,
  );
}

/** Checks a schema map, reporting through `report` (or throwing) each entry that is wrong. */
export function checkSchemaMap(schemas: unknown, option: string, report?: (error: InvalidOptionError) => void): void {
  const fail = report ?? ((error: InvalidOptionError) => {
    throw error;
  });
  if (typeof schemas !== 'object' || schemas === null || Array.isArray(schemas)) {
    fail(new InvalidOptionError(option, `expected an object of Standard Schemas by event type, e.g. { 'user.login': z.object({ id: z.number() }) }, got ${describe(schemas)}.`));
    return;
  }
  for (const [type, schema] of Object.entries(schemas)) {
    const where = `${option}[${JSON.stringify(type)}]`;
    const problem = eventTypeProblem(type, 'The schema type');
    if (problem !== undefined) fail(new InvalidOptionError(where, problem));
    else if (!isSchema(schema)) {
      fail(new InvalidOptionError(where, `expected a Standard Schema (an object with "~standard": { version: 1, validate }), got ${describe(schema)}.`));
    }
  }
}

/** The payload a post keeps, given where it is posted: `payload` unless a schema of `type` there says otherwise. */
export function conformPayload(schemas: PayloadSchemas | undefined, type: string, payload: unknown): unknown {
  return schemas === undefined || schemas.size === 0 ? payload : schemas.conform(type, payload);
}
