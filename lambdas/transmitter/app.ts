import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { TRANSMITTED_EVENTS } from '../domain/events.js';
import { InvalidEvent, parseBusEventJson, UnsupportedEventType } from '../shared/bus-event.js';
import { busEventKeysOfJson } from '../shared/bus-event-keys.js';
import { readTables } from '../shared/config.js';
import { documentClient } from '../shared/dynamodb/client.js';
import { DeliveryStore } from '../shared/dynamodb/delivery.js';
import { childLogger, createObservability } from '../shared/observability.js';
import { externalEndpointFromEnv } from '../transmission/factory.js';
import { TransmissionRejected } from '../transmission/port.js';
import { transmit, TRANSMITTER_CONSUMER, type TransmittedEvent } from '../transmission/transmit.js';

/** What tests and the local stand-in may replace; production uses the defaults. */
export interface TransmitterOverrides {
  ddb?: DynamoDBDocumentClient;
  fetch?: typeof fetch;
  clock?: () => Date;
}

/** The part of an SQS event the transmitter reads; each body is an EventBridge event as JSON. */
const SqsEvent = z.object({
  Records: z.array(z.object({ messageId: z.string().min(1), body: z.string() }).loose()),
});

/**
 * The external data transmission consumer: an EventBridge rule sends ORDER_COMPLETED to an SQS
 * queue (retries, then a DLQ) whose event source mapping invokes this function with
 * ReportBatchItemFailures. Environment: NOTIFICATIONS_TABLE, TRANSMISSION_MODE ('recording'
 * default | 'http'), EXTERNAL_ENDPOINT_URL (required for http), EXTERNAL_TIMEOUT_MS (5000).
 *
 * One record never fails the batch: each failed record (malformed body, unsupported type, an
 * endpoint fault or refusal, a delivery in progress elsewhere) is reported in
 * `batchItemFailures`, so SQS redelivers just that one and, after maxReceiveCount, moves it to
 * the DLQ. Records of the same event id in one batch are handled one after the other, so the
 * second finds the first one's delivery and sends nothing.
 */
export function createHandler(env: NodeJS.ProcessEnv, overrides: TransmitterOverrides = {}) {
  const tables = readTables(['NOTIFICATIONS_TABLE'], env);
  const obs = createObservability(env, 'Transmitter');
  const ddb = overrides.ddb ?? documentClient(obs.traced(new DynamoDBClient({})));
  const clock = overrides.clock ?? (() => new Date());
  const endpoint = externalEndpointFromEnv(env, { ddb, table: tables.NOTIFICATIONS_TABLE, clock }, overrides.fetch);
  const deliveries = new DeliveryStore({
    ddb,
    table: tables.NOTIFICATIONS_TABLE,
    consumer: TRANSMITTER_CONSUMER,
    clock,
  });
  const deps = { endpoint, deliveries };

  return (event: unknown, context?: Context): Promise<SQSBatchResponse> =>
    obs.invocation(context, {}, async ({ log }) => {
      const batch = SqsEvent.safeParse(event);
      if (!batch.success) {
        // Not an SQS batch at all: nothing to report per record.
        const error = new InvalidEvent(
          `Transmitter: not an SQS event: ${batch.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
        log.error('Not an SQS event', { error });
        throw error;
      }
      const failed: string[] = [];
      const groups = new Map<string, { messageId: string; event: TransmittedEvent; log: Logger }[]>();
      for (const record of batch.data.Records) {
        // Each record's lines carry its order and event (correlationId = the outbox event id).
        const recordLog = childLogger(log, { ...busEventKeysOfJson(record.body), messageId: record.messageId });
        try {
          const parsed = parseBusEventJson('Transmitter', TRANSMITTED_EVENTS, record.body);
          const group = groups.get(parsed.eventId) ?? [];
          group.push({ messageId: record.messageId, event: parsed, log: recordLog });
          groups.set(parsed.eventId, group);
        } catch (err) {
          report(recordLog, record.messageId, undefined, err);
          failed.push(record.messageId);
        }
      }

      await Promise.all(
        [...groups.values()].map(async (group) => {
          let groupFailed = false;
          for (const { messageId, event: busEvent, log: recordLog } of group) {
            // After a failure, the duplicates wait for their own redelivery instead of hammering the endpoint.
            if (groupFailed) {
              failed.push(messageId);
              continue;
            }
            try {
              const outcome = await transmit(deps, busEvent);
              recordLog.info('Transmission handled', { eventId: busEvent.eventId, outcome });
            } catch (err) {
              report(recordLog, messageId, busEvent.eventId, err);
              failed.push(messageId);
              groupFailed = true;
            }
          }
        }),
      );
      const order = new Map(batch.data.Records.map((r, i) => [r.messageId, i]));
      failed.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}

function report(log: Logger, messageId: string, eventId: string | undefined, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  const details = { messageId, ...(eventId ? { eventId } : {}), error };
  // Retrying these cannot help: they are redelivered until maxReceiveCount, then sit in the DLQ.
  const permanent =
    err instanceof TransmissionRejected || err instanceof InvalidEvent || err instanceof UnsupportedEventType;
  if (permanent) log.error('Transmission cannot succeed; the message will end in the DLQ', details);
  else log.warn('Transmission failed; the message will be redelivered', details);
}
