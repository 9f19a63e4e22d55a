import {
  OUTCOME_FUNCTIONS,
  SAGA_STEPS,
  type Access,
  type DynamoAction,
  type TableId,
} from '../lambdas/domain/steps.js';

export type { DynamoAction, TableId };

/**
 * The saga's Lambdas and exactly what each may touch, derived from the step table
 * (lambdas/domain/steps.ts), the one place a step is declared. The stack builds functions,
 * environment and IAM grants from this list; the infra tests assert the template against it; the
 * local stand-in finds each function's code through the `purchase-saga:source` metadata the stack
 * puts on it.
 */

/** Env var through which a function learns a table's name. */
export const TABLE_ENV: Record<TableId, string> = {
  Accounts: 'ACCOUNTS_TABLE',
  Catalog: 'CATALOG_TABLE',
  Inventory: 'INVENTORY_TABLE',
  Coupons: 'COUPONS_TABLE',
  Orders: 'ORDERS_TABLE',
  Payments: 'PAYMENTS_TABLE',
  Notifications: 'NOTIFICATIONS_TABLE',
  Idempotency: 'IDEMPOTENCY_TABLE',
};

export interface SagaFunction {
  /** State name in the ASL and prefix of its substitution `${<id>FunctionArn}`. */
  id: string;
  /** Folder under lambdas/ holding app.ts (createHandler) and handler.ts (the Lambda entry). */
  dir: string;
  role: 'forward' | 'compensation' | 'outcome';
  access: Access;
  /** Needs the payment provider configuration. */
  payments?: boolean;
}

const sagaFunction = (
  fn: { name: string; dir: string; access: Access; payments?: boolean },
  role: SagaFunction['role'],
): SagaFunction => ({ id: fn.name, dir: fn.dir, role, access: fn.access, ...(fn.payments ? { payments: true } : {}) });

export const SAGA_FUNCTIONS: SagaFunction[] = [
  ...SAGA_STEPS.flatMap((step) => [sagaFunction(step, 'forward'), sagaFunction(step.compensation, 'compensation')]),
  ...OUTCOME_FUNCTIONS.map((fn) => sagaFunction(fn, 'outcome')),
];

/** Metadata key on each AWS::Lambda::Function naming its source folder (read by local/). */
export const SOURCE_METADATA = 'purchase-saga:source';

/** Tables whose stream is the transactional outbox. */
export const STREAM_TABLES: TableId[] = ['Orders'];

/**
 * The HTTP edge: the API Lambda (every route) and the TOKEN authorizer. Same shape as the saga
 * functions so the stack, the local stand-in and the least-privilege tests treat them alike.
 */
export interface EdgeFunction {
  id: 'Api' | 'Authorizer';
  dir: string;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
}

export const EDGE_FUNCTIONS: EdgeFunction[] = [
  {
    id: 'Api',
    dir: 'api',
    access: {
      // order creation (transaction) and the order timeline (Query of the order's partition)
      Orders: ['GetItem', 'PutItem', 'Query'],
      // GET /items (Scan), GET /items/{id}, admin create and restock
      Catalog: ['GetItem', 'Scan', 'PutItem', 'UpdateItem'],
      // GET /me, admin top-ups (balance update + ledger put)
      Accounts: ['GetItem', 'UpdateItem', 'PutItem'],
      // GET /me (Query of the user's partition), admin slot capacity
      Inventory: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
      // order creation reads the coupon's discount; GET /me; admin grants
      Coupons: ['GetItem', 'Query', 'PutItem'],
      Idempotency: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    },
  },
  { id: 'Authorizer', dir: 'authorizer', access: {} },
];

/**
 * Every route of the REST API. API Gateway gets one resource and method per entry (an unknown
 * path never reaches the Lambda), the API Lambda serves exactly these, and docs/openapi.yaml
 * documents exactly these; tests hold the three together.
 */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  admin?: boolean;
}

export const API_ROUTES: ApiRoute[] = [
  { method: 'POST', path: '/orders' },
  { method: 'GET', path: '/orders/{orderId}' },
  { method: 'GET', path: '/me' },
  { method: 'GET', path: '/items' },
  { method: 'GET', path: '/items/{itemId}' },
  { method: 'POST', path: '/admin/items', admin: true },
  { method: 'POST', path: '/admin/items/{itemId}/restock', admin: true },
  { method: 'POST', path: '/admin/users/{userId}/top-ups', admin: true },
  { method: 'POST', path: '/admin/users/{userId}/coupons', admin: true },
  { method: 'PUT', path: '/admin/users/{userId}/slots', admin: true },
];

/**
 * The event side: the outbox publisher (Orders stream -> EventBridge), the notification consumer
 * (EventBridge rule -> Lambda) and the external data transmission consumer (rule -> SQS -> Lambda).
 * The Notifier's delivery records live beside the order (their completion carries NOTIFICATION_SENT
 * to the Orders stream); sent notifications, the Transmitter's delivery records and transmissions
 * live in the Notifications table.
 */
export interface EventFunction {
  id: 'Publisher' | 'Notifier' | 'Transmitter';
  dir: string;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
}

export const EVENT_FUNCTIONS: EventFunction[] = [
  // Reads the Orders stream through its event source mapping; writes nothing to DynamoDB.
  { id: 'Publisher', dir: 'publisher', access: {} },
  // Claims each event once in a delivery record beside the order, sends (the recording channel
  // puts the notification in Notifications), and records the delivery with its NOTIFICATION_SENT.
  {
    id: 'Notifier',
    dir: 'notifier',
    access: { Orders: ['GetItem', 'UpdateItem'], Notifications: ['PutItem'] },
  },
  // Claims each ORDER_COMPLETED once and records the transmission after the endpoint accepted it.
  { id: 'Transmitter', dir: 'transmitter', access: { Notifications: ['GetItem', 'PutItem', 'UpdateItem'] } },
];

/**
 * The reconciler (scheduled): runs the saga's own completion and compensations for stuck orders,
 * so it needs the union of their access, plus the Orders `byStatus` index.
 */
export const RECONCILER_FUNCTION = {
  id: 'Reconciler',
  dir: 'reconciler',
  payments: true,
  access: {
    Accounts: ['UpdateItem', 'PutItem'],
    Catalog: ['UpdateItem'],
    Inventory: ['UpdateItem', 'DeleteItem'],
    Coupons: ['UpdateItem'],
    Orders: ['GetItem', 'PutItem', 'UpdateItem', 'QueryIndex'],
    // RefundPayment's needs, and the simulated provider's charge lookups: no charge is ever made here.
    Payments: ['GetItem', 'UpdateItem'],
  },
} as const satisfies {
  id: string;
  dir: string;
  payments: boolean;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
};

/**
 * Grants of the function roles that no local test can use, each with the reason (`resource` is
 * a pattern over the ARN without its `arn:aws:service:region:account:` head).
 * `scripts/check-grant-use.ts` (the last step of `npm test`) fails on any other grant no test
 * used, and on an entry here that excuses nothing.
 */
export interface UnreachedGrant {
  functionId: string;
  action: string;
  resource: string;
  why: string;
}

const RETURNED_ON_FAILURE =
  'never called; its conditional writes ask DynamoDB to return the item on failure (ReturnValuesOnConditionCheckFailure), and whether AWS authorises that return as dynamodb:GetItem is not verified without an AWS account';
const SENT_WITH_SENDMESSAGE =
  "granted with sqs:SendMessage by CDK's grantSendMessages; the Lambda service sends a failure record with SendMessage alone (the stand-in checks that one when it wires the destination)";
const NOT_AN_SQS_SOURCE_NEED =
  "granted by CDK's SqsEventSource; the Lambda service polls an SQS source with ReceiveMessage, DeleteMessage and GetQueueAttributes only (the stand-in checks those when it wires the mapping)";

export const UNREACHED_GRANTS: UnreachedGrant[] = [
  // Every forward step but the one that reads its step record before it calls the provider.
  ...[...SAGA_STEPS.filter((s) => !('payments' in s)).map((s) => s.name), 'Notifier'].map((functionId) => ({
    functionId,
    action: 'dynamodb:GetItem',
    resource: 'table/OrdersTable*',
    why: RETURNED_ON_FAILURE,
  })),
  {
    functionId: 'Transmitter',
    action: 'dynamodb:GetItem',
    resource: 'table/NotificationsTable*',
    why: RETURNED_ON_FAILURE,
  },
  {
    functionId: 'Api',
    action: 'dynamodb:GetItem',
    resource: 'table/IdempotencyTable*',
    why: 'Powertools reads a key with GetItem only when a failed conditional put returns no item, which DynamoDB always does here',
  },
  ...[
    ['Publisher', 'sqs:GetQueueAttributes', 'EventsPublisherDlq*', SENT_WITH_SENDMESSAGE],
    ['Publisher', 'sqs:GetQueueUrl', 'EventsPublisherDlq*', SENT_WITH_SENDMESSAGE],
    ['Notifier', 'sqs:GetQueueAttributes', 'EventsNotifierDlq*', SENT_WITH_SENDMESSAGE],
    ['Notifier', 'sqs:GetQueueUrl', 'EventsNotifierDlq*', SENT_WITH_SENDMESSAGE],
    ['Transmitter', 'sqs:ChangeMessageVisibility', 'EventsTransmissionQueue*', NOT_AN_SQS_SOURCE_NEED],
    ['Transmitter', 'sqs:GetQueueUrl', 'EventsTransmissionQueue*', NOT_AN_SQS_SOURCE_NEED],
  ].map(([functionId = '', action = '', resource = '', why = '']) => ({ functionId, action, resource, why })),
];
