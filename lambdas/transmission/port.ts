import { PurchaseError } from '../domain/errors.js';

/**
 * The external data transmission port (the seeds' "send data to an external system"): each
 * completed order is forwarded once to an external endpoint. Adapters: `http.ts` (POST to
 * EXTERNAL_ENDPOINT_URL with an Idempotency-Key) and `recording.ts` (stored in the Notifications
 * table, for stacks without an endpoint).
 *
 * The event id is the idempotency key of every attempt, so a retry after a timeout or a crash
 * reaches the same transmission on the receiving side.
 */
export interface Transmission {
  eventId: string;
  type: 'ORDER_COMPLETED';
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
  totalAmount: number;
  completedAt: string;
}

export interface TransmissionReceipt {
  /** ACCEPTED: a 2xx; ALREADY_RECEIVED: 409, the endpoint had it; RECORDED: the recording adapter. */
  outcome: 'ACCEPTED' | 'ALREADY_RECEIVED' | 'RECORDED';
  httpStatus?: number;
}

export type TransmissionMode = 'http' | 'recording';

export interface ExternalEndpoint {
  readonly mode: TransmissionMode;
  /**
   * Throws ExternalEndpointUnavailable / ExternalEndpointTimeout for faults worth retrying and
   * TransmissionRejected when the endpoint refused the transmission itself.
   */
  transmit(transmission: Transmission): Promise<TransmissionReceipt>;
}

/**
 * The endpoint refused the transmission (a 4xx other than 408/409/429, or a redirect): sending
 * it again will not help. The record is still reported as a batch failure, so SQS redelivers it
 * until maxReceiveCount and then moves it to the DLQ, where an operator sees it.
 */
export class TransmissionRejected extends PurchaseError {
  override readonly name = 'TransmissionRejected';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A 5xx, 408, 429 or a network failure: retried (SQS redelivery) with the same Idempotency-Key. */
export class ExternalEndpointUnavailable extends PurchaseError {
  override readonly name = 'ExternalEndpointUnavailable';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No answer in time: the endpoint may or may not have the transmission; retried with the same key. */
export class ExternalEndpointTimeout extends PurchaseError {
  override readonly name = 'ExternalEndpointTimeout';
}
