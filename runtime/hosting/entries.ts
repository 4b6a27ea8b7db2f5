/**
 * Where the runtime's own entries are, and how TypeScript gets loaded. The
 * published package runs compiled JS on plain `node`: its worker threads and
 * processor processes start from `.js` entries with no loader at all. The
 * repository's tests, demo and bench run the sources under tsx: the entries
 * are then the `.ts` files beside this one, and they need tsx too. Which of
 * the two is decided by this module's own extension, so the two can never mix.
 *
 * tsx is an optional peer dependency of the package: only a user's own `.ts`
 * module (`runtime.spawn()`, `startWorker()`) needs it.
 */
import { UnsupportedError } from '../../errors.js';

/** True when this module runs from the TypeScript sources (under tsx), false from the compiled package. */
export const FROM_SOURCE = /\.ts$/.test(new URL(import.meta.url).pathname);

const ENTRY_EXTENSION = FROM_SOURCE ? 'ts' : 'js';

/** A module that needs a TypeScript loader. */
export const TYPESCRIPT_MODULE = /\.(ts|mts|tsx)$/;

/** The entry of a worker thread (`thread`) or of a child processor (`processor`), in the running form. */
export function runtimeEntry(name: 'thread' | 'processor'): URL {
  return new URL(`../workers/${name}.worker.${ENTRY_EXTENSION}`, import.meta.url);
}

/**
 * The Node flags a child processor needs before the user's own: tsx's loader
 * when the entry is TypeScript, nothing when it is compiled.
 */
export function entryExecArgv(): string[] {
  return FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : [];
}

/**
 * The URL of tsx's ESM API (`register()`), resolved from this package, for
 * loading the user's TypeScript module `module`. Throws `UnsupportedError`
 * naming tsx when it is not installed: it is an optional peer dependency.
 */
export function tsxApi(module: string, resolve: (specifier: string) => string = (specifier) => import.meta.resolve(specifier)): string {
  try {
    return resolve('tsx/esm/api');
  } catch (error) {
    throw new UnsupportedError(
      `${module} is TypeScript, and loading it needs tsx (npm install tsx), which was not found: ` +
        `${error instanceof Error ? error.message : String(error)}. Or give the compiled .js module.`,
    );
  }
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Makes this thread able to import the user's TypeScript module `module`.
 * From the sources tsx's hooks are in place already (tests, demo and bench
 * run under tsx, and so do the runtime's own workers and processors). From
 * the compiled package tsx's hooks are registered on the first such module,
 * once per thread; without tsx this throws `UnsupportedError` naming it.
 */
export async function loadTypeScriptIn(module: string): Promise<void> {
  if (FROM_SOURCE || !TYPESCRIPT_MODULE.test(module.replace(/[?#].*$/, ''))) return;
  const api = tsxApi(module);
  tsxRegistered ??= import(api).then(({ register }: { register: () => unknown }) => void register());
  await tsxRegistered;
}
