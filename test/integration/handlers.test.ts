import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler as deductBalance } from '../../lambdas/deduct-balance/app.js';
import type { LocalSaga } from '../../local/saga.js';
import { localSaga, seed, snapshot } from '../support/saga.js';

describe('Handlers: input and environment', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, { users: [{ userId: 'alice', balance: 1_000, slots: 1 }] });
  });
  afterAll(() => saga.close());

  it('fails fast, naming the variable, when a table is not configured', () => {
    expect(() => deductBalance({ ORDERS_TABLE: 'orders', IDEMPOTENCY_TABLE: 'idem' })).toThrow(/ACCOUNTS_TABLE/);
  });

  it.each([
    ['a non-object', 'hello'],
    ['a missing total', { orderId: 'o-x', userId: 'alice', itemId: 'i', quantity: 1, unitPrice: 1, discount: 0 }],
    [
      'a negative total',
      { orderId: 'o-x', userId: 'alice', itemId: 'i', quantity: 1, unitPrice: 1, discount: 0, totalAmount: -5 },
    ],
  ])('refuses %s as InvalidInput and writes nothing', async (_what, payload) => {
    const before = await snapshot(saga);
    const result = await saga.lambdas.get('DeductBalance')?.invoke(payload);
    expect(result).toMatchObject({ ok: false, error: { errorType: 'InvalidInput' } });
    const after = await snapshot(saga);
    expect(after.balances).toEqual(before.balances);
    expect(after.steps).toEqual(before.steps);
    expect(after.ledger).toEqual(before.ledger);
  });
});
