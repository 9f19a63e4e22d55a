/**
 * `npm run chaos`: the long chaos campaign (test/support/chaos.ts) on its own DynamoDB Local.
 * Options: --seed 1, --purchases 2000, --concurrency 16. Exits 1 when an invariant broke.
 * Retries wait milliseconds instead of the definition's seconds, as in the tests.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startDynamoDbLocal } from '../local/dynamodb-local.js';
import { startLocalSaga, stopSharedEndpoint } from '../local/saga.js';
import { chaosSagaOptions, formatChaosReport, runChaos } from '../test/support/chaos.js';
import { faultInjector } from '../test/support/faults.js';

const Args = z.object({
  seed: z.coerce.number().int().min(0),
  purchases: z.coerce.number().int().min(1).max(1_000_000),
  concurrency: z.coerce.number().int().min(1).max(256),
});

async function main(): Promise<number> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  // Thousands of purchases log hundreds of thousands of lines; the report is what matters here.
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'SILENT';
  process.env['POWERTOOLS_METRICS_DISABLED'] ??= 'true';
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      purchases: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '16' },
    },
    strict: true,
  });
  const args = Args.parse(values);
  const dynamo = await startDynamoDbLocal();
  const faults = faultInjector();
  const clock = { offsetMs: 0 };
  try {
    const saga = await startLocalSaga({
      dynamoEndpoint: dynamo.endpoint,
      retryIntervalMs: 5,
      events: false,
      ...chaosSagaOptions(faults, clock),
    });
    const started = performance.now();
    const report = await runChaos(saga, faults, clock, args);
    console.log(formatChaosReport(report, performance.now() - started));
    await saga.close();
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    await stopSharedEndpoint();
    await dynamo.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('Chaos campaign failed:', err);
    process.exit(1);
  },
);
