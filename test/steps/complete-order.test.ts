import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepInput } from '../../lambdas/domain/model.js';
import type { LocalSaga } from '../../local/saga.js';
import { localSaga, seed, snapshot } from '../support/saga.js';
import { endOrder, eventPayload, eventTypesOf, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 6, CompleteOrder, and FenceCompleteOrder: in one transaction the slot reservation becomes
 * an owned item and the order COMPLETED (only from PENDING); nothing undoes a completion, so the
 * fence either reports the order completed or makes sure it never will be.
 */
describe('Step: CompleteOrder / FenceCompleteOrder', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 100, stock: 1_000 }],
      users: [{ userId: 'ann', balance: 100_000, slots: 100 }],
    });
  });
  afterAll(() => saga.close());

  /** An order that got through the steps before CompleteOrder's: its slots are reserved. */
  async function reservedOrder(quantity: number): Promise<StepInput> {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity });
    await ok(saga, 'ReserveInventorySlots', order);
    return order;
  }
  const stateOf = async (order: StepInput) => {
    const s = await snapshot(saga);
    return {
      status: s.orders.get(order.orderId)?.status,
      held: s.held.find((h) => h['userId'] === 'ann' && h['itemId'] === 'lamp')?.['quantity'],
      reservations: s.reservations.filter((r) => r['orderId'] === order.orderId).length,
      slots: s.slots.get('ann'),
    };
  };

  it('turns the reservation into an owned item and completes the order, carrying ORDER_COMPLETED', async () => {
    const order = await reservedOrder(3);
    const before = await stateOf(order);
    expect(await ok(saga, 'CompleteOrder', order)).toMatchObject({ status: 'COMMITTED', replayed: false });
    expect(await stateOf(order)).toEqual({
      status: 'COMPLETED',
      held: Number(before.held ?? 0) + 3,
      reservations: 0,
      // The slots stay used: by the item now instead of the reservation.
      slots: before.slots,
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'INVENTORY_RESERVED', 'ORDER_COMPLETED']);
    expect(await eventPayload(saga, order, 'ORDER_COMPLETED')).toMatchObject({
      itemId: 'lamp',
      quantity: 3,
      totalAmount: 300,
    });
    // The order leaves the reconciler's index.
    expect((await snapshot(saga)).orders.get(order.orderId)).not.toHaveProperty('gsi1pk');
  });

  it('replays a duplicate invocation: the item granted once', async () => {
    const order = await reservedOrder(2);
    const before = await stateOf(order);
    const [a, b] = await Promise.all([ok(saga, 'CompleteOrder', order), ok(saga, 'CompleteOrder', order)]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect((await stateOf(order)).held).toBe(Number(before.held ?? 0) + 2);
  });

  it('never completes an order that has ended, and grants nothing', async () => {
    const order = await reservedOrder(1);
    await endOrder(saga, order, 'FAILED');
    const before = await stateOf(order);
    await refused(saga, 'CompleteOrder', order, 'OrderStateConflict');
    expect(await stateOf(order)).toEqual(before);
    expect(await stepRecordOf(saga, order, 'CompleteOrder')).toBeUndefined();
  });

  it('fences a completion that never happened, so a late invocation can never complete the order', async () => {
    const order = await reservedOrder(1);
    const before = await stateOf(order);
    expect(await ok(saga, 'FenceCompleteOrder', order)).toMatchObject({ outcome: 'FENCED' });
    await refused(saga, 'CompleteOrder', order, 'StepFenced');
    expect(await stateOf(order)).toEqual(before);
    expect(await stepRecordOf(saga, order, 'CompleteOrder')).toMatchObject({ status: 'FENCED' });
  });

  it('reports a completion that did happen as OrderAlreadyCompleted: nothing is undone', async () => {
    const order = await reservedOrder(1);
    await ok(saga, 'CompleteOrder', order);
    const before = await stateOf(order);
    await refused(saga, 'FenceCompleteOrder', order, 'OrderAlreadyCompleted');
    expect(await stateOf(order)).toEqual(before);
  });
});
