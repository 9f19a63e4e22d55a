import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { orderIdFor } from '../../lambdas/api/routes/orders.js';
import type { LocalSaga } from '../../local/saga.js';
import { call, token } from '../support/api.js';
import { faultInjector, type FaultInjector } from '../support/faults.js';
import { invariantViolations, localSaga, seed, snapshot, type ShopSpec } from '../support/saga.js';

/** Both workflow types end to end through the API, and what a 5xx means for a retry. */
const shop: ShopSpec = {
  items: [{ itemId: 'lamp', price: 1_200, stock: 20 }],
  users: [{ userId: 'dana', balance: 50_000, slots: 20 }],
};

function everyFunction(faults: FaultInjector) {
  return Object.fromEntries([...SAGA_FUNCTIONS.map((f) => f.id), 'Api'].map((id) => [id, { ddb: faults.ddb }]));
}

describe('API: STANDARD workflow', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  let dana: string;
  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({
      stackProps: { workflowType: 'STANDARD', workflowWaitMs: 2_000 },
      overrides: everyFunction(faults),
    });
    await seed(saga, shop);
    dana = await token('dana');
  });
  afterAll(async () => {
    expect(invariantViolations(await snapshot(saga), shop)).toEqual([]);
    await saga.close();
  });

  it('runs the purchase as an execution named by the orderId and answers 201 when it ends in time', async () => {
    const k = randomUUID();
    const res = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 1 },
    });
    expect(saga.stateMachineType).toBe('STANDARD');
    expect(res.status).toBe(201);
    const orderId = orderIdFor('dana', k);
    expect(res.json).toMatchObject({ orderId, status: 'COMPLETED' });
    const executions = [...saga.stateMachine.executions.values()].map((e) => e.record);
    expect(executions.filter((e) => e.name === orderId)).toHaveLength(1);
  });

  it('answers 202 with Location while the execution runs longer than the wait, then the order completes', async () => {
    const k = randomUUID();
    const orderId = orderIdFor('dana', k);
    let release!: () => void;
    faults.add({
      orderId,
      step: 'ReserveStock',
      write: 'commit',
      fault: 'hold',
      gate: new Promise<void>((r) => (release = r)),
    });

    const res = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 2 },
    });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ orderId, status: 'PENDING' });
    expect(res.headers['location']).toBe(`/v1/orders/${orderId}`);
    const pending = await call(saga, { path: `/orders/${orderId}`, token: dana });
    expect(pending.json['status']).toBe('PENDING');

    // A retry is answered from the idempotency record without starting anything.
    const replay = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 2 },
    });
    expect(replay.status).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    release();
    const execution = [...saga.stateMachine.executions.values()].find((e) => e.record.name === orderId);
    await execution?.done;
    const done = await call(saga, { path: `/orders/${orderId}`, token: dana });
    expect(done.json['status']).toBe('COMPLETED');
    expect([...saga.stateMachine.executions.values()].filter((e) => e.record.name === orderId)).toHaveLength(1);
  });
});

describe('API: EXPRESS workflow and 5xx', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  let dana: string;
  let offsetMs = 0;
  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({
      overrides: {
        ...everyFunction(faults),
        Reconciler: { ddb: faults.ddb, clock: () => new Date(Date.now() + offsetMs) },
      },
    });
    await seed(saga, shop);
    dana = await token('dana');
  });
  afterAll(async () => {
    expect(invariantViolations(await snapshot(saga), shop)).toEqual([]);
    await saga.close();
  });

  it('runs the purchase synchronously (StartSyncExecution) and answers with the final result', async () => {
    const res = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: randomUUID(),
      body: { itemId: 'lamp', quantity: 1 },
    });
    expect(saga.stateMachineType).toBe('EXPRESS');
    expect(res.status).toBe(201);
    expect(res.json['status']).toBe('COMPLETED');
  });

  it('does not remember a 5xx: the retry with the same key continues the same order, once', async () => {
    const k = randomUUID();
    const orderId = orderIdFor('dana', k);
    faults.add({ orderId, step: '', write: 'create-order', fault: 'transient' });
    const failed = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 1 },
    });
    expect(failed.status).toBe(500);
    expect(failed.headers['content-type']).toBe('application/problem+json');

    const before = await snapshot(saga);
    const retried = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 1 },
    });
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.json['orderId']).toBe(orderId);
    const after = await snapshot(saga);
    expect(after.orders.size).toBe(before.orders.size + 1);
    expect(after.balances.get('dana')).toBe((before.balances.get('dana') ?? 0) - 1_200);
  });

  /** POST /orders whose execution dies at DeductBalance: the API answers 503 and the order stays PENDING. */
  async function abortedPurchase(k: string) {
    const orderId = orderIdFor('dana', k);
    let release!: () => void;
    const hold = faults.add({
      orderId,
      step: 'DeductBalance',
      write: 'commit',
      fault: 'hold',
      gate: new Promise<void>((r) => (release = r)),
    });
    const answer = call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 1 },
    });
    while (hold() === 0) await new Promise((r) => setTimeout(r, 10));
    [...saga.stateMachine.executions.values()].find((e) => e.record.name === orderId)?.abort();
    const first = await answer;
    release();
    while (hold.settled() === 0) await new Promise((r) => setTimeout(r, 10));
    return { orderId, first };
  }

  it('answers a purchase the reconciler ended TIMED_OUT with a final 409, remembered byte for byte', async () => {
    const k = randomUUID();
    const { orderId, first } = await abortedPurchase(k);
    expect(first.status).toBe(503);
    expect(first.json).toMatchObject({ type: 'https://purchase-saga.dev/problems/workflow-unavailable', orderId });

    offsetMs = 10 * 60_000;
    const reconciled = await saga.lambdas.get('Reconciler')?.invoke({ orderIds: [orderId] });
    offsetMs = 0;
    expect(reconciled?.ok && reconciled.payload).toMatchObject({ errors: [] });
    const balance = (await snapshot(saga)).balances.get('dana');

    const retries = [];
    for (let i = 0; i < 3; i++) {
      retries.push(
        await call(saga, { path: '/orders', token: dana, idempotencyKey: k, body: { itemId: 'lamp', quantity: 1 } }),
      );
    }
    const [retry, ...replays] = retries;
    expect(retry?.status).toBe(409);
    expect(retry?.json).toMatchObject({
      type: 'https://purchase-saga.dev/problems/purchase-failed',
      status: 409,
      orderId,
      // DeductBalance committed late; the reconciler fenced the next step and rolled back.
      failedStep: 'ReserveInventorySlots',
      reason: 'TIMED_OUT',
    });
    expect(retry?.headers['location']).toBe(`/v1/orders/${orderId}`);
    for (const replay of replays) {
      expect(replay.status).toBe(409);
      expect(replay.text).toBe(retry?.text);
      expect(replay.headers['idempotent-replayed']).toBe('true');
    }
    const s = await snapshot(saga);
    expect(s.orders.get(orderId)?.status).toBe('FAILED');
    expect(s.balances.get('dana')).toBe(balance);
    expect([...saga.stateMachine.executions.values()].filter((e) => e.record.name === orderId)).toHaveLength(1);
  });

  it('refuses a forgotten key reused with another body once its order exists (422, not remembered)', async () => {
    const k = randomUUID();
    // The order is created, then the run dies: the API answers 503 and forgets the key.
    const { orderId, first } = await abortedPurchase(k);
    expect(first.status).toBe(503);

    const other = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 3 },
    });
    expect(other.status).toBe(422);
    expect(other.json['type']).toBe('https://purchase-saga.dev/problems/idempotency-key-reused');
    const original = await call(saga, {
      path: '/orders',
      token: dana,
      idempotencyKey: k,
      body: { itemId: 'lamp', quantity: 1 },
    });
    expect(original.json['orderId']).toBe(orderId);
  });
});
