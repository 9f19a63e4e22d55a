import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import {
  invariantViolations,
  localSaga,
  newOrderId,
  purchase,
  seed,
  snapshot,
  type ShopSpec,
} from '../support/saga.js';

/**
 * 200 buyers race for 50 items: the conditional stock decrement lets exactly 50 through, the
 * other 150 are refused at ReserveStock and fully compensated.
 */
const BUYERS = 200;
const STOCK = 50;
const PRICE = 700;
const buyers = Array.from({ length: BUYERS }, (_, i) => ({ userId: `buyer-${i}`, balance: 5_000, slots: 3 }));
const shop: ShopSpec = { items: [{ itemId: 'limited', price: PRICE, stock: STOCK }], users: buyers };

describe('Workflow: concurrency', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  it(`sells exactly ${STOCK} of ${STOCK} to ${BUYERS} concurrent buyers`, { timeout: 240_000 }, async () => {
    const runs = await Promise.all(
      buyers.map((u) => purchase(saga, { orderId: newOrderId(), userId: u.userId, itemId: 'limited', quantity: 1 })),
    );

    const outputs = runs.map((r) => r.run.output as { status: string; reason?: string; failedStep?: string });
    expect(runs.every((r) => r.run.status === 'SUCCEEDED')).toBe(true);
    expect(outputs.filter((o) => o.status === 'COMPLETED')).toHaveLength(STOCK);
    const failed = outputs.filter((o) => o.status === 'FAILED');
    expect(failed).toHaveLength(BUYERS - STOCK);
    expect(new Set(failed.map((o) => `${o.failedStep}:${o.reason}`))).toEqual(new Set(['ReserveStock:OutOfStock']));

    const s = await snapshot(saga);
    expect(s.stock.get('limited')).toBe(0);
    expect([...s.orders.values()].filter((o) => o.status === 'COMPLETED')).toHaveLength(STOCK);
    expect([...s.balances.values()].every((b) => b >= 0)).toBe(true);
    const wallets = [...s.balances.values()].reduce((a, b) => a + b, 0);
    const captured = s.providerCharges
      .filter((c) => c['status'] === 'CAPTURED')
      .reduce((a, c) => a + Number(c['amount']), 0);
    expect(captured).toBe(STOCK * PRICE);
    expect(wallets + captured).toBe(BUYERS * 5_000);
    expect(invariantViolations(s, shop)).toEqual([]);
  });
});
