import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import { localSaga, seed, snapshot } from '../support/saga.js';
import { eventPayload, eventTypesOf, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 2, UseCoupon (only for an order with a coupon), and its compensation RestoreCoupon: the
 * buyer's coupon becomes USED by this order, once; the restore makes it AVAILABLE again, once.
 */
describe('Step: UseCoupon / RestoreCoupon', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 1_200, stock: 100 }],
      users: [{ userId: 'ann', balance: 100_000, slots: 10 }],
      coupons: [
        ...['C1', 'C2', 'C3', 'C4', 'C5', 'TAKEN'].map((couponId) => ({ userId: 'ann', couponId, discount: 200 })),
        { userId: 'ann', couponId: 'OLD', discount: 200, expiresAt: '2020-01-01T00:00:00.000Z' },
      ],
    });
  });
  afterAll(() => saga.close());

  const couponOf = async (couponId: string) => {
    const c = (await snapshot(saga)).coupons.find((i) => i['couponId'] === couponId);
    return { status: c?.['status'], usedByOrderId: c?.['usedByOrderId'] };
  };

  it('marks the coupon USED by the order, records which, and carries COUPON_USED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId: 'C1' });
    expect(order.discount).toBe(200);
    expect(await ok(saga, 'UseCoupon', order)).toMatchObject({ status: 'COMMITTED', replayed: false });
    expect(await couponOf('C1')).toEqual({ status: 'USED', usedByOrderId: order.orderId });
    expect(await stepRecordOf(saga, order, 'UseCoupon')).toMatchObject({
      status: 'COMMITTED',
      effect: { userId: 'ann', couponId: 'C1' },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'COUPON_USED']);
    expect(await eventPayload(saga, order, 'COUPON_USED')).toMatchObject({ couponId: 'C1', discount: 200 });
  });

  it.each([
    ['a coupon the buyer does not have', 'NOPE', 'CouponNotFound'],
    ['an expired coupon', 'OLD', 'CouponExpired'],
    ['a coupon another order used', 'TAKEN', 'CouponAlreadyUsed'],
  ])('refuses %s, uses nothing and records the refusal', async (_what, couponId, error) => {
    if (couponId === 'TAKEN') {
      await ok(saga, 'UseCoupon', await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId }));
    }
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId });
    const before = await couponOf(couponId);
    const message = await refused(saga, 'UseCoupon', order, error);
    expect(await couponOf(couponId)).toEqual(before);
    expect(await stepRecordOf(saga, order, 'UseCoupon')).toMatchObject({
      status: 'REFUSED',
      refusal: { reason: error },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED']);
    // Asked again (another execution of the order), the step answers the recorded refusal.
    expect(await refused(saga, 'UseCoupon', order, error)).toBe(message);
  });

  it('replays a duplicate invocation, even though the coupon is no longer AVAILABLE', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId: 'C2' });
    const [a, b] = await Promise.all([ok(saga, 'UseCoupon', order), ok(saga, 'UseCoupon', order)]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(await ok(saga, 'UseCoupon', order)).toMatchObject({ status: 'COMMITTED', replayed: true });
    expect(await couponOf('C2')).toEqual({ status: 'USED', usedByOrderId: order.orderId });
  });

  it('restores the coupon this order used, once, and carries COUPON_RESTORED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId: 'C3' });
    await ok(saga, 'UseCoupon', order);
    expect(await ok(saga, 'RestoreCoupon', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: false });
    expect(await ok(saga, 'RestoreCoupon', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: true });
    expect(await couponOf('C3')).toEqual({ status: 'AVAILABLE', usedByOrderId: undefined });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'COUPON_USED', 'COUPON_RESTORED']);
    expect(await eventPayload(saga, order, 'COUPON_RESTORED')).toMatchObject({ couponId: 'C3' });
  });

  it('fences a step that never ran, so a late invocation can never use the coupon', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1, couponId: 'C4' });
    expect(await ok(saga, 'RestoreCoupon', order)).toMatchObject({ outcome: 'FENCED' });
    await refused(saga, 'UseCoupon', order, 'StepFenced');
    expect(await couponOf('C4')).toEqual({ status: 'AVAILABLE', usedByOrderId: undefined });
  });

  it('refuses an order without a coupon as invalid input', async () => {
    const plain = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    await refused(saga, 'UseCoupon', plain, 'InvalidInput');
  });
});
