/**
 * One side of the budget benchmark (`budget-throughput.ts`) in a process of
 * its own, forked with `--expose-gc`: sends its CPU milliseconds back over IPC
 * (the `compressed` side with what compression did, `budgetRuns`).
 */
import { budgetRuns, type BudgetSide } from './budget-throughput.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('budget-process.ts runs with --expose-gc');
process.send!(await budgetRuns(process.argv[2] as BudgetSide, gc));
process.disconnect();
