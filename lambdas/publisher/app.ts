import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { InvalidInput, PurchaseError } from '../domain/errors.js';
import { EVENT_SOURCE, type OutboxEvent } from '../domain/events.js';
import { readEnv } from '../shared/config.js';
import { addedEvents } from '../shared/dynamodb/outbox.js';

/**
 * The outbox publisher: the Orders table's stream (through its event source mapping) -> the
 * custom EventBridge bus.
 *
 * Every event a stream record adds to an item's `events` map (written by the very write the event
 * describes: lambdas/shared/dynamodb/outbox.ts) becomes one PutEvents entry: `Source` =
 * EVENT_SOURCE, `DetailType` = the event's type, `Detail` = `{eventId, type, orderId, userId,
 * timestamp, payload}`. Nothing else is ever published: REMOVE records, and INSERT or MODIFY
 * records that add no event (an order changing status, a step record marked for a recheck),
 * publish nothing.
 *
 * Delivery is AT LEAST ONCE, attempted in stream order per shard (one batch at a time):
 * - entries PutEvents did not accept (FailedEntryCount) are retried here a few times (entries
 *   it accepted in the same call are on the bus already, so a retried event can arrive after
 *   later ones; EventBridge does not promise delivery order to targets anyway);
 * - still failing, the function answers `batchItemFailures` with the sequence number of the first
 *   record not published, so the mapping retries from there (ReportBatchItemFailures): records
 *   after it are published again on the retry even if PutEvents took them the first time;
 * - a record that can never be published (its events cannot be read, or an entry EventBridge
 *   rejects as malformed) is reported the same way; when it heads the batch the function throws
 *   instead, so the mapping bisects the batch until the record is alone and, after its retries,
 *   sends it to the on-failure queue (PublisherDlq) while every other record goes through.
 * So an event may reach the bus more than once, and is never dropped silently (what cannot be
 * published is in the PublisherDlq, with its stream coordinates, to replay within the stream's
 * 24 hours): CONSUMERS MUST DEDUPLICATE ON `detail.eventId` (`<orderId>:<type>[:<qualifier>]`).
 */

/** PutEvents takes at most 10 entries per call, and at most 256 KiB in total. */
export const MAX_ENTRIES_PER_PUT = 10;
export const MAX_PUT_BYTES = 256 * 1024;

/** Entry error codes that say the entry itself is wrong: retrying it cannot help. */
const REJECTED_ENTRY_CODES = new Set(['InvalidArgument', 'MalformedDetail']);

export const PublisherEnv = z.object({
  /** Name or ARN of the custom bus. */
  EVENT_BUS_NAME: z.string().min(1).max(1600),
});

export interface LogEntry {
  level: 'INFO' | 'WARN' | 'ERROR';
  message: string;
  [key: string]: unknown;
}

export interface PublisherOverrides {
  /** The PutEvents client (tests add middleware that fails chosen calls or entries). */
  eventBridge?: EventBridgeClient;
  /** Attempts per entry within one invocation before the record is reported failed (default 3). */
  putAttempts?: number;
  /** First backoff between those attempts, doubled each time, full jitter (default 100 ms). */
  retryBaseDelayMs?: number;
  log?: (entry: LogEntry) => void;
}

/** A record the publisher will not publish, ever: the mapping isolates it and sends it to the DLQ. */
export class OutboxEventRejected extends PurchaseError {
  override readonly name = 'OutboxEventRejected';
  constructor(
    readonly sequenceNumber: string,
    reason: string,
  ) {
    super(`Stream record ${sequenceNumber} cannot be published: ${reason}`);
  }
}

// ---- Input -----------------------------------------------------------------------------------

const AttributeMap = z.record(
  z.string(),
  z.custom<AttributeValue>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'a DynamoDB attribute value',
  ),
);

const StreamRecord = z
  .object({
    eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
    dynamodb: z
      .object({
        Keys: AttributeMap.optional(),
        NewImage: AttributeMap.optional(),
        OldImage: AttributeMap.optional(),
        SequenceNumber: z.string().min(1),
      })
      .loose(),
  })
  .loose();
type StreamRecord = z.infer<typeof StreamRecord>;

const DynamoDBStreamEvent = z.object({ Records: z.array(StreamRecord) }).loose();

/** What consumers find in `detail`. */
export interface EventDetail {
  eventId: string;
  type: string;
  orderId: string;
  userId: string;
  timestamp: string;
  payload: Record<string, string | number | boolean | null>;
}

type Candidate =
  | { sequenceNumber: string; eventId: string; entry: PutEventsRequestEntry; bytes: number }
  | { sequenceNumber: string; rejected: string };

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

function entryOf(sequenceNumber: string, e: OutboxEvent, busName: string): Candidate {
  const detail: EventDetail = {
    eventId: e.eventId,
    type: e.type,
    orderId: e.orderId,
    userId: e.userId,
    timestamp: e.timestamp,
    payload: e.payload,
  };
  const entry: PutEventsRequestEntry = {
    EventBusName: busName,
    Source: EVENT_SOURCE,
    DetailType: e.type,
    Detail: JSON.stringify(detail),
  };
  // EventBridge's entry size: source, detail-type and detail (UTF-8), plus resources (none).
  const bytes = Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(e.type) + Buffer.byteLength(entry.Detail ?? '');
  if (bytes > MAX_PUT_BYTES)
    return { sequenceNumber, rejected: `the event is ${bytes} bytes; EventBridge takes at most ${MAX_PUT_BYTES}` };
  return { sequenceNumber, eventId: e.eventId, entry, bytes };
}

/** The PutEvents entries for the events one stream record adds (none for most), or why there cannot be any. */
export function toCandidates(record: StreamRecord, busName: string): Candidate[] {
  const sequenceNumber = record.dynamodb.SequenceNumber;
  if (record.eventName === 'REMOVE') return [];
  const image = record.dynamodb.NewImage;
  if (!image) return [{ sequenceNumber, rejected: 'the record has no NewImage (the stream must carry new images)' }];
  if (record.eventName === 'MODIFY' && !record.dynamodb.OldImage)
    return [{ sequenceNumber, rejected: 'the record has no OldImage (the stream must carry old images)' }];
  try {
    const old = record.dynamodb.OldImage;
    return addedEvents(unmarshall(image), old ? unmarshall(old) : undefined).map((e) =>
      entryOf(sequenceNumber, e, busName),
    );
  } catch (err) {
    return [
      { sequenceNumber, rejected: `its events cannot be read: ${err instanceof Error ? err.message : String(err)}` },
    ];
  }
}

// ---- Handler ---------------------------------------------------------------------------------

/** The lowest level each POWERTOOLS_LOG_LEVEL lets through, as the other functions' loggers do. */
const THRESHOLDS: Record<string, number> = { TRACE: 0, DEBUG: 0, INFO: 0, WARN: 1, ERROR: 2, CRITICAL: 3, SILENT: 4 };
const SEVERITY: Record<LogEntry['level'], number> = { INFO: 0, WARN: 1, ERROR: 2 };

function consoleLog(level: string | undefined): (entry: LogEntry) => void {
  const threshold = THRESHOLDS[level?.toUpperCase() ?? 'INFO'] ?? 0;
  return (entry) => {
    if (SEVERITY[entry.level] < threshold) return;
    const line = JSON.stringify({ timestamp: new Date().toISOString(), service: 'publisher', ...entry });
    if (entry.level === 'INFO') console.log(line);
    else console.error(line);
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export type PublisherLambda = (event: unknown, context?: Context) => Promise<DynamoDBBatchResponse>;

export function createHandler(env: NodeJS.ProcessEnv, overrides: PublisherOverrides = {}): PublisherLambda {
  const { EVENT_BUS_NAME } = readEnv(PublisherEnv, env);
  // `{}`: region, credentials and AWS_ENDPOINT_URL_EVENTBRIDGE come from the environment.
  const client = overrides.eventBridge ?? new EventBridgeClient({});
  const putAttempts = Math.max(1, overrides.putAttempts ?? 3);
  const baseDelayMs = overrides.retryBaseDelayMs ?? 100;
  // Falls back to the process environment, as the Powertools Logger of the other functions does.
  const log = overrides.log ?? consoleLog(env['POWERTOOLS_LOG_LEVEL'] ?? process.env['POWERTOOLS_LOG_LEVEL']);

  /**
   * Publishes `chunk` (≤ 10 consecutive valid events); retries what PutEvents did not take.
   * Returns the index of the first entry still not published (and whether EventBridge rejected
   * it as malformed), or undefined when all were accepted.
   */
  async function publish(
    chunk: Extract<Candidate, { entry: PutEventsRequestEntry }>[],
  ): Promise<{ index: number; rejected: boolean; why: string } | undefined> {
    let pending: { index: number; candidate: (typeof chunk)[number] }[] = chunk.map((candidate, index) => ({
      index,
      candidate,
    }));
    for (let attempt = 1; ; attempt++) {
      let results: (PutEventsResultEntry | undefined)[];
      try {
        const out = await client.send(new PutEventsCommand({ Entries: pending.map((p) => p.candidate.entry) }));
        results = out.Entries ?? [];
        // PutEvents answers one result per entry, in order; anything else: nothing is known to be published.
        if (results.length !== pending.length) results = pending.map(() => undefined);
      } catch (err) {
        // The whole call failed (throttled, unavailable, network): every entry is still pending.
        const code = err instanceof Error ? err.name : 'Error';
        const message = err instanceof Error ? err.message : String(err);
        results = pending.map(() => ({ ErrorCode: code, ErrorMessage: message }));
      }
      const failed = pending.flatMap((p, k) => {
        const r = results[k];
        if (r?.EventId && !r.ErrorCode) return [];
        const code = r?.ErrorCode ?? 'NoResult';
        return [{ ...p, code, message: r?.ErrorMessage ?? 'PutEvents returned no result for the entry' }];
      });
      const [first] = failed;
      if (!first) return undefined;
      const rejected = REJECTED_ENTRY_CODES.has(first.code);
      if (rejected || attempt >= putAttempts) {
        return { index: first.index, rejected, why: `${first.code}: ${first.message}` };
      }
      log({
        level: 'WARN',
        message: 'PutEvents did not take every entry; retrying those',
        attempt,
        failed: failed.map((f) => f.candidate.eventId),
        code: first.code,
      });
      pending = failed;
      await sleep(Math.random() * baseDelayMs * 2 ** (attempt - 1));
    }
  }

  return async (event) => {
    const parsed = DynamoDBStreamEvent.safeParse(event);
    if (!parsed.success) throw new InvalidInput(`Publisher: not a DynamoDB stream event: ${issues(parsed.error)}`);
    const records = parsed.data.Records;
    const head = records[0]?.dynamodb.SequenceNumber;

    const candidates = records.flatMap((r) => toCandidates(r, EVENT_BUS_NAME));

    /** Stop at this record: the mapping retries from it (or, when it heads the batch and can never succeed, bisects). */
    const failAt = (sequenceNumber: string, rejected: boolean, why: string): DynamoDBBatchResponse => {
      if (rejected && sequenceNumber === head) throw new OutboxEventRejected(sequenceNumber, why);
      log({
        level: rejected ? 'ERROR' : 'WARN',
        message: 'record not published; the stream retries from it',
        sequenceNumber,
        why,
      });
      return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
    };

    let published = 0;
    for (let i = 0; i < candidates.length;) {
      const first = candidates[i] as Candidate;
      if ('rejected' in first) return failAt(first.sequenceNumber, true, first.rejected);
      // The next run of valid events, up to 10 entries and 256 KiB.
      const chunk: Extract<Candidate, { entry: PutEventsRequestEntry }>[] = [];
      let bytes = 0;
      for (let j = i; j < candidates.length && chunk.length < MAX_ENTRIES_PER_PUT; j++) {
        const c = candidates[j] as Candidate;
        if ('rejected' in c || bytes + c.bytes > MAX_PUT_BYTES) break;
        chunk.push(c);
        bytes += c.bytes;
      }
      const failure = await publish(chunk);
      if (failure) {
        const c = chunk[failure.index] as Candidate;
        return failAt(c.sequenceNumber, failure.rejected, failure.why);
      }
      published += chunk.length;
      i += chunk.length;
    }
    if (published > 0) log({ level: 'INFO', message: 'published', events: published, records: records.length });
    return { batchItemFailures: [] };
  };
}
