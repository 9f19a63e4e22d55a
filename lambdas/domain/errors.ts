/**
 * Typed errors of the purchase domain.
 *
 * Every class sets a literal `name`: Step Functions matches `Catch`/`Retry` on the Lambda
 * `errorType`, which is the error's `name`, and a literal survives minification.
 */

import { SAGA_STEPS } from './steps.js';

export abstract class PurchaseError extends Error {
  abstract override readonly name: string;
}

/** A business refusal: the step did not (and will never) apply its effect for this order. */
export abstract class BusinessRefusal extends PurchaseError {}

export class InsufficientBalance extends BusinessRefusal {
  override readonly name = 'InsufficientBalance';
  constructor(
    readonly userId: string,
    readonly requiredAmount: number,
    readonly userBalance: number | undefined,
  ) {
    super(
      userBalance === undefined
        ? `User ${userId} has no wallet`
        : `Balance ${userBalance} is less than the required ${requiredAmount}`,
    );
  }
}

export class CouponNotFound extends BusinessRefusal {
  override readonly name = 'CouponNotFound';
  constructor(
    readonly userId: string,
    readonly couponId: string,
  ) {
    super(`User ${userId} owns no coupon ${couponId}`);
  }
}

export class CouponAlreadyUsed extends BusinessRefusal {
  override readonly name = 'CouponAlreadyUsed';
  constructor(
    readonly couponId: string,
    readonly usedByOrderId: string | undefined,
  ) {
    super(`Coupon ${couponId} was already used${usedByOrderId ? ` by order ${usedByOrderId}` : ''}`);
  }
}

export class CouponExpired extends BusinessRefusal {
  override readonly name = 'CouponExpired';
  constructor(
    readonly couponId: string,
    readonly expiresAt: string,
  ) {
    super(`Coupon ${couponId} expired at ${expiresAt}`);
  }
}

export class InventoryFull extends BusinessRefusal {
  override readonly name = 'InventoryFull';
  constructor(
    readonly userId: string,
    readonly requestedSlots: number,
    readonly availableSlots: number,
  ) {
    super(`User ${userId} has ${availableSlots} free inventory slots, ${requestedSlots} needed`);
  }
}

export class OutOfStock extends BusinessRefusal {
  override readonly name = 'OutOfStock';
  constructor(
    readonly itemId: string,
    readonly requestedQuantity: number,
    readonly remainingStock: number | undefined,
  ) {
    super(
      remainingStock === undefined
        ? `Item ${itemId} does not exist`
        : `Item ${itemId} has ${remainingStock} in stock, ${requestedQuantity} requested`,
    );
  }
}

export class PaymentDeclined extends BusinessRefusal {
  override readonly name = 'PaymentDeclined';
  constructor(
    readonly orderId: string,
    readonly declineCode: string,
  ) {
    super(`The payment provider declined order ${orderId}: ${declineCode}`);
  }
}

/**
 * The step's compensation already ran (fenced or undid it) for this order, so the forward
 * effect must never commit. Raised by a late or duplicate forward invocation.
 */
export class StepFenced extends PurchaseError {
  override readonly name = 'StepFenced';
  constructor(
    readonly orderId: string,
    readonly step: string,
    readonly recordStatus: string,
  ) {
    super(`Step ${step} of order ${orderId} is ${recordStatus}; the forward effect is refused`);
  }
}

/** Raised by the CompleteOrder fence when the order had in fact completed. */
export class OrderAlreadyCompleted extends PurchaseError {
  override readonly name = 'OrderAlreadyCompleted';
  constructor(readonly orderId: string) {
    super(`Order ${orderId} already completed; there is nothing to compensate`);
  }
}

/** The order is not in the state the step expects (e.g. already terminal). */
export class OrderStateConflict extends PurchaseError {
  override readonly name = 'OrderStateConflict';
  constructor(
    readonly orderId: string,
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(`Order ${orderId} is ${actual ?? 'missing'}, expected ${expected}`);
  }
}

export class ItemNotFound extends PurchaseError {
  override readonly name = 'ItemNotFound';
  constructor(readonly itemId: string) {
    super(`Item ${itemId} does not exist`);
  }
}

export class OrderNotFound extends PurchaseError {
  override readonly name = 'OrderNotFound';
  constructor(readonly orderId: string) {
    super(`Order ${orderId} does not exist`);
  }
}

/** Invalid input to a step or a domain operation (a bug in the caller, never retried). */
export class InvalidInput extends PurchaseError {
  override readonly name = 'InvalidInput';
}

/**
 * An amount beyond the bound every step accepts (`Amount` in model.ts): an order total, or the
 * balance a top-up would leave. Raised before anything is written.
 */
export class AmountOutOfRange extends PurchaseError {
  override readonly name = 'AmountOutOfRange';
  constructor(
    readonly what: string,
    readonly amount: number,
    readonly max: number,
  ) {
    super(`${what} would be ${amount}, above the largest amount handled, ${max}`);
  }
}

/** Stored data contradicts the step contract (a bug or a manual edit); retried like any fault, then caught. */
export class DataInconsistent extends PurchaseError {
  override readonly name = 'DataInconsistent';
}

/** A transient infrastructure fault (throttling, transaction conflict, provider unavailable). Retried by the ASL. */
export class TransientFault extends PurchaseError {
  override readonly name = 'TransientFault';
}

export class PaymentProviderUnavailable extends PurchaseError {
  override readonly name = 'PaymentProviderUnavailable';
}

/** The provider's answer did not arrive in time; the charge may or may not have happened. */
export class PaymentProviderTimeout extends PurchaseError {
  override readonly name = 'PaymentProviderTimeout';
}

/** Names of the refusals each forward step can raise (from the step table); the ASL catches exactly these per step. */
export const REFUSALS = Object.fromEntries(SAGA_STEPS.map((s) => [s.name, s.refusals])) as {
  readonly [S in (typeof SAGA_STEPS)[number] as S['name']]: S['refusals'];
};
