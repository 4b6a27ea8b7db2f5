/**
 * Where the runtime's own entries are: from the sources (these tests run under
 * tsx) the `.ts` files started through tsx. The compiled package's side (`.js`
 * entries, no tsx, a .ts module refused naming tsx) runs in
 * tests/package/consumer.test.ts, on the packed tarball.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBusError } from '../../../index.js';
import { entryExecArgv, FROM_SOURCE, runtimeEntry, tsxApi } from '../../../runtime/hosting/entries.js';

const test = suite('entries');

test('runtimeEntry - from the sources, the .ts entries beside the runtime, started with tsx', () => {
  assert.ok(FROM_SOURCE);
  for (const name of ['thread', 'processor'] as const) {
    const entry = runtimeEntry(name);
    assert.match(entry.pathname, new RegExp(`/runtime/workers/${name}\\.worker\\.ts$`));
    assert.ok(existsSync(fileURLToPath(entry)), entry.href);
  }
  const [flag, loader] = entryExecArgv();
  assert.is(flag, '--import');
  assert.match(loader ?? '', /\/tsx\//);
});

test('tsxApi - resolves tsx/esm/api; without tsx, UnsupportedError naming it and the module', () => {
  assert.match(tsxApi('file:///app/counter.machine.ts'), /tsx\/.*esm.*api/);
  const missing = (specifier: string): string => {
    throw new Error(`Cannot find package '${specifier}'`);
  };
  try {
    tsxApi('file:///app/counter.machine.ts', missing);
    assert.unreachable('tsx is missing');
  } catch (error) {
    assert.ok(isBusError(error, 'UNSUPPORTED'), String(error));
    assert.match((error as Error).message, 'file:///app/counter.machine.ts is TypeScript, and loading it needs tsx (npm install tsx)');
  }
});

test.run();
