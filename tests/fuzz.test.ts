/**
 * A small seeded run of the fuzz suite (`npm run fuzz` runs it at length):
 * mutated frames and control messages into every decoder, hostile arguments
 * into every public method. Every hostile case is refused with a typed
 * BusError: none throws anything else, none is silently accepted, none hangs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, runFuzz } from './fuzz/engine.js';

const test = suite('fuzz');

test('fuzz - 3000 seeded cases: 0 untyped, 0 silently accepted, 0 hangs', async () => {
  const report = await runFuzz({ cases: 3_000, seed: 20_240_618, workers: false });
  const { counts } = report;
  const text = formatReport(report);
  assert.is(counts.untyped + counts.accepted + counts.hang, 0, text);
  // The run reached every kind of target, and refused a good share of hostile cases.
  for (const target of ['frames', 'Bus.post', 'RemoteBus(served).history', 'Station.history', 'Bridge.lock', 'Runtime.spawn(remote)', 'ProcessorNode.control', 'ThreadApi.post']) {
    assert.ok(report.byTarget.has(target), `${target} was fuzzed:\n${text}`);
  }
  assert.ok(counts.typed > 1_000, text);
});

test.run();
