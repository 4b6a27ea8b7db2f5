/**
 * The package as a user gets it: `npm pack` (which builds `dist/`), installed
 * into a fresh app outside the repository, then run with plain `node` (no tsx,
 * no loader) and type-checked by a strict TypeScript consumer. One pack and
 * one install for the whole file; the cases share them.
 *
 * The install prefers the machine's npm cache and reaches the registry only
 * for what is not cached (a fresh CI machine).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readmeSnippets, runCommand, type CommandRun } from '../helpers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
/** Pack builds with tsc and install may download: generous, but well inside the runner's 180 s per file. */
const STEP_TIMEOUT_MS = 90_000;

type Run = CommandRun;

/** Runs a command to its end (killing it after `STEP_TIMEOUT_MS`); never rejects on a non-zero exit. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return runCommand(command, args, { cwd, env, timeoutMs: STEP_TIMEOUT_MS });
}

const show = (result: Run) => `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

/** Plain node: no loader flags from the environment either. */
const PLAIN_ENV: NodeJS.ProcessEnv = { ...process.env };
delete PLAIN_ENV.NODE_OPTIONS;

/** Runs `file` of the app with plain `node` and parses the JSON line it prints last. */
async function runApp(file: string): Promise<Record<string, unknown>> {
  const result = await run(process.execPath, [file], app, PLAIN_ENV);
  assert.is(result.code, 0, show(result));
  const last = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

interface PackedFile {
  readonly path: string;
}

let packDir: string;
let app: string;
let packed: readonly PackedFile[];

const test = suite('package');

test.before(async () => {
  packDir = mkdtempSync(join(tmpdir(), 'busline-pack-'));
  app = mkdtempSync(join(tmpdir(), 'busline-consumer-'));
  // `prepack` builds dist/ first: the tarball is what `npm publish` would send.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', packDir], REPO);
  assert.is(pack.code, 0, show(pack));
  // Lifecycle scripts may print before the JSON: it is the array that starts a line.
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as [{ filename: string; files: PackedFile[] }];
  packed = info.files;

  const typesNode = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> })
    .devDependencies['@types/node'];
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'busline-consumer', private: true, type: 'module' }));
  const install = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', join(packDir, info.filename), `@types/node@${typesNode}`],
    app,
  );
  assert.is(install.code, 0, show(install));
  for (const file of ['threads-app.mjs', 'no-tsx-app.mjs', 'counter.machine.js', 'consumer.ts', 'tsconfig.json']) {
    copyFileSync(join(FIXTURES, file), join(app, file));
  }
});

test.after(() => {
  for (const dir of [packDir, app]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('tarball - dist, README, LICENSE and CHANGELOG; no sources, tests, bench, demo, scripts, fixtures or CI', () => {
  const paths = packed.map((file) => file.path);
  for (const expected of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/internal.js',
    'dist/internal.d.ts',
    'dist/testing.js',
    'dist/testing.d.ts',
    'dist/inspector/cli.js',
    'dist/runtime/workers/thread.worker.js',
    'dist/runtime/workers/processor.worker.js',
    'dist/inspector/page/index.html',
    'dist/inspector/page/app.js',
    'dist/inspector/page/chart.js',
    'dist/inspector/page/session.js',
    'dist/inspector/page/style.css',
  ]) {
    assert.ok(paths.includes(expected), `${expected} missing from ${paths.join(', ')}`);
  }
  const unwanted = paths.filter(
    (path) =>
      /^(tests|bench|demo|scripts|examples|docs|\.ci|node_modules)\//.test(path) ||
      /(^|\/)fixtures\//.test(path) ||
      (/\.ts$/.test(path) && !/\.d\.ts$/.test(path)) ||
      /tsconfig\.json$/.test(path) ||
      /\.test\./.test(path),
  );
  assert.equal(unwanted, []);
});

test('quick start - the README snippet runs on plain node', async () => {
  const quickStart = readmeSnippets().find((snippet) => snippet.heading === 'Quick start' && snippet.lang === 'js');
  assert.ok(quickStart !== undefined, 'README.md has no ```js block under "Quick start"');
  writeFileSync(join(app, 'quick-start.mjs'), quickStart.code);
  const result = await run(process.execPath, ['quick-start.mjs'], app, PLAIN_ENV);
  assert.is(result.code, 0, `README.md line ${quickStart.line}: ${show(result)}`);
});

test('require - a CommonJS app requires busline and busline/testing where Node can require() ES modules, as the README says; ERR_REQUIRE_ESM elsewhere', async () => {
  writeFileSync(
    join(app, 'require-app.cjs'),
    `let busline;
try {
  busline = require('busline');
} catch (error) {
  console.log(JSON.stringify({ required: false, code: error.code }));
  process.exit(0);
}
const { readRecording } = require('busline/testing');
(async () => {
  const runtime = busline.createRuntime({ threadsPerProcessor: 1 });
  await runtime.ready;
  const posted = await runtime.thread(0, 1).bus('external').post('order.created', { id: 1 });
  await runtime.stop();
  console.log(JSON.stringify({ required: true, origin: posted.origin, testing: typeof readRecording }));
})();
`,
  );
  const seen = await runApp('require-app.cjs');
  if (process.features.require_module === true) {
    assert.equal(seen, { required: true, origin: { processor: 0, thread: 1, generation: 0 }, testing: 'function' });
  } else {
    assert.equal(seen, { required: false, code: 'ERR_REQUIRE_ESM' });
  }
});

test('threads - a worker of a child processor posts, the root reads it; a .js machine runs in that worker', async () => {
  const seen = (await runApp('threads-app.mjs')) as {
    version: string;
    posted: { id: string; origin: unknown };
    delivered: { id: string; payload: unknown }[];
    actor: unknown;
    emitted: unknown[];
  };
  assert.is(seen.version, '0.1.0', 'busline/package.json is exported');
  assert.equal(seen.posted.origin, { processor: 1, thread: 1, generation: 0 });
  assert.equal(
    seen.delivered.map((event) => [event.id, event.payload]),
    [[seen.posted.id, { from: 'worker' }]],
  );
  assert.equal(seen.actor, { processor: 1, thread: 1, state: 'full' });
  assert.equal(seen.emitted, [{ orders: 2 }]);
});

test('inspector - the installed package serves its page and the page\'s modules, offline', async () => {
  writeFileSync(
    join(app, 'inspector-app.mjs'),
    `import { createRuntime } from 'busline';
const runtime = createRuntime();
const url = await runtime.inspect();
const get = async (path) => { const response = await fetch(new URL(path, url)); return { status: response.status, text: await response.text() }; };
const [page, chart, session] = [await get('/'), await get('/chart.js'), await get('/session.js')];
await runtime.stop();
console.log(JSON.stringify({ page, chart: chart.status, session: session.status }));
`,
  );
  const seen = (await runApp('inspector-app.mjs')) as { page: { status: number; text: string }; chart: number; session: number };
  assert.is(seen.page.status, 200);
  assert.match(seen.page.text, /<script type="module" src="app.js">/);
  assert.is(seen.chart, 200);
  assert.is(seen.session, 200);
});

test('tsx - without it (an optional peer), a TypeScript module is refused naming tsx, in the root and in a processor', async () => {
  // The user's .ts machine: refused before anything reads it.
  copyFileSync(join(FIXTURES, 'counter.machine.js'), join(app, 'counter.machine.ts'));
  const seen = (await runApp('no-tsx-app.mjs')) as Record<string, { name: string; code: string; message: string } | boolean>;
  assert.is(seen.tsxFound, false, 'the app must not find tsx for this case');
  for (const where of ['root', 'processor', 'worker']) {
    const error = seen[where] as { name: string; code: string; message: string };
    assert.is(error.code, 'UNSUPPORTED', `${where}: ${JSON.stringify(error)}`);
    assert.is(error.name, 'UnsupportedError', where);
    assert.match(error.message, /needs tsx \(npm install tsx\)/, where);
  }
});

test('bin - `busline inspect` runs on plain node from the installed package, and refuses a file that is not a recording', async () => {
  writeFileSync(join(app, 'not-a-recording.blrec'), 'hello\n'.repeat(8));
  const result = await run(join(app, 'node_modules/.bin/busline'), ['inspect', 'not-a-recording.blrec'], app, PLAIN_ENV);
  assert.is(result.code, 1, show(result));
  assert.match(result.stderr, /cannot read not-a-recording\.blrec: FRAME_CORRUPT: Frame refused \(BAD_MAGIC\)/);
});

test('types - a strict consumer (nodenext, exactOptionalPropertyTypes, noUnusedLocals, no skipLibCheck) type-checks', async () => {
  const result = await run(process.execPath, [TSC, '-p', '.', '--listFiles'], app);
  assert.is(result.code, 0, show(result));
  const files = result.stdout.split('\n');
  assert.ok(files.some((file) => file.endsWith('node_modules/busline/dist/index.d.ts')), 'busline resolves to dist/');
  assert.ok(files.some((file) => file.endsWith('node_modules/busline/dist/testing.d.ts')), 'busline/testing resolves to dist/');
  // What the published types must not reach: native and unmaintained dependencies' types, generated code.
  const leaked = files.filter((file) => /node_modules\/(lmdb|threads)\/|\/schemas\/generated\//.test(file));
  assert.equal(leaked, []);
});

test.run();
