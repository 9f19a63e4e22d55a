import { randomUUID } from 'node:crypto';
import { matchesPattern } from './event-pattern.js';
import type { RuleSpec, TargetSpec } from './event-template.js';
import type { LocalAsyncInvoker } from './lambda-async.js';
import type { LocalLambda } from './lambda-runtime.js';
import type { LocalQueues } from './sqs.js';
import { Timers } from './wakeable.js';
import type { ResourcePolicies } from './resource-policies.js';

/**
 * A custom EventBridge bus of the local stand-in, with the template's rules and targets.
 *
 * An accepted entry becomes the EventBridge envelope `{version: '0', id, detail-type, source,
 * account, time, region, resources, detail}`; every enabled rule whose EventPattern matches it
 * sends it to each of its targets:
 * - a Lambda target is invoked asynchronously (see LocalAsyncInvoker: Lambda's own retries and
 *   on-failure destination handle function errors);
 * - an SQS target gets the envelope as the message body.
 * When the hand-over itself fails (locally: the target does not exist) the target's RetryPolicy
 * applies — exponential backoff with jitter, scaled down, until MaximumRetryAttempts or
 * MaximumEventAgeInSeconds — and then its DeadLetterConfig queue receives the event with
 * EventBridge's message attributes (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, ...).
 */
export interface PublishedEvent {
  id: string;
  bus: string;
  source: string;
  detailType: string;
  detail: unknown;
  time: string;
  resources: string[];
}

export interface BusEntry {
  source: string;
  detailType: string;
  /** The entry's Detail, already checked to be a JSON object. */
  detail: Record<string, unknown>;
  resources?: string[];
  time?: Date;
}

export interface LocalEventBusOptions {
  region: string;
  account: string;
  /** Functions by logical id. */
  lambdas: Map<string, LocalLambda>;
  queues: LocalQueues;
  asyncInvoker: LocalAsyncInvoker;
  /** The functions' Lambda permissions and the queues' policies: what EventBridge may do to each. */
  policies: ResourcePolicies;
  /** Local milliseconds per AWS second (delivery retry backoff and event age). */
  msPerSecond: number;
  log?: (message: string, details?: Record<string, unknown>) => void;
}

/** First delivery retry after about a second (AWS time), doubling, full jitter, at most 5 minutes. */
const RETRY_BASE_SECONDS = 1;
const RETRY_CAP_SECONDS = 300;

export class LocalEventBus {
  readonly arn: string;
  private readonly events: PublishedEvent[] = [];
  private readonly timers = new Timers();
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly rules: (RuleSpec & { arn: string })[],
    private readonly options: LocalEventBusOptions,
  ) {
    this.arn = `arn:aws:events:${options.region}:${options.account}:event-bus/${name}`;
  }

  /** Accepts one entry; returns its event id. */
  put(entry: BusEntry): string {
    const id = randomUUID();
    const time = (entry.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const envelope = {
      version: '0',
      id,
      'detail-type': entry.detailType,
      source: entry.source,
      account: this.options.account,
      time,
      region: this.options.region,
      resources: entry.resources ?? [],
      detail: entry.detail,
    };
    this.events.push({
      id,
      bus: this.name,
      source: entry.source,
      detailType: entry.detailType,
      detail: entry.detail,
      time,
      resources: envelope.resources,
    });
    if (this.stopped) return id;
    const acceptedAt = Date.now();
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, envelope)) continue;
      for (const target of rule.targets) this.deliver(envelope, rule, target, acceptedAt, 0);
    }
    return id;
  }

  /** Every event the bus accepted, in order. */
  published(): PublishedEvent[] {
    return [...this.events];
  }

  /** No delivery retry pending (hand-overs themselves are synchronous). */
  idle(): boolean {
    return this.timers.size === 0;
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear();
  }

  /** Whether the target's (or dead-letter queue's) resource policy lets this rule's events in. */
  private allowed(rule: { arn: string }, kind: 'lambda' | 'sqs', resource: string): boolean {
    return this.options.policies.allows({
      service: 'events.amazonaws.com',
      action: kind === 'lambda' ? 'lambda:InvokeFunction' : 'sqs:SendMessage',
      resource,
      sourceArn: rule.arn,
    });
  }

  private deliver(
    envelope: { id: string },
    rule: RuleSpec & { arn: string },
    target: TargetSpec,
    acceptedAt: number,
    retries: number,
  ): void {
    if (this.stopped) return;
    const failure = this.handOver(envelope, rule, target);
    if (!failure) return;
    const ms = this.options.msPerSecond;
    const delay = Math.random() * Math.min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** retries) * ms;
    const ageAfterDelay = Date.now() + delay - acceptedAt;
    if (retries < target.maximumRetryAttempts && ageAfterDelay <= target.maximumEventAgeSeconds * ms) {
      this.timers.after(delay, () => this.deliver(envelope, rule, target, acceptedAt, retries + 1));
      return;
    }
    const condition = retries >= target.maximumRetryAttempts ? 'MaximumRetryAttempts' : 'MaximumEventAgeInSeconds';
    this.options.log?.(
      `EventBridge: event ${envelope.id} not delivered to ${target.logicalId} (${condition})`,
      failure,
    );
    const dlq = target.deadLetterLogicalId ? this.options.queues.byId(target.deadLetterLogicalId) : undefined;
    if (dlq && !this.allowed(rule, 'sqs', dlq.arn)) {
      // The dead-letter queue's policy does not let this rule send: AWS drops the event.
      this.options.log?.(`EventBridge: event ${envelope.id} lost: ${dlq.logicalId}'s policy refuses ${rule.arn}`);
      return;
    }
    const attr = (v: string) => ({ DataType: 'String' as const, StringValue: v });
    dlq?.send(JSON.stringify(envelope), {
      RULE_ARN: attr(rule.arn),
      TARGET_ARN: attr(this.targetArn(target)),
      ERROR_CODE: attr(failure.code),
      ERROR_MESSAGE: attr(failure.message),
      EXHAUSTED_RETRY_CONDITION: attr(condition),
      RETRY_ATTEMPTS: { DataType: 'Number', StringValue: String(retries) },
    });
  }

  /** Hands the event to the target; the failure when it could not. */
  private handOver(
    envelope: object,
    rule: { arn: string },
    target: TargetSpec,
  ): { code: string; message: string } | undefined {
    const denied = {
      code: 'NO_PERMISSIONS',
      message: `The resource policy of ${this.targetArn(target)} does not let ${rule.arn} in`,
    };
    if (target.kind === 'lambda') {
      const fn = this.options.lambdas.get(target.logicalId);
      if (!fn) return { code: 'ResourceNotFoundException', message: `Function not found: ${this.targetArn(target)}` };
      if (!this.allowed(rule, 'lambda', fn.arn)) return denied;
      this.options.asyncInvoker.invoke(fn, envelope);
      return undefined;
    }
    const queue = this.options.queues.byId(target.logicalId);
    if (!queue)
      return {
        code: 'AWS.SimpleQueueService.NonExistentQueue',
        message: `The specified queue does not exist: ${target.logicalId}`,
      };
    if (!this.allowed(rule, 'sqs', queue.arn)) return denied;
    queue.send(JSON.stringify(envelope));
    return undefined;
  }

  private targetArn(target: TargetSpec): string {
    if (target.kind === 'lambda') return this.options.lambdas.get(target.logicalId)?.arn ?? target.logicalId;
    return this.options.queues.byId(target.logicalId)?.arn ?? target.logicalId;
  }
}
