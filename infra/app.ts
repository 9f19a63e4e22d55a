/**
 * CDK app entry (`cdk.json`: `npx tsx infra/app.ts`). Options come from CDK context, e.g.
 *   npx cdk deploy -c workflowType=STANDARD -c paymentProvider=http -c paymentProviderUrl=https://pay.example
 *   npx cdk deploy -c retainData=false -c stackName=PurchaseSaga-dev
 *   npx cdk deploy -c jwksUrl=https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json -c jwtIssuer=... -c adminClaim=cognito:groups
 *   npx cdk deploy -c alarmEmail=oncall@example.com -c apiReservedConcurrency=100
 *   npx cdklocal deploy -c profile=localstack   (what `npm run test:localstack` deploys)
 */
import { App } from 'aws-cdk-lib';
import {
  PAYMENT_PROVIDERS,
  PurchaseSagaStack,
  STACK_PROFILES,
  WORKFLOW_TYPES,
  type PaymentProviderKind,
  type StackProfile,
  type WorkflowType,
} from './stack.js';
import { isEmailAddress } from './monitoring.js';

function optionalString(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`context '${key}' must be a string; got ${JSON.stringify(value)}`);
  return value;
}

function oneOf<T extends string>(app: App, key: string, allowed: readonly T[]): T | undefined {
  const value = optionalString(app, key);
  if (value === undefined) return undefined;
  const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!match) throw new Error(`context '${key}' must be one of ${allowed.join(', ')}; got '${value}'`);
  return match;
}

function optionalBoolean(app: App, key: string): boolean | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw new Error(`context '${key}' must be true or false; got ${JSON.stringify(value)}`);
}

function optionalInt(app: App, key: string, min: number, max: number): number | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`context '${key}' must be an integer in [${min}, ${max}]; got ${JSON.stringify(value)}`);
  return n;
}

function optionalEmail(app: App, key: string): string | undefined {
  const value = optionalString(app, key)?.trim();
  if (value === undefined || value === '') return undefined;
  if (!isEmailAddress(value)) throw new Error(`context '${key}' must be an e-mail address; got '${value}'`);
  return value;
}

const app = new App();
const workflowType = oneOf<WorkflowType>(app, 'workflowType', WORKFLOW_TYPES);
const paymentProvider = oneOf<PaymentProviderKind>(app, 'paymentProvider', PAYMENT_PROVIDERS);
const paymentProviderUrl = optionalString(app, 'paymentProviderUrl');
const retainData = optionalBoolean(app, 'retainData');
const stackName = optionalString(app, 'stackName') ?? 'PurchaseSaga';

new PurchaseSagaStack(app, 'PurchaseSaga', {
  stackName,
  profile: oneOf<StackProfile>(app, 'profile', STACK_PROFILES),
  description: 'Purchase saga: Step Functions orchestration of wallet, coupon, inventory, stock and payment steps',
  workflowType,
  paymentProvider,
  paymentProviderUrl,
  retainData,
  jwksUrl: optionalString(app, 'jwksUrl'),
  jwtIssuer: optionalString(app, 'jwtIssuer'),
  jwtAudience: optionalString(app, 'jwtAudience'),
  jwtMaxLifetimeSeconds: optionalInt(app, 'jwtMaxLifetimeSeconds', 60, 7 * 86_400),
  adminClaim: optionalString(app, 'adminClaim'),
  adminValue: optionalString(app, 'adminValue'),
  apiRateLimit: optionalInt(app, 'apiRateLimit', 1, 10_000),
  apiBurstLimit: optionalInt(app, 'apiBurstLimit', 1, 5_000),
  workflowWaitMs: optionalInt(app, 'workflowWaitMs', 0, 25_000),
  // Never below the state machine's own timeout (280 s): a live execution must not be reconciled.
  pendingTtlSeconds: optionalInt(app, 'pendingTtlSeconds', 300, 86_400),
  notificationTopicArn: optionalString(app, 'notificationTopicArn'),
  notificationTopicKeyArn: optionalString(app, 'notificationTopicKeyArn'),
  externalEndpointUrl: optionalString(app, 'externalEndpointUrl'),
  alarmEmail: optionalEmail(app, 'alarmEmail'),
  apiReservedConcurrency: optionalInt(app, 'apiReservedConcurrency', 1, 10_000),
  apiGatewayCloudWatchRole: optionalBoolean(app, 'apiGatewayCloudWatchRole'),
});

app.synth();
