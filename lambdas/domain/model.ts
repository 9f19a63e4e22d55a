import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { SAGA_STEPS, type ForwardStep } from './steps.js';

// zod/mini: the functional build of zod, a tenth of its bundle size (every step function loads
// these schemas on a cold start). It ships without messages; these are zod's English ones.
z.config(en());

/** Amounts are integer minor units (cents, won); bounded so sums never leave the safe-integer range. */
export const MAX_AMOUNT = 1_000_000_000_000;
export const MAX_QUANTITY = 1_000;

export const Id = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only'),
  );
export const Amount = z.int().check(z.minimum(0), z.maximum(MAX_AMOUNT));
/** A price, a top-up, a discount: an amount that must mean something. */
export const PositiveAmount = Amount.check(z.refine((a) => a > 0, 'must be positive'));
export const Quantity = z.int().check(z.minimum(1), z.maximum(MAX_QUANTITY));
export const IsoTimestamp = z.iso.datetime({ offset: true });

/**
 * Follows one purchase through every log line: the caller's `X-Correlation-Id` or API
 * Gateway's request id. Printable and bounded, because it is copied into logs and headers.
 */
export const CorrelationId = z
  .string()
  .check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only'));

/** The forward steps in order, from the step table. */
export const FORWARD_STEPS = SAGA_STEPS.map((s) => s.name) as [ForwardStep, ...ForwardStep[]];
export type { ForwardStep };
export const ForwardStepName = z.enum(FORWARD_STEPS);

export const ORDER_STATUSES = ['PENDING', 'COMPLETED', 'FAILED', 'COMPENSATION_FAILED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * What every step receives: the order as fixed when it was created. The state machine passes
 * the execution input through unchanged, so each step sees the same snapshot.
 */
export const StepInput = z.looseObject({
  orderId: Id,
  userId: Id,
  itemId: Id,
  quantity: Quantity,
  unitPrice: Amount,
  couponId: z.optional(Id),
  discount: Amount,
  totalAmount: Amount,
  /** The request that started the purchase, for the logs (absent: correlate on the orderId). */
  correlationId: z.optional(CorrelationId),
  /** When the order was created, for the end-to-end latency metric. */
  createdAt: z.optional(IsoTimestamp),
});
export type StepInput = z.infer<typeof StepInput>;

/** The error Step Functions puts at `$.failure.error` when a Catch fires. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });

export const FailureInput = z.extend(StepInput, {
  failure: z.object({ step: ForwardStepName, error: CaughtError }),
  compensation: z.optional(z.object({ step: z.string(), error: CaughtError })),
});
export type FailureInput = z.infer<typeof FailureInput>;

export interface Order {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
  unitPrice: number;
  couponId?: string;
  discount: number;
  totalAmount: number;
  status: OrderStatus;
  failedStep?: string;
  reason?: string;
  reasonDetail?: string;
  /** Set when a compensation failed for good: which one, why, and how often it was retried. */
  compensationStep?: string;
  compensationError?: string;
  compensationAttempts?: number;
  createdAt: string;
  updatedAt: string;
}

/** Status of a step record, the per-(order, step) fact a forward step and its compensation agree on. */
export type StepRecordStatus = 'COMMITTED' | 'COMPENSATED' | 'FENCED' | 'DECLINED' | 'REFUSED';

export interface StepRecord {
  orderId: string;
  step: ForwardStep;
  status: StepRecordStatus;
  /** What the forward step did, exactly as the compensation must undo it. */
  effect: Record<string, string | number>;
  /**
   * REFUSED: the business condition that failed (which write, and the item it found), so every
   * later invocation of the step answers the same refusal instead of trying again.
   */
  refusal?: { reason: string; write: number; old?: Record<string, unknown> };
  committedAt?: string;
  compensatedAt?: string;
  fencedAt?: string;
  refusedAt?: string;
}

/** The order total is fixed at creation: price x quantity minus the coupon's discount, never below zero. */
export function orderTotal(unitPrice: number, quantity: number, discount: number): number {
  return Math.max(0, unitPrice * quantity - discount);
}
