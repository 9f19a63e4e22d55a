import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { AmountOutOfRange, ItemNotFound } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import { Amount, MAX_AMOUNT, orderTotal, type Order } from '../domain/model.js';
import { keys, statusIndexKey } from '../shared/dynamodb/keys.js';
import { carrying } from '../shared/dynamodb/outbox.js';
import { isConditionFailed } from '../shared/dynamodb/step-engine.js';
import { getOrder } from './outcome.js';
import { isoNow, type Deps } from './deps.js';

type OrderDeps = Deps<'CATALOG_TABLE' | 'COUPONS_TABLE' | 'ORDERS_TABLE'>;

export interface NewOrder {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
  couponId?: string;
}

/**
 * Create the order PENDING with its ORDER_CREATED event. Price and discount are fixed here,
 * from the catalog and the user's coupon, so every step charges and refunds the same total.
 * Whether the coupon may be used is decided by UseCoupon, atomically; an unknown coupon
 * contributes no discount and is refused there. Idempotent on orderId. Throws ItemNotFound, or
 * AmountOutOfRange for a total above the bound, before writing anything.
 */
export async function createOrder(deps: OrderDeps, input: NewOrder): Promise<{ order: Order; created: boolean }> {
  const [item, coupon] = await Promise.all([
    deps.ddb.send(new GetCommand({ TableName: deps.tables.CATALOG_TABLE, Key: keys.item(input.itemId) })),
    input.couponId
      ? deps.ddb.send(
          new GetCommand({ TableName: deps.tables.COUPONS_TABLE, Key: keys.coupon(input.userId, input.couponId) }),
        )
      : Promise.resolve(undefined),
  ]);
  if (!item.Item) throw new ItemNotFound(input.itemId);
  const unitPrice = Number(item.Item['price']);
  const discount = coupon?.Item ? Number(coupon.Item['discount']) : 0;
  const totalAmount = orderTotal(unitPrice, input.quantity, discount);
  // Every step validates its input with the same `Amount`: an order no step could accept is never created.
  if (!Amount.safeParse(totalAmount).success) throw new AmountOutOfRange('The order total', totalAmount, MAX_AMOUNT);
  const now = isoNow(deps);
  const order: Order = {
    orderId: input.orderId,
    userId: input.userId,
    itemId: input.itemId,
    quantity: input.quantity,
    unitPrice,
    ...(input.couponId ? { couponId: input.couponId } : {}),
    discount,
    totalAmount,
    status: 'PENDING',
    createdAt: now,
    updatedAt: now,
  };
  const created = outboxEvent('ORDER_CREATED', order, now, {
    itemId: order.itemId,
    quantity: order.quantity,
    totalAmount: order.totalAmount,
    discount: order.discount,
  });
  try {
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.tables.ORDERS_TABLE,
        // Watched by the reconciler until the order ends; carries its ORDER_CREATED event.
        Item: {
          ...keys.order(order.orderId),
          ...order,
          ...statusIndexKey('PENDING', order.orderId, now),
          ...carrying(created),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { order, created: true };
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
    return { order: await getOrder(deps, input.orderId), created: false };
  }
}

/**
 * The execution input: the order snapshot every step validates with `StepInput`, with the
 * request's correlation id (when there is one) so every step logs it.
 */
export function executionInput(order: Order, correlationId?: string) {
  return {
    orderId: order.orderId,
    userId: order.userId,
    itemId: order.itemId,
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    ...(order.couponId ? { couponId: order.couponId } : {}),
    discount: order.discount,
    totalAmount: order.totalAmount,
    createdAt: order.createdAt,
    ...(correlationId ? { correlationId } : {}),
  };
}
