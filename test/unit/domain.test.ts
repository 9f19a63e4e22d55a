import { describe, expect, it } from 'vitest';
import { outboxEvent } from '../../lambdas/domain/events.js';
import { orderTotal, StepInput } from '../../lambdas/domain/model.js';
import { errorDetail } from '../../lambdas/saga/outcome.js';
import { keys } from '../../lambdas/shared/dynamodb/keys.js';

describe('Domain: order total', () => {
  it('is price x quantity minus the discount, never below zero', () => {
    expect(orderTotal(3_000, 2, 0)).toBe(6_000);
    expect(orderTotal(3_000, 2, 1_000)).toBe(5_000);
    expect(orderTotal(500, 1, 1_000)).toBe(0);
  });
});

describe('Domain: step input', () => {
  const valid = {
    orderId: 'o-1',
    userId: 'alice',
    itemId: 'sword',
    quantity: 1,
    unitPrice: 100,
    discount: 0,
    totalAmount: 100,
  };

  it('accepts the execution input and whatever the state machine adds to it', () => {
    expect(StepInput.parse({ ...valid, lastResult: { output: {} } })).toMatchObject(valid);
  });

  it.each([
    ['a fractional quantity', { quantity: 1.5 }],
    ['a zero quantity', { quantity: 0 }],
    ['a negative amount', { totalAmount: -1 }],
    ['an absurd amount', { totalAmount: 1e18 }],
    ['an id with a key separator', { userId: 'USER#x' }],
    ['a missing order id', { orderId: undefined }],
  ])('rejects %s', (_what, patch) => {
    expect(StepInput.safeParse({ ...valid, ...patch }).success).toBe(false);
  });
});

describe('Domain: outbox events', () => {
  it('have a stable id per order and type and carry orderId, userId and timestamp', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const e = outboxEvent('PAYMENT_RESERVED', { orderId: 'o-1', userId: 'alice' }, at, { reservedAmount: 100 });
    expect(e).toEqual({
      eventId: 'o-1:PAYMENT_RESERVED',
      type: 'PAYMENT_RESERVED',
      orderId: 'o-1',
      userId: 'alice',
      timestamp: at,
      payload: { orderId: 'o-1', userId: 'alice', timestamp: at, reservedAmount: 100 },
    });
  });
});

describe('Domain: keys', () => {
  it("puts an order, its step records and the Notifier's delivery records (with their events) in one partition", () => {
    const pk = keys.order('o-1').pk;
    expect(keys.stepRecord('o-1', 'DeductBalance').pk).toBe(pk);
    expect(keys.orderDelivery('o-1', 'notifier', 'o-1:ORDER_COMPLETED').pk).toBe(pk);
  });
});

describe('Outcome: error detail', () => {
  it('extracts the message of a Lambda error cause and keeps a plain cause as it is', () => {
    const cause = JSON.stringify({
      errorType: 'OutOfStock',
      errorMessage: 'Item x has 0 in stock, 1 requested',
      trace: [],
    });
    expect(errorDetail(cause)).toBe('Item x has 0 in stock, 1 requested');
    expect(errorDetail('Task timed out')).toBe('Task timed out');
    expect(errorDetail(undefined)).toBeUndefined();
  });
});
