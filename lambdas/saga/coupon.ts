import { CouponAlreadyUsed, CouponExpired, CouponNotFound } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import { InvalidInput } from '../domain/errors.js';
import type { StepInput } from '../domain/model.js';
import { keys } from '../shared/dynamodb/keys.js';
import { commitForwardStep, compensateStep } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type CouponDeps = Deps<'COUPONS_TABLE' | 'ORDERS_TABLE'>;

/** Step 2 (only for orders with a coupon): mark the user's coupon USED by this order. */
export function useCoupon(deps: CouponDeps, order: StepInput) {
  const couponId = order.couponId;
  if (!couponId) throw new InvalidInput(`Order ${order.orderId} has no coupon; UseCoupon must not run`);
  const now = isoNow(deps);
  return commitForwardStep(deps.ddb, {
    orderId: order.orderId,
    step: 'UseCoupon',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    writes: [
      {
        Update: {
          TableName: deps.tables.COUPONS_TABLE,
          Key: keys.coupon(order.userId, couponId),
          UpdateExpression: 'SET #status = :used, usedByOrderId = :orderId, usedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND #status = :available AND expiresAt > :now',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':used': 'USED',
            ':available': 'AVAILABLE',
            ':orderId': order.orderId,
            ':now': now,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ],
    effect: { userId: order.userId, couponId },
    event: outboxEvent('COUPON_USED', order, now, { couponId, discount: order.discount }),
    refusal: (_i, old) => {
      if (!old) return new CouponNotFound(order.userId, couponId);
      if (old['status'] !== 'AVAILABLE') {
        return new CouponAlreadyUsed(
          couponId,
          typeof old['usedByOrderId'] === 'string' ? old['usedByOrderId'] : undefined,
        );
      }
      return new CouponExpired(couponId, String(old['expiresAt']));
    },
  });
}

/** Compensation of step 2: make the coupon AVAILABLE again, only if this order used it. */
export function restoreCoupon(deps: CouponDeps, order: StepInput) {
  const now = isoNow(deps);
  return compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'UseCoupon',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    undo: (record) => [
      {
        Update: {
          TableName: deps.tables.COUPONS_TABLE,
          Key: keys.coupon(String(record.effect['userId']), String(record.effect['couponId'])),
          UpdateExpression: 'SET #status = :available, restoredAt = :now REMOVE usedByOrderId, usedAt',
          ConditionExpression: '#status = :used AND usedByOrderId = :orderId',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':available': 'AVAILABLE',
            ':used': 'USED',
            ':orderId': order.orderId,
            ':now': now,
          },
        },
      },
    ],
    event: (record) => outboxEvent('COUPON_RESTORED', order, now, { couponId: String(record.effect['couponId']) }),
  });
}
