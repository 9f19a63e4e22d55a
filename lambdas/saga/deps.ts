import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Tables, TableVar } from '../shared/config.js';

/** What a saga operation needs: a DynamoDB client, the names of the tables it touches, a clock. */
export interface Deps<K extends TableVar> {
  ddb: DynamoDBDocumentClient;
  tables: Pick<Tables, K>;
  clock: () => Date;
}

export const isoNow = (deps: { clock: () => Date }): string => deps.clock().toISOString();
