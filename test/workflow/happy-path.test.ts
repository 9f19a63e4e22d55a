import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import {
  eventTypes,
  invariantViolations,
  localSaga,
  newOrderId,
  purchase,
  seed,
  snapshot,
  stepStatuses,
  tasksEntered,
  type ShopSpec,
} from '../support/saga.js';

const shop: ShopSpec = {
  items: [{ itemId: 'sword', price: 3_000, stock: 10 }],
  users: [
    { userId: 'alice', balance: 10_000, slots: 5 },
    { userId: 'bob', balance: 10_000, slots: 5 },
  ],
  coupons: [{ userId: 'bob', couponId: 'WELCOME', discount: 1_000 }],
};

describe('Workflow: purchase happy path', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  it('completes a purchase without a coupon and moves money, stock and slots exactly once', async () => {
    const orderId = newOrderId();
    const { run } = await purchase(saga, { orderId, userId: 'alice', itemId: 'sword', quantity: 2 });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual({ orderId, status: 'COMPLETED', totalAmount: 6_000 });
    expect(tasksEntered(run)).toEqual([
      'DeductBalance',
      'ReserveInventorySlots',
      'ReserveStock',
      'ChargePayment',
      'CompleteOrder',
    ]);

    const s = await snapshot(saga);
    expect(s.balances.get('alice')).toBe(4_000);
    expect(s.stock.get('sword')).toBe(10 - 2);
    expect(s.slots.get('alice')).toEqual({ capacity: 5, usedSlots: 2, freeSlots: 3 });
    expect(s.held.filter((h) => h['userId'] === 'alice')).toMatchObject([{ itemId: 'sword', quantity: 2 }]);
    expect(s.reservations).toEqual([]);
    expect(s.orders.get(orderId)).toMatchObject({ status: 'COMPLETED', totalAmount: 6_000, discount: 0 });
    expect(s.payments.filter((p) => p['orderId'] === orderId)).toMatchObject([{ status: 'CAPTURED', amount: 6_000 }]);
    expect(s.providerCharges.filter((c) => c['orderId'] === orderId)).toMatchObject([
      { status: 'CAPTURED', amount: 6_000 },
    ]);
    expect(s.ledger.filter((l) => l['orderId'] === orderId)).toMatchObject([{ kind: 'ORDER_DEBIT', amount: -6_000 }]);
    expect(stepStatuses(s, orderId)).toEqual({
      DeductBalance: 'COMMITTED',
      ReserveInventorySlots: 'COMMITTED',
      ReserveStock: 'COMMITTED',
      ChargePayment: 'COMMITTED',
      CompleteOrder: 'COMMITTED',
    });
    expect(eventTypes(s, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'INVENTORY_RESERVED',
      'ITEM_RESERVED',
      'PAYMENT_PROCESSED',
      'ORDER_COMPLETED',
    ]);
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('completes a purchase with a coupon: the discount lowers the total and the coupon ends USED', async () => {
    const orderId = newOrderId();
    const { order, run } = await purchase(saga, {
      orderId,
      userId: 'bob',
      itemId: 'sword',
      quantity: 1,
      couponId: 'WELCOME',
    });

    expect(order.totalAmount).toBe(2_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(tasksEntered(run)).toEqual([
      'DeductBalance',
      'UseCoupon',
      'ReserveInventorySlots',
      'ReserveStock',
      'ChargePayment',
      'CompleteOrder',
    ]);

    const s = await snapshot(saga);
    expect(s.balances.get('bob')).toBe(8_000);
    expect(s.coupons.find((c) => c['couponId'] === 'WELCOME')).toMatchObject({
      status: 'USED',
      usedByOrderId: orderId,
    });
    expect(s.providerCharges.filter((c) => c['orderId'] === orderId)).toMatchObject([
      { status: 'CAPTURED', amount: 2_000 },
    ]);
    expect(eventTypes(s, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'COUPON_USED',
      'INVENTORY_RESERVED',
      'ITEM_RESERVED',
      'PAYMENT_PROCESSED',
      'ORDER_COMPLETED',
    ]);
    expect(invariantViolations(s, shop)).toEqual([]);
  });
});
