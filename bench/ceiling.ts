import { randomUUID } from 'node:crypto';
import { PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Tables } from '../lambdas/shared/config.js';
import { keys } from '../lambdas/shared/dynamodb/keys.js';
import { closedLoop, latency, type Latency } from './stats.js';

/**
 * The ceiling: the fewest writes one purchase could need on the same tables and keys — one
 * transaction that takes the money, a slot and the stock and records the order, and one write
 * that confirms it. No workflow, no step records, no outbox, no idempotency records, no HTTP.
 * Whatever DynamoDB Local sustains this way bounds what any design could do on this machine.
 */
export interface CeilingResult {
  purchases: number;
  perSecond: number;
  latency: Latency;
}

const PRICE = 100;

export async function seedCeiling(
  ddb: DynamoDBDocumentClient,
  tables: Tables,
  users: string[],
  items: string[],
): Promise<void> {
  await Promise.all([
    ...users.flatMap((userId) => [
      ddb.send(
        new PutCommand({ TableName: tables.ACCOUNTS_TABLE, Item: { ...keys.account(userId), userId, balance: 1e12 } }),
      ),
      ddb.send(
        new PutCommand({
          TableName: tables.INVENTORY_TABLE,
          Item: { ...keys.slots(userId), userId, capacity: 1e9, usedSlots: 0, freeSlots: 1e9 },
        }),
      ),
    ]),
    ...items.map((itemId) =>
      ddb.send(
        new PutCommand({
          TableName: tables.CATALOG_TABLE,
          Item: { ...keys.item(itemId), itemId, price: PRICE, stock: 1e9 },
        }),
      ),
    ),
  ]);
}

export async function measureCeiling(options: {
  ddb: DynamoDBDocumentClient;
  tables: Tables;
  users: string[];
  items: string[];
  concurrency: number;
  durationMs: number;
}): Promise<CeilingResult> {
  const { ddb, tables, users, items } = options;
  const samples: number[] = [];
  const runId = randomUUID().slice(0, 8);
  const run = await closedLoop({
    concurrency: options.concurrency,
    durationMs: options.durationMs,
    task: async (worker, seq) => {
      const userId = users[worker % users.length] as string;
      const itemId = items[seq % items.length] as string;
      const orderId = `ceiling-${runId}-${seq}`;
      const started = performance.now();
      await ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tables.ACCOUNTS_TABLE,
                Key: keys.account(userId),
                UpdateExpression: 'SET balance = balance - :total',
                ConditionExpression: 'balance >= :total',
                ExpressionAttributeValues: { ':total': PRICE },
              },
            },
            {
              Update: {
                TableName: tables.INVENTORY_TABLE,
                Key: keys.slots(userId),
                UpdateExpression: 'SET usedSlots = usedSlots + :q, freeSlots = freeSlots - :q',
                ConditionExpression: 'freeSlots >= :q',
                ExpressionAttributeValues: { ':q': 1 },
              },
            },
            {
              Update: {
                TableName: tables.CATALOG_TABLE,
                Key: keys.item(itemId),
                UpdateExpression: 'SET stock = stock - :q',
                ConditionExpression: 'stock >= :q',
                ExpressionAttributeValues: { ':q': 1 },
              },
            },
            {
              Put: {
                TableName: tables.ORDERS_TABLE,
                Item: {
                  ...keys.order(orderId),
                  orderId,
                  userId,
                  itemId,
                  quantity: 1,
                  totalAmount: PRICE,
                  status: 'PENDING',
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      await ddb.send(
        new UpdateCommand({
          TableName: tables.ORDERS_TABLE,
          Key: keys.order(orderId),
          UpdateExpression: 'SET #status = :completed',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':completed': 'COMPLETED', ':pending': 'PENDING' },
        }),
      );
      samples.push(performance.now() - started);
    },
  });
  return { purchases: samples.length, perSecond: samples.length / (run.elapsedMs / 1000), latency: latency(samples) };
}
