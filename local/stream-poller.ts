import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamApiRecord,
  type AttributeValue as StreamAttributeValue,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { matchesPattern } from './event-pattern.js';
import type { StreamMappingSpec } from './event-template.js';
import type { LocalLambda } from './lambda-runtime.js';
import type { LocalQueue } from './sqs.js';
import { Wakeable } from './wakeable.js';

/**
 * The event source mapping of a DynamoDB stream, run against DynamoDB Local's stream through the
 * real DynamoDB Streams API (DescribeStream, GetShardIterator, GetRecords), with the mapping's
 * settings from the template:
 * - records are read shard by shard (a child shard only after its parent is finished), turned
 *   into the event Lambda sends (`eventName`, `dynamodb.{Keys, NewImage, OldImage,
 *   SequenceNumber, SizeBytes, StreamViewType, ApproximateCreationDateTime}`, `eventSourceARN`,
 *   `awsRegion`, `eventSource: 'aws:dynamodb'`, `eventVersion`), filtered by FilterCriteria
 *   (records no filter matches are skipped) and delivered in batches of at most BatchSize, one
 *   batch at a time, in order;
 * - a function error retries the batch, bisected in two when BisectBatchOnFunctionError is on;
 *   with ReportBatchItemFailures, `batchItemFailures` checkpoints the records before the lowest
 *   reported sequence number and retries from it (an empty, unknown or malformed identifier
 *   fails the whole batch; an empty list is a success);
 * - a batch that failed MaximumRetryAttempts retries (counted per batch, inherited by its halves)
 *   is sent to the OnFailure destination as Lambda's invocation record with `DDBStreamBatchInfo`
 *   (shard, first and last sequence numbers, stream ARN) and skipped: the shard moves on.
 * Checkpoints live in memory: a new poller starts at the mapping's StartingPosition.
 */
export interface StreamPollerOptions {
  /** DynamoDB (and Streams) endpoint; default AWS_ENDPOINT_URL_DYNAMODB. */
  dynamoEndpoint?: string;
  tableName: string;
  mapping: StreamMappingSpec;
  lambda: LocalLambda;
  onFailure?: LocalQueue;
  region: string;
  /** Pause between polls of an idle stream (Lambda polls 4 times a second). Default 150 ms. */
  pollIntervalMs?: number;
  /** Pause before a failed batch is retried. Default 10 ms. */
  retryDelayMs?: number;
  log?: (message: string, details?: Record<string, unknown>) => void;
}

interface ShardState {
  id: string;
  parentId: string | undefined;
  iterator: string | undefined;
  /** Sequence number of the last record handled (delivered, skipped or sent to the DLQ). */
  checkpoint: string | undefined;
  finished: boolean;
}

interface Batch {
  records: DynamoDBRecord[];
  /** Retries already spent on these records. */
  retries: number;
}

/** Lambda's stream batch response, as far as the mapping reads it. */
const BatchResponse = z
  .object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.unknown() }).loose()).nullish() })
  .loose();

export interface StreamPollerStats {
  invocations: number;
  functionErrors: number;
  partialFailures: number;
  /** Batches sent to the on-failure destination. */
  discardedBatches: number;
  recordsRead: number;
}

export class LocalStreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly ddb: DynamoDBClient;
  private streamArn: string | undefined;
  private readonly shards = new Map<string, ShardState>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new Wakeable();
  /** Index of the cycle running or last run; waiters want one that started after they asked. */
  private cycleIndex = 0;
  private waiters: { minIndex: number; resolve: (records: number) => void }[] = [];
  readonly stats: StreamPollerStats = {
    invocations: 0,
    functionErrors: 0,
    partialFailures: 0,
    discardedBatches: 0,
    recordsRead: 0,
  };

  constructor(private readonly options: StreamPollerOptions) {
    // DynamoDB Local serves the Streams API on its own endpoint.
    const endpoint = options.dynamoEndpoint ?? process.env['AWS_ENDPOINT_URL_DYNAMODB'];
    this.streams = new DynamoDBStreamsClient(endpoint ? { endpoint } : {});
    this.ddb = new DynamoDBClient(endpoint ? { endpoint } : {});
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Resolves once a poll that started after this call found the stream fully processed: every
   * record written before the call has been delivered (or discarded to the DLQ). Returns how many
   * records the polls read meanwhile.
   */
  async drain(deadline: number): Promise<number> {
    let read = 0;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`stream of ${this.options.tableName} not drained in time`);
      const n = await this.nextCycle();
      if (n === 0) return read;
      if (n > 0) read += n;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
    for (const w of this.waiters.splice(0)) w.resolve(0);
    this.streams.destroy();
    this.ddb.destroy();
  }

  private nextCycle(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.waiters.push({ minIndex: this.cycleIndex + 1, resolve });
      this.sleeper.wake();
    });
  }

  private async run(): Promise<void> {
    const interval = this.options.pollIntervalMs ?? 150;
    while (!this.stopped) {
      const index = ++this.cycleIndex;
      let read: number;
      try {
        read = await this.cycle();
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it during the await (TypeScript#9998)
        if (this.stopped) break;
        this.options.log?.('stream poller: poll failed', {
          table: this.options.tableName,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        read = -1;
      }
      const ready = this.waiters.filter((w) => w.minIndex <= index);
      this.waiters = this.waiters.filter((w) => w.minIndex > index);
      for (const w of ready) w.resolve(read);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it during the await (TypeScript#9998)
      if (this.stopped) break;
      if (read <= 0 && this.waiters.length === 0) await this.sleeper.sleep(read < 0 ? interval * 4 : interval);
    }
  }

  /** One pass over every readable shard; returns the number of records read. */
  private async cycle(): Promise<number> {
    if (!this.streamArn) {
      const table = await this.ddb.send(new DescribeTableCommand({ TableName: this.options.tableName }));
      this.streamArn = table.Table?.LatestStreamArn;
      if (!this.streamArn) throw new Error(`table ${this.options.tableName} has no stream`);
    }
    await this.refreshShards(this.streamArn);
    let read = 0;
    for (const shard of this.shards.values()) {
      if (this.stopped) break;
      if (shard.finished) continue;
      const parent = shard.parentId ? this.shards.get(shard.parentId) : undefined;
      if (parent && !parent.finished) continue;
      read += await this.readShard(this.streamArn, shard);
    }
    return read;
  }

  private async refreshShards(streamArn: string): Promise<void> {
    let ExclusiveStartShardId: string | undefined;
    do {
      const out = await this.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId }));
      const shards: Shard[] = out.StreamDescription?.Shards ?? [];
      for (const s of shards) {
        if (!s.ShardId || this.shards.has(s.ShardId)) continue;
        this.shards.set(s.ShardId, {
          id: s.ShardId,
          parentId: s.ParentShardId,
          iterator: undefined,
          checkpoint: undefined,
          finished: false,
        });
      }
      ExclusiveStartShardId = out.StreamDescription?.LastEvaluatedShardId;
    } while (ExclusiveStartShardId);
  }

  private async readShard(streamArn: string, shard: ShardState): Promise<number> {
    if (!shard.iterator) {
      const position = shard.checkpoint
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: shard.checkpoint }
        : { ShardIteratorType: this.options.mapping.startingPosition };
      const out = await this.streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.id, ...position }),
      );
      shard.iterator = out.ShardIterator;
      if (!shard.iterator) {
        shard.finished = true;
        return 0;
      }
    }
    const raw: StreamApiRecord[] = [];
    for (;;) {
      let out;
      try {
        out = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }));
      } catch (err) {
        // An expired iterator (15 minutes) or trimmed data: start again from the checkpoint.
        if (err instanceof Error && ['ExpiredIteratorException', 'TrimmedDataAccessException'].includes(err.name)) {
          shard.iterator = undefined;
          break;
        }
        throw err;
      }
      raw.push(...(out.Records ?? []));
      if (!out.NextShardIterator) {
        shard.iterator = undefined;
        shard.finished = true;
        break;
      }
      shard.iterator = out.NextShardIterator;
      if (!out.Records?.length) break;
    }
    if (raw.length > 0) {
      this.stats.recordsRead += raw.length;
      await this.process(streamArn, shard, raw);
    }
    return raw.length;
  }

  private async process(streamArn: string, shard: ShardState, raw: StreamApiRecord[]): Promise<void> {
    const { mapping } = this.options;
    const records = raw.map((r) => toLambdaRecord(r, this.options.region, streamArn));
    const selected = mapping.filters.length
      ? records.filter((r) => mapping.filters.some((f) => matchesPattern(f, r)))
      : records;
    for (let i = 0; i < selected.length && !this.stopped; i += mapping.batchSize) {
      await this.deliver(streamArn, shard, selected.slice(i, i + mapping.batchSize));
    }
    const last = raw.at(-1)?.dynamodb?.SequenceNumber;
    if (last && !this.stopped) shard.checkpoint = last;
  }

  /** Delivers one batch with the mapping's retry, bisect, partial-failure and on-failure semantics. */
  private async deliver(streamArn: string, shard: ShardState, records: DynamoDBRecord[]): Promise<void> {
    const { mapping, lambda } = this.options;
    const work: Batch[] = [{ records, retries: 0 }];
    while (work.length > 0 && !this.stopped) {
      const batch = work.shift() as Batch;
      const event: DynamoDBStreamEvent = { Records: batch.records };
      this.stats.invocations++;
      const result = await lambda.invoke(event);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it during the await (TypeScript#9998)
      if (this.stopped) return;

      let failedFrom: number | undefined;
      let functionError: string | undefined;
      if (!result.ok) {
        functionError = result.error.errorType;
        this.stats.functionErrors++;
      } else if (mapping.reportBatchItemFailures) {
        failedFrom = firstFailure(batch.records, result.payload);
        if (failedFrom !== undefined) this.stats.partialFailures++;
      }
      if (functionError === undefined && failedFrom === undefined) {
        shard.checkpoint = seq(batch.records.at(-1));
        continue;
      }

      // Records before the first reported failure are done.
      const remaining = failedFrom === undefined ? batch.records : batch.records.slice(failedFrom);
      if (failedFrom !== undefined && failedFrom > 0) shard.checkpoint = seq(batch.records[failedFrom - 1]);
      const exhausted = mapping.maximumRetryAttempts >= 0 && batch.retries >= mapping.maximumRetryAttempts;
      if (exhausted) {
        this.discard(streamArn, shard, remaining, batch.retries + 1, functionError);
        shard.checkpoint = seq(remaining.at(-1));
        continue;
      }
      this.options.log?.('stream poller: batch failed; retrying', {
        function: lambda.spec.logicalId,
        records: remaining.length,
        retry: batch.retries + 1,
        ...(functionError
          ? { errorType: functionError, errorMessage: result.ok ? undefined : result.error.errorMessage }
          : { from: seq(remaining[0]) }),
      });
      const retries = batch.retries + 1;
      if (functionError !== undefined && mapping.bisectBatchOnFunctionError && remaining.length > 1) {
        const half = Math.ceil(remaining.length / 2);
        work.unshift({ records: remaining.slice(0, half), retries }, { records: remaining.slice(half), retries });
      } else {
        work.unshift({ records: remaining, retries });
      }
      await new Promise((r) => setTimeout(r, this.options.retryDelayMs ?? 10));
    }
  }

  private discard(
    streamArn: string,
    shard: ShardState,
    records: DynamoDBRecord[],
    invokeCount: number,
    functionError: string | undefined,
  ): void {
    this.stats.discardedBatches++;
    const first = records[0]?.dynamodb;
    const last = records.at(-1)?.dynamodb;
    const arrival = (s: number | undefined) => new Date((s ?? 0) * 1000).toISOString();
    this.options.log?.('stream poller: retries exhausted; batch sent to the on-failure destination', {
      function: this.options.lambda.spec.logicalId,
      startSequenceNumber: first?.SequenceNumber,
      endSequenceNumber: last?.SequenceNumber,
    });
    this.options.onFailure?.send(
      JSON.stringify({
        requestContext: {
          requestId: randomUUID(),
          functionArn: this.options.lambda.arn,
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: invokeCount,
        },
        responseContext: {
          statusCode: 200,
          executedVersion: '$LATEST',
          ...(functionError ? { functionError: 'Unhandled' } : {}),
        },
        version: '1.0',
        timestamp: new Date().toISOString(),
        DDBStreamBatchInfo: {
          shardId: shard.id,
          startSequenceNumber: first?.SequenceNumber,
          endSequenceNumber: last?.SequenceNumber,
          approximateArrivalOfFirstRecord: arrival(first?.ApproximateCreationDateTime),
          approximateArrivalOfLastRecord: arrival(last?.ApproximateCreationDateTime),
          batchSize: records.length,
          streamArn,
        },
      }),
    );
  }
}

function seq(record: DynamoDBRecord | undefined): string | undefined {
  return record?.dynamodb?.SequenceNumber;
}

/**
 * Index of the first record to retry from, per the function's batch response; undefined when the
 * batch succeeded. Anything Lambda cannot use (an empty, missing or unknown identifier) fails the
 * whole batch (index 0).
 */
function firstFailure(records: DynamoDBRecord[], payload: unknown): number | undefined {
  const parsed = BatchResponse.safeParse(payload);
  const failures = parsed.success ? (parsed.data.batchItemFailures ?? []) : [];
  if (failures.length === 0) return undefined;
  let lowest: number | undefined;
  for (const f of failures) {
    const id = f.itemIdentifier;
    const index = typeof id === 'string' && id !== '' ? records.findIndex((r) => seq(r) === id) : -1;
    if (index < 0) return 0;
    lowest = lowest === undefined ? index : Math.min(lowest, index);
  }
  return lowest;
}

/** A Streams API record as Lambda delivers it (JSON attribute values, epoch-second timestamp). */
function toLambdaRecord(r: StreamApiRecord, region: string, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID ?? randomUUID(),
    eventName: r.eventName,
    eventVersion: r.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(d.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: Math.floor(d.ApproximateCreationDateTime.getTime() / 1000) }
        : {}),
      ...(d.Keys ? { Keys: wireMap(d.Keys) } : {}),
      ...(d.NewImage ? { NewImage: wireMap(d.NewImage) } : {}),
      ...(d.OldImage ? { OldImage: wireMap(d.OldImage) } : {}),
      ...(d.SequenceNumber ? { SequenceNumber: d.SequenceNumber } : {}),
      ...(d.SizeBytes !== undefined ? { SizeBytes: d.SizeBytes } : {}),
      ...(d.StreamViewType ? { StreamViewType: d.StreamViewType } : {}),
    },
    eventSourceARN: streamArn,
  };
}

function wireMap(map: Record<string, StreamAttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, wire(v)]));
}

/** Binary values travel as base64 in Lambda's JSON, as the service sends them. */
function wire(v: StreamAttributeValue): LambdaAttributeValue {
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: v.NULL };
  if (v.B !== undefined) return { B: b64(v.B) };
  if (v.SS !== undefined) return { SS: v.SS };
  if (v.NS !== undefined) return { NS: v.NS };
  if (v.BS !== undefined) return { BS: v.BS.map(b64) };
  if (v.L !== undefined) return { L: v.L.map(wire) };
  if (v.M !== undefined) return { M: wireMap(v.M) };
  // The Streams client (3.1141) reads an empty map, `{"M": {}}`, at any depth, as `{}`; nothing
  // else arrives without a member (an empty list stays `{"L": []}`). Lambda is sent the map.
  if (Object.keys(v).length === 0) return { M: {} };
  throw new Error(`unknown attribute value type ${Object.keys(v).join(',')}`);
}
