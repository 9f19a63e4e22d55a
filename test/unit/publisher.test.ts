import {
  EventBridgeClient,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { EVENT_SOURCE, outboxEvent } from '../../lambdas/domain/events.js';
import { keys } from '../../lambdas/shared/dynamodb/keys.js';
import { carrying } from '../../lambdas/shared/dynamodb/outbox.js';
import { createHandler, OutboxEventRejected, type PublisherOverrides } from '../../lambdas/publisher/app.js';

/**
 * The publisher on its own: stream records in, PutEvents calls out. The EventBridge client
 * answers from a script in its first middleware, so nothing leaves the process.
 */
const BUS = 'test-bus';
const T = '2026-03-01T10:00:00.000Z';
const T2 = '2026-03-01T10:00:01.000Z';

type Verdict = 'ok' | { code: string };
/** Decides each entry's fate per call; returns the calls' entries as sent. */
function scriptedEventBridge(decide: (entry: { eventId: string; type: string }, call: number) => Verdict = () => 'ok') {
  const client = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  });
  const calls: PutEventsRequestEntry[][] = [];
  client.middlewareStack.add(
    () => async (args) => {
      const entries = (args.input as PutEventsCommandInput).Entries ?? [];
      calls.push(entries);
      const results: PutEventsResultEntry[] = entries.map((e, i) => {
        const d = JSON.parse(e.Detail ?? '{}') as { eventId: string; type: string };
        const v = decide(d, calls.length);
        return v === 'ok'
          ? { EventId: `ev-${calls.length}-${i}` }
          : { ErrorCode: v.code, ErrorMessage: `scripted ${v.code}` };
      });
      return {
        output: { $metadata: {}, FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results },
        response: {},
      };
    },
    { step: 'initialize', name: 'script' },
  );
  return { client, calls };
}

function handler(eventBridge: EventBridgeClient, overrides: PublisherOverrides = {}) {
  return createHandler(
    { EVENT_BUS_NAME: BUS },
    { eventBridge, retryBaseDelayMs: 0, log: () => undefined, ...overrides },
  );
}

let seq = 100;
/** A stream record as Lambda delivers it. */
function record(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  item: Record<string, unknown>,
  before: Record<string, unknown> = item,
) {
  seq++;
  const image = marshall(item, { removeUndefinedValues: true });
  const oldImage = marshall(before, { removeUndefinedValues: true });
  return {
    eventID: `id-${seq}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-03-01T00:00:00.000',
    dynamodb: {
      Keys: marshall({ pk: item['pk'], sk: item['sk'] }),
      ...(eventName !== 'REMOVE' ? { NewImage: image } : {}),
      ...(eventName !== 'INSERT' ? { OldImage: oldImage } : {}),
      SequenceNumber: String(seq).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** The insert of an item that carries one event. */
function outboxInsert(orderId: string, type: Parameters<typeof outboxEvent>[0], qualifier?: string) {
  const e = outboxEvent(type, { orderId, userId: 'alice' }, T, { amount: 1 }, qualifier);
  return record('INSERT', {
    ...keys.order(orderId),
    sk: `CARRIER#${type}#${qualifier ?? ''}`,
    orderId,
    ...carrying(e),
  });
}

const sequenceOf = (r: ReturnType<typeof record>) => r.dynamodb.SequenceNumber;
const idsOf = (entries: PutEventsRequestEntry[]) =>
  entries.map((e) => (JSON.parse(e.Detail ?? '{}') as { eventId: string }).eventId);

describe('Function: publisher', () => {
  it('publishes each event a record adds to an item, as {Source, DetailType, Detail} on the bus, and nothing else', async () => {
    const eb = scriptedEventBridge();
    const alice = { orderId: 'o-1', userId: 'alice' };
    const order = { ...keys.order('o-1'), orderId: 'o-1', status: 'PENDING' };
    const created = { ...order, ...carrying(outboxEvent('ORDER_CREATED', alice, T, { amount: 1 })) };
    const step = { ...keys.stepRecord('o-1', 'DeductBalance'), orderId: 'o-1', status: 'COMMITTED' };
    const deducted = { ...step, ...carrying(outboxEvent('PAYMENT_RESERVED', alice, T, { reservedAmount: 5 })) };
    const refunded = {
      ...deducted,
      status: 'COMPENSATED',
      events: {
        ...deducted.events,
        ...carrying(outboxEvent('PAYMENT_ROLLBACK', alice, T2, { refundedAmount: 5 })).events,
      },
    };
    const event = {
      Records: [
        record('INSERT', created),
        record('INSERT', deducted),
        // The compensation adds its event to the step record: only that one is new.
        record('MODIFY', refunded, deducted),
        // Changes that add no event publish nothing, and neither does a removal.
        record('MODIFY', { ...created, status: 'COMPLETED' }, created),
        record('MODIFY', { ...refunded, gsi1pk: 'CHARGE_RECHECK#1' }, refunded),
        record('INSERT', { ...keys.order('o-2'), orderId: 'o-2', status: 'PENDING' }),
        record('REMOVE', refunded),
      ],
    };
    await expect(handler(eb.client)(event)).resolves.toEqual({ batchItemFailures: [] });
    expect(eb.calls).toHaveLength(1);
    expect(idsOf(eb.calls.flat())).toEqual(['o-1:ORDER_CREATED', 'o-1:PAYMENT_RESERVED', 'o-1:PAYMENT_ROLLBACK']);
    expect(eb.calls[0]?.[0]).toEqual({
      EventBusName: BUS,
      Source: EVENT_SOURCE,
      DetailType: 'ORDER_CREATED',
      Detail: JSON.stringify({
        eventId: 'o-1:ORDER_CREATED',
        type: 'ORDER_CREATED',
        orderId: 'o-1',
        userId: 'alice',
        timestamp: T,
        payload: { orderId: 'o-1', userId: 'alice', timestamp: T, amount: 1 },
      }),
    });
    expect(JSON.parse(eb.calls[0]?.[2]?.Detail ?? '{}')).toEqual({
      eventId: 'o-1:PAYMENT_ROLLBACK',
      type: 'PAYMENT_ROLLBACK',
      orderId: 'o-1',
      userId: 'alice',
      timestamp: T2,
      payload: { orderId: 'o-1', userId: 'alice', timestamp: T2, refundedAmount: 5 },
    });
    // Nothing to publish: no call at all.
    const idle = scriptedEventBridge();
    await expect(
      handler(idle.client)({ Records: [record('MODIFY', { ...keys.order('o-2'), status: 'FAILED' })] }),
    ).resolves.toEqual({ batchItemFailures: [] });
    expect(idle.calls).toEqual([]);
  });

  it('keeps the qualifier out of the detail but in the eventId (several NOTIFICATION_SENT per order)', async () => {
    const eb = scriptedEventBridge();
    await handler(eb.client)({
      Records: [
        outboxInsert('o-1', 'NOTIFICATION_SENT', 'ORDER_COMPLETED'),
        outboxInsert('o-1', 'NOTIFICATION_SENT', 'PAYMENT_PROCESSED'),
      ],
    });
    expect(idsOf(eb.calls.flat())).toEqual([
      'o-1:NOTIFICATION_SENT:ORDER_COMPLETED',
      'o-1:NOTIFICATION_SENT:PAYMENT_PROCESSED',
    ]);
    expect(eb.calls.flat().map((e) => Object.keys(JSON.parse(e.Detail ?? '{}') as object).sort())).toEqual([
      ['eventId', 'orderId', 'payload', 'timestamp', 'type', 'userId'],
      ['eventId', 'orderId', 'payload', 'timestamp', 'type', 'userId'],
    ]);
  });

  it('sends at most 10 entries per PutEvents, in stream order', async () => {
    const eb = scriptedEventBridge();
    const records = Array.from({ length: 25 }, (_, i) => outboxInsert(`o-${i}`, 'ORDER_CREATED'));
    await expect(handler(eb.client)({ Records: records })).resolves.toEqual({ batchItemFailures: [] });
    expect(eb.calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(idsOf(eb.calls.flat())).toEqual(records.map((_, i) => `o-${i}:ORDER_CREATED`));
  });

  it('re-sends only the entries PutEvents did not take, and succeeds when they go through', async () => {
    const eb = scriptedEventBridge((e, call) =>
      e.eventId === 'o-1:PAYMENT_RESERVED' && call < 3 ? { code: 'ThrottlingException' } : 'ok',
    );
    const records = [
      outboxInsert('o-1', 'ORDER_CREATED'),
      outboxInsert('o-1', 'PAYMENT_RESERVED'),
      outboxInsert('o-1', 'INVENTORY_RESERVED'),
    ];
    await expect(handler(eb.client)({ Records: records })).resolves.toEqual({ batchItemFailures: [] });
    expect(eb.calls.map(idsOf)).toEqual([
      ['o-1:ORDER_CREATED', 'o-1:PAYMENT_RESERVED', 'o-1:INVENTORY_RESERVED'],
      ['o-1:PAYMENT_RESERVED'],
      ['o-1:PAYMENT_RESERVED'],
    ]);
  });

  it('reports the first record still not published, and publishes nothing after its chunk', async () => {
    const eb = scriptedEventBridge((e) =>
      e.eventId === 'o-3:ORDER_CREATED' || e.eventId === 'o-5:ORDER_CREATED' ? { code: 'InternalFailure' } : 'ok',
    );
    const records = Array.from({ length: 15 }, (_, i) => outboxInsert(`o-${i}`, 'ORDER_CREATED'));
    const result = await handler(eb.client, { putAttempts: 2 })({ Records: records });
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceOf(records[3] as ReturnType<typeof record>) }],
    });
    // The first chunk (10) and the retry of its two failed entries; the second chunk never went.
    expect(eb.calls.map((c) => c.length)).toEqual([10, 2]);
  });

  it('treats a whole failed PutEvents call like failed entries', async () => {
    let calls = 0;
    const client = new EventBridgeClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
    });
    client.middlewareStack.add(
      () => async () => {
        calls++;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
      { step: 'initialize', name: 'down' },
    );
    const records = [outboxInsert('o-1', 'ORDER_CREATED'), outboxInsert('o-2', 'ORDER_CREATED')];
    await expect(handler(client, { putAttempts: 3 })({ Records: records })).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceOf(records[0] as ReturnType<typeof record>) }],
    });
    expect(calls).toBe(3);
  });

  it('reports an entry EventBridge rejects, and throws when it heads the batch (so the mapping bisects it out)', async () => {
    const eb = scriptedEventBridge((e) => (e.eventId === 'o-2:ORDER_CREATED' ? { code: 'InvalidArgument' } : 'ok'));
    const records = [
      outboxInsert('o-1', 'ORDER_CREATED'),
      outboxInsert('o-2', 'ORDER_CREATED'),
      outboxInsert('o-3', 'ORDER_CREATED'),
    ];
    await expect(handler(eb.client)({ Records: records })).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceOf(records[1] as ReturnType<typeof record>) }],
    });
    // Rejected entries are not retried within the invocation.
    expect(eb.calls).toHaveLength(1);
    await expect(handler(eb.client)({ Records: records.slice(1) })).rejects.toThrow(OutboxEventRejected);
  });

  it('never publishes events an item cannot carry: reported, or thrown at the head', async () => {
    const eb = scriptedEventBridge();
    // No userId, and an entry without its time.
    const bad = record('INSERT', {
      ...keys.stepRecord('o-9', 'DeductBalance'),
      orderId: 'o-9',
      events: { ORDER_CREATED: { payload: {} } },
    });
    const good = outboxInsert('o-1', 'ORDER_CREATED');
    await expect(handler(eb.client)({ Records: [good, bad] })).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceOf(bad) }],
    });
    expect(idsOf(eb.calls.flat())).toEqual(['o-1:ORDER_CREATED']);
    const err = await handler(eb.client)({ Records: [bad, good] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboxEventRejected);
    expect((err as Error).name).toBe('OutboxEventRejected');
    expect((err as Error).message).toMatch(/its events cannot be read: .*userId.*events\.ORDER_CREATED\.at/);
  });

  it('refuses what is not a DynamoDB stream event, and a missing bus name', async () => {
    const eb = scriptedEventBridge();
    await expect(handler(eb.client)({ detail: {} })).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(() => createHandler({}, { eventBridge: eb.client })).toThrow(/EVENT_BUS_NAME/);
  });
});
