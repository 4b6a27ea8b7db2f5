/**
 * The layout lint (`scripts/lint.mjs`, `npm run lint`): the repository has no
 * import cycle and no source module over 600 lines, and the lint does find
 * both in a fixture tree built to have them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { importCycles, importedSpecifiers, lint } from '../../scripts/lint.mjs';
import { runCommand } from '../helpers.js';

const FIXTURES = 'tests/scripts/fixtures/lint';

/** Runs the lint script with `args`; resolves with its exit code and output once it has exited. */
function runLint(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return runCommand(process.execPath, ['scripts/lint.mjs', ...args]);
}

const test = suite('lint');

test('lint - the repository: no import cycle, no source module over 600 lines', async () => {
  const { code, output } = await runLint([]);
  assert.is(code, 0, output);
  assert.match(output, /^lint: \d+ modules, 0 import cycles, 0 modules over 600 lines$/m);
});

test('lint - a fixture tree: each cycle as a chain of files, type-only and re-export imports included', () => {
  const result = lint(`${FIXTURES}/tangled`, { maxLines: 20 });
  assert.equal(result.cycles, [
    ['machines/bridge.machine.ts', 'schemas/codec.ts', 'runtime/bridge.ts', 'machines/bridge.machine.ts'],
    ['runtime/bus.ts', 'runtime/station.ts', 'runtime/bus.ts'],
  ]);
});

test('lint - a fixture tree: modules over the limit named with their length; generated code and tests left out', () => {
  const result = lint(`${FIXTURES}/tangled`, { maxLines: 20 });
  assert.equal(result.oversized, [{ module: 'runtime/long.ts', lines: 22 }]);
  assert.ok(!result.modules.some((module) => module.startsWith('schemas/generated/') || module.startsWith('tests/')), result.modules.join(', '));
  assert.ok(result.modules.includes('runtime/lazy.ts'));
});

test('lint - exit code 1 and one line per finding when there is something to fix, 0 when not', async () => {
  const tangled = await runLint([`${FIXTURES}/tangled`, '--max-lines', '20']);
  assert.is(tangled.code, 1, tangled.output);
  assert.equal(tangled.output.trimEnd().split('\n'), [
    'import cycle: machines/bridge.machine.ts → schemas/codec.ts → runtime/bridge.ts → machines/bridge.machine.ts',
    'import cycle: runtime/bus.ts → runtime/station.ts → runtime/bus.ts',
    'module too long: runtime/long.ts has 22 lines (at most 20)',
    'lint: 9 modules, 2 import cycles, 1 module over 20 lines',
  ]);
  const clean = await runLint([`${FIXTURES}/clean`]);
  assert.is(clean.code, 0, clean.output);
  assert.is(clean.output.trim(), 'lint: 3 modules, 0 import cycles, 0 modules over 600 lines');
});

test('importedSpecifiers - static imports and re-exports only: not import(), comments or strings', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "export { c } from './c.js';",
    "export * from './d.js';",
    "import 'node:fs';",
    "// import { e } from './e.js';",
    "const f = \"import './f.js'\";",
    "const g = import('./g.js');",
  ].join('\n');
  assert.equal(importedSpecifiers('x.ts', text), ['./a.js', './b.js', './c.js', './d.js']);
});

test('importCycles - every import on a cycle shows in some chain, each chain once', () => {
  // a → b → a and b → c → a share b → a; c → c imports itself; d is on none.
  const graph = new Map([
    ['a', ['b']],
    ['b', ['a', 'c']],
    ['c', ['a', 'c', 'd']],
    ['d', []],
  ]);
  assert.equal(importCycles(graph), [
    ['a', 'b', 'a'],
    ['a', 'b', 'c', 'a'],
    ['c', 'c'],
  ]);
});

test.run();
