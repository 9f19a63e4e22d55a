import { outboxEvent } from '../domain/events.js';
import type { DeliveryStore } from '../shared/dynamodb/delivery.js';
import { composeNotification, type NotifiedEvent } from './messages.js';
import type { NotificationSender } from './port.js';

/** Consumer name in the delivery records (`ORDER#<orderId>` / `DELIVERY#notifier#<eventId>` in Orders). */
export const NOTIFIER_CONSUMER = 'notifier';

export interface NotifyDeps {
  sender: NotificationSender;
  deliveries: DeliveryStore;
  clock: () => Date;
}

export interface NotifyOutcome {
  eventId: string;
  type: NotifiedEvent['type'];
  /** SENT: this invocation notified the user; ALREADY_SENT: a duplicate delivery, nothing done. */
  outcome: 'SENT' | 'ALREADY_SENT';
  attempt?: number;
}

/**
 * Tells the user about one event, exactly once per event id:
 *   1. claim the delivery (conditional write; a duplicate finds it SENT and stops, a concurrent
 *      one finds a live claim and gets DeliveryInProgress, retried by the platform);
 *   2. send (on failure: release the claim and rethrow, so a retry sends again at once);
 *   3. the delivery becomes SENT (if the claim is still ours), and that same write carries the
 *      NOTIFICATION_SENT event, qualified by the source event's type: the delivery record lives
 *      in the order's partition, so the Orders stream publishes the event like every other —
 *      written only after a send, once however often this runs.
 * A crash between 2 and 3 makes the retry after the lease send again: exactly once with the
 * recording adapter (conditional put), at least once with SNS; the event stays one.
 */
export async function notify(deps: NotifyDeps, event: NotifiedEvent): Promise<NotifyOutcome> {
  const claimed = await deps.deliveries.claim({
    eventId: event.eventId,
    type: event.type,
    orderId: event.orderId,
    userId: event.userId,
  });
  if (claimed.outcome === 'DONE') return { eventId: event.eventId, type: event.type, outcome: 'ALREADY_SENT' };

  const notification = composeNotification(event);
  let messageId: string | undefined;
  try {
    ({ messageId } = await deps.sender.send(notification));
  } catch (err) {
    await deps.deliveries.release(claimed.claim, err);
    throw err;
  }

  const sent = outboxEvent(
    'NOTIFICATION_SENT',
    event,
    deps.clock().toISOString(),
    { notifiedEvent: event.type, notifiedEventId: event.eventId, channel: deps.sender.channel },
    event.type,
  );
  await deps.deliveries.complete(
    claimed.claim,
    'SENT',
    { channel: deps.sender.channel, notificationEventId: sent.eventId, ...(messageId ? { messageId } : {}) },
    sent,
  );
  return { eventId: event.eventId, type: event.type, outcome: 'SENT', attempt: claimed.attempt };
}
