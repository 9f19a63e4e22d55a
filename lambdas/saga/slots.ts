import { InventoryFull } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { StepInput } from '../domain/model.js';
import { keys } from '../shared/dynamodb/keys.js';
import { commitForwardStep, compensateStep } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type SlotsDeps = Deps<'INVENTORY_TABLE' | 'ORDERS_TABLE'>;

/**
 * Step 3: reserve `quantity` slots in the user's inventory. The slots item keeps `freeSlots`
 * as its own attribute because a condition expression cannot do arithmetic; a reservation item
 * per order makes "slots used = items held + live reservations" checkable.
 */
export function reserveInventorySlots(deps: SlotsDeps, order: StepInput) {
  const now = isoNow(deps);
  const slots = order.quantity;
  return commitForwardStep(deps.ddb, {
    orderId: order.orderId,
    step: 'ReserveInventorySlots',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    writes: [
      {
        Update: {
          TableName: deps.tables.INVENTORY_TABLE,
          Key: keys.slots(order.userId),
          UpdateExpression: 'SET usedSlots = usedSlots + :n, freeSlots = freeSlots - :n, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND freeSlots >= :n',
          ExpressionAttributeValues: { ':n': slots, ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Put: {
          TableName: deps.tables.INVENTORY_TABLE,
          Item: {
            ...keys.slotReservation(order.userId, order.orderId),
            userId: order.userId,
            orderId: order.orderId,
            itemId: order.itemId,
            slots,
            reservedAt: now,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
    effect: { userId: order.userId, slots },
    event: outboxEvent('INVENTORY_RESERVED', order, now, { itemId: order.itemId, reservedSlots: slots }),
    refusal: (_i, old) =>
      new InventoryFull(order.userId, slots, typeof old?.['freeSlots'] === 'number' ? old['freeSlots'] : 0),
  });
}

/** Compensation of step 3: free the reserved slots and drop the reservation, once. */
export function releaseInventorySlots(deps: SlotsDeps, order: StepInput) {
  const now = isoNow(deps);
  return compensateStep(deps.ddb, {
    orderId: order.orderId,
    step: 'ReserveInventorySlots',
    ordersTable: deps.tables.ORDERS_TABLE,
    now,
    undo: (record) => {
      const userId = String(record.effect['userId']);
      const slots = Number(record.effect['slots']);
      return [
        {
          Update: {
            TableName: deps.tables.INVENTORY_TABLE,
            Key: keys.slots(userId),
            UpdateExpression: 'SET usedSlots = usedSlots - :n, freeSlots = freeSlots + :n, updatedAt = :now',
            ConditionExpression: 'usedSlots >= :n',
            ExpressionAttributeValues: { ':n': slots, ':now': now },
          },
        },
        {
          Delete: {
            TableName: deps.tables.INVENTORY_TABLE,
            Key: keys.slotReservation(userId, order.orderId),
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
      ];
    },
    event: (record) => outboxEvent('INVENTORY_ROLLBACK', order, now, { releasedSlots: Number(record.effect['slots']) }),
  });
}
