/**
 * `npm run soak [-- --minutes 5 --rate 2000 --every 10]`: a steady run of 2
 * child processors × 2 worker threads under the sync policy. Every worker
 * thread posts `tick` events (a policy removes them after delivery) at a
 * fixed total rate; the stations let them go once their readers have read
 * them. Every `--every` seconds it prints the RSS of each process (the root
 * and both processors, worker threads included in their process) and each
 * station's history (events and bytes), so that a history that keeps growing
 * shows. `--max-bytes` bounds every history (default 64 MiB: where the memory
 * budget of each station plugs in once budgets exist).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRuntime, isBusError, type RemoteBus, type RemoteStation } from '../index.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2000' },
    every: { type: 'string', default: '10' },
    'max-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const everyS = Number(values.every);
const maxBytes = Number(values['max-bytes']);
for (const [name, value] of Object.entries({ minutes, rate, every: everyS, 'max-bytes': maxBytes })) {
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`soak: --${name} must be a positive number`);
    process.exit(2);
  }
}

const PROCESSORS = 2;
const THREADS = 2;
const TICK_MS = 50;

const runtime = createRuntime({
  processors: PROCESSORS,
  threadsPerProcessor: THREADS,
  callDeadlineMs: 30_000,
  sync: { everyMs: 20, maxBatch: 256 },
  memory: { policies: { tick: { removeAfterDelivery: true } }, limits: { maxBytes } },
});
await runtime.ready;

/** Resident set size of a process, in MiB (Linux). */
function rssMiB(pid: number | null): string {
  if (pid === null) return '-';
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? '-' : (Number(line.split(/\s+/)[1]) / 1024).toFixed(1);
  } catch {
    return '-';
  }
}

const producers: RemoteBus[] = [];
for (let p = 1; p <= PROCESSORS; p++) for (let t = 1; t <= THREADS; t++) producers.push(runtime.thread(p, t).bus('external') as RemoteBus);
let delivered = 0;
// One subscriber in a worker of each processor: the ticks are delivered there (and counted here).
const subscriptions = [1, 2].map((p) => (runtime.thread(p, 2).bus('external') as RemoteBus).subscribe('tick', () => void delivered++));

let posted = 0;
let refused = 0;
let sequence = 0;
const payload = 'x'.repeat(64);
const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000 / producers.length));
const timer = setInterval(() => {
  for (const bus of producers) {
    for (let i = 0; i < perTick; i++) {
      bus.post('tick', { n: sequence++, payload }).then(
        () => void posted++,
        (error: unknown) => {
          // A producer held back (BUS_FULL) drops this tick: the rate is fixed, the backlog is not ours to grow.
          if (isBusError(error, 'BUS_FULL')) refused++;
          else console.error('soak: post failed', error);
        },
      );
    }
  }
}, TICK_MS);

const started = Date.now();
const header = ['s', 'rss root', 'rss p1', 'rss p2', 'main ev/KiB', 'local0 ev/KiB', 'local1 ev/KiB', 'local2 ev/KiB', 'posted', 'delivered', 'refused'];
console.log(`soak: ${PROCESSORS} processors × ${THREADS} threads, ${perTick * producers.length * (1000 / TICK_MS)} ticks/s for ${minutes} min, maxBytes ${maxBytes} per history`);
console.log(header.join('\t'));
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
async function sample(): Promise<void> {
  const main = runtime.mainStation('external');
  const root = runtime.station('external');
  const locals = await Promise.all([1, 2].map((p) => (runtime.processor(p).station('external') as RemoteStation).state()));
  console.log(
    [
      ((Date.now() - started) / 1000).toFixed(0),
      rssMiB(process.pid),
      rssMiB(runtime.processor(1).pid),
      rssMiB(runtime.processor(2).pid),
      `${main.size}/${kib(main.bytes)}`,
      `${root.size}/${kib(root.bytes)}`,
      ...locals.map((state) => `${state.size}/${kib(state.bytes)}`),
      posted,
      delivered,
      refused,
    ].join('\t'),
  );
}
while (Date.now() - started < minutes * 60_000) {
  await new Promise((resolve) => setTimeout(resolve, everyS * 1000));
  await sample();
}
clearInterval(timer);
for (const subscription of subscriptions) subscription.unsubscribe();
await runtime.stop();
