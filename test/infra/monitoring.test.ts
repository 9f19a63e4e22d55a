import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EDGE_FUNCTIONS, EVENT_FUNCTIONS, RECONCILER_FUNCTION, SAGA_FUNCTIONS } from '../../infra/catalog.js';
import {
  API_5XX_MIN_REQUESTS,
  ERRORS_ARE_OUTCOMES,
  LATENCY_P99_THRESHOLD_MS,
  NO_ERRORS_ALARM,
  businessRefusals,
} from '../../infra/monitoring.js';
import { ASL_PATH, PurchaseSagaStack, REPO_ROOT, type PurchaseSagaStackProps } from '../../infra/stack.js';
import { METRICS_NAMESPACE, SAGA_METRICS, SERVICE_NAME } from '../../lambdas/shared/metric-catalog.js';
import { asArray, render } from '../support/cfn.js';

// ---- Template shapes and helpers ---------------------------------------------------------------
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}
interface CfnTemplate {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}
interface Dimension {
  Name: string;
  Value: unknown;
}
interface MetricQuery {
  Id: string;
  Expression?: string;
  Period?: number;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { Namespace: string; MetricName: string; Dimensions?: Dimension[] };
    Period: number;
    Stat: string;
  };
}
interface Statement {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const dims = (ds: Dimension[] | undefined): Record<string, string> =>
  Object.fromEntries((ds ?? []).map((d) => [d.Name, render(d.Value)]));

const STACK_NAME = 'MonitoringTestSaga';
const ALL_FUNCTION_IDS = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS]
  .map((f) => f.id)
  .sort();
const REFUSALS = [
  'CouponAlreadyUsed',
  'CouponExpired',
  'CouponNotFound',
  'InsufficientBalance',
  'InventoryFull',
  'OutOfStock',
  'PaymentDeclined',
];

class Synth {
  readonly json: CfnTemplate;
  constructor(readonly stack: PurchaseSagaStack) {
    this.json = Template.fromStack(stack).toJSON() as CfnTemplate;
  }

  id(construct: IConstruct): string {
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

  get topic(): string {
    return this.id(this.stack.monitoring.topic);
  }

  /** The alarm named `<stack>-<name>`. */
  alarm(name: string): Record<string, unknown> {
    const found = this.of('AWS::CloudWatch::Alarm').filter(([, a]) => a.AlarmName === `${STACK_NAME}-${name}`);
    expect(found, name).toHaveLength(1);
    return found[0]?.[1] ?? {};
  }

  fn(fnId: string): string {
    const fn =
      this.stack.node.tryFindChild(`${fnId}Function`) ?? this.stack.events.node.tryFindChild(`${fnId}Function`);
    if (!fn) throw new Error(`no ${fnId}Function`);
    return this.id(fn);
  }
}

function synth(props: PurchaseSagaStackProps = {}): Synth {
  // No stack is bundled: esbuild never runs, the test stays fast and offline.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Synth(new PurchaseSagaStack(app, 'MonitoringTest', { stackName: STACK_NAME, ...props }));
}

/** A single-metric alarm's metric, period, statistic and dimensions. */
function single(a: Record<string, unknown>) {
  return {
    namespace: a.Namespace,
    metricName: a.MetricName,
    period: a.Period,
    statistic: a.Statistic ?? a.ExtendedStatistic,
    dimensions: dims(a.Dimensions as Dimension[]),
  };
}

/** A math alarm's expression and its metrics by id. */
function math(a: Record<string, unknown>) {
  const queries = a.Metrics as MetricQuery[];
  const expressions = queries.filter((q) => q.Expression !== undefined);
  expect(expressions).toHaveLength(1);
  const metrics = Object.fromEntries(
    queries
      .flatMap((q) => (q.MetricStat ? [{ ...q, MetricStat: q.MetricStat }] : []))
      .map((q) => {
        const m = q.MetricStat;
        return [
          q.Id,
          {
            namespace: m.Metric.Namespace,
            metricName: m.Metric.MetricName,
            period: m.Period,
            statistic: m.Stat,
            dimensions: dims(m.Metric.Dimensions),
          },
        ];
      }),
  );
  return {
    expression: expressions[0]?.Expression,
    period: expressions[0]?.Period,
    returnData: expressions[0]?.ReturnData,
    metrics,
  };
}

describe('Monitoring: alarms, topic and dashboard', () => {
  let s: Synth;
  let withEmail: Synth;
  let standard: Synth;
  beforeAll(() => {
    s = synth();
    withEmail = synth({ alarmEmail: 'oncall@example.com' });
    standard = synth({
      workflowType: 'STANDARD',
      jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
      jwtIssuer: 'https://idp.example.com/',
      jwtAudience: 'purchase-app-client',
    });
  });

  // ---- The topic -------------------------------------------------------------------------------

  it("creates one alarm topic, encrypted with a rotated customer managed key that only this stack's alarms may use, TLS only", () => {
    const topics = s.of('AWS::SNS::Topic');
    expect(topics.map(([id]) => id)).toEqual([s.topic]);
    const topic = s.props(s.topic);
    const keyId = render(topic.KmsMasterKeyId).replace(/^\$\{(.+)\.Arn\}$/, '$1');
    expect(s.json.Resources[keyId]?.Type).toBe('AWS::KMS::Key');
    const key = s.props(keyId);
    expect(key.EnableKeyRotation).toBe(true);
    const alarmArns = `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${STACK_NAME}-*`;
    const keyStatements = (key.KeyPolicy as { Statement: Statement[] }).Statement;
    const cwKey = keyStatements.filter(
      (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(cwKey).toHaveLength(1);
    expect(asArray(cwKey[0]?.Action ?? []).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(render(cwKey[0]?.Condition?.['ArnLike']?.['aws:SourceArn'])).toBe(alarmArns);
    expect(cwKey[0]?.Condition?.['StringEquals']?.['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });

    const policies = s
      .of('AWS::SNS::TopicPolicy')
      .filter(([, p]) => (p.Topics as unknown[]).some((t) => render(t) === `\${${s.topic}}`));
    expect(policies).toHaveLength(1);
    const statements = (policies[0]?.[1].PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Principal: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const cwTopic = statements.filter((st) => st.Effect === 'Allow');
    expect(cwTopic).toHaveLength(1);
    expect(cwTopic[0]).toMatchObject({ Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' } });
    expect(render(cwTopic[0]?.Condition?.['ArnLike']?.['aws:SourceArn'])).toBe(alarmArns);
    expect(render(s.json.Outputs?.['AlarmTopicArn']?.Value)).toBe(`\${${s.topic}}`);
  });

  it('subscribes the alarm e-mail only when one is given, and refuses one that is not an address', () => {
    expect(s.of('AWS::SNS::Subscription')).toEqual([]);
    const subs = withEmail.of('AWS::SNS::Subscription');
    expect(subs).toHaveLength(1);
    expect(subs[0]?.[1]).toEqual({
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: withEmail.topic },
    });
    for (const bad of ['oncall', 'oncall@example', 'on call@example.com', '@example.com']) {
      expect(() => synth({ alarmEmail: bad }), bad).toThrow(/alarmEmail must be an e-mail address/);
    }
  });

  it(
    'reads alarmEmail (validated), apiReservedConcurrency and apiGatewayCloudWatchRole from the CDK context in infra/app.ts',
    { timeout: 120_000 },
    () => {
      const run = (context: Record<string, unknown>) => {
        const outdir = mkdtempSync(join(tmpdir(), 'saga-app-'));
        try {
          const result = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'infra', 'app.ts')], {
            cwd: REPO_ROOT,
            encoding: 'utf8',
            env: {
              ...process.env,
              CDK_OUTDIR: outdir,
              CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
            },
          });
          const file = readdirSync(outdir).find((f) => f.endsWith('.template.json'));
          return {
            status: result.status,
            stderr: result.stderr,
            template: file ? (JSON.parse(readFileSync(join(outdir, file), 'utf8')) as CfnTemplate) : undefined,
          };
        } finally {
          rmSync(outdir, { recursive: true, force: true });
        }
      };
      const bad = run({ alarmEmail: 'not-an-address' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/context 'alarmEmail' must be an e-mail address/);

      const good = run({
        alarmEmail: 'oncall@example.com',
        apiReservedConcurrency: '100',
        apiGatewayCloudWatchRole: 'false',
      });
      expect(good.status, good.stderr).toBe(0);
      const resources = Object.values(good.template?.Resources ?? {});
      expect(resources.filter((r) => r.Type === 'AWS::SNS::Subscription').map((r) => r.Properties?.Endpoint)).toEqual([
        'oncall@example.com',
      ]);
      expect(
        resources.filter(
          (r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.ReservedConcurrentExecutions === 100,
        ),
      ).toHaveLength(1);
      expect(resources.filter((r) => r.Type === 'AWS::ApiGateway::Account')).toEqual([]);
    },
  );

  // ---- Alarms ----------------------------------------------------------------------------------

  it('gives every alarm of the stack a name prefixed by the stack, a description, and the topic as alarm and OK action', () => {
    for (const synthed of [s, standard]) {
      const alarms = synthed.of('AWS::CloudWatch::Alarm');
      const expected = [
        'StateMachine-ExecutionsFailed',
        'StateMachine-ExecutionsTimedOut',
        'CompensationFailed',
        'OrdersStuckInCompensationFailed',
        'PublisherDlq-NotEmpty',
        'NotifierDlq-NotEmpty',
        'TransmissionDlq-NotEmpty',
        'Api-5xxRate',
        'PurchasesFailedUnexpectedly',
        'Reconciler-RescuedOrders',
        'PurchaseLatency-p99',
        ...ALL_FUNCTION_IDS.map((f) => `Lambda-${f}-Throttles`),
        ...ALL_FUNCTION_IDS.filter((f) => !NO_ERRORS_ALARM.includes(f)).map((f) => `Lambda-${f}-Errors`),
      ];
      expect(alarms.map(([, a]) => a.AlarmName).sort()).toEqual(expected.map((n) => `${STACK_NAME}-${n}`).sort());
      for (const [id, a] of alarms) {
        expect(a.AlarmActions, id).toEqual([{ Ref: synthed.topic }]);
        expect(a.OKActions, id).toEqual([{ Ref: synthed.topic }]);
        expect(String(a.AlarmDescription).length, id).toBeGreaterThan(100);
        expect(a.TreatMissingData, id).toBe('notBreaching');
        expect(a.DatapointsToAlarm, id).toBe(1);
      }
    }
    expect(ALL_FUNCTION_IDS).toHaveLength(20);
  });

  it('alarms on failed and timed-out executions of the state machine (Sum > 0 over 5 minutes)', () => {
    const sm = s.id(s.stack.stateMachine);
    for (const [name, metricName] of [
      ['StateMachine-ExecutionsFailed', 'ExecutionsFailed'],
      ['StateMachine-ExecutionsTimedOut', 'ExecutionsTimedOut'],
    ] as const) {
      const a = s.alarm(name);
      expect(single(a), name).toEqual({
        namespace: 'AWS/States',
        metricName,
        period: 300,
        statistic: 'Sum',
        dimensions: { StateMachineArn: `\${${sm}}` },
      });
      expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
    }
  });

  it('alarms on orders ending COMPENSATION_FAILED, from the saga or the reconciler (Sum > 0 over 5 minutes)', () => {
    const a = s.alarm('CompensationFailed');
    const m = math(a);
    expect(m.expression).toBe('FILL(sagaFailed, 0) + FILL(reconcilerFailed, 0)');
    expect(m.metrics).toEqual({
      sagaFailed: {
        namespace: METRICS_NAMESPACE,
        metricName: 'CompensationFailed',
        period: 300,
        statistic: 'Sum',
        dimensions: { service: SERVICE_NAME },
      },
      reconcilerFailed: {
        namespace: METRICS_NAMESPACE,
        metricName: 'ReconcilerActions',
        period: 300,
        statistic: 'Sum',
        dimensions: { service: SERVICE_NAME, action: 'COMPENSATION_FAILED' },
      },
    });
    expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
  });

  it('stays in alarm while an order remains COMPENSATION_FAILED: any POSTPONED retry in 5 periods of 15 minutes (longer than the 1 h maximum backoff)', () => {
    const a = s.alarm('OrdersStuckInCompensationFailed');
    expect(single(a)).toEqual({
      namespace: METRICS_NAMESPACE,
      metricName: 'ReconcilerActions',
      period: 900,
      statistic: 'Sum',
      dimensions: { service: SERVICE_NAME, action: 'POSTPONED' },
    });
    expect(a).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
    });
    expect((a.Period as number) * (a.EvaluationPeriods as number)).toBeGreaterThan(3_600 + 60);
  });

  it('alarms on every dead-letter queue once (the EventsPipeline alarms, with the topic)', () => {
    for (const q of ['PublisherDlq', 'NotifierDlq', 'TransmissionDlq'] as const) {
      const a = s.alarm(`${q}-NotEmpty`);
      const queue = {
        PublisherDlq: s.stack.events.publisherDlq,
        NotifierDlq: s.stack.events.notifierDlq,
        TransmissionDlq: s.stack.events.transmissionDlq,
      }[q];
      expect(single(a), q).toEqual({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        period: 60,
        statistic: 'Maximum',
        dimensions: { QueueName: `\${${s.id(queue)}.QueueName}` },
      });
      expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    }
    expect(s.of('AWS::CloudWatch::Alarm').filter(([, a]) => a.Namespace === 'AWS/SQS')).toHaveLength(3);
  });

  it(`alarms when more than 1% of at least ${API_5XX_MIN_REQUESTS} API requests answer 5xx in 5 minutes`, () => {
    const a = s.alarm('Api-5xxRate');
    const m = math(a);
    expect(m.expression).toBe('IF(requests >= 20, 100 * errors / requests, 0)');
    expect(m.returnData).toBe(true);
    const stage = { ApiName: `${STACK_NAME}-PurchaseApi`, Stage: `\${${s.id(s.stack.api.deploymentStage)}}` };
    expect(m.metrics).toEqual({
      errors: { namespace: 'AWS/ApiGateway', metricName: '5XXError', period: 300, statistic: 'Sum', dimensions: stage },
      requests: { namespace: 'AWS/ApiGateway', metricName: 'Count', period: 300, statistic: 'Sum', dimensions: stage },
    });
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
    // API Gateway's metrics are keyed by API name: the stack's name keeps two stacks apart.
    expect(s.props(s.id(s.stack.api)).Name).toBe(`${STACK_NAME}-PurchaseApi`);
  });

  it('alarms on throttles of every function, and on errors of every function whose errors are not business outcomes (Sum > 0 over 5 minutes)', () => {
    for (const fnId of ALL_FUNCTION_IDS) {
      const metrics: ['Throttles' | 'Errors', boolean][] = [
        ['Throttles', true],
        ['Errors', !NO_ERRORS_ALARM.includes(fnId)],
      ];
      for (const [metricName, alarmed] of metrics) {
        const found = s
          .of('AWS::CloudWatch::Alarm')
          .filter(([, a]) => a.AlarmName === `${STACK_NAME}-Lambda-${fnId}-${metricName}`);
        expect(found.length, `${fnId} ${metricName}`).toBe(alarmed ? 1 : 0);
        if (!alarmed) continue;
        const a = found[0]?.[1] ?? {};
        expect(single(a), `${fnId} ${metricName}`).toEqual({
          namespace: 'AWS/Lambda',
          metricName,
          period: 300,
          statistic: 'Sum',
          dimensions: { FunctionName: `\${${s.fn(fnId)}}` },
        });
        expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
      }
    }
    // The forward steps that refuse by throwing, and the authorizer (401 = a thrown Unauthorized).
    expect([...ERRORS_ARE_OUTCOMES].sort()).toEqual([
      'Authorizer',
      'ChargePayment',
      'DeductBalance',
      'ReserveInventorySlots',
      'ReserveStock',
      'UseCoupon',
    ]);
    // FenceCompleteOrder's OrderAlreadyCompleted is a success path: no Errors alarm either.
    expect([...NO_ERRORS_ALARM].sort()).toEqual([...ERRORS_ARE_OUTCOMES, 'FenceCompleteOrder'].sort());
  });

  it('alarms on purchases that failed for a reason other than a business refusal (Metrics Insights over PurchaseFailed)', () => {
    expect(businessRefusals(ASL_PATH, ERRORS_ARE_OUTCOMES)).toEqual(REFUSALS);
    const a = s.alarm('PurchasesFailedUnexpectedly');
    const queries = a.Metrics as MetricQuery[];
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ Period: 300, ReturnData: true });
    expect(queries[0]?.Expression).toBe(
      `SELECT SUM("PurchaseFailed") FROM SCHEMA("PurchaseSaga", "failedStep", "reason", "service") WHERE "service" = 'purchase-saga' ` +
        REFUSALS.map((r) => `AND "reason" != '${r}'`).join(' '),
    );
    expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
  });

  it('warns when the reconciler had to complete or fail orders (ReconcilerActions FAILED + COMPLETED, Sum > 0 over 15 minutes)', () => {
    const a = s.alarm('Reconciler-RescuedOrders');
    const m = math(a);
    expect(m.expression).toBe('FILL(failed, 0) + FILL(completed, 0)');
    for (const action of ['FAILED', 'COMPLETED']) {
      expect(m.metrics[action.toLowerCase()], action).toEqual({
        namespace: METRICS_NAMESPACE,
        metricName: 'ReconcilerActions',
        period: 900,
        statistic: 'Sum',
        dimensions: { service: SERVICE_NAME, action },
      });
    }
    expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
    expect(String(a.AlarmDescription)).toMatch(/^Warning:/);
  });

  it('warns when the p99 purchase latency exceeds 10 s over 15 minutes', () => {
    const a = s.alarm('PurchaseLatency-p99');
    expect(single(a)).toEqual({
      namespace: METRICS_NAMESPACE,
      metricName: 'PurchaseLatency',
      period: 900,
      statistic: 'p99',
      dimensions: { service: SERVICE_NAME },
    });
    expect(a).toMatchObject({
      Threshold: LATENCY_P99_THRESHOLD_MS,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
    });
    expect(LATENCY_P99_THRESHOLD_MS).toBe(10_000);
  });

  // ---- The dashboard ---------------------------------------------------------------------------

  it('builds the PurchaseFlow dashboard over the business, API, state machine, Lambda, queue and reconciler metrics', () => {
    const dashboards = s.of('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const [, dashboard] = dashboards[0] ?? ['', {}];
    expect(dashboard.DashboardName).toBe(`${STACK_NAME}-PurchaseFlow`);
    const body = render(dashboard.DashboardBody);
    // Plain metrics name it as "X", SEARCH expressions as MetricName=\"X\".
    for (const metricName of Object.keys(SAGA_METRICS))
      expect(body.includes(`"${metricName}"`) || body.includes(`\\"${metricName}\\"`), metricName).toBe(true);
    for (const search of [
      'MetricName=\\"PurchaseFailed\\"',
      'MetricName=\\"CompensationRun\\"',
      'MetricName=\\"IdempotentReplay\\"',
      'MetricName=\\"ReconcilerActions\\"',
    ]) {
      expect(body, search).toContain(search);
    }
    for (const text of [
      '"AWS/ApiGateway","Count"',
      '"AWS/ApiGateway","4XXError"',
      '"AWS/ApiGateway","5XXError"',
      '"AWS/ApiGateway","Latency"',
      '"AWS/States","ExecutionsStarted"',
      '"AWS/States","ExecutionsSucceeded"',
      '"AWS/States","ExecutionsFailed"',
      '"AWS/States","ExecutionsTimedOut"',
      '"ApproximateNumberOfMessagesVisible"',
      '"IteratorAge"',
      '"p99"',
      '"p50"',
    ]) {
      expect(body, text).toContain(text);
    }
    for (const fnId of ALL_FUNCTION_IDS) {
      for (const metricName of ['Errors', 'Throttles', 'Duration']) {
        expect(body, `${fnId} ${metricName}`).toContain(
          `"AWS/Lambda","${metricName}","FunctionName","\${${s.fn(fnId)}}"`,
        );
      }
    }
    for (const q of ['PublisherDlq', 'NotifierDlq', 'TransmissionDlq']) expect(body, q).toContain(`"label":"${q}"`);
    // Every alarm appears in the alarm status widget.
    for (const [id] of s.of('AWS::CloudWatch::Alarm')) expect(body, id).toContain(`\${${id}.Arn}`);
    expect(render(s.json.Outputs?.['DashboardName']?.Value)).toBe(`\${${dashboards[0]?.[0]}}`);
  });

  // ---- Data protection and logs ----------------------------------------------------------------

  it('encrypts every table, queue and topic at rest', () => {
    for (const [id, t] of s.of('AWS::DynamoDB::Table')) expect(t.SSESpecification, id).toEqual({ SSEEnabled: true });
    const queues = s.of('AWS::SQS::Queue');
    expect(queues).toHaveLength(4);
    for (const [id, q] of queues) expect(q.SqsManagedSseEnabled, id).toBe(true);
    for (const [id, t] of s.of('AWS::SNS::Topic')) expect(t.KmsMasterKeyId, id).toBeDefined();
  });

  it('keeps point-in-time recovery on the money, order and stock tables, and retains them unless told otherwise', () => {
    for (const t of ['Accounts', 'Payments', 'Orders', 'Catalog', 'Inventory', 'Coupons', 'Notifications'] as const) {
      const id = s.id(s.stack.tables[t]);
      expect(s.props(id).PointInTimeRecoverySpecification, t).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(s.json.Resources[id]?.DeletionPolicy, t).toBe('Retain');
      expect(s.json.Resources[id]?.UpdateReplacePolicy, t).toBe('Retain');
    }
  });

  it('gives every log group a retention, retains them with the data, and sends every function, the state machine and the API to one of them', () => {
    const scratch = synth({ retainData: false });
    for (const [synthed, policy] of [
      [s, 'Retain'],
      [scratch, 'Delete'],
    ] as const) {
      const logGroups = synthed.of('AWS::Logs::LogGroup');
      // One per function, the state machine's, the API's access and execution logs.
      expect(logGroups).toHaveLength(ALL_FUNCTION_IDS.length + 3);
      for (const [id, lg] of logGroups) {
        expect(lg.RetentionInDays, id).toBe(30);
        expect(synthed.json.Resources[id]?.DeletionPolicy, id).toBe(policy);
      }
    }
    const logGroupIds = new Set(s.of('AWS::Logs::LogGroup').map(([id]) => id));
    for (const fnId of ALL_FUNCTION_IDS) {
      const ref = (s.props(s.fn(fnId)).LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect(logGroupIds.has(ref ?? ''), fnId).toBe(true);
    }
    const sm = s.props(s.id(s.stack.stateMachine)).LoggingConfiguration as {
      Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: unknown } }[];
    };
    expect(
      logGroupIds.has(
        render(sm.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn).replace(/^\$\{(.+)\.Arn\}$/, '$1'),
      ),
    ).toBe(true);
  });

  it('logs API access as JSON and API errors to retained log groups, never request data', () => {
    const stageId = s.id(s.stack.api.deploymentStage);
    const stage = s.props(stageId);
    const access = stage.AccessLogSetting as { DestinationArn: unknown; Format: string };
    const accessGroup = render(access.DestinationArn).replace(/^\$\{(.+)\.Arn\}$/, '$1');
    expect(s.json.Resources[accessGroup]?.Type).toBe('AWS::Logs::LogGroup');
    const format = JSON.parse(access.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      authorizerError: '$context.authorizer.error',
    });
    expect(access.Format).not.toMatch(/Authorization|\$input|requestOverride/i);
    expect(stage.MethodSettings).toContainEqual(
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false }),
    );
    // The execution log group API Gateway writes to, created first with a retention.
    const execution = s
      .of('AWS::Logs::LogGroup')
      .filter(
        ([, lg]) => lg.LogGroupName !== undefined && render(lg.LogGroupName).startsWith('API-Gateway-Execution-Logs_'),
      );
    expect(execution).toHaveLength(1);
    expect(render(execution[0]?.[1].LogGroupName)).toBe(`API-Gateway-Execution-Logs_\${${s.id(s.stack.api)}}/v1`);
    expect(s.json.Resources[stageId]?.DependsOn).toContain(execution[0]?.[0]);
    // The account's CloudWatch role for API Gateway, unless the account settings are managed elsewhere.
    expect(s.of('AWS::ApiGateway::Account')).toHaveLength(1);
    expect(synth({ apiGatewayCloudWatchRole: false }).of('AWS::ApiGateway::Account')).toEqual([]);
  });

  it('reserves concurrency for the Api function only when asked (opt-in), and refuses a reservation that is not a positive integer', () => {
    const api = s.fn('Api');
    expect(s.props(api).ReservedConcurrentExecutions).toBeUndefined();
    const reserved = synth({ apiReservedConcurrency: 100 });
    expect(reserved.props(reserved.fn('Api')).ReservedConcurrentExecutions).toBe(100);
    // Nothing else reserves concurrency: any reservation fails to deploy on a 10-execution account.
    const reservations = s.of('AWS::Lambda::Function').filter(([, f]) => f.ReservedConcurrentExecutions !== undefined);
    expect(reservations).toEqual([]);
    for (const bad of [0, -1, 1.5])
      expect(() => synth({ apiReservedConcurrency: bad }), String(bad)).toThrow(/apiReservedConcurrency/);
  });
});
