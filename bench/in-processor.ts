/**
 * The in-worker round-trip benchmark, run in a process that `threads.bench.ts`
 * forks with the flags of a runtime's processors: sends its rows back over IPC.
 */
import { dataPlaneRoundTrips, startRawWorker } from './threads.bench.js';

const raw = startRawWorker();
try {
  process.send!(await dataPlaneRoundTrips(raw, 'inProcessor'));
} finally {
  await raw.terminate();
  process.disconnect();
}
