import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import { topUpBalance } from '../../lambdas/saga/admin.js';
import { depsOf, localSaga, seed, snapshot } from '../support/saga.js';
import { eventPayload, eventTypesOf, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 1, DeductBalance, and its compensation RefundBalance: the wallet pays the order total,
 * once, with a ledger entry; the refund gives back exactly what was taken, once.
 */
describe('Step: DeductBalance / RefundBalance', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 1_200, stock: 100 }],
      users: [
        { userId: 'ann', balance: 100_000, slots: 10 },
        { userId: 'bob', balance: 1_000, slots: 10 },
      ],
    });
  });
  afterAll(() => saga.close());

  const balanceOf = async (userId: string) => (await snapshot(saga)).balances.get(userId);
  const ledgerOf = async (orderId: string) =>
    (await snapshot(saga)).ledger.filter((e) => e['orderId'] === orderId).map((e) => [e['kind'], e['amount']]);

  it('takes the total from the wallet with a ledger entry, records what it took and carries PAYMENT_RESERVED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 2 });
    const before = await balanceOf('ann');
    expect(await ok(saga, 'DeductBalance', order)).toMatchObject({ status: 'COMMITTED', replayed: false });
    expect(await balanceOf('ann')).toBe((before ?? 0) - 2_400);
    expect(await ledgerOf(order.orderId)).toEqual([['ORDER_DEBIT', -2_400]]);
    expect(await stepRecordOf(saga, order, 'DeductBalance')).toMatchObject({
      status: 'COMMITTED',
      effect: { userId: 'ann', amount: 2_400 },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'PAYMENT_RESERVED']);
    expect(await eventPayload(saga, order, 'PAYMENT_RESERVED')).toMatchObject({
      requiredAmount: 2_400,
      reservedAmount: 2_400,
    });
  });

  it('refuses a wallet that cannot pay with InsufficientBalance, takes nothing and records the refusal', async () => {
    const order = await pendingOrder(saga, { userId: 'bob', itemId: 'lamp', quantity: 1 });
    const message = await refused(saga, 'DeductBalance', order, 'InsufficientBalance');
    expect(message).toMatch(/1200/);
    expect(await balanceOf('bob')).toBe(1_000);
    expect(await ledgerOf(order.orderId)).toEqual([]);
    expect(await stepRecordOf(saga, order, 'DeductBalance')).toMatchObject({
      status: 'REFUSED',
      refusal: { reason: 'InsufficientBalance', write: 0, old: { balance: 1_000 } },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED']);

    // The refusal is the step's decision for this order: once the wallet could pay, a later
    // invocation (another execution of the order) answers the same refusal and takes nothing.
    await topUpBalance(depsOf(saga), { userId: 'bob', amount: 5_000, topUpId: `after-${order.orderId}` });
    expect(await refused(saga, 'DeductBalance', order, 'InsufficientBalance')).toBe(message);
    expect(await balanceOf('bob')).toBe(6_000);
    expect(await ledgerOf(order.orderId)).toEqual([]);
  });

  it('replays a duplicate invocation: the same answer, the money taken once', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    const before = await balanceOf('ann');
    const [a, b] = await Promise.all([ok(saga, 'DeductBalance', order), ok(saga, 'DeductBalance', order)]);
    const again = await ok(saga, 'DeductBalance', order);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(again).toMatchObject({ status: 'COMMITTED', replayed: true, effect: { amount: 1_200 } });
    expect(await balanceOf('ann')).toBe((before ?? 0) - 1_200);
    expect(await ledgerOf(order.orderId)).toEqual([['ORDER_DEBIT', -1_200]]);
  });

  it('refunds exactly what was taken, once, with a ledger entry and PAYMENT_ROLLBACK', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 3 });
    const before = await balanceOf('ann');
    await ok(saga, 'DeductBalance', order);
    expect(await ok(saga, 'RefundBalance', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: false });
    expect(await ok(saga, 'RefundBalance', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: true });
    expect(await balanceOf('ann')).toBe(before);
    expect(await ledgerOf(order.orderId)).toEqual([
      ['ORDER_DEBIT', -3_600],
      ['ORDER_REFUND', 3_600],
    ]);
    expect(await stepRecordOf(saga, order, 'DeductBalance')).toMatchObject({ status: 'COMPENSATED' });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'PAYMENT_RESERVED', 'PAYMENT_ROLLBACK']);
    expect(await eventPayload(saga, order, 'PAYMENT_ROLLBACK')).toMatchObject({ refundedAmount: 3_600 });
  });

  it('fences a step that never ran, so a late invocation can never take the money', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    const before = await balanceOf('ann');
    expect(await ok(saga, 'RefundBalance', order)).toMatchObject({ outcome: 'FENCED' });
    await refused(saga, 'DeductBalance', order, 'StepFenced');
    expect(await balanceOf('ann')).toBe(before);
    expect(await ledgerOf(order.orderId)).toEqual([]);
    expect(await stepRecordOf(saga, order, 'DeductBalance')).toMatchObject({ status: 'FENCED' });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED']);
  });
});
