import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { outboxEvent, type OutboxEvent } from '../../lambdas/domain/events.js';
import { DeliveryStore } from '../../lambdas/shared/dynamodb/delivery.js';
import { readTransmission } from '../../lambdas/transmission/recording.js';
import { createHandler } from '../../lambdas/transmitter/app.js';
import { envelopeOf, sqsEvent, sqsRecord } from '../support/bus-events.js';
import { localEventTables } from '../support/event-tables.js';
import { crashingDeliveries } from '../support/faults.js';
import { captureLogs, enableTelemetry } from '../support/logs.js';
import { newOrderId } from '../support/saga.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const TIMEOUT_MS = 300;

// ---------------------------------------------------------------------------------------------
// The external endpoint: a local HTTP server that honours Idempotency-Key (first POST of a key:
// 201, later ones: 409), unless the test scripts the next replies.

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Reply = { status: number; delayMs?: number } | 'hangup';

let server: Server;
let endpointUrl: string;
const received: Received[] = [];
let script: Reply[] = [];
const accepted = new Set<string>();

function startEndpoint(): Promise<void> {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const key = String(req.headers['idempotency-key'] ?? '');
      const reply = script.shift();
      if (reply === 'hangup') {
        req.socket.destroy();
        return;
      }
      let status: number;
      if (reply) {
        status = reply.status;
        if (status >= 200 && status < 300) accepted.add(key);
      } else if (accepted.has(key)) {
        status = 409;
      } else {
        accepted.add(key);
        status = 201;
      }
      const answer = () => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ status }));
      };
      if (reply?.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      endpointUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/orders`;
      resolve();
    }),
  );
}

const postsFor = (eventId: string) => received.filter((r) => r.headers['idempotency-key'] === eventId);

// ---------------------------------------------------------------------------------------------

let world: Awaited<ReturnType<typeof localEventTables>>;
let httpEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  // The tests read the WARN/ERROR lines of the transmitter's logger (errorLog below).
  enableTelemetry('WARN');
  world = await localEventTables();
  await startEndpoint();
  httpEnv = {
    NOTIFICATIONS_TABLE: world.tables.NOTIFICATIONS_TABLE,
    TRANSMISSION_MODE: 'http',
    EXTERNAL_ENDPOINT_URL: endpointUrl,
    EXTERNAL_TIMEOUT_MS: String(TIMEOUT_MS),
  };
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  world.close();
});
afterEach(() => {
  script = [];
  vi.restoreAllMocks();
});

function completedEvent(): OutboxEvent {
  return outboxEvent(
    'ORDER_COMPLETED',
    { orderId: newOrderId(), userId: `u-${randomUUID().slice(0, 8)}` },
    T0.toISOString(),
    {
      itemId: 'sword',
      quantity: 2,
      totalAmount: 3_000,
    },
  );
}

function deliveryOf(event: { eventId: string; orderId: string }) {
  return new DeliveryStore({
    ddb: world.ddb,
    table: world.tables.NOTIFICATIONS_TABLE,
    consumer: 'transmitter',
    clock: () => new Date(),
  }).get(event);
}

const failuresOf = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
  response.batchItemFailures.map((f) => f.itemIdentifier);

/** WARN and ERROR lines the transmitter logged (its Powertools logger), parsed. */
function errorLog() {
  const logs = captureLogs();
  return () =>
    logs.entries().filter((l) => l['level'] === 'WARN' || l['level'] === 'ERROR') as unknown as {
      level: string;
      messageId: string;
      error: { name: string };
    }[];
}

describe('Transmitter over HTTP', () => {
  it('POSTs each ORDER_COMPLETED once with its Idempotency-Key and the agreed body', async () => {
    const event = completedEvent();
    const transmitter = createHandler(httpEnv);
    const response = await transmitter(sqsEvent(sqsRecord(envelopeOf(event), 'm-1')));
    expect(response).toEqual({ batchItemFailures: [] });

    const posts = postsFor(event.eventId);
    expect(posts).toHaveLength(1);
    const [post] = posts;
    expect(post?.method).toBe('POST');
    expect(post?.url).toBe('/v1/orders');
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? '')).toEqual({
      eventId: event.eventId,
      type: 'ORDER_COMPLETED',
      orderId: event.orderId,
      userId: event.userId,
      itemId: 'sword',
      quantity: 2,
      totalAmount: 3_000,
      completedAt: T0.toISOString(),
    });
    expect(await deliveryOf(event)).toMatchObject({
      status: 'DELIVERED',
      mode: 'http',
      transmission: 'ACCEPTED',
      httpStatus: 201,
      attempts: 1,
    });
  });

  it('sends one POST for duplicate records, in one batch and across invocations', async () => {
    const event = completedEvent();
    const transmitter = createHandler(httpEnv);
    const batch = sqsEvent(sqsRecord(envelopeOf(event)), sqsRecord(envelopeOf(event)), sqsRecord(envelopeOf(event)));
    expect(await transmitter(batch)).toEqual({ batchItemFailures: [] });
    expect(await transmitter(sqsEvent(sqsRecord(envelopeOf(event))))).toEqual({ batchItemFailures: [] });
    expect(await createHandler(httpEnv)(sqsEvent(sqsRecord(envelopeOf(event))))).toEqual({ batchItemFailures: [] });
    expect(postsFor(event.eventId)).toHaveLength(1);
  });

  it('sends one POST when 10 invocations race on one event; the losers are redelivered and find it delivered', async () => {
    const event = completedEvent();
    script = [{ status: 201, delayMs: 150 }];
    const transmitter = createHandler(httpEnv);
    const log = errorLog();
    const records = Array.from({ length: 10 }, (_, i) => sqsRecord(envelopeOf(event), `race-${i}`));
    const responses = await Promise.all(records.map((r) => transmitter(sqsEvent(r))));
    const failed = responses.flatMap(failuresOf);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(10);
    expect(new Set(log().map((l) => l.error.name))).toEqual(new Set(['DeliveryInProgress']));

    const redelivered = await Promise.all(
      records.filter((r) => failed.includes(r.messageId)).map((r) => transmitter(sqsEvent(r))),
    );
    expect(redelivered.flatMap(failuresOf)).toEqual([]);
    expect(postsFor(event.eventId)).toHaveLength(1);
  });

  it('reports a 503 as a batch item failure and delivers on the redelivery, with the same key', async () => {
    const event = completedEvent();
    script = [{ status: 503 }, { status: 503 }];
    const transmitter = createHandler(httpEnv);
    const log = errorLog();
    const record = sqsRecord(envelopeOf(event), 'm-503');

    expect(await transmitter(sqsEvent(record))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-503' }] });
    expect(await deliveryOf(event)).toMatchObject({
      status: 'FAILED',
      lastError: expect.stringMatching(/^ExternalEndpointUnavailable: .*503/),
    });
    expect(await transmitter(sqsEvent(record))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-503' }] });
    expect(await transmitter(sqsEvent(record))).toEqual({ batchItemFailures: [] });

    expect(postsFor(event.eventId)).toHaveLength(3);
    expect(await deliveryOf(event)).toMatchObject({ status: 'DELIVERED', httpStatus: 201, attempts: 3 });
    expect(log().map((l) => [l.level, l.error.name])).toEqual([
      ['WARN', 'ExternalEndpointUnavailable'],
      ['WARN', 'ExternalEndpointUnavailable'],
    ]);
  });

  it.each([408, 429, 500, 504])('retries a %i', async (status) => {
    const event = completedEvent();
    script = [{ status }];
    const transmitter = createHandler(httpEnv);
    errorLog();
    const record = sqsRecord(envelopeOf(event));
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([record.messageId]);
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([]);
    expect(postsFor(event.eventId)).toHaveLength(2);
  });

  it('reports a 400 as a permanent failure (the record ends in the DLQ after the redeliveries)', async () => {
    const event = completedEvent();
    script = [{ status: 400 }, { status: 400 }];
    const transmitter = createHandler(httpEnv);
    const log = errorLog();
    const record = sqsRecord(envelopeOf(event), 'm-400');
    expect(await transmitter(sqsEvent(record))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-400' }] });
    expect(await deliveryOf(event)).toMatchObject({
      status: 'FAILED',
      lastError: expect.stringMatching(/^TransmissionRejected: .*400/),
    });
    // Each redelivery asks again (the endpoint may have been fixed), with the same key.
    expect(await transmitter(sqsEvent(record))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-400' }] });
    expect(postsFor(event.eventId)).toHaveLength(2);
    expect(log()).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        messageId: 'm-400',
        error: expect.objectContaining({ name: 'TransmissionRejected' }),
      }),
      expect.objectContaining({
        level: 'ERROR',
        messageId: 'm-400',
        error: expect.objectContaining({ name: 'TransmissionRejected' }),
      }),
    ]);
  });

  it('takes a 409 as "already received": delivered', async () => {
    const event = completedEvent();
    script = [{ status: 409 }];
    expect(await createHandler(httpEnv)(sqsEvent(sqsRecord(envelopeOf(event))))).toEqual({ batchItemFailures: [] });
    expect(await deliveryOf(event)).toMatchObject({
      status: 'DELIVERED',
      transmission: 'ALREADY_RECEIVED',
      httpStatus: 409,
    });
  });

  it('reports a timeout; the redelivery reaches the same transmission (409) and completes', async () => {
    const event = completedEvent();
    // The endpoint takes the transmission but answers long after the client gave up.
    script = [{ status: 201, delayMs: TIMEOUT_MS * 3 }];
    const transmitter = createHandler(httpEnv);
    const log = errorLog();
    const record = sqsRecord(envelopeOf(event));
    const started = Date.now();
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([record.messageId]);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 3);
    expect(log()[0]?.error.name).toBe('ExternalEndpointTimeout');

    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([]);
    expect(postsFor(event.eventId)).toHaveLength(2);
    expect(await deliveryOf(event)).toMatchObject({
      status: 'DELIVERED',
      transmission: 'ALREADY_RECEIVED',
      attempts: 2,
    });
  });

  it('reports network failures (connection reset, nothing listening) as retryable', async () => {
    const event = completedEvent();
    script = ['hangup'];
    const log = errorLog();
    const record = sqsRecord(envelopeOf(event));
    expect(failuresOf(await createHandler(httpEnv)(sqsEvent(record)))).toEqual([record.messageId]);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = createHandler({ ...httpEnv, EXTERNAL_ENDPOINT_URL: `http://127.0.0.1:${port}/v1/orders` });
    expect(failuresOf(await unreachable(sqsEvent(record)))).toEqual([record.messageId]);
    expect(log().map((l) => [l.level, l.error.name])).toEqual([
      ['WARN', 'ExternalEndpointUnavailable'],
      ['WARN', 'ExternalEndpointUnavailable'],
    ]);
    expect(await deliveryOf(event)).toMatchObject({ status: 'FAILED', attempts: 2 });
  });

  it('after a crash between the POST and the record, the redelivery after the lease POSTs again with the same key', async () => {
    const event = completedEvent();
    const crash = crashingDeliveries();
    let now = T0;
    const transmitter = createHandler(httpEnv, { ddb: crash.ddb, clock: () => now });
    const log = errorLog();
    const record = sqsRecord(envelopeOf(event));

    crash.crashNextCompletions(1);
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([record.messageId]);
    now = at(30_000);
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([record.messageId]);
    expect(postsFor(event.eventId)).toHaveLength(1);
    now = at(61_000);
    expect(failuresOf(await transmitter(sqsEvent(record)))).toEqual([]);

    expect(log().map((l) => l.error.name)).toEqual(['InjectedCrash', 'DeliveryInProgress']);
    const posts = postsFor(event.eventId);
    expect(posts).toHaveLength(2);
    expect(await deliveryOf(event)).toMatchObject({
      status: 'DELIVERED',
      transmission: 'ALREADY_RECEIVED',
      attempts: 2,
    });
  });

  it('reports malformed records one by one and still delivers the good ones', async () => {
    const good = completedEvent();
    const transmitter = createHandler(httpEnv);
    const log = errorLog();
    const failed = outboxEvent('ORDER_FAILED', { orderId: newOrderId(), userId: 'u1' }, T0.toISOString(), {
      failedStep: 'ReserveStock',
      reason: 'OutOfStock',
    });
    const noTotal = outboxEvent('ORDER_COMPLETED', { orderId: newOrderId(), userId: 'u1' }, T0.toISOString(), {
      itemId: 'sword',
      quantity: 1,
    });
    const response = await transmitter(
      sqsEvent(
        sqsRecord('{not json', 'bad-json'),
        sqsRecord(envelopeOf(completedEvent(), { source: 'someone.else' }), 'bad-source'),
        sqsRecord(envelopeOf(good), 'good'),
        sqsRecord(envelopeOf(failed), 'other-type'),
        sqsRecord(envelopeOf(noTotal), 'no-total'),
        sqsRecord(JSON.stringify({ detail: {} }), 'no-envelope'),
      ),
    );
    expect(failuresOf(response)).toEqual(['bad-json', 'bad-source', 'other-type', 'no-total', 'no-envelope']);
    expect(Object.fromEntries(log().map((l) => [l.messageId, [l.level, l.error.name]]))).toEqual({
      'bad-json': ['ERROR', 'InvalidEvent'],
      'bad-source': ['ERROR', 'InvalidEvent'],
      'other-type': ['ERROR', 'UnsupportedEventType'],
      'no-total': ['ERROR', 'InvalidEvent'],
      'no-envelope': ['ERROR', 'InvalidEvent'],
    });
    expect(postsFor(good.eventId)).toHaveLength(1);
  });

  it('refuses an event that is not an SQS batch as a whole', async () => {
    await expect(createHandler(httpEnv)({ hello: 'world' })).rejects.toMatchObject({ name: 'InvalidEvent' });
  });

  it('uses an injected fetch', async () => {
    const event = completedEvent();
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
      return new Response('{}', { status: 202 });
    };
    expect(await createHandler(httpEnv, { fetch: fakeFetch })(sqsEvent(sqsRecord(envelopeOf(event))))).toEqual({
      batchItemFailures: [],
    });
    expect(calls).toHaveLength(1);
    expect(new Headers(calls[0]?.init?.headers).get('Idempotency-Key')).toBe(event.eventId);
    expect(await deliveryOf(event)).toMatchObject({ status: 'DELIVERED', httpStatus: 202 });
  });
});

describe('Transmitter in recording mode', () => {
  it('records each transmission once in the Notifications table', async () => {
    const event = completedEvent();
    const transmitter = createHandler({ NOTIFICATIONS_TABLE: world.tables.NOTIFICATIONS_TABLE });
    const before = received.length;
    expect(await transmitter(sqsEvent(sqsRecord(envelopeOf(event)), sqsRecord(envelopeOf(event))))).toEqual({
      batchItemFailures: [],
    });
    expect(await transmitter(sqsEvent(sqsRecord(envelopeOf(event))))).toEqual({ batchItemFailures: [] });

    expect(await readTransmission(world.ddb, world.tables.NOTIFICATIONS_TABLE, event.eventId)).toEqual({
      eventId: event.eventId,
      type: 'ORDER_COMPLETED',
      orderId: event.orderId,
      userId: event.userId,
      itemId: 'sword',
      quantity: 2,
      totalAmount: 3_000,
      completedAt: T0.toISOString(),
      transmittedAt: expect.any(String),
    });
    expect(await deliveryOf(event)).toMatchObject({
      status: 'DELIVERED',
      mode: 'recording',
      transmission: 'RECORDED',
      attempts: 1,
    });
    expect(received.length).toBe(before);
  });
});

describe('Transmitter environment', () => {
  it('fails fast, naming the variable', () => {
    const table = { NOTIFICATIONS_TABLE: 'notifications' };
    expect(() => createHandler({})).toThrow(/NOTIFICATIONS_TABLE/);
    expect(() => createHandler({ ...table, TRANSMISSION_MODE: 'http' })).toThrow(/EXTERNAL_ENDPOINT_URL is required/);
    expect(() => createHandler({ ...table, TRANSMISSION_MODE: 'ftp' })).toThrow(/TRANSMISSION_MODE/);
    expect(() => createHandler({ ...table, TRANSMISSION_MODE: 'http', EXTERNAL_ENDPOINT_URL: 'ftp://x' })).toThrow(
      /EXTERNAL_ENDPOINT_URL/,
    );
    expect(() =>
      createHandler({
        ...table,
        TRANSMISSION_MODE: 'http',
        EXTERNAL_ENDPOINT_URL: 'https://x.example',
        EXTERNAL_TIMEOUT_MS: '60000',
      }),
    ).toThrow(/EXTERNAL_TIMEOUT_MS/);
    expect(() =>
      createHandler({ ...table, TRANSMISSION_MODE: 'http', EXTERNAL_ENDPOINT_URL: 'https://x.example' }),
    ).not.toThrow();
  });
});
