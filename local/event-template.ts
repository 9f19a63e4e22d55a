import { z } from 'zod';
import { validatePattern, type EventPattern } from './event-pattern.js';
import type { CfnTemplate } from './template.js';

/**
 * The event side of the template, read the way CloudFormation would create it: buses, rules and
 * their targets, queues with their redrive policies, event source mappings (a table's stream or
 * a queue -> a function) and asynchronous-invocation settings. Values are AWS's defaults where
 * the template leaves them out.
 */

const Ref = z.object({ Ref: z.string() });
const GetAtt = (attribute: string) => z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal(attribute)]) });
const ArnOf = GetAtt('Arn').transform((v) => v['Fn::GetAtt'][0]);
const OnFailure = z.object({ OnFailure: z.object({ Destination: ArnOf }).optional() }).optional();

export interface QueueSpec {
  logicalId: string;
  visibilityTimeoutSeconds: number;
  redrive?: { deadLetterLogicalId: string; maxReceiveCount: number };
}

export interface StreamMappingSpec {
  logicalId: string;
  functionLogicalId: string;
  tableLogicalId: string;
  batchSize: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** -1: until the record expires from the stream. */
  maximumRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
  reportBatchItemFailures: boolean;
  onFailureLogicalId?: string;
  /** Records matching none of these are skipped (all pass when empty). */
  filters: EventPattern[];
}

export interface QueueMappingSpec {
  logicalId: string;
  functionLogicalId: string;
  queueLogicalId: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
  filters: EventPattern[];
}

export interface TargetSpec {
  id: string;
  kind: 'lambda' | 'sqs';
  /** The function's or the queue's logical id. */
  logicalId: string;
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  deadLetterLogicalId?: string;
}

export interface RuleSpec {
  logicalId: string;
  busLogicalId: string;
  pattern: EventPattern;
  targets: TargetSpec[];
}

export interface AsyncInvokeSpec {
  functionLogicalId: string;
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  onFailureLogicalId?: string;
}

export interface EventsTemplate {
  buses: string[];
  rules: RuleSpec[];
  queues: QueueSpec[];
  streamMappings: StreamMappingSpec[];
  queueMappings: QueueMappingSpec[];
  asyncInvoke: AsyncInvokeSpec[];
}

const Filters = z
  .object({ Filters: z.array(z.object({ Pattern: z.string() })) })
  .optional()
  .transform((f) => (f?.Filters ?? []).map((x) => validatePattern(JSON.parse(x.Pattern) as unknown)));

const EventSourceMapping = z.object({
  FunctionName: Ref.transform((r) => r.Ref),
  EventSourceArn: z.union([GetAtt('StreamArn'), GetAtt('Arn')]),
  BatchSize: z.number().int().positive().optional(),
  StartingPosition: z.enum(['TRIM_HORIZON', 'LATEST']).optional(),
  MaximumRetryAttempts: z.number().int().min(-1).optional(),
  BisectBatchOnFunctionError: z.boolean().optional(),
  FunctionResponseTypes: z.array(z.string()).optional(),
  DestinationConfig: OnFailure,
  FilterCriteria: Filters,
  Enabled: z.boolean().optional(),
});

const Rule = z.object({
  EventBusName: Ref.transform((r) => r.Ref).optional(),
  EventPattern: z.unknown().optional(),
  ScheduleExpression: z.string().optional(),
  State: z.string().optional(),
  Targets: z
    .array(
      z.object({
        Id: z.string(),
        Arn: ArnOf,
        RetryPolicy: z
          .object({
            MaximumRetryAttempts: z.number().int().optional(),
            MaximumEventAgeInSeconds: z.number().int().optional(),
          })
          .optional(),
        DeadLetterConfig: z.object({ Arn: ArnOf }).optional(),
      }),
    )
    .optional(),
});

const Queue = z.object({
  VisibilityTimeout: z.number().int().optional(),
  RedrivePolicy: z.object({ deadLetterTargetArn: ArnOf, maxReceiveCount: z.number().int().positive() }).optional(),
});

const EventInvokeConfig = z.object({
  FunctionName: Ref.transform((r) => r.Ref),
  Qualifier: z.string(),
  MaximumRetryAttempts: z.number().int().min(0).max(2).optional(),
  MaximumEventAgeInSeconds: z.number().int().optional(),
  DestinationConfig: OnFailure,
});

export function eventsOf(template: CfnTemplate): EventsTemplate {
  const of = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const typeOf = (logicalId: string) => template.Resources[logicalId]?.Type;

  const queues = of('AWS::SQS::Queue').map(([logicalId, r]): QueueSpec => {
    const p = Queue.parse(r.Properties ?? {});
    return {
      logicalId,
      visibilityTimeoutSeconds: p.VisibilityTimeout ?? 30,
      ...(p.RedrivePolicy
        ? {
            redrive: {
              deadLetterLogicalId: p.RedrivePolicy.deadLetterTargetArn,
              maxReceiveCount: p.RedrivePolicy.maxReceiveCount,
            },
          }
        : {}),
    };
  });

  const streamMappings: StreamMappingSpec[] = [];
  const queueMappings: QueueMappingSpec[] = [];
  for (const [logicalId, r] of of('AWS::Lambda::EventSourceMapping')) {
    const p = EventSourceMapping.parse(r.Properties);
    if (p.Enabled === false) continue;
    const [sourceId, attribute] = p.EventSourceArn['Fn::GetAtt'];
    const reportBatchItemFailures = (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures');
    if (attribute === 'StreamArn' && typeOf(sourceId) === 'AWS::DynamoDB::Table') {
      streamMappings.push({
        logicalId,
        functionLogicalId: p.FunctionName,
        tableLogicalId: sourceId,
        batchSize: p.BatchSize ?? 100,
        startingPosition: p.StartingPosition ?? 'LATEST',
        maximumRetryAttempts: p.MaximumRetryAttempts ?? -1,
        bisectBatchOnFunctionError: p.BisectBatchOnFunctionError ?? false,
        reportBatchItemFailures,
        ...(p.DestinationConfig?.OnFailure ? { onFailureLogicalId: p.DestinationConfig.OnFailure.Destination } : {}),
        filters: p.FilterCriteria,
      });
    } else if (attribute === 'Arn' && typeOf(sourceId) === 'AWS::SQS::Queue') {
      queueMappings.push({
        logicalId,
        functionLogicalId: p.FunctionName,
        queueLogicalId: sourceId,
        batchSize: p.BatchSize ?? 10,
        reportBatchItemFailures,
        filters: p.FilterCriteria,
      });
    } else {
      throw new Error(
        `${logicalId}: event source ${sourceId} (${typeOf(sourceId) ?? 'unknown'}) is not supported locally`,
      );
    }
  }

  const buses = of('AWS::Events::EventBus').map(([logicalId]) => logicalId);
  const rules: RuleSpec[] = [];
  for (const [logicalId, r] of of('AWS::Events::Rule')) {
    const p = Rule.parse(r.Properties);
    // Rules on the default bus (schedules, AWS service events) are not the custom bus's business.
    if (p.EventBusName === undefined || !buses.includes(p.EventBusName)) continue;
    if (p.State !== undefined && p.State !== 'ENABLED') continue;
    if (p.EventPattern === undefined) throw new Error(`${logicalId}: a rule on a custom bus needs an EventPattern`);
    rules.push({
      logicalId,
      busLogicalId: p.EventBusName,
      pattern: validatePattern(p.EventPattern),
      targets: (p.Targets ?? []).map((t): TargetSpec => {
        const type = typeOf(t.Arn);
        if (type !== 'AWS::Lambda::Function' && type !== 'AWS::SQS::Queue') {
          throw new Error(`${logicalId}: target ${t.Arn} (${type ?? 'unknown'}) is not supported locally`);
        }
        return {
          id: t.Id,
          kind: type === 'AWS::Lambda::Function' ? 'lambda' : 'sqs',
          logicalId: t.Arn,
          // EventBridge's defaults: 185 attempts over 24 hours.
          maximumRetryAttempts: t.RetryPolicy?.MaximumRetryAttempts ?? 185,
          maximumEventAgeSeconds: t.RetryPolicy?.MaximumEventAgeInSeconds ?? 86_400,
          ...(t.DeadLetterConfig ? { deadLetterLogicalId: t.DeadLetterConfig.Arn } : {}),
        };
      }),
    });
  }

  const asyncInvoke = of('AWS::Lambda::EventInvokeConfig').map(([, r]): AsyncInvokeSpec => {
    const p = EventInvokeConfig.parse(r.Properties);
    return {
      functionLogicalId: p.FunctionName,
      maximumRetryAttempts: p.MaximumRetryAttempts ?? 2,
      maximumEventAgeSeconds: p.MaximumEventAgeInSeconds ?? 21_600,
      ...(p.DestinationConfig?.OnFailure ? { onFailureLogicalId: p.DestinationConfig.OnFailure.Destination } : {}),
    };
  });

  return { buses, rules, queues, streamMappings, queueMappings, asyncInvoke };
}
