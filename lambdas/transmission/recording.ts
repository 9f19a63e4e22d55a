import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { keys } from '../shared/dynamodb/keys.js';
import type { ExternalEndpoint, Transmission, TransmissionReceipt } from './port.js';

/**
 * For stacks without an external endpoint: each transmission is stored in the Notifications
 * table (`pk = TRANSMISSION#<eventId>`, `sk = TRANSMISSION`), put if absent, so a retry after
 * a crash stores nothing twice.
 */
export const RecordedTransmission = z.object({
  eventId: z.string(),
  type: z.literal('ORDER_COMPLETED'),
  orderId: z.string(),
  userId: z.string(),
  itemId: z.string(),
  quantity: z.number(),
  totalAmount: z.number(),
  completedAt: z.string(),
  transmittedAt: z.string(),
});
export type RecordedTransmission = z.infer<typeof RecordedTransmission>;

export interface RecordingExternalEndpointOptions {
  ddb: DynamoDBDocumentClient;
  table: string;
  clock?: () => Date;
}

export class RecordingExternalEndpoint implements ExternalEndpoint {
  readonly mode = 'recording';
  private readonly clock: () => Date;

  constructor(private readonly options: RecordingExternalEndpointOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async transmit(transmission: Transmission): Promise<TransmissionReceipt> {
    const item: RecordedTransmission = { ...transmission, transmittedAt: this.clock().toISOString() };
    try {
      await this.options.ddb.send(
        new PutCommand({
          TableName: this.options.table,
          Item: { ...keys.transmission(transmission.eventId), ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { outcome: 'RECORDED' };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { outcome: 'ALREADY_RECEIVED' };
    }
  }
}

/** The recorded transmission of an event, if any (tests, the local stack, debugging). */
export async function readTransmission(
  ddb: DynamoDBDocumentClient,
  table: string,
  eventId: string,
): Promise<RecordedTransmission | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: table, Key: keys.transmission(eventId), ConsistentRead: true }),
  );
  return Item ? RecordedTransmission.parse(Item) : undefined;
}
