import type { BusEvent } from '../shared/bus-event.js';
import type { DeliveryStore } from '../shared/dynamodb/delivery.js';
import type { ExternalEndpoint, Transmission, TransmissionReceipt } from './port.js';

/** Consumer name in the delivery records (`DELIVERY#transmitter#<eventId>`). */
export const TRANSMITTER_CONSUMER = 'transmitter';

export type TransmittedEvent = BusEvent<'ORDER_COMPLETED'>;

export interface TransmitDeps {
  endpoint: ExternalEndpoint;
  deliveries: DeliveryStore;
}

export interface TransmitOutcome {
  eventId: string;
  /** DELIVERED: this invocation transmitted it; ALREADY_DELIVERED: a duplicate, nothing sent. */
  outcome: 'DELIVERED' | 'ALREADY_DELIVERED';
}

export function transmissionOf(event: TransmittedEvent): Transmission {
  return {
    eventId: event.eventId,
    type: event.type,
    orderId: event.orderId,
    userId: event.userId,
    itemId: event.payload.itemId,
    quantity: event.payload.quantity,
    totalAmount: event.payload.totalAmount,
    completedAt: event.timestamp,
  };
}

/**
 * Forwards one ORDER_COMPLETED, once per event id: claim the delivery, transmit (on failure:
 * release the claim and rethrow, so the redelivered message tries again at once), then mark the
 * delivery DELIVERED if the claim is still ours. A crash between transmitting and marking makes
 * the redelivery after the lease transmit again, with the same Idempotency-Key: the endpoint
 * answers 409 (or 2xx) and nothing is received twice.
 */
export async function transmit(deps: TransmitDeps, event: TransmittedEvent): Promise<TransmitOutcome> {
  const claimed = await deps.deliveries.claim({
    eventId: event.eventId,
    type: event.type,
    orderId: event.orderId,
    userId: event.userId,
  });
  if (claimed.outcome === 'DONE') return { eventId: event.eventId, outcome: 'ALREADY_DELIVERED' };

  let receipt: TransmissionReceipt;
  try {
    receipt = await deps.endpoint.transmit(transmissionOf(event));
  } catch (err) {
    await deps.deliveries.release(claimed.claim, err);
    throw err;
  }
  await deps.deliveries.complete(claimed.claim, 'DELIVERED', {
    mode: deps.endpoint.mode,
    transmission: receipt.outcome,
    ...(receipt.httpStatus !== undefined ? { httpStatus: receipt.httpStatus } : {}),
  });
  return { eventId: event.eventId, outcome: 'DELIVERED' };
}
