import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AmountOutOfRange, InvalidInput, TransientFault } from '../domain/errors.js';
import { MAX_AMOUNT } from '../domain/model.js';
import { keys, ledgerIds } from '../shared/dynamodb/keys.js';
import { isConditionFailed } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

/**
 * Operations on the aggregates outside the saga: what admins (and demo data / tests) use to
 * stock the shop and fund wallets. Each keeps the same invariants the saga relies on.
 */

export async function putItem(
  deps: Deps<'CATALOG_TABLE'>,
  item: { itemId: string; name: string; price: number; stock: number },
): Promise<void> {
  await deps.ddb.send(
    new PutCommand({
      TableName: deps.tables.CATALOG_TABLE,
      Item: { ...keys.item(item.itemId), ...item, updatedAt: isoNow(deps) },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

export async function restockItem(deps: Deps<'CATALOG_TABLE'>, itemId: string, quantity: number): Promise<void> {
  await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.tables.CATALOG_TABLE,
      Key: keys.item(itemId),
      UpdateExpression: 'SET stock = stock + :q, updatedAt = :now',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':q': quantity, ':now': isoNow(deps) },
    }),
  );
}

/**
 * Credit a wallet (opening it if needed) with its ledger entry, once per topUpId. Returns false
 * when that top-up was already credited (the ledger entry exists), changing nothing. Throws
 * AmountOutOfRange, changing nothing, when the balance would pass MAX_AMOUNT.
 */
export async function topUpBalance(
  deps: Deps<'ACCOUNTS_TABLE'>,
  input: { userId: string; amount: number; topUpId: string },
): Promise<boolean> {
  const now = isoNow(deps);
  try {
    await deps.ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: deps.tables.ACCOUNTS_TABLE,
              Key: keys.account(input.userId),
              UpdateExpression: 'SET userId = :userId, updatedAt = :now ADD balance :amount',
              ConditionExpression: 'attribute_not_exists(balance) OR balance <= :room',
              ExpressionAttributeValues: {
                ':userId': input.userId,
                ':amount': input.amount,
                ':now': now,
                ':room': MAX_AMOUNT - input.amount,
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            Put: {
              TableName: deps.tables.ACCOUNTS_TABLE,
              Item: {
                ...keys.ledgerEntry(input.userId, ledgerIds.topUp(input.topUpId)),
                userId: input.userId,
                kind: 'TOP_UP',
                amount: input.amount,
                at: now,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return true;
  } catch (err) {
    if (!(err instanceof TransactionCanceledException)) throw err;
    const [account, ledger] = err.CancellationReasons ?? [];
    // A replayed top-up changes nothing, whatever the balance is now.
    if (ledger?.Code === 'ConditionalCheckFailed') return false;
    if (account?.Code === 'ConditionalCheckFailed') {
      const balance = Number(account.Item?.['balance']?.N ?? 0);
      throw new AmountOutOfRange(`The balance of ${input.userId}`, balance + input.amount, MAX_AMOUNT);
    }
    throw err;
  }
}

export async function grantCoupon(
  deps: Deps<'COUPONS_TABLE'>,
  coupon: { userId: string; couponId: string; discount: number; expiresAt: string },
): Promise<void> {
  await deps.ddb.send(
    new PutCommand({
      TableName: deps.tables.COUPONS_TABLE,
      Item: { ...keys.coupon(coupon.userId, coupon.couponId), ...coupon, status: 'AVAILABLE', grantedAt: isoNow(deps) },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** Set a user's slot capacity; never below what is already used (held items + reservations). */
export async function setSlotCapacity(
  deps: Deps<'INVENTORY_TABLE'>,
  input: { userId: string; capacity: number },
): Promise<void> {
  const now = isoNow(deps);
  try {
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.tables.INVENTORY_TABLE,
        Item: {
          ...keys.slots(input.userId),
          userId: input.userId,
          capacity: input.capacity,
          usedSlots: 0,
          freeSlots: input.capacity,
          updatedAt: now,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return;
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
  }
  // free = capacity - used cannot be computed in an update expression: read, then write
  // conditioned on what was read, and try again if a reservation moved in between.
  for (let attempt = 0; attempt < 5; attempt++) {
    const { Item } = await deps.ddb.send(
      new GetCommand({ TableName: deps.tables.INVENTORY_TABLE, Key: keys.slots(input.userId), ConsistentRead: true }),
    );
    const used = Number(Item?.['usedSlots'] ?? 0);
    if (used > input.capacity)
      throw new InvalidInput(`User ${input.userId} already uses ${used} slots, more than ${input.capacity}`);
    try {
      await deps.ddb.send(
        new UpdateCommand({
          TableName: deps.tables.INVENTORY_TABLE,
          Key: keys.slots(input.userId),
          // CAPACITY is a DynamoDB reserved word.
          UpdateExpression: 'SET #capacity = :cap, freeSlots = :free, updatedAt = :now',
          ConditionExpression: 'usedSlots = :used',
          ExpressionAttributeNames: { '#capacity': 'capacity' },
          ExpressionAttributeValues: {
            ':cap': input.capacity,
            ':free': input.capacity - used,
            ':used': used,
            ':now': now,
          },
        }),
      );
      return;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }
  throw new TransientFault(`Slots of user ${input.userId} kept changing; retry`);
}
