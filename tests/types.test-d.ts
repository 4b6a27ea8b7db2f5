/**
 * Type-level tests of the public API: checked by `tsc` in `npm test`
 * (a misplaced `@ts-expect-error` is itself an error). Never executed.
 */
import * as busline from '../index.js';
import { createRuntime, type Bus, type BusEvent, type Station } from '../index.js';

declare const bus: Bus;

export function typeTests(): void {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });

  // post() keeps the payload's type.
  const event: BusEvent<{ id: number }> = bus.post('user.login', { id: 7 });
  const id: number = event.payload.id;
  void id;

  // @ts-expect-error functions are not payloads
  bus.post('x', () => 1);
  // @ts-expect-error undefined is not a payload (use null)
  bus.post('x', undefined);
  // @ts-expect-error dates are not JSON data
  bus.post('x', { at: new Date() });
  bus.post('bytes', new Uint8Array(4));

  // @ts-expect-error there are two sides
  runtime.bus('sideways');
  // @ts-expect-error priorities are immediate, normal, deferred
  bus.post('x', 1, { priority: 'urgent' });

  // Typed subscriptions.
  bus.subscribe<{ id: number }>('user', (e) => {
    const n: number = e.payload.id;
    void n;
  });

  // open() takes no options; the closing commands take clearOtherSide.
  // @ts-expect-error
  void runtime.bridge.open({ clearOtherSide: true });
  void runtime.bridge.close({ clearOtherSide: true });

  // toStation() returns the next bus; fromStation() reports what it brought.
  void bus.toStation().then((next: Bus) => next.fromStation({ types: ['user'], side: 'internal' }));
  const station: Station = runtime.station('external');
  void station.roundTrip({ types: ['user'] });

  // The public classes show no internals: they are in busline/internal (busControl, runtimeCore).
  // @ts-expect-error the bus actor is not public
  void bus.actor;
  // @ts-expect-error the runtime's own calls are on its private core
  void runtime.attachThread;
  // @ts-expect-error the bridge actor is not public
  void runtime.bridge.actor;
  // @ts-expect-error machines, codec and transports are in busline/internal
  void busline.busMachine;
  // @ts-expect-error
  void busline.FrameTransport;
  // @ts-expect-error
  void busline.encodeFrame;
  const transport: busline.Transport = { name: 'mine', carry: (message) => Promise.resolve(message) };
  void createRuntime({ transport, processorExecArgv: busline.DEFAULT_PROCESSOR_EXEC_ARGV });
}
