import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { FORWARD_STEPS, type ForwardStep } from '../../lambdas/domain/model.js';
import { SAGA_STEPS } from '../../lambdas/domain/steps.js';
import { createOrder, executionInput } from '../../lambdas/saga/orders.js';
import type { FunctionId, LocalSaga } from '../../local/saga.js';
import { faultInjector, type FaultInjector } from '../support/faults.js';
import {
  depsOf,
  failuresOf,
  invariantViolations,
  localSaga,
  purchase,
  retriesOf,
  scriptProvider,
  seed,
  snapshot,
  startPurchase,
  eventTypes,
  stepStatuses,
  tasksEntered,
  type ShopSpec,
  type Snapshot,
} from '../support/saga.js';

/**
 * The fault matrix of issue #2, for every step: a transient failure retried to success, a crash
 * after the effect committed, duplicate invocations (after the commit, while the first is stuck
 * mid-step, and two starting together), a compensation that fails transiently, and a
 * compensation whose forward step never committed (the fence against a late forward write).
 * After every case every invariant of DESIGN section 4 is checked.
 */
const STEPS: ForwardStep[] = FORWARD_STEPS;
const COMPENSATION = Object.fromEntries(SAGA_STEPS.map((s) => [s.name, s.compensation.name])) as Record<
  ForwardStep,
  FunctionId
>;
const PRICE = 1_000;
const BALANCE = 10_000;
const shop: ShopSpec = { items: [{ itemId: 'gem', price: PRICE, stock: 1_000 }] };

function everyFunction(injector: FaultInjector) {
  return Object.fromEntries(SAGA_FUNCTIONS.map((f) => [f.id, { ddb: injector.ddb }]));
}

/** A fresh buyer (wallet, slots, coupon) per case so each case's numbers are its own. */
async function buyer(saga: LocalSaga) {
  const userId = `u-${randomUUID().slice(0, 8)}`;
  const couponId = `C-${userId}`;
  await seed(saga, {
    users: [{ userId, balance: BALANCE, slots: 10 }],
    coupons: [{ userId, couponId, discount: 100 }],
  });
  // Every order carries the coupon, so UseCoupon and RestoreCoupon are part of every case.
  return { userId, couponId, orderId: `o-${randomUUID()}`, itemId: 'gem', quantity: 2 };
}

const TOTAL = PRICE * 2 - 100;

function expectCompleted(s: Snapshot, b: { userId: string; orderId: string; couponId: string }) {
  expect(s.orders.get(b.orderId)?.status).toBe('COMPLETED');
  expect(s.balances.get(b.userId)).toBe(BALANCE - TOTAL);
  expect(s.ledger.filter((l) => l['orderId'] === b.orderId)).toHaveLength(1);
  expect(s.held.filter((h) => h['userId'] === b.userId)).toMatchObject([{ quantity: 2 }]);
  expect(s.slots.get(b.userId)).toMatchObject({ usedSlots: 2, freeSlots: 8 });
  expect(s.providerCharges.filter((c) => c['orderId'] === b.orderId)).toMatchObject([
    { status: 'CAPTURED', amount: TOTAL },
  ]);
  expect(s.coupons.find((c) => c['couponId'] === b.couponId)).toMatchObject({
    status: 'USED',
    usedByOrderId: b.orderId,
  });
}

function expectUntouched(s: Snapshot, b: { userId: string; orderId: string; couponId: string }) {
  expect(s.balances.get(b.userId)).toBe(BALANCE);
  expect(s.held.filter((h) => h['userId'] === b.userId)).toEqual([]);
  expect(s.slots.get(b.userId)).toMatchObject({ usedSlots: 0, freeSlots: 10 });
  expect(s.providerCharges.filter((c) => c['orderId'] === b.orderId && c['status'] === 'CAPTURED')).toEqual([]);
  expect(s.coupons.find((c) => c['couponId'] === b.couponId)).toMatchObject({ status: 'AVAILABLE' });
}

describe('Workflow: fault matrix', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({ overrides: everyFunction(faults) });
    await seed(saga, shop);
  });
  afterAll(async () => {
    expect(invariantViolations(await snapshot(saga), shop)).toEqual([]);
    await saga.close();
  });

  describe.each(STEPS)('%s', (step) => {
    it('retries a transient failure to success and applies the effect once', async () => {
      const b = await buyer(saga);
      const fired = faults.add({ orderId: b.orderId, step, write: 'commit', fault: 'transient', times: 2 });
      const { run } = await purchase(saga, b);

      expect(fired()).toBe(2);
      expect(retriesOf(run, step)).toBe(2);
      expect(failuresOf(run, step)).toEqual([
        'ProvisionedThroughputExceededException',
        'ProvisionedThroughputExceededException',
      ]);
      const s = await snapshot(saga);
      expectCompleted(s, b);
      expect(invariantViolations(s, shop)).toEqual([]);
    });

    it('does not apply the effect twice when the Lambda dies after committing', async () => {
      const b = await buyer(saga);
      const fired = faults.add({ orderId: b.orderId, step, write: 'commit', fault: 'crash' });
      const { run } = await purchase(saga, b);

      expect(fired()).toBe(1);
      expect(failuresOf(run, step)).toEqual(['Runtime.ExitError']);
      expect(run.output).toMatchObject({ status: 'COMPLETED' });
      const s = await snapshot(saga);
      expectCompleted(s, b);
      expect(invariantViolations(s, shop)).toEqual([]);
    });

    it('answers duplicate invocations with the recorded result, from the step record alone', async () => {
      const b = await buyer(saga);
      const { order } = await purchase(saga, b);
      const before = await snapshot(saga);
      const lambda = saga.lambdas.get(step);
      const input = { ...order };

      const duplicates = await Promise.all([lambda?.invoke(input), lambda?.invoke(input)]);
      for (const d of duplicates)
        expect(d).toMatchObject({ ok: true, payload: { step, status: 'COMMITTED', replayed: true } });
      // One idempotency line: the steps keep nothing in the API's idempotency table.
      expect(await idempotencyRecordsOf(saga, step)).toEqual([]);

      const after = await snapshot(saga);
      expect(after.balances).toEqual(before.balances);
      expect(after.stock).toEqual(before.stock);
      expect(after.slots).toEqual(before.slots);
      expect(after.held).toEqual(before.held);
      expect(after.providerCharges).toEqual(before.providerCharges);
      expect(after.events.length).toBe(before.events.length);
      expect(invariantViolations(after, shop)).toEqual([]);
    });

    it('lets a duplicate that arrives while the first invocation is stuck mid-step take effect once', async () => {
      const b = await buyer(saga);
      // Every step before this one, committed: the order stands where the stuck invocation is.
      const { order } = await createOrder(depsOf(saga), b);
      const input = executionInput(order);
      await runSteps(saga, input, STEPS.slice(0, STEPS.indexOf(step)));
      const lambda = saga.lambdas.get(step);
      let release!: () => void;
      const hold = faults.add({
        orderId: b.orderId,
        step,
        write: 'commit',
        fault: 'hold',
        gate: new Promise<void>((r) => (release = r)),
      });
      const stuck = lambda?.invoke(input);
      while (hold() === 0) await new Promise((r) => setTimeout(r, 10));

      // As if the first had died there: the retry is not blocked by it, and commits.
      const retry = await lambda?.invoke(input);
      expect(retry).toMatchObject({ ok: true, payload: { step, status: 'COMMITTED' } });
      expect(retry?.ok && (retry.payload as { replayed?: boolean }).replayed).not.toBe(true);
      // The first wakes up: its write loses to the record, and it answers what the record says.
      release();
      expect(await stuck).toMatchObject({ ok: true, payload: { step, status: 'COMMITTED', replayed: true } });

      expect(stepStatuses(await snapshot(saga), b.orderId)[step]).toBe('COMMITTED');

      // The rest of the saga, and every effect exactly once (ChargePayment: both invocations
      // called the provider, with one idempotency key, for one charge).
      await runSteps(saga, input, STEPS.slice(STEPS.indexOf(step) + 1));
      const s = await snapshot(saga);
      expectCompleted(s, b);
      // Each step publishes its own event type: a second commit would repeat one.
      const types = eventTypes(s, b.orderId);
      expect(new Set(types).size).toBe(types.length);
      expect(invariantViolations(s, shop)).toEqual([]);
    });

    it('lets two invocations that start together take effect once', async () => {
      const b = await buyer(saga);
      const { order } = await createOrder(depsOf(saga), b);
      const input = executionInput(order);
      await runSteps(saga, input, STEPS.slice(0, STEPS.indexOf(step)));
      // ChargePayment: both are at the provider at once, with the one idempotency key.
      if (step === 'ChargePayment') await scriptProvider(saga, b.orderId, { delayMs: 50 });
      const lambda = saga.lambdas.get(step);

      const both = await Promise.all([lambda?.invoke(input), lambda?.invoke(input)]);
      const committed = both.filter((r) => r?.ok);
      expect(committed.length).toBeGreaterThanOrEqual(1);
      for (const r of committed) expect(r).toMatchObject({ payload: { step, status: 'COMMITTED' } });
      // The other either replayed the record or lost a transaction conflict (retried by the state machine).
      for (const r of both.filter((x) => !x?.ok)) expect(r).toMatchObject({ error: { errorType: 'TransientFault' } });
      expect(await lambda?.invoke(input)).toMatchObject({ ok: true, payload: { status: 'COMMITTED', replayed: true } });

      await runSteps(saga, input, STEPS.slice(STEPS.indexOf(step) + 1));
      const s = await snapshot(saga);
      expectCompleted(s, b);
      expect(invariantViolations(s, shop)).toEqual([]);
    });

    it('retries a compensation that fails transiently and still compensates exactly once', async () => {
      const b = await buyer(saga);
      const compensation = COMPENSATION[step];
      // Make the saga fail after `step` committed: a decline for the steps before the payment,
      // an unknown failure of the step itself for ChargePayment and CompleteOrder.
      if (step === 'ChargePayment' || step === 'CompleteOrder') {
        faults.add({ orderId: b.orderId, step, write: 'commit', fault: 'transient', times: 100 });
      } else {
        await scriptProvider(saga, b.orderId, { decline: 'insufficient_funds' });
      }
      const fired = faults.add({ orderId: b.orderId, step, write: 'compensate', fault: 'transient', times: 2 });
      const { run } = await purchase(saga, b);

      expect(fired()).toBe(2);
      expect(retriesOf(run, compensation)).toBe(2);
      expect(tasksEntered(run)).toContain(compensation);
      const s = await snapshot(saga);
      const failedStep = step === 'ChargePayment' || step === 'CompleteOrder' ? step : 'ChargePayment';
      expect(s.orders.get(b.orderId)).toMatchObject({ status: 'FAILED', failedStep });
      // Steps that never committed are fenced by their compensation; the others are undone.
      expect(stepStatuses(s, b.orderId)[step]).toBe(
        step === 'ChargePayment' || step === 'CompleteOrder' ? 'FENCED' : 'COMPENSATED',
      );
      expectUntouched(s, b);
      expect(invariantViolations(s, shop)).toEqual([]);
    });
  });
});

describe('Workflow: a compensation that keeps failing', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({ overrides: everyFunction(faults) });
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  it('ends COMPENSATION_FAILED, never silently FAILED, when a compensation keeps failing', async () => {
    const b = await buyer(saga);
    await scriptProvider(saga, b.orderId, { decline: 'do_not_honor' });
    faults.add({ orderId: b.orderId, step: 'ReserveStock', write: 'compensate', fault: 'transient', times: 100 });
    const { run } = await purchase(saga, b);

    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('CompensationFailed');
    expect(retriesOf(run, 'RestoreStock')).toBe(5);
    expect(tasksEntered(run).slice(-2)).toEqual(['RestoreStock', 'MarkCompensationFailed']);
    const s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({
      status: 'COMPENSATION_FAILED',
      failedStep: 'ChargePayment',
      reason: 'PaymentDeclined',
      compensationStep: 'RestoreStock',
      compensationError: 'ProvisionedThroughputExceededException',
    });
    // Nothing after the failed compensation ran: the stock reservation, slots and balance are
    // still held, visibly, for the operator and the reconciler.
    expect(stepStatuses(s, b.orderId)).toMatchObject({
      ReserveStock: 'COMMITTED',
      ReserveInventorySlots: 'COMMITTED',
      DeductBalance: 'COMMITTED',
    });
    // The invariants that hold even for a stuck order: ledger, slots, no double charge.
    expect(
      invariantViolations(s, shop).filter(
        (v) => v.startsWith('ledger') || v.startsWith('slots: u') || v.startsWith('payment'),
      ),
    ).toEqual([]);

    // A duplicate of the last task (a retry after a lost answer) reads the order and replays.
    const order = s.orders.get(b.orderId);
    if (!order) throw new Error('no order');
    const duplicate = await saga.lambdas.get('MarkCompensationFailed')?.invoke({
      ...executionInput(order),
      failure: { step: 'ChargePayment', error: { Error: 'PaymentDeclined' } },
      compensation: { step: 'RestoreStock', error: { Error: 'ProvisionedThroughputExceededException' } },
    });
    expect(duplicate).toMatchObject({ ok: true, payload: { status: 'COMPENSATION_FAILED', replayed: true } });
    expect(eventTypes(await snapshot(saga), b.orderId)).toEqual(eventTypes(s, b.orderId));
  });

  it('answers a duplicate MarkOrderFailed with the recorded outcome, changing nothing', async () => {
    const b = await buyer(saga);
    await scriptProvider(saga, b.orderId, { decline: 'card_declined' });
    const { order } = await purchase(saga, b);
    const before = await snapshot(saga);
    const duplicate = await saga.lambdas.get('MarkOrderFailed')?.invoke({
      ...executionInput(order),
      failure: { step: 'ChargePayment', error: { Error: 'PaymentDeclined' } },
    });
    expect(duplicate).toMatchObject({
      ok: true,
      payload: { status: 'FAILED', failedStep: 'ChargePayment', reason: 'PaymentDeclined', replayed: true },
    });
    const after = await snapshot(saga);
    expect(after.orders.get(b.orderId)).toEqual(before.orders.get(b.orderId));
    expect(eventTypes(after, b.orderId)).toEqual(eventTypes(before, b.orderId));
  });
});

describe('Workflow: fences against late forward writes', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  beforeAll(async () => {
    faults = faultInjector();
    // A short Lambda timeout so a held write times out quickly (Sandbox.Timedout), as a slow
    // invocation that Step Functions stops waiting for would.
    saga = await localSaga({ overrides: everyFunction(faults), lambdaTimeoutSeconds: 0.3 });
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  it.each(STEPS)('fences %s when it never committed, and its late write cannot commit afterwards', async (step) => {
    const b = await buyer(saga);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    faults.add({ orderId: b.orderId, step, write: 'commit', fault: 'hold', gate, times: 100 });

    const { execution } = await startPurchase(saga, b);
    const run = await execution.done;
    expect(failuresOf(run, step)[0]).toBe('Sandbox.Timedout');
    expect(tasksEntered(run)).toContain(COMPENSATION[step]);
    let s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({ status: 'FAILED', failedStep: step });
    expect(stepStatuses(s, b.orderId)[step]).toBe('FENCED');

    // Now the stalled invocations try to commit.
    release();
    const lambda = saga.lambdas.get(step);
    await Promise.all([...(lambda?.stragglers ?? [])]);
    const late = lambda?.lateOutcomes ?? [];
    expect(late.length).toBeGreaterThan(0);
    for (const outcome of late) expect(outcome).toMatchObject({ ok: false, error: { errorType: 'StepFenced' } });

    s = await snapshot(saga);
    expect(stepStatuses(s, b.orderId)[step]).toBe('FENCED');
    expect(s.orders.get(b.orderId)?.status).toBe('FAILED');
    expectUntouched(s, b);
    expect(invariantViolations(s, shop)).toEqual([]);
  });
});

/** Run forward steps by invoking their functions directly, in order, as the state machine would. */
async function runSteps(saga: LocalSaga, input: unknown, steps: ForwardStep[]): Promise<void> {
  for (const step of steps) {
    const result = await saga.lambdas.get(step)?.invoke(input);
    if (!result?.ok) throw new Error(`${step} failed: ${JSON.stringify(result)}`);
  }
}

async function idempotencyRecordsOf(saga: LocalSaga, step: string): Promise<unknown[]> {
  const { Items = [] } = await saga.ddb.send(new ScanCommand({ TableName: saga.tables.IDEMPOTENCY_TABLE }));
  return Items.filter((i) => String(i['id']).startsWith(`${step}#`));
}
