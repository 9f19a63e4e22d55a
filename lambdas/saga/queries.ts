import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Order } from '../domain/model.js';
import { keys, STEP_PREFIX } from '../shared/dynamodb/keys.js';
import { eventsOf } from '../shared/dynamodb/outbox.js';
import type { Deps } from './deps.js';

/** Read models for the API. Strongly consistent where a client reads its own write. */

export interface OrderView extends Order {
  steps: { step: string; status: string; at: string | undefined }[];
  events: { eventId: string; type: string; timestamp: string }[];
}

/** Every item of an order's partition: the order, its step records and delivery records, with their events. */
export async function orderPartition(
  deps: Pick<Deps<'ORDERS_TABLE'>, 'ddb' | 'tables'>,
  orderId: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.ddb.send(
      new QueryCommand({
        TableName: deps.tables.ORDERS_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.order(orderId).pk },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** One Query returns the order with its step records and the events they carry (same partition). */
export async function orderWithTimeline(deps: Deps<'ORDERS_TABLE'>, orderId: string): Promise<OrderView | undefined> {
  const items = await orderPartition(deps, orderId);
  const order = items.find((i) => i['sk'] === keys.order(orderId).sk) as unknown as Order | undefined;
  if (!order) return undefined;
  const steps = items
    .filter((i) => String(i['sk']).startsWith(STEP_PREFIX))
    .map((i) => ({
      step: String(i['step']),
      status: String(i['status']),
      at: [i['compensatedAt'], i['fencedAt'], i['refusedAt'], i['committedAt']].find(
        (v): v is string => typeof v === 'string',
      ),
    }))
    .sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  const events = items
    .flatMap((i) => eventsOf(i))
    .map((e) => ({ eventId: e.eventId, type: e.type, timestamp: e.timestamp }))
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  // An explicit shape: what clients get does not change when a stored attribute is added.
  return {
    orderId: order.orderId,
    userId: order.userId,
    status: order.status,
    itemId: order.itemId,
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    ...(order.couponId !== undefined ? { couponId: order.couponId } : {}),
    discount: order.discount,
    totalAmount: order.totalAmount,
    ...(order.failedStep !== undefined ? { failedStep: order.failedStep } : {}),
    ...(order.reason !== undefined ? { reason: order.reason } : {}),
    ...(order.reasonDetail !== undefined ? { reasonDetail: order.reasonDetail } : {}),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    steps,
    events,
  };
}

export interface ItemView {
  itemId: string;
  name: string;
  price: number;
  stock: number;
}

const toItem = (i: Record<string, unknown>): ItemView => ({
  itemId: String(i['itemId']),
  name: String(i['name']),
  price: Number(i['price']),
  stock: Number(i['stock']),
});

export async function getItem(deps: Deps<'CATALOG_TABLE'>, itemId: string): Promise<ItemView | undefined> {
  const { Item } = await deps.ddb.send(
    new GetCommand({ TableName: deps.tables.CATALOG_TABLE, Key: keys.item(itemId) }),
  );
  return Item ? toItem(Item) : undefined;
}

/** The catalog, a page at a time; `cursor` is opaque to clients. */
export async function listItems(
  deps: Deps<'CATALOG_TABLE'>,
  page: { limit: number; cursor?: string },
): Promise<{ items: ItemView[]; nextCursor?: string }> {
  const out = await deps.ddb.send(
    new ScanCommand({
      TableName: deps.tables.CATALOG_TABLE,
      Limit: page.limit,
      ...(page.cursor ? { ExclusiveStartKey: keys.item(page.cursor) } : {}),
    }),
  );
  const items = (out.Items ?? []).map(toItem).sort((a, b) => a.itemId.localeCompare(b.itemId));
  const last: unknown = out.LastEvaluatedKey?.['pk'];
  return {
    items,
    ...(typeof last === 'string' ? { nextCursor: last.slice('ITEM#'.length) } : {}),
  };
}

export interface MeView {
  userId: string;
  balance: number;
  slots: { capacity: number; used: number; free: number };
  items: { itemId: string; quantity: number }[];
  coupons: { couponId: string; discount: number; status: string; expiresAt: string }[];
}

export async function me(
  deps: Deps<'ACCOUNTS_TABLE' | 'INVENTORY_TABLE' | 'COUPONS_TABLE'>,
  userId: string,
): Promise<MeView> {
  const [account, inventory, coupons] = await Promise.all([
    deps.ddb.send(
      new GetCommand({ TableName: deps.tables.ACCOUNTS_TABLE, Key: keys.account(userId), ConsistentRead: true }),
    ),
    queryUser(deps, deps.tables.INVENTORY_TABLE, userId),
    queryUser(deps, deps.tables.COUPONS_TABLE, userId),
  ]);
  const slots = inventory.find((i) => i['sk'] === keys.slots(userId).sk);
  return {
    userId,
    balance: Number(account.Item?.['balance'] ?? 0),
    slots: {
      capacity: Number(slots?.['capacity'] ?? 0),
      used: Number(slots?.['usedSlots'] ?? 0),
      free: Number(slots?.['freeSlots'] ?? 0),
    },
    items: inventory
      .filter((i) => String(i['sk']).startsWith('ITEM#'))
      .map((i) => ({ itemId: String(i['itemId']), quantity: Number(i['quantity']) })),
    coupons: coupons.map((c) => ({
      couponId: String(c['couponId']),
      discount: Number(c['discount']),
      status: String(c['status']),
      expiresAt: String(c['expiresAt']),
    })),
  };
}

async function queryUser(deps: Deps<never>, table: string, userId: string): Promise<Record<string, unknown>[]> {
  const out = await deps.ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.account(userId).pk },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}
