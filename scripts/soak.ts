/**
 * `npm run soak [-- --minutes 5 --rate 2000 --every 10 --budget 64]`: a
 * steady run of 2 child processors × 2 worker threads under the sync policy.
 * Every worker thread posts, at a fixed total rate, `tick` events (a policy
 * removes them after delivery: the stations let them go once their readers
 * have read them) and as many `log` events (`--payload` bytes each, kept:
 * only the memory budget bounds them, by evicting the oldest). Every station
 * has a budget of `--budget` MiB and every bus one of `--bus-budget` MiB.
 * Every `--every` seconds it prints the RSS of each process (the root and
 * both processors, worker threads included in their process) and each
 * station's history (events and bytes); at the end, per process, the RSS
 * range after the warm-up (the first `--warmup` seconds), so that memory that
 * keeps growing shows. `--breakdown` adds, every sample, what makes up each
 * process's memory (`soak-breakdown.ts`: V8 heaps of every thread, array
 * buffers, native and file-backed memory, what its histories count).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRuntime, isBusError, type RemoteBus, type RemoteStation } from '../index.js';
import { breakdownLine, heapDirOrRerun } from './soak-breakdown.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2000' },
    every: { type: 'string', default: '10' },
    budget: { type: 'string', default: '64' },
    'bus-budget': { type: 'string', default: '16' },
    payload: { type: 'string', default: '512' },
    warmup: { type: 'string', default: '90' },
    breakdown: { type: 'boolean', default: false },
  },
});
const heapDir = values.breakdown ? await heapDirOrRerun() : undefined;
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const everyS = Number(values.every);
const budgetMiB = Number(values.budget);
const busBudgetMiB = Number(values['bus-budget']);
const payloadBytes = Number(values.payload);
const warmupS = Number(values.warmup);
for (const [name, value] of Object.entries({ minutes, rate, every: everyS, budget: budgetMiB, 'bus-budget': busBudgetMiB, payload: payloadBytes, warmup: warmupS })) {
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
  memory: {
    policies: { tick: { removeAfterDelivery: true }, log: { importance: 'low' } },
    budget: { stationBytes: budgetMiB * 1024 * 1024, busBytes: busBudgetMiB * 1024 * 1024 },
  },
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

/**
 * A processor's memory beyond its RSS: `anon/file` MiB (anonymous memory, and
 * file-backed pages — the journal's lmdb map among them — which the OS can
 * reclaim) and the size of its journal file (MiB), found among its mappings.
 */
function memoryDetail(pid: number | null): string {
  if (pid === null) return '-';
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => (Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) / 1024).toFixed(0);
    const journal = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((line) => line.endsWith('/data.mdb'));
    const file = journal === undefined ? '-' : (statSync(journal.slice(journal.indexOf('/'))).size / 1048576).toFixed(0);
    return `${field('RssAnon')}/${field('RssFile')}/${file}`;
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
/** Incompressible-ish text, a new one per event: what a log line costs. */
const logLine = (n: number) => `${n}:`.padEnd(payloadBytes, String(n % 997));
const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000 / producers.length));
const timer = setInterval(() => {
  for (const bus of producers) {
    for (let i = 0; i < perTick; i++) {
      for (const post of [bus.post('tick', { n: sequence, payload }), bus.post('log', { n: sequence, line: logLine(sequence) })]) {
        post.then(
          () => void posted++,
          (error: unknown) => {
            // A producer held back (BUS_FULL) drops this event: the rate is fixed, the backlog is not ours to grow.
            if (isBusError(error, 'BUS_FULL')) refused++;
            else console.error('soak: post failed', error);
          },
        );
      }
      sequence++;
    }
  }
}, TICK_MS);

const started = Date.now();
const header = ['s', 'rss root', 'rss p1', 'rss p2', 'p1 anon/file/journal', 'p2 anon/file/journal', 'main ev/KiB', 'local0 ev/KiB', 'local1 ev/KiB', 'local2 ev/KiB', 'posted', 'delivered', 'refused'];
console.log(
  `soak: ${PROCESSORS} processors × ${THREADS} threads, ${perTick * producers.length * (1000 / TICK_MS)} ticks/s and as many ${payloadBytes} B logs/s ` +
    `for ${minutes} min, budget ${budgetMiB} MiB per station and ${busBudgetMiB} MiB per bus`,
);
console.log(header.join('\t'));
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
/** RSS samples after the warm-up, by process. */
const steady: Record<'root' | 'p1' | 'p2', number[]> = { root: [], p1: [], p2: [] };
async function sample(): Promise<void> {
  const main = runtime.mainStation('external');
  const root = runtime.station('external');
  const locals = await Promise.all([1, 2].map((p) => (runtime.processor(p).station('external') as RemoteStation).state()));
  const seconds = (Date.now() - started) / 1000;
  const rss = { root: rssMiB(process.pid), p1: rssMiB(runtime.processor(1).pid), p2: rssMiB(runtime.processor(2).pid) };
  if (seconds >= warmupS) for (const [name, value] of Object.entries(rss)) if (value !== '-') steady[name as keyof typeof steady].push(Number(value));
  console.log(
    [
      seconds.toFixed(0),
      rss.root,
      rss.p1,
      rss.p2,
      memoryDetail(runtime.processor(1).pid),
      memoryDetail(runtime.processor(2).pid),
      `${main.size}/${kib(main.bytes)}`,
      `${root.size}/${kib(root.bytes)}`,
      ...locals.map((state) => `${state.size}/${kib(state.bytes)}`),
      posted,
      delivered,
      refused,
    ].join('\t'),
  );
  if (heapDir === undefined) return;
  const memory = (await runtime.stats())?.memory ?? [];
  const processes: [string, number | null, number | 'root'][] = [['root', process.pid, 'root'], ['p1', runtime.processor(1).pid, 1], ['p2', runtime.processor(2).pid, 2]];
  for (const [name, pid, processor] of processes) if (pid !== null) console.log(breakdownLine(heapDir, name, pid, processor, memory));
}
while (Date.now() - started < minutes * 60_000) {
  await new Promise((resolve) => setTimeout(resolve, everyS * 1000));
  await sample();
}
clearInterval(timer);
for (const [name, values] of Object.entries(steady)) {
  if (values.length === 0) continue;
  const low = Math.min(...values);
  const high = Math.max(...values);
  console.log(`soak: rss ${name} after ${warmupS} s: ${low.toFixed(1)}–${high.toFixed(1)} MiB (range ${(high - low).toFixed(1)} MiB, last ${values.at(-1)!.toFixed(1)})`);
}
for (const subscription of subscriptions) subscription.unsubscribe();
await runtime.stop();
