import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { SAGA_FUNCTIONS, TABLE_ENV, type TableId } from '../infra/catalog.js';
import type { PurchaseSagaStackProps } from '../infra/stack.js';
import type { Tables } from '../lambdas/shared/config.js';
import { documentClient } from '../lambdas/shared/dynamodb/client.js';
import { LocalLambda, loadHandlerFactory } from './lambda-runtime.js';
import { LocalStateMachine } from './stepfunctions.js';
import { createTables } from './tables.js';
import {
  functionsOf,
  resolvedDefinition,
  stateMachineOf,
  synthTemplate,
  tablesOf,
  type CfnTemplate,
} from './template.js';

/**
 * The local stand-in for the deployed stack: the template's tables in DynamoDB Local, each saga
 * Lambda's own code with the environment the template gives it, and the deployed state machine
 * definition running in aws-local-stepfunctions.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

/** Point the AWS SDK of this process (and so every handler) at the local endpoints. */
export function useLocalAws(dynamoEndpoint: string): void {
  process.env['AWS_REGION'] = LOCAL_REGION;
  process.env['AWS_DEFAULT_REGION'] = LOCAL_REGION;
  // DynamoDB Local wants alphanumeric key ids; nothing is signed against AWS.
  process.env['AWS_ACCESS_KEY_ID'] = 'local';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'local';
  process.env['AWS_ENDPOINT_URL_DYNAMODB'] = dynamoEndpoint;
  // Node 20 runs the local stand-in on purpose (Lambdas run nodejs22.x); silence the SDK notice.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
}

export type FunctionId = (typeof SAGA_FUNCTIONS)[number]['id'];

export interface LocalSagaOptions {
  dynamoEndpoint: string;
  /** Prefix of every table name, so several suites can share one DynamoDB Local. */
  tablePrefix?: string;
  stackProps?: PurchaseSagaStackProps;
  /** Reuse an already synthesized template. */
  template?: CfnTemplate;
  retryIntervalMs?: number;
  /** Replace every function's timeout from the template (tests of timed-out invocations). */
  lambdaTimeoutSeconds?: number;
  /** Per-function replacements handed to `createHandler` (fault-injecting clients, a provider, a clock). */
  overrides?: Partial<Record<FunctionId, Record<string, unknown>>>;
}

export interface LocalSaga {
  tables: Tables;
  ddb: DynamoDBDocumentClient;
  lambdas: Map<FunctionId, LocalLambda>;
  stateMachine: LocalStateMachine;
  stateMachineType: 'EXPRESS' | 'STANDARD';
}

export async function startLocalSaga(options: LocalSagaOptions): Promise<LocalSaga> {
  useLocalAws(options.dynamoEndpoint);
  const template = options.template ?? synthTemplate(options.stackProps);
  const prefix = options.tablePrefix ?? '';
  const tableName = (logicalId: string) => `${prefix}${logicalId}`;

  const tableSpecs = tablesOf(template);
  const admin = new DynamoDBClient({});
  try {
    await createTables(admin, tableSpecs, tableName);
  } finally {
    admin.destroy();
  }
  const tables = Object.fromEntries(
    (Object.keys(TABLE_ENV) as TableId[]).map((id) => {
      const spec = tableSpecs.find((t) => t.logicalId.startsWith(`${id}Table`));
      if (!spec) throw new Error(`The template has no ${id} table`);
      return [TABLE_ENV[id], tableName(spec.logicalId)];
    }),
  ) as Tables;

  const machine = stateMachineOf(template);
  const arnOf = (logicalId: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
  const lambdas = new Map<FunctionId, LocalLambda>();
  const byArn = new Map<string, LocalLambda>();
  for (const spec of functionsOf(template, tableName)) {
    const entry = SAGA_FUNCTIONS.find((f) => `lambdas/${f.dir}` === spec.source);
    if (!entry) continue;
    const factory = await loadHandlerFactory(spec.source);
    const handler = factory(spec.env, options.overrides?.[entry.id] ?? {});
    const timeoutSeconds = options.lambdaTimeoutSeconds ?? spec.timeoutSeconds;
    const lambda = new LocalLambda({ ...spec, timeoutSeconds }, arnOf(spec.logicalId), handler);
    lambdas.set(entry.id, lambda);
    byArn.set(lambda.arn, lambda);
  }

  const substitutions = Object.fromEntries(Object.entries(machine.substitutions).map(([k, logicalId]) => [k, arnOf(logicalId)]));
  const stateMachine = new LocalStateMachine(resolvedDefinition(substitutions) as StateMachineDefinition, byArn, {
    stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${machine.logicalId}`,
    ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: options.retryIntervalMs } : {}),
  });

  return { tables, ddb: documentClient(), lambdas, stateMachine, stateMachineType: machine.type };
}
