/**
 * One side of the pipeline benchmark (`pipeline.bench.ts`) in a process of
 * its own, forked with `--expose-gc`: sends its CPU milliseconds back over IPC.
 */
import { pipelineRuns, type PipelineSide } from './pipeline.bench.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('pipeline-process.ts runs with --expose-gc');
process.send!(await pipelineRuns(process.argv[2] as PipelineSide, gc));
process.disconnect();
