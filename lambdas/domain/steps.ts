/**
 * The saga's steps, declared once. The state machine definition (statemachine/purchase.asl.json
 * is generated from this table by `npm run asl`), the functions the stack builds with their
 * DynamoDB grants, the steps the domain names (FORWARD_STEPS) and the refusals the state machine
 * catches (REFUSALS) all derive from it. A step's code lives in lambdas/<dir> (its handler) and
 * lambdas/saga (its operation).
 *
 * Plain data: the domain, the functions and the CDK app all read it.
 */

export type TableId =
  'Accounts' | 'Catalog' | 'Inventory' | 'Coupons' | 'Orders' | 'Payments' | 'Notifications' | 'Idempotency';

/**
 * DynamoDB actions on a table; `QueryIndex` is a Query on its secondary indexes, which AWS
 * authorises against `<table ARN>/index/*`, not the table (granted apart, as it is used apart).
 */
export type DynamoAction =
  'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem' | 'Query' | 'QueryIndex' | 'Scan';

export type Access = Partial<Record<TableId, readonly DynamoAction[]>>;

export interface StepFunction {
  /** State name in the ASL, function id in the stack, prefix of `${<name>FunctionArn}`. */
  name: string;
  /** Folder under lambdas/ holding app.ts (createHandler) and handler.ts (the Lambda entry). */
  dir: string;
  /** Exactly what the function may do to each table. */
  access: Access;
  /** Talks to the payment provider (gets its configuration). */
  payments?: boolean;
  /** How long the state machine waits for one invocation. */
  timeoutSeconds: number;
  /** Errors retrying cannot help with: caught at once (besides the step's refusals). */
  fatal: readonly string[];
  comment?: string;
}

export interface SagaStep extends StepFunction {
  /** What the step does, for the customer: "… failed because of a technical problem while <doing>". */
  doing: string;
  /** Business refusals: the step changed nothing, so only the steps before it are compensated. */
  refusals: readonly string[];
  /** Runs only when the order has this field (UseCoupon: a coupon). */
  onlyWith?: 'couponId';
  /** Undoes exactly what the step recorded, or fences a step that never committed. */
  compensation: StepFunction & {
    /** An error that means there is nothing to compensate: the purchase is complete after all. */
    completes?: string;
  };
}

// A forward step puts its step record (committed with its event, or its refusal); the put
// returns the record it finds (ALL_OLD), which is why GetItem is granted beside it.
const ORDERS_FORWARD: readonly DynamoAction[] = ['GetItem', 'PutItem'];
// A compensation reads the step record and marks it COMPENSATED with its event (or puts a fence).
const ORDERS_COMPENSATION: readonly DynamoAction[] = ['GetItem', 'PutItem', 'UpdateItem'];
/**
 * A forward step found its record fenced or compensated: a compensation chain of this order (of
 * another execution, or the reconciler's) already owns every step from this one up, so the
 * execution compensates only the steps before it, as after a refusal.
 */
export const STEP_FENCED = 'StepFenced';
// Errors no retry can fix, for every forward step and every compensation.
const FORWARD_FATAL = [STEP_FENCED, 'OrderStateConflict', 'InvalidInput'] as const;
const COMPENSATION_FATAL = ['CompensationConflict', 'InvalidInput'] as const;
const PROVIDER_FATAL = ['PaymentIdempotencyMismatch', 'PaymentProviderRejected'] as const;

export const SAGA_STEPS = [
  {
    name: 'DeductBalance',
    doing: 'taking the amount from your balance',
    dir: 'deduct-balance',
    comment: 'Take the order total from the wallet (PAYMENT_RESERVED).',
    refusals: ['InsufficientBalance'],
    fatal: FORWARD_FATAL,
    timeoutSeconds: 30,
    access: { Accounts: ['UpdateItem', 'PutItem'], Orders: ORDERS_FORWARD },
    compensation: {
      name: 'RefundBalance',
      dir: 'refund-balance',
      fatal: COMPENSATION_FATAL,
      timeoutSeconds: 30,
      access: { Accounts: ['UpdateItem', 'PutItem'], Orders: ORDERS_COMPENSATION },
    },
  },
  {
    name: 'UseCoupon',
    doing: 'applying your coupon',
    dir: 'use-coupon',
    comment: "Mark the user's coupon USED by this order (COUPON_USED).",
    refusals: ['CouponNotFound', 'CouponAlreadyUsed', 'CouponExpired'],
    onlyWith: 'couponId',
    fatal: FORWARD_FATAL,
    timeoutSeconds: 30,
    access: { Coupons: ['UpdateItem'], Orders: ORDERS_FORWARD },
    compensation: {
      name: 'RestoreCoupon',
      dir: 'restore-coupon',
      fatal: COMPENSATION_FATAL,
      timeoutSeconds: 30,
      access: { Coupons: ['UpdateItem'], Orders: ORDERS_COMPENSATION },
    },
  },
  {
    name: 'ReserveInventorySlots',
    doing: 'reserving space in your inventory',
    dir: 'reserve-inventory-slots',
    comment: "Reserve slots in the user's inventory (INVENTORY_RESERVED).",
    refusals: ['InventoryFull'],
    fatal: FORWARD_FATAL,
    timeoutSeconds: 30,
    access: { Inventory: ['UpdateItem', 'PutItem'], Orders: ORDERS_FORWARD },
    compensation: {
      name: 'ReleaseInventorySlots',
      dir: 'release-inventory-slots',
      fatal: COMPENSATION_FATAL,
      timeoutSeconds: 30,
      access: { Inventory: ['UpdateItem', 'DeleteItem'], Orders: ORDERS_COMPENSATION },
    },
  },
  {
    name: 'ReserveStock',
    doing: 'reserving the item',
    dir: 'reserve-stock',
    comment: "Take the quantity from the item's stock (ITEM_RESERVED).",
    refusals: ['OutOfStock'],
    fatal: FORWARD_FATAL,
    timeoutSeconds: 30,
    access: { Catalog: ['UpdateItem'], Orders: ORDERS_FORWARD },
    compensation: {
      name: 'RestoreStock',
      dir: 'restore-stock',
      fatal: COMPENSATION_FATAL,
      timeoutSeconds: 30,
      access: { Catalog: ['UpdateItem'], Orders: ORDERS_COMPENSATION },
    },
  },
  {
    name: 'ChargePayment',
    doing: 'processing the payment',
    dir: 'charge-payment',
    comment: 'Charge the payment provider with an idempotency key (PAYMENT_PROCESSED).',
    refusals: ['PaymentDeclined'],
    fatal: [...FORWARD_FATAL, ...PROVIDER_FATAL],
    timeoutSeconds: 40,
    payments: true,
    access: { Payments: ['GetItem', 'PutItem', 'UpdateItem'], Orders: ORDERS_FORWARD },
    compensation: {
      name: 'RefundPayment',
      dir: 'refund-payment',
      fatal: [...COMPENSATION_FATAL, ...PROVIDER_FATAL],
      timeoutSeconds: 40,
      payments: true,
      // Reads and updates the payment record; the simulated provider updates its charge.
      access: { Payments: ['GetItem', 'UpdateItem'], Orders: ORDERS_COMPENSATION },
    },
  },
  {
    name: 'CompleteOrder',
    doing: 'completing the order',
    dir: 'complete-order',
    comment: 'Grant the item and mark the order COMPLETED (ORDER_COMPLETED).',
    refusals: [],
    fatal: FORWARD_FATAL,
    timeoutSeconds: 30,
    access: { Inventory: ['UpdateItem', 'DeleteItem'], Orders: ['GetItem', 'PutItem', 'UpdateItem'] },
    compensation: {
      name: 'FenceCompleteOrder',
      dir: 'fence-complete-order',
      comment:
        'CompleteOrder failed in an unknown way: if it committed the purchase is complete, otherwise fence it so it never commits.',
      completes: 'OrderAlreadyCompleted',
      fatal: [...COMPENSATION_FATAL, 'OrderAlreadyCompleted'],
      timeoutSeconds: 30,
      access: { Orders: ['GetItem', 'PutItem'] },
    },
  },
] as const satisfies readonly SagaStep[];

export type ForwardStep = (typeof SAGA_STEPS)[number]['name'];

/** The forward steps an order runs, in order: an optional step only when the order has its field. */
export function stepsFor(order: Partial<Record<NonNullable<SagaStep['onlyWith']>, unknown>>): ForwardStep[] {
  return SAGA_STEPS.filter((s) => !('onlyWith' in s) || order[s.onlyWith] !== undefined).map((s) => s.name);
}
/** Every business refusal of the saga, by its error name. */
export type Refusal = (typeof SAGA_STEPS)[number]['refusals'][number];
export type Compensation = (typeof SAGA_STEPS)[number]['compensation']['name'];

/** Where every order ends: FAILED after its compensations, or COMPENSATION_FAILED. */
export const OUTCOME_FUNCTIONS = [
  {
    name: 'MarkOrderFailed',
    dir: 'mark-order-failed',
    comment:
      'Every compensation ran: the order ends FAILED with failedStep and reason (ORDER_FAILED). The execution itself succeeds.',
    fatal: ['OrderStateConflict', 'InvalidInput'],
    timeoutSeconds: 30,
    access: { Orders: ['GetItem', 'UpdateItem'] },
  },
  {
    name: 'MarkCompensationFailed',
    dir: 'mark-compensation-failed',
    comment: 'A compensation failed for good: the order ends COMPENSATION_FAILED for an operator and the reconciler.',
    fatal: ['OrderStateConflict', 'InvalidInput'],
    timeoutSeconds: 30,
    access: { Orders: ['GetItem', 'UpdateItem'] },
  },
] as const satisfies readonly StepFunction[];

/** Retries of transient faults, the same for every task: Lambda's own, then anything else. */
export const RETRY = {
  lambdaService: { intervalSeconds: 1, maxAttempts: 6, backoffRate: 2, maxDelaySeconds: 20 },
  forward: { intervalSeconds: 1, maxAttempts: 4, backoffRate: 2, maxDelaySeconds: 20 },
  // A compensation tries once more: giving up means an operator.
  compensation: { intervalSeconds: 1, maxAttempts: 5, backoffRate: 2, maxDelaySeconds: 20 },
} as const;
