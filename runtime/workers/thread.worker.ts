/**
 * A worker thread of a processor: its internal and external buses, linked to
 * the processor's stations by frames on the data port. Started by
 * `runtime/hosting/processor-threads.ts` through `runtime/hosting/worker-host.ts`.
 */
import { startThreadService, type ThreadServiceOptions } from '../thread/thread-service.js';
import { serveWorker } from '../hosting/serve-worker.js';
import type { WorkerContext } from '../hosting/worker-api.js';

async function createApi({ port, workerData }: WorkerContext) {
  // The runtime's middleware modules are loaded first: a module that cannot be loaded fails the start.
  const service = await startThreadService(port, workerData as ThreadServiceOptions);
  // A plain object of methods, as threads.js exposes it.
  return { ...service };
}

/** The control API of a thread worker. */
export type ThreadWorkerApi = Awaited<ReturnType<typeof createApi>>;

await serveWorker(createApi);
