/**
 * `npm start`: run the whole system locally. Options: `--persist` (keep data in LOCAL_DATA_DIR,
 * default .local/dynamodb), env PORT (default 3000), WORKFLOW_TYPE (EXPRESS or STANDARD). Ctrl-C
 * stops everything.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { mintDevToken } from './dev-auth.js';
import { JavaMissing, PortBusy } from './dynamodb-local.js';
import { DEFAULT_DATA_DIR, DEFAULT_PORT, startLocalSystem } from './system.js';

const Env = z.object({
  PORT: z.coerce.number().int().min(1).max(65_535).default(DEFAULT_PORT),
  WORKFLOW_TYPE: z.enum(['EXPRESS', 'STANDARD']).default('EXPRESS'),
  LOCAL_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
});

async function main(): Promise<void> {
  // Node 20 runs the local stand-in on purpose (the Lambdas run nodejs22.x): no SDK notice.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const { values } = parseArgs({ options: { persist: { type: 'boolean', default: false } }, strict: true });
  const env = Env.parse(process.env);
  const system = await startLocalSystem({
    port: env.PORT,
    persist: values.persist,
    dataDir: env.LOCAL_DATA_DIR,
    stackProps: { workflowType: env.WORKFLOW_TYPE },
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (API, Step Functions endpoint, DynamoDB Local)...`);
    system.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('Stopping failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const token = await mintDevToken({ userId: 'alice', ttlSeconds: 24 * 60 * 60 });
  const curl = `curl -s -X POST ${system.url}/orders -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -H "Idempotency-Key: demo-0001" -d '{"itemId":"sword","quantity":1,"couponId":"WELCOME"}'`;
  console.log(
    `Purchase saga ready at ${system.url} (${env.WORKFLOW_TYPE}${values.persist ? `, data kept in ${env.LOCAL_DATA_DIR}` : ''}) | console: ${system.url}/console | token for alice: ${token} | try: ${curl}`,
  );
}

main().catch((err: unknown) => {
  if (err instanceof JavaMissing || err instanceof PortBusy) {
    console.error(`Cannot start: ${err.message}`);
  } else {
    console.error('Cannot start:', err);
  }
  process.exit(1);
});
