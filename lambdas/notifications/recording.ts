import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { keys, NOTIFICATION_PREFIX } from '../shared/dynamodb/keys.js';
import { NOTIFICATION_KINDS, type Notification, type NotificationSender, type SendReceipt } from './port.js';

/**
 * A sender that "sends" by storing the notification under the user in the Notifications table
 * (`pk = USER#<userId>`, `sk = NOTIFICATION#<eventId>`). The default channel: a fresh deploy or
 * `npm start` needs no topic, and what a user was told can be listed with one Query.
 *
 * The put is conditional on the event id, so a resend after a crash stores nothing twice: with
 * this adapter a notification is exactly once.
 */
export const SentNotification = z.object({
  eventId: z.string(),
  userId: z.string(),
  orderId: z.string(),
  kind: z.enum(NOTIFICATION_KINDS),
  subject: z.string(),
  text: z.string(),
  sentAt: z.string(),
});
export type SentNotification = z.infer<typeof SentNotification>;

export interface RecordingNotificationSenderOptions {
  ddb: DynamoDBDocumentClient;
  table: string;
  clock?: () => Date;
}

export class RecordingNotificationSender implements NotificationSender {
  readonly channel = 'recording';
  private readonly clock: () => Date;

  constructor(private readonly options: RecordingNotificationSenderOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async send(notification: Notification): Promise<SendReceipt> {
    const item: SentNotification = { ...notification, sentAt: this.clock().toISOString() };
    try {
      await this.options.ddb.send(
        new PutCommand({
          TableName: this.options.table,
          Item: { ...keys.notification(notification.userId, notification.eventId), ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      // Already stored by an earlier attempt whose delivery record was never completed.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    return { messageId: keys.notification(notification.userId, notification.eventId).sk };
  }
}

/** Every notification recorded for a user, oldest first (for tests, the local stack and debugging). */
export async function listNotifications(
  ddb: DynamoDBDocumentClient,
  table: string,
  userId: string,
): Promise<SentNotification[]> {
  const found: SentNotification[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': keys.notification(userId, '').pk, ':prefix': NOTIFICATION_PREFIX },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) found.push(SentNotification.parse(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return found.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
}
