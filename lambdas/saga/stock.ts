import { OutOfStock } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { StepInput } from '../domain/model.js';
import { keys } from '../shared/dynamodb/keys.js';
import { commitForwardStep, compensateStep } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type StockDeps = Deps<'CATALOG_TABLE' | 'ORDERS_TABLE'>;

/** Step 4: take `quantity` from the item's stock with one atomic conditional decrement. */
export function reserveStock(deps: StockDeps, order: StepInput) {
  const now = isoNow(deps);
  const quantity = order.quantity;
  return commitForwardStep(deps.ddb, {
    orderId: order.orderId,
    step: 'ReserveStock',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    writes: [
      {
        Update: {
          TableName: deps.tables.CATALOG_TABLE,
          Key: keys.item(order.itemId),
          UpdateExpression: 'SET stock = stock - :q, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND stock >= :q',
          ExpressionAttributeValues: { ':q': quantity, ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ],
    effect: { itemId: order.itemId, quantity },
    event: outboxEvent('ITEM_RESERVED', order, now, { itemId: order.itemId, reservedQuantity: quantity }),
    refusal: (_i, old) =>
      new OutOfStock(order.itemId, quantity, typeof old?.['stock'] === 'number' ? old['stock'] : undefined),
  });
}

/** Compensation of step 4: put the recorded quantity back, once. */
export function restoreStock(deps: StockDeps, order: StepInput) {
  const now = isoNow(deps);
  return compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'ReserveStock',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    undo: (record) => [
      {
        Update: {
          TableName: deps.tables.CATALOG_TABLE,
          Key: keys.item(String(record.effect['itemId'])),
          UpdateExpression: 'SET stock = stock + :q, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':q': Number(record.effect['quantity']), ':now': now },
        },
      },
    ],
    event: (record) =>
      outboxEvent('ITEM_RESTORED', order, now, {
        itemId: String(record.effect['itemId']),
        restoredQuantity: Number(record.effect['quantity']),
      }),
  });
}
