/**
 * The bench writes its results into docs/PERFORMANCE.md between each group's
 * markers: only that group's text changes, the hand-written intro stays, and
 * a document without the markers is refused rather than appended to.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupMarkdown, replaceGroup } from '../../bench/performance-doc.js';

const test = suite('performance-doc');

const doc = 'intro\n<!-- bench:core:start -->\nold core\n<!-- bench:core:end -->\n<!-- bench:codec:start -->\nold codec\n<!-- bench:codec:end -->\n';

test('replaceGroup - replaces only the text between that group\'s markers', () => {
  const next = replaceGroup(doc, 'core', 'new core');
  assert.is(next, doc.replace('old core', 'new core'));
  assert.is(replaceGroup(next, 'core', 'again'), doc.replace('old core', 'again'), 'a second run replaces the first');
});

test('replaceGroup - refuses a document without the markers', () => {
  assert.throws(() => replaceGroup('intro only', 'threads', 'rows'), /bench:threads:start/);
});

test('groupMarkdown - the date, Node version and cores, then one row per comparison with its ratio and target', () => {
  const markdown = groupMarkdown(
    {
      rates: [{ name: 'a | b', subject: 2_000_000, peerName: 'peer', peer: 1_000_000, target: { text: '≥ 1x', met: true } }],
      latencies: [{ name: 'round trip', subject: { p50: 2_000, p99: 4_000 }, peerName: 'raw', peer: { p50: 1_000, p99: 1_000 } }],
      notes: ['a note'],
    },
    new Date('2026-01-02T03:04:05Z'),
  );
  assert.match(markdown, `Measured 2026-01-02 03:04 UTC, Node ${process.version}, `);
  assert.match(markdown, '| a \\| b | 2.00 M/s | peer | 1.00 M/s | 2.00x | ≥ 1x: met |');
  assert.match(markdown, '| round trip | p50 2 µs, p99 4 µs | raw | p50 1 µs, p99 1 µs | 2.0x at p50, 4.0x at p99 |  |');
  assert.match(markdown, '(a note)');
});

test('docs/PERFORMANCE.md - has the markers of every group the bench writes', () => {
  const performance = readFileSync(new URL('../../docs/PERFORMANCE.md', import.meta.url), 'utf8');
  for (const group of ['codec', 'core', 'threads']) {
    assert.ok(performance.includes(`<!-- bench:${group}:start -->`) && performance.includes(`<!-- bench:${group}:end -->`), group);
  }
});

test.run();
