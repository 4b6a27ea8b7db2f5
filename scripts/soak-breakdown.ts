/**
 * `npm run soak -- --breakdown`: what makes up each process's RSS. Every JS
 * thread of the run (root, processors, their worker threads) has
 * `soak-heap.cjs` preloaded, which writes its V8 heap statistics to a
 * directory every second (a worker's heap is visible from inside it alone);
 * this module reads them, with `/proc/<pid>/smaps` (anonymous and
 * file-backed memory, the journal's map) and the histories' own accounting
 * (`runtime.stats().memory`), and prints one line per process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MemoryStats } from '../index.js';

const HEAP_DIR_ENV = 'BUSLINE_SOAK_HEAP_DIR';

/**
 * Without the preload in place, runs this soak again with it in every
 * process and thread (`NODE_OPTIONS`, which child processors and worker
 * threads inherit) and exits with its status, passing on the signals that
 * stop it (so that the run is never left behind); with it, returns the
 * directory the threads write to.
 */
export async function heapDirOrRerun(): Promise<string> {
  const dir = process.env[HEAP_DIR_ENV];
  if (dir !== undefined) return dir;
  const created = mkdtempSync(join(tmpdir(), 'busline-soak-heap-'));
  const preload = fileURLToPath(new URL('./soak-heap.cjs', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [HEAP_DIR_ENV]: created, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require=${JSON.stringify(preload)}`.trim() },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  const status = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  rmSync(created, { recursive: true, force: true });
  process.exit(status);
}

/** What one isolate wrote (`soak-heap.cjs`). */
interface IsolateHeap {
  readonly pid: number;
  readonly threadId: number;
  readonly name: string;
  readonly heap: { total_heap_size: number; total_physical_size: number; used_heap_size: number; malloced_memory: number };
  readonly spaces: Record<string, { size: number; used: number; physical: number }>;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** A thread's file not written for this long is an exited thread's: not counted. */
const STALE_MS = 5_000;

function isolates(dir: string, pid: number): IsolateHeap[] {
  const found: IsolateHeap[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(`${pid}-`) || !name.endsWith('.json')) continue;
    try {
      const path = join(dir, name);
      if (now - statSync(path).mtimeMs > STALE_MS) continue;
      found.push(JSON.parse(readFileSync(path, 'utf8')) as IsolateHeap);
    } catch {
      // A thread that exited mid-write: its last file is gone or partial.
    }
  }
  return found.sort((a, b) => a.threadId - b.threadId);
}

/** Resident KiB of the process's mappings, by kind: anonymous, file-backed, the journal's (`data.mdb`). */
function smaps(pid: number): { anon: number; file: number; journal: number } {
  let anon = 0;
  let file = 0;
  let journal = 0;
  let path = '';
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    // A processor that exited or is restarting: nothing to read this time.
  }
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      path = line.split(/\s+/).slice(5).join(' ');
    } else if (line.startsWith('Rss:')) {
      const kib = Number(line.split(/\s+/)[1]);
      if (path.startsWith('/') && !path.startsWith('/memfd:')) {
        file += kib;
        if (path.endsWith('/data.mdb')) journal += kib;
      } else anon += kib;
    }
  }
  return { anon, file, journal };
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(0);

/**
 * One line for the process `pid` (`name`: root, p1, ...): its RSS split into
 * V8 heaps (physical, of which used; new space; old space; large objects;
 * code), array buffers, the rest of its anonymous memory (native: malloc,
 * stacks, lmdb's and snappy's buffers) and file-backed memory (the journal's
 * map among it), beside what its histories count (`memory()`: bytes, frame
 * bytes, compressed bytes, unsent bytes), all in MiB.
 */
export function breakdownLine(dir: string, name: string, pid: number, processor: number | 'root', memory: readonly MemoryStats[]): string {
  const heaps = isolates(dir, pid);
  const sum = (pick: (heap: IsolateHeap) => number) => heaps.reduce((total, heap) => total + pick(heap), 0);
  const space = (heap: IsolateHeap, spaceName: string, field: 'physical' | 'used') => heap.spaces[spaceName]?.[field] ?? 0;
  const physical = sum((h) => h.heap.total_physical_size);
  // A buffer one thread allocated and another holds (a transferred frame) is in the first's
  // arrayBuffers and the second's external: external, summed, counts each buffer held once.
  const external = sum((h) => h.external);
  const arrayBuffers = sum((h) => h.arrayBuffers);
  const malloced = sum((h) => h.heap.malloced_memory);
  const { anon, file, journal } = smaps(pid);
  const held = memory.filter((stats) => historyProcess(stats.history) === processor);
  const total = (pick: (stats: MemoryStats) => number) => held.reduce((sum, stats) => sum + pick(stats), 0);
  const perIsolate = heaps.map((h) => `${h.name.replace(/^processor \d+ /, '')}:${mib(h.heap.total_physical_size)}/${mib(h.heap.used_heap_size)}/${mib(h.external)}`).join(' ');
  return (
    `breakdown ${name}: anon ${mib(anon * 1024)} = v8 ${mib(physical)} (used ${mib(sum((h) => h.heap.used_heap_size))}; ` +
    `new ${mib(sum((h) => space(h, 'new_space', 'physical')))}, old ${mib(sum((h) => space(h, 'old_space', 'physical')))}/${mib(sum((h) => space(h, 'old_space', 'used')))} used, ` +
    `lo ${mib(sum((h) => space(h, 'large_object_space', 'physical')))}, code ${mib(sum((h) => space(h, 'code_space', 'physical')))}) ` +
    `+ external ${mib(external)} (array buffers allocated here ${mib(arrayBuffers)}) + v8 malloced ${mib(malloced)} + other ${mib(anon * 1024 - physical - external - malloced)}; ` +
    `file ${mib(file * 1024)} (journal ${mib(journal * 1024)}); ` +
    `histories ${held.length}: bytes ${mib(total((s) => s.bytes))}, frames ${mib(total((s) => s.frameBytes))}, ` +
    `compressed ${mib(total((s) => s.compressed.bytes))}, unsent ${mib(total((s) => s.unsent?.bytes ?? 0))}, budgets ${mib(total((s) => s.budget))}; ` +
    `isolates (name:physical/used/external) ${perIsolate}`
  );
}

/** Which process a history is in: `root` (the main stations, processor 0's) or a child processor's number. */
function historyProcess(history: string): number | 'root' {
  if (history.startsWith('station:main:')) return 'root';
  const station = /^station:local:(\d+)/.exec(history);
  if (station !== null) return station[1] === '0' ? 'root' : Number(station[1]);
  const bus = /^bus:(\d+)\./.exec(history);
  const processor = bus === null ? 0 : Number(bus[1]);
  return processor === 0 ? 'root' : processor;
}
