/** `npm run bench`: every benchmark, each as a ratio against a peer measured in the same run. */
import { postVersusEmit, stationMerge } from './core.bench.js';
import { report } from './harness.js';

console.log(`busline benchmarks — node ${process.version}, ${new Date().toISOString()}`);
console.log('medians of 7 rounds; peers run interleaved in the same process\n');
report(await postVersusEmit());
report(await stationMerge());
