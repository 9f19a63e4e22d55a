import type { Visit } from './path.js';

/**
 * What the console's read-only views answer, as JSON: the server builds these (views.ts) and the
 * page reads them (page/console.ts). Types only, and no imports beyond path.ts, so the page's
 * DOM-typed program can take them without the server's Node and SDK types.
 */
export interface OrderSummary {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
  couponId?: string;
  totalAmount: number;
  status: string;
  failedStep?: string;
  reason?: string;
  /** A compensation that failed for good in the saga, and the reconciler's attempts since. */
  compensationStep?: string;
  compensationAttempts?: number;
  createdAt: string;
  updatedAt: string;
}

export interface ExecutionView {
  executionArn: string;
  status: string;
  startDate: string;
  error?: string;
  path: Visit[];
}

export interface OrderView {
  order: OrderSummary;
  steps: { step: string; status: string; effect: unknown; updatedAt?: string }[];
  events: { type: string; at: string; eventId: string }[];
  /** The payment provider stand-in's own ledger for the order: its charge and its refund. */
  charges: { chargeId: string; amount: number; status: string; declineCode?: string; refundId?: string }[];
  notifications: { kind: string; subject: string; at: string }[];
  transmissions: { eventId: string; type: string; at: string }[];
  executions: ExecutionView[];
}

export interface ShopView {
  users: {
    userId: string;
    balance: number;
    slots: { capacity: number; used: number };
    items: Record<string, number>;
  }[];
  items: { itemId: string; name: string; price: number; stock: number }[];
}
