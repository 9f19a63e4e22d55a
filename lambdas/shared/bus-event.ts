import { z } from 'zod';
import { PurchaseError } from '../domain/errors.js';
import { EVENT_SOURCE, EVENT_TYPES } from '../domain/events.js';
import { Amount, Id, IsoTimestamp, Quantity } from '../domain/model.js';

/**
 * What the bus delivers to the event consumers: an EventBridge event whose `source` is
 * EVENT_SOURCE, whose `detail-type` is the outbox event's type and whose `detail` is the outbox
 * event (`{eventId, type, orderId, userId, timestamp, payload}`). Delivery is at least once, so
 * consumers deduplicate on `detail.eventId`.
 *
 * Consumers validate everything here and never guess: a malformed event or one of a type the
 * consumer does not handle is a typed error, so it is retried and ends in a DLQ where someone
 * sees it, instead of being dropped silently.
 */

/** The event is not what the bus contract promises (not JSON, wrong source, missing fields...). */
export class InvalidEvent extends PurchaseError {
  override readonly name = 'InvalidEvent';
}

/** A well-formed event of a type this consumer does not handle (its rule should never send it). */
export class UnsupportedEventType extends PurchaseError {
  override readonly name = 'UnsupportedEventType';
  constructor(
    readonly consumer: string,
    readonly type: string,
  ) {
    super(`${consumer} does not handle events of type ${type}`);
  }
}

/** Ids of outbox events are `<orderId>:<type>[:<qualifier>]`: printable, bounded. */
export const EventId = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9._:@#-]+$/, 'letters, digits and . _ : @ # - only');

const PayloadValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const EventDetail = z
  .object({
    eventId: EventId,
    type: z.enum(EVENT_TYPES),
    qualifier: z.string().min(1).optional(),
    orderId: Id,
    userId: Id,
    timestamp: IsoTimestamp,
    payload: z.record(z.string(), PayloadValue),
  })
  .loose();
export type EventDetail = z.infer<typeof EventDetail>;

/** The EventBridge envelope (as delivered to a Lambda target, and as the body of an SQS target's message). */
export const EventBridgeEnvelope = z
  .object({
    version: z.string().optional(),
    id: z.string().min(1),
    'detail-type': z.string().min(1),
    source: z.string().min(1),
    account: z.string().optional(),
    time: z.string().optional(),
    region: z.string().optional(),
    resources: z.array(z.string()).optional(),
    detail: z.unknown(),
  })
  .loose();

/** Payload fields each consumed type carries (besides orderId, userId and timestamp), per the seeds. */
export const PAYLOADS = {
  ORDER_COMPLETED: z.object({ itemId: Id, quantity: Quantity, totalAmount: Amount }).loose(),
  ORDER_FAILED: z
    .object({
      failedStep: z.string().min(1).max(128),
      reason: z.string().min(1).max(256),
      totalAmount: z.optional(Amount),
    })
    .loose(),
  PAYMENT_PROCESSED: z.object({ paymentAmount: Amount, paymentMethod: z.string().min(1).optional() }).loose(),
} as const;
export type ConsumedType = keyof typeof PAYLOADS;

/** A validated event of one of the types in `types`, with its payload checked against its type's schema. */
export type BusEvent<T extends ConsumedType> = {
  [K in T]: {
    eventId: string;
    type: K;
    qualifier?: string;
    orderId: string;
    userId: string;
    timestamp: string;
    payload: z.infer<(typeof PAYLOADS)[K]>;
  };
}[T];

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Validates an EventBridge event for a consumer that handles `types`: the envelope, the source,
 * the detail, that detail-type and detail.type agree, that the type is one of `types`, and the
 * payload of that type.
 */
export function parseBusEvent<T extends ConsumedType>(
  consumer: string,
  types: readonly T[],
  input: unknown,
): BusEvent<T> {
  const envelope = EventBridgeEnvelope.safeParse(input);
  if (!envelope.success) throw new InvalidEvent(`${consumer}: not an EventBridge event: ${issues(envelope.error)}`);
  const { source } = envelope.data;
  const detailType = envelope.data['detail-type'];
  if (source !== EVENT_SOURCE)
    throw new InvalidEvent(`${consumer}: unexpected source '${source}' (expected ${EVENT_SOURCE})`);
  if (!(types as readonly string[]).includes(detailType)) throw new UnsupportedEventType(consumer, detailType);

  const detail = EventDetail.safeParse(envelope.data.detail);
  if (!detail.success) throw new InvalidEvent(`${consumer}: invalid ${detailType} detail: ${issues(detail.error)}`);
  if (detail.data.type !== detailType) {
    throw new InvalidEvent(`${consumer}: detail-type ${detailType} does not match detail.type ${detail.data.type}`);
  }
  const type = detailType as T;
  const payload = PAYLOADS[type].safeParse(detail.data.payload);
  if (!payload.success)
    throw new InvalidEvent(
      `${consumer}: invalid ${type} payload (event ${detail.data.eventId}): ${issues(payload.error)}`,
    );
  const { eventId, qualifier, orderId, userId, timestamp } = detail.data;
  return {
    eventId,
    ...(qualifier ? { qualifier } : {}),
    orderId,
    userId,
    timestamp,
    type,
    payload: payload.data,
  } as BusEvent<T>;
}

/** Parses an SQS message body holding an EventBridge event (JSON), as an SQS target receives it. */
export function parseBusEventJson<T extends ConsumedType>(
  consumer: string,
  types: readonly T[],
  body: string,
): BusEvent<T> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new InvalidEvent(`${consumer}: message body is not JSON`, { cause: err });
  }
  return parseBusEvent(consumer, types, json);
}
