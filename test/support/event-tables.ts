import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import type { Tables } from '../../lambdas/shared/config.js';
import { documentClient } from '../../lambdas/shared/dynamodb/client.js';
import { useLocalAws } from '../../local/saga.js';
import { createTables } from '../../local/tables.js';
import { tablesOf } from '../../local/template.js';

/**
 * Just the tables the event consumers touch (Orders, Notifications), created from the
 * synthesized template with a unique prefix on the shared DynamoDB Local: the consumers are
 * tested without wiring the rest of the local stack.
 */
export type EventTables = Pick<Tables, 'ORDERS_TABLE' | 'NOTIFICATIONS_TABLE'>;

export async function localEventTables(): Promise<{
  tables: EventTables;
  ddb: DynamoDBDocumentClient;
  close: () => void;
}> {
  useLocalAws(inject('dynamoEndpoint'));
  const prefix = `t${randomUUID().slice(0, 8)}-`;
  const specs = tablesOf(inject('template'));
  const pick = (id: 'Orders' | 'Notifications') => {
    const spec = specs.find((s) => s.logicalId.startsWith(`${id}Table`));
    if (!spec) throw new Error(`The template has no ${id} table`);
    return spec;
  };
  const orders = pick('Orders');
  const notifications = pick('Notifications');
  const admin = new DynamoDBClient({});
  try {
    await createTables(admin, [orders, notifications], (logicalId) => `${prefix}${logicalId}`);
  } finally {
    admin.destroy();
  }
  const ddb = documentClient();
  return {
    tables: {
      ORDERS_TABLE: `${prefix}${orders.logicalId}`,
      NOTIFICATIONS_TABLE: `${prefix}${notifications.logicalId}`,
    },
    ddb,
    close: () => ddb.destroy(),
  };
}
