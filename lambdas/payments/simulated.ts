import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { PaymentProviderTimeout, PaymentProviderUnavailable, PurchaseError } from '../domain/errors.js';
import { keys } from '../shared/dynamodb/keys.js';
import type { ChargeRequest, ChargeResult, PaymentProvider, RefundRequest, RefundResult } from './port.js';

/**
 * A deterministic payment provider persisted in the payments table, so its state survives
 * Lambda restarts and is shared by every process pointed at the same table (the local stack,
 * the tests, the HTTP stand-in server). Test setup scripts its faults per order.
 *
 * Every decision is made by a conditional DynamoDB write, never by a read followed by a write,
 * so concurrent callers with the same idempotency key get one charge and one refund.
 */

/** The same idempotency key was reused with different parameters (Stripe: idempotency_error). Never retried. */
export class PaymentIdempotencyMismatch extends PurchaseError {
  override readonly name = 'PaymentIdempotencyMismatch';
  constructor(
    readonly idempotencyKey: string,
    readonly fields: string[],
  ) {
    super(`Idempotency key ${idempotencyKey} was used with different ${fields.join(', ')}`);
  }
}

export const CHARGE_STATUSES = ['CAPTURED', 'REFUNDED', 'DECLINED'] as const;

export const ProviderCharge = z.object({
  chargeId: z.string(),
  idempotencyKey: z.string(),
  orderId: z.string(),
  userId: z.string(),
  amount: z.number(),
  currency: z.string(),
  status: z.enum(CHARGE_STATUSES),
  declineCode: z.optional(z.string()),
  createdAt: z.string(),
  refundId: z.optional(z.string()),
  refundIdempotencyKey: z.optional(z.string()),
  refundedAt: z.optional(z.string()),
});
export type ProviderCharge = z.infer<typeof ProviderCharge>;

const counter = z.optional(z.int().check(z.minimum(0)));
const delay = z.optional(z.int().check(z.minimum(0), z.maximum(60_000)));

/** What the provider does for one order; counters count down as faults are served. */
export const PaymentScript = z.strictObject({
  /** Decline every charge of the order with this code (persisted: a replay is declined too). */
  decline: z.optional(z.string().check(z.minLength(1))),
  /** The next N charge calls throw PaymentProviderUnavailable without charging. */
  failCharges: counter,
  /** The next N charge calls wait `timeoutMs` then throw PaymentProviderTimeout without charging. */
  timeoutCharges: counter,
  timeoutMs: delay,
  /** The next N charge calls DO charge, then throw PaymentProviderTimeout as if the response was lost. */
  loseChargeResponses: counter,
  /** The next N refund calls throw PaymentProviderUnavailable without refunding. */
  failRefunds: counter,
  /** Every charge call first waits this long: a slow provider that still answers. */
  delayMs: delay,
});
export type PaymentScript = z.infer<typeof PaymentScript>;
type ScriptCounter = 'failCharges' | 'timeoutCharges' | 'loseChargeResponses' | 'failRefunds';

const DEFAULT_TIMEOUT_MS = 50;

/**
 * The charge id encodes the idempotency key (reversibly), so the HTTP stand-in can find a
 * charge from the id a client refunds without a second index item.
 */
export function chargeIdFor(idempotencyKey: string): string {
  return `ch_${Buffer.from(idempotencyKey, 'utf8').toString('base64url')}`;
}

export function chargeKeyOf(chargeId: string): string | undefined {
  if (!chargeId.startsWith('ch_')) return undefined;
  const key = Buffer.from(chargeId.slice(3), 'base64url').toString('utf8');
  return chargeIdFor(key) === chargeId ? key : undefined;
}

function refundIdFor(idempotencyKey: string): string {
  return `re_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
}

export interface SimulatedPaymentProviderOptions {
  ddb: DynamoDBDocumentClient;
  table: string;
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export class SimulatedPaymentProvider implements PaymentProvider {
  private readonly ddb: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly clock: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: SimulatedPaymentProviderOptions) {
    this.ddb = options.ddb;
    this.table = options.table;
    this.clock = options.clock ?? (() => new Date());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const script = await this.readScript(request.orderId);
    if (script.delayMs) await this.sleep(script.delayMs);
    if (await this.consume(request.orderId, script, 'failCharges')) {
      throw new PaymentProviderUnavailable(`Simulated provider unavailable (charge ${request.idempotencyKey})`);
    }
    if (await this.consume(request.orderId, script, 'timeoutCharges')) {
      await this.sleep(script.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      throw new PaymentProviderTimeout(`Simulated provider timed out (charge ${request.idempotencyKey})`);
    }

    const charge = await this.createOrReplay(request, script.decline);

    // Consumed only after the charge exists: the fault is "charged, but the answer never arrived".
    if (await this.consume(request.orderId, script, 'loseChargeResponses')) {
      throw new PaymentProviderTimeout(`Simulated provider lost the response (charge ${request.idempotencyKey})`);
    }
    return charge.status === 'DECLINED'
      ? { outcome: 'DECLINED', declineCode: charge.declineCode ?? 'declined' }
      : { outcome: 'CAPTURED', chargeId: charge.chargeId, amount: charge.amount };
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    const script = await this.readScript(request.orderId);
    if (await this.consume(request.orderId, script, 'failRefunds')) {
      throw new PaymentProviderUnavailable(`Simulated provider unavailable (refund ${request.idempotencyKey})`);
    }

    const charge = await this.getCharge(request.chargeIdempotencyKey);
    if (!charge || charge.status === 'DECLINED') return { outcome: 'NO_CHARGE' };
    if (charge.status === 'REFUNDED') return refunded(charge);

    try {
      // The status condition makes the flip happen once, however many refunds race.
      const { Attributes } = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.providerCharge(request.chargeIdempotencyKey),
          UpdateExpression:
            'SET #status = :refunded, refundId = :refundId, refundIdempotencyKey = :key, refundedAt = :now',
          ConditionExpression: '#status = :captured',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':refunded': 'REFUNDED',
            ':captured': 'CAPTURED',
            ':refundId': refundIdFor(request.idempotencyKey),
            ':key': request.idempotencyKey,
            ':now': this.clock().toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return refunded(ProviderCharge.parse(Attributes));
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      // Lost the race to a concurrent refund: answer with the refund that won.
      const winner = await this.getCharge(request.chargeIdempotencyKey);
      if (winner?.status !== 'REFUNDED')
        throw new Error(`Charge ${request.chargeIdempotencyKey} changed unexpectedly`, { cause: err });
      return refunded(winner);
    }
  }

  /** The stored charge made with this idempotency key, if any (consistent read). */
  async getCharge(idempotencyKey: string): Promise<ProviderCharge | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keys.providerCharge(idempotencyKey), ConsistentRead: true }),
    );
    return Item ? ProviderCharge.parse(Item) : undefined;
  }

  private async createOrReplay(request: ChargeRequest, decline: string | undefined): Promise<ProviderCharge> {
    const charge: ProviderCharge = {
      chargeId: chargeIdFor(request.idempotencyKey),
      idempotencyKey: request.idempotencyKey,
      orderId: request.orderId,
      userId: request.userId,
      amount: request.amount,
      currency: request.currency,
      ...(decline === undefined ? { status: 'CAPTURED' } : { status: 'DECLINED', declineCode: decline }),
      createdAt: this.clock().toISOString(),
    };
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keys.providerCharge(request.idempotencyKey), ...charge },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return charge;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // The key was used before: replay the stored result, as long as the request is the same one.
    const stored = await this.getCharge(request.idempotencyKey);
    if (!stored) throw new Error(`Charge ${request.idempotencyKey} vanished`);
    const differing = (['orderId', 'userId', 'amount', 'currency'] as const).filter((f) => stored[f] !== request[f]);
    if (differing.length > 0) throw new PaymentIdempotencyMismatch(request.idempotencyKey, differing);
    return stored;
  }

  private async readScript(orderId: string): Promise<PaymentScript> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keys.providerScript(orderId), ConsistentRead: true }),
    );
    if (!Item) return {};
    const { pk: _pk, sk: _sk, ...script } = Item;
    return PaymentScript.parse(script);
  }

  /**
   * Serves one scripted fault if any is left. The read above only skips the write when the
   * counter is already zero; the conditional decrement decides, so two concurrent callers can
   * never both consume the last fault.
   */
  private async consume(orderId: string, script: PaymentScript, name: ScriptCounter): Promise<boolean> {
    if (!script[name]) return false;
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.providerScript(orderId),
          UpdateExpression: 'SET #n = #n - :one',
          ConditionExpression: '#n > :zero',
          ExpressionAttributeNames: { '#n': name },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

function refunded(charge: ProviderCharge): RefundResult {
  if (!charge.refundId) throw new Error(`Refunded charge ${charge.chargeId} has no refundId`);
  return { outcome: 'REFUNDED', refundId: charge.refundId, chargeId: charge.chargeId, amount: charge.amount };
}

/** Test setup: replaces the script of one order (an empty script clears it). */
export async function scriptPaymentProvider(
  ddb: DynamoDBDocumentClient,
  table: string,
  orderId: string,
  script: PaymentScript,
): Promise<void> {
  const parsed = PaymentScript.parse(script);
  // Drop explicit undefineds: DynamoDB rejects them unless the client strips them.
  const entries: [string, unknown][] = Object.entries(parsed);
  const item = Object.fromEntries(entries.filter(([, value]) => value !== undefined));
  await ddb.send(new PutCommand({ TableName: table, Item: { ...keys.providerScript(orderId), ...item } }));
}

/** Every charge the simulated provider holds (a paginated Scan), for invariant checks in tests. */
export async function listProviderCharges(ddb: DynamoDBDocumentClient, table: string): Promise<ProviderCharge[]> {
  const charges: ProviderCharge[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'begins_with(pk, :prefix)',
        ExpressionAttributeValues: { ':prefix': 'SIMPROVIDER#CHARGE#' },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) charges.push(ProviderCharge.parse(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return charges;
}
