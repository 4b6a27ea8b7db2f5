#!/usr/bin/env node
// `npm run lint` (and a test in `npm test`): the layout rules a type check
// cannot see. Among the source modules (index.ts, internal.ts, errors.ts,
// types.ts, machines/, runtime/, schemas/ without schemas/generated/,
// inspector/), it reports
//   - every import cycle, as a chain of files, `import type` included: a
//     type-only cycle still ties two modules into one concept, and the next
//     value import along it turns into a load-order bug;
//   - every module over 600 lines, which is usually two concepts.
// Exit code 1 when it finds either, 0 otherwise.
//
// `node scripts/lint.mjs [root] [--max-lines N]`: root defaults to the repository.
//
// Imports are read with the TypeScript parser (a devDependency already), so
// comments and strings never count as imports. Only static import and
// `export ... from` declarations make edges: a dynamic `import()` is how a
// module loads another on purpose at run time, not a load-time dependency.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The source set, relative to the root: files and folders. */
export const SOURCES = ['index.ts', 'internal.ts', 'errors.ts', 'types.ts', 'machines', 'runtime', 'schemas', 'inspector'];
/** Folders (relative to the root) whose code is produced by a tool and never edited: neither rule applies. */
export const GENERATED = ['schemas/generated'];
export const MAX_LINES = 600;

const SOURCE_FILE = /\.(ts|mts|tsx)$/;
const DECLARATION_FILE = /\.d\.(ts|mts)$/;

/** The root-relative, `/`-separated paths of the source modules below `root`, sorted. */
export function sourceModules(root) {
  const found = [];
  const generated = new Set(GENERATED.map((path) => resolve(root, path)));
  const visit = (path) => {
    if (!existsSync(path) || generated.has(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (entry !== 'node_modules') visit(join(path, entry));
      }
    } else if (SOURCE_FILE.test(path) && !DECLARATION_FILE.test(path)) {
      found.push(relative(root, path).split(sep).join('/'));
    }
  };
  for (const source of SOURCES) visit(resolve(root, source));
  return found.sort();
}

/** The relative module specifiers `text` imports or re-exports statically. */
export function importedSpecifiers(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const specifiers = [];
  for (const statement of source.statements) {
    let specifier;
    if (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) specifier = statement.moduleSpecifier;
    else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) {
      specifier = statement.moduleReference.expression;
    }
    if (specifier !== undefined && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) specifiers.push(specifier.text);
  }
  return specifiers;
}

/** The module in `modules` that `specifier`, written in `from`, names (`./a.js` is `./a.ts` under nodenext), if any. */
function resolveSpecifier(from, specifier, modules) {
  const target = join(dirname(from), specifier).split(sep).join('/');
  const candidates = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), target.replace(/\.jsx$/, '.tsx'), `${target}/index.ts`];
  return candidates.find((candidate) => modules.has(candidate));
}

/**
 * Tarjan's strongly connected components of `graph` (module → modules it
 * imports): the groups of modules that all reach each other, one per cycle knot.
 */
function stronglyConnected(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let next = 0;
  const connect = (node) => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        connect(target);
        low.set(node, Math.min(low.get(node), low.get(target)));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node), index.get(target)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  // The graph is a few dozen modules deep at most: recursion is fine.
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return components;
}

/** The shortest path from `from` to `to` inside `members`, both ends included (breadth first). */
function shortestPath(graph, members, from, to) {
  const previous = new Map([[from, undefined]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = queue.shift();
    if (node === to) {
      const path = [];
      for (let at = to; at !== undefined; at = previous.get(at)) path.unshift(at);
      return path;
    }
    for (const target of graph.get(node) ?? []) {
      if (members.has(target) && !previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return undefined;
}

/**
 * The import cycles of `graph`, each a chain `[a, b, ..., a]`. Listing every
 * elementary cycle can explode; instead every import that lies on some cycle
 * appears in at least one listed chain, the shortest through it, so the list
 * names each import to cut. Each chain starts at its smallest path.
 */
export function importCycles(graph) {
  const cycles = new Map();
  for (const component of stronglyConnected(graph)) {
    const members = new Set(component);
    const covered = new Set();
    for (const from of [...component].sort()) {
      for (const to of [...(graph.get(from) ?? [])].sort()) {
        if (!members.has(to) || covered.has(`${from}\n${to}`)) continue;
        const back = shortestPath(graph, members, to, from);
        if (back === undefined) continue;
        const loop = from === to ? [from] : [from, ...back.slice(0, -1)];
        for (let i = 0; i < loop.length; i++) covered.add(`${loop[i]}\n${loop[(i + 1) % loop.length]}`);
        const start = loop.indexOf([...loop].sort()[0]);
        const chain = [...loop.slice(start), ...loop.slice(0, start)];
        chain.push(chain[0]);
        cycles.set(chain.join('\n'), chain);
      }
    }
  }
  return [...cycles.values()].sort((a, b) => a.join('\n').localeCompare(b.join('\n')));
}

/**
 * Lints the source modules below `root`: their import cycles and the modules
 * longer than `maxLines` lines (counted as `wc -l` does).
 */
export function lint(root, { maxLines = MAX_LINES } = {}) {
  const modules = sourceModules(root);
  const known = new Set(modules);
  const graph = new Map();
  const oversized = [];
  for (const module of modules) {
    const text = readFileSync(join(root, module), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > maxLines) oversized.push({ module, lines });
    const targets = new Set();
    for (const specifier of importedSpecifiers(module, text)) {
      const target = resolveSpecifier(module, specifier, known);
      if (target !== undefined) targets.add(target);
    }
    graph.set(module, targets);
  }
  return { modules, cycles: importCycles(graph), oversized, maxLines };
}

/** The report `lint` prints: one line per finding, then a summary line. */
export function formatReport({ modules, cycles, oversized, maxLines }) {
  const lines = [];
  for (const cycle of cycles) lines.push(`import cycle: ${cycle.join(' → ')}`);
  for (const { module, lines: count } of oversized) lines.push(`module too long: ${module} has ${count} lines (at most ${maxLines})`);
  const plural = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  lines.push(
    `lint: ${modules.length} modules, ${plural(cycles.length, 'import cycle')}, ${plural(oversized.length, 'module')} over ${maxLines} lines`,
  );
  return lines.join('\n');
}

function main(args) {
  let root = fileURLToPath(new URL('..', import.meta.url));
  let maxLines = MAX_LINES;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--max-lines') {
      maxLines = Number(args[++i]);
      if (!Number.isInteger(maxLines) || maxLines < 1) {
        console.error('lint: --max-lines takes a positive whole number');
        return 2;
      }
    } else if (arg.startsWith('-')) {
      console.error(`lint: unknown option ${arg}; usage: node scripts/lint.mjs [root] [--max-lines N]`);
      return 2;
    } else {
      root = resolve(arg);
    }
  }
  const result = lint(root, { maxLines });
  console.log(formatReport(result));
  return result.cycles.length === 0 && result.oversized.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
