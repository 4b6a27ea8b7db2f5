/**
 * `runtime.stop()` stops the user actors of the root's own threads, and
 * refuses a spawn whose module was still loading: an actor's timers (a
 * delayed transition) never keep the application's process up after
 * `stop()`. Each case runs as a process of its own (`stopped-actors-app.ts`),
 * which ends only if nothing was left running.
 */
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand } from '../../helpers.js';

const test = suite('spawn and stop');
const app = fileURLToPath(new URL('../fixtures/stopped-actors-app.ts', import.meta.url));

for (const [mode, what, spawn] of [
  ['spawned', 'an actor with a timer pending is stopped with its thread', 'spawned'],
  ['spawning', 'a spawn whose module loads until after stop() resolved is refused (RUNTIME_STOPPED), its actor never started', 'RUNTIME_STOPPED'],
] as const) {
  test(`stop - ${what}; the process ends by itself`, async () => {
    const run = await runCommand(process.execPath, ['--import', 'tsx', app, mode], { timeoutMs: 60_000 });
    assert.not.ok(run.timedOut, `${mode}: the process did not end on its own:\n${run.output}`);
    assert.is(run.code, 0, run.output);
    assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1)!), { spawn, running: false }, mode);
  });
}

test.run();
