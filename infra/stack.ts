import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import {
  API_ROUTES,
  EDGE_FUNCTIONS,
  RECONCILER_FUNCTION,
  SAGA_FUNCTIONS,
  SOURCE_METADATA,
  STREAM_TABLES,
  TABLE_ENV,
  type DynamoAction,
  type TableId,
} from './catalog.js';
import { GATEWAY_PROBLEMS } from './gateway-responses.js';
import { EventsPipeline } from './events.js';
import { Monitoring } from './monitoring.js';
import { applyNagSuppressions } from './nag-suppressions.js';
import { STATUS_INDEX } from '../lambdas/shared/dynamodb/keys.js';

/** Repository root (this file lives in <root>/infra). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The one workflow definition, shared with the local stand-in. */
export const ASL_PATH = join(REPO_ROOT, 'statemachine', 'purchase.asl.json');

export type WorkflowType = 'EXPRESS' | 'STANDARD';
export type PaymentProviderKind = 'simulated' | 'http';

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

export const DEFAULT_API_RATE_LIMIT = 50;
export const DEFAULT_API_BURST_LIMIT = 100;

/** Tables holding business state (money, orders, stock, items, coupons): retained unless told otherwise. */
const BUSINESS_TABLES: TableId[] = [
  'Accounts',
  'Catalog',
  'Inventory',
  'Coupons',
  'Orders',
  'Payments',
  'Notifications',
];

/** Functions that talk to the external payment provider get more time than the others. */
const SLOW_FUNCTIONS = new Set(['ChargePayment', 'RefundPayment']);

/** ESM bundles need `require` for the CommonJS dependencies esbuild inlines. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __sagaCreateRequire } from 'node:module'; const require = __sagaCreateRequire(import.meta.url);";

/**
 * What a function's bundle leaves out: the default credential chain's fallbacks (SSO, shared
 * ini files, credential processes, web identity, container and instance metadata, with the STS
 * and SSO clients they bring: about 90 KB). The chain imports them lazily, only when the
 * environment holds no credentials, and Lambda always puts the role's there: they are never
 * loaded. (Setting AWS_PROFILE on a function would send the chain to them, and fail.)
 */
export const UNBUNDLED_MODULES = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
] as const;

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

    // ---- Data: one table per bounded context + the Powertools idempotency table ----------------
    const businessTable = (table: TableId): dynamodb.Table =>
      new dynamodb.Table(this, `${table}Table`, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // The orders table's stream is the transactional outbox.
        stream: STREAM_TABLES.includes(table) ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
        removalPolicy: dataRemovalPolicy,
      });
    const business = Object.fromEntries(BUSINESS_TABLES.map((t) => [t, businessTable(t)])) as Record<
      Exclude<TableId, 'Idempotency'>,
      dynamodb.Table
    >;
    // Sparse: only orders the reconciler must watch (PENDING, COMPENSATION_FAILED) carry its keys.
    business.Orders.addGlobalSecondaryIndex({
      indexName: STATUS_INDEX,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Powertools idempotency layout: partition key `id`, TTL on `expiration`. Records live 24 h;
    // nothing here is worth keeping after the stack is gone.
    const idempotency = new dynamodb.Table(this, 'IdempotencyTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: 'expiration',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const tables: Record<TableId, dynamodb.Table> = { ...business, Idempotency: idempotency };
    this.tables = tables;

    // ---- Saga step Lambdas, built from the catalog ------------------------------------------
    const functions = new Map<string, NodejsFunction>();
    for (const spec of SAGA_FUNCTIONS) {
      const environment = spec.payments ? this.paymentEnvironment(paymentProvider, paymentProviderUrl) : {};
      const timeout = SLOW_FUNCTIONS.has(spec.id) ? 30 : 20;
      functions.set(spec.id, this.lambdaFunction({ ...spec, environment, timeout }, tables, dataRemovalPolicy));
    }
    this.functions = functions;

    // ---- The workflow: statemachine/purchase.asl.json, Lambda ARNs substituted ---------------
    const stateMachineLogs = new logs.LogGroup(this, 'PurchaseStateMachineLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: dataRemovalPolicy,
    });
    const definitionSubstitutions: Record<string, string> = {};
    for (const [fnId, fn] of functions) definitionSubstitutions[`${fnId}FunctionArn`] = fn.functionArn;

    this.stateMachine = new sfn.StateMachine(this, 'PurchaseStateMachine', {
      definitionBody: sfn.DefinitionBody.fromFile(ASL_PATH),
      definitionSubstitutions,
      stateMachineType: workflowType === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: {
        destination: stateMachineLogs,
        // Express executions have no execution history: their logs are the only trace.
        level: workflowType === 'EXPRESS' ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    for (const fn of functions.values()) fn.grantInvoke(this.stateMachine);

    // ---- The HTTP edge: REST API, JWT authorizer, one API Lambda ----------------------------
    const edge = this.httpApi(props, { tables, functions, workflowType, dataRemovalPolicy, profile });
    this.api = edge.api;
    this.apiFunction = edge.apiFunction;
    this.authorizerFunction = edge.authorizerFunction;
    const apiReservedConcurrency = props.apiReservedConcurrency;
    if (apiReservedConcurrency !== undefined) {
      if (!Number.isInteger(apiReservedConcurrency) || apiReservedConcurrency < 1) {
        throw new Error(`apiReservedConcurrency must be a positive integer; got ${String(apiReservedConcurrency)}`);
      }
      // Opt-in only: see the prop (a reservation fails the deployment on small accounts).
      (this.apiFunction.node.defaultChild as CfnFunction).reservedConcurrentExecutions = apiReservedConcurrency;
    }

    // ---- The reconciler: every minute, stuck orders are driven to a terminal state -----------
    const reconciler = this.lambdaFunction(
      {
        ...RECONCILER_FUNCTION,
        access: RECONCILER_FUNCTION.access,
        environment: {
          ...this.paymentEnvironment(paymentProvider, paymentProviderUrl),
          PENDING_TTL_SECONDS: String(props.pendingTtlSeconds ?? 300),
        },
        timeout: 120,
      },
      tables,
      dataRemovalPolicy,
    );
    // No reserved concurrency: overlapping runs are safe (every operation is fenced and
    // conditional), and a reservation fails to deploy on accounts with the default limit of 10.
    this.reconcilerFunction = reconciler;
    new events.Rule(this, 'ReconcilerSchedule', {
      description: 'Drive stuck purchase orders to a terminal state',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new eventsTargets.LambdaFunction(reconciler, { retryAttempts: 2 })],
    });

    const externalEndpointUrl = props.externalEndpointUrl?.trim() || undefined;
    if (externalEndpointUrl && !/^https:\/\/[^\s]+$/.test(externalEndpointUrl)) {
      throw new Error(`externalEndpointUrl must be an https URL; got '${externalEndpointUrl}'`);
    }
    if (props.notificationTopicKeyArn && !props.notificationTopicArn) {
      throw new Error('notificationTopicKeyArn names the key of notificationTopicArn, which is not set');
    }
    this.events = new EventsPipeline(this, 'Events', {
      tables,
      lambdaFunction: (spec) => this.lambdaFunction(spec, tables, dataRemovalPolicy),
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
        ...Object.fromEntries(functions),
        Api: this.apiFunction,
        ...(this.authorizerFunction ? { Authorizer: this.authorizerFunction } : {}),
        Reconciler: reconciler,
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

  private paymentEnvironment(provider: PaymentProviderKind, url: string | undefined): Record<string, string> {
    return {
      PAYMENT_PROVIDER: provider,
      PAYMENT_CURRENCY: 'KRW',
      PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
      ...(provider === 'http' && url ? { PAYMENT_PROVIDER_URL: url } : {}),
    };
  }

  private lambdaFunction(
    spec: {
      id: string;
      dir: string;
      access: Partial<Record<TableId, readonly DynamoAction[]>>;
      environment: Record<string, string>;
      timeout: number;
    },
    tables: Record<TableId, dynamodb.Table>,
    dataRemovalPolicy: RemovalPolicy,
  ): NodejsFunction {
    const access = Object.entries(spec.access) as [TableId, readonly DynamoAction[]][];

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'purchase-saga',
      NODE_OPTIONS: '--enable-source-maps',
      ...spec.environment,
    };
    for (const [tableId] of access) environment[TABLE_ENV[tableId]] = tables[tableId].tableName;

    const logGroup = new logs.LogGroup(this, `${spec.id}FunctionLogs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: dataRemovalPolicy,
    });

    const fn = new NodejsFunction(this, `${spec.id}Function`, {
      entry: join(REPO_ROOT, 'lambdas', spec.dir, 'handler.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(spec.timeout),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment,
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        target: 'node22',
        // Bundle the AWS SDK as well, so the pinned version runs rather than the runtime's; only
        // the credential chain's fallbacks stay out (see UNBUNDLED_MODULES).
        externalModules: [...UNBUNDLED_MODULES],
      },
    });

    // Least privilege: exactly the catalog's actions on exactly the catalog's tables.
    for (const [tableId, actions] of access) {
      const tableArn = tables[tableId].tableArn;
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          effect: iam.Effect.ALLOW,
          actions: [...new Set(actions)].map((a) => `dynamodb:${a}`),
          resources: [tableArn],
        }),
      );
      // A Query on a secondary index is authorised against the index ARN.
      if (actions.includes('Query')) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            effect: iam.Effect.ALLOW,
            actions: ['dynamodb:Query'],
            resources: [`${tableArn}/index/*`],
          }),
        );
      }
    }

    (fn.node.defaultChild as CfnFunction).addMetadata(SOURCE_METADATA, `lambdas/${spec.dir}`);
    return fn;
  }

  private httpApi(
    props: PurchaseSagaStackProps,
    ctx: {
      tables: Record<TableId, dynamodb.Table>;
      functions: Map<string, NodejsFunction>;
      workflowType: WorkflowType;
      dataRemovalPolicy: RemovalPolicy;
      profile: StackProfile;
    },
  ): { api: apigw.RestApi; apiFunction: NodejsFunction; authorizerFunction: NodejsFunction | undefined } {
    const spec = (id: string) => {
      const found = EDGE_FUNCTIONS.find((f) => f.id === id);
      if (!found) throw new Error(`No edge function ${id} in the catalog`);
      return found;
    };

    // JWT: RS256 against a JWKS when one is given, otherwise HS256 with a generated secret.
    const jwksUrl = props.jwksUrl?.trim() || undefined;
    if (jwksUrl && !/^https:\/\/[^\s]+$/.test(jwksUrl))
      throw new Error(`jwksUrl must be an https URL; got '${jwksUrl}'`);
    // Every token the key set signs verifies: only the issuer and the audience make it ours.
    if (jwksUrl && (!props.jwtIssuer?.trim() || !props.jwtAudience?.trim())) {
      throw new Error(
        'jwksUrl needs jwtIssuer and jwtAudience (for a Cognito user pool: the pool URL and the app client id), or any token its keys sign is accepted',
      );
    }
    const jwtSecret = jwksUrl
      ? undefined
      : new secretsmanager.Secret(this, 'JwtSecret', {
          description: 'HS256 key of the purchase API (development). Mint tokens with npm run token.',
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
        });
    // Who verifies tokens: the TOKEN authorizer (aws), or the Api Lambda itself (localstack).
    const jwtEnv: Record<string, string> = {
      JWT_ALGORITHM: jwksUrl ? 'RS256' : 'HS256',
      ADMIN_CLAIM: props.adminClaim ?? 'role',
      ADMIN_VALUE: props.adminValue ?? 'admin',
      ...(jwksUrl ? { JWKS_URL: jwksUrl } : {}),
      ...(jwtSecret ? { JWT_SECRET_ARN: jwtSecret.secretArn } : {}),
      ...(props.jwtIssuer ? { JWT_ISSUER: props.jwtIssuer } : {}),
      ...(props.jwtAudience ? { JWT_AUDIENCE: props.jwtAudience } : {}),
      ...(props.jwtMaxLifetimeSeconds !== undefined
        ? { JWT_MAX_LIFETIME_SECONDS: String(props.jwtMaxLifetimeSeconds) }
        : {}),
    };
    const authorizerFn =
      ctx.profile === 'aws'
        ? this.lambdaFunction(
            { ...spec('Authorizer'), environment: jwtEnv, timeout: 10 },
            ctx.tables,
            ctx.dataRemovalPolicy,
          )
        : undefined;

    const sm = this.stateMachine;
    const apiFn = this.lambdaFunction(
      {
        ...spec('Api'),
        environment: {
          STATE_MACHINE_ARN: sm.stateMachineArn,
          WORKFLOW_TYPE: ctx.workflowType,
          WORKFLOW_WAIT_MS: String(props.workflowWaitMs ?? 8_000),
          ...(authorizerFn ? {} : { API_AUTH: 'token', ...jwtEnv }),
        },
        // API Gateway answers 504 after 29 s; the Lambda may finish the purchase after that.
        timeout: 30,
      },
      ctx.tables,
      ctx.dataRemovalPolicy,
    );
    const verifier = authorizerFn ?? apiFn;
    if (jwtSecret) {
      verifier.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [jwtSecret.secretArn] }),
      );
      new CfnOutput(this, 'JwtSecretArn', { value: jwtSecret.secretArn });
    }
    if (ctx.workflowType === 'EXPRESS') {
      apiFn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['states:StartSyncExecution'], resources: [sm.stateMachineArn] }),
      );
    } else {
      apiFn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [sm.stateMachineArn] }),
      );
      apiFn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [
            Stack.of(this).formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${sm.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      );
    }

    // Access logs: one JSON line per request, no headers or bodies (no tokens in logs).
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: ctx.dataRemovalPolicy,
    });
    const apiGatewayCloudWatchRole = props.apiGatewayCloudWatchRole ?? true;
    const stageName = 'v1';
    const api = new apigw.RestApi(this, 'PurchaseApi', {
      // Named after the stack: API Gateway's metrics are keyed by API name, and two stacks may share an account.
      restApiName: `${Stack.of(this).stackName}-PurchaseApi`,
      description: 'Purchase saga HTTP API',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // The region's API Gateway account role for CloudWatch Logs (see the prop); kept on delete, other APIs may rely on it.
      cloudWatchRole: apiGatewayCloudWatchRole,
      ...(apiGatewayCloudWatchRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        throttlingRateLimit: props.apiRateLimit ?? DEFAULT_API_RATE_LIMIT,
        throttlingBurstLimit: props.apiBurstLimit ?? DEFAULT_API_BURST_LIMIT,
        // Execution logs for errors only, never request or response data.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            extendedRequestId: apigw.AccessLogField.contextExtendedRequestId(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
            httpMethod: apigw.AccessLogField.contextHttpMethod(),
            resourcePath: apigw.AccessLogField.contextResourcePath(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            responseLatency: apigw.AccessLogField.contextResponseLatency(),
            principalId: apigw.AccessLogField.contextAuthorizerPrincipalId(),
            authorizerError: apigw.AccessLogField.contextAuthorizerError(),
            integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
            integrationError: apigw.AccessLogField.contextIntegrationErrorMessage(),
            errorMessage: apigw.AccessLogField.contextErrorMessageString(),
            errorType: apigw.AccessLogField.contextErrorResponseType(),
            xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
          }),
        ),
      },
    });
    // API Gateway would create the execution log group itself, kept forever: create it first, with retention.
    const executionLogs = new logs.LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${stageName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: ctx.dataRemovalPolicy,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    const authorizer = authorizerFn
      ? new apigw.TokenAuthorizer(this, 'JwtAuthorizer', {
          handler: authorizerFn,
          identitySource: apigw.IdentitySource.header('Authorization'),
          // A verified token is trusted for 5 minutes; the policy covers every route (see the authorizer).
          resultsCacheTtl: Duration.minutes(5),
        })
      : undefined;
    const integration = new apigw.LambdaIntegration(apiFn, { proxy: true, allowTestInvoke: false });
    for (const route of API_ROUTES) {
      api.root
        .resourceForPath(route.path)
        .addMethod(
          route.method,
          integration,
          authorizer
            ? { authorizer, authorizationType: apigw.AuthorizationType.CUSTOM }
            : { authorizationType: apigw.AuthorizationType.NONE },
        );
    }
    // Errors API Gateway answers itself are problem+json too.
    for (const g of GATEWAY_PROBLEMS) {
      api.addGatewayResponse(`${g.response}Response`, {
        type: apigw.ResponseType.of(g.response),
        statusCode: String(g.status),
        responseHeaders: { 'Content-Type': "'application/problem+json'" },
        templates: { 'application/json': JSON.stringify({ type: g.type, title: g.title, status: g.status }) },
      });
    }
    return { api, apiFunction: apiFn, authorizerFunction: authorizerFn };
  }
}
