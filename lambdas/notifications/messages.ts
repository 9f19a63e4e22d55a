import { SAGA_STEPS, type Refusal } from '../domain/steps.js';
import type { BusEvent } from '../shared/bus-event.js';
import type { Notification, NotificationKind } from './port.js';

/**
 * What the user is told, per event. Short and human: the order, what happened and, for a
 * failure, why in plain words (the machine names stay in the order's timeline).
 */
export type NotifiedEvent = BusEvent<NotificationKind>;

/** Amounts are integer units of the shop's currency (KRW by default, which has no minor unit). */
export function formatAmount(amount: number): string {
  return amount.toLocaleString('en-US');
}

/** Why an order failed, as the end of the sentence "Your order could not be completed because ...". */
const REASONS: Readonly<Record<Refusal, string>> = {
  InsufficientBalance: 'your balance was not enough to pay for it',
  CouponNotFound: 'the coupon could not be found',
  CouponAlreadyUsed: 'the coupon has already been used',
  CouponExpired: 'the coupon has expired',
  InventoryFull: 'your inventory has no free slots left for it',
  OutOfStock: 'the item is out of stock',
  PaymentDeclined: 'the payment was declined',
};

/** What was being done when an unexpected failure struck, per step (from the step table). */
const STEPS: Record<string, string> = Object.fromEntries(SAGA_STEPS.map((s) => [s.name, s.doing]));

export function failureSentence(failedStep: string, reason: string): string {
  const known = (REASONS as Readonly<Record<string, string | undefined>>)[reason];
  if (known) return known;
  const step = STEPS[failedStep];
  return step ? `of a technical problem while ${step}` : 'of a technical problem';
}

export function composeNotification(event: NotifiedEvent): Notification {
  const base = { eventId: event.eventId, userId: event.userId, orderId: event.orderId, kind: event.type };
  switch (event.type) {
    case 'ORDER_COMPLETED': {
      const { itemId, quantity, totalAmount } = event.payload;
      return {
        ...base,
        subject: 'Your order is complete',
        text:
          `Your order ${event.orderId} is complete: ${quantity} x ${itemId} for a total of ${formatAmount(totalAmount)}. ` +
          `${quantity === 1 ? 'It is' : 'They are'} now in your inventory.`,
      };
    }
    case 'ORDER_FAILED': {
      const { failedStep, reason } = event.payload;
      return {
        ...base,
        subject: 'Your order could not be completed',
        text:
          `Your order ${event.orderId} could not be completed because ${failureSentence(failedStep, reason)}. ` +
          'Everything taken or reserved for it has been given back.',
      };
    }
    case 'PAYMENT_PROCESSED': {
      const { paymentAmount } = event.payload;
      return {
        ...base,
        subject: 'Payment received',
        text: `We received your payment of ${formatAmount(paymentAmount)} for order ${event.orderId}.`,
      };
    }
  }
}
