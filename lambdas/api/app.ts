import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import type { Deps } from '../saga/deps.js';
import { sfnClient } from '../shared/aws-clients.js';
import { readEnv, readTables } from '../shared/config.js';
import { documentClient } from '../shared/dynamodb/client.js';
import { createObservability } from '../shared/observability.js';
import { StepFunctionsWorkflow, type Workflow } from '../shared/workflow.js';
import { API_AUTH_MODES, authenticator } from './authenticate.js';
import { CORRELATION_ID_HEADER, correlationIdOf } from './correlation.js';
import { HttpProblem, instancePath, problem, type Response } from './http.js';
import { adminRoutes } from './routes/admin.js';
import { catalogRoutes } from './routes/catalog.js';
import { orderRoutes } from './routes/orders.js';
import type { ApiTable, Route } from './routes/types.js';

const ApiEnv = z.object({
  STATE_MACHINE_ARN: z.string().startsWith('arn:'),
  WORKFLOW_TYPE: z.enum(['EXPRESS', 'STANDARD']),
  /** STANDARD only: how long POST /orders waits before answering 202 (API Gateway gives up at 29 s). */
  WORKFLOW_WAIT_MS: z.coerce.number().int().min(0).max(25_000).default(8_000),
  /**
   * `authorizer` (AWS): API Gateway's TOKEN authorizer vouches for the caller. `token` (the
   * LocalStack profile, whose gateway runs no authorizer): this Lambda verifies the bearer token
   * itself, configured by the authorizer's JWT_* variables.
   */
  API_AUTH: z.enum(API_AUTH_MODES).default('authorizer'),
});

const TABLES: ApiTable[] = [
  'ACCOUNTS_TABLE',
  'CATALOG_TABLE',
  'INVENTORY_TABLE',
  'COUPONS_TABLE',
  'ORDERS_TABLE',
  'IDEMPOTENCY_TABLE',
];

export interface ApiOverrides {
  ddb?: DynamoDBDocumentClient;
  /** Client of the Powertools idempotency store. */
  idempotencyClient?: DynamoDBClient;
  workflow?: Workflow;
  clock?: () => Date;
  /** API_AUTH=token: source of the HS256 secret (default: Secrets Manager, JWT_SECRET_ARN). */
  jwtSecret?: () => Promise<string>;
}

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * The one API Lambda: parse and validate, call domain code, map the result or a typed error.
 * Every request is logged once (method, resource, status, latency, correlationId, and the
 * orderId when the route knows it) and answered with its `X-Correlation-Id`.
 */
export function createHandler(env: NodeJS.ProcessEnv, overrides: ApiOverrides = {}): ApiHandler {
  const config = readEnv(ApiEnv, env);
  const tables = readTables(TABLES, env);
  const obs = createObservability(env, 'Api');
  const data: Deps<ApiTable> = {
    ddb: overrides.ddb ?? documentClient(obs.traced(new DynamoDBClient({}))),
    tables,
    clock: overrides.clock ?? (() => new Date()),
  };
  const workflow =
    overrides.workflow ??
    new StepFunctionsWorkflow(obs.traced(sfnClient()), config.STATE_MACHINE_ARN, config.WORKFLOW_TYPE);
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: tables.IDEMPOTENCY_TABLE,
    awsSdkV3Client: overrides.idempotencyClient ?? obs.traced(new DynamoDBClient({})),
  });

  const authenticate = authenticator(config.API_AUTH, env, {
    traced: obs.traced,
    ...(overrides.jwtSecret ? { secret: overrides.jwtSecret } : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });

  const routes = [
    ...orderRoutes({ data, workflow, waitMs: config.WORKFLOW_WAIT_MS, persistenceStore }),
    ...catalogRoutes(data),
    ...adminRoutes(data),
  ];
  const byResource = new Map<string, Route[]>();
  for (const r of routes) byResource.set(r.resource, [...(byResource.get(r.resource) ?? []), r]);

  return async (event, context) => {
    const started = performance.now();
    const correlation = correlationIdOf(event, context);
    return obs.invocation(context, { correlationId: correlation.id }, async ({ log, metrics }) => {
      const instance = instancePath(event);
      let response: Response;
      try {
        const candidates = byResource.get(event.resource) ?? [];
        if (candidates.length === 0) throw new HttpProblem('not-found', `No route ${event.resource}`);
        const route = candidates.find((r) => r.method === event.httpMethod);
        if (!route) {
          throw new HttpProblem(
            'method-not-allowed',
            undefined,
            {},
            { Allow: candidates.map((r) => r.method).join(', ') },
          );
        }
        const principal = await authenticate(event, log);
        if (route.admin && !principal.admin) throw new HttpProblem('forbidden', 'This route needs the admin role');
        response = await route.handle({
          event,
          context,
          principal,
          params: pathParams(event),
          log,
          correlationId: correlation.id,
        });
      } catch (err) {
        if (err instanceof HttpProblem) {
          response = problem(err, instance);
        } else {
          // Unexpected: log it whole (never swallow) and answer a 500 without internals.
          log.error('Unhandled error', { path: event.path, error: err instanceof Error ? err : String(err) });
          response = problem(new HttpProblem('internal', `Request ${context.awsRequestId} failed`), instance);
        }
      }
      if (response.headers['Idempotent-Replayed'] === 'true') metrics.count('IdempotentReplay', { source: 'api' });
      // Logged last, like the request line, so it carries the orderId once the route knows it.
      if (correlation.rejected)
        log.warn(`Invalid ${CORRELATION_ID_HEADER} ignored; using the request id`, {
          headerLength: correlation.rejected.length,
        });
      log.info('Request', {
        httpMethod: event.httpMethod,
        resource: event.resource,
        path: event.path,
        statusCode: response.statusCode,
        latencyMs: Math.round(performance.now() - started),
      });
      // Added here, not by the routes: a replayed answer carries this request's id, not the first one's.
      return { ...response, headers: { ...response.headers, [CORRELATION_ID_HEADER]: correlation.id } };
    });
  };
}

function pathParams(event: APIGatewayProxyEvent): Record<string, string> {
  return Object.fromEntries(
    Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}
