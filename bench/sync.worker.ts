/**
 * A worker thread's buses for the cross-thread benchmark: the same
 * `createThreadService` over the data port that `runtime/workers/thread.worker.ts`
 * runs, so a `toStation()` takes the production path (bus → ChannelStationLink
 * → FrameChannel → encodeFrame → transferred frame → the processor's
 * stationServer → decodeFrame → Station.accept → Ack frame back).
 *
 * Two bench-only calls: `benchPost` posts events in the worker itself, because
 * posting through control calls would take longer than the sync it prepares;
 * `benchToStation` times `toStation()` where it runs, without the control call
 * that asked for it.
 */
import { createThreadService, unwrap, type ThreadServiceOptions } from '../runtime/thread-service.js';
import { serveWorker, type WorkerContext } from '../runtime/worker-host.js';

function createApi({ port, workerData }: WorkerContext) {
  const service = createThreadService(port, workerData as ThreadServiceOptions);
  return {
    ...service,
    /** Posts `count` small events on the external bus of `generation`, numbered from `first`. */
    async benchPost(generation: number, count: number, first: number): Promise<number> {
      for (let i = first; i < first + count; i++) {
        unwrap(await service.post('external', generation, i % 3 === 0 ? 'order.created' : 'user.login', { user: 'u1', n: i }));
      }
      return count;
    },
    /** `toStation()` on the external bus of `generation`: the new generation and how long it took here, in ns. */
    async benchToStation(generation: number): Promise<{ generation: number; ns: number }> {
      const start = process.hrtime.bigint();
      const next = unwrap(await service.toStation('external', generation));
      return { generation: next, ns: Number(process.hrtime.bigint() - start) };
    },
  };
}

/** The control API of the bench worker. */
export type SyncWorkerApi = ReturnType<typeof createApi>;

await serveWorker(createApi);
