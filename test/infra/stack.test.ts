import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnResource, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ResponseType } from 'aws-cdk-lib/aws-apigateway';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  API_ROUTES,
  EDGE_FUNCTIONS,
  EVENT_FUNCTIONS,
  RECONCILER_FUNCTION,
  SAGA_FUNCTIONS,
  SOURCE_METADATA,
  TABLE_ENV,
  type DynamoAction,
  type TableId,
} from '../../infra/catalog.js';
import { GATEWAY_PROBLEMS } from '../../infra/gateway-responses.js';
import {
  ASL_PATH,
  DEFAULT_API_BURST_LIMIT,
  DEFAULT_API_RATE_LIMIT,
  PurchaseSagaStack,
  REPO_ROOT,
  type PurchaseSagaStackProps,
} from '../../infra/stack.js';
import { PROBLEMS, problemTypeUri, type ProblemType } from '../../lambdas/api/problems.js';
import { CHARGE_RECHECK_AFTER_SECONDS } from '../../lambdas/saga/payment.js';
import { asArray, projectContext, render } from '../support/cfn.js';

// ---- Template shapes (only what these tests read) --------------------------------------------
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
interface CfnTemplate {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}
interface PolicyStatement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
  NotAction?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

/** A Lambda of the catalog: a saga step or one of the HTTP edge functions. */
interface CatalogFunction {
  id: string;
  dir: string;
  access: Partial<Record<TableId, readonly DynamoAction[]>>;
  payments?: boolean;
}
const ALL_FUNCTIONS: CatalogFunction[] = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION];

const TABLE_IDS = Object.keys(TABLE_ENV) as TableId[];

/** Every function's timeout in seconds: the provider-facing steps and the API get more, the authorizer less. */
function expectedTimeout(fnId: string): number {
  if (fnId === 'Authorizer') return 10;
  if (fnId === 'Reconciler') return 120;
  return ['ChargePayment', 'RefundPayment', 'Api'].includes(fnId) ? 30 : 20;
}

interface Synth {
  stack: PurchaseSagaStack;
  template: Template;
  json: CfnTemplate;
  tableLogicalId: Record<TableId, string>;
  /** Saga and edge functions by catalog id. */
  functionLogicalId: Map<string, string>;
  roleLogicalId: Map<string, string>;
  stateMachineLogicalId: string;
  restApiLogicalId: string;
  /** The generated HS256 secret; undefined with a JWKS URL. */
  secretLogicalId: string | undefined;
}

function synth(props: PurchaseSagaStackProps = {}): Synth {
  // No stack is bundled: esbuild never runs, the test stays fast and offline.
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new PurchaseSagaStack(app, 'TestPurchaseSaga', props);
  const template = Template.fromStack(stack);
  const logicalId = (c: { node: { defaultChild?: unknown } }): string =>
    stack.getLogicalId(c.node.defaultChild as CfnResource);
  const tableLogicalId = Object.fromEntries(TABLE_IDS.map((t) => [t, logicalId(stack.tables[t])])) as Record<
    TableId,
    string
  >;
  const functionLogicalId = new Map<string, string>();
  const roleLogicalId = new Map<string, string>();
  const addFunction = (id: string, fn: NodejsFunction): void => {
    functionLogicalId.set(id, logicalId(fn));
    if (!fn.role) throw new Error(`${id} has no role`);
    roleLogicalId.set(id, logicalId(fn.role));
  };
  for (const [id, fn] of stack.functions) addFunction(id, fn);
  // The edge, reconciler and event functions are not in stack.functions (the state machine's map): find them by construct id.
  // (The event functions' settings and grants are asserted in events.test.ts.)
  for (const f of [...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS]) {
    const fn = stack.node.tryFindChild(`${f.id}Function`);
    if (!(fn instanceof NodejsFunction)) throw new Error(`no ${f.id}Function construct`);
    addFunction(f.id, fn);
  }
  const secret = stack.node.tryFindChild('JwtSecret');
  if (secret !== undefined && !(secret instanceof Secret)) throw new Error('JwtSecret is not a Secret');
  return {
    stack,
    template,
    json: template.toJSON() as CfnTemplate,
    tableLogicalId,
    functionLogicalId,
    roleLogicalId,
    stateMachineLogicalId: logicalId(stack.stateMachine),
    restApiLogicalId: logicalId(stack.api),
    secretLogicalId: secret ? logicalId(secret) : undefined,
  };
}

function resourcesOfType(json: CfnTemplate, type: string): [string, Resource][] {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

function props(r: Resource | undefined): Record<string, unknown> {
  if (!r?.Properties) throw new Error('resource has no Properties');
  return r.Properties;
}

function get<T>(map: Map<string, T>, key: string): T {
  const v = map.get(key);
  if (v === undefined) throw new Error(`missing ${key}`);
  return v;
}

/** All statements of the inline policies attached to a role. */
function roleStatements(json: CfnTemplate, roleLogicalId: string): PolicyStatement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) =>
      (props(p).Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })),
    )
    .flatMap(([, p]) => (props(p).PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

/** Inline policy statements of the role's own AWS::IAM::Role resource, if any. */
function roleInlineStatements(json: CfnTemplate, roleLogicalId: string): PolicyStatement[] {
  const policies = (props(json.Resources[roleLogicalId]).Policies ?? []) as {
    PolicyDocument: { Statement: PolicyStatement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function allRoleStatements(s: Synth, fnId: string): PolicyStatement[] {
  const roleId = get(s.roleLogicalId, fnId);
  return [...roleStatements(s.json, roleId), ...roleInlineStatements(s.json, roleId)];
}

/** `Table` for a table's ARN, `Table/index/*` for its indexes' ARNs, undefined for anything else. */
function grantTarget(resource: unknown, byLogicalId: Map<string, TableId>): string | undefined {
  const tableOf = (r: unknown): TableId | undefined => {
    const getAtt = (r as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
    return getAtt && getAtt[1] === 'Arn' ? byLogicalId.get(getAtt[0]) : undefined;
  };
  const direct = tableOf(resource);
  if (direct) return direct;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] } | null)?.['Fn::Join'];
  if (join && join[0] === '' && join[1].length === 2 && join[1][1] === '/index/*') {
    const table = tableOf(join[1][0]);
    if (table) return `${table}/index/*`;
  }
  return undefined;
}

const isDynamoAction = (a: string): boolean => a.toLowerCase().startsWith('dynamodb:') || a === '*';

/** The (table, action) pairs a function may perform, as `Table|dynamodb:Action`, plus anything unexpected. */
function dynamoGrants(s: Synth, fnId: string): { grants: Set<string>; unexpected: string[] } {
  const byLogicalId = new Map(TABLE_IDS.map((t) => [s.tableLogicalId[t], t]));
  const grants = new Set<string>();
  const unexpected: string[] = [];
  for (const st of allRoleStatements(s, fnId)) {
    const actions = asArray(st.Action ?? []);
    const resources = asArray(st.Resource ?? []);
    const touchesTables = resources.some((r) =>
      TABLE_IDS.some((t) => JSON.stringify(r).includes(`"${s.tableLogicalId[t]}"`)),
    );
    const dynamoActions = actions.filter(isDynamoAction);
    if (dynamoActions.length === 0 && !touchesTables) continue;
    if (st.Effect !== 'Allow') {
      unexpected.push(`non-Allow statement ${JSON.stringify(st)}`);
      continue;
    }
    if (dynamoActions.length !== actions.length) unexpected.push(`mixed actions ${JSON.stringify(actions)}`);
    for (const resource of resources) {
      const target = grantTarget(resource, byLogicalId);
      if (!target) {
        unexpected.push(`resource ${JSON.stringify(resource)}`);
        continue;
      }
      for (const action of dynamoActions) grants.add(`${target}|${action}`);
    }
  }
  return { grants, unexpected };
}

/**
 * Everything a function's role allows besides DynamoDB, as `action on resource` (resources
 * rendered), plus statements this test cannot reason about (Deny, NotAction, conditions...).
 */
function otherGrants(s: Synth, fnId: string): { grants: Set<string>; unexpected: string[] } {
  const grants = new Set<string>();
  const unexpected: string[] = [];
  for (const st of allRoleStatements(s, fnId)) {
    if (
      st.Effect !== 'Allow' ||
      st.NotAction !== undefined ||
      st.NotResource !== undefined ||
      st.Condition !== undefined
    ) {
      unexpected.push(JSON.stringify(st));
      continue;
    }
    for (const action of asArray(st.Action ?? []).filter((a) => !isDynamoAction(a))) {
      for (const resource of asArray(st.Resource ?? [])) grants.add(`${action} on ${render(resource)}`);
    }
  }
  return { grants, unexpected };
}

function expectedGrants(spec: CatalogFunction): Set<string> {
  const out = new Set<string>();
  for (const [table, actions] of Object.entries(spec.access)) {
    for (const a of actions) if (a !== 'QueryIndex') out.add(`${table}|dynamodb:${a}`);
    // Query on a table's secondary indexes is authorised against the index ARN: granted exactly
    // when the catalog lists QueryIndex for that table.
    if (actions.includes('QueryIndex')) out.add(`${table}/index/*|dynamodb:Query`);
  }
  return out;
}

/** What each function's role allows besides DynamoDB: X-Ray for all, the edge functions' own needs. */
function expectedOtherGrants(s: Synth, fnId: string, workflowType: 'EXPRESS' | 'STANDARD'): Set<string> {
  const out = new Set(['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *']);
  const sm = s.stateMachineLogicalId;
  if (fnId === 'Api' && workflowType === 'EXPRESS') out.add(`states:StartSyncExecution on \${${sm}}`);
  if (fnId === 'Api' && workflowType === 'STANDARD') {
    out.add(`states:StartExecution on \${${sm}}`);
    out.add(
      `states:DescribeExecution on arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${${sm}.Name}:*`,
    );
  }
  if (fnId === 'Authorizer' && s.secretLogicalId) out.add(`secretsmanager:GetSecretValue on \${${s.secretLogicalId}}`);
  return out;
}

function placeholdersIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] ?? ''));
}

function fnResource(s: Synth, fnId: string): Resource {
  const r = s.json.Resources[get(s.functionLogicalId, fnId)];
  if (!r) throw new Error(`no resource for ${fnId}`);
  return r;
}

function fnEnv(s: Synth, fnId: string): Record<string, unknown> {
  return (props(fnResource(s, fnId)).Environment as { Variables: Record<string, unknown> }).Variables;
}

/**
 * Asserts the function has exactly its catalog entry's table variables (each the table's Ref)
 * and returns the rest of its environment.
 */
function nonTableEnv(s: Synth, f: CatalogFunction): Record<string, unknown> {
  const env = fnEnv(s, f.id);
  const tableVars = Object.keys(env).filter((k) => Object.values(TABLE_ENV).includes(k));
  const tables = Object.keys(f.access) as TableId[];
  expect(new Set(tableVars), f.id).toEqual(new Set(tables.map((t) => TABLE_ENV[t])));
  for (const t of tables) expect(env[TABLE_ENV[t]], `${f.id} ${t}`).toEqual({ Ref: s.tableLogicalId[t] });
  return Object.fromEntries(Object.entries(env).filter(([k]) => !tableVars.includes(k)));
}

const BASE_ENV = { POWERTOOLS_SERVICE_NAME: 'purchase-saga', NODE_OPTIONS: '--enable-source-maps' };

function catalogEntry(fnId: string): CatalogFunction {
  const f = ALL_FUNCTIONS.find((x) => x.id === fnId);
  if (!f) throw new Error(`no catalog entry ${fnId}`);
  return f;
}

function stateMachine(s: Synth): Record<string, unknown> {
  const machines = resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine');
  expect(machines).toHaveLength(1);
  return props(machines[0]?.[1]);
}

function single(s: Synth, type: string): [string, Record<string, unknown>] {
  const found = resourcesOfType(s.json, type);
  expect(found, type).toHaveLength(1);
  const [id, r] = found[0] ?? ['', undefined];
  return [id, props(r)];
}

/** `METHOD /full/path` of every AWS::ApiGateway::Method, the path rebuilt from PathPart/ParentId. */
function apiMethods(s: Synth): { key: string; props: Record<string, unknown> }[] {
  const resources = new Map(resourcesOfType(s.json, 'AWS::ApiGateway::Resource'));
  const root = `\${${s.restApiLogicalId}.RootResourceId}`;
  const pathOf = (ref: unknown, depth = 0): string => {
    const rendered = render(ref);
    if (rendered === root) return '';
    const id = /^\$\{([^}.]+)\}$/.exec(rendered)?.[1];
    const resource = id === undefined ? undefined : resources.get(id);
    if (!resource || depth > 20) throw new Error(`unknown API resource ${rendered}`);
    const p = props(resource);
    expect(p.RestApiId, id).toEqual({ Ref: s.restApiLogicalId });
    return `${pathOf(p.ParentId, depth + 1)}/${String(p.PathPart)}`;
  };
  return resourcesOfType(s.json, 'AWS::ApiGateway::Method').map(([, m]) => {
    const p = props(m);
    return { key: `${String(p.HttpMethod)} ${pathOf(p.ResourceId) || '/'}`, props: p };
  });
}

const routeKeys = API_ROUTES.map((r) => `${r.method} ${r.path}`);

describe('Stack: PurchaseSagaStack', () => {
  // Default (EXPRESS, HS256); STANDARD with every optional API and JWT setting but a JWKS; RS256 with a JWKS.
  let s: Synth;
  let standard: Synth;
  let jwks: Synth;
  const STANDARD_PROPS = {
    workflowType: 'STANDARD',
    workflowWaitMs: 3_000,
    jwtIssuer: 'https://issuer.example.com/',
    jwtAudience: 'purchase-api',
    apiRateLimit: 7,
    apiBurstLimit: 13,
  } satisfies PurchaseSagaStackProps;
  const JWKS_PROPS = {
    jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
    jwtIssuer: 'https://idp.example.com/',
    jwtAudience: 'purchase-app-client',
    jwtMaxLifetimeSeconds: 3_600,
    adminClaim: 'cognito:groups',
    adminValue: 'admins',
  } satisfies PurchaseSagaStackProps;
  const configs = (): [string, Synth, 'EXPRESS' | 'STANDARD'][] => [
    ['default', s, 'EXPRESS'],
    ['STANDARD', standard, 'STANDARD'],
    ['JWKS', jwks, 'EXPRESS'],
  ];
  beforeAll(() => {
    s = synth();
    standard = synth(STANDARD_PROPS);
    jwks = synth(JWKS_PROPS);
  });

  it('uses the construct ids the local stand-in relies on', () => {
    for (const t of TABLE_IDS) expect(s.tableLogicalId[t].startsWith(`${t}Table`), t).toBe(true);
    for (const f of ALL_FUNCTIONS)
      expect(get(s.functionLogicalId, f.id).startsWith(`${f.id}Function`), f.id).toBe(true);
  });

  it('creates one nodejs22.x arm64 traced function per catalog entry (saga, edge, reconciler, events) and no other', () => {
    expect(SAGA_FUNCTIONS).toHaveLength(14);
    expect(EDGE_FUNCTIONS.map((f) => f.id).sort()).toEqual(['Api', 'Authorizer']);
    const functions = resourcesOfType(s.json, 'AWS::Lambda::Function');
    expect(functions.map(([, r]) => r.Metadata?.[SOURCE_METADATA]).sort()).toEqual(
      [...ALL_FUNCTIONS, ...EVENT_FUNCTIONS].map((f) => `lambdas/${f.dir}`).sort(),
    );
    for (const f of ALL_FUNCTIONS) {
      const p = props(fnResource(s, f.id));
      expect(p.Runtime, f.id).toBe('nodejs22.x');
      expect(p.Architectures, f.id).toEqual(['arm64']);
      expect(p.TracingConfig, f.id).toEqual({ Mode: 'Active' });
      expect(p.MemorySize, f.id).toBe(256);
      expect(p.Timeout, f.id).toBe(expectedTimeout(f.id));
      expect(p.Handler, f.id).toBe('index.handler');
      // Its own log group, kept one month.
      const logGroupRef = (p.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect(logGroupRef, f.id).toBeDefined();
      const logGroup = s.json.Resources[logGroupRef ?? ''];
      expect(logGroup?.Type).toBe('AWS::Logs::LogGroup');
      expect(props(logGroup).RetentionInDays).toBe(30);
    }
  });

  it('times ChargePayment out well before the reconciler takes a second look at a charge RefundPayment found absent', () => {
    // A straggling ChargePayment can capture until its timeout; the recheck must come after it.
    expect(Number(props(fnResource(s, 'ChargePayment')).Timeout) * 2).toBeLessThanOrEqual(CHARGE_RECHECK_AFTER_SECONDS);
  });

  it('runs the reconciler every minute, without a reservation, with the payment settings and the pending TTL', () => {
    const f = catalogEntry('Reconciler');
    expect(nonTableEnv(s, f)).toEqual({
      ...BASE_ENV,
      PAYMENT_PROVIDER: 'simulated',
      PAYMENT_CURRENCY: 'KRW',
      PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
      PENDING_TTL_SECONDS: '300',
    });
    expect(props(fnResource(s, 'Reconciler')).ReservedConcurrentExecutions).toBeUndefined();
    const rules = resourcesOfType(s.json, 'AWS::Events::Rule').map(([, r]) => props(r));
    const schedule = rules.find((r) => r.ScheduleExpression === 'rate(1 minute)');
    expect(schedule).toBeDefined();
    expect(JSON.stringify(schedule?.Targets)).toContain(get(s.functionLogicalId, 'Reconciler'));
  });

  it("gives each saga function exactly its catalog entry's table variables and the payment settings it needs", () => {
    for (const f of SAGA_FUNCTIONS) {
      const expected: Record<string, unknown> = { ...BASE_ENV };
      if (f.payments)
        Object.assign(expected, {
          PAYMENT_PROVIDER: 'simulated',
          PAYMENT_CURRENCY: 'KRW',
          PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
        });
      expect(nonTableEnv(s, f), f.id).toEqual(expected);
    }
  });

  it('gives the Api function its tables, the state machine, the workflow type and the wait', () => {
    const api = catalogEntry('Api');
    expect(nonTableEnv(s, api)).toEqual({
      ...BASE_ENV,
      STATE_MACHINE_ARN: { Ref: s.stateMachineLogicalId },
      WORKFLOW_TYPE: 'EXPRESS',
      WORKFLOW_WAIT_MS: '8000',
    });
    expect(nonTableEnv(standard, api)).toEqual({
      ...BASE_ENV,
      STATE_MACHINE_ARN: { Ref: standard.stateMachineLogicalId },
      WORKFLOW_TYPE: 'STANDARD',
      WORKFLOW_WAIT_MS: '3000',
    });
  });

  it('gives the Authorizer no table and its JWT settings: HS256 with the generated secret by default', () => {
    const authorizer = catalogEntry('Authorizer');
    expect(authorizer.access).toEqual({});
    expect(s.secretLogicalId).toBeDefined();
    expect(nonTableEnv(s, authorizer)).toEqual({
      ...BASE_ENV,
      JWT_ALGORITHM: 'HS256',
      ADMIN_CLAIM: 'role',
      ADMIN_VALUE: 'admin',
      JWT_SECRET_ARN: { Ref: s.secretLogicalId },
    });
    // Issuer and audience only when given.
    expect(nonTableEnv(standard, authorizer)).toEqual({
      ...BASE_ENV,
      JWT_ALGORITHM: 'HS256',
      ADMIN_CLAIM: 'role',
      ADMIN_VALUE: 'admin',
      JWT_SECRET_ARN: { Ref: standard.secretLogicalId },
      JWT_ISSUER: STANDARD_PROPS.jwtIssuer,
      JWT_AUDIENCE: STANDARD_PROPS.jwtAudience,
    });
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    s.template.hasOutput('JwtSecretArn', { Value: { Ref: s.secretLogicalId } });
  });

  it('verifies RS256 against the JWKS URL when one is given, with no secret at all', () => {
    expect(jwks.secretLogicalId).toBeUndefined();
    jwks.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(Object.keys(jwks.json.Outputs ?? {})).not.toContain('JwtSecretArn');
    expect(nonTableEnv(jwks, catalogEntry('Authorizer'))).toEqual({
      ...BASE_ENV,
      JWT_ALGORITHM: 'RS256',
      ADMIN_CLAIM: JWKS_PROPS.adminClaim,
      ADMIN_VALUE: JWKS_PROPS.adminValue,
      JWKS_URL: JWKS_PROPS.jwksUrl,
      JWT_ISSUER: JWKS_PROPS.jwtIssuer,
      JWT_AUDIENCE: JWKS_PROPS.jwtAudience,
      JWT_MAX_LIFETIME_SECONDS: '3600',
    });
  });

  it('refuses a JWKS URL without both an issuer and an audience: its keys sign tokens for other clients too', () => {
    const { jwtIssuer: _issuer, jwtAudience: _audience, ...keysOnly } = JWKS_PROPS;
    for (const props of [
      keysOnly,
      { ...keysOnly, jwtIssuer: 'https://idp.example.com/' },
      { ...keysOnly, jwtAudience: 'x' },
    ]) {
      expect(() => synth(props), JSON.stringify(props)).toThrow(/jwksUrl needs jwtIssuer and jwtAudience/);
    }
  });

  it('refuses a JWKS URL that is not https', () => {
    for (const jwksUrl of [
      'http://idp.example.com/jwks.json',
      'idp.example.com/jwks.json',
      'https://idp.example.com/with space',
    ]) {
      expect(() => synth({ jwksUrl }), jwksUrl).toThrow(/jwksUrl must be an https URL/);
    }
  });

  it("grants each function exactly its catalog entry's DynamoDB actions per table, nothing more", () => {
    for (const [config, synthed] of configs()) {
      for (const f of ALL_FUNCTIONS) {
        const { grants, unexpected } = dynamoGrants(synthed, f.id);
        expect(unexpected, `${config} ${f.id}`).toEqual([]);
        expect(grants, `${config} ${f.id}`).toEqual(expectedGrants(f));
      }
    }
    // The API's reads really are exact: Scan only on the catalog, Query only where the catalog says.
    const api = dynamoGrants(s, 'Api').grants;
    expect([...api].filter((g) => g.endsWith('dynamodb:Scan'))).toEqual(['Catalog|dynamodb:Scan']);
    expect([...api].filter((g) => g.endsWith('dynamodb:Query')).sort()).toEqual(
      ['Coupons', 'Inventory', 'Orders'].map((t) => `${t}|dynamodb:Query`),
    );
    // The reconciler reads the orders it must act on from the byStatus index, and only there.
    expect([...dynamoGrants(s, 'Reconciler').grants].filter((g) => g.endsWith('dynamodb:Query'))).toEqual([
      'Orders/index/*|dynamodb:Query',
    ]);
  });

  it('grants beyond DynamoDB only X-Ray, plus StartSyncExecution (EXPRESS) or StartExecution and DescribeExecution (STANDARD) to the Api and the secret to the HS256 Authorizer', () => {
    for (const [config, synthed, workflowType] of configs()) {
      for (const f of ALL_FUNCTIONS) {
        const { grants, unexpected } = otherGrants(synthed, f.id);
        expect(unexpected, `${config} ${f.id}`).toEqual([]);
        expect(grants, `${config} ${f.id}`).toEqual(expectedOtherGrants(synthed, f.id, workflowType));
      }
    }
    // Spelled out: the Authorizer reads no secret with a JWKS URL.
    expect([...otherGrants(jwks, 'Authorizer').grants].filter((g) => g.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('lets the Notifier publish to a given topic, and use its customer-managed key when one is named', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:111122223333:shop-notifications';
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/0b0f6a1e-1111-4c8e-9f7e-0123456789ab';
    const notifierGrants = (props: PurchaseSagaStackProps) => {
      const { grants, unexpected } = otherGrants(synth(props), 'Notifier');
      expect(unexpected).toEqual([]);
      return [...grants].filter((g) => !g.startsWith('xray:') && !g.startsWith('sqs:')).sort();
    };
    expect(notifierGrants({ notificationTopicArn: topicArn })).toEqual([`sns:Publish on ${topicArn}`]);
    // SNS encrypts with the topic's key on the publisher's behalf: without these it refuses Publish.
    expect(notifierGrants({ notificationTopicArn: topicArn, notificationTopicKeyArn: keyArn })).toEqual([
      `kms:Decrypt on ${keyArn}`,
      `kms:GenerateDataKey* on ${keyArn}`,
      `sns:Publish on ${topicArn}`,
    ]);
    expect(() => synth({ notificationTopicKeyArn: keyArn })).toThrow(/notificationTopicKeyArn .* not set/);
  });

  it('lets only the Api role call Step Functions and only the Authorizer role read secrets, in the whole template', () => {
    for (const [config, synthed] of configs()) {
      const apiRole = get(synthed.roleLogicalId, 'Api');
      const authorizerRole = get(synthed.roleLogicalId, 'Authorizer');
      const policies: { roles: string[]; statements: PolicyStatement[] }[] = [
        ...resourcesOfType(synthed.json, 'AWS::IAM::Policy').map(([, p]) => ({
          roles: (props(p).Roles as unknown[]).map(render),
          statements: (props(p).PolicyDocument as { Statement: PolicyStatement[] }).Statement,
        })),
        ...resourcesOfType(synthed.json, 'AWS::IAM::Role').map(([id, r]) => ({
          roles: [`\${${id}}`],
          statements: ((props(r).Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[]).flatMap(
            (p) => p.PolicyDocument.Statement,
          ),
        })),
      ];
      for (const { roles, statements } of policies) {
        for (const st of statements) {
          const actions = asArray(st.Action ?? []).map((a) => a.toLowerCase());
          expect(actions, `${config} ${roles.join()}`).not.toContain('*');
          if (actions.some((a) => a.startsWith('states:')))
            expect(roles, `${config} states`).toEqual([`\${${apiRole}}`]);
          if (actions.some((a) => a.startsWith('secretsmanager:')))
            expect(roles, `${config} secrets`).toEqual([`\${${authorizerRole}}`]);
        }
      }
    }
  });

  it('gives the function roles no managed policy beyond basic execution (logs)', () => {
    for (const f of ALL_FUNCTIONS) {
      const managed = (props(s.json.Resources[get(s.roleLogicalId, f.id)]).ManagedPolicyArns ?? []) as unknown[];
      expect(managed.map(render), f.id).toEqual([
        'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      ]);
    }
  });

  it('tags each function with its source folder for the local stand-in', () => {
    for (const f of ALL_FUNCTIONS) {
      expect(fnResource(s, f.id).Metadata?.[SOURCE_METADATA], f.id).toBe(`lambdas/${f.dir}`);
      expect(existsSync(join(REPO_ROOT, 'lambdas', f.dir, 'handler.ts')), `lambdas/${f.dir}/handler.ts`).toBe(true);
    }
  });

  it('substitutes every saga function ARN into the state machine definition', () => {
    const subs = stateMachine(s).DefinitionSubstitutions as Record<string, unknown>;
    expect(Object.keys(subs).sort()).toEqual(SAGA_FUNCTIONS.map((f) => `${f.id}FunctionArn`).sort());
    for (const f of SAGA_FUNCTIONS) {
      expect(subs[`${f.id}FunctionArn`], f.id).toEqual({ 'Fn::GetAtt': [get(s.functionLogicalId, f.id), 'Arn'] });
    }
  });

  it('has a substitution for every placeholder in statemachine/purchase.asl.json and vice versa', () => {
    const asl = readFileSync(ASL_PATH, 'utf8');
    expect(() => JSON.parse(asl) as unknown).not.toThrow();
    const subs = stateMachine(s).DefinitionSubstitutions as Record<string, unknown>;
    expect([...placeholdersIn(asl)].sort()).toEqual(Object.keys(subs).sort());
  });

  it('loads the definition from the ASL file as an asset', () => {
    const sm = stateMachine(s);
    expect(sm.DefinitionS3Location).toBeDefined();
    expect(sm.DefinitionString).toBeUndefined();
  });

  it('lets the state machine invoke every saga function and neither edge function', () => {
    const smRoleRef = (stateMachine(s).RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = roleStatements(s.json, smRoleRef).filter((st) =>
      asArray(st.Action ?? []).includes('lambda:InvokeFunction'),
    );
    const resources = JSON.stringify(statements.flatMap((st) => asArray(st.Resource ?? [])));
    for (const f of SAGA_FUNCTIONS) expect(resources, f.id).toContain(`"${get(s.functionLogicalId, f.id)}"`);
    for (const f of EDGE_FUNCTIONS) expect(resources, f.id).not.toContain(`"${get(s.functionLogicalId, f.id)}"`);
  });

  it('defaults to an EXPRESS workflow with X-Ray and full execution logs', () => {
    const sm = stateMachine(s);
    expect(sm.StateMachineType).toBe('EXPRESS');
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    const logging = sm.LoggingConfiguration as {
      Level: string;
      IncludeExecutionData: boolean;
      Destinations: unknown[];
    };
    expect(logging.Level).toBe('ALL');
    expect(logging.IncludeExecutionData).toBe(true);
    expect(logging.Destinations).toHaveLength(1);
    s.template.hasOutput('WorkflowType', { Value: 'EXPRESS' });
  });

  it('builds a STANDARD workflow logging errors when asked', () => {
    const sm = stateMachine(standard);
    expect(sm.StateMachineType).toBe('STANDARD');
    expect((sm.LoggingConfiguration as { Level: string }).Level).toBe('ERROR');
    standard.template.hasOutput('WorkflowType', { Value: 'STANDARD' });
  });

  // ---- The HTTP edge ---------------------------------------------------------------------------

  it('serves exactly the routes of API_ROUTES, one method each, on one regional REST API', () => {
    const [, restApi] = single(s, 'AWS::ApiGateway::RestApi');
    expect(restApi.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    const methods = apiMethods(s).map((m) => m.key);
    expect(methods.sort()).toEqual([...routeKeys].sort());
    expect(new Set(methods).size).toBe(methods.length);
  });

  it('puts every method behind the TOKEN authorizer on the Authorization header, cached 5 minutes', () => {
    const [authorizerId, authorizer] = single(s, 'AWS::ApiGateway::Authorizer');
    expect(authorizer.Type).toBe('TOKEN');
    expect(authorizer.IdentitySource).toBe('method.request.header.Authorization');
    expect(authorizer.AuthorizerResultTtlInSeconds).toBe(300);
    expect(authorizer.RestApiId).toEqual({ Ref: s.restApiLogicalId });
    expect(render(authorizer.AuthorizerUri)).toMatch(
      new RegExp(
        `:lambda:path/2015-03-31/functions/\\$\\{${get(s.functionLogicalId, 'Authorizer')}\\.Arn\\}/invocations$`,
      ),
    );
    for (const { key, props: m } of apiMethods(s)) {
      expect(m.AuthorizationType, key).toBe('CUSTOM');
      expect(m.AuthorizerId, key).toEqual({ Ref: authorizerId });
      expect(m.ApiKeyRequired ?? false, key).toBe(false);
    }
  });

  it('proxies every method to the Api function (AWS_PROXY)', () => {
    const apiFn = get(s.functionLogicalId, 'Api');
    for (const { key, props: m } of apiMethods(s)) {
      const integration = m.Integration as { Type?: string; IntegrationHttpMethod?: string; Uri?: unknown };
      expect(integration.Type, key).toBe('AWS_PROXY');
      expect(integration.IntegrationHttpMethod, key).toBe('POST');
      expect(render(integration.Uri), key).toBe(
        `arn:\${AWS::Partition}:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${${apiFn}.Arn}/invocations`,
      );
    }
  });

  it('lets API Gateway invoke the Api function on exactly the routes of the stage, the Authorizer as the authorizer, and nothing else', () => {
    const [stageId] = single(s, 'AWS::ApiGateway::Stage');
    const [authorizerId] = single(s, 'AWS::ApiGateway::Authorizer');
    const apiPrefix = `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${${s.restApiLogicalId}}`;
    // EventBridge may invoke the scheduled and event-driven functions; everything else is API Gateway's.
    const all = resourcesOfType(s.json, 'AWS::Lambda::Permission').map(([, r]) => props(r));
    for (const p of all.filter((x) => x.Principal === 'events.amazonaws.com')) {
      expect(['Reconciler', 'Notifier'].map((id) => `\${${s.functionLogicalId.get(id) ?? id}.Arn}`)).toContain(
        render(p.FunctionName),
      );
    }
    const permissions = all.filter((x) => x.Principal !== 'events.amazonaws.com');
    for (const p of permissions) {
      expect(p.Action).toBe('lambda:InvokeFunction');
      expect(p.Principal).toBe('apigateway.amazonaws.com');
    }
    const sourcesOf = (fnId: string): string[] =>
      permissions
        .filter((p) => render(p.FunctionName) === `\${${get(s.functionLogicalId, fnId)}.Arn}`)
        .map((p) => render(p.SourceArn))
        .sort();
    expect(sourcesOf('Api')).toEqual(
      API_ROUTES.map((r) => `${apiPrefix}/\${${stageId}}/${r.method}${r.path.replace(/\{[^}]+\}/g, '*')}`).sort(),
    );
    expect(sourcesOf('Authorizer')).toEqual([`${apiPrefix}/authorizers/\${${authorizerId}}`]);
    expect(permissions).toHaveLength(API_ROUTES.length + 1);
  });

  it('deploys the stage v1 with X-Ray tracing and stage-wide throttling (default 50/s, burst 100; configurable)', () => {
    expect([DEFAULT_API_RATE_LIMIT, DEFAULT_API_BURST_LIMIT]).toEqual([50, 100]);
    for (const [synthed, rate, burst] of [
      [s, 50, 100],
      [standard, STANDARD_PROPS.apiRateLimit, STANDARD_PROPS.apiBurstLimit],
    ] as const) {
      const [, stage] = single(synthed, 'AWS::ApiGateway::Stage');
      expect(stage.StageName).toBe('v1');
      expect(stage.TracingEnabled).toBe(true);
      expect(stage.RestApiId).toEqual({ Ref: synthed.restApiLogicalId });
      const settings = stage.MethodSettings as Record<string, unknown>[];
      expect(settings).toContainEqual(
        expect.objectContaining({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: rate,
          ThrottlingBurstLimit: burst,
        }),
      );
      // No method overrides the stage-wide limits.
      for (const m of settings) {
        if (m.ThrottlingRateLimit !== undefined) expect(m.ThrottlingRateLimit).toBe(rate);
        if (m.ThrottlingBurstLimit !== undefined) expect(m.ThrottlingBurstLimit).toBe(burst);
      }
    }
  });

  it('answers every GATEWAY_PROBLEMS entry as application/problem+json with its type, title and status', () => {
    const responses = resourcesOfType(s.json, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => props(r));
    expect(responses.map((r) => r.ResponseType).sort()).toEqual(GATEWAY_PROBLEMS.map((g) => g.response).sort());
    for (const g of GATEWAY_PROBLEMS) {
      // ResponseType.of accepts any string; CloudFormation accepts only API Gateway's own types.
      expect(Object.keys(ResponseType), g.response).toContain(g.response);
      const slug = (Object.keys(PROBLEMS) as ProblemType[]).find((p) => problemTypeUri(p) === g.type);
      if (!slug) throw new Error(`${g.response}: ${g.type} is not a problem type`);
      expect(PROBLEMS[slug], g.response).toEqual({ status: g.status, title: g.title });
      const r = responses.find((x) => x.ResponseType === g.response);
      expect(r?.RestApiId, g.response).toEqual({ Ref: s.restApiLogicalId });
      expect(r?.StatusCode, g.response).toBe(String(g.status));
      expect(r?.ResponseParameters, g.response).toEqual({
        'gatewayresponse.header.Content-Type': "'application/problem+json'",
      });
      const templates = (r?.ResponseTemplates ?? {}) as Record<string, string>;
      expect(Object.keys(templates), g.response).toEqual(['application/json']);
      expect(JSON.parse(templates['application/json'] ?? 'null'), g.response).toEqual({
        type: problemTypeUri(slug),
        title: g.title,
        status: g.status,
      });
    }
  });

  it('outputs the API URL of the stage', () => {
    const [stageId] = single(s, 'AWS::ApiGateway::Stage');
    expect(render(s.json.Outputs?.['ApiUrl']?.Value)).toBe(
      `https://\${${s.restApiLogicalId}}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/\${${stageId}}/`,
    );
  });

  // ---- Options ---------------------------------------------------------------------------------

  it('refuses the http payment provider without a URL', () => {
    expect(() => synth({ paymentProvider: 'http' })).toThrow(/paymentProviderUrl/);
    expect(() => synth({ paymentProvider: 'http', paymentProviderUrl: '  ' })).toThrow(/paymentProviderUrl/);
  });

  it('passes the http provider URL to the payment functions only', () => {
    const http = synth({ paymentProvider: 'http', paymentProviderUrl: 'https://pay.example.com' });
    for (const f of ALL_FUNCTIONS) {
      const env = fnEnv(http, f.id);
      if (f.payments) {
        expect(env.PAYMENT_PROVIDER, f.id).toBe('http');
        expect(env.PAYMENT_PROVIDER_URL, f.id).toBe('https://pay.example.com');
      } else {
        expect(env.PAYMENT_PROVIDER, f.id).toBeUndefined();
        expect(env.PAYMENT_PROVIDER_URL, f.id).toBeUndefined();
      }
    }
  });

  it('outputs the state machine ARN, workflow type and every table name', () => {
    s.template.hasOutput('StateMachineArn', { Value: { Ref: Match.stringLikeRegexp('^PurchaseStateMachine') } });
    for (const t of TABLE_IDS) s.template.hasOutput(`${t}TableName`, { Value: { Ref: s.tableLogicalId[t] } });
  });

  it('is environment-agnostic', () => {
    expect(Token.isUnresolved(s.stack.account)).toBe(true);
    expect(Token.isUnresolved(s.stack.region)).toBe(true);
    expect(JSON.stringify(s.json)).not.toMatch(
      /\b\d{12}\b|(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central|northeast|southeast)-\d/,
    );
  });
});
