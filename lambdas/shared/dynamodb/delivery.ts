import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { PurchaseError, TransientFault } from '../../domain/errors.js';
import type { OutboxEvent } from '../../domain/events.js';
import { keys } from './keys.js';
import { addingEvent } from './outbox.js';

/**
 * Exactly-once effects for at-least-once event consumers: one delivery record per (consumer,
 * event id): in the Notifications table (`pk = DELIVERY#<consumer>#<eventId>`, `sk = DELIVERY`),
 * or in the order's own partition of the Orders table (`pk = ORDER#<orderId>`,
 * `sk = DELIVERY#<consumer>#<eventId>`) when the completion carries an outbox event of its own:
 * then the write that records the delivery is the write that emits its event (the Notifier's
 * NOTIFICATION_SENT), published from the Orders stream like every other.
 *
 *   absent ──claim──▶ CLAIMED (token, lease) ──complete──▶ SENT / DELIVERED   (final)
 *                        │  ▲                      (one conditional write: still our token)
 *                        │  └─ claim, once the lease expired (a crashed holder)
 *                        └──release──▶ FAILED ──claim──▶ CLAIMED …   (the effect failed: retry at once)
 *
 * - A duplicate that finds SENT / DELIVERED does nothing.
 * - A duplicate that finds a live claim gets DeliveryInProgress, a retryable error: the platform
 *   redelivers later, when the holder has finished (then: nothing to do) or its lease expired
 *   (then: it takes over). Answering "done" instead would lose the effect if the holder crashed.
 * - A holder that crashes after its effect but before `complete` leaves a CLAIMED record; after
 *   the lease a retry performs the effect again. So the effect itself must be idempotent on the
 *   event id (conditional put, Idempotency-Key header) or accept a rare duplicate (SNS).
 */

export type DeliveryFinalStatus = 'SENT' | 'DELIVERED';

/** Another invocation holds a live claim on this delivery: retry later. */
export class DeliveryInProgress extends PurchaseError {
  override readonly name = 'DeliveryInProgress';
  constructor(
    readonly consumer: string,
    readonly eventId: string,
    readonly claimedUntil: string,
  ) {
    super(
      `${consumer}: event ${eventId} is being delivered by another invocation (claim until ${claimedUntil}); retry later`,
    );
  }
}

/** Our lease expired and another invocation took the delivery over before we recorded it. */
export class DeliveryClaimLost extends PurchaseError {
  override readonly name = 'DeliveryClaimLost';
  constructor(
    readonly consumer: string,
    readonly eventId: string,
  ) {
    super(`${consumer}: the claim on event ${eventId} was taken over before the delivery was recorded; retry`);
  }
}

export const DeliveryRecord = z
  .object({
    consumer: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(['CLAIMED', 'FAILED', 'SENT', 'DELIVERED']),
    claimToken: z.string().optional(),
    claimedAt: z.string().optional(),
    claimedUntil: z.string().optional(),
    attempts: z.number().int().optional(),
    completedAt: z.string().optional(),
    failedAt: z.string().optional(),
    lastError: z.string().optional(),
  })
  .loose();
export type DeliveryRecord = z.infer<typeof DeliveryRecord>;

export interface DeliveryClaim {
  consumer: string;
  eventId: string;
  orderId: string;
  token: string;
  claimedUntil: string;
}

/** The event a delivery is of: what its record is keyed by and says. */
export interface DeliveredEvent {
  eventId: string;
  type: string;
  orderId: string;
  userId: string;
}

export type ClaimResult =
  { outcome: 'CLAIMED'; claim: DeliveryClaim; attempt: number } | { outcome: 'DONE'; record: DeliveryRecord };

export interface DeliveryStoreOptions {
  ddb: DynamoDBDocumentClient;
  table: string;
  consumer: string;
  clock: () => Date;
  /** How long a claim protects a delivery in progress. Must exceed the effect's worst-case duration. */
  leaseMs?: number;
  /** Keep the records in the order's partition (`table` is then the Orders table). */
  inOrderPartition?: boolean;
}

export const DEFAULT_LEASE_MS = 60_000;

export class DeliveryStore {
  private readonly ddb: DynamoDBDocumentClient;
  readonly table: string;
  readonly consumer: string;
  private readonly clock: () => Date;
  readonly leaseMs: number;
  private readonly inOrderPartition: boolean;

  constructor(options: DeliveryStoreOptions) {
    this.ddb = options.ddb;
    this.table = options.table;
    this.consumer = options.consumer;
    this.clock = options.clock;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.inOrderPartition = options.inOrderPartition ?? false;
  }

  private key(of: { eventId: string; orderId: string }) {
    return this.inOrderPartition
      ? keys.orderDelivery(of.orderId, this.consumer, of.eventId)
      : keys.delivery(this.consumer, of.eventId);
  }

  /**
   * Claims the delivery of `eventId`: one conditional write decides between concurrent callers.
   * Returns DONE when it was already delivered; throws DeliveryInProgress on a live claim.
   */
  async claim(event: DeliveredEvent): Promise<ClaimResult> {
    const { eventId } = event;
    const now = this.clock();
    const claim: DeliveryClaim = {
      consumer: this.consumer,
      eventId,
      orderId: event.orderId,
      token: randomUUID(),
      claimedUntil: new Date(now.getTime() + this.leaseMs).toISOString(),
    };
    try {
      const { Attributes } = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(event),
          UpdateExpression:
            'SET #status = :claimed, claimToken = :token, claimedAt = :now, claimedUntil = :until, ' +
            'consumer = :consumer, eventId = :eventId, eventType = :eventType, orderId = :orderId, ' +
            'userId = :userId ADD attempts :one',
          // ISO-8601 UTC strings of one format compare like the instants they denote.
          ConditionExpression:
            'attribute_not_exists(pk) OR #status = :failed OR (#status = :claimed AND claimedUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':claimed': 'CLAIMED',
            ':failed': 'FAILED',
            ':token': claim.token,
            ':now': now.toISOString(),
            ':until': claim.claimedUntil,
            ':consumer': this.consumer,
            ':eventId': eventId,
            ':eventType': event.type,
            ':orderId': event.orderId,
            ':userId': event.userId,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'CLAIMED', claim, attempt: DeliveryRecord.parse(Attributes).attempts ?? 1 };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const record = err.Item ? DeliveryRecord.parse(unmarshall(err.Item)) : await this.get(event);
      if (!record)
        throw new TransientFault(`${this.consumer}: delivery of ${eventId} vanished while claiming; retry`, {
          cause: err,
        });
      if (record.status === 'SENT' || record.status === 'DELIVERED') return { outcome: 'DONE', record };
      throw new DeliveryInProgress(this.consumer, eventId, record.claimedUntil ?? 'unknown');
    }
  }

  /**
   * Records the delivery as done, on condition that the claim is still ours; with `event`, the
   * same write carries it (the record's outbox). Throws DeliveryClaimLost otherwise.
   */
  async complete(
    claim: DeliveryClaim,
    status: DeliveryFinalStatus,
    attributes: Record<string, string | number> = {},
    event?: OutboxEvent,
  ): Promise<void> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':status': status,
      ':claimed': 'CLAIMED',
      ':token': claim.token,
      ':now': this.clock().toISOString(),
    };
    const sets = ['#status = :status', 'completedAt = :now'];
    Object.entries(attributes).forEach(([name, value], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      sets.push(`#a${i} = :a${i}`);
    });
    if (event) {
      // A claimed record carries no event yet, and completes once: its map starts here.
      const adding = addingEvent(event, 'new map');
      sets.push(adding.set);
      Object.assign(names, adding.names);
      Object.assign(values, adding.values);
    }
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(claim),
          UpdateExpression: `SET ${sets.join(', ')} REMOVE claimToken, lastError`,
          ConditionExpression: '#status = :claimed AND claimToken = :token',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new DeliveryClaimLost(claim.consumer, claim.eventId);
      throw err;
    }
  }

  /**
   * Gives the claim back after the effect failed, so the next delivery attempt can claim at once
   * instead of waiting for the lease. Best effort: if it fails, the lease expires anyway.
   */
  async release(claim: DeliveryClaim, error: unknown): Promise<void> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(claim),
          UpdateExpression: 'SET #status = :failed, failedAt = :now, lastError = :error REMOVE claimToken',
          ConditionExpression: '#status = :claimed AND claimToken = :token',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':claimed': 'CLAIMED',
            ':token': claim.token,
            ':now': this.clock().toISOString(),
            ':error': message.slice(0, 1000),
          },
        }),
      );
    } catch {
      // Lost the claim already, or DynamoDB is failing: the lease expiry covers both.
    }
  }

  async get(of: { eventId: string; orderId: string }): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: this.key(of), ConsistentRead: true }),
    );
    return Item ? DeliveryRecord.parse(Item) : undefined;
  }
}
