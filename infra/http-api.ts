import { ArnFormat, CfnOutput, Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { API_ROUTES, EDGE_FUNCTIONS, type TableId } from './catalog.js';
import { lambdaFunction } from './function.js';
import { GATEWAY_PROBLEMS } from './gateway-responses.js';
import { StackPart } from './part.js';
import type { WorkflowType } from './workflow.js';

export const DEFAULT_API_RATE_LIMIT = 50;
export const DEFAULT_API_BURST_LIMIT = 100;

export interface HttpApiProps {
  tables: Readonly<Record<TableId, dynamodb.ITable>>;
  stateMachine: sfn.StateMachine;
  workflowType: WorkflowType;
  /** `aws`: API Gateway verifies tokens with the TOKEN authorizer; `localstack`: the Api Lambda does. */
  profile: 'aws' | 'localstack';
  removalPolicy: RemovalPolicy;
  jwksUrl?: string | undefined;
  jwtIssuer?: string | undefined;
  jwtAudience?: string | undefined;
  jwtMaxLifetimeSeconds?: number | undefined;
  adminClaim?: string | undefined;
  adminValue?: string | undefined;
  apiRateLimit?: number | undefined;
  apiBurstLimit?: number | undefined;
  workflowWaitMs?: number | undefined;
  apiReservedConcurrency?: number | undefined;
  apiGatewayCloudWatchRole?: boolean | undefined;
}

/**
 * The HTTP edge: one regional REST API serving exactly API_ROUTES, every method behind the JWT
 * TOKEN authorizer (HS256 with a generated secret, or RS256 against a JWKS) and proxied to the
 * one Api function, which may start (EXPRESS: synchronously) the state machine. Access logs
 * without headers or bodies, stage throttling, and problem+json for API Gateway's own errors.
 */
export class HttpApi extends StackPart {
  readonly api: apigw.RestApi;
  readonly apiFunction: NodejsFunction;
  /** The TOKEN authorizer; none in the `localstack` profile (the Api Lambda verifies tokens). */
  readonly authorizerFunction: NodejsFunction | undefined;

  constructor(stack: Stack, props: HttpApiProps) {
    super(stack);
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
      : new secretsmanager.Secret(stack, 'JwtSecret', {
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
      props.profile === 'aws'
        ? lambdaFunction(
            stack,
            { ...spec('Authorizer'), environment: jwtEnv, timeout: 10 },
            props.tables,
            props.removalPolicy,
          )
        : undefined;

    const sm = props.stateMachine;
    const apiFn = lambdaFunction(
      stack,
      {
        ...spec('Api'),
        environment: {
          STATE_MACHINE_ARN: sm.stateMachineArn,
          WORKFLOW_TYPE: props.workflowType,
          WORKFLOW_WAIT_MS: String(props.workflowWaitMs ?? 8_000),
          ...(authorizerFn ? {} : { API_AUTH: 'token', ...jwtEnv }),
        },
        // API Gateway answers 504 after 29 s; the Lambda may finish the purchase after that.
        timeout: 30,
      },
      props.tables,
      props.removalPolicy,
    );
    const verifier = authorizerFn ?? apiFn;
    if (jwtSecret) {
      verifier.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [jwtSecret.secretArn] }),
      );
      new CfnOutput(stack, 'JwtSecretArn', { value: jwtSecret.secretArn });
    }
    if (props.workflowType === 'EXPRESS') {
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
            stack.formatArn({
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
    const accessLogs = new logs.LogGroup(stack, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    const apiGatewayCloudWatchRole = props.apiGatewayCloudWatchRole ?? true;
    const stageName = 'v1';
    const api = new apigw.RestApi(stack, 'PurchaseApi', {
      // Named after the stack: API Gateway's metrics are keyed by API name, and two stacks may share an account.
      restApiName: `${stack.stackName}-PurchaseApi`,
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
    const executionLogs = new logs.LogGroup(stack, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${stageName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    const authorizer = authorizerFn
      ? new apigw.TokenAuthorizer(stack, 'JwtAuthorizer', {
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
    this.api = api;
    this.apiFunction = apiFn;
    this.authorizerFunction = authorizerFn;
    const apiReservedConcurrency = props.apiReservedConcurrency;
    if (apiReservedConcurrency !== undefined) {
      if (!Number.isInteger(apiReservedConcurrency) || apiReservedConcurrency < 1) {
        throw new Error(`apiReservedConcurrency must be a positive integer; got ${String(apiReservedConcurrency)}`);
      }
      // Opt-in only: see the prop (a reservation fails the deployment on small accounts).
      (apiFn.node.defaultChild as CfnFunction).reservedConcurrentExecutions = apiReservedConcurrency;
    }
  }
}
