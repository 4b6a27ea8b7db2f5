/** Runs test files the inspector generated, as a user would (`node --test`), `busline/testing` pointing at this repository's. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const testingUrl = new URL('../../testing.ts', import.meta.url).href;
let dir: string | undefined;

export function runGenerated(source: string, name: string): { code: number | null; output: string } {
  if (dir === undefined) {
    const made = (dir = mkdtempSync(join(tmpdir(), 'busline-generated-')));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  const path = join(dir, name);
  writeFileSync(path, source.replaceAll(`from 'busline/testing'`, `from '${testingUrl}'`));
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', path], { encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, output: run.stdout + run.stderr };
}
