/**
 * Starts a processor's worker threads and attaches each to the processor's
 * stations: the worker's data port becomes a frame channel to them, its
 * threads.js API the thread's control plane.
 */
import type { BridgeDirection } from '../types.js';
import type { ThreadCaller } from './remote-bus.js';
import type { ThreadApi, ThreadServiceOptions } from './thread-service.js';
import { startWorker, type WorkerHandle } from './worker-host.js';
import type { ThreadWorkerApi } from './workers/thread.worker.js';
import type { MessagePortLike } from './frame-channel.js';

const THREAD_WORKER = new URL('./workers/thread.worker.ts', import.meta.url);

/** Where the started threads are attached. */
export interface ThreadAttacher {
  attachThread(processor: number, thread: number, port: MessagePortLike, call: ThreadCaller['call']): unknown;
}

/** Options of one processor's worker threads. */
export interface WorkerThreadOptions {
  readonly processor: number;
  /** Worker threads to start; they are threads 1..count (thread 0 is the processor's own). */
  readonly count: number;
  readonly deferred: 'idle' | 'manual';
  readonly bridge: BridgeDirection;
  readonly callDeadlineMs?: number;
}

/** Starts the workers and attaches them; resolves with their handles once all answer. */
export async function startWorkerThreads(
  attacher: ThreadAttacher,
  options: WorkerThreadOptions,
): Promise<Array<WorkerHandle<ThreadWorkerApi>>> {
  const started = await Promise.allSettled(
    Array.from({ length: options.count }, (_, i) => {
      const workerData: ThreadServiceOptions = {
        processor: options.processor,
        thread: i + 1,
        deferred: options.deferred,
        bridge: options.bridge,
      };
      return startWorker<ThreadWorkerApi>(THREAD_WORKER, {
        name: `processor ${options.processor} thread ${i + 1}`,
        workerData,
        ...(options.callDeadlineMs === undefined ? {} : { callDeadlineMs: options.callDeadlineMs }),
      });
    }),
  );
  const handles = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    // All or nothing: the workers that did start are stopped, so none is left running.
    await Promise.all(handles.map((handle) => handle.terminate()));
    throw failed.reason;
  }
  handles.forEach((handle, i) => {
    const call = ((method: keyof ThreadApi, ...args: unknown[]) =>
      (handle.call as (m: string, ...a: unknown[]) => Promise<unknown>)(method, ...args)) as ThreadCaller['call'];
    attacher.attachThread(options.processor, i + 1, handle.port, call);
  });
  return handles;
}
