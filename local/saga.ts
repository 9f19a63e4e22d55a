import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  EDGE_FUNCTIONS,
  EVENT_FUNCTIONS,
  RECONCILER_FUNCTION,
  SAGA_FUNCTIONS,
  TABLE_ENV,
  type TableId,
} from '../infra/catalog.js';
import type { PurchaseSagaStackProps } from '../infra/stack.js';
import type { Tables } from '../lambdas/shared/config.js';
import { documentClient } from '../lambdas/shared/dynamodb/client.js';
import { LocalApiGateway } from './apigateway.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint, type LocalStateMachineRegistry } from './aws-endpoint.js';
import { DEV_JWT_SECRET } from './dev-auth.js';
import type { LocalEventBus } from './eventbridge.js';
import { DISABLED_EVENTS, startLocalEvents, type LocalEvents, type LocalEventsOptions } from './events.js';
import { rolePolicies, type Statement } from './iam.js';
import { LocalLambda, loadHandlerFactory } from './lambda-runtime.js';
import { LocalTopic, type LocalTopicRegistry } from './sns.js';
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

/** A function's id in infra/catalog.ts (the saga functions' ids are plain strings there). */
export type FunctionId = string;

export interface LocalSagaOptions {
  dynamoEndpoint: string;
  /** Prefix of every table name (and of the state machine's name), so several stacks share one process. */
  tablePrefix?: string;
  stackProps?: PurchaseSagaStackProps;
  /** Reuse an already synthesized template. */
  template?: CfnTemplate;
  retryIntervalMs?: number;
  /** Replace every function's timeout from the template (tests of timed-out invocations). */
  lambdaTimeoutSeconds?: number;
  /** Per-function replacements handed to `createHandler` (fault-injecting clients, a provider, a clock). */
  overrides?: Partial<Record<FunctionId, Record<string, unknown>>>;
  /** How the API is mounted (see LocalApiGatewayOptions.mount). */
  apiMount?: 'stage' | 'root';
  /**
   * The events pipeline (Orders stream -> Publisher -> bus -> Notifier / queue -> Transmitter),
   * with its local timings; on by default, `false` leaves it off (nothing reads the stream).
   */
  events?: LocalEventsOptions | false;
  /** Told of every (function, action, resource) a function's role allowed (least-privilege reports). */
  recordGrantUse?: (functionId: FunctionId, action: string, resource: string) => void;
}

export interface LocalSaga {
  tables: Tables;
  ddb: DynamoDBDocumentClient;
  lambdas: Map<FunctionId, LocalLambda>;
  stateMachine: LocalStateMachine;
  stateMachineType: 'EXPRESS' | 'STANDARD';
  /** The REST API as API Gateway would serve it (authorizer, proxy events, gateway responses). */
  api: LocalApiGateway;
  /** The events pipeline: `drain()` before asserting, `published()`, `queues` (dead letters). */
  events: LocalEvents;
  /** Each function's role policy statements, resolved to local ARNs, as local/iam.ts evaluates them. */
  policies: Map<FunctionId, Statement[]>;
  /** The SNS topic the Notifier publishes to, when the stack was given `notificationTopicArn`. */
  topic?: LocalTopic;
  /** Unregister from the shared local AWS endpoint and release clients. */
  close(): Promise<void>;
}

/**
 * One local Step Functions / Secrets Manager endpoint per process: the SDK reads
 * AWS_ENDPOINT_URL_* from the process environment, so every local stack shares it and registers
 * its own state machine (named with the stack's prefix) and secrets.
 */
let shared:
  | Promise<{
      endpoint: LocalAwsEndpoint;
      machines: LocalStateMachineRegistry;
      secrets: Map<string, string>;
      buses: Map<string, LocalEventBus>;
      topics: LocalTopicRegistry;
    }>
  | undefined;

function sharedEndpoint() {
  shared ??= (async () => {
    const machines: LocalStateMachineRegistry = new Map();
    const secrets = new Map<string, string>();
    const buses = new Map<string, LocalEventBus>();
    const topics: LocalTopicRegistry = new Map();
    const endpoint = await startLocalAwsEndpoint({
      stateMachines: machines,
      secrets,
      eventBuses: buses,
      topics,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
    });
    process.env['AWS_ENDPOINT_URL_SFN'] = endpoint.url;
    process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = endpoint.url;
    process.env['AWS_ENDPOINT_URL_EVENTBRIDGE'] = endpoint.url;
    process.env['AWS_ENDPOINT_URL_SNS'] = endpoint.url;
    return { endpoint, machines, secrets, buses, topics };
  })();
  return shared;
}

/** Stop the shared endpoint (the process is about to end). */
export async function stopSharedEndpoint(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) await (await current).endpoint.stop();
}

/**
 * How a template resource is addressed locally (`Fn::GetAtt` attributes and the ARN-valued
 * Refs), names being `<prefix><logicalId>` as everywhere in the stand-in.
 */
export function localArnResolver(template: CfnTemplate, prefix: string) {
  const arn = (service: string, rest: string) => `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${rest}`;
  return (logicalId: string, attribute: string): string => {
    const type = template.Resources[logicalId]?.Type;
    const name = `${prefix}${logicalId}`;
    if (type === 'AWS::DynamoDB::Table' && attribute === 'Arn') return arn('dynamodb', `table/${name}`);
    if (type === 'AWS::DynamoDB::Table' && attribute === 'StreamArn')
      return arn('dynamodb', `table/${name}/stream/local`);
    if (type === 'AWS::StepFunctions::StateMachine' && attribute === 'Name') return name;
    if (type === 'AWS::StepFunctions::StateMachine') return arn('states', `stateMachine:${name}`);
    if (type === 'AWS::Events::EventBus' && attribute === 'Arn') return arn('events', `event-bus/${name}`);
    if (type === 'AWS::Events::Rule' && attribute === 'Arn') {
      // A rule on a custom bus carries the bus in its ARN; one on the default bus (a schedule) does not.
      const bus = (template.Resources[logicalId]?.Properties?.['EventBusName'] as { Ref?: string } | undefined)?.Ref;
      return arn('events', `rule/${bus ? `${prefix}${bus}/` : ''}${name}`);
    }
    if (type === 'AWS::SQS::Queue' && attribute === 'Arn') return arn('sqs', name);
    if (type === 'AWS::Lambda::Function' && attribute === 'Arn') return arn('lambda', `function:${name}`);
    if (type === 'AWS::SecretsManager::Secret' && attribute === 'Ref') return arn('secretsmanager', `secret:${name}`);
    throw new Error(`Cannot address ${logicalId}.${attribute} (${type ?? 'unknown'}) locally`);
  };
}

export async function startLocalSaga(options: LocalSagaOptions): Promise<LocalSaga> {
  useLocalAws(options.dynamoEndpoint);
  const aws = await sharedEndpoint();
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
  // One naming of local ARNs, shared with the IAM policies below.
  const localArn = localArnResolver(template, prefix);
  const stateMachineArn = localArn(machine.logicalId, 'Ref');
  // The template's one secret is the JWT signing key: locally it holds the development key that
  // `npm run token` signs with. Registered under a per-stack name.
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::SecretsManager::Secret') aws.secrets.set(`${prefix}${logicalId}`, DEV_JWT_SECRET);
  }
  const resolveRef = (logicalId: string): string => {
    const type = template.Resources[logicalId]?.Type;
    if (type === 'AWS::DynamoDB::Table') return tableName(logicalId);
    if (type === 'AWS::StepFunctions::StateMachine') return stateMachineArn;
    // Buses and queues are named like tables (prefix + logical id); a queue's Ref is its URL.
    if (type === 'AWS::Events::EventBus') return tableName(logicalId);
    if (type === 'AWS::SQS::Queue') return `${aws.endpoint.url}/${LOCAL_ACCOUNT}/${tableName(logicalId)}`;
    if (type === 'AWS::SecretsManager::Secret') return localArn(logicalId, 'Ref');
    throw new Error(`Cannot resolve Ref ${logicalId} (${type ?? 'unknown'}) locally`);
  };

  const arnOf = (logicalId: string) => localArn(logicalId, 'Arn');
  // A topic the stack was given is played by the shared endpoint, encrypted by the key it was given.
  const topicArn = options.stackProps?.notificationTopicArn;
  const topic = topicArn ? new LocalTopic(topicArn, options.stackProps?.notificationTopicKeyArn) : undefined;
  if (topic) {
    if (aws.topics.has(topic.arn)) throw new Error(`Another local stack already plays the topic ${topic.arn}`);
    aws.topics.set(topic.arn, topic);
  }
  const topicKeys = new Map(topic?.keyArn ? [[topic.arn, topic.keyArn]] : []);
  // Each function's role, as IAM will evaluate it (local/iam.ts).
  const policies = rolePolicies(
    template,
    (logicalId, attribute) => (attribute === 'Ref' ? resolveRef(logicalId) : localArn(logicalId, attribute)),
    { region: LOCAL_REGION, account: LOCAL_ACCOUNT },
  );
  const lambdas = new Map<FunctionId, LocalLambda>();
  const functionPolicies = new Map<FunctionId, Statement[]>();
  const byArn = new Map<string, LocalLambda>();
  const byLogicalId = new Map<string, LocalLambda>();
  const catalog: { id: FunctionId; dir: string }[] = [
    ...SAGA_FUNCTIONS,
    ...EDGE_FUNCTIONS,
    RECONCILER_FUNCTION,
    ...EVENT_FUNCTIONS,
  ];
  for (const spec of functionsOf(template, resolveRef)) {
    const entry = catalog.find((f) => `lambdas/${f.dir}` === spec.source);
    if (!entry) continue;
    const factory = await loadHandlerFactory(spec.source);
    const handler = factory(spec.env, options.overrides?.[entry.id] ?? {});
    const timeoutSeconds = options.lambdaTimeoutSeconds ?? spec.timeoutSeconds;
    const lambda = new LocalLambda({ ...spec, timeoutSeconds }, arnOf(spec.logicalId), handler, {
      functionId: entry.id,
      where: { region: LOCAL_REGION, account: LOCAL_ACCOUNT },
      statements: policies.get(spec.logicalId) ?? [],
      topicKeys,
      ...(options.recordGrantUse
        ? { record: (action, resource) => options.recordGrantUse?.(entry.id, action, resource) }
        : {}),
    });
    lambdas.set(entry.id, lambda);
    functionPolicies.set(entry.id, policies.get(spec.logicalId) ?? []);
    byArn.set(lambda.arn, lambda);
    byLogicalId.set(spec.logicalId, lambda);
  }

  const substitutions = Object.fromEntries(
    Object.entries(machine.substitutions).map(([k, logicalId]) => [k, arnOf(logicalId)]),
  );
  const stateMachine = new LocalStateMachine(resolvedDefinition(substitutions) as StateMachineDefinition, byArn, {
    stateMachineArn,
    type: machine.type,
    role: {
      functionId: `${machine.logicalId}Role`,
      where: { region: LOCAL_REGION, account: LOCAL_ACCOUNT },
      statements: policies.get(machine.logicalId) ?? [],
    },
    ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: options.retryIntervalMs } : {}),
  });
  aws.machines.set(stateMachineArn, stateMachine);

  const api = new LocalApiGateway(template, {
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT,
    lambdas: byLogicalId,
    ...(options.apiMount ? { mount: options.apiMount } : {}),
  });
  const startEvents = () =>
    options.events === false
      ? DISABLED_EVENTS
      : startLocalEvents(
          {
            template,
            region: LOCAL_REGION,
            account: LOCAL_ACCOUNT,
            nameOf: tableName,
            lambdas: byLogicalId,
            buses: aws.buses,
            endpointUrl: aws.endpoint.url,
            arnOf: localArn,
          },
          options.events ?? {},
        );
  let events: LocalEvents;
  try {
    events = startEvents();
  } catch (err) {
    // AWS refused to wire the events side (local/events.ts): this stack never started.
    aws.machines.delete(stateMachineArn);
    if (topic) aws.topics.delete(topic.arn);
    throw err;
  }
  const ddb = documentClient();
  return {
    tables,
    ddb,
    lambdas,
    stateMachine,
    stateMachineType: machine.type,
    api,
    events,
    policies: functionPolicies,
    ...(topic ? { topic } : {}),
    async close() {
      await events.stop();
      aws.machines.delete(stateMachineArn);
      if (topic) aws.topics.delete(topic.arn);
      ddb.destroy();
    },
  };
}
