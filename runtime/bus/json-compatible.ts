/**
 * Whether a payload type is JSON-like data, as events carry it: the check an
 * event map's payloads pass (`EventMap`), and an untyped `post()`'s payload,
 * with a sentence in place of each part that is not, naming the field and
 * what to post instead. Types only: nothing here exists at run time.
 */
import type { JsonValue, Payload } from '../../types.js';

type Primitive = string | number | boolean | null;

/** Where a part of a payload is, for `PayloadProblem`'s words: `payload` alone, or `payload field 'a.b[]'`. */
type PayloadPlace<Path extends string> = Path extends '' ? 'payload' : `payload field '${Path}'`;

/**
 * `Path` and then the field `K`: `a`, `a.b`, `a[]` for an array's (or
 * tuple's) elements, or `a.<key>` for a record's values (an index signature,
 * whose `K` is `string`: in a template it would read `${string}`).
 */
type FieldPath<Path extends string, K extends string | number> = K extends number | `${number}`
  ? `${Path}[]`
  : Path extends ''
    ? string extends K
      ? '<key>'
      : `${K}`
    : string extends K
      ? `${Path}.<key>`
      : `${Path}.${K}`;

/**
 * What `JsonCompatible` puts in place of a part that is not JSON-like data: a
 * sentence saying what it is and what to do, so that the compiler's error
 * reads it (`Type 'Date' is not assignable to type '"payload field 'at' is a
 * Date: ..."'`). No value has this type.
 */
export type PayloadProblem<Path extends string, T> = NotJsonLike<`${PayloadPlace<Path>} ${ProblemOf<T>}`>;

/** The brand of `NotJsonLike`. Types only. */
declare const notJsonLike: unique symbol;

/**
 * A `PayloadProblem`'s sentence, branded: a plain string literal would vanish
 * in a union with `string` (`at: string | Date` would read `at: string`,
 * and the error would say nothing of the `Date`).
 */
export type NotJsonLike<Sentence extends string> = Sentence & { readonly [notJsonLike]?: Sentence };

/** What is wrong with a part of type `T`, and what to post instead. */
type ProblemOf<T> = unknown extends T
  ? 'is unknown: events carry JSON-like values; declare its type (objects, arrays, strings, numbers, booleans, null)'
  : T extends Date
    ? 'is a Date: events carry JSON-like values; declare an ISO string and post date.toISOString(), or let a payload schema convert the Date (Inputs, defineEvents)'
    : T extends ReadonlyMap<unknown, unknown>
      ? 'is a Map: events carry JSON-like values; post an object or an array of [key, value] pairs'
      : T extends ReadonlySet<unknown>
        ? 'is a Set: events carry JSON-like values; post an array'
        : T extends Uint8Array
          ? 'is a Uint8Array inside data: bytes travel only as a whole payload; post them as an event of their own, or as base64 text'
          : T extends ArrayBufferLike | ArrayBufferView
            ? 'is binary data other than a Uint8Array: events carry bytes as a Uint8Array; post new Uint8Array(buffer)'
            : T extends undefined
              ? 'may be undefined: events carry JSON-like values; use null, or make the field optional (`field?: T`)'
              : T extends (...args: never[]) => unknown
                ? 'is a function: events carry JSON-like data, not code (a method of a class instance? post its data fields as a plain object)'
                : T extends bigint
                  ? 'is a bigint: events carry JSON-like values; post a number or a string'
                  : T extends symbol
                    ? 'is a symbol: events carry JSON-like values'
                    : 'is not JSON-like data: events carry objects, arrays, strings, numbers, booleans and null';

/**
 * What field `K` of `T` may be, at `Path`: an array's element or a required
 * field as it is; an optional field without the `undefined` that only says
 * it may be left out. One declared `field?: T | undefined` under
 * `exactOptionalPropertyTypes` (where `Required` keeps its `undefined`)
 * admits `{ field: undefined }`, which `post()` refuses: a sentence says so,
 * or, for a schema's output (`Optional` is `'schema'`: zod's `.optional()`
 * infers it, and the parsed value leaves the key out), it is taken. A
 * record's values (an index signature) are taken without their `undefined`.
 */
type FieldValue<T, K extends keyof T, Path extends string, Optional extends OptionalUndefined> = K extends number
  ? JsonCompatibleAs<T[K], Path, Optional>
  : {} extends Pick<T, K>
    ? JsonCompatibleAs<Exclude<T[K], undefined>, Path, Optional> | (string extends K ? never : undefined extends Required<T>[K] ? (Optional extends 'schema' ? undefined : OptionalUndefinedProblem<Path>) : never)
    : JsonCompatibleAs<T[K], Path, Optional>;

/** How `JsonCompatibleAs` takes an optional field that admits `undefined`: refused with a sentence (`'map'`), or taken (`'schema'`). */
export type OptionalUndefined = 'map' | 'schema';

/** The sentence for an optional field declared `field?: T | undefined` (under `exactOptionalPropertyTypes`). */
type OptionalUndefinedProblem<Path extends string> = NotJsonLike<`${PayloadPlace<Path>} may be undefined: events never carry undefined (post() refuses { field: undefined }); declare it \`field?: T\` without \`| undefined\`, and leave the key out`>;

/**
 * `T` when it is JSON-like data (or bytes, as the whole payload), with
 * every part that is not (functions, methods included, `undefined`,
 * symbols, bigints, a `Date`, a `Map`, a `Set`, other binary data, a
 * `Uint8Array` inside data) turned into a `PayloadProblem`: a sentence
 * naming the field and what is wrong with it, so that `T extends JsonCompatible<T>`
 * fails for them and the compiler's error says why. Unlike `JsonValue` it
 * needs no index signature: an `interface` payload passes. A class instance
 * with data fields only passes here; `post()` still refuses it at run time
 * (it is not plain data). `Path` is where `T` is in the payload (`''`: the
 * payload itself).
 */
export type JsonCompatible<T, Path extends string = ''> = JsonCompatibleAs<T, Path, 'map'>;

/** `JsonCompatible`, taking an optional field that admits `undefined` as `Optional` says (`'schema'` for a schema's output). */
export type JsonCompatibleAs<T, Path extends string, Optional extends OptionalUndefined> = [T] extends [Path extends '' ? Payload : JsonValue]
  ? T // type aliases of JSON data and `Payload` itself: accepted as they are, without walking them
  : T extends Primitive
    ? T
    : T extends Uint8Array
      ? Path extends ''
        ? T
        : PayloadProblem<Path, T> // bytes are a whole payload only: post() refuses them inside data
      : T extends (...args: never[]) => unknown
        ? PayloadProblem<Path, T>
        : T extends Date | ReadonlyMap<unknown, unknown> | ReadonlySet<unknown> | ArrayBufferLike | ArrayBufferView
          ? PayloadProblem<Path, T>
          : T extends object // arrays and tuples too: the mapped type keeps them arrays, with no `T extends readonly unknown[]` that would compare every object with ReadonlyArray's methods
            ? { [K in keyof T]: K extends symbol ? NotJsonLike<`${PayloadPlace<Path>} has a symbol key: JSON-like data has string keys only`> : FieldValue<T, K, FieldPath<Path, K & (string | number)>, Optional> }
            : PayloadProblem<Path, T>;
