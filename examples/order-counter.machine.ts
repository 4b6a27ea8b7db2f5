/**
 * An example user actor for `runtime.spawn()`: counts `order.created` bus
 * events and, at its limit, emits `orders.limit` (posted on its thread's bus)
 * and waits for `reset`.
 *
 * @example
 * const counter = await runtime.spawn(new URL('./examples/order-counter.machine.ts', import.meta.url), {
 *   processor: 1, thread: 1, input: { limit: 2 },
 * })
 */
import { assign, emit, setup } from 'xstate';

/** The bus event types this actor receives (subtype matching: `order` gets `order.created`). */
export const subscribes = ['order'];

export default setup({
  types: {
    context: {} as { orders: number; limit: number },
    input: {} as { limit?: number } | undefined,
    events: {} as { type: 'order.created'; payload: unknown } | { type: 'order.paid'; payload: unknown } | { type: 'reset' },
    emitted: {} as { type: 'orders.limit'; payload: { orders: number } },
  },
  actions: {
    count: assign({ orders: ({ context }) => context.orders + 1 }),
    announceLimit: emit(({ context }) => ({ type: 'orders.limit' as const, payload: { orders: context.orders } })),
    clear: assign({ orders: 0 }),
  },
  guards: {
    reachesLimit: ({ context }) => context.orders + 1 >= context.limit,
  },
}).createMachine({
  id: 'orderCounter',
  context: ({ input }) => ({ orders: 0, limit: input?.limit ?? 3 }),
  initial: 'counting',
  states: {
    counting: {
      on: {
        'order.created': [
          { guard: 'reachesLimit', target: 'full', actions: ['count', 'announceLimit'] },
          { actions: 'count' },
        ],
      },
    },
    full: {
      on: { reset: { target: 'counting', actions: 'clear' } },
    },
  },
});
