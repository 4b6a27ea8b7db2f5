/**
 * DeliveredMark: what a thread has delivered of one station's history, as one
 * arrival number plus the ids filtered reads delivered ahead of it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DeliveredMark } from '../../../runtime/bus/delivered-mark.js';

const test = suite('DeliveredMark');

test('unfiltered reads that go on from the mark move it; one that starts beyond it does not', () => {
  const mark = new DeliveredMark();
  mark.noteUnfiltered(0, 10);
  assert.is(mark.through, 10);
  mark.noteUnfiltered(10, 25);
  assert.is(mark.through, 25);
  mark.noteUnfiltered(0, 30); // a new generation's first read, from the start
  assert.is(mark.through, 30);
  mark.noteUnfiltered(40, 50); // arrivals 31..40 were never read here
  assert.is(mark.through, 30);
  mark.noteUnfiltered(0, 20); // an older `through` never moves it back
  assert.is(mark.through, 30);
});

test('ids a filtered read delivers ahead of the mark are kept until an unfiltered read passes that read', () => {
  const mark = new DeliveredMark();
  mark.noteUnfiltered(0, 5);
  mark.noteAhead('0.1.7', 9);
  mark.noteAhead('0.1.8', 12);
  assert.is(mark.ahead, 2);
  assert.ok(mark.deliveredAhead('0.1.7'));
  assert.not.ok(mark.deliveredAhead('0.1.9'));
  mark.noteUnfiltered(5, 10);
  assert.is(mark.ahead, 2, 'the read complete through 12 is not passed yet');
  mark.noteUnfiltered(10, 12);
  assert.is(mark.ahead, 0, 'everything kept arrived through 12: the mark covers it');
  assert.not.ok(mark.deliveredAhead('0.1.7'));
  mark.noteAhead('0.1.3', 12);
  assert.is(mark.ahead, 0, 'a read the mark has passed keeps nothing');
});

test.run();
