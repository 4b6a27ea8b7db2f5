/**
 * Type-level tests of services on a typed runtime: the helpers are typed by
 * the runtime's event map as the bus is, and internal service events are part
 * of `BuslineEvents`. Checked by `tsc`; never executed.
 */
import {
  createRuntime,
  defineService,
  Service,
  type BuslineEvent,
  type ServiceContext,
  type ServiceFailure,
  type ServiceStatus,
  type ServiceStatusReport,
  type SideEventsOf,
} from '../../../index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

interface Login {
  readonly id: number;
}
interface Events {
  'user.login': Login;
  'user.logout': { readonly id: number; readonly reason: string };
  'audit.entry': { readonly text: string };
}

const runtime = createRuntime<Events>();

class Auditor extends Service<Events> {
  protected onStart(): void {
    this.subscribe('user', (event) => {
      expectType<Equal<typeof event.type, 'user.login' | 'user.logout'>>();
      this.bus.post('audit.entry', { text: `user ${event.payload.id}` });
    });
    this.subscribe('user.login', (event) => {
      expectType<Equal<typeof event.payload, Login>>();
    });
    // @ts-expect-error a misspelled type fails to compile
    this.subscribe('user.lgoin', () => undefined);
    // @ts-expect-error a wrong payload fails to compile
    this.bus.post('audit.entry', { text: 7 });
    void this.waitFor('user.logout', { timeout: 10 }).then((event) => {
      expectType<Equal<typeof event.payload.reason, string>>();
    });
    this.every(1_000, () => undefined);
    this.after(10, async () => undefined);
    this.defer(() => undefined);
  }
}

const auditor = new Auditor(runtime.bus('external'));
expectType<Equal<typeof auditor.status, ServiceStatus>>();
void auditor.start();
// @ts-expect-error the helpers are for the service's own code
auditor.subscribe('user', () => undefined);
// @ts-expect-error a service of one map does not take another's bus
new Auditor(createRuntime<{ other: { x: number } }>().bus('external'));
auditor.onStatus((change) => {
  expectType<Equal<typeof change.status, ServiceStatus>>();
});

const Greeter = defineService<Events>({
  name: 'greeter',
  start: (service) => {
    expectType<Equal<typeof service, ServiceContext<Events>>>();
    service.subscribe('user.login', (event) => void service.bus.post('audit.entry', { text: String(event.payload.id) }));
    // @ts-expect-error a misspelled type fails to compile
    service.subscribe('usr.login', () => undefined);
  },
});
const greeter: Service<Events> = new Greeter(runtime.bus('external'), { name: 'greeter-2' });
void greeter.stop();

// The runtime's internal events include the services'.
declare const internal: BuslineEvent;
if (internal.type === 'busline.service.status') expectType<Equal<typeof internal.payload, ServiceStatusReport>>();
if (internal.type === 'busline.service.failed') expectType<Equal<typeof internal.payload, ServiceFailure>>();
runtime.bus('internal').subscribe('busline.service.failed', (event) => {
  expectType<Equal<typeof event.payload.phase, ServiceFailure['phase']>>();
});

// A service of a runtime's bus map (`SideEventsOf`, with the other side's `Across`) is typed as that bus is:
// it reads the other side's events, and posts, requests and answers on its own side only.
type AuditMap = SideEventsOf<'internal', Events, {}>;
class CrossAuditor extends Service<AuditMap> {
  protected onStart(): void {
    this.subscribe('user.login', (event) => expectType<Equal<typeof event.side, 'external'>>());
    this.reply('busline.stats', () => undefined);
    // @ts-expect-error a bus posts on its own side
    this.bus.post('audit.entry', { text: '' });
    // @ts-expect-error nor requests the other side's types
    void this.request('audit.entry', { text: '' });
    // @ts-expect-error nor answers them: its reply would go out on this side, the requester waits on the other
    this.reply('user.login', () => undefined);
  }
}
void new CrossAuditor(runtime.bus('internal'));
const CrossGreeter = defineService<AuditMap>({
  name: 'cross-greeter',
  start: ({ subscribe, reply }) => {
    subscribe('user', (event) => expectType<Equal<typeof event.side, 'external'>>());
    // @ts-expect-error nor through a defined service's context
    reply('user.login', () => undefined);
  },
});
void new CrossGreeter(runtime.bus('internal'));
