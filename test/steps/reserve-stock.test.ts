import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import { restockItem } from '../../lambdas/saga/admin.js';
import { depsOf, localSaga, seed, snapshot } from '../support/saga.js';
import { eventPayload, eventTypesOf, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 4, ReserveStock, and its compensation RestoreStock: the item's stock goes down by the
 * quantity in one conditional decrement, once, never below zero; the restore puts it back, once.
 */
describe('Step: ReserveStock / RestoreStock', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [
        { itemId: 'lamp', price: 100, stock: 1_000 },
        { itemId: 'rare', price: 100, stock: 1 },
        { itemId: 'scarce', price: 100, stock: 1 },
      ],
      users: [{ userId: 'ann', balance: 100_000, slots: 100 }],
    });
  });
  afterAll(() => saga.close());

  const stockOf = async (itemId: string) => (await snapshot(saga)).stock.get(itemId);

  it('takes the quantity from the stock, records it and carries ITEM_RESERVED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 5 });
    const before = (await stockOf('lamp')) ?? 0;
    expect(await ok(saga, 'ReserveStock', order)).toMatchObject({ status: 'COMMITTED', replayed: false });
    expect(await stockOf('lamp')).toBe(before - 5);
    expect(await stepRecordOf(saga, order, 'ReserveStock')).toMatchObject({
      status: 'COMMITTED',
      effect: { itemId: 'lamp', quantity: 5 },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'ITEM_RESERVED']);
    expect(await eventPayload(saga, order, 'ITEM_RESERVED')).toMatchObject({ itemId: 'lamp', reservedQuantity: 5 });
  });

  it('refuses more than the stock with OutOfStock, naming what is left, and records the refusal', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'scarce', quantity: 2 });
    const message = await refused(saga, 'ReserveStock', order, 'OutOfStock');
    expect(message).toMatch(/scarce/);
    expect(await stockOf('scarce')).toBe(1);
    expect(await stepRecordOf(saga, order, 'ReserveStock')).toMatchObject({
      status: 'REFUSED',
      refusal: { reason: 'OutOfStock', write: 0, old: { stock: 1 } },
    });
    // After a restock, a later invocation (another execution of the order) is refused the same.
    await restockItem(depsOf(saga), 'scarce', 5);
    expect(await refused(saga, 'ReserveStock', order, 'OutOfStock')).toBe(message);
    expect(await stockOf('scarce')).toBe(6);
  });

  it('sells the last item once when two orders race for it', async () => {
    const [first, second] = await Promise.all([
      pendingOrder(saga, { userId: 'ann', itemId: 'rare', quantity: 1 }),
      pendingOrder(saga, { userId: 'ann', itemId: 'rare', quantity: 1 }),
    ]);
    const outcomes = await Promise.all([first, second].map((o) => ok(saga, 'ReserveStock', o).catch(() => 'refused')));
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(1);
    expect(await stockOf('rare')).toBe(0);
  });

  it('replays a duplicate invocation: the stock taken once', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 2 });
    const before = (await stockOf('lamp')) ?? 0;
    const [a, b] = await Promise.all([ok(saga, 'ReserveStock', order), ok(saga, 'ReserveStock', order)]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(await stockOf('lamp')).toBe(before - 2);
  });

  it('puts the recorded quantity back, once, and carries ITEM_RESTORED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 7 });
    const before = await stockOf('lamp');
    await ok(saga, 'ReserveStock', order);
    expect(await ok(saga, 'RestoreStock', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: false });
    expect(await ok(saga, 'RestoreStock', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: true });
    expect(await stockOf('lamp')).toBe(before);
    expect(await eventPayload(saga, order, 'ITEM_RESTORED')).toMatchObject({ itemId: 'lamp', restoredQuantity: 7 });
  });

  it('fences a step that never ran, so a late invocation can never take stock', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    const before = await stockOf('lamp');
    expect(await ok(saga, 'RestoreStock', order)).toMatchObject({ outcome: 'FENCED' });
    await refused(saga, 'ReserveStock', order, 'StepFenced');
    expect(await stockOf('lamp')).toBe(before);
  });
});
