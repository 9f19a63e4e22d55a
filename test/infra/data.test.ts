import { type CfnElement, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { TABLE_ENV, type TableId } from '../../infra/catalog.js';
import { resources, stackWithData, type CfnResource } from './parts.js';

/** The data part alone: the tables, their keys, stream, index and what happens to them on delete. */
describe('Stack part: Data', () => {
  const { stack, data } = stackWithData();
  const tables = new Map(resources(stack, 'AWS::DynamoDB::Table'));
  const tableOf = (t: TableId): CfnResource => {
    const found = tables.get(stack.getLogicalId(data.tables[t].node.defaultChild as CfnElement));
    if (!found) throw new Error(`no ${t} table`);
    return found;
  };
  const tableIds = Object.keys(TABLE_ENV) as TableId[];
  const business = tableIds.filter((t) => t !== 'Idempotency');

  it('creates one table per bounded context with pk/sk, on demand, PITR and AWS-managed encryption, and no physical name', () => {
    expect(tables.size).toBe(tableIds.length);
    for (const t of business) {
      const p = tableOf(t).Properties ?? {};
      expect(p['KeySchema'], t).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(p['BillingMode'], t).toBe('PAY_PER_REQUEST');
      expect(p['PointInTimeRecoverySpecification'], t).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p['SSESpecification'], t).toEqual({ SSEEnabled: true });
      expect(p['TableName'], t).toBeUndefined();
    }
  });

  it('streams new and old images of the Orders table only: the outbox, whose publisher diffs the two', () => {
    for (const t of business) {
      const stream = tableOf(t).Properties?.['StreamSpecification'];
      if (t === 'Orders') expect(stream).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
      else expect(stream, t).toBeUndefined();
    }
  });

  it('indexes the orders the reconciler watches in a sparse, keys-only byStatus index', () => {
    expect(tableOf('Orders').Properties?.['GlobalSecondaryIndexes']).toEqual([
      {
        IndexName: 'byStatus',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
  });

  it('lays out the idempotency table as Powertools expects, with TTL on expiration and no PITR', () => {
    const p = tableOf('Idempotency').Properties ?? {};
    expect(p['KeySchema']).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(p['TimeToLiveSpecification']).toEqual({ AttributeName: 'expiration', Enabled: true });
    expect(p['PointInTimeRecoverySpecification']).toBeUndefined();
  });

  it('retains the business tables as told, and always deletes the idempotency table', () => {
    for (const t of business) {
      expect(tableOf(t).DeletionPolicy, t).toBe('Retain');
      expect(tableOf(t).UpdateReplacePolicy, t).toBe('Retain');
    }
    expect(tableOf('Idempotency').DeletionPolicy).toBe('Delete');
    const scratch = stackWithData(RemovalPolicy.DESTROY);
    for (const [id, r] of resources(scratch.stack, 'AWS::DynamoDB::Table')) expect(r.DeletionPolicy, id).toBe('Delete');
  });
});
