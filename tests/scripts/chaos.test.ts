/**
 * The chaos script (`npm run chaos`, scripts/chaos.ts), small and seeded:
 * two runs whose plans kill a processor at a sync and again right after its
 * restart, and workers that hang, run out of memory and exit. The verdict
 * rests on what the runs found (nothing accepted lost or twice, no id
 * shared, no process left, every thread back, nothing stuck, no error in this
 * process), not on when the kills landed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { planRun } from '../../scripts/chaos/plan.js';
import { describeRun, emptyReport, runPassed, summarize, type RunReport } from '../../scripts/chaos/report.js';
import { runChaos } from '../../scripts/chaos/run.js';

/** Seeds 12 and 13: processor-sigkill@sync 1, worker-hang@handover 2.1, worker-oom@handover 1.2; worker-exit@sync 0.1, processor-sigkill@restart 2. */
const SEED = 12;
const KILLS: readonly [number, number] = [2, 3];

const test = suite('chaos');

test('planRun - a seed gives one plan (what `--seed S --runs 1` replays); the seeds here kill processors and workers', () => {
  assert.equal(planRun(SEED, KILLS), planRun(SEED, KILLS));
  assert.not.equal(planRun(SEED, KILLS), planRun(SEED + 1, KILLS));
  const kills = [planRun(SEED, KILLS), planRun(SEED + 1, KILLS)].flatMap((plan) => plan.kills.map((kill) => `${kill.kind}@${kill.point}`));
  assert.equal(kills, [
    'processor-sigkill@sync',
    'worker-hang@handover',
    'worker-oom@handover',
    'worker-exit@sync',
    'processor-sigkill@restart',
  ]);
});

test('describeRun - a runtime whose ready rejected fails the run as "did not start", told apart from "stuck"', () => {
  const report: RunReport = emptyReport(1, KILLS);
  assert.ok(runPassed(report));
  report.notStarted.push('runtime.ready rejected after 121.0 s: WorkerCrashedError: processor 2 did not start within 120000 ms');
  assert.not.ok(runPassed(report));
  assert.match(describeRun(report), /FAILED[\s\S]*did not start: runtime\.ready rejected after 121\.0 s/);
  assert.not.match(describeRun(report), /stuck:/);
  assert.match(summarize([report]), /stuck: 0\ndid not start: 1 \(runtime\.ready rejected\)/);
});

test('runChaos - 2 seeded runs: every accepted event once in its local and the main station, ids unique, no process left, every thread healthy again', async () => {
  const reports = await runChaos({ runs: 2, seed: SEED, kills: KILLS });
  const text = `${reports.map(describeRun).join('\n')}\n${summarize(reports)}`;
  assert.is(reports.length, 2);
  assert.ok(reports.every((report) => report.accepted > 0), `every run accepted events\n${text}`);
  assert.ok(reports.some((report) => report.kills.some((kill) => kill.done && kill.kind === 'processor-sigkill')), `a processor was killed\n${text}`);
  for (const report of reports) {
    assert.equal(report.rootErrors, [], `errors in the root process\n${text}`);
    assert.equal(report.collateral, [], `processors that died of something else than the SIGKILL\n${text}`);
    assert.equal(report.stuck, [], `stuck\n${text}`);
    assert.equal(report.notStarted, [], `the runtime did not start\n${text}`);
    assert.equal(report.unhealthy, [], `unhealthy\n${text}`);
    assert.equal(report.lostMain, [], `lost from the main station\n${text}`);
    assert.equal(report.lostLocal, [], `lost from a local station\n${text}`);
    assert.equal(report.duplicated, [], `duplicated\n${text}`);
    assert.equal(report.idCollisions, [], `ids shared\n${text}`);
    assert.equal(report.leftover, [], `processes left over\n${text}`);
  }
});

test.run();
