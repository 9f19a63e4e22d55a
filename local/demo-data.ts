import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { grantCoupon, putItem, setSlotCapacity, topUpBalance } from '../lambdas/saga/admin.js';
import type { Deps } from '../lambdas/saga/deps.js';
import { isConditionFailed } from '../lambdas/shared/dynamodb/step-engine.js';
import type { TableVar } from '../lambdas/shared/config.js';

/**
 * Demo data for `npm start`: a few items, users alice and bob with balances and slots, and a
 * coupon for alice. Written through the admin operations, and safe to run again on a persisted
 * database (each write is conditional; an existing record is left as it is).
 */
export const DEMO = {
  items: [
    { itemId: 'sword', name: 'Sword', price: 3_000, stock: 10 },
    { itemId: 'shield', name: 'Shield', price: 2_500, stock: 5 },
    { itemId: 'potion', name: 'Potion', price: 500, stock: 100 },
    { itemId: 'dragon-egg', name: 'Dragon egg', price: 9_000, stock: 1 },
  ],
  users: [
    { userId: 'alice', balance: 20_000, slots: 10 },
    { userId: 'bob', balance: 5_000, slots: 3 },
  ],
  coupons: [{ userId: 'alice', couponId: 'WELCOME', discount: 1_000, expiresAt: '2099-12-31T23:59:59.000Z' }],
} as const;

async function unlessExists(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (isConditionFailed(err) || err instanceof TransactionCanceledException) return;
    throw err;
  }
}

export async function seedDemo(deps: Deps<TableVar>): Promise<void> {
  for (const item of DEMO.items) await unlessExists(() => putItem(deps, item));
  for (const u of DEMO.users) {
    await topUpBalance(deps, { userId: u.userId, amount: u.balance, topUpId: `demo-${u.userId}` });
    await setSlotCapacity(deps, { userId: u.userId, capacity: u.slots });
  }
  for (const c of DEMO.coupons) await unlessExists(() => grantCoupon(deps, c));
}
