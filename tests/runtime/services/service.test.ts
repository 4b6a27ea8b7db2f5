/**
 * Services (seed 003's BaseService): lifecycle and status, what a service
 * owns and gives back on stop (subscriptions, timers on the runtime's clock,
 * waits, deferred cleanups), failures as status and as internal events, and
 * bad input. A ManualClock drives the timers: nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AbortedError,
  createRuntime,
  defineService,
  isBusError,
  ManualClock,
  Service,
  ServiceFailedError,
  type BusEvent,
  type Runtime,
  type ServiceStatus,
} from '../../../index.js';
import { runtimeCore } from '../../../internal.js';

const test = suite('Service');

let clock: ManualClock;
let runtime: Runtime;

test.before.each(() => {
  clock = new ManualClock(1_000);
  runtime = createRuntime({ clock });
});

test.after.each(async () => {
  await runtime.stop();
});

/** The subscriptions of the root thread's bus of `side`. */
const subscriptions = (side: 'external' | 'internal' = 'external') => runtimeCore(runtime).thread(0, 0).subscriptions(side).size;

/** Every status a service goes through, from now on. */
function statuses(service: Service): ServiceStatus[] {
  const seen: ServiceStatus[] = [];
  service.onStatus(({ status }) => seen.push(status));
  return seen;
}

/** The internal events about services, from now on. */
function serviceEvents(): BusEvent[] {
  const seen: BusEvent[] = [];
  runtime.bus('internal').subscribe('busline.service', (event) => void seen.push(event));
  return seen;
}

class Counter extends Service {
  count = 0;
  protected onStart(): void {
    this.subscribe('tick', () => void this.count++);
  }
}

test('start/stop - status goes stopped → starting → running → stopping → stopped; an owned subscription ends with the stop', async () => {
  const bus = runtime.bus('external');
  const counter = new Counter(bus);
  const seen = statuses(counter);
  assert.is(counter.status, 'stopped');
  assert.is(counter.name, 'Counter');
  assert.ok(counter.signal.aborted, 'a service never started owns nothing');
  await counter.start();
  assert.is(counter.status, 'running');
  assert.not.ok(counter.signal.aborted);
  assert.is(subscriptions(), 1);
  bus.post('tick', {}, { priority: 'immediate' });
  assert.is(counter.count, 1);
  await counter.stop();
  assert.is(counter.status, 'stopped');
  assert.ok(counter.signal.aborted);
  assert.is(subscriptions(), 0, 'the subscription went with the stop');
  bus.post('tick', {}, { priority: 'immediate' });
  await bus.publish('tick', {});
  assert.is(counter.count, 1, 'a post after stop reaches no handler');
  assert.equal(seen, ['starting', 'running', 'stopping', 'stopped']);
});

test('status - each change is posted as busline.service.status on the internal bus of its thread', async () => {
  const events = serviceEvents();
  const counter = new Counter(runtime.bus('external'), { name: 'counter' });
  await counter.start();
  await counter.stop();
  assert.equal(
    events.map((event) => [event.type, (event.payload as { status: string }).status, (event.payload as { previous: string }).previous]),
    [
      ['busline.service.status', 'starting', 'stopped'],
      ['busline.service.status', 'running', 'starting'],
      ['busline.service.status', 'stopping', 'running'],
      ['busline.service.status', 'stopped', 'stopping'],
    ],
  );
  assert.equal(events[0]!.payload, { name: 'counter', status: 'starting', previous: 'stopped', processor: 0, thread: 0 });
});

test('start twice - idempotent: a second start during or after the first resolves with it and starts nothing more', async () => {
  let starts = 0;
  class Once extends Service {
    protected async onStart() {
      starts++;
      this.subscribe('tick', () => undefined);
    }
  }
  const service = new Once(runtime.bus('external'));
  const seen = statuses(service);
  const first = service.start();
  const second = service.start();
  assert.is(second, first, 'the start under way');
  await Promise.all([first, second]);
  await service.start();
  assert.is(starts, 1);
  assert.is(subscriptions(), 1);
  assert.equal(seen, ['starting', 'running']);
});

test('stop twice - idempotent: a second stop during or after the first resolves and stops nothing more', async () => {
  let stops = 0;
  class Twice extends Service {
    protected onStart() {}
    protected override async onStop() {
      stops++;
    }
  }
  const service = new Twice(runtime.bus('external'));
  await service.stop(); // never started: nothing to do
  await service.start();
  const first = service.stop();
  assert.is(service.stop(), first);
  await first;
  await service.stop();
  assert.is(stops, 1);
  assert.is(service.status, 'stopped');
});

test('start and stop - a stop during a start stops after it; a start during a stop starts again after it', async () => {
  const service = new Counter(runtime.bus('external'));
  const seen = statuses(service);
  const started = service.start();
  const stopped = service.stop();
  await Promise.all([started, stopped]);
  assert.is(service.status, 'stopped');
  await service.start();
  const stopping = service.stop();
  const restarted = service.start();
  await Promise.all([stopping, restarted]);
  assert.is(service.status, 'running');
  assert.is(subscriptions(), 1, 'one subscription: the second start\'s');
  assert.equal(seen, ['starting', 'running', 'stopping', 'stopped', 'starting', 'running', 'stopping', 'stopped', 'starting', 'running']);
});

test('every - runs on the runtime clock and is cancelled on stop', async () => {
  const ticks: number[] = [];
  class Ticker extends Service {
    protected onStart() {
      this.every(100, () => void ticks.push(clock.now()));
    }
  }
  const ticker = new Ticker(runtime.bus('external'));
  await ticker.start();
  clock.advance(100);
  clock.advance(100);
  assert.equal(ticks, [1_100, 1_200]);
  clock.advance(250); // past two more due times at once: both run, the next stays at 1 500
  assert.equal(ticks, [1_100, 1_200, 1_450, 1_450]);
  assert.is(clock.pendingTimers, 1);
  await ticker.stop();
  assert.is(clock.pendingTimers, 0, 'the timer went with the stop');
  clock.advance(1_000);
  assert.equal(ticks.length, 4);
});

test('after - runs once; cancelled by its function or by the stop', async () => {
  const fired: string[] = [];
  class Later extends Service {
    protected onStart() {
      this.after(50, () => void fired.push('once'));
      const cancel = this.after(60, () => void fired.push('cancelled'));
      cancel();
      this.after(500, () => void fired.push('too late'));
    }
  }
  const later = new Later(runtime.bus('external'));
  await later.start();
  clock.advance(100);
  assert.equal(fired, ['once']);
  assert.is(clock.pendingTimers, 1);
  await later.stop();
  assert.is(clock.pendingTimers, 0);
  clock.advance(1_000);
  assert.equal(fired, ['once']);
});

test('waitFor - a wait the service owns rejects with ABORTED when it stops, and leaves no subscription', async () => {
  let waiting: Promise<unknown> | undefined;
  class Waiter extends Service {
    protected onStart() {
      waiting = this.waitFor('reply', { timeout: 10_000 });
      waiting.catch(() => undefined);
    }
  }
  const waiter = new Waiter(runtime.bus('external'));
  await waiter.start();
  assert.is(subscriptions(), 1);
  await waiter.stop();
  const error = await waiting!.then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, AbortedError);
  assert.is(subscriptions(), 0);
  assert.is(clock.pendingTimers, 0, 'its timeout timer is gone too');
});

test('request and reply - a service answers requests until it stops; a request it owns rejects with ABORTED when it stops', async () => {
  let asking: Promise<unknown> | undefined;
  class Prices extends Service {
    protected onStart() {
      this.reply('price.get', (request) => ({ sku: request.payload, cents: 1_250 }));
      asking = this.request('stock.get', 'sku-1', { timeout: 10_000 });
      asking.catch(() => undefined);
    }
  }
  const prices = new Prices(runtime.bus('external'));
  await prices.start();
  assert.equal(await runtime.bus('external').request('price.get', 'sku-1', { timeout: 1_000 }), { sku: 'sku-1', cents: 1_250 });
  await prices.stop();
  assert.instance(await asking!.then(() => undefined, (thrown: unknown) => thrown), AbortedError);
  // Nobody answers any more: the request runs out of time on the runtime's clock.
  const unanswered = runtime.bus('external').request('price.get', 'sku-2', { timeout: 1_000 });
  clock.advance(1_000);
  const error = await unanswered.then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(isBusError(error, 'REQUEST_TIMEOUT'), String(error));
});

test('defer - cleanups run on stop, last first; onStop runs before them, while the service still owns everything', async () => {
  const order: string[] = [];
  class Holder extends Service {
    protected onStart() {
      this.subscribe('tick', () => undefined);
      this.defer(() => order.push('first acquired'));
      this.defer(() => order.push('second acquired'));
    }
    protected override onStop() {
      order.push(`onStop (subscriptions ${subscriptions()}, signal aborted ${this.signal.aborted})`);
    }
  }
  const holder = new Holder(runtime.bus('external'));
  await holder.start();
  await holder.stop();
  assert.equal(order, ['onStop (subscriptions 1, signal aborted false)', 'second acquired', 'first acquired']);
});

test('start fails - failed with the error, what it had acquired released, busline.service.failed posted, start() rejects', async () => {
  const events = serviceEvents();
  const released: string[] = [];
  class Broken extends Service {
    protected async onStart() {
      this.subscribe('tick', () => undefined);
      this.every(10, () => undefined);
      this.defer(() => released.push('connection'));
      throw new Error('database unreachable');
    }
  }
  const broken = new Broken(runtime.bus('external'), { name: 'broken' });
  const seen = statuses(broken);
  const error = await broken.start().then(() => undefined, (thrown: unknown) => thrown);
  assert.instance(error, ServiceFailedError);
  assert.equal([(error as ServiceFailedError).code, (error as ServiceFailedError).service, (error as ServiceFailedError).phase], ['SERVICE_FAILED', 'broken', 'start']);
  assert.is(((error as Error).cause as Error).message, 'database unreachable');
  assert.is(broken.status, 'failed');
  assert.is(broken.error, (error as Error).cause, 'the thrown error itself');
  assert.equal(seen, ['starting', 'failed']);
  assert.is(subscriptions(), 0, 'its subscription is gone');
  assert.is(clock.pendingTimers, 0, 'its timer is gone');
  assert.equal(released, ['connection']);
  assert.ok(broken.signal.aborted);
  const failed = events.find((event) => event.type === 'busline.service.failed');
  assert.equal(failed?.payload, { name: 'broken', phase: 'start', message: 'database unreachable', processor: 0, thread: 0 });
  assert.equal(events.map((event) => (event.payload as { status?: string }).status ?? event.type), ['starting', 'busline.service.failed', 'failed']);
  // Recovery: a failed service can be stopped (acknowledged) or started again.
  await broken.stop();
  assert.is(broken.status, 'stopped');
  assert.is(broken.error, undefined);
});

test('handler throws - the running service fails and lets go of everything; with onError it runs on', async () => {
  const events = serviceEvents();
  let tolerated = 0;
  class Fragile extends Service {
    protected onStart() {
      this.subscribe('job', (event) => {
        if ((event.payload as { bad?: boolean }).bad === true) throw new Error('bad job');
      });
      this.subscribe('noise', () => { throw new Error('ignored'); }, { onError: () => void tolerated++ });
      this.every(100, () => undefined);
    }
  }
  const fragile = new Fragile(runtime.bus('external'), { name: 'fragile' });
  await fragile.start();
  const bus = runtime.bus('external');
  bus.post('noise', {}, { priority: 'immediate' });
  assert.is(tolerated, 1);
  assert.is(fragile.status, 'running', 'an error its onError took does not fail it');
  bus.post('job', { bad: true }, { priority: 'immediate' });
  assert.is(fragile.status, 'failed');
  assert.is((fragile.error as Error).message, 'bad job');
  assert.is(subscriptions(), 0);
  assert.is(clock.pendingTimers, 0);
  const failed = events.find((event) => event.type === 'busline.service.failed');
  assert.equal(failed?.payload, { name: 'fragile', phase: 'handler', message: 'bad job', processor: 0, thread: 0 });
});

test('handler rejects during start - the start fails', async () => {
  class Eager extends Service {
    protected async onStart() {
      this.subscribe('ready', async () => { throw new Error('too early'); });
      await this.bus.publish('ready', {});
    }
  }
  const eager = new Eager(runtime.bus('external'));
  const error = await eager.start().then(() => undefined, (thrown: unknown) => thrown);
  assert.is((error as ServiceFailedError).phase, 'handler');
  assert.is(((error as Error).cause as Error).message, 'too early');
  assert.is(eager.status, 'failed');
  assert.is(subscriptions(), 0);
});

test('timer throws - the service fails with phase timer', async () => {
  const events = serviceEvents();
  class Flaky extends Service {
    protected onStart() {
      this.every(100, () => { throw new Error('tick failed'); });
    }
  }
  const flaky = new Flaky(runtime.bus('external'));
  await flaky.start();
  clock.advance(100);
  assert.is(flaky.status, 'failed');
  assert.is(clock.pendingTimers, 0);
  assert.is((events.find((event) => event.type === 'busline.service.failed')?.payload as { phase: string }).phase, 'timer');
});

test('stop fails - failed with the error, everything released anyway, stop() rejects', async () => {
  class Stubborn extends Service {
    protected onStart() {
      this.subscribe('tick', () => undefined);
    }
    protected override onStop() {
      throw new Error('flush failed');
    }
  }
  const stubborn = new Stubborn(runtime.bus('external'));
  await stubborn.start();
  const error = await stubborn.stop().then(() => undefined, (thrown: unknown) => thrown);
  assert.is((error as ServiceFailedError).phase, 'stop');
  assert.is(((error as Error).cause as Error).message, 'flush failed');
  assert.is(stubborn.status, 'failed');
  assert.is(subscriptions(), 0);
});

test('a failed service starts again', async () => {
  let attempts = 0;
  class Retry extends Service {
    protected onStart() {
      if (++attempts === 1) throw new Error('first try');
      this.subscribe('tick', () => undefined);
    }
  }
  const retry = new Retry(runtime.bus('external'));
  await retry.start().catch(() => undefined);
  assert.is(retry.status, 'failed');
  await retry.start();
  assert.is(retry.status, 'running');
  assert.is(retry.error, undefined);
  assert.is(subscriptions(), 1);
});

test('runtime.stop - stops running services first, the last started first, while their buses still work', async () => {
  const order: string[] = [];
  const farewells: string[] = [];
  runtime.bus('external').subscribe('farewell', (event) => void farewells.push((event.payload as { from: string }).from));
  class Polite extends Service {
    protected onStart() {}
    protected override onStop() {
      order.push(this.name);
      this.bus.post('farewell', { from: this.name }, { priority: 'immediate' });
    }
  }
  const first = new Polite(runtime.bus('external'), { name: 'first' });
  const second = new Polite(runtime.bus('external'), { name: 'second' });
  const stopped = new Polite(runtime.bus('external'), { name: 'stopped-before' });
  await first.start();
  await second.start();
  await stopped.start();
  await stopped.stop();
  order.length = 0;
  farewells.length = 0;
  await runtime.stop();
  assert.equal(order, ['second', 'first']);
  assert.equal(farewells, ['second', 'first']);
  assert.is(first.status, 'stopped');
  assert.is(second.status, 'stopped');
});

test('start after runtime.stop - refused with RUNTIME_STOPPED; the service stays stopped', async () => {
  const counter = new Counter(runtime.bus('external'));
  await runtime.stop();
  const error = await counter.start().then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(isBusError(error, 'RUNTIME_STOPPED'), String(error));
  assert.is(counter.status, 'stopped');
});

test('defineService - a service from functions, with the owned helpers in its context', async () => {
  const received: number[] = [];
  const Doubler = defineService({
    name: 'doubler',
    start: ({ subscribe, every, bus }) => {
      subscribe('number', (event) => void received.push((event.payload as { n: number }).n * 2));
      every(10, () => bus.post('number', { n: 1 }, { priority: 'immediate' }));
    },
  });
  const doubler = new Doubler(runtime.bus('external'));
  assert.is(doubler.name, 'doubler');
  assert.instance(doubler, Service);
  await doubler.start();
  clock.advance(20);
  assert.equal(received, [2, 2]);
  await doubler.stop();
  clock.advance(20);
  assert.equal(received, [2, 2]);
  assert.is(subscriptions(), 0);
  assert.is(clock.pendingTimers, 0);
});

test('embedded threads - a service runs on the bus of the thread it is given (another processor, another thread) and reports there', async () => {
  const { processor } = runtime.addProcessor();
  const second = runtime.addThread({ processor });
  const bus = second.bus('external');
  const reports: BusEvent[] = [];
  second.bus('internal').subscribe('busline.service.status', (event) => void reports.push(event));
  const counter = new Counter(bus);
  await counter.start();
  bus.post('tick', {}, { priority: 'immediate' });
  runtime.bus('external').post('tick', {}, { priority: 'immediate' });
  assert.is(counter.count, 1, 'its own thread\'s events only');
  await counter.stop();
  assert.equal(reports.map((event) => [(event.payload as { status: string }).status, event.origin.processor, event.origin.thread]), [
    ['starting', processor, 1],
    ['running', processor, 1],
    ['stopping', processor, 1],
    ['stopped', processor, 1],
  ]);
});

test('bus generations - a service keeps working after toStation() retires the bus it was given', async () => {
  const bus = runtime.bus('external');
  const counter = new Counter(bus);
  await counter.start();
  const next = await bus.toStation();
  assert.is(counter.bus, next, 'the thread\'s current bus');
  next.post('tick', {}, { priority: 'immediate' });
  assert.is(counter.count, 1);
  await counter.stop();
  assert.is(subscriptions(), 0);
});

test('bad input - InvalidOptionError naming the option', () => {
  const bus = runtime.bus('external');
  const refused = (make: () => unknown, option: string) => {
    try {
      make();
    } catch (error) {
      assert.ok(isBusError(error) && error.code === 'INVALID_OPTION', String(error));
      assert.is((error as { option?: string }).option, option);
      return;
    }
    assert.unreachable(`${option} was accepted`);
  };
  refused(() => new Counter({} as never), 'service bus');
  refused(() => new Counter(bus, { name: '' }), 'service options.name');
  refused(() => new Counter(bus, { nmae: 'x' } as never), 'service options.nmae');
  refused(() => new Counter(bus).onStatus('no' as never), 'onStatus listener');
  refused(() => defineService({ name: 'x' } as never), 'defineService definition.start');
  refused(() => defineService({ name: 7, start: () => undefined } as never), 'defineService definition.name');
  refused(() => defineService({ name: 'x', start: () => undefined, stpo: () => undefined } as never), 'defineService definition.stpo');
  refused(() => defineService(undefined as never), 'defineService definition');
  class Helpers extends Service {
    protected onStart() {}
    tryEvery(ms: unknown) {
      return this.every(ms as number, () => undefined);
    }
    tryAfter(ms: unknown) {
      return this.after(ms as number, () => undefined);
    }
    trySignal() {
      return this.subscribe('tick', () => undefined, { signal: 'no' as never });
    }
  }
  const helpers = new Helpers(bus);
  refused(() => helpers.tryEvery(0), 'every ms');
  refused(() => helpers.tryEvery(Number.NaN), 'every ms');
  refused(() => helpers.tryAfter(-1), 'after ms');
  refused(() => helpers.trySignal(), 'subscribe options.signal');
});

test.run();
