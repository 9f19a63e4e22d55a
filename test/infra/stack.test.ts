import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnResource, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS, SOURCE_METADATA, TABLE_ENV, type SagaFunction, type TableId } from '../../infra/catalog.js';
import { ASL_PATH, PurchaseSagaStack, REPO_ROOT, type PurchaseSagaStackProps } from '../../infra/stack.js';

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
  Action: string | string[];
  Resource: unknown;
}

const TABLE_IDS: TableId[] = ['Accounts', 'Catalog', 'Inventory', 'Coupons', 'Orders', 'Payments', 'Idempotency'];
const BUSINESS_TABLES = TABLE_IDS.filter((t) => t !== 'Idempotency');

/** The project's cdk.json context (feature flags), minus the app options the tests set themselves. */
function projectContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const context = { ...(cdkJson.context ?? {}) };
  for (const key of ['workflowType', 'paymentProvider', 'paymentProviderUrl', 'retainData', 'stackName']) delete context[key];
  return context;
}

interface Synth {
  stack: PurchaseSagaStack;
  template: Template;
  json: CfnTemplate;
  tableLogicalId: Record<TableId, string>;
  functionLogicalId: Map<string, string>;
  roleLogicalId: Map<string, string>;
}

function synth(props: PurchaseSagaStackProps = {}): Synth {
  // No stack is bundled: esbuild never runs, the test stays fast and offline.
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new PurchaseSagaStack(app, 'TestPurchaseSaga', props);
  const template = Template.fromStack(stack);
  const logicalId = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnResource);
  const tableLogicalId = Object.fromEntries(TABLE_IDS.map((t) => [t, logicalId(stack.tables[t])])) as Record<TableId, string>;
  const functionLogicalId = new Map<string, string>();
  const roleLogicalId = new Map<string, string>();
  for (const [id, fn] of stack.functions) {
    functionLogicalId.set(id, logicalId(fn));
    if (!fn.role) throw new Error(`${id} has no role`);
    roleLogicalId.set(id, logicalId(fn.role));
  }
  return { stack, template, json: template.toJSON() as CfnTemplate, tableLogicalId, functionLogicalId, roleLogicalId };
}

function resourcesOfType(json: CfnTemplate, type: string): [string, Resource][] {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

function props(r: Resource | undefined): Record<string, unknown> {
  if (!r?.Properties) throw new Error('resource has no Properties');
  return r.Properties;
}

function asArray<T>(v: T | T[]): T[] {
  return Array.isArray(v) ? v : [v];
}

function get<T>(map: Map<string, T>, key: string): T {
  const v = map.get(key);
  if (v === undefined) throw new Error(`missing ${key}`);
  return v;
}

/** All statements of the inline policies attached to a role. */
function roleStatements(json: CfnTemplate, roleLogicalId: string): PolicyStatement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (props(p).Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap(([, p]) => (props(p).PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

/** Inline policy statements of the role's own AWS::IAM::Role resource, if any. */
function roleInlineStatements(json: CfnTemplate, roleLogicalId: string): PolicyStatement[] {
  const policies = (props(json.Resources[roleLogicalId]).Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
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

/** The (table, action) pairs a function may perform, as `Table|dynamodb:Action`, plus anything unexpected. */
function dynamoGrants(s: Synth, fnId: string): { grants: Set<string>; unexpected: string[] } {
  const byLogicalId = new Map(TABLE_IDS.map((t) => [s.tableLogicalId[t], t]));
  const grants = new Set<string>();
  const unexpected: string[] = [];
  const roleId = get(s.roleLogicalId, fnId);
  for (const st of [...roleStatements(s.json, roleId), ...roleInlineStatements(s.json, roleId)]) {
    const actions = asArray(st.Action);
    const resources = asArray(st.Resource);
    const touchesTables = resources.some((r) => TABLE_IDS.some((t) => JSON.stringify(r).includes(`"${s.tableLogicalId[t]}"`)));
    const dynamoActions = actions.filter((a) => a.toLowerCase().startsWith('dynamodb:') || a === '*');
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

function expectedGrants(spec: SagaFunction): Set<string> {
  const out = new Set<string>();
  for (const [table, actions] of Object.entries(spec.access)) {
    for (const a of actions ?? []) out.add(`${table}|dynamodb:${a}`);
    if (actions?.includes('Query')) out.add(`${table}/index/*|dynamodb:Query`);
  }
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

function stateMachine(s: Synth): Record<string, unknown> {
  const machines = resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine');
  expect(machines).toHaveLength(1);
  return props(machines[0]?.[1]);
}

describe('Stack: PurchaseSagaStack', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it('creates the six business tables with pk/sk, on-demand, PITR and AWS-managed encryption', () => {
    s.template.resourceCountIs('AWS::DynamoDB::Table', 7);
    for (const t of BUSINESS_TABLES) {
      const table = props(s.json.Resources[s.tableLogicalId[t]]);
      expect(table.KeySchema, t).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(table.AttributeDefinitions, t).toEqual(
        expect.arrayContaining([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
      );
      expect(table.BillingMode, t).toBe('PAY_PER_REQUEST');
      expect(table.PointInTimeRecoverySpecification, t).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(table.SSESpecification, t).toEqual({ SSEEnabled: true });
      expect(table.TableName, `${t} must not have a physical name`).toBeUndefined();
    }
  });

  it('uses the construct ids the local stand-in relies on', () => {
    for (const t of TABLE_IDS) expect(s.tableLogicalId[t].startsWith(`${t}Table`), t).toBe(true);
    for (const f of SAGA_FUNCTIONS) expect(get(s.functionLogicalId, f.id).startsWith(`${f.id}Function`), f.id).toBe(true);
  });

  it('streams new and old images of the orders table only (the transactional outbox)', () => {
    for (const t of BUSINESS_TABLES) {
      const stream = props(s.json.Resources[s.tableLogicalId[t]]).StreamSpecification;
      if (t === 'Orders') expect(stream).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
      else expect(stream, t).toBeUndefined();
    }
  });

  it('lays out the idempotency table as Powertools expects, with TTL on expiration', () => {
    const table = props(s.json.Resources[s.tableLogicalId.Idempotency]);
    expect(table.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(table.AttributeDefinitions).toEqual([{ AttributeName: 'id', AttributeType: 'S' }]);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiration', Enabled: true });
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.PointInTimeRecoverySpecification).toBeUndefined();
  });

  it('creates one nodejs22.x arm64 traced function per catalog entry', () => {
    const withSource = resourcesOfType(s.json, 'AWS::Lambda::Function').filter(([, r]) => r.Metadata?.[SOURCE_METADATA]);
    expect(withSource).toHaveLength(SAGA_FUNCTIONS.length);
    expect(SAGA_FUNCTIONS).toHaveLength(14);
    for (const f of SAGA_FUNCTIONS) {
      const p = props(fnResource(s, f.id));
      expect(p.Runtime, f.id).toBe('nodejs22.x');
      expect(p.Architectures, f.id).toEqual(['arm64']);
      expect(p.TracingConfig, f.id).toEqual({ Mode: 'Active' });
      expect(p.MemorySize, f.id).toBe(256);
      expect(p.Timeout, f.id).toBe(f.id === 'ChargePayment' || f.id === 'RefundPayment' ? 30 : 20);
      expect(p.Handler, f.id).toBe('index.handler');
      // Its own log group, kept one month.
      const logGroupRef = (p.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect(logGroupRef, f.id).toBeDefined();
      const logGroup = s.json.Resources[logGroupRef ?? ''];
      expect(logGroup?.Type).toBe('AWS::Logs::LogGroup');
      expect(props(logGroup).RetentionInDays).toBe(30);
    }
  });

  it("gives each function exactly its catalog entry's table variables", () => {
    for (const f of SAGA_FUNCTIONS) {
      const env = fnEnv(s, f.id);
      const tableVars = Object.keys(env).filter((k) => Object.values(TABLE_ENV).includes(k));
      const expected = Object.keys(f.access).map((t) => TABLE_ENV[t as TableId]);
      expect(new Set(tableVars), f.id).toEqual(new Set(expected));
      for (const t of Object.keys(f.access) as TableId[]) {
        expect(env[TABLE_ENV[t]], `${f.id} ${t}`).toEqual({ Ref: s.tableLogicalId[t] });
      }
      expect(env.POWERTOOLS_SERVICE_NAME).toBe('purchase-saga');
      expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
      const others = Object.keys(env).filter((k) => !tableVars.includes(k)).sort();
      const expectedOthers = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'];
      if (f.payments) expectedOthers.push('PAYMENT_CURRENCY', 'PAYMENT_PROVIDER', 'PAYMENT_PROVIDER_TIMEOUT_MS');
      expect(others, f.id).toEqual(expectedOthers.sort());
      if (f.payments) {
        expect(env.PAYMENT_PROVIDER).toBe('simulated');
        expect(env.PAYMENT_CURRENCY).toBe('KRW');
        expect(env.PAYMENT_PROVIDER_TIMEOUT_MS).toBe('10000');
      }
    }
  });

  it("grants each function exactly its catalog entry's DynamoDB actions per table, nothing more", () => {
    for (const f of SAGA_FUNCTIONS) {
      const { grants, unexpected } = dynamoGrants(s, f.id);
      expect(unexpected, f.id).toEqual([]);
      expect(grants, f.id).toEqual(expectedGrants(f));
    }
  });

  it('gives the function roles no managed policy beyond basic execution', () => {
    for (const f of SAGA_FUNCTIONS) {
      const managed = JSON.stringify(props(s.json.Resources[get(s.roleLogicalId, f.id)]).ManagedPolicyArns ?? []);
      expect(managed, f.id).toContain('AWSLambdaBasicExecutionRole');
      expect(managed, f.id).not.toMatch(/DynamoDB|FullAccess|Administrator/i);
    }
  });

  it('tags each function with its source folder for the local stand-in', () => {
    for (const f of SAGA_FUNCTIONS) {
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

  it('lets the state machine invoke every saga function', () => {
    const smRoleRef = (stateMachine(s).RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = roleStatements(s.json, smRoleRef).filter((st) => asArray(st.Action).includes('lambda:InvokeFunction'));
    const resources = JSON.stringify(statements.flatMap((st) => asArray(st.Resource)));
    for (const f of SAGA_FUNCTIONS) expect(resources, f.id).toContain(`"${get(s.functionLogicalId, f.id)}"`);
  });

  it('defaults to an EXPRESS workflow with X-Ray and full execution logs', () => {
    const sm = stateMachine(s);
    expect(sm.StateMachineType).toBe('EXPRESS');
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    const logging = sm.LoggingConfiguration as { Level: string; IncludeExecutionData: boolean; Destinations: unknown[] };
    expect(logging.Level).toBe('ALL');
    expect(logging.IncludeExecutionData).toBe(true);
    expect(logging.Destinations).toHaveLength(1);
    s.template.hasOutput('WorkflowType', { Value: 'EXPRESS' });
  });

  it('builds a STANDARD workflow logging errors when asked', () => {
    const standard = synth({ workflowType: 'STANDARD' });
    const sm = stateMachine(standard);
    expect(sm.StateMachineType).toBe('STANDARD');
    expect((sm.LoggingConfiguration as { Level: string }).Level).toBe('ERROR');
    standard.template.hasOutput('WorkflowType', { Value: 'STANDARD' });
  });

  it('refuses the http payment provider without a URL', () => {
    expect(() => synth({ paymentProvider: 'http' })).toThrow(/paymentProviderUrl/);
    expect(() => synth({ paymentProvider: 'http', paymentProviderUrl: '  ' })).toThrow(/paymentProviderUrl/);
  });

  it('passes the http provider URL to the payment functions only', () => {
    const http = synth({ paymentProvider: 'http', paymentProviderUrl: 'https://pay.example.com' });
    for (const f of SAGA_FUNCTIONS) {
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

  it('retains money, order, stock and item tables by default', () => {
    for (const t of ['Accounts', 'Orders', 'Catalog', 'Payments', 'Inventory', 'Coupons'] as const) {
      const table = s.json.Resources[s.tableLogicalId[t]];
      expect(table?.DeletionPolicy, t).toBe('Retain');
      expect(table?.UpdateReplacePolicy, t).toBe('Retain');
    }
    expect(s.json.Resources[s.tableLogicalId.Idempotency]?.DeletionPolicy).toBe('Delete');
  });

  it('destroys every table when retainData is false', () => {
    const scratch = synth({ retainData: false });
    for (const t of TABLE_IDS) expect(scratch.json.Resources[scratch.tableLogicalId[t]]?.DeletionPolicy, t).toBe('Delete');
  });

  it('outputs the state machine ARN, workflow type and every table name', () => {
    s.template.hasOutput('StateMachineArn', { Value: { Ref: Match.stringLikeRegexp('^PurchaseStateMachine') } });
    for (const t of TABLE_IDS) s.template.hasOutput(`${t}TableName`, { Value: { Ref: s.tableLogicalId[t] } });
  });

  it('is environment-agnostic', () => {
    expect(Token.isUnresolved(s.stack.account)).toBe(true);
    expect(Token.isUnresolved(s.stack.region)).toBe(true);
    expect(JSON.stringify(s.json)).not.toMatch(/\b\d{12}\b|(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central|northeast|southeast)-\d/);
  });
});
