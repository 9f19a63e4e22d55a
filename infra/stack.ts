import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { TableId } from './catalog.js';
import { Data } from './data.js';
import { EventsPipeline } from './events.js';
import { ASL_PATH, lambdaFunction, type PaymentProviderKind } from './function.js';
import { HttpApi } from './http-api.js';
import { Monitoring } from './monitoring.js';
import { applyNagSuppressions } from './nag-suppressions.js';
import { Reconciler } from './reconciler.js';
import { Workflow, type WorkflowType } from './workflow.js';

export { ASL_PATH, REPO_ROOT, UNBUNDLED_MODULES, type PaymentProviderKind } from './function.js';
export { DEFAULT_API_BURST_LIMIT, DEFAULT_API_RATE_LIMIT } from './http-api.js';
export type { WorkflowType } from './workflow.js';

export type StackProfile = 'aws' | 'localstack';

export const WORKFLOW_TYPES: readonly WorkflowType[] = ['EXPRESS', 'STANDARD'];
export const PAYMENT_PROVIDERS: readonly PaymentProviderKind[] = ['simulated', 'http'];
export const STACK_PROFILES: readonly StackProfile[] = ['aws', 'localstack'];

export interface PurchaseSagaStackProps extends StackProps {
  /**
   * `aws` (default): the stack as deployed to AWS. `localstack`: the same tables, functions,
   * handlers and state machine, using only resource types LocalStack community 4.14.0 implements
   * (infra/localstack-resource-types.json): API Gateway runs no authorizer — the Api Lambda
   * verifies the same JWTs with the same code (API_AUTH=token) — and there is no dashboard.
   */
  profile?: StackProfile;
  /** EXPRESS (default): the API waits for the result synchronously. STANDARD: asynchronous, 202 + Location. */
  workflowType?: WorkflowType;
  /** Payment provider adapter for ChargePayment/RefundPayment. Default `simulated`. */
  paymentProvider?: PaymentProviderKind;
  /** Base URL of the provider; required when `paymentProvider` is `http`. */
  paymentProviderUrl?: string;
  /**
   * Keep the business tables (and logs) when the stack is deleted. Default true; set false for
   * throw-away test stacks.
   */
  retainData?: boolean;
  /**
   * JWT verification of the API. With `jwksUrl` (a Cognito user pool or any OIDC issuer):
   * RS256 against that JWKS. Without: HS256 with a secret generated in Secrets Manager — for
   * development (mint tokens with `npm run token -- --secret-file <file holding the JwtSecretArn secret>`).
   */
  jwksUrl?: string;
  /** Required with `jwksUrl`: a key set (a Cognito user pool's, say) signs tokens for other clients too. */
  jwtIssuer?: string;
  jwtAudience?: string;
  /** Tokens living longer than this (`exp - iat`, seconds) are refused. Default 86,400 (24 h). */
  jwtMaxLifetimeSeconds?: number;
  /** Claim and value that make a caller an admin. Default `role` = `admin`. */
  adminClaim?: string;
  adminValue?: string;
  /** Stage-wide throttling (requests per second, burst). Default 50 / 100. */
  apiRateLimit?: number;
  apiBurstLimit?: number;
  /** STANDARD workflows: how long POST /orders waits for the end before answering 202. Default 8000 ms. */
  workflowWaitMs?: number;
  /** A PENDING order older than this is reconciled (the seeds' reservation TTL). Default 300 s. */
  pendingTtlSeconds?: number;
  /** Send notifications to this SNS topic; without it they are recorded in the Notifications table. */
  notificationTopicArn?: string;
  /**
   * The customer-managed KMS key that encrypts that topic, if any: the Notifier then may use it
   * (kms:GenerateDataKey*, kms:Decrypt), without which SNS refuses its Publish calls.
   */
  notificationTopicKeyArn?: string;
  /** POST completed orders to this https endpoint; without it transmissions are recorded. */
  externalEndpointUrl?: string;
  /** Subscribe this e-mail address to the alarm topic (it must confirm the subscription). */
  alarmEmail?: string;
  /**
   * Reserved concurrency of the Api function, so a runaway client (within the stage throttling)
   * cannot take the whole account's concurrency from the saga steps. Opt-in, default none: Lambda
   * refuses any reservation that leaves less than 100 unreserved executions, so on accounts with a
   * small concurrency limit (new accounts often have 10) a reservation fails the deployment.
   */
  apiReservedConcurrency?: number;
  /**
   * API Gateway writes access and execution logs only when the region's API Gateway account
   * settings name a CloudWatch Logs role. Default true: this stack creates that role and sets it
   * (retained when the stack is deleted). Set false where the account settings are managed
   * elsewhere (the role must already be set, or the stage fails to deploy).
   */
  apiGatewayCloudWatchRole?: boolean;
}

export class PurchaseSagaStack extends Stack {
  readonly tables: Readonly<Record<TableId, dynamodb.Table>>;
  readonly functions: ReadonlyMap<string, NodejsFunction>;
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigw.RestApi;
  readonly apiFunction: NodejsFunction;
  /** The TOKEN authorizer; none in the `localstack` profile (the Api Lambda verifies tokens). */
  readonly authorizerFunction: NodejsFunction | undefined;
  readonly reconcilerFunction: NodejsFunction;
  readonly events: EventsPipeline;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PurchaseSagaStackProps = {}) {
    super(scope, id, props);

    const profile = props.profile ?? 'aws';
    if (!STACK_PROFILES.includes(profile)) {
      throw new Error(`profile must be one of ${STACK_PROFILES.join(', ')}; got '${profile}'`);
    }
    const workflowType = props.workflowType ?? 'EXPRESS';
    const paymentProvider = props.paymentProvider ?? 'simulated';
    const retainData = props.retainData ?? true;
    if (!WORKFLOW_TYPES.includes(workflowType)) {
      throw new Error(`workflowType must be one of ${WORKFLOW_TYPES.join(', ')}; got '${workflowType}'`);
    }
    if (!PAYMENT_PROVIDERS.includes(paymentProvider)) {
      throw new Error(`paymentProvider must be one of ${PAYMENT_PROVIDERS.join(', ')}; got '${paymentProvider}'`);
    }
    const paymentProviderUrl = props.paymentProviderUrl?.trim() || undefined;
    if (paymentProvider === 'http') {
      if (!paymentProviderUrl) {
        throw new Error(
          "paymentProvider 'http' needs paymentProviderUrl (cdk context: -c paymentProviderUrl=https://...)",
        );
      }
      if (!/^https?:\/\/[^\s]+$/.test(paymentProviderUrl)) {
        throw new Error(`paymentProviderUrl must be an http(s) URL; got '${paymentProviderUrl}'`);
      }
    }
    const dataRemovalPolicy = retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // ---- The parts: data, the saga's workflow, the HTTP edge, the reconciler -------------------
    const { tables } = new Data(this, { removalPolicy: dataRemovalPolicy });
    this.tables = tables;
    const workflow = new Workflow(this, {
      tables,
      workflowType,
      paymentProvider,
      paymentProviderUrl,
      removalPolicy: dataRemovalPolicy,
    });
    this.functions = workflow.functions;
    this.stateMachine = workflow.stateMachine;
    const edge = new HttpApi(this, {
      jwksUrl: props.jwksUrl,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
      jwtMaxLifetimeSeconds: props.jwtMaxLifetimeSeconds,
      adminClaim: props.adminClaim,
      adminValue: props.adminValue,
      apiRateLimit: props.apiRateLimit,
      apiBurstLimit: props.apiBurstLimit,
      workflowWaitMs: props.workflowWaitMs,
      apiReservedConcurrency: props.apiReservedConcurrency,
      apiGatewayCloudWatchRole: props.apiGatewayCloudWatchRole,
      tables,
      stateMachine: this.stateMachine,
      workflowType,
      profile,
      removalPolicy: dataRemovalPolicy,
    });
    this.api = edge.api;
    this.apiFunction = edge.apiFunction;
    this.authorizerFunction = edge.authorizerFunction;
    this.reconcilerFunction = new Reconciler(this, {
      tables,
      paymentProvider,
      paymentProviderUrl,
      pendingTtlSeconds: props.pendingTtlSeconds ?? 300,
      removalPolicy: dataRemovalPolicy,
    }).function;

    const externalEndpointUrl = props.externalEndpointUrl?.trim() || undefined;
    if (externalEndpointUrl && !/^https:\/\/[^\s]+$/.test(externalEndpointUrl)) {
      throw new Error(`externalEndpointUrl must be an https URL; got '${externalEndpointUrl}'`);
    }
    if (props.notificationTopicKeyArn && !props.notificationTopicArn) {
      throw new Error('notificationTopicKeyArn names the key of notificationTopicArn, which is not set');
    }
    this.events = new EventsPipeline(this, 'Events', {
      tables,
      lambdaFunction: (spec) => lambdaFunction(this, spec, tables, dataRemovalPolicy),
      ...(props.notificationTopicArn
        ? {
            notificationTopic: sns.Topic.fromTopicAttributes(this, 'NotificationTopic', {
              topicArn: props.notificationTopicArn,
              ...(props.notificationTopicKeyArn ? { keyArn: props.notificationTopicKeyArn } : {}),
            }),
          }
        : {}),
      ...(externalEndpointUrl ? { externalEndpointUrl } : {}),
    });

    // ---- Alarms to an SNS topic, the PurchaseFlow dashboard (infra/monitoring.ts) ---------------
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stateMachine: this.stateMachine,
      functions: {
        ...Object.fromEntries(this.functions),
        Api: this.apiFunction,
        ...(this.authorizerFunction ? { Authorizer: this.authorizerFunction } : {}),
        Reconciler: this.reconcilerFunction,
        ...this.events.functions,
      },
      api: this.api,
      deadLetterQueues: {
        PublisherDlq: this.events.publisherDlq,
        NotifierDlq: this.events.notifierDlq,
        TransmissionDlq: this.events.transmissionDlq,
      },
      deadLetterAlarms: this.events.deadLetterAlarms,
      ordersTable: tables.Orders,
      alarmEmail: props.alarmEmail,
      aslPath: ASL_PATH,
      dashboard: profile === 'aws',
    });
    // cdk-nag: the findings accepted by design, each with its reason (infra/nag-suppressions.ts).
    applyNagSuppressions(this);

    // ---- Outputs -----------------------------------------------------------------------------
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'WorkflowType', { value: workflowType });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    // With the stage, what a path-style URL needs (LocalStack: /_aws/execute-api/<ApiId>/<ApiStage>/).
    new CfnOutput(this, 'ApiId', { value: this.api.restApiId });
    new CfnOutput(this, 'ApiStage', { value: this.api.deploymentStage.stageName });
    for (const [tableId, table] of Object.entries(tables)) {
      new CfnOutput(this, `${tableId}TableName`, { value: table.tableName });
    }
  }
}
