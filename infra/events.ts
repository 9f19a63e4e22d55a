import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { FilterCriteria, FilterRule, StartingPosition, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE, NOTIFIED_EVENTS, TRANSMITTED_EVENTS } from '../lambdas/domain/events.js';
import { EVENT_FUNCTIONS, type DynamoAction, type EventFunction, type TableId } from './catalog.js';

/**
 * The event side of the saga: the Orders table's stream is the transactional outbox; the
 * Publisher forwards every outbox INSERT to the custom bus `PurchaseEvents`; rules hand the
 * events to the notification consumer (Lambda target) and, through an SQS queue, to the external
 * data transmission consumer. Delivery is at least once everywhere: every consumer deduplicates
 * on `detail.eventId`. What cannot be delivered after the retries lands in a dead-letter queue
 * with an alarm; the stack's Monitoring construct adds its SNS topic to those alarms.
 */

/** What the stack's function factory takes (it adds table variables and grants from `access`). */
export interface EventFunctionSpec {
  id: EventFunction['id'];
  dir: string;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
  environment: Record<string, string>;
  timeout: number;
}

export interface EventsPipelineProps {
  tables: Readonly<Record<TableId, dynamodb.ITable>>;
  /** Builds a function the way the stack builds all of them (bundling, logs, catalog grants, source metadata). */
  lambdaFunction: (spec: EventFunctionSpec) => LambdaFunction;
  /** Notifications go to this topic (NOTIFICATION_SENDER=sns); without it they are recorded in the Notifications table. */
  notificationTopic?: sns.ITopic;
  /** Where the Transmitter POSTs completed orders; without it transmissions are recorded (TRANSMISSION_MODE=recording). */
  externalEndpointUrl?: string;
}

/** Function timeouts (seconds). The Transmitter's covers the endpoint's 5 s timeout with room to record. */
export const EVENT_FUNCTION_TIMEOUTS: Record<EventFunction['id'], number> = {
  Publisher: 60,
  Notifier: 20,
  Transmitter: 20,
};
export const EXTERNAL_TIMEOUT_MS = 5_000;

export type DeadLetterQueueId = 'PublisherDlq' | 'NotifierDlq' | 'TransmissionDlq';

/** What landed in each dead-letter queue and what to do about it (the alarm descriptions). */
export const DEAD_LETTER_GUIDANCE: Record<DeadLetterQueueId, string> = {
  PublisherDlq:
    "Outbox events were not published to the bus: each message names the Orders stream shard and sequence range of a batch the Publisher kept failing on after its retries (not the events themselves). Read the Publisher logs for the error and fix it; then, within 24 h, read those stream records (GetShardIterator AT_SEQUENCE_NUMBER) and put their events on the bus, or after 24 h rebuild them from the `events` maps of the orders' items (an entry per event: its time and payload fields; consumers deduplicate on eventId); then delete the messages.",
  NotifierDlq:
    'Notifications were not sent: each message is an event EventBridge could not deliver to the Notifier, or the record of an invocation that still failed after its retries (the event is its requestPayload). Read the Notifier logs, fix the cause (e.g. the SNS topic or its permissions), then put the events on the bus again (the Notifier deduplicates on eventId) and delete the messages.',
  TransmissionDlq:
    'Completed orders were not transmitted: the Transmitter failed on each message 5 times. Check the external endpoint and the Transmitter logs, fix the cause, then start a DLQ redrive back to the TransmissionQueue (the Transmitter deduplicates on eventId).',
};

/**
 * The records the Publisher is invoked with: inserts and updates, the writes that can add an
 * event to an item's `events` map (which ones do, it decides from the old and new images);
 * never the TTL's removals.
 */
export const OUTBOX_FILTER: Record<string, unknown> = {
  eventName: FilterRule.or('INSERT', 'MODIFY'),
};

export class EventsPipeline extends Construct {
  readonly bus: events.EventBus;
  readonly functions: Readonly<Record<EventFunction['id'], LambdaFunction>>;
  readonly publisherDlq: sqs.Queue;
  readonly notifierDlq: sqs.Queue;
  readonly transmissionQueue: sqs.Queue;
  readonly transmissionDlq: sqs.Queue;
  /** One per dead-letter queue: something was not delivered. Actions are added by the stack's Monitoring. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The same alarms by queue, for the monitoring and the runbook. */
  readonly deadLetterAlarms: Partial<Record<DeadLetterQueueId, cloudwatch.Alarm>> = {};

  constructor(scope: Construct, id: string, props: EventsPipelineProps) {
    super(scope, id);
    const externalEndpointUrl = props.externalEndpointUrl?.trim() || undefined;
    if (externalEndpointUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(externalEndpointUrl)) {
      throw new Error(`externalEndpointUrl must be an http(s) URL; got '${externalEndpointUrl}'`);
    }
    const orders = props.tables.Orders;
    if (!orders.tableStreamArn)
      throw new Error('The Orders table needs its stream (NEW_AND_OLD_IMAGES): it is the outbox');

    const spec = (fnId: EventFunction['id'], environment: Record<string, string>): EventFunctionSpec => {
      const entry = EVENT_FUNCTIONS.find((f) => f.id === fnId);
      if (!entry) throw new Error(`No event function ${fnId} in the catalog`);
      return { ...entry, environment, timeout: EVENT_FUNCTION_TIMEOUTS[fnId] };
    };
    // Every queue: encrypted with SQS-managed keys (EventBridge and Lambda can use them without a
    // key policy), reachable over TLS only. Dead letters are kept the maximum, 14 days.
    const queue = (queueId: string, extra: sqs.QueueProps = {}): sqs.Queue =>
      new sqs.Queue(this, queueId, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, ...extra });
    const deadLetterQueue = (queueId: DeadLetterQueueId): sqs.Queue => {
      const dlq = queue(queueId, { retentionPeriod: Duration.days(14) });
      const alarm = new cloudwatch.Alarm(this, `${queueId}Alarm`, {
        // Named after the stack (alarm names are unique per account and region), quoted in the runbook.
        alarmName: `${Stack.of(this).stackName}-${queueId}-NotEmpty`,
        alarmDescription: `${DEAD_LETTER_GUIDANCE[queueId]} Messages are kept 14 days.`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.alarms.push(alarm);
      this.deadLetterAlarms[queueId] = alarm;
      return dlq;
    };

    // ---- The bus -------------------------------------------------------------------------------
    this.bus = new events.EventBus(this, 'PurchaseEvents', {
      // Named after the stack, so two stacks (PurchaseSaga, PurchaseSaga-dev) can share an account.
      eventBusName: `${Stack.of(this).stackName}-PurchaseEvents`,
      description: 'Purchase saga domain events (the Orders outbox)',
    });

    // ---- Publisher: Orders stream -> bus ---------------------------------------------------------
    this.publisherDlq = deadLetterQueue('PublisherDlq');
    const publisher = props.lambdaFunction(spec('Publisher', { EVENT_BUS_NAME: this.bus.eventBusName }));
    // events:PutEvents on this bus only.
    this.bus.grantPutEventsTo(publisher);
    publisher.addEventSource(
      new DynamoEventSource(orders, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        // A batch that keeps failing is split until the bad record is alone; after the retries it
        // goes to the DLQ (its stream coordinates: replay it from the stream within 24 h) and the
        // shard moves on. Partial failures restart at the first record not published.
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.publisherDlq),
        // One batch at a time per shard: events reach the bus in stream order.
        parallelizationFactor: 1,
        filters: [FilterCriteria.filter(OUTBOX_FILTER)],
      }),
    );

    // ---- Notifier: rule -> Lambda (asynchronous invocation) ------------------------------------
    this.notifierDlq = deadLetterQueue('NotifierDlq');
    const notifier = props.lambdaFunction(
      spec('Notifier', {
        NOTIFICATION_SENDER: props.notificationTopic ? 'sns' : 'recording',
        ...(props.notificationTopic ? { NOTIFICATION_TOPIC_ARN: props.notificationTopic.topicArn } : {}),
      }),
    );
    props.notificationTopic?.grantPublish(notifier);
    // EventBridge invokes the function asynchronously: its RetryPolicy and DLQ cover events it
    // could not hand to Lambda; once Lambda accepted one, Lambda's own retries apply to function
    // errors and, after them, the same DLQ (on-failure destination) receives the invocation record.
    notifier.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(2),
      onFailure: new SqsDestination(this.notifierDlq),
    });
    new events.Rule(this, 'NotifierRule', {
      description: 'Events a user is notified of',
      eventBus: this.bus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [...NOTIFIED_EVENTS] },
      targets: [
        new targets.LambdaFunction(notifier, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.notifierDlq,
        }),
      ],
    });

    // ---- Transmitter: rule -> SQS -> Lambda ------------------------------------------------------
    this.transmissionDlq = deadLetterQueue('TransmissionDlq');
    const transmitter = props.lambdaFunction(
      spec('Transmitter', {
        EXTERNAL_TIMEOUT_MS: String(EXTERNAL_TIMEOUT_MS),
        ...(externalEndpointUrl ? { EXTERNAL_ENDPOINT_URL: externalEndpointUrl } : { TRANSMISSION_MODE: 'recording' }),
      }),
    );
    this.transmissionQueue = queue('TransmissionQueue', {
      // AWS's advice for a Lambda event source: at least 6 times the function timeout.
      visibilityTimeout: Duration.seconds(6 * EVENT_FUNCTION_TIMEOUTS.Transmitter),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.transmissionDlq, maxReceiveCount: 5 },
    });
    new events.Rule(this, 'TransmissionRule', {
      description: 'Events forwarded to the external data endpoint',
      eventBus: this.bus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [...TRANSMITTED_EVENTS] },
      targets: [new targets.SqsQueue(this.transmissionQueue)],
    });
    transmitter.addEventSource(
      new SqsEventSource(this.transmissionQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    this.functions = { Publisher: publisher, Notifier: notifier, Transmitter: transmitter };

    // ---- Outputs (stack-level ids, stable names) -----------------------------------------------
    const stack = Stack.of(this);
    new CfnOutput(stack, 'EventBusName', { value: this.bus.eventBusName });
    new CfnOutput(stack, 'PublisherDlqUrl', { value: this.publisherDlq.queueUrl });
    new CfnOutput(stack, 'NotifierDlqUrl', { value: this.notifierDlq.queueUrl });
    new CfnOutput(stack, 'TransmissionQueueUrl', { value: this.transmissionQueue.queueUrl });
    new CfnOutput(stack, 'TransmissionDlqUrl', { value: this.transmissionDlq.queueUrl });
  }
}
