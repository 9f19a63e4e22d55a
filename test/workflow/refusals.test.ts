import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import {
  eventTypes,
  invariantViolations,
  localSaga,
  newOrderId,
  purchase,
  scriptProvider,
  seed,
  snapshot,
  startPurchase,
  tasksEntered,
  type Purchase,
  type ShopSpec,
  type Snapshot,
} from '../support/saga.js';
import { itemSize } from '../support/item-size.js';

/**
 * Every refusal point of the saga: the order ends FAILED with the refusing step and reason,
 * only the compensations of the steps that ran execute (in reverse order), and every aggregate
 * is exactly as it was before the purchase.
 */
const shop: ShopSpec = {
  items: [
    { itemId: 'potion', price: 1_000, stock: 100 },
    { itemId: 'rare', price: 1_000, stock: 1 },
  ],
  users: [
    { userId: 'rich', balance: 1_000_000, slots: 10 },
    { userId: 'poor', balance: 500, slots: 10 },
    { userId: 'full', balance: 1_000_000, slots: 1 },
  ],
  coupons: [
    { userId: 'rich', couponId: 'USED-ONE', discount: 100 },
    { userId: 'rich', couponId: 'OLD', discount: 100, expiresAt: '2020-01-01T00:00:00.000Z' },
    { userId: 'rich', couponId: 'DECLINE-ME', discount: 100 },
    { userId: 'full', couponId: 'FULL-ONE', discount: 100 },
  ],
};

/** What a purchase must leave untouched when it is refused. */
function aggregates(s: Snapshot) {
  return {
    balances: Object.fromEntries(s.balances),
    stock: Object.fromEntries(s.stock),
    slots: Object.fromEntries(s.slots),
    held: s.held,
    reservations: s.reservations,
    coupons: s.coupons.map(({ pk, sk, couponId, status, usedByOrderId }) => ({
      pk,
      sk,
      couponId,
      status,
      usedByOrderId,
    })),
    captured: s.providerCharges.filter((c) => c['status'] === 'CAPTURED'),
  };
}

describe('Workflow: refusals', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
    // Spend the USED-ONE coupon in a completed purchase first.
    const { run } = await purchase(saga, {
      orderId: newOrderId(),
      userId: 'rich',
      itemId: 'potion',
      quantity: 1,
      couponId: 'USED-ONE',
    });
    expect(run.output).toMatchObject({ status: 'COMPLETED' });
  });
  afterAll(() => saga.close());

  async function refused(p: Omit<Purchase, 'orderId'>, setup?: (orderId: string) => Promise<void>) {
    const orderId = newOrderId();
    await setup?.(orderId);
    const before = aggregates(await snapshot(saga));
    const { run } = await purchase(saga, { orderId, ...p });
    const after = await snapshot(saga);
    expect(aggregates(after)).toEqual(before);
    expect(invariantViolations(after, shop)).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    return { orderId, run, after };
  }

  it('refuses an order the wallet cannot pay: FAILED at DeductBalance, nothing to compensate', async () => {
    const { orderId, run, after } = await refused({ userId: 'poor', itemId: 'potion', quantity: 1 });
    expect(after.orders.get(orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'DeductBalance',
      reason: 'InsufficientBalance',
    });
    expect(run.output).toEqual({
      orderId,
      status: 'FAILED',
      failedStep: 'DeductBalance',
      reason: 'InsufficientBalance',
    });
    expect(tasksEntered(run)).toEqual(['DeductBalance', 'MarkOrderFailed']);
    expect(eventTypes(after, orderId)).toEqual(['ORDER_CREATED', 'ORDER_FAILED']);
    expect(after.ledger.filter((l) => l['orderId'] === orderId)).toEqual([]);
  });

  it.each([
    ['an unknown coupon', 'NOPE', 'CouponNotFound'],
    ['a used coupon', 'USED-ONE', 'CouponAlreadyUsed'],
    ['an expired coupon', 'OLD', 'CouponExpired'],
  ])('refuses %s at UseCoupon and refunds the balance', async (_what, couponId, reason) => {
    const { orderId, run, after } = await refused({ userId: 'rich', itemId: 'potion', quantity: 1, couponId });
    expect(after.orders.get(orderId)).toMatchObject({ status: 'FAILED', failedStep: 'UseCoupon', reason });
    expect(tasksEntered(run)).toEqual(['DeductBalance', 'UseCoupon', 'RefundBalance', 'MarkOrderFailed']);
    expect(eventTypes(after, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'PAYMENT_ROLLBACK',
      'ORDER_FAILED',
    ]);
    const total = after.orders.get(orderId)?.totalAmount ?? -1;
    expect(
      after.ledger
        .filter((l) => l['orderId'] === orderId)
        .map((l) => l['amount'])
        .sort(),
    ).toEqual([-total, total].sort());
  });

  it('refuses an order that does not fit the inventory and releases what ran before, coupon included', async () => {
    const { orderId, run, after } = await refused({
      userId: 'full',
      itemId: 'potion',
      quantity: 2,
      couponId: 'FULL-ONE',
    });
    expect(after.orders.get(orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'ReserveInventorySlots',
      reason: 'InventoryFull',
    });
    expect(tasksEntered(run)).toEqual([
      'DeductBalance',
      'UseCoupon',
      'ReserveInventorySlots',
      'RestoreCoupon',
      'RefundBalance',
      'MarkOrderFailed',
    ]);
    expect(eventTypes(after, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'COUPON_USED',
      'COUPON_RESTORED',
      'PAYMENT_ROLLBACK',
      'ORDER_FAILED',
    ]);
  });

  it('refuses an order for more than the stock: slots released, balance refunded', async () => {
    const { orderId, run, after } = await refused({ userId: 'rich', itemId: 'rare', quantity: 2 });
    expect(after.orders.get(orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'ReserveStock',
      reason: 'OutOfStock',
    });
    expect(tasksEntered(run)).toEqual([
      'DeductBalance',
      'ReserveInventorySlots',
      'ReserveStock',
      'ReleaseInventorySlots',
      'RefundBalance',
      'MarkOrderFailed',
    ]);
    expect(eventTypes(after, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'INVENTORY_RESERVED',
      'INVENTORY_ROLLBACK',
      'PAYMENT_ROLLBACK',
      'ORDER_FAILED',
    ]);
  });

  it('fails an order the provider declines: stock, slots, coupon and balance all restored in reverse order', async () => {
    const { orderId, run, after } = await refused(
      { userId: 'rich', itemId: 'potion', quantity: 3, couponId: 'DECLINE-ME' },
      (id) => scriptProvider(saga, id, { decline: 'card_declined' }),
    );
    expect(after.orders.get(orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'ChargePayment',
      reason: 'PaymentDeclined',
    });
    expect(tasksEntered(run)).toEqual([
      'DeductBalance',
      'UseCoupon',
      'ReserveInventorySlots',
      'ReserveStock',
      'ChargePayment',
      'RestoreStock',
      'ReleaseInventorySlots',
      'RestoreCoupon',
      'RefundBalance',
      'MarkOrderFailed',
    ]);
    expect(eventTypes(after, orderId)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'COUPON_USED',
      'INVENTORY_RESERVED',
      'ITEM_RESERVED',
      'PAYMENT_FAILED',
      'ITEM_RESTORED',
      'INVENTORY_ROLLBACK',
      'COUPON_RESTORED',
      'PAYMENT_ROLLBACK',
      'ORDER_FAILED',
    ]);
    expect(after.providerCharges.filter((c) => c['orderId'] === orderId)).toMatchObject([
      { status: 'DECLINED', declineCode: 'card_declined' },
    ]);
    // The longest path an order's items take (each step record with its forward and compensation
    // event, the order with two): every one stays under 1 KB, one write unit per write.
    const items = [after.orders.get(orderId) ?? {}, ...after.steps.filter((r) => r['orderId'] === orderId)];
    expect(items).toHaveLength(6);
    const sizes = items.map((i) => itemSize(i as Record<string, unknown>));
    expect(Math.max(...sizes)).toBeLessThan(1024);
  });

  it('leaves a refused order refused when its steps are invoked again', async () => {
    const { order, execution } = await startPurchase(saga, {
      orderId: newOrderId(),
      userId: 'poor',
      itemId: 'potion',
      quantity: 1,
    });
    await execution.done;
    const before = aggregates(await snapshot(saga));
    const deduct = saga.lambdas.get('DeductBalance');
    const again = await deduct?.invoke({ ...order });
    // The step's recorded refusal answers, whatever the wallet holds now.
    expect(again).toMatchObject({ ok: false, error: { errorType: 'InsufficientBalance' } });
    expect(aggregates(await snapshot(saga))).toEqual(before);
  });
});
