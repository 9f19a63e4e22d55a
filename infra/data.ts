import { RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { STREAM_TABLES, type TableId } from './catalog.js';
import { StackPart } from './part.js';
import { STATUS_INDEX } from '../lambdas/shared/dynamodb/keys.js';

/** Tables holding business state (money, orders, stock, items, coupons): retained unless told otherwise. */
const BUSINESS_TABLES: TableId[] = [
  'Accounts',
  'Catalog',
  'Inventory',
  'Coupons',
  'Orders',
  'Payments',
  'Notifications',
];

export interface DataProps {
  /** RETAIN (the default of the stack) or DESTROY, for the business tables. */
  removalPolicy: RemovalPolicy;
}

/**
 * The data: one table per bounded context, each `pk`/`sk`, on demand, encrypted, with
 * point-in-time recovery; the Orders table's stream (the outbox) and its sparse `byStatus` index
 * (what the reconciler watches); the Powertools idempotency table of the API.
 */
export class Data extends StackPart {
  readonly tables: Readonly<Record<TableId, dynamodb.Table>>;

  constructor(stack: Stack, props: DataProps) {
    super(stack);
    const businessTable = (table: TableId): dynamodb.Table =>
      new dynamodb.Table(stack, `${table}Table`, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // The orders table's stream is the transactional outbox.
        stream: STREAM_TABLES.includes(table) ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
        removalPolicy: props.removalPolicy,
      });
    const business = Object.fromEntries(BUSINESS_TABLES.map((t) => [t, businessTable(t)])) as Record<
      Exclude<TableId, 'Idempotency'>,
      dynamodb.Table
    >;
    // Sparse: only orders the reconciler must watch (PENDING, COMPENSATION_FAILED) carry its keys.
    business.Orders.addGlobalSecondaryIndex({
      indexName: STATUS_INDEX,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Powertools idempotency layout: partition key `id`, TTL on `expiration`. Records live 24 h;
    // nothing here is worth keeping after the stack is gone.
    const idempotency = new dynamodb.Table(stack, 'IdempotencyTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: 'expiration',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.tables = { ...business, Idempotency: idempotency };
  }
}
