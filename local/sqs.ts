import { createHash, randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { matchesPattern } from './event-pattern.js';
import type { QueueMappingSpec, QueueSpec } from './event-template.js';
import type { LocalLambda } from './lambda-runtime.js';
import { Wakeable } from './wakeable.js';

/**
 * In-memory SQS standard queues built from the template, and the Lambda event source mapping
 * that polls one of them:
 * - a received message stays invisible for the visibility timeout (the template's, scaled
 *   down locally), then comes back unless it was deleted;
 * - with a RedrivePolicy, a message already received `maxReceiveCount` times is moved to the
 *   dead-letter queue (same messageId, same body) when it would be received once more;
 * - the mapping receives up to BatchSize messages, invokes the function synchronously with the
 *   SQS event Lambda sends, deletes them all on success, none on a function error (they return
 *   after the visibility timeout), and with ReportBatchItemFailures all but the reported ones
 *   (an unknown or empty itemIdentifier fails the whole batch, as Lambda does).
 */

export interface MessageAttribute {
  DataType: 'String' | 'Number';
  StringValue: string;
}

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  attributes: Record<string, MessageAttribute>;
  sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  visibleAt: number;
  receiptHandle?: string;
}

export interface QueueMessage {
  messageId: string;
  body: string;
  attributes: Record<string, MessageAttribute>;
  receiveCount: number;
  sentTimestamp: number;
}

export interface ReceivedMessage extends QueueMessage {
  receiptHandle: string;
  md5OfBody: string;
  firstReceiveTimestamp: number;
}

export class LocalQueue {
  private readonly stored: StoredMessage[] = [];
  private readonly listeners = new Set<() => void>();
  private redrive: { target: LocalQueue; maxReceiveCount: number } | undefined;

  constructor(
    readonly logicalId: string,
    readonly name: string,
    readonly arn: string,
    readonly url: string,
    readonly visibilityTimeoutMs: number,
  ) {}

  redriveTo(target: LocalQueue, maxReceiveCount: number): void {
    this.redrive = { target, maxReceiveCount };
  }

  /** Called whenever a message arrives (pollers wake up). */
  onMessage(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(body: string, attributes: Record<string, MessageAttribute> = {}, messageId: string = randomUUID()): string {
    const now = Date.now();
    this.stored.push({
      messageId,
      body,
      md5OfBody: createHash('md5').update(body, 'utf8').digest('hex'),
      attributes,
      sentTimestamp: now,
      receiveCount: 0,
      visibleAt: now,
    });
    for (const l of this.listeners) l();
    return messageId;
  }

  receive(max: number, visibilityTimeoutMs: number = this.visibilityTimeoutMs): ReceivedMessage[] {
    const now = Date.now();
    const out: ReceivedMessage[] = [];
    for (let i = 0; i < this.stored.length && out.length < max;) {
      const m = this.stored[i] as StoredMessage;
      if (m.visibleAt > now) {
        i++;
        continue;
      }
      if (this.redrive && m.receiveCount >= this.redrive.maxReceiveCount) {
        this.stored.splice(i, 1);
        this.redrive.target.send(m.body, m.attributes, m.messageId);
        continue;
      }
      m.receiveCount++;
      m.firstReceiveTimestamp ??= now;
      m.visibleAt = now + visibilityTimeoutMs;
      m.receiptHandle = randomUUID();
      out.push({
        messageId: m.messageId,
        body: m.body,
        attributes: m.attributes,
        receiveCount: m.receiveCount,
        sentTimestamp: m.sentTimestamp,
        receiptHandle: m.receiptHandle,
        md5OfBody: m.md5OfBody,
        firstReceiveTimestamp: m.firstReceiveTimestamp,
      });
      i++;
    }
    return out;
  }

  /** Deletes the message if the handle is its latest receipt; false otherwise. */
  delete(receiptHandle: string): boolean {
    const i = this.stored.findIndex((m) => m.receiptHandle === receiptHandle);
    if (i < 0) return false;
    this.stored.splice(i, 1);
    return true;
  }

  changeVisibility(receiptHandle: string, timeoutMs: number): boolean {
    const m = this.stored.find((x) => x.receiptHandle === receiptHandle);
    if (!m) return false;
    m.visibleAt = Date.now() + timeoutMs;
    if (timeoutMs === 0) for (const l of this.listeners) l();
    return true;
  }

  depth(): { visible: number; inFlight: number; total: number } {
    const now = Date.now();
    const visible = this.stored.filter((m) => m.visibleAt <= now).length;
    return { visible, inFlight: this.stored.length - visible, total: this.stored.length };
  }

  /** When the next invisible message becomes visible (undefined when none is in flight). */
  nextVisibleAt(): number | undefined {
    const now = Date.now();
    const times = this.stored.filter((m) => m.visibleAt > now).map((m) => m.visibleAt);
    return times.length ? Math.min(...times) : undefined;
  }

  messages(): QueueMessage[] {
    return this.stored.map((m) => ({
      messageId: m.messageId,
      body: m.body,
      attributes: m.attributes,
      receiveCount: m.receiveCount,
      sentTimestamp: m.sentTimestamp,
    }));
  }
}

/** The template's queues of one local stack. */
export class LocalQueues {
  private readonly byLogicalId = new Map<string, LocalQueue>();

  constructor(
    specs: QueueSpec[],
    naming: { nameOf: (logicalId: string) => string; arnOf: (name: string) => string; urlOf: (name: string) => string },
    /** Local milliseconds per AWS second (visibility timeouts are scaled by it). */
    msPerSecond: number,
  ) {
    for (const s of specs) {
      const name = naming.nameOf(s.logicalId);
      this.byLogicalId.set(
        s.logicalId,
        new LocalQueue(
          s.logicalId,
          name,
          naming.arnOf(name),
          naming.urlOf(name),
          s.visibilityTimeoutSeconds * msPerSecond,
        ),
      );
    }
    for (const s of specs) {
      if (!s.redrive) continue;
      const target = this.byLogicalId.get(s.redrive.deadLetterLogicalId);
      if (!target)
        throw new Error(`${s.logicalId}: dead-letter queue ${s.redrive.deadLetterLogicalId} is not in the template`);
      this.byLogicalId.get(s.logicalId)?.redriveTo(target, s.redrive.maxReceiveCount);
    }
  }

  byId(logicalId: string): LocalQueue | undefined {
    return this.byLogicalId.get(logicalId);
  }

  all(): LocalQueue[] {
    return [...this.byLogicalId.values()];
  }

  /**
   * The queue whose construct name is `name` (e.g. `PublisherDlq`): its logical id is the
   * construct path plus CDK's 8-character hash, e.g. `EventsPublisherDlq160AA302`.
   */
  get(name: string): LocalQueue {
    const found = this.all().filter(
      (q) => q.logicalId === name || new RegExp(`^[A-Za-z0-9]*${name}[0-9A-F]{8}$`).test(q.logicalId),
    );
    if (found.length !== 1 || !found[0]) {
      throw new Error(
        `${found.length === 0 ? 'No' : 'More than one'} queue named ${name} (queues: ${this.all()
          .map((q) => q.logicalId)
          .join(', ')})`,
      );
    }
    return found[0];
  }

  /** Messages in the queue, visible or in flight. */
  depth(name: string): number {
    return this.get(name).depth().total;
  }

  messages(name: string): QueueMessage[] {
    return this.get(name).messages();
  }
}

// ---------------------------------------------------------------------------------------------
// Event source mapping: queue -> function

const BatchResponse = z
  .object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.unknown() }).loose()).nullish() })
  .loose();

export interface SqsEventSourceStats {
  invocations: number;
  functionErrors: number;
  /** Invocations that reported some messages failed (they return after the visibility timeout). */
  partialFailures: number;
}

export interface SqsEventSourceOptions {
  region: string;
  /** How long an idle poller waits before looking again (it also wakes when a message arrives). */
  pollIntervalMs?: number;
  log?: (message: string, details?: Record<string, unknown>) => void;
}

export class LocalSqsEventSource {
  private stopped = false;
  private invoking = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new Wakeable();
  private unsubscribe: (() => void) | undefined;
  /** Invocations so far, and their outcomes, for tests. */
  readonly stats: SqsEventSourceStats = { invocations: 0, functionErrors: 0, partialFailures: 0 };

  constructor(
    readonly queue: LocalQueue,
    readonly lambda: LocalLambda,
    readonly spec: QueueMappingSpec,
    private readonly options: SqsEventSourceOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.queue.onMessage(() => this.sleeper.wake());
    this.loop = this.run();
  }

  /** Work left: messages in the queue (visible or in flight) or an invocation running. */
  busy(): boolean {
    return this.invoking || this.queue.depth().total > 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.sleeper.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const interval = this.options.pollIntervalMs ?? 20;
    while (!this.stopped) {
      const batch = this.queue.receive(this.spec.batchSize);
      if (batch.length === 0) {
        const next = this.queue.nextVisibleAt();
        await this.sleeper.sleep(next === undefined ? interval : Math.min(interval, next - Date.now()));
        continue;
      }
      this.invoking = true;
      try {
        await this.deliver(batch);
      } catch (err) {
        this.options.log?.('SQS event source: delivery failed', { error: String(err) });
      } finally {
        this.invoking = false;
      }
    }
  }

  private async deliver(batch: ReceivedMessage[]): Promise<void> {
    // Messages no filter matches are deleted without an invocation, as Lambda does.
    const filters = this.spec.filters;
    const selected = filters.length
      ? batch.filter((m) => {
          const record = this.record(m);
          const keep = filters.some((f) => matchesPattern(f, { ...record, body: parseJson(m.body) }));
          if (!keep) this.queue.delete(m.receiptHandle);
          return keep;
        })
      : batch;
    if (selected.length === 0) return;

    const event: SQSEvent = { Records: selected.map((m) => this.record(m)) };
    this.stats.invocations++;
    const result = await this.lambda.invoke(event);
    if (!result.ok) {
      this.stats.functionErrors++;
      this.options.log?.('SQS event source: function error; the batch returns after its visibility timeout', {
        function: this.lambda.spec.logicalId,
        errorType: result.error.errorType,
        errorMessage: result.error.errorMessage,
      });
      return;
    }
    let failed = new Set<string>();
    if (this.spec.reportBatchItemFailures) {
      const parsed = BatchResponse.safeParse(result.payload);
      const items = parsed.success ? (parsed.data.batchItemFailures ?? []) : [];
      const ids = new Set(selected.map((m) => m.messageId));
      const reported = items.map((i) => i.itemIdentifier);
      // An empty, missing or unknown identifier: the whole batch failed.
      if (reported.some((id) => typeof id !== 'string' || !ids.has(id))) failed = ids;
      else failed = new Set(reported as string[]);
      if (failed.size > 0) this.stats.partialFailures++;
    }
    for (const m of selected) if (!failed.has(m.messageId)) this.queue.delete(m.receiptHandle);
  }

  private record(m: ReceivedMessage): SQSRecord {
    return {
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentTimestamp),
        SenderId: 'AROALOCALSTANDIN:events',
        ApproximateFirstReceiveTimestamp: String(m.firstReceiveTimestamp),
      },
      messageAttributes: Object.fromEntries(
        Object.entries(m.attributes).map(([k, a]) => [
          k,
          { stringValue: a.StringValue, stringListValues: [], binaryListValues: [], dataType: a.DataType },
        ]),
      ),
      md5OfBody: m.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.queue.arn,
      awsRegion: this.options.region,
    };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
