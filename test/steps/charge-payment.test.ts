import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSaga } from '../../local/saga.js';
import { localSaga, scriptProvider, seed, snapshot } from '../support/saga.js';
import { eventPayload, eventTypesOf, invoke, ok, pendingOrder, refused, stepRecordOf } from '../support/step-spec.js';

/**
 * Step 5, ChargePayment, and its compensation RefundPayment, against the simulated provider:
 * one charge per order (the provider's idempotency key `charge-<orderId>`), recorded after the
 * provider answered; a decline recorded as a fact; the refund by the same key, once.
 */
describe('Step: ChargePayment / RefundPayment', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [{ itemId: 'lamp', price: 1_500, stock: 1_000 }],
      users: [{ userId: 'ann', balance: 100_000, slots: 100 }],
    });
  });
  afterAll(() => saga.close());

  const moneyOf = async (orderId: string) => {
    const s = await snapshot(saga);
    return {
      payments: s.payments.filter((p) => p['orderId'] === orderId).map((p) => [p['status'], p['amount']]),
      provider: s.providerCharges.filter((c) => c['orderId'] === orderId).map((c) => [c['status'], c['amount']]),
    };
  };

  it('charges the total once at the provider, records the charge and carries PAYMENT_PROCESSED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 2 });
    const charged = await ok(saga, 'ChargePayment', order);
    expect(charged).toMatchObject({ status: 'COMMITTED', replayed: false, effect: { amount: 3_000 } });
    expect(await moneyOf(order.orderId)).toEqual({ payments: [['CAPTURED', 3_000]], provider: [['CAPTURED', 3_000]] });
    expect(await stepRecordOf(saga, order, 'ChargePayment')).toMatchObject({
      status: 'COMMITTED',
      effect: { amount: 3_000, chargeId: (charged['effect'] as { chargeId: string }).chargeId },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'PAYMENT_PROCESSED']);
    expect(await eventPayload(saga, order, 'PAYMENT_PROCESSED')).toMatchObject({ paymentAmount: 3_000 });
  });

  it("records the provider's decline as a fact, carries PAYMENT_FAILED and refuses again without asking", async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    await scriptProvider(saga, order.orderId, { decline: 'card_declined' });
    expect(await refused(saga, 'ChargePayment', order, 'PaymentDeclined')).toMatch(/card_declined/);
    expect(await refused(saga, 'ChargePayment', order, 'PaymentDeclined')).toMatch(/card_declined/);
    expect(await moneyOf(order.orderId)).toEqual({ payments: [], provider: [['DECLINED', 1_500]] });
    expect(await stepRecordOf(saga, order, 'ChargePayment')).toMatchObject({
      status: 'DECLINED',
      effect: { declineCode: 'card_declined' },
    });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'PAYMENT_FAILED']);
    // Nothing was taken: the compensation has nothing to undo.
    expect(await ok(saga, 'RefundPayment', order)).toMatchObject({ outcome: 'NOTHING_TO_UNDO' });
  });

  it('charges once when duplicate invocations race: one key, one charge', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    const answers = await Promise.all([ok(saga, 'ChargePayment', order), ok(saga, 'ChargePayment', order)]);
    expect(answers.map((a) => a['replayed']).sort()).toEqual([false, true]);
    expect(answers[0]['effect']).toEqual(answers[1]['effect']);
    expect(await ok(saga, 'ChargePayment', order)).toMatchObject({ replayed: true });
    expect(await moneyOf(order.orderId)).toEqual({ payments: [['CAPTURED', 1_500]], provider: [['CAPTURED', 1_500]] });
  });

  it('refunds the charge by its key, once, and carries PAYMENT_REFUNDED', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 3 });
    await ok(saga, 'ChargePayment', order);
    expect(await ok(saga, 'RefundPayment', order)).toMatchObject({ outcome: 'COMPENSATED', provider: 'REFUNDED' });
    expect(await ok(saga, 'RefundPayment', order)).toMatchObject({ outcome: 'COMPENSATED', replayed: true });
    expect(await moneyOf(order.orderId)).toEqual({ payments: [['REFUNDED', 4_500]], provider: [['REFUNDED', 4_500]] });
    expect(await eventTypesOf(saga, order)).toEqual(['ORDER_CREATED', 'PAYMENT_PROCESSED', 'PAYMENT_REFUNDED']);
    expect(await eventPayload(saga, order, 'PAYMENT_REFUNDED')).toMatchObject({ refundedAmount: 4_500 });
  });

  it('fences a charge that never happened, never charges afterwards, and asks the reconciler to look again', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    expect(await ok(saga, 'RefundPayment', order)).toMatchObject({ outcome: 'FENCED', provider: 'NO_CHARGE' });
    await refused(saga, 'ChargePayment', order, 'StepFenced');
    expect(await moneyOf(order.orderId)).toEqual({ payments: [], provider: [] });
    // A ChargePayment already at the provider could still capture: the record is due for a recheck.
    expect(await stepRecordOf(saga, order, 'ChargePayment')).toMatchObject({
      status: 'FENCED',
      gsi1pk: expect.stringMatching(/^CHARGE_RECHECK#/) as unknown,
    });
  });

  it('gives back at once a charge the provider took after RefundPayment fenced the step', async () => {
    const order = await pendingOrder(saga, { userId: 'ann', itemId: 'lamp', quantity: 1 });
    // The charge is slow: RefundPayment finds no charge and fences the step while it is in flight.
    await scriptProvider(saga, order.orderId, { delayMs: 300 });
    const charging = invoke(saga, 'ChargePayment', order);
    await new Promise((r) => setTimeout(r, 50));
    expect(await ok(saga, 'RefundPayment', order)).toMatchObject({ outcome: 'FENCED', provider: 'NO_CHARGE' });
    // The provider captures; the record's put meets the fence, and the step refunds what it took.
    expect(await charging).toMatchObject({ ok: false, error: 'StepFenced' });
    expect(await moneyOf(order.orderId)).toEqual({ payments: [], provider: [['REFUNDED', 1_500]] });
    expect(await stepRecordOf(saga, order, 'ChargePayment')).toMatchObject({ status: 'FENCED' });
  });
});
