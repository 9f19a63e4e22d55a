/**
 * The saga's Lambdas and exactly what each may touch. The stack builds functions, environment
 * and IAM grants from this list; the infra tests assert the template against it; the local
 * stand-in finds each function's code through the `purchase-saga:source` metadata the stack
 * puts on it. Change a step's data access here and in its code, nowhere else.
 */
export type TableId =
  'Accounts' | 'Catalog' | 'Inventory' | 'Coupons' | 'Orders' | 'Payments' | 'Notifications' | 'Idempotency';

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

export type DynamoAction =
  'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem' | 'Query' | 'Scan';

export interface SagaFunction {
  /** State name in the ASL and prefix of its substitution `${<id>FunctionArn}`. */
  id: string;
  /** Folder under lambdas/ holding app.ts (createHandler) and handler.ts (the Lambda entry). */
  dir: string;
  role: 'forward' | 'compensation' | 'outcome';
  access: Partial<Record<TableId, DynamoAction[]>>;
  /** Needs the payment provider configuration. */
  payments?: boolean;
}

// A forward step checks the order is PENDING and puts its step record and outbox event.
const ORDERS_FORWARD: DynamoAction[] = ['GetItem', 'PutItem', 'ConditionCheckItem'];
// A compensation reads the step record, marks it COMPENSATED (or puts a fence) and puts its event.
const ORDERS_COMPENSATION: DynamoAction[] = ['GetItem', 'PutItem', 'UpdateItem'];

export const SAGA_FUNCTIONS: SagaFunction[] = [
  {
    id: 'DeductBalance',
    dir: 'deduct-balance',
    role: 'forward',
    access: { Accounts: ['UpdateItem', 'PutItem'], Orders: ORDERS_FORWARD },
  },
  {
    id: 'RefundBalance',
    dir: 'refund-balance',
    role: 'compensation',
    access: { Accounts: ['UpdateItem', 'PutItem'], Orders: ORDERS_COMPENSATION },
  },
  {
    id: 'UseCoupon',
    dir: 'use-coupon',
    role: 'forward',
    access: { Coupons: ['UpdateItem'], Orders: ORDERS_FORWARD },
  },
  {
    id: 'RestoreCoupon',
    dir: 'restore-coupon',
    role: 'compensation',
    access: { Coupons: ['UpdateItem'], Orders: ORDERS_COMPENSATION },
  },
  {
    id: 'ReserveInventorySlots',
    dir: 'reserve-inventory-slots',
    role: 'forward',
    access: { Inventory: ['UpdateItem', 'PutItem'], Orders: ORDERS_FORWARD },
  },
  {
    id: 'ReleaseInventorySlots',
    dir: 'release-inventory-slots',
    role: 'compensation',
    access: { Inventory: ['UpdateItem', 'DeleteItem'], Orders: ORDERS_COMPENSATION },
  },
  {
    id: 'ReserveStock',
    dir: 'reserve-stock',
    role: 'forward',
    access: { Catalog: ['UpdateItem'], Orders: ORDERS_FORWARD },
  },
  {
    id: 'RestoreStock',
    dir: 'restore-stock',
    role: 'compensation',
    access: { Catalog: ['UpdateItem'], Orders: ORDERS_COMPENSATION },
  },
  {
    id: 'ChargePayment',
    dir: 'charge-payment',
    role: 'forward',
    payments: true,
    access: { Payments: ['GetItem', 'PutItem', 'UpdateItem'], Orders: ORDERS_FORWARD },
  },
  {
    id: 'RefundPayment',
    dir: 'refund-payment',
    role: 'compensation',
    payments: true,
    access: { Payments: ['GetItem', 'PutItem', 'UpdateItem'], Orders: ORDERS_COMPENSATION },
  },
  {
    id: 'CompleteOrder',
    dir: 'complete-order',
    role: 'forward',
    access: {
      Inventory: ['UpdateItem', 'DeleteItem'],
      Orders: ['GetItem', 'PutItem', 'UpdateItem'],
    },
  },
  {
    id: 'FenceCompleteOrder',
    dir: 'fence-complete-order',
    role: 'compensation',
    access: { Orders: ['GetItem', 'PutItem'] },
  },
  {
    id: 'MarkOrderFailed',
    dir: 'mark-order-failed',
    role: 'outcome',
    access: { Orders: ['GetItem', 'UpdateItem', 'PutItem'] },
  },
  {
    id: 'MarkCompensationFailed',
    dir: 'mark-compensation-failed',
    role: 'outcome',
    access: { Orders: ['GetItem', 'UpdateItem', 'PutItem'] },
  },
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
  access: Partial<Record<TableId, DynamoAction[]>>;
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
 * Deliveries (dedupe records, sent notifications, transmissions) live in the Notifications table.
 */
export interface EventFunction {
  id: 'Publisher' | 'Notifier' | 'Transmitter';
  dir: string;
  access: Partial<Record<TableId, DynamoAction[]>>;
}

export const EVENT_FUNCTIONS: EventFunction[] = [
  // Reads the Orders stream through its event source mapping; writes nothing to DynamoDB.
  { id: 'Publisher', dir: 'publisher', access: {} },
  // Claims each event once, sends, records the delivery and the NOTIFICATION_SENT outbox event.
  {
    id: 'Notifier',
    dir: 'notifier',
    access: { Notifications: ['GetItem', 'PutItem', 'UpdateItem'], Orders: ['PutItem'] },
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
    Orders: ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
    Payments: ['GetItem', 'PutItem', 'UpdateItem'],
  },
} as const satisfies { id: string; dir: string; payments: boolean; access: Partial<Record<TableId, DynamoAction[]>> };
