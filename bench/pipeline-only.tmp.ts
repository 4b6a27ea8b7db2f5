import { pipelineVersusEmit } from './pipeline.bench.js';
import { report, reportLatency } from './harness.js';
const r = await pipelineVersusEmit();
report(r.rates); reportLatency(r.latencies);
