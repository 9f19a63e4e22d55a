import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { inject } from 'vitest';
import { z } from 'zod';
import { documentClient } from '../../lambdas/shared/dynamodb/client.js';
import { secretsClient } from '../../lambdas/shared/aws-clients.js';
import { scriptPaymentProvider, type PaymentScript } from '../../lambdas/payments/simulated.js';
import { mintDevToken } from '../../local/dev-auth.js';
import { freePort } from '../../local/dynamodb-local.js';
import { startLocalSystem } from '../../local/system.js';
import { recordGrantUse } from '../support/grant-use.js';
import { REPO_ROOT } from '../../local/template.js';
import type { StackProfile } from '../../infra/stack.js';

/**
 * Where the end-to-end suite runs, chosen by E2E_TARGET:
 * - `local` (default): the local system of `npm start`, started here, over real HTTP, running the
 *   stack's `aws` profile or its `localstack` profile (no gateway authorizer);
 * - `localstack`: the stack deployed by `npm run test:localstack` (cdklocal, `localstack` profile),
 *   outputs in .local/localstack-outputs.json, called at the path-style URL of AWS_ENDPOINT_URL;
 * - `aws`: the stack deployed by `npm run deploy`, outputs in .local/outputs.json.
 * Everything the suite needs (items, wallets, coupons) it creates through the admin API.
 */
export const TARGET_NAMES = ['local', 'localstack', 'aws'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface Target {
  name: TargetName;
  /** Base URL of the API, without a trailing slash (includes the stage on AWS). */
  apiUrl: string;
  /** A token the stack accepts; `issuedAt` in the past (over an hour) makes an expired one. */
  token(userId: string, options?: { admin?: boolean; issuedAt?: Date }): Promise<string>;
  /** Tell the simulated payment provider what to do for an order (decline, outages). */
  scriptProvider(orderId: string, script: PaymentScript): Promise<void>;
  close(): Promise<void>;
}

const StackOutputs = z
  .object({
    ApiUrl: z.url(),
    ApiId: z.string().min(1).optional(),
    ApiStage: z.string().min(1).optional(),
    PaymentsTableName: z.string(),
    JwtSecretArn: z.string().optional(),
  })
  .loose();
type StackOutputs = z.infer<typeof StackOutputs>;
const Outputs = z.record(z.string(), StackOutputs);

/** E2E_TARGET, `local` when unset. */
export function targetName(env: NodeJS.ProcessEnv): TargetName {
  return z.enum(TARGET_NAMES).parse(env['E2E_TARGET'] ?? 'local');
}

/**
 * The API's URL on LocalStack: path-style under the endpoint, which works offline. (The ApiUrl
 * output LocalStack rewrites to `https://<id>.execute-api.localhost.localstack.cloud:4566/...`
 * needs wildcard DNS and a certificate LocalStack downloads at start.)
 */
export function localstackApiUrl(outputs: StackOutputs, endpoint: string): string {
  if (!outputs.ApiId || !outputs.ApiStage) {
    throw new Error('The stack outputs have no ApiId/ApiStage: deploy this version with npm run test:localstack');
  }
  return `${endpoint.replace(/\/+$/, '')}/_aws/execute-api/${outputs.ApiId}/${outputs.ApiStage}`;
}

const mint = (userId: string, options: { admin?: boolean; issuedAt?: Date }, secret?: string) =>
  mintDevToken({
    userId,
    admin: options.admin ?? false,
    ...(options.issuedAt ? { now: options.issuedAt } : {}),
    ...(secret !== undefined ? { secret } : {}),
  });

export async function e2eTarget(name: TargetName, profile: StackProfile = 'aws'): Promise<Target> {
  if (name === 'local') {
    const system = await startLocalSystem({
      port: await freePort(),
      dynamoEndpoint: inject('dynamoEndpoint'),
      tablePrefix: `e2e${Date.now()}-`,
      stackProps: { profile },
      recordGrantUse,
    });
    const tables = system.saga.tables;
    return {
      name,
      apiUrl: system.url,
      token: (userId, options = {}) => mint(userId, options),
      scriptProvider: (orderId, script) =>
        scriptPaymentProvider(system.saga.ddb, tables.PAYMENTS_TABLE, orderId, script),
      close: () => system.stop(),
    };
  }

  const file = resolve(REPO_ROOT, name === 'localstack' ? '.local/localstack-outputs.json' : '.local/outputs.json');
  const stacks = Outputs.parse(JSON.parse(readFileSync(file, 'utf8')));
  const outputs = Object.values(stacks)[0];
  if (!outputs) throw new Error(`No stack outputs in ${file}`);
  const ddb = documentClient();
  let secret: Promise<string> | undefined;
  const signingKey = () => {
    if (!outputs.JwtSecretArn)
      throw new Error('The stack verifies RS256 tokens from your issuer: set E2E_TOKEN_<USER> yourself');
    secret ??= secretsClient()
      .send(new GetSecretValueCommand({ SecretId: outputs.JwtSecretArn }))
      .then((s) => s.SecretString ?? '');
    return secret;
  };
  return {
    name,
    apiUrl:
      name === 'localstack'
        ? localstackApiUrl(outputs, process.env['AWS_ENDPOINT_URL'] ?? 'http://localhost:4566')
        : outputs.ApiUrl.replace(/\/$/, ''),
    token: async (userId, options = {}) => mint(userId, options, await signingKey()),
    scriptProvider: (orderId, script) => scriptPaymentProvider(ddb, outputs.PaymentsTableName, orderId, script),
    close: async () => ddb.destroy(),
  };
}
