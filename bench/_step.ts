// Longest single step (post: admit, insert, settle; station: merge a 256-event frame, settle) while a history fills to its budget and evicts.
// Usage: node --import tsx step.ts <repo> <bus|station> <MiB>
import { performance } from 'node:perf_hooks';
const [repo, kind, mib] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 32)];
const { Retention } = await import(`${repo}/runtime/store/retention.ts`);
const { MemoryPolicies, checkMemoryOptions } = await import(`${repo}/runtime/store/memory-policy.ts`);
const { eventBatchOf } = await import(`${repo}/runtime/store/encoded-events.ts`);
const { encodeFrame, scanFrame } = await import(`${repo}/schemas/codec/index.ts`);
const budget = mib * 1024 * 1024;
const options = checkMemoryOptions({ budget: kind === 'bus' ? { busBytes: budget } : { stationBytes: budget } });
const retention = new Retention(new MemoryPolicies(options), () => 0, { kind, name: 'bench' });
const origin = { processor: 0, thread: 1, generation: 0 };
const from = { ...origin, side: 'external' };
let n = 0;
const event = () => { n++; return { id: `0.1.${n}`, type: n % 3 ? 'log' : 'audit', side: 'external', timestamp: 1_000 + n, origin, priority: 'normal', payload: { n, text: 'a line of a log, again' } }; };
let longest = 0;
let longestAt = 0;
let firstEviction = -1;
let evictions = 0;
let laterEviction = 0;
const total = Math.ceil((budget * 1.6) / 100);
const t0 = performance.now();
if (kind === 'bus') {
  for (let i = 0; i < total; i++) {
    const e = event();
    const start = process.cpuUsage();
    retention.admitPost(e);
    retention.history.insert(e);
    const gone = retention.settle();
    const used = process.cpuUsage(start); const ms = (used.user + used.system) / 1000;
    if (gone.length > 0) { evictions++; if (firstEviction < 0) firstEviction = ms; else laterEviction = Math.max(laterEviction, ms); }
    if (ms > longest) [longest, longestAt] = [ms, i];
  }
} else {
  for (let i = 0; i < total; i += 256) {
    const batch = Array.from({ length: 256 }, event);
    const scanned = scanFrame(encodeFrame({ kind: 'batch', seq: i, from, history: batch, queue: [] }));
    const places = eventBatchOf(scanned).history;
    const start = process.cpuUsage();
    retention.history.merge(places);
    const gone = retention.settle();
    const used = process.cpuUsage(start); const ms = (used.user + used.system) / 1000;
    if (gone.length > 0) { evictions++; if (firstEviction < 0) firstEviction = ms; else laterEviction = Math.max(laterEviction, ms); }
    if (ms > longest) [longest, longestAt] = [ms, i];
  }
}
const stats = retention.memoryStats();
console.log(JSON.stringify({ kind, mib, events: n, held: retention.history.size, bytes: stats.bytes, evictions, firstEvictionMs: +firstEviction.toFixed(2), laterEvictionMs: +laterEviction.toFixed(2), longestMs: +longest.toFixed(2), longestAt, totalMs: Math.round(performance.now() - t0) }));
