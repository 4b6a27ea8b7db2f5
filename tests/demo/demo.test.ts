/**
 * The README's "two commands": `npm start` must keep working. The test runs
 * the demo as `npm start -- --once` does (to its end, then exit) and checks
 * that it printed the inspector's URL, toured every step and left no process.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { runCommand } from '../helpers.js';

const test = suite('demo');
const root = fileURLToPath(new URL('../../', import.meta.url));

test('npm start -- --once - runs the tour with the inspector on, and exits 0 leaving no processor behind', async () => {
  const scripts = (JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.is(scripts.start, 'tsx demo/demo.ts');
  const run = await runCommand(process.execPath, ['--import', 'tsx', 'demo/demo.ts', '--once'], { cwd: root, group: true, timeoutMs: 120_000 });
  assert.is(run.timedOut, false, run.output);
  assert.is(run.code, 0, run.output);
  assert.match(run.stdout, /inspector: http:\/\/127\.0\.0\.1:\d+\/ — @statelyai\/inspect clients connect to ws:\/\/127\.0\.0\.1:\d+/);
  assert.match(run.stdout, /7\. where things are/);
  assert.not.match(run.stdout, /8\. live/, '--once does not stay live');
  assert.match(run.stdout, /processor processes left: 0/);
});

test.run();
