/**
 * The worker side of `startWorker()`: a worker module serves its API with
 * `serveWorker()`. Calls arrive through threads.js; frames through the data
 * port the host handed over in the envelope.
 */
import { isMainThread, workerData as rawWorkerData } from 'node:worker_threads';
import { InvalidOptionError, UnsupportedError } from '../../errors.js';
import { assertFunction, describe } from '../validate.js';
import { loadThreadsWorker } from './threads-js.js';
import { isEnvelope, type WorkerApi, type WorkerContext } from './worker-api.js';

/**
 * Serves a worker module's API to its host. Call it once, at the top level of
 * a module started with `startWorker()`; `createApi` gets the data port and
 * the `workerData`, and returns the methods the host may `call()`.
 *
 * An uncaught exception or an unhandled rejection ends the worker (Node's
 * default; threads.js would otherwise swallow them and leave the host's calls
 * pending), and the host sees `exited.reason === 'error'`.
 *
 * @example
 * // echo.worker.ts
 * function createApi({ port }: WorkerContext) {
 *   port.on('message', (frame: Uint8Array) => port.postMessage(frame, [frame.buffer]))
 *   return { add: (a: number, b: number) => a + b }
 * }
 * export type EchoApi = ReturnType<typeof createApi>
 * await serveWorker(createApi)
 */
export async function serveWorker<Api extends WorkerApi>(
  createApi: (context: WorkerContext) => Api | Promise<Api>,
): Promise<void> {
  assertFunction(createApi, 'serveWorker(createApi)');
  const envelope: unknown = rawWorkerData;
  if (isMainThread || !isEnvelope(envelope)) {
    throw new UnsupportedError(
      'serveWorker() serves a worker module started with startWorker(); it cannot run on the main thread ' +
        'or in a worker started any other way.',
    );
  }
  const threads = loadThreadsWorker();
  const api: unknown = await createApi({ name: envelope.name, port: envelope.port, workerData: envelope.workerData });
  if (typeof api !== 'object' || api === null || Array.isArray(api)) {
    throw new InvalidOptionError('serveWorker(createApi)', `createApi must return an object of methods, got ${describe(api)}.`);
  }
  if ('then' in api) {
    // The host receives the API as an object from an async function; a `then` would make it a thenable.
    throw new InvalidOptionError('serveWorker(createApi)', 'the API cannot have a method named "then".');
  }
  threads.expose(api as Record<string, unknown>);
}
