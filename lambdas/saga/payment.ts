import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DataInconsistent, PaymentDeclined, StepFenced } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { StepInput } from '../domain/model.js';
import { paymentKeys, type PaymentProvider, type RefundResult } from '../payments/port.js';
import { keys, statusIndexKey } from '../shared/dynamodb/keys.js';
import {
  commitForwardStep,
  compensateStep,
  isConditionFailed,
  readStepRecord,
  type StepOutcome,
} from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

export type PaymentDeps = Deps<'PAYMENTS_TABLE' | 'ORDERS_TABLE'> & { provider: PaymentProvider; currency: string };

/**
 * Step 5: settle the order with the payment provider (the seeds' "payment processed").
 * The provider is external, so the step record cannot be in the same transaction as the charge:
 * the charge is made idempotent by its key instead, and the record follows it.
 */
export async function chargePayment(deps: PaymentDeps, order: StepInput): Promise<StepOutcome> {
  const existing = await readStepRecord(deps.ddb, deps.tables.ORDERS_TABLE, order.orderId, 'ChargePayment');
  if (existing?.status === 'COMMITTED')
    return { step: 'ChargePayment', status: 'COMMITTED', effect: existing.effect, replayed: true };
  if (existing?.status === 'DECLINED') throw new PaymentDeclined(order.orderId, String(existing.effect['declineCode']));
  // Fenced or compensated: the saga gave up on this step; never charge.
  if (existing) throw new StepFenced(order.orderId, 'ChargePayment', existing.status);

  const chargeKey = paymentKeys.charge(order.orderId);
  const result = await deps.provider.charge({
    idempotencyKey: chargeKey,
    orderId: order.orderId,
    userId: order.userId,
    amount: order.totalAmount,
    currency: deps.currency,
  });
  const now = isoNow(deps);

  if (result.outcome === 'DECLINED') {
    const recorded = await commitForwardStep(deps.ddb, {
      orderId: order.orderId,
      step: 'ChargePayment',
      ordersTable: deps.tables.ORDERS_TABLE,
      now,
      recordStatus: 'DECLINED',
      writes: [],
      effect: { declineCode: result.declineCode },
      event: outboxEvent('PAYMENT_FAILED', order, now, {
        paymentAmount: order.totalAmount,
        reason: 'PaymentDeclined',
        declineCode: result.declineCode,
      }),
      refusal: () => new PaymentDeclined(order.orderId, result.declineCode),
    });
    throw new PaymentDeclined(order.orderId, String(recorded.effect['declineCode']));
  }

  try {
    return await commitForwardStep(deps.ddb, {
      orderId: order.orderId,
      step: 'ChargePayment',
      ordersTable: deps.tables.ORDERS_TABLE,
      now,
      writes: [
        {
          Put: {
            TableName: deps.tables.PAYMENTS_TABLE,
            Item: {
              ...keys.payment(order.orderId),
              orderId: order.orderId,
              userId: order.userId,
              amount: result.amount,
              currency: deps.currency,
              chargeId: result.chargeId,
              idempotencyKey: chargeKey,
              status: 'CAPTURED',
              capturedAt: now,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
      effect: { chargeId: result.chargeId, amount: result.amount },
      event: outboxEvent('PAYMENT_PROCESSED', order, now, {
        paymentAmount: result.amount,
        paymentMethod: 'PROVIDER',
        chargeId: result.chargeId,
      }),
      refusal: () => new DataInconsistent(`Payment record of order ${order.orderId} exists without a step record`),
    });
  } catch (err) {
    if (err instanceof StepFenced) {
      // RefundPayment fenced this step while the charge was in flight: the money we just took
      // belongs to nobody, give it back before reporting the fence.
      await deps.provider.refund({
        idempotencyKey: paymentKeys.refund(order.orderId),
        chargeIdempotencyKey: chargeKey,
        orderId: order.orderId,
      });
    }
    throw err;
  }
}

/**
 * How long after RefundPayment found no charge a ChargePayment invocation that started before it
 * could still capture one: that function's timeout (30 s) with room to spare. The stack's tests
 * hold the timeout under this.
 */
export const CHARGE_RECHECK_AFTER_SECONDS = 120;

/**
 * Compensation of step 5. Refunds at the provider first, by the charge's idempotency key, so a
 * charge whose response was lost (no step record) is refunded too; then undoes the record.
 *
 * When the provider had no charge, a ChargePayment still in flight may capture one after this
 * (and die before it sees the fence): the step record is then marked for the reconciler to ask
 * the provider again once that invocation cannot be running any more (`recheckCharge`).
 */
export async function refundPayment(deps: PaymentDeps, order: StepInput) {
  const refund = await deps.provider.refund({
    idempotencyKey: paymentKeys.refund(order.orderId),
    chargeIdempotencyKey: paymentKeys.charge(order.orderId),
    orderId: order.orderId,
  });
  const now = isoNow(deps);
  const recheckAt = new Date(Date.parse(now) + CHARGE_RECHECK_AFTER_SECONDS * 1000).toISOString();
  const outcome = await compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'ChargePayment',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    ...(refund.outcome === 'NO_CHARGE' ? { mark: statusIndexKey('CHARGE_RECHECK', order.orderId, recheckAt) } : {}),
    undo: () => [
      {
        Update: {
          TableName: deps.tables.PAYMENTS_TABLE,
          Key: keys.payment(order.orderId),
          UpdateExpression: 'SET #status = :refunded, refundedAt = :now, refundId = :refundId',
          ConditionExpression: '#status = :captured',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':refunded': 'REFUNDED',
            ':captured': 'CAPTURED',
            ':now': now,
            ':refundId': refund.outcome === 'REFUNDED' ? refund.refundId : 'none',
          },
        },
      },
    ],
    event: (record) =>
      outboxEvent('PAYMENT_REFUNDED', order, now, {
        refundedAmount: Number(record.effect['amount']),
        chargeId: String(record.effect['chargeId']),
      }),
  });
  return { ...outcome, provider: refund.outcome };
}

/** Whether the order's ChargePayment record is marked for a second look that is due by `now`. */
export async function chargeRecheckDue(deps: PaymentDeps, orderId: string, now: Date): Promise<boolean> {
  const { Item } = await deps.ddb.send(
    new GetCommand({
      TableName: deps.tables.ORDERS_TABLE,
      Key: keys.stepRecord(orderId, 'ChargePayment'),
      ConsistentRead: true,
    }),
  );
  const pk: unknown = Item?.['gsi1pk'];
  const due: unknown = Item?.['gsi1sk'];
  return (
    typeof pk === 'string' && pk.startsWith('CHARGE_RECHECK#') && typeof due === 'string' && due <= now.toISOString()
  );
}

/**
 * The reconciler's second look at a charge RefundPayment found absent: refund whatever the
 * provider now holds under the charge's key (idempotent, the same refund key as RefundPayment),
 * then clear the mark. Concurrent runs both ask the provider (one refund) and one clears it.
 */
export async function recheckCharge(deps: PaymentDeps, orderId: string): Promise<RefundResult> {
  const refund = await deps.provider.refund({
    idempotencyKey: paymentKeys.refund(orderId),
    chargeIdempotencyKey: paymentKeys.charge(orderId),
    orderId,
  });
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tables.ORDERS_TABLE,
        Key: keys.stepRecord(orderId, 'ChargePayment'),
        UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET chargeRecheckedAt = :now, chargeRecheck = :outcome',
        ConditionExpression: 'attribute_exists(gsi1pk)',
        ExpressionAttributeValues: {
          ':now': isoNow(deps),
          ':outcome': refund.outcome === 'REFUNDED' ? `REFUNDED ${refund.refundId}` : 'NO_CHARGE',
        },
      }),
    );
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
  }
  return refund;
}
