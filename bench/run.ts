/** `npm run bench`: every benchmark, each as a ratio against a peer measured in the same run. */
import { codecRates } from './codec.bench.js';
import { postVersusEmit, stationMerge } from './core.bench.js';
import { report, reportLatency } from './harness.js';
import { crossThread } from './threads.bench.js';

console.log(`busline benchmarks — node ${process.version}, ${new Date().toISOString()}`);
console.log('medians of several rounds; peers run interleaved in the same process\n');
// The codec first: a pure CPU benchmark, measured before the others grow the heap.
report(codecRates());
report(await postVersusEmit());
report(await stationMerge());
const threads = await crossThread();
report(threads.rates);
reportLatency(threads.latencies);
for (const note of threads.notes) console.log(`  (${note})`);
