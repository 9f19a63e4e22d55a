import { randomUUID } from 'node:crypto';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EVENT_SOURCE, type OutboxEvent } from '../../lambdas/domain/events.js';
import { keys } from '../../lambdas/shared/dynamodb/keys.js';
import { eventsOf } from '../../lambdas/shared/dynamodb/outbox.js';

/**
 * Events as the bus delivers them to the consumers: the EventBridge envelope around an outbox
 * event (detail = {eventId, type, orderId, userId, timestamp, payload}), and the SQS record an
 * EventBridge -> SQS target produces (body = that envelope as JSON).
 */
export interface BusEnvelope {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export function envelopeOf(event: OutboxEvent, overrides: Partial<BusEnvelope> = {}): BusEnvelope {
  const { eventId, type, qualifier, orderId, userId, timestamp, payload } = event;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': type,
    source: EVENT_SOURCE,
    account: '000000000000',
    time: timestamp,
    region: 'us-east-1',
    resources: [],
    detail: { eventId, type, ...(qualifier ? { qualifier } : {}), orderId, userId, timestamp, payload },
    ...overrides,
  };
}

export interface SqsRecordLike {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, never>;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export function sqsRecord(body: string | BusEnvelope, messageId: string = randomUUID()): SqsRecordLike {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:transmissions',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(...records: SqsRecordLike[]): { Records: SqsRecordLike[] } {
  return { Records: records };
}

/** The outbox events of an order, as its partition of the orders table carries them, with the item that carries each, oldest first. */
export async function outboxEventsOf(
  ddb: DynamoDBDocumentClient,
  ordersTable: string,
  orderId: string,
): Promise<(OutboxEvent & { sk: string })[]> {
  const { Items } = await ddb.send(
    new QueryCommand({
      TableName: ordersTable,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.order(orderId).pk },
      ConsistentRead: true,
    }),
  );
  return (Items ?? [])
    .flatMap((item) => eventsOf(item).map((e) => ({ ...e, sk: String(item['sk']) })))
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}
