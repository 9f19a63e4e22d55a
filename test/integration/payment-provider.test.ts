import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PaymentProviderTimeout, PaymentProviderUnavailable } from '../../lambdas/domain/errors.js';
import { paymentProviderFromEnv } from '../../lambdas/payments/factory.js';
import { HttpPaymentProvider, PaymentProviderRejected } from '../../lambdas/payments/http.js';
import { paymentKeys, type ChargeRequest } from '../../lambdas/payments/port.js';
import {
  listProviderCharges,
  PaymentIdempotencyMismatch,
  scriptPaymentProvider,
  SimulatedPaymentProvider,
  type PaymentScript,
  type ProviderCharge,
} from '../../lambdas/payments/simulated.js';
import { documentClient } from '../../lambdas/shared/dynamodb/client.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.js';
import { startPaymentProviderServer, type PaymentProviderServer } from '../../local/payment-provider-server.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');

let dynamo: DynamoDbLocal | undefined;
let client: DynamoDBClient;
let ddb: DynamoDBDocumentClient;
const table = `payments-test-${randomUUID()}`;
let sleeps: number[] = [];
let provider: SimulatedPaymentProvider;

beforeAll(async () => {
  // Prefer a DynamoDB Local shared by a global setup; start our own only when there is none.
  // (Cast: the key is declared by test/support/global-setup.ts; this suite must not depend on it.)
  const provided = (inject as unknown as (key: string) => unknown)('dynamoEndpoint');
  let endpoint: string;
  if (typeof provided === 'string') {
    endpoint = provided;
  } else {
    dynamo = await startDynamoDbLocal();
    endpoint = dynamo.endpoint;
  }
  client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  ddb = documentClient(client);
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  provider = new SimulatedPaymentProvider({
    ddb,
    table,
    clock: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}, 60_000);

afterAll(async () => {
  // Checked once over everything the suite did: the provider never charged an order twice.
  const charges = await listProviderCharges(ddb, table);
  const perOrder = new Map<string, number>();
  for (const c of charges) perOrder.set(c.orderId, (perOrder.get(c.orderId) ?? 0) + 1);
  expect([...perOrder.values()].every((n) => n === 1)).toBe(true);

  if (!dynamo) await client.send(new DeleteTableCommand({ TableName: table }));
  client.destroy();
  await dynamo?.stop();
}, 30_000);

function newOrder(amount = 1_000): ChargeRequest {
  const orderId = `o-${randomUUID()}`;
  return { idempotencyKey: paymentKeys.charge(orderId), orderId, userId: 'u-1', amount, currency: 'KRW' };
}

function refundOf(order: ChargeRequest) {
  return {
    idempotencyKey: paymentKeys.refund(order.orderId),
    chargeIdempotencyKey: order.idempotencyKey,
    orderId: order.orderId,
  };
}

async function chargesOf(orderId: string): Promise<ProviderCharge[]> {
  return (await listProviderCharges(ddb, table)).filter((c) => c.orderId === orderId);
}

async function script(orderId: string, s: PaymentScript): Promise<void> {
  await scriptPaymentProvider(ddb, table, orderId, s);
}

describe('Payments: SimulatedPaymentProvider', () => {
  it('captures a charge and persists it', async () => {
    const order = newOrder(1_500);
    const result = await provider.charge(order);
    expect(result).toMatchObject({ outcome: 'CAPTURED', amount: 1_500 });
    const [charge, ...others] = await chargesOf(order.orderId);
    expect(others).toHaveLength(0);
    expect(charge).toMatchObject({
      idempotencyKey: order.idempotencyKey,
      orderId: order.orderId,
      userId: 'u-1',
      amount: 1_500,
      currency: 'KRW',
      status: 'CAPTURED',
      createdAt: NOW.toISOString(),
    });
    expect(result.outcome === 'CAPTURED' && result.chargeId).toBe(charge?.chargeId);
  });

  it('replays the same charge for the same key', async () => {
    const order = newOrder();
    const first = await provider.charge(order);
    const second = await provider.charge(order);
    expect(second).toEqual(first);
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('creates exactly one charge for 20 concurrent calls with the same key', async () => {
    const order = newOrder();
    const results = await Promise.all(Array.from({ length: 20 }, () => provider.charge(order)));
    const ids = new Set(results.map((r) => (r.outcome === 'CAPTURED' ? r.chargeId : 'declined')));
    expect(ids.size).toBe(1);
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('lets exactly one of concurrent calls with the same key and different amounts win', async () => {
    // Ids are deterministic, so only differing requests show whether the create is exclusive.
    const order = newOrder();
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => provider.charge({ ...order, amount: 100 + i })),
    );
    const captured = settled.flatMap((s) =>
      s.status === 'fulfilled' && s.value.outcome === 'CAPTURED' ? [s.value] : [],
    );
    const mismatched = settled.filter((s) => s.status === 'rejected' && s.reason instanceof PaymentIdempotencyMismatch);
    expect(captured).toHaveLength(1);
    expect(mismatched).toHaveLength(9);
    const charges = await chargesOf(order.orderId);
    expect(charges.map((c) => c.amount)).toEqual([captured[0]?.amount]);
  });

  it('rejects a reused key with a different amount and keeps the original charge', async () => {
    const order = newOrder(1_000);
    await provider.charge(order);
    const error = await provider.charge({ ...order, amount: 2_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentIdempotencyMismatch);
    expect((error as PaymentIdempotencyMismatch).name).toBe('PaymentIdempotencyMismatch');
    expect((error as PaymentIdempotencyMismatch).fields).toEqual(['amount']);
    const charges = await chargesOf(order.orderId);
    expect(charges.map((c) => c.amount)).toEqual([1_000]);
  });

  it('persists a decline and replays it even after the script is cleared', async () => {
    const order = newOrder();
    await script(order.orderId, { decline: 'insufficient_funds' });
    expect(await provider.charge(order)).toEqual({ outcome: 'DECLINED', declineCode: 'insufficient_funds' });
    await script(order.orderId, {});
    expect(await provider.charge(order)).toEqual({ outcome: 'DECLINED', declineCode: 'insufficient_funds' });
    const charges = await chargesOf(order.orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ status: 'DECLINED', declineCode: 'insufficient_funds' });
  });

  it('fails the next N charges without charging, then captures', async () => {
    const order = newOrder();
    await script(order.orderId, { failCharges: 2 });
    await expect(provider.charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    await expect(provider.charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    expect(await chargesOf(order.orderId)).toHaveLength(0);
    expect(await provider.charge(order)).toMatchObject({ outcome: 'CAPTURED' });
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('serves each scripted failure to exactly one of many concurrent callers', async () => {
    const order = newOrder();
    await script(order.orderId, { failCharges: 3 });
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => provider.charge(order)));
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed).toHaveLength(3);
    for (const f of failed) expect(f.reason).toBeInstanceOf(PaymentProviderUnavailable);
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('times out the next N charges after waiting, without charging', async () => {
    const order = newOrder();
    await script(order.orderId, { timeoutCharges: 1, timeoutMs: 30 });
    sleeps = [];
    await expect(provider.charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    expect(sleeps).toEqual([30]);
    expect(await chargesOf(order.orderId)).toHaveLength(0);
    expect(await provider.charge(order)).toMatchObject({ outcome: 'CAPTURED' });
  });

  it('charges but loses the response, and the retry returns the same charge', async () => {
    const order = newOrder();
    await script(order.orderId, { loseChargeResponses: 1 });
    await expect(provider.charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    const [lost] = await chargesOf(order.orderId);
    expect(lost).toMatchObject({ status: 'CAPTURED', amount: order.amount });
    expect(await provider.charge(order)).toEqual({
      outcome: 'CAPTURED',
      chargeId: lost?.chargeId,
      amount: order.amount,
    });
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('refunds a captured charge', async () => {
    const order = newOrder(700);
    const charged = await provider.charge(order);
    const refund = await provider.refund(refundOf(order));
    expect(refund).toMatchObject({ outcome: 'REFUNDED', amount: 700 });
    expect(
      refund.outcome === 'REFUNDED' && charged.outcome === 'CAPTURED' && refund.chargeId === charged.chargeId,
    ).toBe(true);
    const [charge] = await chargesOf(order.orderId);
    expect(charge).toMatchObject({ status: 'REFUNDED', refundedAt: NOW.toISOString() });
    expect(refund.outcome === 'REFUNDED' && refund.refundId).toBe(charge?.refundId);
  });

  it('refunds once when asked twice', async () => {
    const order = newOrder();
    await provider.charge(order);
    const first = await provider.refund(refundOf(order));
    const second = await provider.refund(refundOf(order));
    expect(second).toEqual(first);
    const charges = await chargesOf(order.orderId);
    expect(charges.map((c) => c.status)).toEqual(['REFUNDED']);
  });

  it('answers NO_CHARGE when there is no charge or it was declined', async () => {
    const never = newOrder();
    expect(await provider.refund(refundOf(never))).toEqual({ outcome: 'NO_CHARGE' });
    expect(await chargesOf(never.orderId)).toHaveLength(0);

    const declined = newOrder();
    await script(declined.orderId, { decline: 'do_not_honor' });
    await provider.charge(declined);
    expect(await provider.refund(refundOf(declined))).toEqual({ outcome: 'NO_CHARGE' });
    expect((await chargesOf(declined.orderId)).map((c) => c.status)).toEqual(['DECLINED']);
  });

  it('fails the next N refunds without refunding, then refunds', async () => {
    const order = newOrder();
    await provider.charge(order);
    await script(order.orderId, { failRefunds: 1 });
    await expect(provider.refund(refundOf(order))).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    expect((await chargesOf(order.orderId)).map((c) => c.status)).toEqual(['CAPTURED']);
    expect(await provider.refund(refundOf(order))).toMatchObject({ outcome: 'REFUNDED' });
    expect((await chargesOf(order.orderId)).map((c) => c.status)).toEqual(['REFUNDED']);
  });

  it('produces one refund from concurrent refunds', async () => {
    const order = newOrder();
    await provider.charge(order);
    // Different refund keys too: the charge can only be refunded once whoever asks.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        provider.refund({ ...refundOf(order), idempotencyKey: `refund-${i}-${order.orderId}` }),
      ),
    );
    const refundIds = new Set(results.map((r) => (r.outcome === 'REFUNDED' ? r.refundId : 'none')));
    expect(refundIds.size).toBe(1);
    const [charge] = await chargesOf(order.orderId);
    expect(charge?.status).toBe('REFUNDED');
    expect(refundIds.has(charge?.refundId ?? '')).toBe(true);
  });
});

describe('Payments: paymentProviderFromEnv', () => {
  it('defaults to the simulated provider in KRW', () => {
    const setup = paymentProviderFromEnv({ PAYMENTS_TABLE: table }, ddb);
    expect(setup.provider).toBeInstanceOf(SimulatedPaymentProvider);
    expect(setup.currency).toBe('KRW');
  });

  it('builds the HTTP provider and requires its URL', () => {
    const setup = paymentProviderFromEnv(
      { PAYMENT_PROVIDER: 'http', PAYMENT_PROVIDER_URL: 'https://pay.example.com', PAYMENT_CURRENCY: 'USD' },
      ddb,
    );
    expect(setup.provider).toBeInstanceOf(HttpPaymentProvider);
    expect(setup.currency).toBe('USD');
    expect(() => paymentProviderFromEnv({ PAYMENT_PROVIDER: 'http' }, ddb)).toThrow(/PAYMENT_PROVIDER_URL/);
    expect(() => paymentProviderFromEnv({}, ddb)).toThrow(/PAYMENTS_TABLE/);
    expect(() => paymentProviderFromEnv({ PAYMENTS_TABLE: table, PAYMENT_PROVIDER_TIMEOUT_MS: 'soon' }, ddb)).toThrow(
      /PAYMENT_PROVIDER_TIMEOUT_MS/,
    );
  });
});

describe('Payments: HttpPaymentProvider', () => {
  let server: PaymentProviderServer;
  let http: HttpPaymentProvider;
  /** A client that gives up quickly, for the timeout cases. */
  let impatient: HttpPaymentProvider;

  beforeAll(async () => {
    server = await startPaymentProviderServer({ provider });
    http = new HttpPaymentProvider({ baseUrl: server.url, timeoutMs: 5_000, apiKey: 'sk_test_1' });
    impatient = new HttpPaymentProvider({ baseUrl: `${server.url}/`, timeoutMs: 200 });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('captures a charge and sends the idempotency key and API key', async () => {
    const order = newOrder(1_200);
    const result = await http.charge(order);
    const [charge] = await chargesOf(order.orderId);
    expect(result).toEqual({ outcome: 'CAPTURED', chargeId: charge?.chargeId, amount: 1_200 });
    expect(charge).toMatchObject({ status: 'CAPTURED', amount: 1_200, currency: 'KRW', userId: 'u-1' });

    const request = server.requests.find((r) => r.method === 'POST' && r.body.includes(order.orderId));
    expect(request?.path).toBe('/v1/charges');
    expect(request?.headers['idempotency-key']).toBe(order.idempotencyKey);
    expect(request?.headers['authorization']).toBe('Bearer sk_test_1');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '{}')).toEqual({
      amount: 1_200,
      currency: 'KRW',
      reference: order.orderId,
      customer: 'u-1',
    });
  });

  it('replays the same charge id for the same key', async () => {
    const order = newOrder();
    const first = await http.charge(order);
    expect(await http.charge(order)).toEqual(first);
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('maps a decline to DECLINED', async () => {
    const order = newOrder();
    await script(order.orderId, { decline: 'card_declined' });
    expect(await http.charge(order)).toEqual({ outcome: 'DECLINED', declineCode: 'card_declined' });
    expect((await chargesOf(order.orderId)).map((c) => c.status)).toEqual(['DECLINED']);
  });

  it('maps 503 to PaymentProviderUnavailable without charging', async () => {
    const order = newOrder();
    await script(order.orderId, { failCharges: 1 });
    await expect(http.charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    expect(await chargesOf(order.orderId)).toHaveLength(0);
    expect(await http.charge(order)).toMatchObject({ outcome: 'CAPTURED' });
  });

  it('maps no answer in time to PaymentProviderTimeout', async () => {
    const order = newOrder();
    await script(order.orderId, { timeoutCharges: 1, timeoutMs: 10 });
    const started = Date.now();
    await expect(impatient.charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await chargesOf(order.orderId)).toHaveLength(0);
  });

  it('finds a charge whose response was lost: the retry returns the same charge', async () => {
    const order = newOrder();
    await script(order.orderId, { loseChargeResponses: 1 });
    await expect(impatient.charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    const [lost] = await chargesOf(order.orderId);
    expect(lost?.status).toBe('CAPTURED');
    expect(await http.charge(order)).toEqual({ outcome: 'CAPTURED', chargeId: lost?.chargeId, amount: order.amount });
    expect(await chargesOf(order.orderId)).toHaveLength(1);
  });

  it('refunds a charge whose response was lost, once', async () => {
    const order = newOrder(900);
    await script(order.orderId, { loseChargeResponses: 1 });
    await expect(impatient.charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    const refund = await http.refund(refundOf(order));
    expect(refund).toMatchObject({ outcome: 'REFUNDED', amount: 900 });
    expect(await http.refund(refundOf(order))).toEqual(refund);
    const [charge] = await chargesOf(order.orderId);
    expect(charge).toMatchObject({
      status: 'REFUNDED',
      refundId: refund.outcome === 'REFUNDED' ? refund.refundId : '',
    });
    const refundRequest = server.requests.find(
      (r) => r.path === '/v1/refunds' && r.body.includes(charge?.chargeId ?? '?'),
    );
    expect(refundRequest?.headers['idempotency-key']).toBe(paymentKeys.refund(order.orderId));
  });

  it('answers NO_CHARGE for no charge and for a declined one', async () => {
    const never = newOrder();
    expect(await http.refund(refundOf(never))).toEqual({ outcome: 'NO_CHARGE' });
    const declined = newOrder();
    await script(declined.orderId, { decline: 'do_not_honor' });
    await http.charge(declined);
    expect(await http.refund(refundOf(declined))).toEqual({ outcome: 'NO_CHARGE' });
    expect((await chargesOf(declined.orderId)).map((c) => c.status)).toEqual(['DECLINED']);
  });

  it('maps a failing refund to PaymentProviderUnavailable', async () => {
    const order = newOrder();
    await http.charge(order);
    await script(order.orderId, { failRefunds: 1 });
    await expect(http.refund(refundOf(order))).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    expect((await chargesOf(order.orderId)).map((c) => c.status)).toEqual(['CAPTURED']);
    expect(await http.refund(refundOf(order))).toMatchObject({ outcome: 'REFUNDED' });
  });

  it('maps a reused key with another amount to PaymentIdempotencyMismatch', async () => {
    const order = newOrder(1_000);
    await http.charge(order);
    const error = await http.charge({ ...order, amount: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentIdempotencyMismatch);
    expect((error as PaymentIdempotencyMismatch).fields).toEqual(['amount']);
  });

  it('treats a malformed body as unavailable, a 400 as rejected and a dead endpoint as unavailable', async () => {
    const order = newOrder();
    const answering = (status: number, body: string) =>
      new HttpPaymentProvider({
        baseUrl: 'http://provider.invalid',
        timeoutMs: 1_000,
        fetch: async () => new Response(body, { status, headers: { 'Content-Type': 'application/json' } }),
      });
    const malformed = await answering(200, '{"id":"ch_1","status":"pending"}')
      .charge(order)
      .catch((e: unknown) => e);
    expect(malformed).toBeInstanceOf(PaymentProviderUnavailable);
    expect((malformed as Error).cause).toBeInstanceOf(Error);
    await expect(answering(200, 'not json').charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    await expect(answering(429, '{}').charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    await expect(answering(409, '{}').charge(order)).rejects.toBeInstanceOf(PaymentProviderUnavailable);
    await expect(answering(504, '{}').charge(order)).rejects.toBeInstanceOf(PaymentProviderTimeout);
    const rejected = await answering(400, '{"error":"bad"}')
      .charge(order)
      .catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(PaymentProviderRejected);
    expect((rejected as PaymentProviderRejected).name).toBe('PaymentProviderRejected');

    const stopped = await startPaymentProviderServer({ provider });
    await stopped.stop();
    const dead = new HttpPaymentProvider({ baseUrl: stopped.url, timeoutMs: 1_000 });
    const error = await dead.charge(order).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentProviderUnavailable);
    expect((error as Error).cause).toBeDefined();
  });
});
