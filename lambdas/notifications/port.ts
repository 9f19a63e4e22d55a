/**
 * The notification port. The notifier talks to users only through this interface; adapters:
 * `recording.ts` (default: the notification is stored in the Notifications table, where tests
 * and a developer can list what a user was told) and `sns.ts` (published to an SNS topic, whose
 * subscriptions deliver it by e-mail, SMS, a webhook...).
 *
 * Every notification carries the id of the event it is about, so an adapter can make a resend
 * after a crash idempotent (the recording adapter does; SNS cannot, see sns.ts).
 */
export const NOTIFICATION_KINDS = ['ORDER_COMPLETED', 'ORDER_FAILED', 'PAYMENT_PROCESSED'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface Notification {
  /** The id of the event the notification is about: the idempotency key of the send. */
  eventId: string;
  userId: string;
  orderId: string;
  kind: NotificationKind;
  subject: string;
  text: string;
}

export interface SendReceipt {
  /** The adapter's id for the sent message, when it has one (SNS MessageId). */
  messageId?: string;
}

export type NotificationChannel = 'recording' | 'sns';

export interface NotificationSender {
  /** Where notifications go; recorded on the NOTIFICATION_SENT event. */
  readonly channel: NotificationChannel;
  /** Throws on failure; the notifier then releases its claim so a retry sends again. */
  send(notification: Notification): Promise<SendReceipt>;
}
