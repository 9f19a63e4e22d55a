import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PurchaseSagaStackProps } from '../infra/stack.js';
import { seedDemo } from './demo-data.js';
import { assertJava, assertPortFree, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { startLocalSaga, stopSharedEndpoint, type LocalSaga, type LocalSagaOptions } from './saga.js';
import { boundedRequests } from './http-server.js';
import { ASL_FILE, REPO_ROOT } from './template.js';
import { consoleHandler } from './console/server.js';
import type { AslDefinition } from './console/graph.js';
import { scriptPaymentProvider } from '../lambdas/payments/simulated.js';

/**
 * The whole system on one machine: DynamoDB Local, the template's tables, the saga and edge
 * Lambdas' own code, the deployed state machine behind a local Step Functions endpoint, and the
 * REST API served over HTTP the way API Gateway serves it.
 */
export interface LocalSystemOptions {
  port?: number;
  /** Keep DynamoDB data in `dataDir` instead of in memory. */
  persist?: boolean;
  /** Where `persist` keeps the data (default .local/dynamodb). */
  dataDir?: string;
  /** Use an already running DynamoDB Local instead of starting one (tests). */
  dynamoEndpoint?: string;
  stackProps?: PurchaseSagaStackProps;
  seed?: boolean;
  /** Table name prefix (tests sharing one DynamoDB Local). */
  tablePrefix?: string;
  /** Run the reconciler this often, as the deployed schedule does (default every minute; 0: never). */
  reconcileEveryMs?: number;
  /** Per-function replacements (benchmarks hand every function a metered DynamoDB client). */
  overrides?: LocalSagaOptions['overrides'];
  /** How long a client may take to send a request (default REQUEST_TIMEOUT_MS); then 408. */
  requestTimeoutMs?: number;
  /** See LocalSagaOptions.recordGrantUse (tests collect what each role was allowed). */
  recordGrantUse?: LocalSagaOptions['recordGrantUse'];
  /** See LocalSagaOptions.retryIntervalMs (tests: the state machine's retries in milliseconds). */
  retryIntervalMs?: number;
}

export interface LocalSystem {
  url: string;
  saga: LocalSaga;
  stop(): Promise<void>;
}

export const DEFAULT_PORT = 3000;
export const DEFAULT_DATA_DIR = '.local/dynamodb';
/** API Gateway refuses larger payloads; reading stops there. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024 + 1;

export async function startLocalSystem(options: LocalSystemOptions = {}): Promise<LocalSystem> {
  const port = options.port ?? DEFAULT_PORT;
  if (!options.dynamoEndpoint) assertJava();
  await assertPortFree(port, 'the API');

  let dynamo: DynamoDbLocal | undefined;
  let saga: LocalSaga | undefined;
  let server: Server | undefined;
  let reconciling: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(reconciling);
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server?.closeAllConnections();
    await saga?.close();
    await stopSharedEndpoint();
    await dynamo?.stop();
  };
  try {
    let endpoint = options.dynamoEndpoint;
    if (!endpoint) {
      const dbPath = options.persist ? resolve(REPO_ROOT, options.dataDir ?? DEFAULT_DATA_DIR) : undefined;
      if (dbPath) mkdirSync(dbPath, { recursive: true });
      dynamo = await startDynamoDbLocal(dbPath ? { dbPath } : {});
      endpoint = dynamo.endpoint;
    }
    saga = await startLocalSaga({
      dynamoEndpoint: endpoint,
      apiMount: 'root',
      ...(options.stackProps ? { stackProps: options.stackProps } : {}),
      ...(options.tablePrefix ? { tablePrefix: options.tablePrefix } : {}),
      ...(options.overrides ? { overrides: options.overrides } : {}),
      ...(options.recordGrantUse ? { recordGrantUse: options.recordGrantUse } : {}),
      ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: options.retryIntervalMs } : {}),
    });
    if (options.seed ?? true) await seedDemo({ ddb: saga.ddb, tables: saga.tables, clock: () => new Date() });

    // The deployed stack runs the reconciler every minute (EventBridge schedule); so does this one.
    const reconciler = saga.lambdas.get('Reconciler');
    const every = options.reconcileEveryMs ?? 60_000;
    if (reconciler && every > 0) {
      reconciling = setInterval(() => {
        void reconciler.invoke({}).then((r) => {
          if (!r.ok) console.error(`Reconciler run failed: ${r.error.errorType}: ${r.error.errorMessage}`);
        });
      }, every);
      reconciling.unref();
    }

    const api = saga.api;
    const local = saga;
    const definition = readDefinition();
    const serveConsole = consoleHandler({
      definition,
      sources: {
        ddb: local.ddb,
        tables: local.tables,
        stateMachine: local.stateMachine,
        catchTargets: (state) => (definition.States[state]?.Catch ?? []).map((c) => c.Next),
      },
      scriptProvider: (orderId, script) =>
        scriptPaymentProvider(local.ddb, local.tables.PAYMENTS_TABLE, orderId, script),
    });
    server = createServer(boundedRequests(options.requestTimeoutMs), (req, res) => {
      void (async () => {
        try {
          const body = await readBody(req);
          // The local console (never deployed) lives beside the API, under /console.
          if (await serveConsole(req, res, body)) return;
          const headers = Object.fromEntries(
            Object.entries(req.headers).flatMap(([k, v]) =>
              v === undefined ? [] : [[k, Array.isArray(v) ? v.join(',') : v]],
            ),
          );
          const answer = await api.handle({
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            headers,
            ...(body !== undefined ? { body } : {}),
            sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          });
          res.writeHead(answer.statusCode, answer.headers).end(answer.body);
        } catch (err) {
          // A client that timed out or hung up mid-request is gone: there is no one to answer.
          if (req.socket.destroyed) return;
          // The local gateway itself broke: say so loudly, as API Gateway would answer 500.
          console.error('local API Gateway error:', err);
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'Internal server error' }));
        }
      })();
    });
    await new Promise<void>((resolveListen, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolveListen());
    });
    return { url: `http://localhost:${port}`, saga, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function readDefinition(): AslDefinition {
  return JSON.parse(readFileSync(ASL_FILE, 'utf8')) as AslDefinition;
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_REQUEST_BYTES) break;
    chunks.push(buf);
  }
  return chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
}
