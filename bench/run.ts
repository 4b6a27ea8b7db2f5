/**
 * `npm run bench`: every benchmark, each as a ratio against a peer measured in
 * the same run, printed and written into docs/PERFORMANCE.md (between each
 * group's markers). `npm run bench -- threads` (or `codec`, `core`, `memory`, `request`) runs one
 * group and rewrites only its table. The memory group forces
 * garbage collections (`--expose-gc`, set at run time) to weigh what histories hold.
 */
import { codecRates } from './codec.bench.js';
import { postVersusEmit, stationMerge } from './core.bench.js';
import { report, reportLatency } from './harness.js';
import { writeGroup } from './performance-doc.js';
import { crossThread } from './threads.bench.js';
import { inspectionOverhead } from './inspection.bench.js';
import { pipelineVersusEmit } from './pipeline.bench.js';
import { requestLatency } from './request.bench.js';
import { budgetThroughput } from './budget-throughput.js';
import { storedBytes } from './memory.bench.js';

const GROUPS = ['codec', 'core', 'memory', 'threads', 'request'] as const;
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(GROUPS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`Unknown benchmark group ${unknown.join(', ')}; the groups are ${GROUPS.join(', ')}.`);
  process.exit(2);
}
const runs = (group: (typeof GROUPS)[number]) => asked.length === 0 || asked.includes(group);

console.log(`busline benchmarks — node ${process.version}, ${new Date().toISOString()}`);
console.log('medians of several rounds; peers run interleaved in the same process\n');
// The codec first: a pure CPU benchmark, measured before the others grow the heap.
if (runs('codec')) {
  const rates = codecRates();
  report(rates);
  writeGroup('codec', { rates });
}
if (runs('core')) {
  const post = await postVersusEmit();
  report(post);
  const merge = await stationMerge();
  report(merge);
  const inspection = await inspectionOverhead();
  report(inspection.rates);
  for (const note of inspection.notes) console.log(`  (${note})`);
  const pipeline = await pipelineVersusEmit();
  report(pipeline.rates);
  reportLatency(pipeline.latencies);
  for (const note of pipeline.notes) console.log(`  (${note})`);
  writeGroup('core', {
    rates: [...post, ...merge, ...inspection.rates, ...pipeline.rates],
    latencies: pipeline.latencies,
    notes: [...inspection.notes, ...pipeline.notes],
  });
}
if (runs('memory')) {
  const notes = await storedBytes();
  for (const note of notes) console.log(`  ${note}`);
  const budget = await budgetThroughput();
  const rates = budget.rates;
  report(rates);
  for (const note of budget.notes) console.log(`  (${note})`);
  writeGroup('memory', { rates, notes: [...notes, ...budget.notes] });
}
if (runs('threads')) {
  const threads = await crossThread();
  report(threads.rates);
  reportLatency(threads.latencies);
  for (const note of threads.notes) console.log(`  (${note})`);
  writeGroup('threads', threads);
}
if (runs('request')) {
  const request = await requestLatency();
  reportLatency(request.latencies ?? []);
  for (const note of request.notes ?? []) console.log(`  (${note})`);
  writeGroup('request', request);
}
console.log('\nwritten to docs/PERFORMANCE.md');
