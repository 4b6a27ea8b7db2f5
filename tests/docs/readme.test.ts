/**
 * Every runnable block of the README (```js and ```ts) runs here as a user
 * would run it, so the documentation cannot drift from the code: each is
 * written to a file of its own with `from 'busline'` pointing at this
 * repository's index.ts, run in a child process with tsx, and must exit 0,
 * print what its `// → ...` lines say (in order), and leave no process behind.
 * All of them are type-checked together against the sources.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { killProcess, processesOf } from '../../scripts/processes.mjs';
import { readmeSnippets, runCommand, type CommandRun, type ReadmeSnippet } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = join(ROOT, 'index.ts');
const TESTING = join(ROOT, 'testing.ts');
/** A snippet that has not ended by then has left something running (a worker, a timer, a child process). */
const SNIPPET_TIMEOUT_MS = 60_000;

const RUNNABLE = new Set(['js', 'ts']);
const snippets = readmeSnippets().filter((snippet) => RUNNABLE.has(snippet.lang));

/** A block whose first line is `// file: name.ts` is a module other snippets load by that name. */
function fileNameOf(snippet: ReadmeSnippet): string {
  const named = /^\/\/ file: (\S+)\s*$/.exec(snippet.code.split('\n')[0] ?? '');
  return named?.[1] ?? `snippet-${snippet.line}.ts`;
}

/**
 * What a snippet says it prints: each full-line `// → text` comment, in
 * order. `...` in the text stands for anything (an id, a timing).
 */
function expectedLines(code: string): RegExp[] {
  return code
    .split('\n')
    .map((line) => /^\s*\/\/ → (.*)$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined)
    .map((text) => new RegExp(`^${text.trim().split('...').map(escapeRegExp).join('.*')}$`));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The lines of `stdout` matching `expected`, in order; the first one missing is reported. */
function missingLine(stdout: string, expected: readonly RegExp[]): RegExp | undefined {
  const lines = stdout.split('\n').map((line) => line.trim());
  let at = 0;
  for (const pattern of expected) {
    while (at < lines.length && !pattern.test(lines[at]!)) at++;
    if (at === lines.length) return pattern;
    at++;
  }
  return undefined;
}

/** A temporary app directory: its modules resolve `xstate` and the rest from this repository's node_modules. */
const dir = mkdtempSync(join(tmpdir(), 'busline-readme-'));
writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
const indexUrl = pathToFileURL(INDEX).href;
const testingUrl = pathToFileURL(TESTING).href;
// Run from `dir` with busline at this repository's index.ts; type-checked as written, from `dir/typed`.
const typedDir = join(dir, 'typed');
mkdirSync(typedDir);
for (const snippet of snippets) {
  writeFileSync(join(dir, fileNameOf(snippet)), snippet.code.replaceAll(`from 'busline'`, `from '${indexUrl}'`).replaceAll(`from 'busline/testing'`, `from '${testingUrl}'`) + '\n');
  writeFileSync(join(typedDir, fileNameOf(snippet)), snippet.code + '\n');
}

interface Run extends CommandRun {
  readonly leftovers: readonly string[];
}

/** Runs one snippet file with tsx from the repository (so `--import tsx` resolves), in a process group of its own. */
async function runSnippet(file: string): Promise<Run> {
  const token = `busline-readme-${process.pid}-${file}`;
  const run = await runCommand(process.execPath, ['--import', 'tsx', join(dir, file)], {
    cwd: ROOT,
    group: true,
    env: { ...process.env, BUSLINE_README_TOKEN: token },
    timeoutMs: SNIPPET_TIMEOUT_MS,
  });
  // What outlived the snippet: its process group, or anything that inherited its token (a detached child).
  const left = processesOf({ group: run.pid!, token });
  for (const found of left) killProcess(found.pid);
  return { ...run, leftovers: left.map((found) => `${found.pid} ${found.command}`) };
}

const test = suite('README');

test('snippets - the Quick start is one js block that imports busline and ends by stopping the runtime', () => {
  const quickStart = readmeSnippets().filter((snippet) => snippet.heading === 'Quick start');
  assert.is(quickStart.length, 1, 'one block under "Quick start"');
  const [block] = quickStart;
  assert.is(block!.lang, 'js');
  assert.match(block!.code, /from 'busline';/);
  assert.ok(block!.code.trimEnd().endsWith('await runtime.stop();'), 'it ends with await runtime.stop()');
});

test('snippets - runnable blocks import only the public package, never a path inside the repository', () => {
  assert.ok(snippets.length >= 5, `found ${snippets.length} runnable blocks`);
  for (const snippet of snippets) {
    for (const [, from] of snippet.code.matchAll(/from '([^']+)'/g)) {
      // busline (and its testing entry), and the packages a user of it installs beside it (XState; @statelyai/inspect to watch it;
      // zod as one Standard Schema validator of payloads).
      assert.ok(['busline', 'busline/testing', 'xstate', '@statelyai/inspect', 'zod'].includes(from!), `README line ${snippet.line} imports '${from}'`);
    }
    assert.not.match(snippet.code, /\.\.\/shared/, `README line ${snippet.line} refers outside the repository`);
  }
});

test('expectedLines - full-line arrows in order, "..." matching anything', () => {
  const expected = expectedLines("a();\n// → got 1 ...\nb(); // → not this\n  // → x.y");
  assert.equal(expected.map(String), [String(/^got 1 .*$/), String(/^x\.y$/)]);
  assert.is(missingLine('noise\ngot 1 id 0.0.0\nx.y\n', expected), undefined);
  assert.is(missingLine('x.y\ngot 1 id\n', expected), expected[1]);
});

for (const snippet of snippets) {
  const file = fileNameOf(snippet);
  test(`run - README line ${snippet.line} (${snippet.heading}) exits 0, prints its // → lines, leaves nothing running`, async () => {
    const run = await runSnippet(file);
    const where = `README line ${snippet.line}, run as ${join(dir, file)}`;
    assert.not.ok(run.timedOut, `${where} did not end within ${SNIPPET_TIMEOUT_MS} ms:\n${run.stdout}\n${run.stderr}`);
    assert.is(run.code, 0, `${where} exited with ${run.code ?? run.signal}:\n${run.stdout}\n${run.stderr}`);
    assert.equal(run.leftovers, [], `${where} left processes running`);
    const missing = missingLine(run.stdout, expectedLines(snippet.code));
    assert.is(missing, undefined, `${where} did not print ${String(missing)} (in order); it printed:\n${run.stdout}`);
  });
}

test('types - every runnable block type-checks against the sources, as `busline`', () => {
  writeFileSync(
    join(typedDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noUncheckedIndexedAccess: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        skipLibCheck: true,
        noEmit: true,
        paths: { busline: [INDEX], 'busline/testing': [TESTING] },
      },
      include: ['*.ts'],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', typedDir], { encoding: 'utf8' });
  assert.is(tsc.status, 0, `tsc -p ${typedDir}:\n${tsc.stdout}${tsc.stderr}`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
