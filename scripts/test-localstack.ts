/**
 * `npm run test:localstack`: deploy the stack's `localstack` profile to a running LocalStack
 * community 4.14.0 with cdklocal, warm every function, then run the end-to-end suite
 * (test/e2e/purchase.test.ts, E2E_TARGET=localstack) against the API's path-style URL.
 *
 *   docker compose -f docker-compose.localstack.yml up -d
 *   npm run test:localstack
 *
 * Re-runnable: a stack left by an earlier run is destroyed first, because LocalStack cannot
 * update an API Gateway stage in place (a changed API would lose its stage). AWS_ENDPOINT_URL
 * names another LocalStack (default http://localhost:4566).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvokeCommand, LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';
import { z } from 'zod';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LOCALSTACK_VERSION = '4.14.0';
export const STACK_NAME = 'PurchaseSaga';
export const OUTPUTS_FILE = join(REPO_ROOT, '.local', 'localstack-outputs.json');
/** What cdklocal synthesizes: the LocalStack profile, a stack whose data goes with it. */
export const CDK_CONTEXT = ['-c', 'profile=localstack', '-c', 'retainData=false', '-c', `stackName=${STACK_NAME}`];
/** Services the deployment and the e2e suite use: each must be up before anything starts. */
const SERVICES = [
  'apigateway',
  'cloudformation',
  'cloudwatch',
  'dynamodb',
  'dynamodbstreams',
  'events',
  'iam',
  'kms',
  'lambda',
  'logs',
  's3',
  'secretsmanager',
  'sns',
  'sqs',
  'ssm',
  'stepfunctions',
  'sts',
];

/**
 * The environment cdklocal (aws-cdk-local 3) and the SDK calls need. cdklocal refuses
 * AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3, whose host must contain `.s3.` so LocalStack reads
 * the bucket from it (public DNS resolves *.localhost.localstack.cloud to 127.0.0.1), and it
 * drops every other AWS_* variable not named in AWS_ENVAR_ALLOWLIST.
 */
export function localstackEnv(base: NodeJS.ProcessEnv, endpoint: string): NodeJS.ProcessEnv {
  const url = new URL(endpoint);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const region = base['AWS_REGION'] ?? base['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  return {
    ...base,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: base['AWS_ENDPOINT_URL_S3'] ?? `${url.protocol}//s3.localhost.localstack.cloud:${port}`,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENVAR_ALLOWLIST: 'AWS_REGION,AWS_DEFAULT_REGION',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

const Health = z.object({
  services: z.record(z.string(), z.string()),
  edition: z.string().optional(),
  version: z.string().optional(),
});

export class LocalStackUnavailable extends Error {
  override readonly name = 'LocalStackUnavailable';
}

/** Waits until LocalStack answers its health check with every needed service up. */
export async function waitForLocalStack(endpoint: string, timeoutMs: number): Promise<z.infer<typeof Health>> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(5_000) });
      const body: unknown = await res.json();
      const health = Health.safeParse(body);
      if (res.ok && health.success) {
        const down = SERVICES.filter((s) => !['available', 'running'].includes(health.data.services[s] ?? 'missing'));
        if (down.length === 0) return health.data;
        last = `services not up yet: ${down.map((s) => `${s}=${health.data.services[s] ?? 'missing'}`).join(', ')}`;
      } else {
        last = `HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`;
      }
    } catch (error) {
      last = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (Date.now() > deadline) {
      throw new LocalStackUnavailable(
        [
          `LocalStack is not ready at ${endpoint} (${last}).`,
          'Start it with: docker compose -f docker-compose.localstack.yml up -d',
          `This project targets localstack/localstack:${LOCALSTACK_VERSION}, the last image that runs without an auth token;`,
          'newer images exit at start unless LOCALSTACK_AUTH_TOKEN is set (docker compose -f docker-compose.localstack.yml logs).',
        ].join('\n'),
      );
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): void {
  console.log(`\n$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args[0] ?? ''} exited with ${String(result.status)}`);
}

/**
 * One invocation of every function of the stack: LocalStack starts a container per function on
 * its first call, and six cold starts in a row would otherwise fall on the first purchase. The
 * payload is empty, so most functions answer with a validation error; only the start counts.
 */
async function warmFunctions(env: NodeJS.ProcessEnv): Promise<void> {
  const lambda = new LambdaClient({
    region: env['AWS_REGION'],
    endpoint: env['AWS_ENDPOINT_URL'],
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const names: string[] = [];
  for await (const page of paginateListFunctions({ client: lambda }, {})) {
    for (const f of page.Functions ?? []) {
      if (f.FunctionName?.startsWith(`${STACK_NAME}-`)) names.push(f.FunctionName);
    }
  }
  if (names.length === 0) throw new Error(`No functions of ${STACK_NAME} found to warm`);
  const started = Date.now();
  // Four at a time: each start pulls or runs a container.
  for (let i = 0; i < names.length; i += 4) {
    await Promise.all(
      names.slice(i, i + 4).map((FunctionName) => lambda.send(new InvokeCommand({ FunctionName, Payload: '{}' }))),
    );
  }
  console.log(`warmed ${names.length} functions in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  lambda.destroy();
}

async function main(): Promise<void> {
  const endpoint = (process.env['AWS_ENDPOINT_URL'] ?? 'http://localhost:4566').replace(/\/+$/, '');
  const env = localstackEnv(process.env, endpoint);
  const health = await waitForLocalStack(endpoint, 120_000);
  console.log(`LocalStack ${health.edition ?? '?'} ${health.version ?? '?'} at ${endpoint}`);
  if (health.version && !health.version.startsWith(LOCALSTACK_VERSION)) {
    console.warn(`warning: this project is tested against LocalStack ${LOCALSTACK_VERSION}, not ${health.version}`);
  }
  const cdklocal = join(REPO_ROOT, 'node_modules', '.bin', 'cdklocal');
  mkdirSync(dirname(OUTPUTS_FILE), { recursive: true });
  run(cdklocal, ['bootstrap', ...CDK_CONTEXT], env);
  run(cdklocal, ['destroy', '--force', ...CDK_CONTEXT], env);
  run(cdklocal, ['deploy', '--require-approval', 'never', ...CDK_CONTEXT, '--outputs-file', OUTPUTS_FILE], env);
  await warmFunctions(env);
  run(join(REPO_ROOT, 'node_modules', '.bin', 'vitest'), ['run', 'test/e2e/purchase.test.ts'], {
    ...env,
    E2E_TARGET: 'localstack',
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
