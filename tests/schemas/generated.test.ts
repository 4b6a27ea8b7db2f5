import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../../', import.meta.url));
const committedDir = join(root, 'schemas', 'generated');

const Generated = suite('schemas/generated');

Generated('gen-schemas - regenerating from busline.fbs gives the committed files byte for byte', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'busline-gen-schemas-'));
  try {
    const freshDir = join(scratch, 'generated');
    // The same script as `npm run gen:schemas`, told not to install anything:
    // a missing flatc must fail this test, not be papered over.
    const run = spawnSync('bash', ['scripts/gen-schemas.sh', '--out', freshDir, '--no-install'], {
      cwd: root,
      encoding: 'utf8',
    });
    if (run.error !== undefined) assert.unreachable(`could not run bash scripts/gen-schemas.sh: ${run.error.message}`);
    if (run.status === 3) {
      assert.unreachable(
        'flatc is missing, so the staleness of schemas/generated/ cannot be checked. ' +
          `Run \`npm run gen:schemas\` (it installs flatc), then run the tests again.\n${run.stderr}`,
      );
    }
    assert.is(run.status, 0, `scripts/gen-schemas.sh failed (exit ${run.status}):\n${run.stderr}`);

    const fresh = readdirSync(freshDir).sort();
    const committed = readdirSync(committedDir).sort();
    assert.ok(fresh.length > 0, 'flatc wrote nothing');
    assert.equal(committed, fresh, 'schemas/generated/ holds other files than flatc writes: run `npm run gen:schemas`');
    for (const name of fresh) {
      const same = readFileSync(join(freshDir, name)).equals(readFileSync(join(committedDir, name)));
      assert.ok(same, `schemas/generated/${name} is stale: run \`npm run gen:schemas\` and commit the result (never edit it by hand)`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

Generated('imports - only schemas/codec/ (and the codec tests) import the generated code', () => {
  // The generated readers do no bounds checks: anything that read bodies with
  // them would skip the verifier, so the codec stays their one user.
  const allowed = [join(root, 'schemas', 'codec'), join(root, 'tests', 'schemas')];
  const importers: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', '.git', 'dist'].includes(entry.name) && path !== committedDir) visit(path);
      } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !allowed.some((folder) => path.startsWith(folder + '/'))) {
        const text = readFileSync(path, 'utf8');
        for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
          if (resolve(dirname(path), specifier as string).startsWith(committedDir + '/')) importers.push(relative(root, path));
        }
      }
    }
  };
  visit(root);
  assert.equal(importers, [], `these import schemas/generated/ directly; use schemas/codec/ instead: ${importers.join(', ')}`);
});

Generated.run();
