/**
 * The payment provider port. ChargePayment and RefundPayment talk to the provider only through
 * this interface; adapters: `simulated.ts` (default, persisted in the payments table, scriptable
 * per order by test setup) and `http.ts` (a real provider endpoint).
 *
 * Every call carries an idempotency key derived from the orderId, so any retry of a charge or a
 * refund — by the Lambda, by Step Functions or by the reconciler — reaches the same provider
 * operation and can never charge or refund twice.
 */
export interface ChargeRequest {
  idempotencyKey: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
}

export type ChargeResult =
  { outcome: 'CAPTURED'; chargeId: string; amount: number } | { outcome: 'DECLINED'; declineCode: string };

export interface RefundRequest {
  idempotencyKey: string;
  /** The idempotency key the charge was made with: a refund must find a charge whose response was lost. */
  chargeIdempotencyKey: string;
  orderId: string;
}

export type RefundResult =
  { outcome: 'REFUNDED'; refundId: string; chargeId: string; amount: number } | { outcome: 'NO_CHARGE' };

export interface PaymentProvider {
  /** Throws PaymentProviderUnavailable / PaymentProviderTimeout for transient faults; a decline is a result. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** Refunds the charge made with `chargeIdempotencyKey`, if there is one. Idempotent. */
  refund(request: RefundRequest): Promise<RefundResult>;
}

export const paymentKeys = {
  charge: (orderId: string) => `charge-${orderId}`,
  refund: (orderId: string) => `refund-${orderId}`,
};
