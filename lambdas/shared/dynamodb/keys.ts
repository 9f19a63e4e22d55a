/**
 * Every DynamoDB key in the system is built here, once. A forward step and its compensation
 * call the same function, so they can never disagree on which item they touch.
 * All tables use a string partition key `pk` and sort key `sk`.
 */
export interface Key {
  pk: string;
  sk: string;
}

export const keys = {
  // accounts table
  account: (userId: string): Key => ({ pk: `USER#${userId}`, sk: 'ACCOUNT' }),
  ledgerEntry: (userId: string, entryId: string): Key => ({ pk: `USER#${userId}`, sk: `LEDGER#${entryId}` }),
  // catalog table
  item: (itemId: string): Key => ({ pk: `ITEM#${itemId}`, sk: 'ITEM' }),
  // inventory table
  slots: (userId: string): Key => ({ pk: `USER#${userId}`, sk: 'SLOTS' }),
  heldItem: (userId: string, itemId: string): Key => ({ pk: `USER#${userId}`, sk: `ITEM#${itemId}` }),
  slotReservation: (userId: string, orderId: string): Key => ({ pk: `USER#${userId}`, sk: `RESERVATION#${orderId}` }),
  // coupons table
  coupon: (userId: string, couponId: string): Key => ({ pk: `USER#${userId}`, sk: `COUPON#${couponId}` }),
  // orders table: the order, its step records and its outbox events share one partition
  order: (orderId: string): Key => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' }),
  stepRecord: (orderId: string, step: string): Key => ({ pk: `ORDER#${orderId}`, sk: `STEP#${step}` }),
  /** A consumer's delivery record of an order's event, beside the order (the Notifier's). */
  orderDelivery: (orderId: string, consumer: string, eventId: string): Key => ({
    pk: `ORDER#${orderId}`,
    sk: `DELIVERY#${consumer}#${eventId}`,
  }),
  // payments table
  payment: (orderId: string): Key => ({ pk: `ORDER#${orderId}`, sk: 'PAYMENT' }),
  providerCharge: (idempotencyKey: string): Key => ({ pk: `SIMPROVIDER#CHARGE#${idempotencyKey}`, sk: 'CHARGE' }),
  providerScript: (orderId: string): Key => ({ pk: `SIMPROVIDER#SCRIPT#${orderId}`, sk: 'SCRIPT' }),
  // notifications table: one delivery record per (consumer, event), the notifications a user was
  // sent, and the transmissions recorded when no external endpoint is configured
  delivery: (consumer: string, eventId: string): Key => ({ pk: `DELIVERY#${consumer}#${eventId}`, sk: 'DELIVERY' }),
  notification: (userId: string, eventId: string): Key => ({ pk: `USER#${userId}`, sk: `NOTIFICATION#${eventId}` }),
  transmission: (eventId: string): Key => ({ pk: `TRANSMISSION#${eventId}`, sk: 'TRANSMISSION' }),
};

/** Ledger entry ids of the saga: one debit and at most one refund per order. */
export const ledgerIds = {
  orderDebit: (orderId: string) => `ORDER#${orderId}#DEBIT`,
  orderRefund: (orderId: string) => `ORDER#${orderId}#REFUND`,
  topUp: (topUpId: string) => `TOPUP#${topUpId}`,
};

export const ORDER_PREFIX = 'ORDER#';
export const STEP_PREFIX = 'STEP#';

/**
 * Sparse index `byStatus` on the Orders table: only orders that need watching carry its keys
 * (PENDING until they end; COMPENSATION_FAILED until resolved, sorted by the next attempt), and
 * so does a ChargePayment step record whose charge must be checked again at the provider
 * (CHARGE_RECHECK, sorted by when), so the reconciler reads exactly what needs it. The status is spread over a few shards so a
 * busy shop never writes one hot index partition.
 */
export const STATUS_INDEX = 'byStatus';
export const STATUS_SHARDS = 8;
export type WatchedStatus = 'PENDING' | 'COMPENSATION_FAILED' | 'CHARGE_RECHECK';

export function statusShard(orderId: string): number {
  let h = 0;
  for (let i = 0; i < orderId.length; i++) h = (h * 31 + orderId.charCodeAt(i)) >>> 0;
  return h % STATUS_SHARDS;
}

export function statusIndexKey(
  status: WatchedStatus,
  orderId: string,
  sortValue: string,
): { gsi1pk: string; gsi1sk: string } {
  return { gsi1pk: `${status}#${statusShard(orderId)}`, gsi1sk: sortValue };
}

/** Sort-key prefix of the notifications a user was sent (Notifications table, `USER#<userId>` partition). */
export const NOTIFICATION_PREFIX = 'NOTIFICATION#';
