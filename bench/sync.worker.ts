/**
 * A worker thread's buses for the cross-thread benchmark: the same
 * `createThreadService` over the data port that `runtime/workers/thread.worker.ts`
 * runs, so a `toStation()` takes the production path (bus → ChannelStationLink
 * → FrameChannel → encodeFrame → transferred frame → the processor's
 * stationServer → decodeFrame → Station.accept → Ack frame back).
 *
 * Bench-only calls: `benchPost` posts events in the worker itself, because
 * posting through control calls would take longer than the sync it prepares;
 * `benchToStation` and `benchFromStation` time the calls where they run,
 * without the control call that asked for them.
 */
import { createThreadService, unwrap, type ThreadServiceOptions } from '../runtime/thread/thread-service.js';
import type { Thread } from '../runtime/thread/thread.js';
import { serveWorker } from '../runtime/hosting/serve-worker.js';
import type { WorkerContext } from '../runtime/hosting/worker-api.js';

function createApi({ port, workerData }: WorkerContext) {
  let thread: Thread | undefined;
  /** What benchKeepFloor keeps, until its next call. */
  let kept: unknown[] = [];
  const service = createThreadService(port, workerData as ThreadServiceOptions, (started) => (thread = started));
  const externalBus = () => thread!.bus('external');
  return {
    ...service,
    /** Posts `count` small events on the external bus, numbered from `first`. */
    benchPost(count: number, first: number): number {
      const bus = externalBus();
      for (let i = first; i < first + count; i++) bus.post(i % 3 === 0 ? 'order.created' : 'user.login', { user: 'u1', n: i });
      return count;
    },
    /**
     * A producer under the automatic sync policy: posts `count` events in
     * chunks of `chunk`, letting the event loop turn between chunks (where the
     * policy's syncs run, one at a time, each taking what was posted since).
     */
    async benchStream(count: number, chunk: number, first: number): Promise<number> {
      for (let done = 0; done < count; done += chunk) {
        const bus = externalBus();
        // A well-behaved producer: it waits for room when its station lags (sync.maxUnsent).
        await bus.room();
        for (let i = first + done; i < first + Math.min(count, done + chunk); i++) bus.post('stream.item', { user: 'u1', n: i });
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return count;
    },
    /**
     * The floor of any post, in this worker: creates `count` event objects as
     * `post()` stamps them (id string, timestamp, shared origin, payload) and
     * keeps them, as a history must. Returns the ns it took; they are dropped
     * at the next call.
     */
    benchKeepFloor(count: number, first: number): number {
      const origin = { processor: 0, thread: 1, generation: 0 };
      kept = [];
      const start = process.hrtime.bigint();
      for (let i = first; i < first + count; i++) {
        kept.push({
          id: `0.1.${i}`,
          type: 'stream.item',
          side: 'external',
          timestamp: Date.now(),
          origin,
          priority: 'normal',
          payload: { user: 'u1', n: i },
        });
      }
      return Number(process.hrtime.bigint() - start);
    },
    /** `count` fromStation()s on the external bus, one after another: each one's time here, in ns. */
    async benchFromStation(count: number): Promise<number[]> {
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const start = process.hrtime.bigint();
        await externalBus().fromStation();
        times.push(Number(process.hrtime.bigint() - start));
      }
      return times;
    },
    /** One `fromStation()` on the external bus: how long it took here (ns) and how many events it brought. */
    async benchRead(): Promise<{ ns: number; added: number }> {
      const start = process.hrtime.bigint();
      const { added } = await externalBus().fromStation();
      return { ns: Number(process.hrtime.bigint() - start), added: added.length };
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
