import { Duration, type RemovalPolicy, type Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RECONCILER_FUNCTION, type TableId } from './catalog.js';
import { lambdaFunction, paymentEnvironment, type PaymentProviderKind } from './function.js';
import { StackPart } from './part.js';

export interface ReconcilerProps {
  tables: Readonly<Record<TableId, dynamodb.ITable>>;
  paymentProvider: PaymentProviderKind;
  paymentProviderUrl: string | undefined;
  /** A PENDING order older than this is reconciled. */
  pendingTtlSeconds: number;
  removalPolicy: RemovalPolicy;
}

/**
 * The reconciler: every minute, the orders its index says need it (PENDING past the TTL,
 * COMPENSATION_FAILED due a retry, a charge due a second look) are driven to a terminal state.
 * It runs compensations itself, so it gets the payment settings too.
 */
export class Reconciler extends StackPart {
  readonly function: NodejsFunction;

  constructor(stack: Stack, props: ReconcilerProps) {
    super(stack);
    this.function = lambdaFunction(
      stack,
      {
        ...RECONCILER_FUNCTION,
        environment: {
          ...paymentEnvironment(props.paymentProvider, props.paymentProviderUrl),
          PENDING_TTL_SECONDS: String(props.pendingTtlSeconds),
        },
        timeout: 120,
      },
      props.tables,
      props.removalPolicy,
    );
    // No reserved concurrency: overlapping runs are safe (every operation is fenced and
    // conditional), and a reservation fails to deploy on accounts with the default limit of 10.
    new events.Rule(stack, 'ReconcilerSchedule', {
      description: 'Drive stuck purchase orders to a terminal state',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new eventsTargets.LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
