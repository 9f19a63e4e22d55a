import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { HttpResponse } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { snsError } from './sns.js';
import type { CfnTemplate } from './template.js';

/**
 * IAM for the local stand-in: every AWS SDK call a function makes while it runs here is checked
 * against that function's role policies, read from the synthesized template, and a call AWS
 * would deny is answered the way AWS answers it — HTTP 400 `AccessDeniedException`, which the SDK
 * throws as such. So a missing grant fails a local test instead of a deployed purchase.
 *
 * How: the local Lambda runtime runs each invocation inside `asFunction` (an AsyncLocalStorage
 * scope naming the function and its policies); every SDK client sends through Smithy's
 * NodeHttpHandler, which is wrapped once per process to map the request to the (action,
 * resource) pairs IAM would evaluate. Calls made outside a function (tests, seeding, the
 * stand-in's own services) are not checked. A call the mapping does not know is refused, naming
 * it: unmapped means unchecked, and unchecked must not pass for allowed.
 */

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
}

export interface Caller {
  /** The function's id (the role session name in messages). */
  functionId: string;
  /** Where the function runs: names without an ARN (a table, a bus) are read as this account's. */
  where: { region: string; account: string };
  statements: Statement[];
  /** Every (action, resource) this function was allowed, for least-privilege reports. */
  record?: (action: string, resource: string) => void;
  /** The customer-managed KMS key of each SNS topic the stand-in plays that has one. */
  topicKeys?: ReadonlyMap<string, string>;
}

export interface Request {
  action: string;
  resource: string;
}

const scope = new AsyncLocalStorage<Caller>();

/** Run `work` as the function `caller`: its SDK calls are evaluated against its policies. */
export function asFunction<T>(caller: Caller, work: () => T): T {
  installEnforcement();
  return scope.run(caller, work);
}

// ---- Policies from the template ---------------------------------------------------------------

type Intrinsic = unknown;

/**
 * CloudFormation values as the stand-in reads them: strings, `Ref` (pseudo parameters, or
 * `resolve(logicalId, 'Ref')`), `Fn::GetAtt` (`resolve(logicalId, attribute)`), `Fn::Join`,
 * `Fn::Split`, `Fn::Select`. Anything else is refused, naming it.
 */
export function intrinsicResolver(
  resolve: (logicalId: string, attribute: string) => string,
  pseudo: { region: string; account: string },
): { one: (x: Intrinsic) => string; list: (x: Intrinsic) => string[] } {
  const value = (x: Intrinsic): string | string[] => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x)) return x.flatMap((v) => value(v));
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if ('Ref' in o) {
        const ref = String(o['Ref']);
        if (ref === 'AWS::Region') return pseudo.region;
        if (ref === 'AWS::AccountId') return pseudo.account;
        if (ref === 'AWS::Partition') return 'aws';
        if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
        return resolve(ref, 'Ref');
      }
      if ('Fn::GetAtt' in o) {
        const [id, attribute] = o['Fn::GetAtt'] as [string, string];
        return resolve(id, attribute);
      }
      if ('Fn::Join' in o) {
        const [sep, parts] = o['Fn::Join'] as [string, Intrinsic[]];
        return parts.map((p) => one(p)).join(sep);
      }
      if ('Fn::Split' in o) {
        const [sep, source] = o['Fn::Split'] as [string, Intrinsic];
        return one(source).split(sep);
      }
      if ('Fn::Select' in o) {
        const [index, list] = o['Fn::Select'] as [number | string, Intrinsic];
        const items = value(list);
        const picked = (Array.isArray(items) ? items : [items])[Number(index)];
        if (picked === undefined) throw new Error(`Fn::Select ${String(index)} out of range`);
        return picked;
      }
    }
    throw new Error(`Cannot resolve ${JSON.stringify(x)} locally`);
  };
  const one = (x: Intrinsic): string => {
    const v = value(x);
    if (Array.isArray(v)) throw new Error(`Expected one value, got ${JSON.stringify(v)}`);
    return v;
  };
  const list = (x: Intrinsic): string[] => {
    const v = value(x);
    return Array.isArray(v) ? v : [v];
  };
  return { one, list };
}

/**
 * The identity policy statements of each function's role and of the state machine's role,
 * intrinsics resolved by `arnOf` (a resource's `Arn`, `StreamArn` or `Ref` as the stand-in names
 * it). Keyed by the function's or the state machine's logical id.
 */
export function rolePolicies(
  template: CfnTemplate,
  resolve: (logicalId: string, attribute: string) => string,
  pseudo: { region: string; account: string },
): Map<string, Statement[]> {
  const { list } = intrinsicResolver(resolve, pseudo);

  const byRole = new Map<string, Statement[]>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const props = r.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] }; Roles?: Intrinsic[] };
    const statements = props.PolicyDocument.Statement.map((s): Statement => {
      if (s['Condition'] !== undefined || s['NotAction'] !== undefined || s['NotResource'] !== undefined) {
        throw new Error(`An identity policy statement the local evaluator does not support: ${JSON.stringify(s)}`);
      }
      return {
        Effect: s['Effect'] === 'Deny' ? 'Deny' : 'Allow',
        Action: list(s['Action']),
        Resource: list(s['Resource']),
      };
    });
    for (const role of props.Roles ?? []) {
      const id = (role as { Ref: string }).Ref;
      byRole.set(id, [...(byRole.get(id) ?? []), ...statements]);
    }
  }
  const byResource = new Map<string, Statement[]>();
  const roleProperty: Record<string, string> = {
    'AWS::Lambda::Function': 'Role',
    'AWS::StepFunctions::StateMachine': 'RoleArn',
  };
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    const property = roleProperty[r.Type];
    if (!property) continue;
    const role = (r.Properties?.[property] as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    byResource.set(logicalId, role ? (byRole.get(role) ?? []) : []);
  }
  return byResource;
}

// ---- Evaluation ---------------------------------------------------------------------------------

/** Each policy pattern compiled once: every SDK call of every function is evaluated. */
const compiled = new Map<string, RegExp>();

/** IAM's wildcards: `*` any run of characters, `?` one. Actions compare without case. */
export function matches(pattern: string, value: string, ignoreCase = false): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = compiled.get(key);
  if (!re) {
    const source = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
    compiled.set(key, re);
  }
  return re.test(value);
}

/** An explicit Deny wins; otherwise some Allow must match; otherwise the implicit deny. */
export function isAllowed(statements: Statement[], { action, resource }: Request): boolean {
  const applies = (s: Statement) =>
    s.Action.some((a) => matches(a, action, true)) && s.Resource.some((r) => matches(r, resource));
  const applicable = statements.filter(applies);
  return applicable.some((s) => s.Effect === 'Allow') && !applicable.some((s) => s.Effect === 'Deny');
}

/**
 * What the Lambda service asks of a function's role when the function is wired up (an event
 * source mapping that reads a stream or a queue, a destination for what failed): the requests
 * among `requests` the role denies. Those it allows are recorded as used.
 */
export function deniedTo(caller: Caller, requests: Request[]): Request[] {
  const denied = requests.filter((r) => !isAllowed(caller.statements, r));
  for (const r of requests) if (!denied.includes(r)) caller.record?.(r.action, r.resource);
  return denied;
}

/** AWS refused to create a mapping or accept a destination: the function's role lacks what the service needs. */
export class ServiceRoleRefused extends Error {
  override readonly name = 'InvalidParameterValueException';
}

// ---- Requests -> (action, resource) ----------------------------------------------------------------

export class UnmappedCall extends Error {
  override readonly name = 'UnmappedCall';
}

type Body = Record<string, unknown>;
const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new UnmappedCall(`${what} is missing`);
  return v;
};

/** The (action, resource) pairs IAM evaluates for one JSON-protocol request (`X-Amz-Target`). */
export function requestsOf(target: string, body: Body, where: { region: string; account: string }): Request[] {
  const [service = '', operation = ''] = target.split('.');
  const arn = (svc: string, rest: string) => `arn:aws:${svc}:${where.region}:${where.account}:${rest}`;

  if (service.startsWith('DynamoDB_')) {
    const table = (name: unknown) => {
      const n = str(name, `${operation}: TableName`);
      return n.startsWith('arn:') ? n : arn('dynamodb', `table/${n}`);
    };
    const on = (action: string, t: unknown, index?: unknown): Request => ({
      action: `dynamodb:${action}`,
      resource: typeof index === 'string' ? `${table(t)}/index/${index}` : table(t),
    });
    switch (operation) {
      case 'GetItem':
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return [on(operation, body['TableName'])];
      case 'Query':
      case 'Scan':
        return [on(operation, body['TableName'], body['IndexName'])];
      case 'TransactWriteItems': {
        // Each item is authorised as its own operation on its own table.
        const kinds: Record<string, string> = {
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          ConditionCheck: 'ConditionCheckItem',
        };
        return ((body['TransactItems'] ?? []) as Body[]).map((item) => {
          const [kind, spec] = Object.entries(item)[0] ?? [];
          const action = kind ? kinds[kind] : undefined;
          if (!action) throw new UnmappedCall(`TransactWriteItems item ${JSON.stringify(item).slice(0, 80)}`);
          return on(action, (spec as Body)['TableName']);
        });
      }
      case 'TransactGetItems':
        return ((body['TransactItems'] ?? []) as Body[]).map((item) =>
          on('GetItem', (item['Get'] as Body)['TableName']),
        );
      case 'BatchWriteItem':
        return Object.entries((body['RequestItems'] ?? {}) as Record<string, Body[]>).flatMap(([t, writes]) =>
          writes.map((w) => on('PutRequest' in w ? 'PutItem' : 'DeleteItem', t)),
        );
      case 'BatchGetItem':
        return Object.keys((body['RequestItems'] ?? {}) as Body).map((t) => on('BatchGetItem', t));
    }
  }
  if (service === 'AWSStepFunctions') {
    switch (operation) {
      case 'StartExecution':
      case 'StartSyncExecution':
        return [
          { action: `states:${operation}`, resource: str(body['stateMachineArn'], `${operation}: stateMachineArn`) },
        ];
      case 'DescribeExecution':
      case 'GetExecutionHistory':
      case 'StopExecution':
        return [{ action: `states:${operation}`, resource: str(body['executionArn'], `${operation}: executionArn`) }];
    }
  }
  if (service === 'secretsmanager' && operation === 'GetSecretValue') {
    const id = str(body['SecretId'], 'GetSecretValue: SecretId');
    return [
      {
        action: 'secretsmanager:GetSecretValue',
        resource: id.startsWith('arn:') ? id : arn('secretsmanager', `secret:${id}`),
      },
    ];
  }
  if (service === 'AWSEvents' && operation === 'PutEvents') {
    return ((body['Entries'] ?? []) as Body[]).map((e) => {
      const bus = typeof e['EventBusName'] === 'string' ? e['EventBusName'] : 'default';
      return { action: 'events:PutEvents', resource: bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`) };
    });
  }
  throw new UnmappedCall(`No IAM mapping for ${target || 'a request without X-Amz-Target'}`);
}

/**
 * The (action, resource) pairs of one query-protocol request (a form body `Action=...`; SNS is
 * the one such service the functions call), `service` being the signing name. Publishing to a
 * topic under a customer-managed key also needs that key: SNS calls KMS with the publisher's
 * own permissions, so the publisher's role must allow kms:GenerateDataKey and kms:Decrypt on it.
 */
export function queryRequestsOf(
  service: string,
  params: URLSearchParams,
  topicKeys: ReadonlyMap<string, string> = new Map(),
): Request[] {
  const action = params.get('Action') ?? '';
  if (service === 'sns' && action === 'Publish') {
    const topic = str(params.get('TopicArn') ?? params.get('TargetArn'), 'Publish: TopicArn');
    const key = topicKeys.get(topic);
    return [
      { action: 'sns:Publish', resource: topic },
      ...(key
        ? [
            { action: 'kms:GenerateDataKey', resource: key },
            { action: 'kms:Decrypt', resource: key },
          ]
        : []),
    ];
  }
  throw new UnmappedCall(`No IAM mapping for ${service || 'an unsigned request'} ${action || '(no Action)'}`);
}

// ---- Enforcement at the SDK's HTTP handler ------------------------------------------------------------

let installed = false;

function installEnforcement(): void {
  if (installed) return;
  installed = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the handler instance as `this`
  const send = NodeHttpHandler.prototype.handle;
  NodeHttpHandler.prototype.handle = async function (this: NodeHttpHandler, request, options) {
    const caller = scope.getStore();
    if (!caller) return send.call(this, request, options);
    const header = (name: string) => request.headers[name] ?? request.headers[name.toLowerCase()] ?? '';
    const target = header('X-Amz-Target');
    const raw: unknown = request.body;
    // The SDK's JSON bodies are Uint8Arrays that warn when used as strings: decode the bytes.
    const text = typeof raw === 'string' ? raw : raw instanceof Uint8Array ? new TextDecoder().decode(raw) : '';
    // The query protocol (SNS) names no target: its service is the signature's, its operation `Action`.
    const query = !target && header('Content-Type').startsWith('application/x-www-form-urlencoded');
    const service = query ? (/Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(header('Authorization'))?.[1] ?? '') : '';
    let requests: Request[];
    try {
      requests = query
        ? queryRequestsOf(service, new URLSearchParams(text), caller.topicKeys)
        : requestsOf(target, text ? (JSON.parse(text) as Body) : {}, caller.where);
    } catch (err) {
      if (!(err instanceof UnmappedCall)) throw err;
      const what = { action: target || service, resource: '(unmapped)' };
      return { response: denied(caller, what, query, `unmapped call: ${err.message}`) };
    }
    for (const r of requests) {
      if (!isAllowed(caller.statements, r)) return { response: denied(caller, r, query) };
    }
    for (const r of requests) caller.record?.(r.action, r.resource);
    return send.call(this, request, options);
  };
}

function denied(caller: Caller, r: Request, query: boolean, why?: string): HttpResponse {
  const message =
    `User: arn:aws:sts::${caller.where.account}:assumed-role/${caller.functionId}Role/${caller.functionId} is not authorized to perform: ` +
    `${r.action} on resource: ${r.resource} because no identity-based policy allows the ${r.action} action` +
    (why ? ` (${why})` : '');
  if (query) {
    // SNS answers in XML: AuthorizationError for its own action, KMSAccessDenied when the
    // publisher may not use the topic's key (the SDK throws AuthorizationErrorException /
    // KMSAccessDeniedException).
    const kms = r.action.startsWith('kms:');
    const { status, body } = snsError(kms ? 400 : 403, kms ? 'KMSAccessDenied' : 'AuthorizationError', message);
    return new HttpResponse({
      statusCode: status,
      headers: { 'content-type': 'text/xml' },
      body: Readable.from([Buffer.from(body)]),
    });
  }
  return new HttpResponse({
    statusCode: 400,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'AccessDeniedException' },
    body: Readable.from([Buffer.from(JSON.stringify({ __type: 'AccessDeniedException', message, Message: message }))]),
  });
}
