import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { restockItem } from '../../lambdas/saga/admin.js';
import { createOrder, executionInput } from '../../lambdas/saga/orders.js';
import type { LocalSaga } from '../../local/saga.js';
import type { ExecutionRecord } from '../../local/stepfunctions.js';
import { faultInjector, type FaultInjector, type FaultRule } from '../support/faults.js';
import {
  depsOf,
  eventTypes,
  failuresOf,
  invariantViolations,
  localSaga,
  scriptProvider,
  seed,
  snapshot,
  stepStatuses,
  tasksEntered,
  type ShopSpec,
} from '../support/saga.js';

/**
 * Two executions of one order at once: the API Lambda died while its StartSyncExecution ran, and
 * the client's retry (same Idempotency-Key, same orderId, order still PENDING) started a second
 * one. EXPRESS executions are not deduplicated by name, so both run the real state machine
 * against the same step records. Holds on chosen writes fix the interleaving.
 *
 * What must hold: the order's fate is decided once, and what one execution decided the other
 * only replays — an order never ends COMPLETED with steps undone, a refused step never takes
 * effect later, and every effect is applied at most once.
 */
const PRICE = 1_000;
const BALANCE = 5_000;

describe('Workflow: two executions of one order', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  const items: NonNullable<ShopSpec['items']> = [];
  const users: NonNullable<ShopSpec['users']> = [];
  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({
      overrides: Object.fromEntries(SAGA_FUNCTIONS.map((f) => [f.id, { ddb: faults.ddb }])),
    });
  });
  afterAll(async () => {
    expect(invariantViolations(await snapshot(saga), { items, users })).toEqual([]);
    await saga.close();
  });

  async function pendingOrder(stock: number) {
    const userId = `u-${randomUUID().slice(0, 8)}`;
    const itemId = `i-${randomUUID().slice(0, 8)}`;
    const shop = { items: [{ itemId, price: PRICE, stock }], users: [{ userId, balance: BALANCE, slots: 5 }] };
    await seed(saga, shop);
    items.push(...shop.items);
    users.push(...shop.users);
    const { order } = await createOrder(depsOf(saga), { orderId: `o-${randomUUID()}`, userId, itemId, quantity: 1 });
    return { order, input: executionInput(order), shop };
  }

  const start = (input: unknown, orderId: string) => saga.stateMachine.start(input, orderId).done;

  /**
   * The interleaving every case here is made of: the first execution waits at its first write
   * matching `at`, the retry's execution runs to its end meanwhile (then `meanwhile`, given its
   * run), and only then does the first execution's write go out and the first finish.
   */
  async function overtaken(
    order: { orderId: string },
    input: unknown,
    at: Pick<FaultRule, 'step' | 'write'>,
    meanwhile: (second: ExecutionRecord) => Promise<void> | void = () => undefined,
  ) {
    let release!: () => void;
    const held = faults.add({ orderId: order.orderId, ...at, fault: 'hold', gate: new Promise((r) => (release = r)) });
    const one = start(input, order.orderId);
    while (held() === 0) await new Promise((r) => setTimeout(r, 5));
    const two = await start(input, order.orderId);
    await meanwhile(two);
    release();
    return { one: await one, two };
  }
  const outputOf = (run: ExecutionRecord) => run.output as { status: string; failedStep?: string; reason?: string };

  it('a step refused to one execution is refused to the other, even once it could succeed', async () => {
    const { order, input, shop } = await pendingOrder(0);
    // The first execution's ReserveStock write waits; the retry's refusal is decided meanwhile.
    const { one: run } = await overtaken(order, input, { step: 'ReserveStock', write: 'commit' }, async (two) => {
      expect(outputOf(two)).toMatchObject({ status: 'FAILED', failedStep: 'ReserveStock', reason: 'OutOfStock' });
      // The item is back in stock before the first execution's write goes out.
      await restockItem(depsOf(saga), order.itemId, 1);
      // (The shop's item is the suite's too: the stock it must account for.)
      (shop.items[0] as { stock: number }).stock += 1;
    });

    // It replays the refusal instead of reserving, charging, and compensating later.
    expect(failuresOf(run, 'ReserveStock')).toEqual(['OutOfStock']);
    expect(tasksEntered(run)).not.toContain('ChargePayment');
    const s = await snapshot(saga);
    expect(s.orders.get(order.orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'ReserveStock',
      reason: 'OutOfStock',
    });
    expect(s.stock.get(order.itemId)).toBe(1);
    expect(s.balances.get(order.userId)).toBe(BALANCE);
    expect(s.providerCharges.filter((c) => c['orderId'] === order.orderId)).toEqual([]);
    expect(eventTypes(s, order.orderId)).not.toContain('ITEM_RESERVED');
    expect(eventTypes(s, order.orderId)).not.toContain('PAYMENT_PROCESSED');
    expect(stepStatuses(s, order.orderId)).not.toHaveProperty('ChargePayment');
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('an execution that gives up never lets the other complete the order it is undoing', async () => {
    const { order, input, shop } = await pendingOrder(10);
    // The provider is down for every attempt of the first execution: it gives up at ChargePayment.
    await scriptProvider(saga, order.orderId, { failCharges: 5 });
    // Its compensation of ChargePayment waits; the retry's execution starts now and gets ahead.
    const { one: run, two } = await overtaken(order, input, { step: 'ChargePayment', write: 'compensate' });

    expect(failuresOf(run, 'ChargePayment')).toHaveLength(5);
    const s = await snapshot(saga);
    // One fate: the purchase failed, and every effect either execution applied is undone.
    expect(s.orders.get(order.orderId)?.status).toBe('FAILED');
    expect(outputOf(two).status).toBe('FAILED');
    expect(s.balances.get(order.userId)).toBe(BALANCE);
    expect(s.stock.get(order.itemId)).toBe(10);
    expect(s.held.filter((h) => h['userId'] === order.userId)).toEqual([]);
    expect(s.providerCharges.filter((c) => c['orderId'] === order.orderId && c['status'] === 'CAPTURED')).toEqual([]);
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('an execution that gives up after the other completed the order undoes nothing', async () => {
    const { order, input, shop } = await pendingOrder(10);
    await scriptProvider(saga, order.orderId, { failCharges: 5 });
    // The first execution's chain starts by fencing CompleteOrder; that write waits while the
    // retry's execution completes the order.
    const { one: run, two } = await overtaken(order, input, { step: 'CompleteOrder', write: 'compensate' });
    expect(outputOf(two).status).toBe('COMPLETED');

    // The fence finds CompleteOrder committed: the purchase is complete, nothing is undone.
    expect(outputOf(run).status).toBe('COMPLETED');
    expect(tasksEntered(run).slice(-1)).toEqual(['FenceCompleteOrder']);
    const s = await snapshot(saga);
    expect(s.orders.get(order.orderId)?.status).toBe('COMPLETED');
    expect(s.balances.get(order.userId)).toBe(BALANCE - PRICE);
    expect(s.stock.get(order.itemId)).toBe(9);
    expect(s.held.filter((h) => h['userId'] === order.userId)).toMatchObject([{ quantity: 1 }]);
    expect(s.providerCharges.filter((c) => c['orderId'] === order.orderId)).toMatchObject([
      { status: 'CAPTURED', amount: PRICE },
    ]);
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it.each(['FAILED', 'COMPLETED'] as const)(
    'an execution that arrives after the other ended the order %s changes nothing',
    async (end) => {
      const { order, input, shop } = await pendingOrder(end === 'FAILED' ? 0 : 10);
      expect(outputOf(await start(input, order.orderId)).status).toBe(end);
      const before = await snapshot(saga);

      const late = await start(input, order.orderId);
      // Every step answers what its record says; the outcome is the one already recorded.
      expect(outputOf(late).status).toBe(end);
      const after = await snapshot(saga);
      expect(after.orders.get(order.orderId)).toEqual(before.orders.get(order.orderId));
      expect(after.steps.filter((r) => r['orderId'] === order.orderId)).toEqual(
        before.steps.filter((r) => r['orderId'] === order.orderId),
      );
      expect(after.balances).toEqual(before.balances);
      expect(after.stock).toEqual(before.stock);
      expect(after.slots).toEqual(before.slots);
      expect(after.providerCharges).toEqual(before.providerCharges);
      expect(invariantViolations(after, shop)).toEqual([]);
    },
  );
});
