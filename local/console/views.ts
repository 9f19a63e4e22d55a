import { GetCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Tables } from '../../lambdas/shared/config.js';
import { keys, NOTIFICATION_PREFIX } from '../../lambdas/shared/dynamodb/keys.js';
import { paymentKeys } from '../../lambdas/payments/port.js';
import { orderPartition } from '../../lambdas/saga/queries.js';
import { eventsOf } from '../../lambdas/shared/dynamodb/outbox.js';
import { ProviderCharge } from '../../lambdas/payments/simulated.js';
import { awsHistory } from '../aws-endpoint.js';
import type { LocalStateMachine } from '../stepfunctions.js';
import { pathOf, type CatchTargets } from './path.js';
import type { ExecutionView, OrderSummary, OrderView, ShopView } from './view-types.js';

/**
 * What the console shows, read where the rest of the system keeps it: the tables in DynamoDB
 * Local (through the SDK, as any client reads them) and the executions' histories as the local
 * Step Functions endpoint keeps them (GetExecutionHistory's shape). Read-only: the console acts
 * through the HTTP API and the payment provider stand-in, never here.
 */
export interface ConsoleSources {
  ddb: DynamoDBDocumentClient;
  tables: Tables;
  stateMachine: LocalStateMachine;
  catchTargets: CatchTargets;
}

type Row = Record<string, unknown>;

async function scanAll(ddb: DynamoDBDocumentClient, table: string): Promise<Row[]> {
  const rows: Row[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    rows.push(...((page.Items ?? []) as Row[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0));

function summary(row: Row): OrderSummary {
  const optional = (k: string) => (str(row[k]) !== undefined ? { [k]: str(row[k]) } : {});
  return {
    orderId: str(row['orderId']) ?? '',
    userId: str(row['userId']) ?? '',
    itemId: str(row['itemId']) ?? '',
    quantity: num(row['quantity']),
    totalAmount: num(row['totalAmount']),
    status: str(row['status']) ?? '',
    createdAt: str(row['createdAt']) ?? '',
    updatedAt: str(row['updatedAt']) ?? '',
    ...optional('couponId'),
    ...optional('failedStep'),
    ...optional('reason'),
    ...optional('compensationStep'),
    ...(row['compensationAttempts'] !== undefined ? { compensationAttempts: num(row['compensationAttempts']) } : {}),
  };
}

/** The most recent orders first. */
export async function recentOrders(s: ConsoleSources, limit = 50): Promise<OrderSummary[]> {
  const rows = await scanAll(s.ddb, s.tables.ORDERS_TABLE);
  return rows
    .filter((r) => r['sk'] === keys.order('x').sk)
    .map(summary)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.orderId.localeCompare(a.orderId))
    .slice(0, limit);
}

export async function orderView(s: ConsoleSources, orderId: string): Promise<OrderView | undefined> {
  // The same read as the API's order timeline (paginated), then each other read by its key.
  const items = await orderPartition({ ddb: s.ddb, tables: s.tables }, orderId);
  const order = items.find((r) => r['sk'] === keys.order(orderId).sk);
  if (!order) return undefined;
  const userId = str(order['userId']) ?? '';
  const carried = items.flatMap((item) => eventsOf(item)).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  // The provider's charge by the order's charge key, the notifications in the buyer's partition,
  // the transmission by the ORDER_COMPLETED event it carried.
  const completed = carried.find((e) => e.type === 'ORDER_COMPLETED');
  const [charge, told, transmission] = await Promise.all([
    s.ddb.send(
      new GetCommand({
        TableName: s.tables.PAYMENTS_TABLE,
        Key: keys.providerCharge(paymentKeys.charge(orderId)),
        ConsistentRead: true,
      }),
    ),
    s.ddb.send(
      new QueryCommand({
        TableName: s.tables.NOTIFICATIONS_TABLE,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sk)',
        ExpressionAttributeValues: { ':pk': keys.notification(userId, '').pk, ':sk': NOTIFICATION_PREFIX },
        ConsistentRead: true,
      }),
    ),
    completed
      ? s.ddb.send(
          new GetCommand({
            TableName: s.tables.NOTIFICATIONS_TABLE,
            Key: keys.transmission(completed.eventId),
            ConsistentRead: true,
          }),
        )
      : undefined,
  ]);
  const executions = [...s.stateMachine.executions.values()]
    .filter((e) => e.record.name === orderId)
    .map(({ record }): ExecutionView => {
      const path = pathOf(awsHistory(record, false), s.catchTargets);
      return {
        executionArn: record.executionArn,
        status: record.status,
        startDate: record.startDate.toISOString(),
        ...(record.error !== undefined ? { error: record.error } : {}),
        path,
      };
    })
    .sort((a, b) => a.startDate.localeCompare(b.startDate));
  const ofOrder = (r: Row) => r['orderId'] === orderId;
  return {
    order: summary(order),
    steps: items
      .filter((r) => String(r['sk']).startsWith('STEP#'))
      .map((r) => ({
        step: str(r['step']) ?? String(r['sk']).slice('STEP#'.length),
        status: str(r['status']) ?? '',
        effect: r['effect'],
        ...(str(r['updatedAt']) !== undefined ? { updatedAt: str(r['updatedAt']) } : {}),
      })),
    events: carried.map((e) => ({ type: e.type, at: e.timestamp, eventId: e.eventId })),
    charges: charge.Item
      ? [ProviderCharge.parse(charge.Item)].map((c) => ({
          chargeId: c.chargeId,
          amount: c.amount,
          status: c.status,
          ...(c.declineCode !== undefined ? { declineCode: c.declineCode } : {}),
          ...(c.refundId !== undefined ? { refundId: c.refundId } : {}),
        }))
      : [],
    notifications: ((told.Items ?? []) as Row[])
      .filter(ofOrder)
      .map((r) => ({ kind: str(r['kind']) ?? '', subject: str(r['subject']) ?? '', at: str(r['sentAt']) ?? '' })),
    transmissions: transmission?.Item
      ? [transmission.Item as Row].map((r) => ({
          eventId: str(r['eventId']) ?? '',
          type: str(r['type']) ?? '',
          at: str(r['transmittedAt']) ?? '',
        }))
      : [],
    executions,
  };
}

/** The seeds' aggregates: each user's balance, slots and items, and each item's stock. */
export async function shopView(s: ConsoleSources): Promise<ShopView> {
  const [accounts, inventory, catalog] = await Promise.all([
    scanAll(s.ddb, s.tables.ACCOUNTS_TABLE),
    scanAll(s.ddb, s.tables.INVENTORY_TABLE),
    scanAll(s.ddb, s.tables.CATALOG_TABLE),
  ]);
  const users = accounts
    .filter((r) => r['sk'] === 'ACCOUNT')
    .map((r) => {
      const userId = String(r['pk']).slice('USER#'.length);
      const own = inventory.filter((i) => i['pk'] === r['pk']);
      const slots = own.find((i) => i['sk'] === keys.slots(userId).sk);
      return {
        userId,
        balance: num(r['balance']),
        slots: { capacity: num(slots?.['capacity']), used: num(slots?.['usedSlots']) },
        items: Object.fromEntries(
          own
            .filter((i) => String(i['sk']).startsWith('ITEM#'))
            .map((i) => [String(i['sk']).slice('ITEM#'.length), num(i['quantity'])]),
        ),
      };
    })
    .sort((a, b) => a.userId.localeCompare(b.userId));
  const items = catalog
    .filter((r) => r['sk'] === 'ITEM')
    .map((r) => ({
      itemId: String(r['pk']).slice('ITEM#'.length),
      name: str(r['name']) ?? '',
      price: num(r['price']),
      stock: num(r['stock']),
    }))
    .sort((a, b) => a.itemId.localeCompare(b.itemId));
  return { users, items };
}
