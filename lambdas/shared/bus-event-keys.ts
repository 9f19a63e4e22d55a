import type { InvocationKeys } from './observability.js';

/**
 * The log keys of an event from the bus, read without trusting it (before, or instead of,
 * validation, so even a malformed event is logged with what it claims): the orderId from its
 * detail, and the outbox event id as the correlationId — the id consumers deduplicate on, the
 * same in every redelivery — or the EventBridge id when there is none.
 */
export function busEventKeys(event: unknown): InvocationKeys {
  const envelope = record(event);
  const detail = record(envelope?.['detail']);
  const orderId = text(detail?.['orderId']);
  const correlationId = text(detail?.['eventId']) ?? text(envelope?.['id']);
  return { ...(orderId ? { orderId } : {}), ...(correlationId ? { correlationId } : {}) };
}

/** The same for an SQS message body holding the event as JSON. */
export function busEventKeysOfJson(body: string): InvocationKeys {
  try {
    return busEventKeys(JSON.parse(body));
  } catch {
    return {}; // not JSON: the record's own failure is logged with its messageId
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Bounded, so a hostile event cannot blow up every line. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, 512) : undefined;
}
