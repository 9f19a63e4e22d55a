import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import { setSlotCapacity } from '../../lambdas/saga/admin.js';
import { depsOf, localSaga, seed, snapshot } from '../support/saga.js';
import { eventPayload, eventTypesOf, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 3, ReserveInventorySlots, and its compensation ReleaseInventorySlots: the buyer's
 * inventory holds `quantity` slots for the order (a reservation item per order), once; the
 * release frees them and drops the reservation, once.
 */
describe('Step: ReserveInventorySlots / ReleaseInventorySlots', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 100, stock: 1_000 }],
      users: [
        { userId: 'ann', balance: 100_000, slots: 100 },
        { userId: 'cat', balance: 100_000, slots: 1 },
      ],
    });
  });
  afterAll(() => saga.close());

  const slotsOf = async (userId: string) => (await snapshot(saga)).slots.get(userId);
  const reservationOf = async (orderId: string) =>
    (await snapshot(saga)).reservations.filter((r) => r['orderId'] === orderId).map((r) => r['slots']);

  it('reserves the slots with a reservation item, records how many and carries INVENTORY_RESERVED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 3 });
    const before = await slotsOf('ann');
    expect(await ok(saga, 'ReserveInventorySlots', order)).toMatchObject({ status: 'COMMITTED', replayed: false });
    expect(await slotsOf('ann')).toEqual({
      capacity: 100,
      usedSlots: (before?.usedSlots ?? 0) + 3,
      freeSlots: (before?.freeSlots ?? 0) - 3,
    });
    expect(await reservationOf(order.orderId)).toEqual([3]);
    expect(await stepRecordOf(saga, order, 'ReserveInventorySlots')).toMatchObject({
      status: 'COMMITTED',
      effect: { userId: 'ann', slots: 3 },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'INVENTORY_RESERVED']);
    expect(await eventPayload(saga, order, 'INVENTORY_RESERVED')).toMatchObject({ itemId: 'lamp', reservedSlots: 3 });
  });

  it('refuses an inventory without room with InventoryFull, reserves nothing and records the refusal', async () => {
    const order = await pendingOrder(saga, { userId: 'cat', itemId: 'lamp', quantity: 2 });
    const message = await refused(saga, 'ReserveInventorySlots', order, 'InventoryFull');
    expect(await slotsOf('cat')).toEqual({ capacity: 1, usedSlots: 0, freeSlots: 1 });
    expect(await reservationOf(order.orderId)).toEqual([]);
    expect(await stepRecordOf(saga, order, 'ReserveInventorySlots')).toMatchObject({
      status: 'REFUSED',
      refusal: { reason: 'InventoryFull' },
    });
    // Once there is room, a later invocation (another execution of the order) is refused the same.
    await setSlotCapacity(depsOf(saga), { userId: 'cat', capacity: 5 });
    expect(await refused(saga, 'ReserveInventorySlots', order, 'InventoryFull')).toBe(message);
    expect(await slotsOf('cat')).toEqual({ capacity: 5, usedSlots: 0, freeSlots: 5 });
    expect(await reservationOf(order.orderId)).toEqual([]);
  });

  it('replays a duplicate invocation: the slots reserved once', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 2 });
    const before = await slotsOf('ann');
    const [a, b] = await Promise.all([
      ok(saga, 'ReserveInventorySlots', order),
      ok(saga, 'ReserveInventorySlots', order),
    ]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(await ok(saga, 'ReserveInventorySlots', order)).toMatchObject({ replayed: true });
    expect((await slotsOf('ann'))?.freeSlots).toBe((before?.freeSlots ?? 0) - 2);
    expect(await reservationOf(order.orderId)).toEqual([2]);
  });

  it('releases exactly the reserved slots and the reservation, once, and carries INVENTORY_ROLLBACK', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 4 });
    const before = await slotsOf('ann');
    await ok(saga, 'ReserveInventorySlots', order);
    expect(await ok(saga, 'ReleaseInventorySlots', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: false });
    expect(await ok(saga, 'ReleaseInventorySlots', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: true });
    expect(await slotsOf('ann')).toEqual(before);
    expect(await reservationOf(order.orderId)).toEqual([]);
    expect(await eventPayload(saga, order, 'INVENTORY_ROLLBACK')).toMatchObject({ releasedSlots: 4 });
  });

  it('fences a step that never ran, so a late invocation can never reserve', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    const before = await slotsOf('ann');
    expect(await ok(saga, 'ReleaseInventorySlots', order)).toMatchObject({ outcome: 'FENCED' });
    await refused(saga, 'ReserveInventorySlots', order, 'StepFenced');
    expect(await slotsOf('ann')).toEqual(before);
    expect(await reservationOf(order.orderId)).toEqual([]);
  });
});
