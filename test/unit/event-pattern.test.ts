import { describe, expect, it } from 'vitest';
import { matchesPattern, UnsupportedEventPattern, validatePattern } from '../../local/event-pattern.js';

/** The local stand-in's EventBridge patterns (rules and Lambda event filters). */
describe('Local: event patterns', () => {
  const event = {
    source: 'purchase-saga.orders',
    'detail-type': 'ORDER_COMPLETED',
    detail: { orderId: 'o-1', amount: 1500, tags: ['a', 'b'], coupon: null },
  };
  const match = (pattern: unknown) => matchesPattern(validatePattern(pattern), event);

  it('matches exact values, any of a list, nested fields and array elements', () => {
    expect(match({ source: ['purchase-saga.orders'], 'detail-type': ['ORDER_FAILED', 'ORDER_COMPLETED'] })).toBe(true);
    expect(match({ source: ['purchase-saga.orders'], 'detail-type': ['ORDER_FAILED'] })).toBe(false);
    expect(match({ detail: { orderId: ['o-1'], tags: ['b'] } })).toBe(true);
    expect(match({ detail: { coupon: [null] } })).toBe(true);
    expect(match({ detail: { missing: ['x'] } })).toBe(false);
  });

  it('supports prefix, suffix, anything-but, exists, numeric and equals-ignore-case', () => {
    expect(match({ 'detail-type': [{ prefix: 'ORDER_' }] })).toBe(true);
    expect(match({ 'detail-type': [{ suffix: '_FAILED' }] })).toBe(false);
    expect(match({ 'detail-type': [{ 'anything-but': ['ORDER_FAILED'] }] })).toBe(true);
    expect(match({ 'detail-type': [{ 'anything-but': { prefix: 'ORDER_' } }] })).toBe(false);
    expect(match({ detail: { orderId: [{ exists: true }], missing: [{ exists: false }] } })).toBe(true);
    expect(match({ detail: { amount: [{ numeric: ['>', 1000, '<=', 1500] }] } })).toBe(true);
    expect(match({ detail: { amount: [{ numeric: ['<', 1000] }] } })).toBe(false);
    expect(match({ source: [{ 'equals-ignore-case': 'PURCHASE-SAGA.ORDERS' }] })).toBe(true);
    expect(match({ $or: [{ source: ['x'] }, { 'detail-type': ['ORDER_COMPLETED'] }] })).toBe(true);
  });

  it('matches the stream filter of the Publisher on a Lambda stream record', () => {
    const filter = validatePattern({
      eventName: ['INSERT'],
      dynamodb: { Keys: { sk: { S: [{ prefix: 'EVENT#' }] } } },
    });
    const rec = (eventName: string, sk: string) => ({
      eventName,
      dynamodb: { Keys: { pk: { S: 'ORDER#o-1' }, sk: { S: sk } } },
    });
    expect(matchesPattern(filter, rec('INSERT', 'EVENT#ORDER_CREATED'))).toBe(true);
    expect(matchesPattern(filter, rec('MODIFY', 'EVENT#ORDER_CREATED'))).toBe(false);
    expect(matchesPattern(filter, rec('INSERT', 'STEP#DeductBalance'))).toBe(false);
  });

  it('refuses what it does not understand instead of matching nothing', () => {
    expect(() => validatePattern({ source: 'purchase-saga.orders' })).toThrow(UnsupportedEventPattern);
    expect(() => validatePattern({ source: [{ wildcard: 'purchase-*' }] })).toThrow(UnsupportedEventPattern);
    expect(() => validatePattern(['x'])).toThrow(UnsupportedEventPattern);
  });
});
