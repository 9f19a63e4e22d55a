import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { readEnv } from '../shared/config.js';
import type { NotificationSender } from './port.js';
import { RecordingNotificationSender } from './recording.js';
import { SnsNotificationSender } from './sns.js';

/**
 * Picks the notification adapter from the Lambda environment. Recording is the default so a
 * fresh deploy or `npm start` works with no topic.
 */
export const NotificationEnv = z.object({
  NOTIFICATION_SENDER: z.enum(['recording', 'sns']).default('recording'),
  NOTIFICATION_TOPIC_ARN: z
    .string()
    .regex(/^arn:[a-z-]+:sns:[a-z0-9-]*:[0-9]*:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, 'an SNS topic ARN')
    .optional(),
});
export type NotificationEnv = z.infer<typeof NotificationEnv>;

export function notificationSenderFromEnv(
  env: NodeJS.ProcessEnv,
  store: { ddb: DynamoDBDocumentClient; table: string; clock: () => Date },
  /** Wraps the SNS client (X-Ray tracing on Lambda). */
  traced: <T>(client: T) => T = (client) => client,
): NotificationSender {
  const config = readEnv(NotificationEnv, env);
  if (config.NOTIFICATION_SENDER === 'sns') {
    if (!config.NOTIFICATION_TOPIC_ARN) {
      throw new Error('Invalid Lambda environment: NOTIFICATION_TOPIC_ARN is required when NOTIFICATION_SENDER=sns');
    }
    return new SnsNotificationSender({ topicArn: config.NOTIFICATION_TOPIC_ARN, client: traced(new SNSClient({})) });
  }
  return new RecordingNotificationSender(store);
}
