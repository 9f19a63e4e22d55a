import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderIdFor } from '../../lambdas/api/routes/orders.js';
import { MAX_AMOUNT, StepInput } from '../../lambdas/domain/model.js';
import { executionInput } from '../../lambdas/saga/orders.js';
import { mintDevToken } from '../../local/dev-auth.js';
import type { LocalSaga } from '../../local/saga.js';
import { call, token } from '../support/api.js';
import { invariantViolations, localSaga, scriptProvider, seed, snapshot, type ShopSpec } from '../support/saga.js';
import { signHs256, payload, unsigned } from '../support/jwt.js';

/**
 * The HTTP contract through API Gateway exactly as deployed (authorizer, proxy events, gateway
 * responses) against DynamoDB Local and the local EXPRESS workflow.
 */
const shop: ShopSpec = {
  items: [
    { itemId: 'sword', price: 3_000, stock: 100 },
    { itemId: 'last-one', price: 1_000, stock: 1 },
  ],
  users: [
    { userId: 'alice', balance: 100_000, slots: 50 },
    { userId: 'bob', balance: 100_000, slots: 50 },
    { userId: 'poor', balance: 10, slots: 5 },
    { userId: 'cramped', balance: 100_000, slots: 1 },
  ],
  coupons: [{ userId: 'alice', couponId: 'HALF', discount: 1_500 }],
};

const key = () => randomUUID();
const problemJson = 'application/problem+json';

describe('API: POST /orders', () => {
  let saga: LocalSaga;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
    [alice, bob] = await Promise.all([token('alice'), token('bob')]);
  });
  afterAll(async () => {
    expect(invariantViolations(await snapshot(saga), shop)).toEqual([]);
    await saga.close();
  });

  it('answers 201 with the completed order and a Location, and moves the money', async () => {
    const res = await call(saga, {
      path: '/orders',
      token: alice,
      idempotencyKey: key(),
      body: { itemId: 'sword', quantity: 2, couponId: 'HALF' },
    });

    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toMatchObject({
      status: 'COMPLETED',
      userId: 'alice',
      itemId: 'sword',
      quantity: 2,
      totalAmount: 4_500,
      discount: 1_500,
    });
    expect(res.headers['location']).toBe(`/v1/orders/${String(res.json['orderId'])}`);
    expect((res.json['events'] as { type: string }[]).map((e) => e.type)).toContain('ORDER_COMPLETED');
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    const s = await snapshot(saga);
    expect(s.balances.get('alice')).toBe(100_000 - 4_500);
  });

  it('replays the first answer byte for byte for the same key and body, changing nothing', async () => {
    const k = key();
    const first = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'sword', quantity: 1 },
    });
    const before = await snapshot(saga);
    const again = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'sword', quantity: 1 },
    });

    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['location']).toBe(first.headers['location']);
    const after = await snapshot(saga);
    expect(after.orders.size).toBe(before.orders.size);
    expect(after.providerCharges).toEqual(before.providerCharges);
    expect(after.balances).toEqual(before.balances);
  });

  it('answers 422 when a key is reused with a different body, and scopes keys per user', async () => {
    const k = key();
    const first = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'sword', quantity: 1 },
    });
    const reused = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'sword', quantity: 2 },
    });
    const otherUser = await call(saga, {
      path: '/orders',
      token: alice,
      idempotencyKey: k,
      body: { itemId: 'sword', quantity: 2 },
    });

    expect(first.status).toBe(201);
    expect(reused.status).toBe(422);
    expect(reused.headers['content-type']).toBe(problemJson);
    expect(reused.json).toMatchObject({
      type: 'https://purchase-saga.dev/problems/idempotency-key-reused',
      status: 422,
    });
    expect(otherUser.status).toBe(201);
    expect(otherUser.json['orderId']).not.toBe(first.json['orderId']);
  });

  it.each([
    ['missing', undefined, 'idempotency-key-missing'],
    ['too short', 'abc', 'idempotency-key-invalid'],
    ['with spaces', 'not a valid key at all', 'idempotency-key-invalid'],
  ])('answers 400 for a %s Idempotency-Key and writes nothing', async (_what, k, type) => {
    const before = await snapshot(saga);
    const res = await call(saga, {
      path: '/orders',
      token: bob,
      ...(k ? { idempotencyKey: k } : {}),
      body: { itemId: 'sword', quantity: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.json['type']).toBe(`https://purchase-saga.dev/problems/${type}`);
    expect((await snapshot(saga)).orders.size).toBe(before.orders.size);
  });

  it.each([
    ['an unknown field', { itemId: 'sword', quantity: 1, userId: 'alice' }],
    ['a string quantity', { itemId: 'sword', quantity: '1' }],
    ['a zero quantity', { itemId: 'sword', quantity: 0 }],
    ['a negative quantity', { itemId: 'sword', quantity: -1 }],
    ['a fractional quantity', { itemId: 'sword', quantity: 1.5 }],
    ['an absurd quantity', { itemId: 'sword', quantity: 1e12 }],
    ['a missing item', { quantity: 1 }],
    ['an item id with a key separator', { itemId: 'ITEM#sword', quantity: 1 }],
    ['an array body', [1, 2]],
  ])('answers 400 for %s and writes nothing', async (_what, body) => {
    const before = await snapshot(saga);
    const res = await call(saga, { path: '/orders', token: bob, idempotencyKey: key(), body });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(problemJson);
    expect(res.json).toMatchObject({ type: 'https://purchase-saga.dev/problems/validation-failed', status: 400 });
    expect(Array.isArray(res.json['errors'])).toBe(true);
    const after = await snapshot(saga);
    expect(after.orders.size).toBe(before.orders.size);
    expect(after.balances).toEqual(before.balances);
  });

  it('answers 400 for a body that is not JSON, 415 for another content type, 413 for a huge body', async () => {
    const before = await snapshot(saga);
    const notJson = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: key(),
      rawBody: '{"itemId": "sword",',
    });
    const wrongType = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: key(),
      rawBody: 'itemId=sword&quantity=1',
      contentType: 'application/x-www-form-urlencoded',
    });
    const noType = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: key(),
      body: { itemId: 'sword', quantity: 1 },
      contentType: null,
    });
    const huge = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: key(),
      body: { itemId: 'sword', quantity: 1, pad: 'x'.repeat(20_000) },
    });

    expect([notJson.status, wrongType.status, noType.status, huge.status]).toEqual([400, 415, 415, 413]);
    expect(notJson.json['type']).toBe('https://purchase-saga.dev/problems/bad-request');
    for (const r of [notJson, wrongType, noType, huge]) expect(r.headers['content-type']).toBe(problemJson);
    expect((await snapshot(saga)).orders.size).toBe(before.orders.size);
  });

  it('answers 404 for an unknown item, and replays it', async () => {
    const k = key();
    const res = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'nothing', quantity: 1 },
    });
    const again = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k,
      body: { itemId: 'nothing', quantity: 1 },
    });
    expect(res.status).toBe(404);
    expect(res.json['type']).toBe('https://purchase-saga.dev/problems/item-not-found');
    expect(again.text).toBe(res.text);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('refuses a total above the amount bound at once with 422, for any buyer, and creates no order', async () => {
    await seed(saga, { items: [{ itemId: 'crown', price: MAX_AMOUNT, stock: 5 }] });
    const before = await snapshot(saga);
    for (const user of ['alice', 'nobody-with-a-wallet']) {
      const t = await token(user);
      const k = key();
      const body = { itemId: 'crown', quantity: 2 };
      const res = await call(saga, { path: '/orders', token: t, idempotencyKey: k, body });
      expect(res.status, user).toBe(422);
      expect(res.headers['content-type']).toBe(problemJson);
      expect(res.json).toMatchObject({
        type: 'https://purchase-saga.dev/problems/amount-too-large',
        status: 422,
        detail: `The order total would be ${2 * MAX_AMOUNT}, above the largest amount handled, ${MAX_AMOUNT}`,
      });
      const replay = await call(saga, { path: '/orders', token: t, idempotencyKey: k, body });
      expect(replay.text).toBe(res.text);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect((await snapshot(saga)).orders.has(orderIdFor(user, k))).toBe(false);
    }
    const after = await snapshot(saga);
    expect(after.orders.size).toBe(before.orders.size);
    expect(after.events.length).toBe(before.events.length);
    expect(after.stock.get('crown')).toBe(5);

    // The bound is inclusive and the steps' own: a total of exactly MAX_AMOUNT reaches the saga,
    // which refuses it on the wallet, not on its input.
    const k = key();
    const atBound = await call(saga, {
      path: '/orders',
      token: await token('poor'),
      idempotencyKey: k,
      body: { itemId: 'crown', quantity: 1 },
    });
    expect(atBound.status).toBe(402);
    expect(atBound.json).toMatchObject({ failedStep: 'DeductBalance', reason: 'InsufficientBalance' });
    const order = (await snapshot(saga)).orders.get(orderIdFor('poor', k));
    expect(order?.totalAmount).toBe(MAX_AMOUNT);
    expect(order && StepInput.safeParse(executionInput(order)).success).toBe(true);
    expect(order && StepInput.safeParse({ ...executionInput(order), totalAmount: MAX_AMOUNT + 1 }).success).toBe(false);
  });

  it.each([
    ['poor', { itemId: 'sword', quantity: 1 }, 402, 'insufficient-balance', 'DeductBalance', 'InsufficientBalance'],
    ['cramped', { itemId: 'sword', quantity: 2 }, 409, 'inventory-full', 'ReserveInventorySlots', 'InventoryFull'],
    ['bob', { itemId: 'sword', quantity: 1, couponId: 'NOPE' }, 422, 'coupon-not-found', 'UseCoupon', 'CouponNotFound'],
  ])(
    'answers a refusal for %s as a documented problem with orderId, failedStep and reason',
    async (user, body, status, type, failedStep, reason) => {
      const k = key();
      const t = await token(user);
      const res = await call(saga, { path: '/orders', token: t, idempotencyKey: k, body });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe(problemJson);
      expect(res.json).toMatchObject({
        type: `https://purchase-saga.dev/problems/${type}`,
        status,
        orderId: orderIdFor(user, k),
        failedStep,
        reason,
      });
      const replay = await call(saga, { path: '/orders', token: t, idempotencyKey: k, body });
      expect(replay.status).toBe(status);
      expect(replay.text).toBe(res.text);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      const s = await snapshot(saga);
      expect(s.orders.get(orderIdFor(user, k))).toMatchObject({ status: 'FAILED', failedStep, reason });
    },
  );

  it('answers 409 out-of-stock and 402 payment-declined after compensating', async () => {
    const k1 = key();
    const first = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k1,
      body: { itemId: 'last-one', quantity: 1 },
    });
    const second = await call(saga, {
      path: '/orders',
      token: alice,
      idempotencyKey: key(),
      body: { itemId: 'last-one', quantity: 1 },
    });
    expect(first.status).toBe(201);
    expect(second.status).toBe(409);
    expect(second.json).toMatchObject({ failedStep: 'ReserveStock', reason: 'OutOfStock' });

    const k2 = key();
    await scriptProvider(saga, orderIdFor('bob', k2), { decline: 'card_declined' });
    const declined = await call(saga, {
      path: '/orders',
      token: bob,
      idempotencyKey: k2,
      body: { itemId: 'sword', quantity: 1 },
    });
    expect(declined.status).toBe(402);
    expect(declined.json).toMatchObject({
      type: 'https://purchase-saga.dev/problems/payment-declined',
      failedStep: 'ChargePayment',
      reason: 'PaymentDeclined',
    });
  });

  it('makes 20 concurrent requests with one key into one order and one charge', async () => {
    const k = key();
    const t = await token('alice');
    const before = await snapshot(saga);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(saga, { path: '/orders', token: t, idempotencyKey: k, body: { itemId: 'sword', quantity: 1 } }),
      ),
    );
    const orderId = orderIdFor('alice', k);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    // They all arrive while the first is running: the others are told it is in flight.
    expect(statuses).toContain(409);
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.json['type']).toBe('https://purchase-saga.dev/problems/idempotency-key-in-use');
      expect(a.headers['retry-after']).toBe('1');
    }
    const created = answers.filter((a) => a.status === 201);
    expect(new Set(created.map((a) => a.text)).size).toBe(1);
    expect(created.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);

    const after = await snapshot(saga);
    expect(after.orders.size).toBe(before.orders.size + 1);
    expect(after.providerCharges.filter((c) => c['orderId'] === orderId)).toHaveLength(1);
    expect(after.balances.get('alice')).toBe((before.balances.get('alice') ?? 0) - 3_000);
  });
});

describe('API: queries and admin', () => {
  let saga: LocalSaga;
  let alice: string;
  let bob: string;
  let admin: string;
  let aliceOrder: string;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
    [alice, bob, admin] = await Promise.all([token('alice'), token('bob'), token('root', true)]);
    const res = await call(saga, {
      path: '/orders',
      token: alice,
      idempotencyKey: key(),
      body: { itemId: 'sword', quantity: 1 },
    });
    aliceOrder = String(res.json['orderId']);
  });
  afterAll(() => saga.close());

  it('shows an order with its timeline to its owner and to admins, and 404 to anyone else', async () => {
    const owner = await call(saga, { path: `/orders/${aliceOrder}`, token: alice });
    const other = await call(saga, { path: `/orders/${aliceOrder}`, token: bob });
    const missing = await call(saga, { path: '/orders/o-does-not-exist', token: bob });
    const byAdmin = await call(saga, { path: `/orders/${aliceOrder}`, token: admin });

    expect(owner.status).toBe(200);
    expect(owner.json).toMatchObject({ orderId: aliceOrder, status: 'COMPLETED' });
    expect((owner.json['steps'] as unknown[]).length).toBe(5);
    expect((owner.json['events'] as { type: string }[]).map((e) => e.type)).toEqual([
      'ORDER_CREATED',
      'PAYMENT_RESERVED',
      'INVENTORY_RESERVED',
      'ITEM_RESERVED',
      'PAYMENT_PROCESSED',
      'ORDER_COMPLETED',
    ]);
    expect(byAdmin.status).toBe(200);
    expect(other.status).toBe(404);
    // Indistinguishable from an order that does not exist.
    expect({ ...other.json, instance: undefined, detail: undefined }).toEqual({
      ...missing.json,
      instance: undefined,
      detail: undefined,
    });
  });

  it('shows the caller their wallet, slots, items and coupons', async () => {
    const res = await call(saga, { path: '/me', token: alice });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      userId: 'alice',
      balance: 100_000 - 3_000,
      slots: { capacity: 50, used: 1, free: 49 },
      items: [{ itemId: 'sword', quantity: 1 }],
      coupons: [{ couponId: 'HALF', discount: 1_500, status: 'AVAILABLE', expiresAt: '2099-01-01T00:00:00.000Z' }],
    });
  });

  it('lists and shows items', async () => {
    const list = await call(saga, { path: '/items?limit=10', token: bob });
    const one = await call(saga, { path: '/items/sword', token: bob });
    const none = await call(saga, { path: '/items/nothing', token: bob });
    const badLimit = await call(saga, { path: '/items?limit=1000', token: bob });
    expect(list.status).toBe(200);
    expect((list.json['items'] as { itemId: string }[]).map((i) => i.itemId).sort()).toEqual(['last-one', 'sword']);
    expect(one.json).toEqual({ itemId: 'sword', name: 'Item sword', price: 3_000, stock: 99 });
    expect(none.status).toBe(404);
    expect(badLimit.status).toBe(400);
  });

  it('lets an admin create and restock items, top up wallets, grant coupons and set slots', async () => {
    const created = await call(saga, {
      path: '/admin/items',
      token: admin,
      body: { itemId: 'shield', name: 'Shield', price: 2_500, stock: 3 },
    });
    const duplicate = await call(saga, {
      path: '/admin/items',
      token: admin,
      body: { itemId: 'shield', name: 'Shield', price: 2_500, stock: 3 },
    });
    const restocked = await call(saga, { path: '/admin/items/shield/restock', token: admin, body: { quantity: 7 } });
    const topUpKey = key();
    const topUp = await call(saga, {
      path: '/admin/users/carol/top-ups',
      token: admin,
      idempotencyKey: topUpKey,
      body: { amount: 5_000 },
    });
    const topUpAgain = await call(saga, {
      path: '/admin/users/carol/top-ups',
      token: admin,
      idempotencyKey: topUpKey,
      body: { amount: 5_000 },
    });
    const coupon = await call(saga, {
      path: '/admin/users/carol/coupons',
      token: admin,
      body: { couponId: 'WELCOME', discount: 500, expiresAt: '2030-01-01T00:00:00Z' },
    });
    const slots = await call(saga, {
      method: 'PUT',
      path: '/admin/users/carol/slots',
      token: admin,
      body: { capacity: 4 },
    });
    const shrink = await call(saga, {
      method: 'PUT',
      path: '/admin/users/alice/slots',
      token: admin,
      body: { capacity: 0 },
    });
    const grow = await call(saga, {
      method: 'PUT',
      path: '/admin/users/alice/slots',
      token: admin,
      body: { capacity: 60 },
    });

    expect(created.status).toBe(201);
    expect(created.headers['location']).toBe('/v1/items/shield');
    expect(duplicate.status).toBe(409);
    expect(restocked.json).toMatchObject({ itemId: 'shield', stock: 10 });
    expect(topUp.json).toEqual({ userId: 'carol', balance: 5_000 });
    expect(topUpAgain.json).toEqual({ userId: 'carol', balance: 5_000 });
    expect(topUpAgain.headers['idempotent-replayed']).toBe('true');
    expect(coupon.status).toBe(201);
    expect(slots.json).toEqual({ userId: 'carol', slots: { capacity: 4, used: 0, free: 4 } });
    expect(shrink.status).toBe(409);
    // An existing user's capacity changes; free slots follow what is used.
    expect(grow.status).toBe(200);
    expect(grow.json).toEqual({ userId: 'alice', slots: { capacity: 60, used: 1, free: 59 } });

    const carol = await token('carol');
    const bought = await call(saga, {
      path: '/orders',
      token: carol,
      idempotencyKey: key(),
      body: { itemId: 'shield', quantity: 2, couponId: 'WELCOME' },
    });
    expect(bought.status).toBe(201);
    expect(bought.json).toMatchObject({ totalAmount: 4_500 });
    const s = await snapshot(saga);
    expect(s.ledger.filter((l) => l['userId'] === 'carol' && l['kind'] === 'TOP_UP')).toHaveLength(1);
  });

  it('keeps a wallet inside the amount bound: a top-up past it is 422, writes nothing, and leaves the key unused', async () => {
    const topUp = (idempotencyKey: string, amount: number) =>
      call(saga, { path: '/admin/users/dave/top-ups', token: admin, idempotencyKey, body: { amount } });
    const [first, over, later] = [key(), key(), key()];
    expect((await topUp(first, MAX_AMOUNT - 10)).json).toEqual({ userId: 'dave', balance: MAX_AMOUNT - 10 });
    const refused = await topUp(over, 11);
    expect(refused.status).toBe(422);
    expect(refused.json).toMatchObject({
      type: 'https://purchase-saga.dev/problems/amount-too-large',
      detail: `The balance of dave would be ${MAX_AMOUNT + 1}, above the largest amount handled, ${MAX_AMOUNT}`,
    });
    // A replay of the first top-up is still a replay, whatever the balance is now.
    const replay = await topUp(first, MAX_AMOUNT - 10);
    expect(replay.json).toEqual({ userId: 'dave', balance: MAX_AMOUNT - 10 });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    // Up to the bound exactly; the refused key was never used, so it can credit later.
    expect((await topUp(later, 10)).json).toEqual({ userId: 'dave', balance: MAX_AMOUNT });
    expect((await topUp(over, 1)).status).toBe(422);
    const s = await snapshot(saga);
    expect(s.balances.get('dave')).toBe(MAX_AMOUNT);
    expect(s.ledger.filter((l) => l['userId'] === 'dave').map((l) => l['amount'])).toEqual(
      expect.arrayContaining([MAX_AMOUNT - 10, 10]),
    );
    expect(s.ledger.filter((l) => l['userId'] === 'dave')).toHaveLength(2);
  });

  it('refuses admin routes to a user token with 403 and writes nothing', async () => {
    const res = await call(saga, {
      path: '/admin/items',
      token: bob,
      body: { itemId: 'hack', name: 'Hack', price: 1, stock: 1 },
    });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe(problemJson);
    expect((await call(saga, { path: '/items/hack', token: bob })).status).toBe(404);
  });
});

describe('API: authentication', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  const body = { itemId: 'sword', quantity: 1 };
  const unauthorized = async (t: string | undefined, extra: Record<string, string> = {}) => {
    const res = await call(saga, {
      path: '/orders',
      ...(t ? { token: t } : {}),
      idempotencyKey: key(),
      body,
      headers: extra,
    });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe(problemJson);
    expect(res.json['type']).toBe('https://purchase-saga.dev/problems/unauthenticated');
  };

  it('answers 401 without a token', () => unauthorized(undefined));
  it('answers 401 for an expired token', async () =>
    unauthorized(await mintDevToken({ userId: 'alice', ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) })));
  it('answers 401 for a token signed with another key', async () =>
    unauthorized(await signHs256(payload({ sub: 'alice' }))));
  it('answers 401 for an unsigned token claiming to be an admin', () =>
    unauthorized(unsigned(payload({ sub: 'root', role: 'admin' }))));
  it('answers 401 for a forged admin token signed with another key', async () =>
    unauthorized(
      await signHs256(payload({ sub: 'root', role: 'admin' }), 'another-secret-of-at-least-thirty-two-bytes'),
    ));
  it('answers 401 for a malformed Authorization header', async () => {
    const res = await call(saga, { path: '/me', headers: { Authorization: 'Basic YWxpY2U6cGFzcw==' } });
    expect(res.status).toBe(401);
  });
  it('ignores identity claims in headers: the principal is the token subject', async () => {
    const t = await token('bob');
    const res = await call(saga, { path: '/me', token: t, headers: { 'X-User-Id': 'alice' } });
    expect(res.json['userId']).toBe('bob');
  });
  it('answers 404 problem+json for an unknown route', async () => {
    const res = await call(saga, { path: '/wallets', token: await token('bob') });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe(problemJson);
  });
});
