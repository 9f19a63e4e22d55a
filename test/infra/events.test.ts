import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_FUNCTIONS, SOURCE_METADATA, TABLE_ENV, type TableId } from '../../infra/catalog.js';
import { EVENT_SOURCE, NOTIFIED_EVENTS, TRANSMITTED_EVENTS } from '../../lambdas/domain/events.js';
import { EventsPipeline } from '../../infra/events.js';
import { PurchaseSagaStack, REPO_ROOT } from '../../infra/stack.js';
import { asArray, render } from '../support/cfn.js';

// ---- Template shapes and helpers ---------------------------------------------------------------
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
interface CfnTemplate {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}
interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

class Synth {
  readonly json: CfnTemplate;
  constructor(
    readonly stack: Stack,
    readonly pipeline: EventsPipeline,
  ) {
    this.json = Template.fromStack(stack).toJSON() as CfnTemplate;
  }

  id(construct: { node: { defaultChild?: unknown } }): string {
    return this.stack.getLogicalId(construct.node.defaultChild as CfnResource);
  }

  of(type: string): [string, Record<string, unknown>][] {
    return Object.entries(this.json.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [id, r.Properties ?? {}]);
  }

  props(logicalId: string): Record<string, unknown> {
    const r = this.json.Resources[logicalId];
    if (!r?.Properties) throw new Error(`no resource ${logicalId}`);
    return r.Properties;
  }

  fn(fnId: 'Publisher' | 'Notifier' | 'Transmitter'): string {
    return this.id(this.pipeline.functions[fnId]);
  }

  roleId(fnId: 'Publisher' | 'Notifier' | 'Transmitter'): string {
    const role = this.pipeline.functions[fnId].role;
    if (!role) throw new Error(`${fnId} has no role`);
    return this.id(role);
  }

  /** Everything a function's role may do, as `action on resource` (resources rendered). */
  grants(fnId: 'Publisher' | 'Notifier' | 'Transmitter'): string[] {
    const roleId = this.roleId(fnId);
    const statements: Statement[] = [
      ...this.of('AWS::IAM::Policy')
        .filter(([, p]) => (p.Roles as unknown[]).some((r) => render(r) === `\${${roleId}}`))
        .flatMap(([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement),
      ...((this.props(roleId).Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
        (p) => p.PolicyDocument.Statement,
      ),
    ];
    const out: string[] = [];
    for (const st of statements) {
      expect(st.Effect, JSON.stringify(st)).toBe('Allow');
      expect(st.Condition, JSON.stringify(st)).toBeUndefined();
      for (const a of asArray(st.Action ?? []))
        for (const r of asArray(st.Resource ?? [])) out.push(`${a} on ${render(r)}`);
    }
    return out.sort();
  }

  queue(name: 'PublisherDlq' | 'NotifierDlq' | 'TransmissionQueue' | 'TransmissionDlq'): string {
    const q = {
      PublisherDlq: this.pipeline.publisherDlq,
      NotifierDlq: this.pipeline.notifierDlq,
      TransmissionQueue: this.pipeline.transmissionQueue,
      TransmissionDlq: this.pipeline.transmissionDlq,
    }[name];
    return this.id(q);
  }

  rule(detailTypes: readonly string[]): Record<string, unknown> {
    const rules = this.of('AWS::Events::Rule').filter(
      ([, p]) =>
        JSON.stringify((p.EventPattern as Record<string, unknown> | undefined)?.['detail-type']) ===
        JSON.stringify(detailTypes),
    );
    expect(rules, detailTypes.join()).toHaveLength(1);
    return rules[0]?.[1] ?? {};
  }
}

/** The whole stack, as deployed. */
function synthStack(): Synth {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PurchaseSagaStack(app, 'EventsTestSaga', { stackName: 'EventsTestSaga' });
  const pipeline = stack.node.tryFindChild('Events');
  if (!(pipeline instanceof EventsPipeline)) throw new Error('the stack has no EventsPipeline "Events"');
  return new Synth(stack, pipeline);
}

/** The construct on its own, with plain functions, for the options the stack does not expose yet. */
function synthConstruct(props: { topic?: boolean; externalEndpointUrl?: string } = {}): Synth {
  const app = new App();
  const stack = new Stack(app, 'Bare');
  const table = (id: TableId, stream?: boolean) =>
    new dynamodb.Table(stack, `${id}Table`, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      ...(stream ? { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES } : {}),
    });
  const tables = Object.fromEntries(
    (Object.keys(TABLE_ENV) as TableId[]).map((t) => [t, table(t, t === 'Orders')]),
  ) as Record<TableId, dynamodb.Table>;
  const pipeline = new EventsPipeline(stack, 'Events', {
    tables,
    lambdaFunction: (spec) =>
      new LambdaFunction(stack, `${spec.id}Function`, {
        code: Code.fromInline('export const handler = async () => undefined;'),
        handler: 'index.handler',
        runtime: Runtime.NODEJS_22_X,
        environment: spec.environment,
      }),
    ...(props.topic ? { notificationTopic: new sns.Topic(stack, 'Notifications') } : {}),
    ...(props.externalEndpointUrl ? { externalEndpointUrl: props.externalEndpointUrl } : {}),
  });
  return new Synth(stack, pipeline);
}

const BASE_ENV = { POWERTOOLS_SERVICE_NAME: 'purchase-saga', NODE_OPTIONS: '--enable-source-maps' };
const XRAY = ['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *'];

describe('Stack: EventsPipeline', () => {
  let s: Synth;
  let orders: string;
  let notifications: string;
  let bus: string;
  beforeAll(() => {
    s = synthStack();
    const stack = s.stack;
    if (!(stack instanceof PurchaseSagaStack)) throw new Error('synthStack() builds a PurchaseSagaStack');
    orders = s.id(stack.tables.Orders);
    notifications = s.id(stack.tables.Notifications);
    bus = s.id(s.pipeline.bus);
  });

  it('creates one custom bus named after the stack', () => {
    const buses = s.of('AWS::Events::EventBus');
    expect(buses).toHaveLength(1);
    expect(buses[0]?.[1].Name).toBe('EventsTestSaga-PurchaseEvents');
    expect(s.json.Outputs?.['EventBusName']?.Value).toEqual({ Ref: bus });
  });

  it('builds the three event functions from the catalog, tagged with their source folder', () => {
    for (const f of EVENT_FUNCTIONS) {
      const r = s.json.Resources[s.fn(f.id)];
      expect(r?.Metadata?.[SOURCE_METADATA], f.id).toBe(`lambdas/${f.dir}`);
      expect(existsSync(join(REPO_ROOT, 'lambdas', f.dir, 'handler.ts')), f.dir).toBe(true);
      expect(r?.Properties?.['Runtime'], f.id).toBe('nodejs22.x');
    }
    const env = (fnId: 'Publisher' | 'Notifier' | 'Transmitter') =>
      (s.props(s.fn(fnId)).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env('Publisher')).toEqual({ ...BASE_ENV, EVENT_BUS_NAME: { Ref: bus } });
    expect(env('Notifier')).toEqual({
      ...BASE_ENV,
      NOTIFICATION_SENDER: 'recording',
      NOTIFICATIONS_TABLE: { Ref: notifications },
      ORDERS_TABLE: { Ref: orders },
    });
    expect(env('Transmitter')).toEqual({
      ...BASE_ENV,
      EXTERNAL_TIMEOUT_MS: '5000',
      TRANSMISSION_MODE: 'recording',
      NOTIFICATIONS_TABLE: { Ref: notifications },
    });
  });

  it('feeds the Publisher from the Orders stream: inserts and updates (never removals), batches of 100, bisect, 10 retries, partial failures, DLQ', () => {
    const mappings = s
      .of('AWS::Lambda::EventSourceMapping')
      .filter(([, p]) => render(p.FunctionName) === `\${${s.fn('Publisher')}}`);
    expect(mappings).toHaveLength(1);
    const m = mappings[0]?.[1] ?? {};
    expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': [orders, 'StreamArn'] });
    expect(m).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [s.queue('PublisherDlq'), 'Arn'] } } },
    });
    const filters = (m.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map(
      (f) => JSON.parse(f.Pattern) as unknown,
    );
    expect(filters).toEqual([{ eventName: ['INSERT', 'MODIFY'] }]);
  });

  it('sends NOTIFIED_EVENTS to the Notifier: retries 8 / 2 h and the NotifierDlq on the target, 2 async retries then the same DLQ', () => {
    const rule = s.rule(NOTIFIED_EVENTS);
    expect(rule.EventBusName).toEqual({ Ref: bus });
    expect(rule.EventPattern).toEqual({ source: [EVENT_SOURCE], 'detail-type': [...NOTIFIED_EVENTS] });
    expect(rule.Targets).toEqual([
      {
        Id: expect.any(String),
        Arn: { 'Fn::GetAtt': [s.fn('Notifier'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [s.queue('NotifierDlq'), 'Arn'] } },
      },
    ]);
    const configs = s.of('AWS::Lambda::EventInvokeConfig');
    expect(configs.map(([, p]) => p)).toEqual([
      {
        FunctionName: { Ref: s.fn('Notifier') },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 7200,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [s.queue('NotifierDlq'), 'Arn'] } } },
      },
    ]);
    // Only this rule may invoke the Notifier.
    const ruleId = s.of('AWS::Events::Rule').find(([, p]) => p === rule)?.[0];
    const permissions = s
      .of('AWS::Lambda::Permission')
      .filter(([, p]) => render(p.FunctionName) === `\${${s.fn('Notifier')}.Arn}`);
    expect(permissions.map(([, p]) => [p.Principal, render(p.SourceArn)])).toEqual([
      ['events.amazonaws.com', `\${${ruleId}.Arn}`],
    ]);
  });

  it('sends TRANSMITTED_EVENTS to the TransmissionQueue, which feeds the Transmitter (batches of 10, partial failures) and redrives to its DLQ after 5 receives', () => {
    const rule = s.rule(TRANSMITTED_EVENTS);
    const ruleId = s.of('AWS::Events::Rule').find(([, p]) => p === rule)?.[0];
    expect(rule.EventBusName).toEqual({ Ref: bus });
    expect(rule.EventPattern).toEqual({ source: [EVENT_SOURCE], 'detail-type': [...TRANSMITTED_EVENTS] });
    expect(rule.Targets).toEqual([
      { Id: expect.any(String), Arn: { 'Fn::GetAtt': [s.queue('TransmissionQueue'), 'Arn'] } },
    ]);

    const queue = s.props(s.queue('TransmissionQueue'));
    const transmitterTimeout = s.props(s.fn('Transmitter')).Timeout as number;
    expect(queue.VisibilityTimeout).toBe(6 * transmitterTimeout);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [s.queue('TransmissionDlq'), 'Arn'] },
      maxReceiveCount: 5,
    });

    const mappings = s
      .of('AWS::Lambda::EventSourceMapping')
      .filter(([, p]) => render(p.FunctionName) === `\${${s.fn('Transmitter')}}`);
    expect(mappings.map(([, p]) => p)).toEqual([
      {
        FunctionName: { Ref: s.fn('Transmitter') },
        EventSourceArn: { 'Fn::GetAtt': [s.queue('TransmissionQueue'), 'Arn'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      },
    ]);
    // EventBridge may send to the queue, for this rule only.
    const policy = s
      .of('AWS::SQS::QueuePolicy')
      .find(([, p]) => render((p.Queues as unknown[])[0]) === `\${${s.queue('TransmissionQueue')}}`)?.[1];
    const allow = (policy?.PolicyDocument as { Statement: Statement[] }).Statement.filter(
      (st) => st.Effect === 'Allow',
    );
    expect(allow).toHaveLength(1);
    expect(allow[0]?.Principal).toEqual({ Service: 'events.amazonaws.com' });
    expect(asArray(allow[0]?.Action ?? [])).toContain('sqs:SendMessage');
    expect(allow[0]?.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } });
  });

  it('encrypts every queue with SQS-managed keys and refuses plain HTTP; keeps dead letters 14 days', () => {
    const queues = s.of('AWS::SQS::Queue');
    expect(queues).toHaveLength(4);
    for (const [id, q] of queues) {
      expect(q.SqsManagedSseEnabled, id).toBe(true);
      const policy = s
        .of('AWS::SQS::QueuePolicy')
        .find(([, p]) => render((p.Queues as unknown[])[0]) === `\${${id}}`)?.[1];
      const statements = (policy?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [];
      expect(statements, id).toContainEqual({
        Action: 'sqs:*',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: { 'Fn::GetAtt': [id, 'Arn'] },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    }
    for (const dlq of ['PublisherDlq', 'NotifierDlq', 'TransmissionDlq'] as const)
      expect(s.props(s.queue(dlq)).MessageRetentionPeriod, dlq).toBe(14 * 24 * 3600);
  });

  it('alarms on any visible message in each dead-letter queue (1 datapoint of 1 minute), notifying the alarm topic when it fires and clears', () => {
    const alarms = s.of('AWS::CloudWatch::Alarm').filter(([, a]) => a.Namespace === 'AWS/SQS');
    const dlqs = (['PublisherDlq', 'NotifierDlq', 'TransmissionDlq'] as const).map((d) => s.queue(d));
    expect(alarms.map(([, a]) => render((a.Dimensions as { Value: unknown }[])[0]?.Value)).sort()).toEqual(
      dlqs.map((d) => `\${${d}.QueueName}`).sort(),
    );
    // The stack's Monitoring adds its topic to the pipeline's own alarms (no second alarm per queue).
    const topics = s.of('AWS::SNS::Topic').map(([id]) => id);
    expect(topics).toHaveLength(1);
    for (const q of ['PublisherDlq', 'NotifierDlq', 'TransmissionDlq'] as const) {
      const alarm = s.pipeline.deadLetterAlarms[q];
      if (!alarm) throw new Error(`no alarm on ${q}`);
      expect(s.props(s.id(alarm)).AlarmName, q).toBe(`EventsTestSaga-${q}-NotEmpty`);
    }
    for (const [id, a] of alarms) {
      expect(a, id).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Period: 60,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(a.AlarmActions, id).toEqual([{ Ref: topics[0] }]);
      expect(a.OKActions, id).toEqual([{ Ref: topics[0] }]);
    }
    // The construct alone adds no action: the stack's monitoring owns the topic.
    for (const [id, a] of synthConstruct().of('AWS::CloudWatch::Alarm')) expect(a.AlarmActions, id).toBeUndefined();
  });

  it('outputs the bus name and every queue URL', () => {
    for (const q of ['PublisherDlq', 'NotifierDlq', 'TransmissionQueue', 'TransmissionDlq'] as const) {
      expect(s.json.Outputs?.[`${q}Url`]?.Value, q).toEqual({ Ref: s.queue(q) });
    }
  });

  it('grants the Publisher PutEvents on this bus, its stream and its DLQ, and nothing on any table', () => {
    expect(s.grants('Publisher')).toEqual(
      [
        ...XRAY,
        `events:PutEvents on \${${bus}.Arn}`,
        'dynamodb:ListStreams on *',
        ...['DescribeStream', 'GetRecords', 'GetShardIterator'].map((a) => `dynamodb:${a} on \${${orders}.StreamArn}`),
        ...['SendMessage', 'GetQueueAttributes', 'GetQueueUrl'].map(
          (a) => `sqs:${a} on \${${s.queue('PublisherDlq')}.Arn}`,
        ),
      ].sort(),
    );
  });

  it("grants the Notifier its catalog entry's table actions and sending to its DLQ (the async on-failure destination)", () => {
    expect(s.grants('Notifier')).toEqual(
      [
        ...XRAY,
        // Its delivery records beside the order; the recording channel's notifications.
        ...['GetItem', 'UpdateItem'].map((a) => `dynamodb:${a} on \${${orders}.Arn}`),
        `dynamodb:PutItem on \${${notifications}.Arn}`,
        ...['SendMessage', 'GetQueueAttributes', 'GetQueueUrl'].map(
          (a) => `sqs:${a} on \${${s.queue('NotifierDlq')}.Arn}`,
        ),
      ].sort(),
    );
  });

  it("grants the Transmitter its catalog entry's table actions and consuming its queue", () => {
    expect(s.grants('Transmitter')).toEqual(
      [
        ...XRAY,
        ...['GetItem', 'PutItem', 'UpdateItem'].map((a) => `dynamodb:${a} on \${${notifications}.Arn}`),
        ...['ReceiveMessage', 'ChangeMessageVisibility', 'GetQueueUrl', 'DeleteMessage', 'GetQueueAttributes'].map(
          (a) => `sqs:${a} on \${${s.queue('TransmissionQueue')}.Arn}`,
        ),
      ].sort(),
    );
  });

  it('lets no other role put events on the bus or touch the event queues', () => {
    const own = new Set(EVENT_FUNCTIONS.map((f) => s.roleId(f.id)));
    for (const [, p] of s.of('AWS::IAM::Policy')) {
      const roles = (p.Roles as unknown[]).map(render);
      const text = JSON.stringify(p.PolicyDocument);
      if (text.includes('events:PutEvents') || /"sqs:/.test(text)) {
        expect(
          roles.every((r) => own.has(r.slice(2, -1))),
          roles.join(),
        ).toBe(true);
      }
    }
  });

  describe('options', () => {
    it('sends notifications through SNS when given a topic, and may publish to it', () => {
      const bare = synthConstruct({ topic: true });
      const topic = bare.of('AWS::SNS::Topic')[0]?.[0];
      const env = (bare.props(bare.fn('Notifier')).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({ NOTIFICATION_SENDER: 'sns', NOTIFICATION_TOPIC_ARN: { Ref: topic } });
      expect(bare.grants('Notifier')).toContain(`sns:Publish on \${${topic}}`);
      expect(
        synthConstruct()
          .grants('Notifier')
          .filter((g) => g.startsWith('sns:')),
      ).toEqual([]);
    });

    it('posts transmissions to the external endpoint when given one, and refuses a URL that is not http(s)', () => {
      const bare = synthConstruct({ externalEndpointUrl: 'https://partner.example.com/orders' });
      const env = (bare.props(bare.fn('Transmitter')).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toEqual({ EXTERNAL_TIMEOUT_MS: '5000', EXTERNAL_ENDPOINT_URL: 'https://partner.example.com/orders' });
      expect(() => synthConstruct({ externalEndpointUrl: 'ftp://partner.example.com' })).toThrow(/externalEndpointUrl/);
    });

    it('needs the Orders stream', () => {
      const app = new App();
      const stack = new Stack(app, 'NoStream');
      const tables = Object.fromEntries(
        (Object.keys(TABLE_ENV) as TableId[]).map((t) => [
          t,
          new dynamodb.Table(stack, t, { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } }),
        ]),
      ) as Record<TableId, dynamodb.Table>;
      expect(
        () =>
          new EventsPipeline(stack, 'Events', {
            tables,
            lambdaFunction: () => {
              throw new Error('not reached');
            },
          }),
      ).toThrow(/stream/);
    });
  });
});
