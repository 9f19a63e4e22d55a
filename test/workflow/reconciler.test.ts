import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { FORWARD_STEPS, type ForwardStep } from '../../lambdas/domain/model.js';
import { SimulatedPaymentProvider } from '../../lambdas/payments/simulated.js';
import type { PaymentProvider } from '../../lambdas/payments/port.js';
import { setSlotCapacity } from '../../lambdas/saga/admin.js';
import { CHARGE_RECHECK_AFTER_SECONDS } from '../../lambdas/saga/payment.js';
import type { LocalSaga } from '../../local/saga.js';
import { faultInjector, type FaultInjector } from '../support/faults.js';
import {
  depsOf,
  eventTypes,
  invariantViolations,
  localSaga,
  purchase,
  scriptProvider,
  seed,
  snapshot,
  startPurchase,
  stepStatuses,
  type ShopSpec,
} from '../support/saga.js';

/**
 * The safety net for executions that die: an execution aborted in the middle (at each step in
 * turn, and while compensating) leaves a PENDING order that the reconciler drives to a terminal
 * state from the step records alone; COMPENSATION_FAILED orders are retried with backoff until
 * resolved. The stalled invocation's late write is released afterwards and must change nothing.
 */
const STEPS: ForwardStep[] = FORWARD_STEPS;
const shop: ShopSpec = { items: [{ itemId: 'gem', price: 1_000, stock: 1_000 }] };
const BALANCE = 10_000;
const TOTAL = 2 * 1_000 - 100;

describe('Reconciler', () => {
  let saga: LocalSaga;
  let faults: FaultInjector;
  let offsetMs = 0;
  const later = (minutes: number) => (offsetMs = minutes * 60_000);

  // ChargePayment's provider waits on `providerStall` wherever a script asks for a delay: a
  // charge held in flight for as long as a test needs.
  let providerStall: { reached: boolean; gate: Promise<void> } | undefined;
  let simulated: SimulatedPaymentProvider | undefined;
  const stallableProvider: PaymentProvider = {
    charge: (request) => provider().charge(request),
    refund: (request) => provider().refund(request),
  };
  const provider = () =>
    (simulated ??= new SimulatedPaymentProvider({
      ddb: faults.ddb,
      table: saga.tables.PAYMENTS_TABLE,
      sleep: async (ms) => {
        if (!providerStall) return new Promise((r) => setTimeout(r, ms));
        providerStall.reached = true;
        return providerStall.gate;
      },
    }));

  beforeAll(async () => {
    faults = faultInjector();
    saga = await localSaga({
      overrides: {
        ...Object.fromEntries(SAGA_FUNCTIONS.map((f) => [f.id, { ddb: faults.ddb }])),
        ChargePayment: { ddb: faults.ddb, provider: stallableProvider },
        Reconciler: { ddb: faults.ddb, clock: () => new Date(Date.now() + offsetMs) },
      },
    });
    await seed(saga, shop);
  });
  afterAll(() => saga.close());

  async function buyer() {
    const userId = `u-${randomUUID().slice(0, 8)}`;
    await seed(saga, {
      users: [{ userId, balance: BALANCE, slots: 10 }],
      coupons: [{ userId, couponId: `C-${userId}`, discount: 100 }],
    });
    return { userId, couponId: `C-${userId}`, orderId: `o-${randomUUID()}`, itemId: 'gem', quantity: 2 };
  }

  type Buyer = Awaited<ReturnType<typeof buyer>>;

  async function reconcile(event: unknown = {}) {
    const result = await saga.lambdas.get('Reconciler')?.invoke(event);
    if (!result?.ok) throw new Error(`Reconciler failed: ${JSON.stringify(result)}`);
    return result.payload as { examined: number; outcomes: Record<string, number>; errors: unknown[] };
  }

  /** Start a purchase, stall it at `step`'s write, and kill the execution there. */
  async function abortAt(b: Buyer, step: ForwardStep, write: 'commit' | 'compensate' = 'commit') {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const hold = faults.add({ orderId: b.orderId, step, write, fault: 'hold', gate });
    const { execution } = await startPurchase(saga, b);
    while (hold() === 0) await new Promise((r) => setTimeout(r, 10));
    execution.abort();
    expect((await execution.done).status).toBe('ABORTED');
    return {
      /** Let the stalled write go, and wait until it was tried. */
      async releaseLateWrite() {
        release();
        while (hold.settled() === 0) await new Promise((r) => setTimeout(r, 10));
      },
    };
  }

  it.each(STEPS)('resolves an order whose execution died at %s, and the late write changes nothing', async (step) => {
    const b = await buyer();
    const stalled = await abortAt(b, step);
    expect((await snapshot(saga)).orders.get(b.orderId)?.status).toBe('PENDING');

    later(0);
    expect((await reconcile({ orderIds: [b.orderId] })).outcomes).toEqual({ SKIPPED: 1 });
    later(6);
    const run = await reconcile();
    expect(run.errors).toEqual([]);
    await stalled.releaseLateWrite();

    const s = await snapshot(saga);
    const order = s.orders.get(b.orderId);
    if (step === 'CompleteOrder') {
      // Every effect (payment included) had committed: the reconciler finishes the purchase.
      expect(order?.status).toBe('COMPLETED');
      expect(s.balances.get(b.userId)).toBe(BALANCE - TOTAL);
      expect(s.held.filter((h) => h['userId'] === b.userId)).toMatchObject([{ quantity: 2 }]);
    } else {
      expect(order).toMatchObject({ status: 'FAILED', failedStep: step, reason: 'TIMED_OUT' });
      expect(stepStatuses(s, b.orderId)[step]).toBe('FENCED');
      expect(s.balances.get(b.userId)).toBe(BALANCE);
      expect(s.providerCharges.filter((c) => c['orderId'] === b.orderId && c['status'] === 'CAPTURED')).toEqual([]);
      expect(eventTypes(s, b.orderId).at(-1)).toBe('ORDER_FAILED');
    }
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('refunds a charge a straggling ChargePayment captured after RefundPayment fenced it, and died before recording', async () => {
    const b = await buyer();
    let release!: () => void;
    providerStall = { reached: false, gate: new Promise<void>((r) => (release = r)) };
    await scriptProvider(saga, b.orderId, { delayMs: 1 });
    // Once the straggler has captured, its step record never gets written: it dies there.
    const died = faults.add({ orderId: b.orderId, step: 'ChargePayment', write: 'commit', fault: 'transient' });
    const { execution } = await startPurchase(saga, b);
    while (!providerStall.reached) await new Promise((r) => setTimeout(r, 10));
    execution.abort();

    // The reconciler compensates: RefundPayment asks the provider (no charge yet) and fences the step.
    later(6);
    expect((await reconcile({ orderIds: [b.orderId] })).outcomes).toEqual({ FAILED: 1 });
    let s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({ status: 'FAILED', failedStep: 'ChargePayment' });
    expect(stepStatuses(s, b.orderId)['ChargePayment']).toBe('FENCED');

    // The straggler wakes, captures, and dies before it can see the fence.
    release();
    while (died() === 0) await new Promise((r) => setTimeout(r, 10));
    providerStall = undefined;
    s = await snapshot(saga);
    expect(s.providerCharges.filter((c) => c['orderId'] === b.orderId)).toMatchObject([{ status: 'CAPTURED' }]);
    // The gap this closes: money taken for a failed order (and so missing from the wallets' sum).
    expect(invariantViolations(s, shop)).toEqual([
      expect.stringMatching(/^money: /),
      `order ${b.orderId} FAILED but its payment is captured`,
    ]);

    // Not before the straggler's time is up; then the scheduled run refunds it, once.
    expect((await reconcile()).outcomes['CHARGE_RECHECKED']).toBeUndefined();
    later(6 + CHARGE_RECHECK_AFTER_SECONDS / 60 + 1);
    const runs = await Promise.all([reconcile(), reconcile()]);
    expect(runs.map((r) => r.outcomes['CHARGE_RECHECKED'] ?? 0).reduce((a, n) => a + n, 0)).toBeGreaterThanOrEqual(1);
    expect((await reconcile()).outcomes['CHARGE_RECHECKED']).toBeUndefined();

    s = await snapshot(saga);
    // The provider's ledger: the charge, and its refund.
    expect(s.providerCharges.filter((c) => c['orderId'] === b.orderId)).toMatchObject([
      { status: 'REFUNDED', amount: TOTAL },
    ]);
    expect(s.balances.get(b.userId)).toBe(BALANCE);
    expect(s.steps.find((r) => r['orderId'] === b.orderId && r['step'] === 'ChargePayment')).toMatchObject({
      status: 'FENCED',
      chargeRecheck: expect.stringMatching(/^REFUNDED /),
    });
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it.each([
    {
      after: 'a decline',
      arrange: (b: Buyer) => scriptProvider(saga, b.orderId, { decline: 'card_declined' }),
      diesAt: 'ReserveStock',
      ended: { failedStep: 'ChargePayment', reason: 'PaymentDeclined' },
      steps: { DeductBalance: 'COMPENSATED', ReserveStock: 'COMPENSATED', ChargePayment: 'DECLINED' },
    },
    {
      // 2 wanted, 1 slot: InventoryFull; the execution dies at the last compensation.
      after: 'a refusal',
      arrange: (b: Buyer) => setSlotCapacity(depsOf(saga), { userId: b.userId, capacity: 1 }),
      diesAt: 'DeductBalance',
      ended: { failedStep: 'ReserveInventorySlots', reason: 'InventoryFull' },
      steps: { DeductBalance: 'COMPENSATED', UseCoupon: 'COMPENSATED', ReserveInventorySlots: 'REFUSED' },
    },
  ] as const)(
    'finishes the compensation of an execution that died while compensating after $after, with its recorded reason',
    async ({ arrange, diesAt, ended, steps }) => {
      const b = await buyer();
      await arrange(b);
      const stalled = await abortAt(b, diesAt, 'compensate');
      later(6);
      await reconcile({ orderIds: [b.orderId] });
      await stalled.releaseLateWrite();

      const s = await snapshot(saga);
      expect(s.orders.get(b.orderId)).toMatchObject({ status: 'FAILED', ...ended });
      expect(stepStatuses(s, b.orderId)).toMatchObject(steps);
      expect(invariantViolations(s, shop)).toEqual([]);
    },
  );

  it('retries a COMPENSATION_FAILED order with backoff until it resolves to FAILED', async () => {
    const b = await buyer();
    await scriptProvider(saga, b.orderId, { decline: 'card_declined' });
    // RestoreStock fails 6 times in the execution (1 + 5 retries) and once more in the reconciler.
    faults.add({ orderId: b.orderId, step: 'ReserveStock', write: 'compensate', fault: 'transient', times: 7 });
    const { run } = await purchase(saga, b);
    expect(run.error).toBe('CompensationFailed');

    later(0);
    const first = await reconcile();
    expect(first.outcomes['POSTPONED']).toBe(1);
    let s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({ status: 'COMPENSATION_FAILED', compensationAttempts: 1 });

    // Not due yet (backoff 60 s): nothing happens.
    expect((await reconcile()).outcomes['RESOLVED']).toBeUndefined();
    later(2);
    const second = await reconcile();
    expect(second.outcomes['RESOLVED']).toBe(1);

    s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({
      status: 'FAILED',
      failedStep: 'ChargePayment',
      reason: 'PaymentDeclined',
    });
    expect(eventTypes(s, b.orderId)).toContain('ORDER_COMPENSATION_FAILED');
    expect(eventTypes(s, b.orderId).at(-1)).toBe('ORDER_FAILED');
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('retries a COMPENSATION_FAILED order at once when asked for it, and resolves it once when runs overlap', async () => {
    const b = await buyer();
    await scriptProvider(saga, b.orderId, { decline: 'card_declined' });
    faults.add({ orderId: b.orderId, step: 'ReserveStock', write: 'compensate', fault: 'transient', times: 7 });
    await purchase(saga, b);
    later(0);
    expect((await reconcile({ orderIds: [b.orderId] })).outcomes).toEqual({ POSTPONED: 1 });
    // Its next retry is a minute away; an operator's request does not wait for it, and three
    // overlapping runs resolve it exactly once without failing.
    const runs = await Promise.all([1, 2, 3].map(() => reconcile({ orderIds: [b.orderId] })));
    expect(runs.flatMap((r) => r.errors)).toEqual([]);
    expect(runs.reduce((n, r) => n + (r.outcomes['RESOLVED'] ?? 0), 0)).toBe(1);
    const s = await snapshot(saga);
    expect(s.orders.get(b.orderId)).toMatchObject({ status: 'FAILED', reason: 'PaymentDeclined' });
    expect(invariantViolations(s, shop)).toEqual([]);
  });

  it('refuses a mistyped on-demand request instead of running a full pass', async () => {
    const result = await saga.lambdas.get('Reconciler')?.invoke({ orderIds: 'o-1' });
    expect(result).toMatchObject({ ok: false, error: { errorType: 'InvalidInput' } });
  });

  it('is safe to run concurrently with itself', async () => {
    const orders = await Promise.all([buyer(), buyer(), buyer()]);
    const stalls = [];
    for (const [i, b] of orders.entries()) stalls.push(await abortAt(b, STEPS[i + 2] as ForwardStep));
    later(6);
    const runs = await Promise.all([reconcile(), reconcile(), reconcile()]);
    for (const r of runs) expect(r.errors).toEqual([]);
    for (const stall of stalls) await stall.releaseLateWrite();

    const s = await snapshot(saga);
    for (const b of orders) expect(s.orders.get(b.orderId)?.status).toBe('FAILED');
    expect(invariantViolations(s, shop)).toEqual([]);
  });
});
