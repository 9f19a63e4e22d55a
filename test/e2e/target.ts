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
import { REPO_ROOT } from '../../local/template.js';

/**
 * Where the end-to-end suite runs, chosen by E2E_TARGET:
 * - `local` (default): the local system of `npm start`, started here, over real HTTP;
 * - `localstack`: the stack deployed by `npm run test:localstack` (cdklocal), outputs in
 *   .local/localstack-outputs.json, SDK calls to AWS_ENDPOINT_URL;
 * - `aws`: the stack deployed by `npm run deploy`, outputs in .local/outputs.json.
 * Everything the suite needs (items, wallets, coupons) it creates through the admin API.
 */
export interface Target {
  name: 'local' | 'localstack' | 'aws';
  /** Base URL of the API, without a trailing slash (includes the stage on AWS). */
  apiUrl: string;
  token(userId: string, admin?: boolean): Promise<string>;
  /** Tell the simulated payment provider what to do for an order (decline, outages). */
  scriptProvider(orderId: string, script: PaymentScript): Promise<void>;
  close(): Promise<void>;
}

const Outputs = z.record(
  z.string(),
  z.object({ ApiUrl: z.url(), PaymentsTableName: z.string(), JwtSecretArn: z.string().optional() }).loose(),
);

export async function e2eTarget(): Promise<Target> {
  const name = z.enum(['local', 'localstack', 'aws']).parse(process.env['E2E_TARGET'] ?? 'local');
  if (name === 'local') {
    const system = await startLocalSystem({
      port: await freePort(),
      dynamoEndpoint: inject('dynamoEndpoint'),
      tablePrefix: `e2e${Date.now()}-`,
    });
    const tables = system.saga.tables;
    return {
      name,
      apiUrl: system.url,
      token: (userId, admin) => mintDevToken({ userId, admin: admin ?? false }),
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
    apiUrl: outputs.ApiUrl.replace(/\/$/, ''),
    token: async (userId, admin) => mintDevToken({ userId, admin: admin ?? false, secret: await signingKey() }),
    scriptProvider: (orderId, script) => scriptPaymentProvider(ddb, outputs.PaymentsTableName, orderId, script),
    close: async () => ddb.destroy(),
  };
}
