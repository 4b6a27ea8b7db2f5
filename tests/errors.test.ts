/**
 * Errors that cross a thread or a process (control-call answers, refusing
 * Acks) are rebuilt as the class they were thrown as, with their fields.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BridgeClosedError,
  BridgeLockedError,
  BusBusyError,
  BusError,
  BusFullError,
  BusRetiredError,
  AbortedError,
  EventTooLargeError,
  FrameError,
  InvalidEventError,
  InvalidOptionError,
  RuntimeStoppedError,
  TransportError,
  UnsupportedError,
  WorkerCrashedError,
  ReplayMismatchError,
  ServiceFailedError,
} from '../index.js';
import { fromWireError, toWireError } from '../runtime/wire/wire-errors.js';

const test = suite('errors across threads and processes');

/** As a control call's answer crosses: through the structured clone (IPC uses JSON, which keeps the same). */
const across = (error: unknown) => fromWireError(JSON.parse(JSON.stringify(structuredClone(toWireError(error)))));

test('every error class comes back as itself, with its code, message and fields', () => {
  const errors: BusError[] = [
    new InvalidEventError('bad type'),
    new InvalidOptionError('sync.everyMs', 'expected a positive integer.'),
    new EventTooLargeError('too big'),
    new BridgeLockedError('open'),
    new BridgeClosedError('internal', 'external', 'closed'),
    new BusRetiredError('post()'),
    new BusBusyError('sync', 'fromStation'),
    new BusFullError(5, 4, 'queue'),
    new AbortedError('room', 'timed out'),
    new UnsupportedError('no'),
    new FrameError('CHECKSUM', 'the sums differ'),
    new FrameError('TOO_LARGE', 'over the limit'),
    new RuntimeStoppedError('post'),
    new TransportError('link down'),
    new WorkerCrashedError('gone'),
    new ReplayMismatchError('Transitions differ at step 2', 1),
    new ServiceFailedError('billing', 'start', new Error('database unreachable')),
  ];
  for (const error of errors) {
    const back = across(error);
    assert.ok(back instanceof error.constructor, `${error.name} came back as ${back.name}`);
    assert.ok(back instanceof BusError);
    assert.equal([back.name, back.code, back.message], [error.name, error.code, error.message]);
    assert.equal({ ...back, stack: undefined }, { ...error, stack: undefined }, `${error.name}'s fields`);
  }
  const full = across(new BusFullError(7, 6, 'inFlight')) as BusFullError;
  assert.equal([full.bound, full.held, full.max], ['inFlight', 7, 6]);
  assert.is((across(new InvalidOptionError('room options.signal', 'x')) as InvalidOptionError).option, 'room options.signal');
  assert.is((across(new FrameError('DECOMPRESS', 'x')) as FrameError).reason, 'DECOMPRESS');
});

test('ServiceFailedError - reads as one sentence whether or not its cause ends with a full stop', () => {
  for (const cause of [new Error('database unreachable.'), new Error('database unreachable'), 'database unreachable.']) {
    assert.ok(
      new ServiceFailedError('billing', 'start', cause).message.startsWith('Service "billing" failed (start): database unreachable. Its subscriptions'),
      String(cause),
    );
  }
});

test('anything else crosses as a TransportError with its message', () => {
  const back = across(new RangeError('out of range'));
  assert.ok(back instanceof TransportError);
  assert.equal([back.code, back.message], ['TRANSPORT_FAILED', 'out of range']);
  const unknown = fromWireError({ code: 'SOMETHING_NEW', message: 'from a newer peer' });
  assert.ok(unknown instanceof BusError && !(unknown instanceof TransportError));
  assert.equal([unknown.code, unknown.message], ['SOMETHING_NEW', 'from a newer peer']);
});

test('fields that crossed never replace what an error inherits (toString, valueOf, constructor): a peer\'s bad details cannot make it unprintable', () => {
  const details = JSON.parse('{"toString":"x","valueOf":1,"constructor":"y","__proto__":"z","hasOwnProperty":false,"bound":"budget","held":3,"max":2}') as Record<string, string | number | boolean>;
  const back = fromWireError({ code: 'BUS_FULL', message: 'refused', details }) as BusFullError;
  assert.ok(back instanceof BusFullError);
  assert.equal([back.bound, back.held, back.max], ['budget', 3, 2]);
  assert.is(String(back), 'BusFullError: refused');
  assert.is(back.constructor, BusFullError);
  assert.ok(Object.hasOwn(back, 'bound'));
  assert.equal(Object.keys(back).filter((key) => ['toString', 'valueOf', 'constructor', 'hasOwnProperty'].includes(key)), []);
});

test.run();
