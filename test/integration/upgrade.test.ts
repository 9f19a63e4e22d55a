import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/shared/dynamodb/keys.js';
import type { LocalSaga } from '../../local/saga.js';
import { localSaga, seed, snapshot } from '../support/saga.js';
import { eventTypesOf, ok, pendingOrder, stepRecordOf } from '../support/step-spec.js';

/**
 * A stack upgraded while orders are mid-saga: their order and step records were written before
 * items carried their events (no `events` map). Compensating them and ending them must still
 * work, and still say so with their events.
 */
describe('Upgrade: items written before they carried their events', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 500, stock: 10 }],
      users: [{ userId: 'ann', balance: 10_000, slots: 10 }],
    });
  });
  afterAll(() => saga.close());

  /** The item as the previous version wrote it: no `events` map (its events were items of their own). */
  const legacy = (key: { pk: string; sk: string }) =>
    saga.ddb.send(
      new UpdateCommand({ TableName: saga.tables.ORDERS_TABLE, Key: key, UpdateExpression: 'REMOVE events' }),
    );

  it('compensates a step committed before, and ends its order FAILED, each with its event', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 2 });
    await ok(saga, 'DeductBalance', order);
    await legacy(keys.stepRecord(order.orderId, 'DeductBalance'));
    await legacy(keys.order(order.orderId));
    expect(await eventTypesOf(saga, order)).toEqual([]);

    expect(await ok(saga, 'RefundBalance', order)).toMatchObject({ outcome: 'COMPENSATED' });
    expect(await stepRecordOf(saga, order, 'DeductBalance')).toMatchObject({ status: 'COMPENSATED' });
    expect((await snapshot(saga)).balances.get('ann')).toBe(10_000);

    const failure = { step: 'DeductBalance', error: { Error: 'States.Timeout' } };
    expect(await ok(saga, 'MarkOrderFailed', { ...order, failure })).toMatchObject({ status: 'FAILED' });
    expect(await eventTypesOf(saga, order)).toEqual(['PAYMENT_ROLLBACK', 'ORDER_FAILED']);
  });
});
