/**
 * The entry a worker thread evaluates first: it imports the worker module, and
 * registers tsx's loader before a TypeScript one.
 */
import { UnsupportedError } from '../../errors.js';
import { messageOf } from './worker-api.js';

const TYPESCRIPT_MODULE = /\.(ts|mts|tsx)$/;

/**
 * The worker's entry, evaluated by threads.js (`fromSource`). A TypeScript
 * module needs tsx's loader hooks registered *inside* the worker before it is
 * imported: `execArgv: ['--import', 'tsx']` does not reach a worker's entry
 * (DESIGN.md, "Pitfalls"). tsx is resolved here, on the host, so the worker
 * does not depend on its working directory to find it. A `.js` module is
 * imported as is. A failed import is an unhandled rejection, which ends the
 * worker with the import's error, and `startWorker` rejects with it.
 * Only ESM TypeScript is covered (this package is `"type": "module"`); a `.ts`
 * that resolves to CommonJS would also need tsx's `tsx/cjs/api` registered.
 */
export function bootstrapSource(module: URL): string {
  const moduleUrl = JSON.stringify(module.href);
  if (!TYPESCRIPT_MODULE.test(module.pathname)) return `import(${moduleUrl});\n`;
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (error) {
    throw new UnsupportedError(
      `Worker module ${module.href} is TypeScript, and loading it needs tsx (npm install tsx), which was not found: ` +
        `${messageOf(error)}. Or start the compiled .js module.`,
    );
  }
  return `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${moduleUrl}); });\n`;
}
