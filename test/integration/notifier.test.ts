import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxEvent, type OutboxEvent } from '../../lambdas/domain/events.js';
import { failureSentence } from '../../lambdas/notifications/messages.js';
import type { Notification, NotificationSender, SendReceipt } from '../../lambdas/notifications/port.js';
import { listNotifications, RecordingNotificationSender } from '../../lambdas/notifications/recording.js';
import { createHandler } from '../../lambdas/notifier/app.js';
import { DeliveryClaimLost, DeliveryStore } from '../../lambdas/shared/dynamodb/delivery.js';
import type { LocalSaga } from '../../local/saga.js';
import { envelopeOf, outboxEventsOf } from '../support/bus-events.js';
import { localEventTables, type EventTables } from '../support/event-tables.js';
import { crashingDeliveries } from '../support/faults.js';
import { localSaga, newOrderId, purchase, seed } from '../support/saga.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The tables the notifier uses, on their own (most tests), or a whole local saga (real purchases). */
interface World {
  ddb: DynamoDBDocumentClient;
  tables: EventTables;
}
let world: World & { close: () => void };
let env: NodeJS.ProcessEnv;
const envOf = (w: World): NodeJS.ProcessEnv => ({
  NOTIFICATIONS_TABLE: w.tables.NOTIFICATIONS_TABLE,
  ORDERS_TABLE: w.tables.ORDERS_TABLE,
});

beforeAll(async () => {
  world = await localEventTables();
  env = envOf(world);
});
afterAll(() => world.close());

/** A sender that counts what it was asked to send, optionally slow or failing, around the recording adapter. */
function spySender(options: { delayMs?: number; failFirst?: number } = {}) {
  const recording = new RecordingNotificationSender({ ddb: world.ddb, table: world.tables.NOTIFICATIONS_TABLE });
  let failures = options.failFirst ?? 0;
  const calls: Notification[] = [];
  const sender: NotificationSender = {
    channel: 'recording',
    async send(n: Notification): Promise<SendReceipt> {
      calls.push(n);
      if (options.delayMs) await sleep(options.delayMs);
      if (failures > 0) {
        failures--;
        throw Object.assign(new Error('mail server down'), { name: 'SenderUnavailable' });
      }
      return recording.send(n);
    },
  };
  return { sender, calls };
}

/** A DynamoDB client whose next `n` TransactWriteItems fail before reaching the table: a crash after the send. */

function completedEvent(userId = `u-${randomUUID().slice(0, 8)}`, orderId = newOrderId()): OutboxEvent {
  return outboxEvent('ORDER_COMPLETED', { orderId, userId }, T0.toISOString(), {
    itemId: 'sword',
    quantity: 2,
    totalAmount: 3_000,
  });
}

async function notificationSentEvents(orderId: string, w: World = world) {
  return (await outboxEventsOf(w.ddb, w.tables.ORDERS_TABLE, orderId)).filter((e) => e.type === 'NOTIFICATION_SENT');
}

/** The Notifier's delivery records, beside the order. */
function deliveries(w: World = world) {
  const store = new DeliveryStore({
    ddb: w.ddb,
    table: w.tables.ORDERS_TABLE,
    inOrderPartition: true,
    consumer: 'notifier',
    clock: () => new Date(),
  });
  return { get: (event: OutboxEvent) => store.get(event) };
}

const told = (userId: string, w: World = world) => listNotifications(w.ddb, w.tables.NOTIFICATIONS_TABLE, userId);

describe('Notifier: what the user is told, from real purchases', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, {
      items: [
        { itemId: 'sword', price: 1_500, stock: 100 },
        { itemId: 'potion', price: 10, stock: 100 },
      ],
      users: [
        { userId: 'alice', balance: 100_000, slots: 10 },
        { userId: 'bob', balance: 100_000, slots: 1 },
      ],
    });
  });
  afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

  it('notifies a completed order and its payment, each with a NOTIFICATION_SENT in the outbox', async () => {
    const orderId = newOrderId();
    const { run, order } = await purchase(saga, { orderId, userId: 'alice', itemId: 'sword', quantity: 2 });
    expect(run.status).toBe('SUCCEEDED');
    expect(order.totalAmount).toBe(3_000);
    const events = await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, orderId);
    const completed = events.find((e) => e.type === 'ORDER_COMPLETED');
    const paid = events.find((e) => e.type === 'PAYMENT_PROCESSED');
    if (!completed || !paid) throw new Error('the purchase wrote no ORDER_COMPLETED / PAYMENT_PROCESSED');

    const notifier = createHandler(envOf(saga));
    await expect(notifier(envelopeOf(paid))).resolves.toMatchObject({ outcome: 'SENT', type: 'PAYMENT_PROCESSED' });
    await expect(notifier(envelopeOf(completed))).resolves.toMatchObject({ outcome: 'SENT', type: 'ORDER_COMPLETED' });

    const alice = (await told('alice', saga)).filter((n) => n.orderId === orderId);
    expect(alice.map((n) => ({ kind: n.kind, subject: n.subject, text: n.text, eventId: n.eventId }))).toEqual(
      expect.arrayContaining([
        {
          kind: 'ORDER_COMPLETED',
          subject: 'Your order is complete',
          text: `Your order ${orderId} is complete: 2 x sword for a total of 3,000. They are now in your inventory.`,
          eventId: completed.eventId,
        },
        {
          kind: 'PAYMENT_PROCESSED',
          subject: 'Payment received',
          text: `We received your payment of 3,000 for order ${orderId}.`,
          eventId: paid.eventId,
        },
      ]),
    );
    expect(alice).toHaveLength(2);

    const sent = await notificationSentEvents(orderId, saga);
    // Each carried by the write that recorded its delivery, beside the order.
    expect(sent.map((e) => e.sk).sort()).toEqual(
      [`DELIVERY#notifier#${completed.eventId}`, `DELIVERY#notifier#${paid.eventId}`].sort(),
    );
    const forCompleted = sent.find((e) => e.qualifier === 'ORDER_COMPLETED');
    expect(forCompleted).toMatchObject({
      eventId: `${orderId}:NOTIFICATION_SENT:ORDER_COMPLETED`,
      type: 'NOTIFICATION_SENT',
      orderId,
      userId: 'alice',
      payload: {
        orderId,
        userId: 'alice',
        notifiedEvent: 'ORDER_COMPLETED',
        notifiedEventId: completed.eventId,
        channel: 'recording',
      },
    });
    expect(await deliveries(saga).get(completed)).toMatchObject({
      status: 'SENT',
      attempts: 1,
      channel: 'recording',
    });
  });

  it('notifies a failed order with its reason in plain words', async () => {
    const orderId = newOrderId();
    const { order } = await purchase(saga, { orderId, userId: 'bob', itemId: 'potion', quantity: 2 });
    const failed = (await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, orderId)).find(
      (e) => e.type === 'ORDER_FAILED',
    );
    if (!failed) throw new Error('the refused purchase wrote no ORDER_FAILED');
    expect(failed.payload).toMatchObject({
      failedStep: 'ReserveInventorySlots',
      reason: 'InventoryFull',
      totalAmount: order.totalAmount,
    });

    await expect(createHandler(envOf(saga))(envelopeOf(failed))).resolves.toMatchObject({
      outcome: 'SENT',
      type: 'ORDER_FAILED',
    });
    const bob = (await told('bob', saga)).filter((n) => n.orderId === orderId);
    expect(bob).toEqual([
      expect.objectContaining({
        kind: 'ORDER_FAILED',
        subject: 'Your order could not be completed',
        text:
          `Your order ${orderId} could not be completed because your inventory has no free slots left for it. ` +
          'Everything taken or reserved for it has been given back.',
      }),
    ]);
    expect((await notificationSentEvents(orderId, saga)).map((e) => [e.sk, e.qualifier])).toEqual([
      [`DELIVERY#notifier#${orderId}:ORDER_FAILED`, 'ORDER_FAILED'],
    ]);
  });
});

describe('Notifier: messages', () => {
  it('maps every refusal and unknown failures to a sentence', () => {
    expect(failureSentence('DeductBalance', 'InsufficientBalance')).toBe('your balance was not enough to pay for it');
    expect(failureSentence('UseCoupon', 'CouponExpired')).toBe('the coupon has expired');
    expect(failureSentence('ReserveStock', 'OutOfStock')).toBe('the item is out of stock');
    expect(failureSentence('ChargePayment', 'PaymentDeclined')).toBe('the payment was declined');
    expect(failureSentence('ChargePayment', 'PaymentProviderUnavailable')).toBe(
      'of a technical problem while processing the payment',
    );
    expect(failureSentence('Mystery', 'States.Timeout')).toBe('of a technical problem');
  });
});

describe('Notifier: exactly once per event id', () => {
  it('sends once when the same event is delivered again', async () => {
    const event = completedEvent();
    const { sender, calls } = spySender();
    const notifier = createHandler(env, { sender });
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'SENT' });
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'ALREADY_SENT' });
    await expect(createHandler(env, { sender })(envelopeOf(event))).resolves.toMatchObject({ outcome: 'ALREADY_SENT' });
    expect(calls).toHaveLength(1);
    expect(await told(event.userId)).toHaveLength(1);
    expect(await notificationSentEvents(event.orderId)).toHaveLength(1);
  });

  it('sends once when 10 deliveries of one event race; the losers are told to retry, then find it sent', async () => {
    const event = completedEvent();
    const { sender, calls } = spySender({ delayMs: 150 });
    const notifier = createHandler(env, { sender });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => notifier(envelopeOf(event))));

    const sent = results.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'SENT');
    expect(sent).toHaveLength(1);
    // The sender holds the claim for 150 ms: the others really raced it.
    expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThan(0);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as Error).name).toBe('DeliveryInProgress');
      else expect(['SENT', 'ALREADY_SENT']).toContain(r.value.outcome);
    }
    // The platform's retry of a loser finds the delivery done.
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'ALREADY_SENT' });

    expect(calls).toHaveLength(1);
    expect(await told(event.userId)).toHaveLength(1);
    expect(await notificationSentEvents(event.orderId)).toHaveLength(1);
  });

  it('takes over an expired claim after a crash between sending and recording (recording adapter: still one notification)', async () => {
    const event = completedEvent();
    const { sender, calls } = spySender();
    const crash = crashingDeliveries();
    let now = T0;
    const notifier = createHandler(env, { sender, ddb: crash.ddb, clock: () => now });

    crash.crashNextCompletions(1);
    await expect(notifier(envelopeOf(event))).rejects.toMatchObject({ name: 'InjectedCrash' });
    expect(calls).toHaveLength(1);
    expect(await deliveries().get(event)).toMatchObject({
      status: 'CLAIMED',
      claimedUntil: at(60_000).toISOString(),
    });
    // The event is written by the write that records the delivery: lost with it, written by the retry.
    expect(await notificationSentEvents(event.orderId)).toHaveLength(0);

    // Within the lease the claim protects the (possibly still running) first attempt.
    now = at(30_000);
    await expect(notifier(envelopeOf(event))).rejects.toMatchObject({ name: 'DeliveryInProgress' });
    expect(calls).toHaveLength(1);

    // After it, a retry takes over and sends again; the conditional puts keep one notification and one event.
    now = at(61_000);
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'SENT', attempt: 2 });
    expect(calls).toHaveLength(2);
    expect(await told(event.userId)).toHaveLength(1);
    expect(await notificationSentEvents(event.orderId)).toHaveLength(1);
    expect(await deliveries().get(event)).toMatchObject({ status: 'SENT', attempts: 2 });
  });

  it('releases the claim when the send fails, so the retry sends at once', async () => {
    const event = completedEvent();
    const { sender, calls } = spySender({ failFirst: 1 });
    const notifier = createHandler(env, { sender, clock: () => T0 });
    await expect(notifier(envelopeOf(event))).rejects.toMatchObject({ name: 'SenderUnavailable' });
    expect(await deliveries().get(event)).toMatchObject({
      status: 'FAILED',
      lastError: 'SenderUnavailable: mail server down',
    });
    expect(await notificationSentEvents(event.orderId)).toHaveLength(0);

    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'SENT', attempt: 2 });
    expect(calls).toHaveLength(2);
    expect(await told(event.userId)).toHaveLength(1);
    expect(await notificationSentEvents(event.orderId)).toHaveLength(1);
  });

  it('a holder whose lease was taken over cannot record the delivery', async () => {
    const orderId = newOrderId();
    const delivered = { eventId: `${orderId}:ORDER_COMPLETED`, type: 'ORDER_COMPLETED', orderId, userId: 'u1' };
    let now = T0;
    const store = new DeliveryStore({
      ddb: world.ddb,
      table: world.tables.ORDERS_TABLE,
      inOrderPartition: true,
      consumer: 'notifier',
      clock: () => now,
    });
    const first = await store.claim(delivered);
    now = at(60_001);
    const second = await store.claim(delivered);
    if (first.outcome !== 'CLAIMED' || second.outcome !== 'CLAIMED') throw new Error('expected two claims');
    await expect(store.complete(first.claim, 'SENT')).rejects.toBeInstanceOf(DeliveryClaimLost);
    await store.complete(second.claim, 'SENT');
    await expect(store.claim(delivered)).resolves.toMatchObject({
      outcome: 'DONE',
      record: { status: 'SENT', attempts: 2 },
    });
  });
});

describe('Notifier: validation', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'a type it does not handle',
      () => envelopeOf(outboxEvent('ORDER_CREATED', { orderId: newOrderId(), userId: 'u1' }, T0.toISOString(), {})),
      'UnsupportedEventType',
    ],
    [
      'NOTIFICATION_SENT itself',
      () =>
        envelopeOf(
          outboxEvent('NOTIFICATION_SENT', { orderId: newOrderId(), userId: 'u1' }, T0.toISOString(), {}, 'X'),
        ),
      'UnsupportedEventType',
    ],
    ['another source', () => envelopeOf(completedEvent(), { source: 'someone.else' }), 'InvalidEvent'],
    ['a detail of another type', () => envelopeOf(completedEvent(), { 'detail-type': 'ORDER_FAILED' }), 'InvalidEvent'],
    [
      'a payload without its fields',
      () =>
        envelopeOf(
          outboxEvent('ORDER_COMPLETED', { orderId: newOrderId(), userId: 'u1' }, T0.toISOString(), {
            itemId: 'sword',
          }),
        ),
      'InvalidEvent',
    ],
    [
      'a detail without eventId',
      () => ({ ...envelopeOf(completedEvent()), detail: { type: 'ORDER_COMPLETED' } }),
      'InvalidEvent',
    ],
    ['not an event at all', () => 'hello', 'InvalidEvent'],
  ];
  it.each(cases)('refuses %s with a typed error and sends nothing', async (_what, build, name) => {
    const { sender, calls } = spySender();
    const event = build();
    await expect(createHandler(env, { sender })(event)).rejects.toMatchObject({ name });
    expect(calls).toHaveLength(0);
  });

  it('fails fast on a bad environment, naming the variable', () => {
    expect(() => createHandler({ NOTIFICATIONS_TABLE: 'notifications' })).toThrow(/ORDERS_TABLE/);
    expect(() => createHandler({ ...env, NOTIFICATION_SENDER: 'email' })).toThrow(/NOTIFICATION_SENDER/);
    expect(() => createHandler({ ...env, NOTIFICATION_SENDER: 'sns' })).toThrow(/NOTIFICATION_TOPIC_ARN is required/);
    expect(() => createHandler({ ...env, NOTIFICATION_SENDER: 'sns', NOTIFICATION_TOPIC_ARN: 'my-topic' })).toThrow(
      /NOTIFICATION_TOPIC_ARN/,
    );
  });
});

describe('Notifier: SNS adapter', () => {
  const TOPIC = 'arn:aws:sns:us-east-1:000000000000:purchase-notifications';
  let server: Server;
  let requests: URLSearchParams[] = [];
  let failNext = 0;
  let previousEndpoint: string | undefined;

  beforeAll(async () => {
    // A tiny SNS: the AWS query protocol (form-encoded POST, XML answer), Publish only.
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        requests.push(params);
        res.setHeader('Content-Type', 'text/xml');
        if (params.get('Action') !== 'Publish' || failNext > 0) {
          failNext = Math.max(0, failNext - 1);
          res.statusCode = 400;
          res.end(
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>' +
              '<Code>InvalidParameter</Code><Message>Invalid parameter: injected</Message></Error>' +
              `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.end(
          '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>' +
            `<MessageId>msg-${requests.length}</MessageId></PublishResult>` +
            `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    previousEndpoint = process.env['AWS_ENDPOINT_URL_SNS'];
    // The adapter's client is `new SNSClient({})`: the standard variable points it here.
    process.env['AWS_ENDPOINT_URL_SNS'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (previousEndpoint === undefined) delete process.env['AWS_ENDPOINT_URL_SNS'];
    else process.env['AWS_ENDPOINT_URL_SNS'] = previousEndpoint;
    await new Promise((resolve) => server.close(resolve));
  });

  function attributesOf(params: URLSearchParams): Record<string, string> {
    const attributes: Record<string, string> = {};
    for (let i = 1; params.has(`MessageAttributes.entry.${i}.Name`); i++) {
      expect(params.get(`MessageAttributes.entry.${i}.Value.DataType`)).toBe('String');
      attributes[params.get(`MessageAttributes.entry.${i}.Name`) ?? ''] =
        params.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
    }
    return attributes;
  }

  it('publishes subject, text and the event attributes to the topic, once', async () => {
    requests = [];
    const event = completedEvent();
    const notifier = createHandler({ ...env, NOTIFICATION_SENDER: 'sns', NOTIFICATION_TOPIC_ARN: TOPIC });
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'SENT' });
    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'ALREADY_SENT' });

    expect(requests).toHaveLength(1);
    const [publish] = requests;
    if (!publish) throw new Error('no Publish');
    expect(publish.get('Action')).toBe('Publish');
    expect(publish.get('TopicArn')).toBe(TOPIC);
    expect(publish.get('Subject')).toBe('Your order is complete');
    expect(publish.get('Message')).toBe(
      `Your order ${event.orderId} is complete: 2 x sword for a total of 3,000. They are now in your inventory.`,
    );
    expect(attributesOf(publish)).toEqual({
      eventId: event.eventId,
      userId: event.userId,
      orderId: event.orderId,
      kind: 'ORDER_COMPLETED',
    });

    expect(await deliveries().get(event)).toMatchObject({ status: 'SENT', channel: 'sns', messageId: 'msg-1' });
    const sent = await notificationSentEvents(event.orderId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.payload).toMatchObject({ notifiedEvent: 'ORDER_COMPLETED', channel: 'sns' });
    // Nothing was recorded in the table: SNS is the channel.
    expect(await told(event.userId)).toHaveLength(0);
  });

  it('a refused Publish fails the invocation and releases the claim; the retry publishes', async () => {
    requests = [];
    failNext = 1;
    const event = completedEvent();
    const notifier = createHandler({ ...env, NOTIFICATION_SENDER: 'sns', NOTIFICATION_TOPIC_ARN: TOPIC });
    await expect(notifier(envelopeOf(event))).rejects.toThrow(/Invalid parameter/);
    expect(await deliveries().get(event)).toMatchObject({ status: 'FAILED' });
    expect(await notificationSentEvents(event.orderId)).toHaveLength(0);

    await expect(notifier(envelopeOf(event))).resolves.toMatchObject({ outcome: 'SENT', attempt: 2 });
    expect(requests).toHaveLength(2);
    expect(await notificationSentEvents(event.orderId)).toHaveLength(1);
  });
});
