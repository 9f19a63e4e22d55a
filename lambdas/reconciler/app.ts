import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { InvalidInput } from '../domain/errors.js';
import { paymentProviderFromEnv } from '../payments/factory.js';
import type { PaymentProvider } from '../payments/port.js';
import {
  reconcileOrder,
  type ReconcileDeps,
  type ReconcileOutcome,
  type ReconcilePolicy,
  type ReconcileTables,
} from '../saga/reconcile.js';
import { readEnv, readTables } from '../shared/config.js';
import { documentClient } from '../shared/dynamodb/client.js';
import { STATUS_INDEX, STATUS_SHARDS, type WatchedStatus } from '../shared/dynamodb/keys.js';
import { childLogger, createObservability } from '../shared/observability.js';

/**
 * Scheduled every minute: drives orders stuck PENDING past the reservation TTL, and
 * COMPENSATION_FAILED orders whose retry is due, to a terminal state (lambdas/saga/reconcile.ts).
 * `{ orderIds }` in the event reconciles just those (an operator, or a test, on demand).
 */
const ReconcilerEnv = z.object({
  PENDING_TTL_SECONDS: z.coerce.number().int().min(1).default(300),
  RETRY_BASE_SECONDS: z.coerce.number().int().min(1).default(60),
  RETRY_MAX_SECONDS: z.coerce.number().int().min(1).default(3_600),
  MAX_ORDERS_PER_RUN: z.coerce.number().int().min(1).max(10_000).default(200),
});

const OnDemand = z.strictObject({ orderIds: z.array(z.string().min(1).max(128)).min(1).max(1_000) });

const TABLES: ReconcileTables[] = [
  'ACCOUNTS_TABLE',
  'CATALOG_TABLE',
  'INVENTORY_TABLE',
  'COUPONS_TABLE',
  'ORDERS_TABLE',
  'PAYMENTS_TABLE',
];
/** Orders reconciled at once: each is a handful of small transactions. */
const CONCURRENCY = 4;

export interface ReconcilerOverrides {
  ddb?: DynamoDBDocumentClient;
  provider?: PaymentProvider;
  clock?: () => Date;
}

export interface ReconcileSummary {
  examined: number;
  outcomes: Record<string, number>;
  errors: { orderId: string; error: string }[];
}

export class ReconcileErrors extends Error {
  override readonly name = 'ReconcileErrors';
}

export function createHandler(env: NodeJS.ProcessEnv, overrides: ReconcilerOverrides = {}) {
  const config = readEnv(ReconcilerEnv, env);
  const obs = createObservability(env, 'Reconciler');
  const ddb = overrides.ddb ?? documentClient(obs.traced(new DynamoDBClient({})));
  const deps: ReconcileDeps = {
    ddb,
    tables: readTables(TABLES, env),
    clock: overrides.clock ?? (() => new Date()),
    ...paymentProviderFromEnv(env, ddb, overrides.provider),
  };
  const policy: ReconcilePolicy = {
    pendingTtlSeconds: config.PENDING_TTL_SECONDS,
    retryBaseSeconds: config.RETRY_BASE_SECONDS,
    retryMaxSeconds: config.RETRY_MAX_SECONDS,
  };

  // One run id per invocation; each order's lines carry `reconcile:<run id>` as their correlationId.
  return (event: unknown, context?: Context): Promise<ReconcileSummary> => {
    const correlationId = `reconcile:${context?.awsRequestId ?? randomUUID()}`;
    return obs.invocation(context, { correlationId }, async ({ log, metrics }) => {
      // An operator's request must say exactly which orders: a mistyped one is refused, never
      // turned into a full scheduled pass.
      const asked = event !== null && typeof event === 'object' && 'orderIds' in event;
      const onDemand = asked ? OnDemand.safeParse(event) : undefined;
      if (onDemand && !onDemand.success)
        throw new InvalidInput(
          `Reconciler: invalid on-demand event: ${onDemand.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      const orderIds = onDemand?.success
        ? onDemand.data.orderIds
        : await dueOrders(deps, policy, config.MAX_ORDERS_PER_RUN);
      const outcomes: ReconcileOutcome[] = [];
      const errors: ReconcileSummary['errors'] = [];
      const queue = [...orderIds];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
            const orderLog = childLogger(log, { orderId: id });
            try {
              const outcome = await reconcileOrder(deps, id, policy, asked);
              outcomes.push(outcome);
              orderLog.info('Order reconciled', {
                action: outcome.action,
                ...(outcome.detail ? { detail: outcome.detail } : {}),
              });
            } catch (err) {
              errors.push({ orderId: id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
              orderLog.error('Order could not be reconciled', { error: err instanceof Error ? err : String(err) });
            }
          }
        }),
      );
      const summary: ReconcileSummary = {
        examined: orderIds.length,
        outcomes: outcomes.reduce<Record<string, number>>(
          (acc, o) => ({ ...acc, [o.action]: (acc[o.action] ?? 0) + 1 }),
          {},
        ),
        errors,
      };
      for (const [action, count] of Object.entries(summary.outcomes))
        metrics.add('ReconcilerActions', count, { action });
      if (errors.length > 0) metrics.add('ReconcilerActions', errors.length, { action: 'ERROR' });
      log.info('Reconciler run', { examined: summary.examined, outcomes: summary.outcomes, errors: errors.length });
      // Every order was tried; a failure still fails the invocation, so the Lambda Errors alarm sees it.
      if (errors.length > 0)
        throw new ReconcileErrors(`${errors.length} order(s) could not be reconciled: ${JSON.stringify(errors)}`);
      return summary;
    });
  };
}

/**
 * Stuck PENDING orders (older than the TTL), COMPENSATION_FAILED orders whose retry is due, and
 * orders whose charge is due for a second look at the provider.
 */
async function dueOrders(deps: ReconcileDeps, policy: ReconcilePolicy, limit: number): Promise<string[]> {
  const now = deps.clock();
  const cutoff = new Date(now.getTime() - policy.pendingTtlSeconds * 1000).toISOString();
  const ids: string[] = [];
  const watched: [WatchedStatus, string][] = [
    ['PENDING', cutoff],
    ['COMPENSATION_FAILED', now.toISOString()],
    ['CHARGE_RECHECK', now.toISOString()],
  ];
  for (const [status, until] of watched) {
    for (let shard = 0; shard < STATUS_SHARDS && ids.length < limit; shard++) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await deps.ddb.send(
          new QueryCommand({
            TableName: deps.tables.ORDERS_TABLE,
            IndexName: STATUS_INDEX,
            KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :until',
            ExpressionAttributeValues: { ':pk': `${status}#${shard}`, ':until': until },
            Limit: limit - ids.length,
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) ids.push(String(item['pk']).slice('ORDER#'.length));
        ExclusiveStartKey = ids.length < limit ? page.LastEvaluatedKey : undefined;
      } while (ExclusiveStartKey);
    }
  }
  return ids;
}
