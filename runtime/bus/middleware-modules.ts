/**
 * Middleware given as a module (`createRuntime({ middleware: [{ module, export }] })`):
 * functions cannot cross to a worker thread or a child processor, but a module
 * URL can, so each thread imports the module itself, as `runtime.spawn()`
 * does with a machine module, and runs the middleware it exports on every
 * bus of that thread. In the root the runtime imports it too; until it has
 * (`runtime.ready`), a post there is refused rather than let through
 * unchecked.
 */
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Payload } from '../../types.js';
import { loadTypeScriptIn } from '../hosting/entries.js';
import { assertKnownKeys, describe } from '../validate.js';
import { checkMiddleware, type BeforeResult, type DeliveryOutcome, type Middleware, type PostDraft } from './middleware.js';

/**
 * A middleware that every thread loads from a module: the module's export
 * `export` (default: its `middleware` export, else its default export), a
 * middleware object as `createRuntime({ middleware })` takes one. The module
 * is loaded once per JS thread (the root, each worker, each child processor).
 *
 * @example
 * const runtime = createRuntime({
 *   threadsPerProcessor: 2,
 *   middleware: [{ module: new URL('./audit.js', import.meta.url).href, export: 'audit' }],
 * })
 * await runtime.ready   // rejects with INVALID_OPTION if the module cannot be loaded
 */
export interface MiddlewareModule {
  /** A module URL (`file:`, ...) or a file path. */
  readonly module: string | URL;
  /** The export that holds the middleware. Default `middleware`, else the default export. */
  readonly export?: string;
}

/** A module entry as it crosses to threads and processors: plain data. */
export interface MiddlewareModuleSpec {
  readonly href: string;
  readonly export: string | undefined;
  /** Its place in `createRuntime({ middleware })`, for error messages. */
  readonly index: number;
}

/** True when `value` is a `{ module }` entry rather than a middleware object. */
function isModuleEntry(value: unknown): value is MiddlewareModule {
  return typeof value === 'object' && value !== null && 'module' in value;
}

/** Checks a `{ module, export? }` entry; returns it as it crosses. */
export function checkMiddlewareModule(value: MiddlewareModule, option: string, index: number): MiddlewareModuleSpec {
  assertKnownKeys(value, ['module', 'export'], option);
  const { module } = value;
  let href: string;
  if (module instanceof URL) href = module.href;
  else if (typeof module === 'string' && module.length > 0) {
    // A path becomes a file URL, as `runtime.spawn()` takes one.
    href = /^[a-z][a-z0-9+.-]*:/i.test(module) ? module : pathToFileURL(module).href;
  } else throw new InvalidOptionError(`${option}.module`, `expected a module URL or path, got ${describe(module)}.`);
  if (value.export !== undefined && (typeof value.export !== 'string' || value.export.length === 0)) {
    throw new InvalidOptionError(`${option}.export`, `expected an export name, got ${describe(value.export)}.`);
  }
  return { href, export: value.export, index };
}

/** `createRuntime({ middleware })` split: the list the root runs (modules as placeholders, in place) and the modules alone. */
export interface MiddlewareEntries {
  readonly root: readonly Middleware[];
  readonly modules: readonly MiddlewareModuleSpec[];
  /** The root's placeholders, loaded by `loadAll()`. */
  readonly placeholders: readonly ModuleMiddleware[];
}

/** Checks `createRuntime({ middleware })`: middleware objects and `{ module }` entries, in order. */
export function checkMiddlewareEntries(value: unknown, option: string): MiddlewareEntries {
  if (value === undefined) return { root: [], modules: [], placeholders: [] };
  if (!Array.isArray(value)) throw new InvalidOptionError(option, `expected an array of middleware, got ${describe(value)}.`);
  const root: Middleware[] = [];
  const modules: MiddlewareModuleSpec[] = [];
  const placeholders: ModuleMiddleware[] = [];
  value.forEach((entry: unknown, index) => {
    const at = `${option}[${index}]`;
    if (isModuleEntry(entry)) {
      const spec = checkMiddlewareModule(entry, at, index);
      const placeholder = new ModuleMiddleware(spec);
      modules.push(spec);
      placeholders.push(placeholder);
      root.push(placeholder);
    } else root.push(checkMiddleware(entry, at));
  });
  return { root: Object.freeze(root), modules: Object.freeze(modules), placeholders: Object.freeze(placeholders) };
}

/**
 * Imports the module of `spec` and returns its middleware. Throws
 * `InvalidOptionError` naming `middleware[i].module` (it cannot be loaded)
 * or `middleware[i].export` (no such export, or not a middleware).
 */
export async function loadMiddlewareModule(spec: MiddlewareModuleSpec): Promise<Middleware> {
  const option = `middleware[${spec.index}]`;
  let loaded: Record<string, unknown>;
  try {
    await loadTypeScriptIn(spec.href);
    loaded = (await import(spec.href)) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidOptionError(`${option}.module`, `${spec.href} could not be loaded: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  const name = spec.export ?? (loaded['middleware'] !== undefined ? 'middleware' : 'default');
  const exported = loaded[name];
  if (exported === undefined) {
    throw new InvalidOptionError(`${option}.export`, `${spec.href} has no export "${name}"; export a middleware object as "middleware" or name it with export.`);
  }
  return checkMiddleware(exported, `${option}.export (${name} of ${spec.href})`);
}

/** Loads every module of `specs`, in order. */
export function loadMiddlewareModules(specs: readonly MiddlewareModuleSpec[] | undefined): Promise<Middleware[]> {
  return Promise.all((specs ?? []).map((spec) => loadMiddlewareModule(spec)));
}

/**
 * A module's middleware in the root's list, in its place: it runs the
 * middleware once `load()` has, and refuses posts before (a `before` that
 * throws, so `post()` throws `MiddlewareFailedError`): a post must not pass a
 * middleware that may drop it only because it was early.
 */
export class ModuleMiddleware implements Middleware {
  readonly #spec: MiddlewareModuleSpec;
  #loaded: Middleware | undefined;

  constructor(spec: MiddlewareModuleSpec) {
    this.#spec = spec;
  }

  get name(): string {
    return this.#loaded?.name ?? `${this.#spec.href}#${this.#spec.export ?? 'middleware'}`;
  }

  async load(): Promise<void> {
    this.#loaded = await loadMiddlewareModule(this.#spec);
  }

  before(draft: PostDraft): BeforeResult {
    const loaded = this.#loaded;
    if (loaded === undefined) throw new Error('its module is still loading: await runtime.ready before posting.');
    return loaded.before?.(draft);
  }

  after(event: BusEvent<Payload>, outcome: DeliveryOutcome): void {
    this.#loaded?.after?.(event, outcome);
  }
}
