import { readFileSync } from 'node:fs';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SAGA_STEPS, STEP_FENCED } from '../lambdas/domain/steps.js';
import { METRICS_NAMESPACE, SERVICE_NAME, type MetricName } from '../lambdas/shared/metric-catalog.js';
import type { DeadLetterQueueId } from './events.js';

/**
 * Issue #6, operations: every alarm of the purchase saga notifies one SNS topic (when it fires
 * and when it clears), and one dashboard, PurchaseFlow, shows the flow end to end. Alarm names
 * start with the stack name (names are unique per account and region) and their descriptions say
 * what happened and what to do: the runbook quotes them.
 *
 * Business metrics (namespace PurchaseSaga, lambdas/shared/metric-catalog.ts) are published by
 * Powertools with the dimension `service` = POWERTOOLS_SERVICE_NAME; a CloudWatch metric is its
 * full dimension set, so every metric here names `service` too.
 */

export interface MonitoringProps {
  stateMachine: sfn.IStateMachine;
  /** Every Lambda of the stack by catalog id: saga steps, Api, Authorizer, Reconciler, event functions. */
  functions: Readonly<Record<string, IFunction>>;
  api: apigw.RestApi;
  deadLetterQueues: Readonly<Record<DeadLetterQueueId, sqs.IQueue>>;
  /** The EventsPipeline's alarms on its dead-letter queues: they get the topic as their actions (not duplicated). */
  deadLetterAlarms: Readonly<Partial<Record<DeadLetterQueueId, cloudwatch.Alarm>>>;
  ordersTable: dynamodb.ITable;
  /** Subscribed to the alarm topic by e-mail (the address must confirm the subscription). */
  alarmEmail?: string;
  /** The `service` dimension of the business metrics. Default SERVICE_NAME (`purchase-saga`). */
  serviceName?: string;
  /** statemachine/purchase.asl.json: its Catch clauses say which errors are business refusals. */
  aslPath: string;
  /**
   * Build the PurchaseFlow dashboard. False where CloudWatch dashboards do not exist (LocalStack
   * community has no AWS::CloudWatch::Dashboard). @default true
   */
  dashboard?: boolean;
}

/**
 * Functions whose Errors metric counts normal outcomes, so an alarm on `Errors > 0` would fire on
 * ordinary traffic: the forward steps throw a business refusal (InsufficientBalance, OutOfStock,
 * ...) for Step Functions to catch by name, and the TOKEN authorizer throws `Unauthorized` for
 * every missing or bad token. Their real failures are alarmed elsewhere: a forward step that
 * still fails after its retries ends the order FAILED with a reason that is not a refusal
 * (PurchasesFailedUnexpectedly), and an authorizer that cannot verify tokens makes API Gateway
 * answer 500 (Api-5xxRate).
 */
export const ERRORS_ARE_OUTCOMES: readonly string[] = [
  ...SAGA_STEPS.filter((s) => s.refusals.length > 0).map((s) => s.name),
  'Authorizer',
];
/** Functions without an Errors alarm: the above, and FenceCompleteOrder, whose OrderAlreadyCompleted means the purchase succeeded. */
export const NO_ERRORS_ALARM: readonly string[] = [...ERRORS_ARE_OUTCOMES, 'FenceCompleteOrder'];

/** A plausible e-mail address (SNS sends it a confirmation; this only catches typos such as a missing @). */
export function isEmailAddress(value: string): boolean {
  return /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(value);
}

/** Reconciler actions that mean it had to rescue an order the saga left behind. */
export const RESCUE_ACTIONS = ['FAILED', 'COMPLETED'] as const;

/** Alarm evaluation windows. */
const FIVE_MINUTES = Duration.minutes(5);
const FIFTEEN_MINUTES = Duration.minutes(15);
/** The API 5xx rate alarm: percent, and the fewest requests in 5 minutes for the rate to count. */
export const API_5XX_RATE_PERCENT = 1;
export const API_5XX_MIN_REQUESTS = 20;
/** PurchaseLatency p99 threshold. */
export const LATENCY_P99_THRESHOLD_MS = 10_000;
/**
 * The reconciler retries a COMPENSATION_FAILED order with backoff doubling from 1 minute to at
 * most 1 hour, and emits ReconcilerActions{action=POSTPONED} only when a retry is due and fails
 * again. "Any POSTPONED in the last 5 × 15 minutes" therefore stays true while an order is stuck.
 */
const STUCK_PERIODS = 5;

/**
 * The business refusals: the errors the forward steps' Catch clauses route to the refusal path
 * in statemachine/purchase.asl.json. A PurchaseFailed whose reason is anything else is a step
 * that failed for real — StepFenced included: another execution of the order gave up on it.
 */
export function businessRefusals(aslPath: string, forwardStepIds: readonly string[]): string[] {
  interface Task {
    Type?: string;
    Parameters?: { FunctionName?: string };
    Catch?: { ErrorEquals: string[] }[];
  }
  const asl = JSON.parse(readFileSync(aslPath, 'utf8')) as { States: Record<string, Task> };
  const reasons = new Set<string>();
  for (const state of Object.values(asl.States)) {
    const fn = /^\$\{(\w+)FunctionArn\}$/.exec(state.Parameters?.FunctionName ?? '')?.[1];
    if (state.Type !== 'Task' || fn === undefined || !forwardStepIds.includes(fn)) continue;
    for (const c of state.Catch ?? [])
      for (const e of c.ErrorEquals) if (!e.startsWith('States.') && e !== STEP_FENCED) reasons.add(e);
  }
  return [...reasons].sort();
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly topicKey: kms.Key;
  readonly dashboard: cloudwatch.Dashboard | undefined;
  /** Every alarm that notifies the topic, by a stable key (the alarm name without the stack prefix). */
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = stack.stackName;
    const service = props.serviceName ?? SERVICE_NAME;

    const alarmEmail = props.alarmEmail?.trim() || undefined;
    if (alarmEmail !== undefined && !isEmailAddress(alarmEmail)) {
      throw new Error(`alarmEmail must be an e-mail address; got '${alarmEmail}'`);
    }

    // ---- The topic ---------------------------------------------------------------------------
    // Encrypted with a customer managed key: CloudWatch can publish alarms to an encrypted topic
    // only if the key policy lets cloudwatch.amazonaws.com use the key, and the AWS managed key
    // (alias/aws/sns) has a policy nobody can change — alarms to a topic encrypted with it are
    // dropped (Amazon SNS Developer Guide, "Enable compatibility between event sources from AWS
    // services and encrypted topics"). Only this stack's alarms, in this account, may use either.
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${prefix}-*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts the alarm topic of ${prefix}`,
      enableKeyRotation: true,
      // It protects notifications in flight only; nothing needs it once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisStacksAlarms,
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${prefix} alarms`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // The topic policy that enforceSSL creates replaces SNS's default one: name the publisher.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisStacksAlarms,
      }),
    );
    if (alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));
    const action = new cwActions.SnsAction(this.topic);

    // ---- Metrics -----------------------------------------------------------------------------
    const business = (
      name: MetricName,
      statistic: string,
      period: Duration,
      dimensions: Record<string, string> = {},
      label?: string,
    ) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service, ...dimensions },
        statistic,
        period,
        ...(label ? { label } : {}),
      });
    /** One series per dimension combination of a dimensioned business metric (dashboards only: alarms cannot SEARCH). */
    const search = (name: MetricName, dimensions: string[], statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${[...dimensions, 'service'].sort().join(',')}} MetricName="${name}" service="${service}"', '${statistic}', 300)`,
        usingMetrics: {},
        label,
        period: FIVE_MINUTES,
      });
    const stage = props.api.deploymentStage;
    const fnEntries = Object.entries(props.functions).sort(([a], [b]) => a.localeCompare(b));

    // ---- Alarms ------------------------------------------------------------------------------
    const alarms: Record<string, cloudwatch.Alarm> = {};
    const alarm = (
      key: string,
      p: {
        description: string;
        metric: cloudwatch.IMetric;
        threshold: number;
        evaluationPeriods?: number;
        comparison?: cloudwatch.ComparisonOperator;
      },
    ) => {
      const a = new cloudwatch.Alarm(this, `${key.replace(/[^A-Za-z0-9]/g, '')}Alarm`, {
        alarmName: `${prefix}-${key}`,
        alarmDescription: p.description,
        metric: p.metric,
        threshold: p.threshold,
        comparisonOperator: p.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: p.evaluationPeriods ?? 1,
        datapointsToAlarm: 1,
        // No data is good news here: no failures, no traffic, no stuck orders.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarms[key] = a;
      return a;
    };

    alarm('StateMachine-ExecutionsFailed', {
      description:
        'A purchase execution FAILED. Refusals end executions successfully, so this is an incident: a compensation that still failed after its retries (the order is COMPENSATION_FAILED, see that alarm) or a crash. Find the execution (Step Functions console or the state machine log group, status FAILED), read the failing state and its Lambda logs by orderId; the reconciler retries the compensations of COMPENSATION_FAILED orders and resolves PENDING ones after 5 minutes.',
      metric: props.stateMachine.metricFailed({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
    });
    alarm('StateMachine-ExecutionsTimedOut', {
      description:
        'A purchase execution TIMED OUT (EXPRESS: 5 minutes), so its order may be left PENDING with some steps committed. The reconciler drives such orders to COMPLETED or FAILED (TIMED_OUT) once they are older than the pending TTL; check ReconcilerActions on the dashboard, then find the slow step in the state machine logs and its Lambda logs (payment provider latency is the usual suspect).',
      metric: props.stateMachine.metricTimedOut({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
    });
    alarm('CompensationFailed', {
      description:
        'An order ended COMPENSATION_FAILED: a compensation (refund, restock, slot or coupon release) still failed after its retries, so money or stock may be held. Counts MarkCompensationFailed (CompensationFailed) and the reconciler giving up on a stuck order (ReconcilerActions action=COMPENSATION_FAILED). The reconciler retries these orders with backoff (1 min doubling to 1 h); find the order (Orders table byStatus index, COMPENSATION_FAILED#n) and the failing compensation in its step records and Lambda logs, fix the cause; OrdersStuckInCompensationFailed stays in alarm until every such order is resolved.',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(sagaFailed, 0) + FILL(reconcilerFailed, 0)',
        usingMetrics: {
          sagaFailed: business('CompensationFailed', cloudwatch.Stats.SUM, FIVE_MINUTES),
          reconcilerFailed: business('ReconcilerActions', cloudwatch.Stats.SUM, FIVE_MINUTES, {
            action: 'COMPENSATION_FAILED',
          }),
        },
        label: 'Orders that ended COMPENSATION_FAILED',
        period: FIVE_MINUTES,
      }),
      threshold: 0,
    });
    alarm('OrdersStuckInCompensationFailed', {
      description: `At least one order is still COMPENSATION_FAILED: the reconciler retried its compensations and they failed again (ReconcilerActions action=POSTPONED in the last ${(STUCK_PERIODS * FIFTEEN_MINUTES.toMinutes()).toString()} minutes; retries back off up to 1 hour, so this clears ${(STUCK_PERIODS * FIFTEEN_MINUTES.toMinutes()).toString()} minutes after the last failed retry). Reconciler logs ("Order reconciled", action POSTPONED) name the order and the failing compensation; fix the cause (the provider, a table, a bug) and let the next retry resolve it, or reconcile it at once by invoking the Reconciler with {"orderIds": ["<orderId>"]}.`,
      metric: business('ReconcilerActions', cloudwatch.Stats.SUM, FIFTEEN_MINUTES, { action: 'POSTPONED' }),
      threshold: 0,
      evaluationPeriods: STUCK_PERIODS,
    });
    // The EventsPipeline's own alarms on its dead-letter queues (descriptions in infra/events.ts).
    for (const [queueId, dlqAlarm] of Object.entries(props.deadLetterAlarms)) alarms[`${queueId}-NotEmpty`] = dlqAlarm;
    alarm('Api-5xxRate', {
      description: `More than ${API_5XX_RATE_PERCENT.toString()}% of API requests answered 5xx over 5 minutes (with at least ${API_5XX_MIN_REQUESTS.toString()} requests). Check the API access log group (status, integrationError, authorizerError) and the Api and Authorizer Lambda errors and logs; 504s mean the Api Lambda or the workflow took longer than 29 s; 500s with an authorizerError mean tokens cannot be verified (JWKS or secret unreachable). Purchases that got a 5xx are safe to retry with the same Idempotency-Key.`,
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${API_5XX_MIN_REQUESTS.toString()}, 100 * errors / requests, 0)`,
        usingMetrics: {
          errors: stage.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
          requests: stage.metricCount({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
        },
        label: 'API 5xx (% of requests)',
        period: FIVE_MINUTES,
      }),
      threshold: API_5XX_RATE_PERCENT,
    });
    // One alarm per function and metric rather than one over all of them: the alarm names the
    // function (its logs are one click away), a second failing function still notifies while the
    // first is in alarm, and an alarm's math expression may use at most 10 metrics (there are 20 functions).
    for (const [fnId, fn] of fnEntries) {
      if (!NO_ERRORS_ALARM.includes(fnId)) {
        alarm(`Lambda-${fnId}-Errors`, {
          description: `The ${fnId} Lambda failed (threw, timed out or ran out of memory) in the last 5 minutes. Read its log group (level ERROR, by orderId/correlationId) and its X-Ray traces. Saga steps are retried by the state machine and then compensated; event functions by their retries and DLQs; the Reconciler on its next run.`,
          metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
          threshold: 0,
        });
      }
      alarm(`Lambda-${fnId}-Throttles`, {
        description:
          fnId === 'Reconciler'
            ? 'The Reconciler was throttled: the account is out of Lambda concurrency (it has no reservation of its own). Check the account-level ConcurrentExecutions and which functions use it; runs that overlap are safe, a throttled run is retried by the schedule.'
            : `The ${fnId} Lambda was throttled in the last 5 minutes: the account (or its reserved concurrency) ran out of concurrent executions. Check ConcurrentExecutions for the account and which function is consuming it (dashboard, Lambda duration and invocations); raise the account limit or cap the offender (API stage throttling, apiReservedConcurrency).`,
        metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
        threshold: 0,
      });
    }
    const refusals = businessRefusals(props.aslPath, ERRORS_ARE_OUTCOMES);
    alarm('PurchasesFailedUnexpectedly', {
      description: `A purchase ended FAILED for a reason that is not a business refusal (${refusals.join(', ')}): a step failed after all its retries (a crash, a timeout, the payment provider down), and the saga compensated it. The customer was not charged, but the step is broken: the dashboard's "failed by reason" shows the step and the error; read that step's Lambda logs by orderId.`,
      // Metrics Insights: alarms cannot SEARCH, and the failing reasons are not known in advance.
      metric: new cloudwatch.MathExpression({
        expression: [
          `SELECT SUM("PurchaseFailed") FROM SCHEMA("${METRICS_NAMESPACE}", "failedStep", "reason", "service")`,
          `WHERE "service" = '${service}'`,
          ...refusals.map((r) => `AND "reason" != '${r}'`),
        ].join(' '),
        usingMetrics: {},
        label: 'Purchases failed, not refused',
        period: FIVE_MINUTES,
      }),
      threshold: 0,
    });
    alarm('Reconciler-RescuedOrders', {
      description:
        'Warning: the reconciler had to finish orders the saga left PENDING past the pending TTL (ReconcilerActions action=COMPLETED or FAILED in 15 minutes): executions are dying or timing out. Nothing is lost (it completed or compensated them), but find why: StateMachine-ExecutionsTimedOut/Failed, the state machine logs, the step Lambdas errors and throttles.',
      metric: new cloudwatch.MathExpression({
        expression: RESCUE_ACTIONS.map((a) => `FILL(${a.toLowerCase()}, 0)`).join(' + '),
        usingMetrics: Object.fromEntries(
          RESCUE_ACTIONS.map((a) => [
            a.toLowerCase(),
            business('ReconcilerActions', cloudwatch.Stats.SUM, FIFTEEN_MINUTES, { action: a }),
          ]),
        ),
        label: 'Orders rescued by the reconciler',
        period: FIFTEEN_MINUTES,
      }),
      threshold: 0,
    });
    alarm('PurchaseLatency-p99', {
      description: `Warning: the slowest 1% of purchases took more than ${(LATENCY_P99_THRESHOLD_MS / 1000).toString()} s from order creation to COMPLETED or FAILED over 15 minutes. EXPRESS purchases are answered synchronously and API Gateway gives up at 29 s. Look at the Lambda durations and throttles on the dashboard, then X-Ray traces of slow executions (the payment provider, retries with backoff, DynamoDB throttling).`,
      metric: business('PurchaseLatency', cloudwatch.Stats.p(99), FIFTEEN_MINUTES),
      threshold: LATENCY_P99_THRESHOLD_MS,
    });
    // Every alarm notifies the topic when it fires and when it clears.
    for (const a of Object.values(alarms)) {
      a.addAlarmAction(action);
      a.addOkAction(action);
    }
    this.alarms = alarms;
    new CfnOutput(stack, 'AlarmTopicArn', { value: this.topic.topicArn });

    // ---- The dashboard ------------------------------------------------------------------------
    if (props.dashboard === false) {
      this.dashboard = undefined;
      return;
    }
    const fnMetric = (f: (fn: IFunction) => cloudwatch.Metric) =>
      fnEntries.map(([fnId, fn]) => f(fn).with({ label: fnId }));
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });
    const sum = cloudwatch.Stats.SUM;
    const dlqs = Object.entries(props.deadLetterQueues) as [DeadLetterQueueId, sqs.IQueue][];

    this.dashboard = new cloudwatch.Dashboard(this, 'PurchaseFlow', {
      dashboardName: `${prefix}-PurchaseFlow`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# ${prefix}: purchase flow\nBusiness metrics from namespace \`${METRICS_NAMESPACE}\` (service \`${service}\`); every alarm below notifies the alarm topic. A refused purchase is a FAILED order of a successful execution; failed executions are incidents.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(alarms), width: 24, height: 6 }),
    );
    this.dashboard.addWidgets(
      graph('Purchases: completed vs failed (by step and reason)', [
        business('PurchaseCompleted', sum, FIVE_MINUTES, {}, 'Completed'),
        search(
          'PurchaseFailed',
          ['failedStep', 'reason'],
          'Sum',
          "Failed ${PROP('Dim.failedStep')} ${PROP('Dim.reason')}",
        ),
      ]),
      graph(
        'Purchase latency (order created to completed or failed)',
        [
          business('PurchaseLatency', cloudwatch.Stats.p(50), FIVE_MINUTES, {}, 'p50'),
          business('PurchaseLatency', cloudwatch.Stats.p(90), FIVE_MINUTES, {}, 'p90'),
          business('PurchaseLatency', cloudwatch.Stats.p(99), FIVE_MINUTES, {}, 'p99'),
        ],
        {
          leftAnnotations: [{ value: LATENCY_P99_THRESHOLD_MS, label: 'p99 alarm' }],
          leftYAxis: { label: 'ms', showUnits: false },
        },
      ),
    );
    this.dashboard.addWidgets(
      graph('Compensations run, by compensation', [search('CompensationRun', ['step'], 'Sum', "${PROP('Dim.step')}")], {
        width: 8,
      }),
      graph(
        'Compensation failures',
        [
          business('CompensationFailed', sum, FIVE_MINUTES, {}, 'COMPENSATION_FAILED (saga)'),
          business(
            'ReconcilerActions',
            sum,
            FIVE_MINUTES,
            { action: 'COMPENSATION_FAILED' },
            'COMPENSATION_FAILED (reconciler)',
          ),
          business('ReconcilerActions', sum, FIVE_MINUTES, { action: 'POSTPONED' }, 'retried, still failing'),
          business('ReconcilerActions', sum, FIVE_MINUTES, { action: 'RESOLVED' }, 'resolved'),
        ],
        { width: 8 },
      ),
      graph('Idempotent replays, by source', [search('IdempotentReplay', ['source'], 'Sum', "${PROP('Dim.source')}")], {
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      graph('API requests, 4xx, 5xx', [
        stage.metricCount({ statistic: sum, period: FIVE_MINUTES, label: 'requests' }),
        stage.metricClientError({ statistic: sum, period: FIVE_MINUTES, label: '4xx' }),
        stage.metricServerError({ statistic: sum, period: FIVE_MINUTES, label: '5xx' }),
      ]),
      graph('API latency', [
        stage.metricLatency({ statistic: cloudwatch.Stats.p(50), period: FIVE_MINUTES, label: 'latency p50' }),
        stage.metricLatency({ statistic: cloudwatch.Stats.p(99), period: FIVE_MINUTES, label: 'latency p99' }),
        stage.metricIntegrationLatency({
          statistic: cloudwatch.Stats.p(99),
          period: FIVE_MINUTES,
          label: 'integration latency p99',
        }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('State machine executions', [
        props.stateMachine.metricStarted({ statistic: sum, period: FIVE_MINUTES, label: 'started' }),
        props.stateMachine.metricSucceeded({ statistic: sum, period: FIVE_MINUTES, label: 'succeeded' }),
        props.stateMachine.metricFailed({ statistic: sum, period: FIVE_MINUTES, label: 'failed' }),
        props.stateMachine.metricTimedOut({ statistic: sum, period: FIVE_MINUTES, label: 'timed out' }),
        props.stateMachine.metricThrottled({ statistic: sum, period: FIVE_MINUTES, label: 'throttled' }),
      ]),
      graph('Reconciler actions', [search('ReconcilerActions', ['action'], 'Sum', "${PROP('Dim.action')}")]),
    );
    this.dashboard.addWidgets(
      graph(
        'Lambda errors, per function',
        fnMetric((fn) => fn.metricErrors({ statistic: sum, period: FIVE_MINUTES })),
        { width: 8, legendPosition: cloudwatch.LegendPosition.RIGHT },
      ),
      graph(
        'Lambda throttles, per function',
        fnMetric((fn) => fn.metricThrottles({ statistic: sum, period: FIVE_MINUTES })),
        { width: 8, legendPosition: cloudwatch.LegendPosition.RIGHT },
      ),
      graph(
        'Lambda duration p99, per function',
        fnMetric((fn) => fn.metricDuration({ statistic: cloudwatch.Stats.p(99), period: FIVE_MINUTES })),
        { width: 8, legendPosition: cloudwatch.LegendPosition.RIGHT },
      ),
    );
    const publisher = props.functions['Publisher'];
    this.dashboard.addWidgets(
      graph(
        'Dead-letter queues (messages visible)',
        dlqs.map(([queueId, q]) =>
          q.metricApproximateNumberOfMessagesVisible({
            statistic: cloudwatch.Stats.MAXIMUM,
            period: Duration.minutes(1),
            label: queueId,
          }),
        ),
      ),
      graph('Outbox and Orders table', [
        ...(publisher
          ? [
              publisher.metric('IteratorAge', {
                statistic: cloudwatch.Stats.MAXIMUM,
                period: Duration.minutes(1),
                label: 'Publisher iterator age (ms)',
              }),
            ]
          : []),
        props.ordersTable.metricThrottledRequestsForOperations({
          operations: [
            dynamodb.Operation.GET_ITEM,
            dynamodb.Operation.PUT_ITEM,
            dynamodb.Operation.UPDATE_ITEM,
            dynamodb.Operation.QUERY,
            dynamodb.Operation.TRANSACT_WRITE_ITEMS,
          ],
          period: FIVE_MINUTES,
          label: 'Orders throttled requests',
        }),
      ]),
    );
    new CfnOutput(stack, 'DashboardName', { value: this.dashboard.dashboardName });
  }
}
