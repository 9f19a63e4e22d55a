import { InsufficientBalance } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { StepInput } from '../domain/model.js';
import { keys, ledgerIds } from '../shared/dynamodb/keys.js';
import { commitForwardStep, compensateStep } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type BalanceDeps = Deps<'ACCOUNTS_TABLE' | 'ORDERS_TABLE'>;

/** Step 1: take the order total from the wallet (the seeds' "payment reserved"). */
export function deductBalance(deps: BalanceDeps, order: StepInput) {
  const now = isoNow(deps);
  const amount = order.totalAmount;
  return commitForwardStep(deps.ddb, {
    orderId: order.orderId,
    step: 'DeductBalance',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    writes: [
      {
        Update: {
          TableName: deps.tables.ACCOUNTS_TABLE,
          Key: keys.account(order.userId),
          UpdateExpression: 'SET balance = balance - :amount, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND balance >= :amount',
          ExpressionAttributeValues: { ':amount': amount, ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Put: {
          TableName: deps.tables.ACCOUNTS_TABLE,
          Item: {
            ...keys.ledgerEntry(order.userId, ledgerIds.orderDebit(order.orderId)),
            userId: order.userId,
            orderId: order.orderId,
            kind: 'ORDER_DEBIT',
            amount: -amount,
            at: now,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
    effect: { userId: order.userId, amount },
    event: outboxEvent('PAYMENT_RESERVED', order, now, {
      requiredAmount: amount,
      reservedAmount: amount,
      totalAmount: order.totalAmount,
    }),
    refusal: (_i, old) =>
      new InsufficientBalance(order.userId, amount, typeof old?.['balance'] === 'number' ? old['balance'] : undefined),
  });
}

/** Compensation of step 1: give back exactly the recorded amount, once, with its ledger entry. */
export function refundBalance(deps: BalanceDeps, order: StepInput) {
  const now = isoNow(deps);
  return compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'DeductBalance',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    undo: (record) => {
      const userId = String(record.effect['userId']);
      const amount = Number(record.effect['amount']);
      return [
        {
          Update: {
            TableName: deps.tables.ACCOUNTS_TABLE,
            Key: keys.account(userId),
            UpdateExpression: 'SET balance = balance + :amount, updatedAt = :now',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':amount': amount, ':now': now },
          },
        },
        {
          Put: {
            TableName: deps.tables.ACCOUNTS_TABLE,
            Item: {
              ...keys.ledgerEntry(userId, ledgerIds.orderRefund(order.orderId)),
              userId,
              orderId: order.orderId,
              kind: 'ORDER_REFUND',
              amount,
              at: now,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ];
    },
    event: (record) => outboxEvent('PAYMENT_ROLLBACK', order, now, { refundedAmount: Number(record.effect['amount']) }),
  });
}
