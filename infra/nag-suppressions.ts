import type { CfnResource, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions, type NagPackSuppression } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { EDGE_FUNCTIONS, RECONCILER_FUNCTION, type DynamoAction, type TableId } from './catalog.js';
import type { EventsPipeline } from './events.js';

/**
 * The cdk-nag AwsSolutions findings this stack accepts, each on the exact resources it concerns
 * and with the reason (test/infra/nag.test.ts applies the checks and expects nothing else). No
 * stack-wide suppression: a new resource or a new wildcard shows up as a finding.
 *
 * IAM5 suppressions on `Resource::*` cover a whole policy document, so test/infra/nag.test.ts also
 * checks that every `"Resource": "*"` statement in the template grants only the actions listed
 * in WILDCARD_ONLY_ACTIONS below.
 */

/** Actions that have no resource-level permissions (the service requires `"Resource": "*"`). */
export const WILDCARD_ONLY_ACTIONS = [
  // X-Ray (Lambda active tracing, Step Functions tracing): no resource types.
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  // DynamoDB Streams event source mapping (Publisher): ListStreams has no resource type.
  'dynamodb:ListStreams',
  // Step Functions logging to CloudWatch Logs (vended log delivery): these take no resource ARN.
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
] as const;

const REASONS = {
  lambdaRuntime:
    'The functions are pinned to nodejs22.x on purpose: the bundles are built for node22 (esbuild target) and tested on it, and nodejs22.x is a supported Lambda runtime (deprecation scheduled for 2027). Moving to nodejs24.x is a change of its own, with its tests; cdk-nag only compares with the newest runtime CDK knows.',
  basicExecutionRole:
    "AWSLambdaBasicExecutionRole is the AWS managed policy for writing the function's own logs (logs:CreateLogGroup, CreateLogStream, PutLogEvents). The function logs to its own log group (retention 1 month); every data-plane permission is an inline statement naming exact actions and resources (infra/catalog.ts).",
  wildcardOnlyActions:
    'Resource "*" only for actions without resource-level permissions: X-Ray trace upload (xray:PutTraceSegments, PutTelemetryRecords: active tracing) and, for the Publisher, dynamodb:ListStreams required by the DynamoDB Streams event source mapping. The template test checks that no other action is granted on "*".',
  stateMachineWildcards:
    'Resource "*" only for X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and CloudWatch Logs vended log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups), which Step Functions requires for execution logging and which support no resource-level permissions.',
  invokeQualifiedArns:
    'lambda:InvokeFunction on "<function ARN>:*" covers the versions and aliases of that one saga function (CDK grantInvoke grants the function and its qualifiers); it grants nothing on any other function.',
  indexQuery:
    'dynamodb:Query on "<table ARN>/index/*": the secondary indexes of this one table, for the QueryIndex the catalog grants on it (infra/catalog.ts). Orders has one index, the sparse KEYS_ONLY byStatus index the reconciler reads.',
  describeExecution:
    'STANDARD workflows: the Api polls its own purchase executions (states:DescribeExecution) to answer 201 or 202. Executions are named at start, so their ARNs are only known as "execution:<this state machine>:*": the wildcard covers the executions of this one state machine.',
  apiGatewayCloudWatchRole:
    "AmazonAPIGatewayPushToCloudWatchLogs is the AWS managed policy the API Gateway service role for CloudWatch Logs needs (the account-level setting that enables the stage's access and execution logs); it is assumable by apigateway.amazonaws.com only.",
  jwtAuthorizer:
    'Authorization is a TOKEN Lambda authorizer that verifies JWTs: RS256 against the JWKS of any OIDC issuer (a Cognito user pool included, with issuer and audience checks) or, in development, HS256. A Cognito user pool authorizer would tie the API to one Cognito pool and cannot apply the admin-claim rule; every method uses the authorizer.',
  requestValidation:
    'Every method is a Lambda proxy integration whose request is validated in the Api Lambda with zod schemas (lambdas/api/schemas.ts: body, path parameters, Idempotency-Key header), which answers application/problem+json errors (docs/openapi.yaml). API Gateway only serves the routes of API_ROUTES; unknown paths never reach the Lambda. A gateway validator would duplicate these rules with different error bodies.',
  waf: 'No WAF web ACL in this stack: the stage is throttled (rate and burst limits), every method needs a verified JWT (authorizer results cached 5 minutes) and purchases are idempotent. A web ACL is an account or organization decision (AWS Firewall Manager) with its own cost; associate one to the stage where the threat model needs it.',
  jwtSecret:
    "Created only when no jwksUrl is given: the HS256 signing key for development tokens (npm run token). Production deployments verify RS256 tokens against the identity provider's JWKS, whose keys the provider rotates, and have no secret. Rotating this one invalidates every development token; regenerate it by replacing the secret when needed.",
  idempotencyPitr:
    'The Powertools idempotency table holds only records that expire after 24 h (TTL) and that the saga can do without: a lost record is covered by the step records in the Orders table (point-in-time recovery enabled, like every business table). Backups of it would restore expired, meaningless state.',
  dlqWithoutDlq:
    "This queue is itself a dead-letter queue (the Publisher stream mapping's on-failure destination, or the Notifier rule target's and asynchronous invocations' dead-letter destination); cdk-nag only recognises DLQs named in a redrive policy. Its messages are kept 14 days and an alarm fires on the first one.",
  standardLogLevel:
    'STANDARD workflows keep their full execution history (every event with its input and output) in Step Functions for 90 days; their CloudWatch log is ERROR level so every event and its data is not stored twice. EXPRESS workflows, which have no history, log ALL.',
} as const;

const suppress = (
  construct: IConstruct | undefined,
  suppressions: NagPackSuppression[],
  applyToChildren = false,
): void => {
  if (!construct) throw new Error(`nag suppression target missing for ${suppressions.map((s) => s.id).join(', ')}`);
  NagSuppressions.addResourceSuppressions(construct, suppressions, applyToChildren);
};

/** `<LogicalId.Arn>`, as cdk-nag renders a reference in an IAM5 finding. */
const arnOf = (stack: Stack, construct: IConstruct): string =>
  `<${stack.getLogicalId(construct.node.defaultChild as CfnResource)}.Arn>`;

/** The parts of the stack the suppressions name (the stack calls this, so it is not imported here). */
export interface NagTargets extends Stack {
  readonly tables: Readonly<Record<TableId, dynamodb.Table>>;
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigw.RestApi;
  readonly apiFunction: IFunction;
  readonly authorizerFunction: IFunction | undefined;
  readonly reconcilerFunction: IFunction;
  readonly events: EventsPipeline;
}

export function applyNagSuppressions(stack: NagTargets): void {
  const functions: [string, IFunction][] = [
    ...stack.functions,
    ['Api', stack.apiFunction],
    ...(stack.authorizerFunction ? [['Authorizer', stack.authorizerFunction] as [string, IFunction]] : []),
    ['Reconciler', stack.reconcilerFunction],
    ...Object.entries(stack.events.functions),
  ];

  // ---- Every function: runtime, logging policy, X-Ray ------------------------------------------
  for (const [, fn] of functions) {
    suppress(fn.node.defaultChild, [{ id: 'AwsSolutions-L1', reason: REASONS.lambdaRuntime }]);
    const role = fn.role;
    if (!role) throw new Error(`${fn.node.path} has no role`);
    suppress(role, [
      {
        id: 'AwsSolutions-IAM4',
        reason: REASONS.basicExecutionRole,
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
    // The role's DefaultPolicy (its child) holds the statements.
    suppress(
      role,
      [{ id: 'AwsSolutions-IAM5', reason: REASONS.wildcardOnlyActions, appliesTo: ['Resource::*'] }],
      true,
    );
  }

  // ---- Query on secondary indexes ----------------------------------------------------------------
  const indexTables = (access: Partial<Record<TableId, readonly DynamoAction[]>>) =>
    (Object.entries(access) as [TableId, readonly DynamoAction[]][])
      .filter(([, actions]) => actions.includes('QueryIndex'))
      .map(([table]) => table);
  const indexGrants = (
    [
      [stack.apiFunction, indexTables(EDGE_FUNCTIONS.find((f) => f.id === 'Api')?.access ?? {})],
      [stack.reconcilerFunction, indexTables(RECONCILER_FUNCTION.access)],
    ] as [IFunction, TableId[]][]
  ).filter(([, tables]) => tables.length > 0);
  for (const [fn, tables] of indexGrants) {
    suppress(
      fn.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: REASONS.indexQuery,
          appliesTo: tables.map((t) => `Resource::${arnOf(stack, stack.tables[t])}/index/*`),
        },
      ],
      true,
    );
  }
  if (stack.stateMachine.stateMachineType === sfn.StateMachineType.STANDARD) {
    suppress(
      stack.apiFunction.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: REASONS.describeExecution,
          appliesTo: [
            `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${stack.getLogicalId(stack.stateMachine.node.defaultChild as CfnResource)}.Name>:*`,
          ],
        },
      ],
      true,
    );
  }

  // ---- The state machine -------------------------------------------------------------------------
  suppress(
    stack.stateMachine.role,
    [
      { id: 'AwsSolutions-IAM5', reason: REASONS.stateMachineWildcards, appliesTo: ['Resource::*'] },
      {
        id: 'AwsSolutions-IAM5',
        reason: REASONS.invokeQualifiedArns,
        appliesTo: [...stack.functions.values()].map((fn) => `Resource::${arnOf(stack, fn)}:*`),
      },
    ],
    true,
  );
  if (stack.stateMachine.stateMachineType === sfn.StateMachineType.STANDARD) {
    suppress(stack.stateMachine.node.defaultChild, [{ id: 'AwsSolutions-SF1', reason: REASONS.standardLogLevel }]);
  }

  // ---- The API -----------------------------------------------------------------------------------
  const api = stack.api;
  suppress(api.node.defaultChild, [{ id: 'AwsSolutions-APIG2', reason: REASONS.requestValidation }]);
  suppress(api.deploymentStage.node.defaultChild, [{ id: 'AwsSolutions-APIG3', reason: REASONS.waf }]);
  if (stack.authorizerFunction) {
    for (const method of api.methods)
      suppress(method.node.defaultChild, [{ id: 'AwsSolutions-COG4', reason: REASONS.jwtAuthorizer }]);
  }
  const cloudWatchRole = api.node.tryFindChild('CloudWatchRole');
  if (cloudWatchRole) {
    suppress(cloudWatchRole, [
      {
        id: 'AwsSolutions-IAM4',
        reason: REASONS.apiGatewayCloudWatchRole,
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
      },
    ]);
  }
  const jwtSecret = stack.node.tryFindChild('JwtSecret');
  if (jwtSecret) suppress(jwtSecret.node.defaultChild, [{ id: 'AwsSolutions-SMG4', reason: REASONS.jwtSecret }]);

  // ---- Data and queues ---------------------------------------------------------------------------
  suppress(stack.tables.Idempotency.node.defaultChild, [{ id: 'AwsSolutions-DDB3', reason: REASONS.idempotencyPitr }]);
  for (const dlq of [stack.events.publisherDlq, stack.events.notifierDlq]) {
    suppress(dlq.node.defaultChild, [{ id: 'AwsSolutions-SQS3', reason: REASONS.dlqWithoutDlq }]);
  }
}
