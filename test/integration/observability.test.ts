import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/shared/metric-catalog.js';
import { mintDevToken } from '../../local/dev-auth.js';
import type { LocalSaga } from '../../local/saga.js';
import { call, type ApiAnswer } from '../support/api.js';
import { captureLogs, enableTelemetry, type CapturedLogs } from '../support/logs.js';
import { localSaga, seed, type ShopSpec } from '../support/saga.js';

/**
 * Logs and metrics of real purchases through the local API Gateway, the API Lambda and every
 * step Lambda (all in this process), captured from stdout/stderr as CloudWatch would receive
 * them: every line of a purchase carries its orderId and one correlationId, no line carries the
 * bearer token, and the EMF blobs hold the business metrics.
 */
const shop: ShopSpec = {
  items: [
    { itemId: 'sword', price: 3_000, stock: 100 },
    { itemId: 'last-one', price: 1_000, stock: 1 },
  ],
  users: [
    { userId: 'alice', balance: 100_000, slots: 50 },
    { userId: 'bob', balance: 100_000, slots: 50 },
  ],
};

type Entry = Record<string, unknown>;

interface MetricPoint {
  name: string;
  unit: string;
  value: unknown;
  namespace: string;
  dimensions: Record<string, unknown>;
}

/** Every metric of every EMF blob, with the values of its dimensions. */
function metricPoints(blobs: Entry[]): MetricPoint[] {
  return blobs.flatMap((blob) => {
    const aws = blob['_aws'] as {
      CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
    };
    return aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.map((m) => ({
        name: m.Name,
        unit: m.Unit,
        value: blob[m.Name],
        namespace: directive.Namespace,
        dimensions: Object.fromEntries(directive.Dimensions.flat().map((d) => [d, blob[d]])),
      })),
    );
  });
}

const fn = (entry: Entry) => String(entry['function_name']);
const isAuthorizer = (entry: Entry) => fn(entry).startsWith('AuthorizerFunction');

/** The checks every line of one purchase must pass. */
function expectPurchaseLines(entries: Entry[], orderId: string, correlationId: string): void {
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect(entry, JSON.stringify(entry)).toMatchObject({
      orderId,
      correlationId,
      level: expect.stringMatching(/^(DEBUG|INFO|WARN|ERROR)$/),
      service: SERVICE_NAME,
      function_name: expect.any(String),
      function_request_id: expect.any(String),
    });
  }
}

describe('Observability: logs and metrics of a purchase', () => {
  let saga: LocalSaga;
  let alice: string;
  let bob: string;
  let logs: CapturedLogs;

  beforeAll(async () => {
    // Before any handler exists: their loggers read the level when they are created.
    enableTelemetry('INFO');
    saga = await localSaga();
    await seed(saga, shop);
    [alice, bob] = await Promise.all([mintDevToken({ userId: 'alice' }), mintDevToken({ userId: 'bob' })]);
  });
  afterAll(() => saga.close());
  afterEach(() => (logs as CapturedLogs | undefined)?.restore()); // unassigned when setup failed

  const buy = (
    token: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
    idempotencyKey = randomUUID(),
  ) => call(saga, { path: '/orders', token, idempotencyKey, body, headers });

  it('stamps every line of a completed purchase with its orderId and the caller X-Correlation-Id, and counts it', async () => {
    logs = captureLogs();
    const correlationId = `checkout-${randomUUID()}.web:1`;
    const res = await buy(alice, { itemId: 'sword', quantity: 1 }, { 'X-Correlation-Id': correlationId });
    const orderId = String(res.json['orderId']);

    expect(res.status).toBe(201);
    expect(res.headers['x-correlation-id']).toBe(correlationId);

    const entries = logs.entries();
    const purchase = entries.filter((e) => !isAuthorizer(e));
    expectPurchaseLines(purchase, orderId, correlationId);
    // The API's request line, and a start and an end for each step of the workflow.
    expect(purchase).toContainEqual(
      expect.objectContaining({
        message: 'Request',
        httpMethod: 'POST',
        resource: '/orders',
        statusCode: 201,
        latencyMs: expect.any(Number),
      }),
    );
    for (const step of ['DeductBalance', 'ReserveInventorySlots', 'ReserveStock', 'ChargePayment', 'CompleteOrder']) {
      const stepLines = purchase.filter((e) => e['step'] === step);
      expect(
        stepLines.map((e) => e['message']),
        step,
      ).toEqual(['Step started', 'Step finished']);
      expect(fn(stepLines[0] ?? {})).toMatch(new RegExp(`^${step}Function`));
    }

    // The authorizer logs its decision and the user, never an order (it knows none).
    for (const line of entries.filter(isAuthorizer)) {
      expect(line).toMatchObject({ service: SERVICE_NAME, userId: 'alice' });
      expect(line['orderId']).toBeUndefined();
    }
    // Not a single line, log or metric, holds the token (or its signature).
    for (const { raw } of logs.lines()) {
      expect(raw).not.toContain(alice);
      expect(raw).not.toContain(alice.split('.')[2]);
    }

    const points = metricPoints(logs.metrics());
    expect(points.filter((p) => p.name === 'PurchaseCompleted')).toEqual([
      {
        name: 'PurchaseCompleted',
        unit: 'Count',
        value: 1,
        namespace: METRICS_NAMESPACE,
        dimensions: { service: SERVICE_NAME },
      },
    ]);
    const latency = points.filter((p) => p.name === 'PurchaseLatency');
    expect(latency).toHaveLength(1);
    expect(latency[0]).toMatchObject({ unit: 'Milliseconds', namespace: METRICS_NAMESPACE });
    expect(latency[0]?.value).toBeGreaterThanOrEqual(0);
    expect(points.map((p) => p.name)).not.toContain('PurchaseFailed');
  });

  it('falls back to the API Gateway request id, also when the X-Correlation-Id is invalid', async () => {
    logs = captureLogs();
    const res = await buy(alice, { itemId: 'sword', quantity: 1 });
    const orderId = String(res.json['orderId']);
    const requestId = res.headers['x-amzn-requestid'] ?? '';

    expect(res.status).toBe(201);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-correlation-id']).toBe(requestId);
    expectPurchaseLines(
      logs.entries().filter((e) => !isAuthorizer(e)),
      orderId,
      requestId,
    );

    logs.clear();
    const invalid = 'not a valid id <script>';
    const read = await call(saga, {
      path: `/orders/${orderId}`,
      token: alice,
      headers: { 'X-Correlation-Id': invalid },
    });
    const readRequestId = read.headers['x-amzn-requestid'] ?? '';

    expect(read.status).toBe(200);
    expect(read.headers['x-correlation-id']).toBe(readRequestId);
    const lines = logs.entries().filter((e) => !isAuthorizer(e));
    expectPurchaseLines(lines, orderId, readRequestId);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'WARN', message: 'Invalid X-Correlation-Id ignored; using the request id' }),
    );
    expect(
      logs
        .lines()
        .map((l) => l.raw)
        .join('\n'),
    ).not.toContain(invalid);
  });

  it('counts a refused purchase by failed step and reason, and each compensation that ran', async () => {
    logs = captureLogs();
    const correlationId = `refused-${randomUUID()}`;
    const res: ApiAnswer = await buy(bob, { itemId: 'last-one', quantity: 2 }, { 'X-Correlation-Id': correlationId });
    const orderId = String(res.json['orderId']);

    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ failedStep: 'ReserveStock', reason: 'OutOfStock' });
    const purchase = logs.entries().filter((e) => !isAuthorizer(e));
    expectPurchaseLines(purchase, orderId, correlationId);
    // A refusal is a WARN (the saga at work), not an ERROR.
    expect(purchase).toContainEqual(
      expect.objectContaining({ level: 'WARN', message: 'Step refused', step: 'ReserveStock', reason: 'OutOfStock' }),
    );
    expect(purchase.filter((e) => e['level'] === 'ERROR')).toEqual([]);

    const points = metricPoints(logs.metrics());
    expect(points.filter((p) => p.name === 'PurchaseFailed')).toEqual([
      {
        name: 'PurchaseFailed',
        unit: 'Count',
        value: 1,
        namespace: METRICS_NAMESPACE,
        dimensions: { service: SERVICE_NAME, failedStep: 'ReserveStock', reason: 'OutOfStock' },
      },
    ]);
    // Only the steps before the refusal are compensated, in reverse order.
    expect(points.filter((p) => p.name === 'CompensationRun').map((p) => [p.dimensions['step'], p.value])).toEqual([
      ['ReleaseInventorySlots', 1],
      ['RefundBalance', 1],
    ]);
    expect(points.filter((p) => p.name === 'PurchaseLatency')).toHaveLength(1);
    expect(points.map((p) => p.name)).not.toContain('PurchaseCompleted');
  });

  it('counts a replayed POST as an idempotent replay from the api, and runs nothing again', async () => {
    logs = captureLogs();
    const key = randomUUID();
    const first = await buy(bob, { itemId: 'sword', quantity: 1 }, {}, key);
    expect(first.status).toBe(201);

    logs.clear();
    const correlationId = `retry-${randomUUID()}`;
    const again = await buy(bob, { itemId: 'sword', quantity: 1 }, { 'X-Correlation-Id': correlationId }, key);

    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['x-correlation-id']).toBe(correlationId);
    const lines = logs.entries().filter((e) => !isAuthorizer(e));
    expectPurchaseLines(lines, String(first.json['orderId']), correlationId);
    expect(lines.filter((e) => e['step'] !== undefined)).toEqual([]); // no step ran
    expect(metricPoints(logs.metrics())).toEqual([
      {
        name: 'IdempotentReplay',
        unit: 'Count',
        value: 1,
        namespace: METRICS_NAMESPACE,
        dimensions: { service: SERVICE_NAME, source: 'api' },
      },
    ]);
  });

  it('never mixes the keys of purchases running at the same time in one process', async () => {
    logs = captureLogs();
    const buyers = Array.from({ length: 6 }, (_, i) => ({
      token: i % 2 === 0 ? alice : bob,
      correlationId: `concurrent-${i}-${randomUUID()}`,
    }));
    const answers = await Promise.all(
      buyers.map((b) => buy(b.token, { itemId: 'sword', quantity: 1 }, { 'X-Correlation-Id': b.correlationId })),
    );
    const expected = new Map(answers.map((a, i) => [String(a.json['orderId']), buyers[i]?.correlationId]));

    expect(answers.map((a) => a.status)).toEqual(buyers.map(() => 201));
    const lines = logs.entries().filter((e) => !isAuthorizer(e));
    for (const line of lines) {
      expect(expected.has(String(line['orderId'])), JSON.stringify(line)).toBe(true);
      expect(line['correlationId'], JSON.stringify(line)).toBe(expected.get(String(line['orderId'])));
    }
    // Each purchase: its request line and 5 steps x (start + end).
    for (const orderId of expected.keys()) expect(lines.filter((l) => l['orderId'] === orderId)).toHaveLength(11);
    expect(metricPoints(logs.metrics()).filter((p) => p.name === 'PurchaseCompleted')).toHaveLength(6);
  });
});
