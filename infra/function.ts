import type { BuildOptions } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { SOURCE_METADATA, TABLE_ENV, type DynamoAction, type TableId } from './catalog.js';

/** Repository root (this file lives in <root>/infra). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The one workflow definition, shared with the local stand-in. */
export const ASL_PATH = join(REPO_ROOT, 'statemachine', 'purchase.asl.json');

export type PaymentProviderKind = 'simulated' | 'http';

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

/**
 * Modules a bundle takes from this repository instead of node_modules. `semver` (28 KB of every
 * bundle) is loaded by aws-xray-sdk-core for one `semver.gte` call: infra/bundling/semver.ts
 * implements that. test/infra/bundles.test.ts loads every bundle as Lambda does.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  semver: join(REPO_ROOT, 'infra', 'bundling', 'semver.ts'),
};

/**
 * How every function is bundled, as esbuild's options (the stack's bundling below says the same
 * in CDK's words). The AWS SDK is bundled too, so the pinned version runs rather than the
 * runtime's; only the credential chain's fallbacks stay out.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  target: 'node22',
  external: [...UNBUNDLED_MODULES],
  alias: { ...BUNDLE_ALIASES },
} satisfies BuildOptions;

export interface FunctionSpec {
  id: string;
  /** Folder under lambdas/ holding handler.ts. */
  dir: string;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
  environment: Record<string, string>;
  timeout: number;
}

/** What the payment functions (and the reconciler, which runs their compensation) are told. */
export function paymentEnvironment(provider: PaymentProviderKind, url: string | undefined): Record<string, string> {
  return {
    PAYMENT_PROVIDER: provider,
    PAYMENT_CURRENCY: 'KRW',
    PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
    ...(provider === 'http' && url ? { PAYMENT_PROVIDER_URL: url } : {}),
  };
}

/**
 * Every function of the stack: `lambdas/<dir>/handler.ts` bundled as ESM for nodejs22.x on
 * arm64, traced, with its own log group, the table variables of exactly the tables its catalog
 * entry names, and exactly those actions on them.
 */
export function lambdaFunction(
  scope: Construct,
  spec: FunctionSpec,
  tables: Readonly<Record<TableId, dynamodb.ITable>>,
  dataRemovalPolicy: RemovalPolicy,
): NodejsFunction {
  const access = Object.entries(spec.access) as [TableId, readonly DynamoAction[]][];

  const environment: Record<string, string> = {
    POWERTOOLS_SERVICE_NAME: 'purchase-saga',
    NODE_OPTIONS: '--enable-source-maps',
    ...spec.environment,
  };
  for (const [tableId] of access) environment[TABLE_ENV[tableId]] = tables[tableId].tableName;

  const logGroup = new logs.LogGroup(scope, `${spec.id}FunctionLogs`, {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: dataRemovalPolicy,
  });

  const fn = new NodejsFunction(scope, `${spec.id}Function`, {
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
      // BUNDLE_OPTIONS, in CDK's words, plus source maps for stack traces.
      format: OutputFormat.ESM,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      banner: BUNDLE_OPTIONS.banner.js,
      minify: BUNDLE_OPTIONS.minify,
      sourceMap: true,
      target: BUNDLE_OPTIONS.target,
      externalModules: [...BUNDLE_OPTIONS.external],
      esbuildArgs: Object.fromEntries(
        Object.entries(BUNDLE_OPTIONS.alias).map(([name, path]) => [`--alias:${name}`, path]),
      ),
    },
  });

  // Least privilege: exactly the catalog's actions on exactly the catalog's tables.
  for (const [tableId, actions] of access) {
    const tableArn = tables[tableId].tableArn;
    const onTable = [...new Set(actions)].filter((a) => a !== 'QueryIndex');
    if (onTable.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          effect: iam.Effect.ALLOW,
          actions: onTable.map((a) => `dynamodb:${a}`),
          resources: [tableArn],
        }),
      );
    }
    // A Query on a secondary index is authorised against the index ARN.
    if (actions.includes('QueryIndex')) {
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
