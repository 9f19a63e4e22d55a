import type { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { SAGA_FUNCTIONS, type TableId } from './catalog.js';
import { ASL_PATH, lambdaFunction, paymentEnvironment, type PaymentProviderKind } from './function.js';
import { StackPart } from './part.js';

export type WorkflowType = 'EXPRESS' | 'STANDARD';

/** Functions that talk to the external payment provider get more time than the others. */
const SLOW_FUNCTIONS = new Set(['ChargePayment', 'RefundPayment']);

export interface WorkflowProps {
  tables: Readonly<Record<TableId, dynamodb.ITable>>;
  workflowType: WorkflowType;
  paymentProvider: PaymentProviderKind;
  paymentProviderUrl: string | undefined;
  removalPolicy: RemovalPolicy;
}

/**
 * The saga: one function per step, compensation and outcome (from the step table, through the
 * catalog), and the state machine of statemachine/purchase.asl.json with their ARNs substituted,
 * allowed to invoke exactly them. EXPRESS logs every execution in full (it keeps no history);
 * STANDARD logs errors.
 */
export class Workflow extends StackPart {
  /** The saga's functions, by state name. */
  readonly functions: ReadonlyMap<string, NodejsFunction>;
  readonly stateMachine: sfn.StateMachine;

  constructor(stack: Stack, props: WorkflowProps) {
    super(stack);
    const functions = new Map<string, NodejsFunction>();
    for (const spec of SAGA_FUNCTIONS) {
      const environment = spec.payments ? paymentEnvironment(props.paymentProvider, props.paymentProviderUrl) : {};
      const timeout = SLOW_FUNCTIONS.has(spec.id) ? 30 : 20;
      functions.set(
        spec.id,
        lambdaFunction(stack, { ...spec, environment, timeout }, props.tables, props.removalPolicy),
      );
    }
    this.functions = functions;

    const stateMachineLogs = new logs.LogGroup(stack, 'PurchaseStateMachineLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    const definitionSubstitutions: Record<string, string> = {};
    for (const [fnId, fn] of functions) definitionSubstitutions[`${fnId}FunctionArn`] = fn.functionArn;

    this.stateMachine = new sfn.StateMachine(stack, 'PurchaseStateMachine', {
      definitionBody: sfn.DefinitionBody.fromFile(ASL_PATH),
      definitionSubstitutions,
      stateMachineType: props.workflowType === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: {
        destination: stateMachineLogs,
        // Express executions have no execution history: their logs are the only trace.
        level: props.workflowType === 'EXPRESS' ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    for (const fn of functions.values()) fn.grantInvoke(this.stateMachine);
  }
}
