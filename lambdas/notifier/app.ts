import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { NOTIFIED_EVENTS } from '../domain/events.js';
import { notificationSenderFromEnv } from '../notifications/factory.js';
import { NOTIFIER_CONSUMER, notify, type NotifyOutcome } from '../notifications/notify.js';
import type { NotificationSender } from '../notifications/port.js';
import { parseBusEvent } from '../shared/bus-event.js';
import { busEventKeys } from '../shared/bus-event-keys.js';
import { readTables } from '../shared/config.js';
import { documentClient } from '../shared/dynamodb/client.js';
import { DeliveryStore } from '../shared/dynamodb/delivery.js';
import { createObservability } from '../shared/observability.js';

/** What tests and the local stand-in may replace; production uses the defaults. */
export interface NotifierOverrides {
  ddb?: DynamoDBDocumentClient;
  sender?: NotificationSender;
  clock?: () => Date;
}

/**
 * The notification consumer: an EventBridge rule on the bus sends it NOTIFIED_EVENTS (Lambda
 * target, asynchronous invocation: a thrown error is retried by Lambda, then goes to the
 * target's DLQ). Environment: NOTIFICATIONS_TABLE, ORDERS_TABLE, NOTIFICATION_SENDER
 * ('recording' default | 'sns'), NOTIFICATION_TOPIC_ARN (required for sns).
 *
 * Every event is validated; one of another type or a malformed one is a typed error
 * (UnsupportedEventType / InvalidEvent), never silently ignored.
 */
export function createHandler(env: NodeJS.ProcessEnv, overrides: NotifierOverrides = {}) {
  const tables = readTables(['NOTIFICATIONS_TABLE', 'ORDERS_TABLE'], env);
  const obs = createObservability(env, 'Notifier');
  const ddb = overrides.ddb ?? documentClient(obs.traced(new DynamoDBClient({})));
  const clock = overrides.clock ?? (() => new Date());
  // The environment is validated even when a test replaces the sender.
  const configured = notificationSenderFromEnv(env, { ddb, table: tables.NOTIFICATIONS_TABLE, clock }, obs.traced);
  const sender = overrides.sender ?? configured;
  // The delivery records live beside the order: completing one emits its NOTIFICATION_SENT.
  const deliveries = new DeliveryStore({
    ddb,
    table: tables.ORDERS_TABLE,
    inOrderPartition: true,
    consumer: NOTIFIER_CONSUMER,
    clock,
  });
  const deps = { sender, deliveries, clock };

  return (event: unknown, context?: Context): Promise<NotifyOutcome> =>
    obs.invocation(context, busEventKeys(event), async ({ log }) => {
      try {
        const outcome = await notify(deps, parseBusEvent('Notifier', NOTIFIED_EVENTS, event));
        log.info('Notification handled', { eventId: outcome.eventId, type: outcome.type, outcome: outcome.outcome });
        return outcome;
      } catch (err) {
        // Thrown on: Lambda retries the asynchronous invocation, then sends the event to the DLQ.
        log.error('Notification failed', { error: err instanceof Error ? err : String(err) });
        throw err;
      }
    });
}
