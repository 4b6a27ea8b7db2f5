import { writeHeapSnapshot } from 'node:v8';
import { readFileSync } from 'node:fs';
import { encodeFrame } from './schemas/codec/index.js';
import { UNREAD_ENDPOINT, scanBatch } from './runtime/store/encoded-events.js';
import { EventHistory } from './runtime/store/history.js';
import type { BusEvent } from './types.js';
const N = Number(process.env.N ?? 20000);
const comp = (i: number) => ({ user: `user-${i % 500}`, action: 'login', ok: true, attempt: i % 7, region: 'eu-west-1' });
function events(): BusEvent[] {
  return Array.from({ length: N }, (_, i) => ({ id: `0.0.${i}`, type: i % 3 === 0 ? 'user.login' : 'user.logout', side: 'external', timestamp: 1_700_000_000_000 + i,
    origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload: comp(i) } as BusEvent));
}
const h = new EventHistory();
(globalThis as any).keep = h;
function fill() { const all = events(); for (let i = 0; i < N; i += 256) { const f = encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: all.slice(i, i + 256), queue: [] }); h.merge(scanBatch(f).history); } }
fill();
if (process.argv[2] === 'index') h.query({ types: ['user.login'] });
await new Promise((r) => setImmediate(r));
const file = writeHeapSnapshot('/tmp/i20c/h.heapsnapshot');
const snap = JSON.parse(readFileSync(file, 'utf8'));
const f = snap.snapshot.meta.node_fields; const nf = f.length; const types = snap.snapshot.meta.node_types[0];
const ti = f.indexOf('type'), ni = f.indexOf('name'), si = f.indexOf('self_size');
const agg = new Map<string, [number, number]>();
for (let i = 0; i < snap.nodes.length; i += nf) {
  const t = types[snap.nodes[i + ti]]; const name = t === 'object' || t === 'native' || t === 'closure' ? snap.strings[snap.nodes[i + ni]] : t;
  const a = agg.get(name) ?? [0, 0]; a[0]++; a[1] += snap.nodes[i + si]; agg.set(name, a);
}
for (const [k, [c, s]] of [...agg].sort((a, b) => b[1][1] - a[1][1]).slice(0, 25)) console.log(k.slice(0, 50).padEnd(52), c, s, s);
