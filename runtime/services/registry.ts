/**
 * The running services of each thread, in start order, so that stopping a
 * runtime (or a worker thread) stops them first, the last started first,
 * while their buses still work. Keyed by the thread object: a thread that is
 * gone takes its entries with it.
 */

/** What the registry needs of a service. */
export interface Stoppable {
  stop(): Promise<void>;
}

const running = new WeakMap<object, Map<Stoppable, number>>();
/** Start order across threads of this realm. */
let started = 0;

/** Notes that `service` runs in `thread`. */
export function registerService(thread: object, service: Stoppable): void {
  let services = running.get(thread);
  if (services === undefined) running.set(thread, (services = new Map()));
  services.set(service, started++);
}

/** Forgets `service` (it stopped or failed). */
export function unregisterService(thread: object, service: Stoppable): void {
  running.get(thread)?.delete(service);
}

/**
 * Stops the running services of `threads`, one at a time, the last started
 * first. A service whose stop fails is left failed (it has said so itself);
 * the others still stop.
 */
export async function stopServices(threads: Iterable<object>): Promise<void> {
  const all: Array<[Stoppable, number]> = [];
  for (const thread of threads) all.push(...(running.get(thread) ?? []));
  all.sort((a, b) => b[1] - a[1]);
  for (const [service] of all) await service.stop().catch(() => undefined);
}
