import type { Refusal } from '../domain/steps.js';
/**
 * Every error answer is `application/problem+json` (RFC 9457). The catalogue below is the
 * complete list of problem types; docs/openapi.yaml documents the same list.
 */
export const PROBLEMS = {
  'bad-request': { status: 400, title: 'The request is malformed' },
  'validation-failed': { status: 400, title: 'The request body or parameters are invalid' },
  'idempotency-key-missing': { status: 400, title: 'The Idempotency-Key header is required' },
  'idempotency-key-invalid': { status: 400, title: 'The Idempotency-Key header is invalid' },
  unauthenticated: { status: 401, title: 'Authentication is required' },
  forbidden: { status: 403, title: 'You may not perform this operation' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this resource' },
  'idempotency-key-in-use': { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  conflict: { status: 409, title: 'The resource already exists' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Only application/json bodies are accepted' },
  'idempotency-key-reused': { status: 422, title: 'This Idempotency-Key was used with a different request' },
  'item-not-found': { status: 404, title: 'The item does not exist' },
  'amount-too-large': { status: 422, title: 'The amount is above the largest the shop handles (10^12 minor units)' },
  'insufficient-balance': { status: 402, title: 'The wallet balance is too low for this order' },
  'payment-declined': { status: 402, title: 'The payment provider declined the payment' },
  'coupon-not-found': { status: 422, title: 'The user owns no such coupon' },
  'coupon-already-used': { status: 409, title: 'The coupon was already used' },
  'coupon-expired': { status: 409, title: 'The coupon has expired' },
  'inventory-full': { status: 409, title: 'Not enough free inventory slots' },
  'slots-in-use': { status: 409, title: 'The user already uses more slots than that' },
  'out-of-stock': { status: 409, title: 'Not enough stock' },
  'purchase-failed': {
    status: 409,
    title: 'The purchase failed for a technical reason and was rolled back; use a new Idempotency-Key to try again',
  },
  'purchase-stuck': {
    status: 500,
    title: 'The purchase could not be rolled back automatically; an operator was alerted',
  },
  'workflow-unavailable': {
    status: 503,
    title: 'The purchase did not finish in time; retry with the same Idempotency-Key',
  },
  'too-many-requests': { status: 429, title: 'Too many requests; slow down' },
  internal: { status: 500, title: 'Internal error' },
  'bad-gateway': { status: 502, title: 'The API failed to answer properly' },
  'gateway-timeout': { status: 504, title: 'The request took too long; retry with the same Idempotency-Key' },
} as const;
export type ProblemType = keyof typeof PROBLEMS;

/** The saga's refusal reasons and the problem each answers with. */
export const REFUSAL_PROBLEMS: Readonly<Record<Refusal, ProblemType>> = {
  InsufficientBalance: 'insufficient-balance',
  CouponNotFound: 'coupon-not-found',
  CouponAlreadyUsed: 'coupon-already-used',
  CouponExpired: 'coupon-expired',
  InventoryFull: 'inventory-full',
  OutOfStock: 'out-of-stock',
  PaymentDeclined: 'payment-declined',
};

export const problemTypeUri = (type: ProblemType) => `https://purchase-saga.dev/problems/${type}`;
