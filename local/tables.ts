import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { TableSpec } from './template.js';

/** Create the template's tables in DynamoDB Local: keys, indexes, streams and TTL as declared. */
export async function createTables(
  client: DynamoDBClient,
  specs: TableSpec[],
  nameOf: (logicalId: string) => string,
): Promise<void> {
  await Promise.all(
    specs.map(async (spec) => {
      const TableName = nameOf(spec.logicalId);
      try {
        await client.send(
          new CreateTableCommand({
            TableName,
            KeySchema: spec.KeySchema,
            AttributeDefinitions: spec.AttributeDefinitions,
            BillingMode: 'PAY_PER_REQUEST',
            ...(spec.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: spec.GlobalSecondaryIndexes } : {}),
            ...(spec.StreamSpecification
              ? {
                  StreamSpecification: { StreamEnabled: true, StreamViewType: spec.StreamSpecification.StreamViewType },
                }
              : {}),
          }),
        );
      } catch (err) {
        // A persisted local database (`npm start -- --persist`) already has its tables.
        if (!(err instanceof ResourceInUseException)) throw err;
        await client.send(new DescribeTableCommand({ TableName }));
        return;
      }
      if (spec.TimeToLiveSpecification?.Enabled) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName,
            TimeToLiveSpecification: { AttributeName: spec.TimeToLiveSpecification.AttributeName, Enabled: true },
          }),
        );
      }
    }),
  );
}
