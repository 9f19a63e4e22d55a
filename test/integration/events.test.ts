import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, NOTIFIED_EVENTS, TRANSMITTED_EVENTS } from '../../lambdas/domain/events.js';
import { documentClient } from '../../lambdas/shared/dynamodb/client.js';
import { readTransmission } from '../../lambdas/transmission/recording.js';
import type { PublishedEvent } from '../../local/eventbridge.js';
import type { LocalSaga } from '../../local/saga.js';
import { REPO_ROOT } from '../../local/template.js';
import { outboxEventsOf } from '../support/bus-events.js';
import { localSaga, newOrderId, purchase, seed, type ShopSpec } from '../support/saga.js';

/**
 * The outbox end to end on the local stand-in: the saga's transactions write outbox events into
 * the Orders table; the Publisher, fed by the table's stream through the event source mapping,
 * puts them on the custom bus; rules hand them to the Notifier (asynchronous Lambda) and, through
 * the transmission queue, to the Transmitter. Publishing is at least once, so these tests assert
 * that no event is lost and that the consumers' effects happen once per eventId.
 */

const HAPPY = [
  'ORDER_CREATED',
  'PAYMENT_RESERVED',
  'INVENTORY_RESERVED',
  'ITEM_RESERVED',
  'PAYMENT_PROCESSED',
  'ORDER_COMPLETED',
];
const CONSUMERS =
  existsSync(join(REPO_ROOT, 'lambdas/notifier/app.ts')) && existsSync(join(REPO_ROOT, 'lambdas/transmitter/app.ts'));

const shop: ShopSpec = {
  items: [{ itemId: 'sword', price: 1_000, stock: 100 }],
  users: [
    { userId: 'alice', balance: 100_000, slots: 50 },
    { userId: 'bob', balance: 100_000, slots: 50 },
    { userId: 'carol', balance: 100_000, slots: 50 },
    { userId: 'poor', balance: 10, slots: 5 },
  ],
};

interface Detail {
  eventId: string;
  type: string;
  orderId: string;
  userId: string;
  timestamp: string;
  payload: Record<string, unknown>;
}

const detailOf = (e: PublishedEvent): Detail => e.detail as Detail;
const QUIET = { log: () => undefined };
const ofOrder = (saga: LocalSaga, orderId: string) =>
  saga.events.published().filter((e) => detailOf(e).orderId === orderId);
const withoutNotifications = (events: PublishedEvent[]) => events.filter((e) => e.detailType !== 'NOTIFICATION_SENT');

/** Every outbox item of the order (`EVENT#...` in its partition), by eventId. */
async function outbox(saga: LocalSaga, orderId: string) {
  const items = await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, orderId);
  return new Map(items.map((i) => [i.eventId, i]));
}

/** An EventBridge client whose PutEvents fails as told, before the SDK's own retries see anything. */
function faultyEventBridge(faults: {
  failCalls?: number;
  entries?: { eventId: string; code: string; times: number }[];
}) {
  const client = new EventBridgeClient({});
  let callsToFail = faults.failCalls ?? 0;
  const failedSoFar = new Map<string, number>();
  const stats = { calls: 0, failedCalls: 0, failedEntries: [] as string[] };
  const eventIdOf = (e: PutEventsRequestEntry) => (JSON.parse(e.Detail ?? '{}') as { eventId?: string }).eventId ?? '';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutEventsCommand') return next(args);
      stats.calls++;
      if (callsToFail > 0) {
        callsToFail--;
        stats.failedCalls++;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      const input = args.input as PutEventsCommandInput;
      const entries = input.Entries ?? [];
      const verdicts = entries.map((e) => {
        const id = eventIdOf(e);
        const fault = (faults.entries ?? []).find((f) => f.eventId === id);
        if (!fault || (failedSoFar.get(id) ?? 0) >= fault.times) return undefined;
        failedSoFar.set(id, (failedSoFar.get(id) ?? 0) + 1);
        stats.failedEntries.push(id);
        return { ErrorCode: fault.code, ErrorMessage: `injected ${fault.code}` } satisfies PutEventsResultEntry;
      });
      const passing = entries.filter((_, i) => !verdicts[i]);
      let accepted: PutEventsResultEntry[] = [];
      let response: unknown = {};
      if (passing.length > 0) {
        const result = await next({ ...args, input: { ...input, Entries: passing } });
        accepted = [...((result.output as PutEventsCommandOutput).Entries ?? [])];
        response = result.response;
      }
      const merged = verdicts.map(
        (v) => v ?? accepted.shift() ?? { ErrorCode: 'InternalFailure', ErrorMessage: 'no result' },
      );
      const output: PutEventsCommandOutput = {
        $metadata: {},
        FailedEntryCount: merged.filter((r) => r.ErrorCode).length,
        Entries: merged,
      };
      return { output, response };
    },
    { step: 'initialize', name: 'injectPutEventsFaults' },
  );
  return { client, stats };
}

describe('Events: the outbox on the bus (local stand-in)', () => {
  describe('a healthy pipeline', () => {
    let saga: LocalSaga;
    beforeAll(async () => {
      saga = await localSaga({ events: {}, overrides: { Publisher: QUIET } });
      await seed(saga, shop);
    });
    afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

    it('publishes a completed purchase in stream order, each event once with its outbox eventId', async () => {
      const orderId = newOrderId();
      const { run } = await purchase(saga, { orderId, userId: 'alice', itemId: 'sword', quantity: 1 });
      expect(run.status).toBe('SUCCEEDED');
      await saga.events.drain();

      const published = ofOrder(saga, orderId);
      const items = await outbox(saga, orderId);
      expect(withoutNotifications(published).map((e) => e.detailType)).toEqual(HAPPY);
      for (const e of published) {
        const d = detailOf(e);
        expect(e.source).toBe(EVENT_SOURCE);
        expect(d.type).toBe(e.detailType);
        expect(Object.keys(d).sort()).toEqual(['eventId', 'orderId', 'payload', 'timestamp', 'type', 'userId']);
        const item = items.get(d.eventId);
        expect(item, d.eventId).toBeDefined();
        expect(d).toEqual({
          eventId: item?.eventId,
          type: item?.type,
          orderId,
          userId: 'alice',
          timestamp: item?.timestamp,
          payload: item?.payload,
        });
      }
      // Each event exactly once, and every outbox item published.
      const ids = published.map((e) => detailOf(e).eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(items.keys()));
      expect(ids.filter((id) => !id.includes('NOTIFICATION_SENT'))).toEqual(HAPPY.map((t) => `${orderId}:${t}`));
      for (const q of ['PublisherDlq', 'NotifierDlq', 'TransmissionQueue', 'TransmissionDlq'])
        expect(saga.events.queues.depth(q), q).toBe(0);
    });

    it.runIf(CONSUMERS)('notifies the notified events and transmits the completed order, once each', async () => {
      const orderId = newOrderId();
      await purchase(saga, { orderId, userId: 'bob', itemId: 'sword', quantity: 2 });
      await saga.events.drain();

      const published = ofOrder(saga, orderId);
      const notified = HAPPY.filter((t) => (NOTIFIED_EVENTS as readonly string[]).includes(t));
      const sent = published.filter((e) => e.detailType === 'NOTIFICATION_SENT').map((e) => detailOf(e));
      expect(sent.map((d) => d.eventId).sort()).toEqual(
        notified.map((t) => `${orderId}:NOTIFICATION_SENT:${t}`).sort(),
      );
      expect(sent.map((d) => d.payload['notifiedEventId']).sort()).toEqual(
        notified.map((t) => `${orderId}:${t}`).sort(),
      );
      for (const t of TRANSMITTED_EVENTS) {
        await expect(
          readTransmission(saga.ddb, saga.tables.NOTIFICATIONS_TABLE, `${orderId}:${t}`),
        ).resolves.toMatchObject({ orderId, quantity: 2 });
      }
    });

    it('publishes a refused purchase: the order created, then failed', async () => {
      const orderId = newOrderId();
      const { run } = await purchase(saga, { orderId, userId: 'poor', itemId: 'sword', quantity: 1 });
      expect(run.output).toMatchObject({
        status: 'FAILED',
        failedStep: 'DeductBalance',
        reason: 'InsufficientBalance',
      });
      await saga.events.drain();

      const published = ofOrder(saga, orderId);
      expect(withoutNotifications(published).map((e) => e.detailType)).toEqual(['ORDER_CREATED', 'ORDER_FAILED']);
      expect(detailOf(published.find((e) => e.detailType === 'ORDER_FAILED') as PublishedEvent).payload).toMatchObject({
        failedStep: 'DeductBalance',
        reason: 'InsufficientBalance',
      });
      expect(new Set(published.map((e) => detailOf(e).eventId))).toEqual(new Set((await outbox(saga, orderId)).keys()));
      if (CONSUMERS)
        expect(published.filter((e) => e.detailType === 'NOTIFICATION_SENT').map((e) => detailOf(e).eventId)).toEqual([
          `${orderId}:NOTIFICATION_SENT:ORDER_FAILED`,
        ]);
    });

    it('publishes a compensated purchase: the rollbacks in reverse order, then the failure', async () => {
      // 40 of the 50 slots: the second order of 20 is refused after the balance was taken.
      const first = newOrderId();
      const orderId = newOrderId();
      await purchase(saga, { orderId: first, userId: 'carol', itemId: 'sword', quantity: 40 });
      const { run } = await purchase(saga, { orderId, userId: 'carol', itemId: 'sword', quantity: 20 });
      expect(run.output).toMatchObject({
        status: 'FAILED',
        failedStep: 'ReserveInventorySlots',
        reason: 'InventoryFull',
      });
      await saga.events.drain();
      expect(withoutNotifications(ofOrder(saga, orderId)).map((e) => e.detailType)).toEqual([
        'ORDER_CREATED',
        'PAYMENT_RESERVED',
        'PAYMENT_ROLLBACK',
        'ORDER_FAILED',
      ]);
    });
  });

  describe('the local EventBridge endpoint, through the real SDK', () => {
    let saga: LocalSaga;
    let bus: string;
    const client = new EventBridgeClient({});
    beforeAll(async () => {
      saga = await localSaga({ events: {}, overrides: { Publisher: QUIET } });
      bus = saga.lambdas.get('Publisher')?.spec.env['EVENT_BUS_NAME'] ?? '';
    });
    afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

    it('accepts entries by bus name or ARN and answers an error per bad entry', async () => {
      const arn = `arn:aws:events:us-east-1:000000000000:event-bus/${bus}`;
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: bus, Source: 'test', DetailType: 'PING', Detail: '{"n":1}' },
            { EventBusName: arn, Source: 'test', DetailType: 'PING', Detail: '{"n":2}' },
            { EventBusName: bus, Source: 'test', DetailType: 'PING', Detail: 'not json' },
            { EventBusName: bus, Source: 'test', Detail: '{}' },
            { EventBusName: 'no-such-bus', Source: 'test', DetailType: 'PING', Detail: '{}' },
          ],
        }),
      );
      expect(out.FailedEntryCount).toBe(3);
      expect(out.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
        'ok',
        'ok',
        'MalformedDetail',
        'InvalidArgument',
        'ResourceNotFoundException',
      ]);
      const pings = saga.events.published().filter((e) => e.detailType === 'PING');
      expect(pings.map((e) => [e.id, e.detail])).toEqual([
        [out.Entries?.[0]?.EventId, { n: 1 }],
        [out.Entries?.[1]?.EventId, { n: 2 }],
      ]);
      // No rule matches this source: nothing was delivered anywhere.
      await saga.events.drain();
      for (const q of ['NotifierDlq', 'TransmissionQueue', 'TransmissionDlq'])
        expect(saga.events.queues.depth(q), q).toBe(0);
    });

    it('refuses more than 10 entries in one call', async () => {
      const entries = Array.from({ length: 11 }, () => ({
        EventBusName: bus,
        Source: 'test',
        DetailType: 'PING',
        Detail: '{}',
      }));
      await expect(client.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
        name: 'ValidationException',
      });
    });
  });

  describe('PutEvents failing transiently', () => {
    let saga: LocalSaga;
    let faults: ReturnType<typeof faultyEventBridge>;
    const orderId = newOrderId();
    beforeAll(async () => {
      faults = faultyEventBridge({
        // Two whole calls throttled, and two events refused (InternalFailure) more times than
        // the function retries them itself: the stream has to retry the batch from them.
        failCalls: 2,
        entries: [
          { eventId: `${orderId}:PAYMENT_RESERVED`, code: 'InternalFailure', times: 4 },
          { eventId: `${orderId}:ORDER_COMPLETED`, code: 'ThrottlingException', times: 3 },
        ],
      });
      saga = await localSaga({
        events: {},
        overrides: {
          Publisher: { eventBridge: faults.client, putAttempts: 2, retryBaseDelayMs: 1, log: () => undefined },
        },
      });
      await seed(saga, shop);
    });
    afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

    it('retries until every event is on the bus: none lost, the failed ones retried from the stream', async () => {
      await purchase(saga, { orderId, userId: 'alice', itemId: 'sword', quantity: 1 });
      await saga.events.drain();

      const published = ofOrder(saga, orderId);
      const ids = published.map((e) => detailOf(e).eventId);
      // At least once: every outbox event is on the bus; a retried batch may repeat a few.
      expect(new Set(ids)).toEqual(new Set((await outbox(saga, orderId)).keys()));
      // (Entries PutEvents took in the call where an earlier one failed are on the bus before it:
      // delivery order is not a promise of EventBridge's anyway.)
      expect(new Set(withoutNotifications(published).map((e) => e.detailType))).toEqual(new Set(HAPPY));
      expect(faults.stats.failedCalls).toBe(2);
      expect(faults.stats.failedEntries.filter((id) => id.endsWith(':PAYMENT_RESERVED'))).toHaveLength(4);
      // The function reported partial failures; the mapping retried from them; nothing was discarded.
      const [stream] = saga.events.stats().streams;
      expect(stream?.partialFailures).toBeGreaterThanOrEqual(2);
      expect(stream?.discardedBatches).toBe(0);
      expect(saga.events.queues.depth('PublisherDlq')).toBe(0);
    });

    it.runIf(CONSUMERS)('still notifies and transmits once per eventId', async () => {
      const sent = ofOrder(saga, orderId).filter((e) => e.detailType === 'NOTIFICATION_SENT');
      expect(new Set(sent.map((e) => detailOf(e).eventId)).size).toBe(
        NOTIFIED_EVENTS.filter((t) => HAPPY.includes(t)).length,
      );
      const items = await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, orderId);
      expect(items.filter((i) => i.type === 'NOTIFICATION_SENT')).toHaveLength(2);
      await expect(
        readTransmission(saga.ddb, saga.tables.NOTIFICATIONS_TABLE, `${orderId}:ORDER_COMPLETED`),
      ).resolves.toMatchObject({ orderId });
      expect(saga.events.queues.depth('TransmissionDlq')).toBe(0);
    });
  });

  describe('a poison record', () => {
    let saga: LocalSaga;
    const orders = [newOrderId(), newOrderId(), newOrderId()];
    const poison = `${orders[1]}:INVENTORY_RESERVED`;
    beforeAll(async () => {
      // EventBridge rejects one event for good (as it would a malformed entry).
      const faults = faultyEventBridge({
        entries: [{ eventId: poison, code: 'InvalidArgument', times: Number.POSITIVE_INFINITY }],
      });
      saga = await localSaga({
        // The stream is read only when drained: the three purchases arrive as one batch.
        events: { streamPollIntervalMs: 600_000 },
        overrides: { Publisher: { eventBridge: faults.client, retryBaseDelayMs: 1, log: () => undefined } },
      });
      await seed(saga, shop);
    });
    afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

    it('isolates it, sends it to the PublisherDlq after the retries, and publishes every other event', async () => {
      await Promise.all(
        orders.map((orderId, i) =>
          purchase(saga, { orderId, userId: ['alice', 'bob', 'carol'][i] as string, itemId: 'sword', quantity: 1 }),
        ),
      );
      await saga.events.drain();

      const published = new Set(saga.events.published().map((e) => detailOf(e).eventId));
      expect(published.has(poison)).toBe(false);
      for (const orderId of orders) {
        const expected = [...(await outbox(saga, orderId)).keys()].filter((id) => id !== poison);
        expect(
          expected.filter((id) => !published.has(id)),
          orderId,
        ).toEqual([]);
      }

      // One dead letter: the poison alone, after the mapping's 10 retries (bisecting down to it).
      const dead = saga.events.queues.messages('PublisherDlq');
      expect(dead).toHaveLength(1);
      const record = JSON.parse(dead[0]?.body ?? '{}') as {
        requestContext: { condition: string; approximateInvokeCount: number };
        DDBStreamBatchInfo: {
          batchSize: number;
          startSequenceNumber: string;
          endSequenceNumber: string;
          streamArn: string;
        };
      };
      expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 });
      expect(record.DDBStreamBatchInfo.batchSize).toBe(1);
      expect(record.DDBStreamBatchInfo.startSequenceNumber).toBe(record.DDBStreamBatchInfo.endSequenceNumber);
      expect(record.DDBStreamBatchInfo.streamArn).toContain(`table/${saga.tables.ORDERS_TABLE}/stream/`);
      const [stream] = saga.events.stats().streams;
      expect(stream?.functionErrors).toBeGreaterThanOrEqual(10);
      expect(stream?.discardedBatches).toBe(1);
    });
  });

  describe.runIf(CONSUMERS)('consumers failing for good', () => {
    let saga: LocalSaga;
    const orderId = newOrderId();
    beforeAll(async () => {
      // The notifier's sender is down; the transmitter cannot write its delivery records.
      const down = {
        channel: 'recording',
        send: () => Promise.reject(Object.assign(new Error('mail server down'), { name: 'SenderUnavailable' })),
      };
      const brokenDdb = new DynamoDBClient({});
      brokenDdb.middlewareStack.add(
        () => async () => {
          throw Object.assign(new Error('injected outage'), { name: 'ServiceUnavailable' });
        },
        { step: 'initialize', name: 'outage' },
      );
      saga = await localSaga({
        events: {},
        overrides: { Publisher: QUIET, Notifier: { sender: down }, Transmitter: { ddb: documentClient(brokenDdb) } },
      });
      await seed(saga, shop);
    });
    afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

    it('ends each undelivered event in its dead-letter queue after the retries', async () => {
      await purchase(saga, { orderId, userId: 'alice', itemId: 'sword', quantity: 1 });
      await saga.events.drain();

      // Notifier: asynchronous invocation, 1 + 2 retries, then the on-failure destination.
      const notifierDead = saga.events.queues.messages('NotifierDlq').map(
        (m) =>
          JSON.parse(m.body) as {
            requestContext: { condition: string; approximateInvokeCount: number };
            requestPayload: { detail: Detail; 'detail-type': string };
            responsePayload: { errorType: string };
          },
      );
      expect(notifierDead.map((r) => r.requestPayload['detail-type']).sort()).toEqual([
        'ORDER_COMPLETED',
        'PAYMENT_PROCESSED',
      ]);
      for (const r of notifierDead) {
        expect(r.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
        expect(r.responsePayload.errorType).toBe('SenderUnavailable');
      }
      // Transmitter: SQS redrive after 5 receives; the message is the EventBridge event.
      const transmissionDead = saga.events.queues.messages('TransmissionDlq');
      expect(transmissionDead).toHaveLength(1);
      const transmitter = Object.entries(saga.events.stats().queues).find(([queue]) =>
        queue.includes('TransmissionQueue'),
      )?.[1];
      expect(transmitter).toMatchObject({ invocations: 5, partialFailures: 5 });
      const envelope = JSON.parse(transmissionDead[0]?.body ?? '{}') as {
        source: string;
        'detail-type': string;
        detail: Detail;
      };
      expect(envelope).toMatchObject({
        source: EVENT_SOURCE,
        'detail-type': 'ORDER_COMPLETED',
        detail: { eventId: `${orderId}:ORDER_COMPLETED` },
      });
      expect(saga.events.queues.depth('TransmissionQueue')).toBe(0);
      expect(saga.events.queues.depth('PublisherDlq')).toBe(0);
    });
  });
});
