import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Notification, NotificationSender, SendReceipt } from './port.js';

/**
 * Publishes each notification to an SNS topic; the topic's subscriptions (e-mail, SMS, HTTPS,
 * SQS...) reach the user. Message attributes carry the event id, the user, the order and the
 * kind, so subscribers can filter and deduplicate.
 *
 * SNS has no idempotency key on a standard topic: if the notifier crashes after Publish and
 * before recording the delivery, the retry after the lease publishes again, so with this adapter
 * a notification is at least once (duplicates only on that crash window). Subscribers that
 * cannot tolerate that deduplicate on the `eventId` attribute.
 *
 * The client is `new SNSClient({})` by default: region, credentials and endpoint come from the
 * standard SDK configuration (AWS_ENDPOINT_URL_SNS points it at a local endpoint).
 */
export interface SnsNotificationSenderOptions {
  topicArn: string;
  client?: SNSClient;
}

/** SNS Subject: at most 100 printable ASCII characters, no line breaks. */
function subjectLine(subject: string): string {
  return subject.replace(/[^\x20-\x7E]/g, ' ').slice(0, 100);
}

export class SnsNotificationSender implements NotificationSender {
  readonly channel = 'sns';
  private readonly client: SNSClient;

  constructor(private readonly options: SnsNotificationSenderOptions) {
    this.client = options.client ?? new SNSClient({});
  }

  async send(notification: Notification): Promise<SendReceipt> {
    const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
    const { MessageId } = await this.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        Subject: subjectLine(notification.subject),
        Message: notification.text,
        MessageAttributes: {
          eventId: attribute(notification.eventId),
          userId: attribute(notification.userId),
          orderId: attribute(notification.orderId),
          kind: attribute(notification.kind),
        },
      }),
    );
    return MessageId ? { messageId: MessageId } : {};
  }
}
