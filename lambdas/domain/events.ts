/**
 * Outbox events: written in the same DynamoDB transaction as the change they describe, under
 * the order's partition, one per (order, type) so a retried write can never duplicate one.
 * Event names and payload fields follow the seed documents.
 */
export const EVENT_TYPES = [
  'ORDER_CREATED',
  'PAYMENT_RESERVED',
  'COUPON_USED',
  'INVENTORY_RESERVED',
  'ITEM_RESERVED',
  'PAYMENT_PROCESSED',
  'PAYMENT_FAILED',
  'ORDER_COMPLETED',
  'PAYMENT_REFUNDED',
  'ITEM_RESTORED',
  'INVENTORY_ROLLBACK',
  'COUPON_RESTORED',
  'PAYMENT_ROLLBACK',
  'ORDER_FAILED',
  'ORDER_COMPENSATION_FAILED',
  'NOTIFICATION_SENT',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events the notification consumer handles, and the one the transmission consumer forwards. */
export const NOTIFIED_EVENTS = [
  'ORDER_COMPLETED',
  'ORDER_FAILED',
  'PAYMENT_PROCESSED',
] as const satisfies readonly EventType[];
export const TRANSMITTED_EVENTS = ['ORDER_COMPLETED'] as const satisfies readonly EventType[];
/** `source` of every event the publisher puts on the bus. */
export const EVENT_SOURCE = 'purchase-saga.orders';

export type EventPayload = Record<string, string | number | boolean | null>;

export interface OutboxEvent {
  /** Stable across retries and redeliveries: consumers deduplicate on it. */
  eventId: string;
  type: EventType;
  /** Distinguishes several events of one type for an order (NOTIFICATION_SENT per notification). */
  qualifier?: string;
  orderId: string;
  userId: string;
  timestamp: string;
  payload: EventPayload;
}

export function outboxEvent(
  type: EventType,
  order: { orderId: string; userId: string },
  timestamp: string,
  payload: EventPayload,
  qualifier?: string,
): OutboxEvent {
  return {
    eventId: qualifier ? `${order.orderId}:${type}:${qualifier}` : `${order.orderId}:${type}`,
    type,
    ...(qualifier ? { qualifier } : {}),
    orderId: order.orderId,
    userId: order.userId,
    timestamp,
    payload: { orderId: order.orderId, userId: order.userId, timestamp, ...payload },
  };
}
