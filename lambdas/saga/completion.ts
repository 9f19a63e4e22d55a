import { OrderAlreadyCompleted, OrderStateConflict } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { StepInput } from '../domain/model.js';
import { keys } from '../shared/dynamodb/keys.js';
import { commitForwardStep, compensateStep, readStepRecord } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type CompletionDeps = Deps<'INVENTORY_TABLE' | 'ORDERS_TABLE'>;

/**
 * Step 6: in one transaction, turn the slot reservation into an owned item and mark the order
 * COMPLETED (only from PENDING, so a failed or fenced order can never complete).
 */
export function completeOrder(deps: CompletionDeps, order: StepInput) {
  const now = isoNow(deps);
  return commitForwardStep(deps.ddb, {
    orderId: order.orderId,
    step: 'CompleteOrder',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    writes: [
      {
        Update: {
          TableName: deps.tables.ORDERS_TABLE,
          Key: keys.order(order.orderId),
          UpdateExpression: 'SET #status = :completed, updatedAt = :now, completedAt = :now REMOVE gsi1pk, gsi1sk',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':completed': 'COMPLETED', ':pending': 'PENDING', ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Update: {
          TableName: deps.tables.INVENTORY_TABLE,
          Key: keys.heldItem(order.userId, order.itemId),
          UpdateExpression: 'SET userId = :userId, itemId = :itemId, updatedAt = :now ADD quantity :q',
          ExpressionAttributeValues: {
            ':userId': order.userId,
            ':itemId': order.itemId,
            ':q': order.quantity,
            ':now': now,
          },
        },
      },
      {
        Delete: {
          TableName: deps.tables.INVENTORY_TABLE,
          Key: keys.slotReservation(order.userId, order.orderId),
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ],
    effect: { userId: order.userId, itemId: order.itemId, quantity: order.quantity },
    event: outboxEvent('ORDER_COMPLETED', order, now, {
      itemId: order.itemId,
      quantity: order.quantity,
      totalAmount: order.totalAmount,
    }),
    refusal: (index, old) =>
      index === 0
        ? new OrderStateConflict(
            order.orderId,
            'PENDING',
            typeof old?.['status'] === 'string' ? old['status'] : undefined,
          )
        : new OrderStateConflict(order.orderId, 'a live slot reservation', 'none'),
  });
}

/**
 * The "compensation" of CompleteOrder: nothing is undone after a completion. When the step
 * failed in an unknown way it either committed (the order is COMPLETED: report that) or it did
 * not (fence it, so it never will, and let the saga compensate the earlier steps).
 */
export async function fenceCompleteOrder(deps: Deps<'ORDERS_TABLE'>, order: StepInput) {
  const record = await readStepRecord(deps.ddb, deps.tables.ORDERS_TABLE, order.orderId, 'CompleteOrder');
  if (record?.status === 'COMMITTED') throw new OrderAlreadyCompleted(order.orderId);
  return compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'CompleteOrder',
    ordersTable: deps.tables.ORDERS_TABLE,
    now: isoNow(deps),
    undo: () => {
      throw new OrderAlreadyCompleted(order.orderId);
    },
    event: () => {
      throw new OrderAlreadyCompleted(order.orderId);
    },
  });
}
