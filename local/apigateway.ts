import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { z } from 'zod';
import { PROBLEMS, problemTypeUri } from '../lambdas/api/problems.js';
import { intrinsicResolver, matches } from './iam.js';
import type { LocalLambda } from './lambda-runtime.js';
import type { CfnTemplate } from './template.js';

/**
 * API Gateway (REST, v1 proxy integration) as the template describes it: the resource tree and
 * methods, the TOKEN authorizer with its result cache, stage throttling, and the gateway
 * responses — so the API Lambda and the authorizer get exactly the events API Gateway sends
 * and clients get exactly the answers API Gateway gives.
 */
export interface HttpRequest {
  method: string;
  /** Path below the stage, e.g. `/orders/o-1?x=1` (a query string is allowed). */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  sourceIp?: string;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

interface Method {
  httpMethod: string;
  resourcePath: string;
  resourceId: string;
  authorizer?: string;
  integrationFunction: string;
}

interface Authorizer {
  logicalId: string;
  functionLogicalId: string;
  identityHeader: string;
  ttlSeconds: number;
}

interface GatewayResponse {
  statusCode?: number;
  headers: Record<string, string>;
  body?: string;
}

const ResourceProps = z.object({ PathPart: z.string(), ParentId: z.unknown() });
const MethodProps = z.object({
  HttpMethod: z.string(),
  ResourceId: z.unknown(),
  AuthorizationType: z.string().optional(),
  AuthorizerId: z.object({ Ref: z.string() }).optional(),
  Integration: z.object({ Type: z.literal('AWS_PROXY'), Uri: z.unknown() }),
});
const AuthorizerProps = z.object({
  Type: z.literal('TOKEN'),
  IdentitySource: z.string(),
  AuthorizerResultTtlInSeconds: z.number().optional(),
  AuthorizerUri: z.unknown(),
});
const StageProps = z.object({
  StageName: z.string(),
  MethodSettings: z
    .array(z.object({ ThrottlingRateLimit: z.number().optional(), ThrottlingBurstLimit: z.number().optional() }))
    .optional(),
});
const GatewayResponseProps = z.object({
  ResponseType: z.string(),
  StatusCode: z.string().optional(),
  ResponseParameters: z.record(z.string(), z.string()).optional(),
  ResponseTemplates: z.record(z.string(), z.string()).optional(),
});

/** The first `Fn::GetAtt [X, 'Arn']` inside a CloudFormation expression: the Lambda it points to. */
function lambdaIn(expr: unknown): string | undefined {
  if (Array.isArray(expr)) return expr.map(lambdaIn).find((x) => x !== undefined);
  if (expr && typeof expr === 'object') {
    const getAtt = (expr as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string') return getAtt[0];
    return Object.values(expr)
      .map(lambdaIn)
      .find((x) => x !== undefined);
  }
  return undefined;
}

// API Gateway's own answers when the template does not override them.
const DEFAULT_RESPONSES: Record<string, { status: number; message: string | null }> = {
  MISSING_AUTHENTICATION_TOKEN: { status: 403, message: 'Missing Authentication Token' },
  UNAUTHORIZED: { status: 401, message: 'Unauthorized' },
  ACCESS_DENIED: { status: 403, message: 'User is not authorized to access this resource with an explicit deny' },
  AUTHORIZER_FAILURE: { status: 500, message: null },
  THROTTLED: { status: 429, message: 'Too Many Requests' },
  REQUEST_TOO_LARGE: { status: 413, message: 'Request Too Long' },
  INTEGRATION_TIMEOUT: { status: 504, message: 'Endpoint request timed out' },
  INTEGRATION_FAILURE: { status: 502, message: 'Internal server error' },
  // "Execution failed due to configuration error: Invalid permissions on Lambda function".
  API_CONFIGURATION_ERROR: { status: 500, message: 'Internal server error' },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, message: null },
};

const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const INTEGRATION_TIMEOUT_MS = 29_000;

export interface LocalApiGatewayOptions {
  region: string;
  accountId: string;
  /**
   * `stage` (default): paths as on the execute-api URL, the stage name first in
   * `requestContext.path` (`/v1/orders`). `root`: as behind a custom domain mapped without a
   * base path (`/orders`), which is how `npm start` serves the API on localhost.
   */
  mount?: 'stage' | 'root';
  /** Lambdas by their logical id in the template. */
  lambdas: Map<string, LocalLambda>;
}

export class LocalApiGateway {
  readonly stage: string;
  readonly apiId = randomUUID().replace(/-/g, '').slice(0, 10);
  private readonly methods: Method[] = [];
  private readonly authorizers = new Map<string, Authorizer>();
  private readonly responses = new Map<string, GatewayResponse>();
  /**
   * The Lambda permissions that let API Gateway invoke each function (its resource policy, from
   * the template's AWS::Lambda::Permission): source ARN patterns, by function logical id.
   */
  private readonly invokeGrants = new Map<string, string[]>();
  private readonly cache = new Map<
    string,
    { expires: number; principalId: string; context: Record<string, string>; policy: PolicyDocument }
  >();
  private readonly bucket: { rate: number; burst: number; tokens: number; at: number } | undefined;

  constructor(
    template: CfnTemplate,
    private readonly options: LocalApiGatewayOptions,
  ) {
    const resources = template.Resources;
    const pathOf = (ref: unknown): { path: string; id: string } => {
      const r = ref as Record<string, unknown>;
      if (r['Fn::GetAtt']) return { path: '', id: 'root' };
      const id = String(r['Ref']);
      const res = resources[id];
      if (!res || res.Type !== 'AWS::ApiGateway::Resource') throw new Error(`Not a resource: ${id}`);
      const props = ResourceProps.parse(res.Properties);
      return { path: `${pathOf(props.ParentId).path}/${props.PathPart}`, id };
    };

    let stage: z.infer<typeof StageProps> | undefined;
    for (const [logicalId, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::ApiGateway::Method') {
        const m = MethodProps.parse(r.Properties);
        const { path, id } = pathOf(m.ResourceId);
        const fn = lambdaIn(m.Integration.Uri);
        if (!fn) throw new Error(`${logicalId}: no Lambda integration`);
        this.methods.push({
          httpMethod: m.HttpMethod,
          resourcePath: path || '/',
          resourceId: id,
          integrationFunction: fn,
          ...(m.AuthorizerId ? { authorizer: m.AuthorizerId.Ref } : {}),
        });
      } else if (r.Type === 'AWS::ApiGateway::Authorizer') {
        const a = AuthorizerProps.parse(r.Properties);
        const fn = lambdaIn(a.AuthorizerUri);
        const header = /^method\.request\.header\.(.+)$/.exec(a.IdentitySource)?.[1];
        if (!fn || !header) throw new Error(`${logicalId}: unsupported authorizer`);
        this.authorizers.set(logicalId, {
          logicalId,
          functionLogicalId: fn,
          identityHeader: header,
          ttlSeconds: a.AuthorizerResultTtlInSeconds ?? 300,
        });
      } else if (r.Type === 'AWS::ApiGateway::Stage') {
        stage = StageProps.parse(r.Properties);
      } else if (r.Type === 'AWS::ApiGateway::GatewayResponse') {
        const g = GatewayResponseProps.parse(r.Properties);
        const headers = Object.fromEntries(
          Object.entries(g.ResponseParameters ?? {}).map(([k, v]) => [
            k.replace(/^gatewayresponse\.header\./, ''),
            v.replace(/^'|'$/g, ''),
          ]),
        );
        const body = g.ResponseTemplates?.['application/json'];
        this.responses.set(g.ResponseType, {
          ...(g.StatusCode ? { statusCode: Number(g.StatusCode) } : {}),
          headers,
          ...(body !== undefined ? { body } : {}),
        });
      }
    }
    if (!stage) throw new Error('The template has no API Gateway stage');
    this.stage = stage.StageName;
    const stageName = this.stage;
    // The API, its stage and its authorizers as this gateway names them in source ARNs.
    const { one } = intrinsicResolver(
      (logicalId, attribute) => {
        const type = resources[logicalId]?.Type;
        if (attribute === 'Ref' && type === 'AWS::ApiGateway::RestApi') return this.apiId;
        if (attribute === 'Ref' && type === 'AWS::ApiGateway::Stage') return stageName;
        if (attribute === 'Ref' && type === 'AWS::ApiGateway::Authorizer') return logicalId;
        throw new Error(`A Lambda permission's SourceArn the local gateway cannot read: ${logicalId}.${attribute}`);
      },
      { region: options.region, account: options.accountId },
    );
    for (const r of Object.values(resources)) {
      if (r.Type !== 'AWS::Lambda::Permission') continue;
      const p = PermissionProps.safeParse(r.Properties);
      if (!p.success || p.data.Principal !== 'apigateway.amazonaws.com') continue;
      const fn = p.data.FunctionName['Fn::GetAtt'][0];
      this.invokeGrants.set(fn, [...(this.invokeGrants.get(fn) ?? []), one(p.data.SourceArn)]);
    }
    const throttle = stage.MethodSettings?.find((s) => s.ThrottlingRateLimit !== undefined);
    this.bucket =
      throttle?.ThrottlingRateLimit !== undefined
        ? {
            rate: throttle.ThrottlingRateLimit,
            burst: throttle.ThrottlingBurstLimit ?? throttle.ThrottlingRateLimit,
            tokens: throttle.ThrottlingBurstLimit ?? throttle.ThrottlingRateLimit,
            at: Date.now(),
          }
        : undefined;
  }

  /** The (method, resource path) pairs the API serves. */
  routes(): { method: string; path: string }[] {
    return this.methods.map((m) => ({ method: m.httpMethod, path: m.resourcePath }));
  }

  async handle(req: HttpRequest): Promise<HttpResponse> {
    const requestId = randomUUID();
    const url = new URL(req.path, 'http://local');
    const headers = req.headers ?? {};
    const match = this.match(req.method.toUpperCase(), url.pathname);
    if (match === 'malformed') return malformedPath(requestId);
    if (!match) return this.gatewayResponse('MISSING_AUTHENTICATION_TOKEN', requestId);
    if (!this.takeToken()) return this.gatewayResponse('THROTTLED', requestId);
    if (Buffer.byteLength(req.body ?? '', 'utf8') > MAX_PAYLOAD_BYTES)
      return this.gatewayResponse('REQUEST_TOO_LARGE', requestId);

    const methodArn = `${this.arnBase()}/${this.stage}/${match.method.httpMethod}${match.method.resourcePath === '/' ? '/' : url.pathname}`;
    let authorizerContext: Record<string, string> | undefined;
    if (match.method.authorizer) {
      const auth = this.authorizers.get(match.method.authorizer);
      if (!auth) throw new Error(`Unknown authorizer ${match.method.authorizer}`);
      if (!this.mayInvoke(auth.functionLogicalId, `${this.arnBase()}/authorizers/${auth.logicalId}`))
        return this.gatewayResponse('AUTHORIZER_CONFIGURATION_ERROR', requestId);
      const token = headerValue(headers, auth.identityHeader);
      // API Gateway does not call a TOKEN authorizer without its identity source.
      if (!token) return this.gatewayResponse('UNAUTHORIZED', requestId);
      const decision = await this.authorize(auth, token, methodArn);
      if (decision === 'unauthorized') return this.gatewayResponse('UNAUTHORIZED', requestId);
      if (decision === 'failure') return this.gatewayResponse('AUTHORIZER_FAILURE', requestId);
      if (!decision.allowed) return this.gatewayResponse('ACCESS_DENIED', requestId);
      authorizerContext = { principalId: decision.principalId, ...decision.context };
    }

    // API Gateway invokes the integration only if the function's resource policy lets it.
    if (!this.mayInvoke(match.method.integrationFunction, methodArn))
      return this.gatewayResponse('API_CONFIGURATION_ERROR', requestId);
    const event = this.proxyEvent(req, url, match, requestId, authorizerContext);
    const lambda = this.options.lambdas.get(match.method.integrationFunction);
    if (!lambda) throw new Error(`No local Lambda ${match.method.integrationFunction}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), INTEGRATION_TIMEOUT_MS)));
    const result = await Promise.race([lambda.invoke(event), timeout]).finally(() => clearTimeout(timer));
    if (result === 'timeout') return this.gatewayResponse('INTEGRATION_TIMEOUT', requestId);
    const proxy = ProxyResult.safeParse(result.ok ? result.payload : undefined);
    // A function error or a malformed proxy answer is a 502, as API Gateway answers it.
    if (!proxy.success) return this.gatewayResponse('INTEGRATION_FAILURE', requestId);
    const body = proxy.data.isBase64Encoded
      ? Buffer.from(proxy.data.body ?? '', 'base64').toString('utf8')
      : (proxy.data.body ?? '');
    return {
      statusCode: proxy.data.statusCode,
      headers: { ...(proxy.data.headers ?? {}), 'x-amzn-RequestId': requestId },
      body,
    };
  }

  private match(
    httpMethod: string,
    path: string,
  ): { method: Method; params: Record<string, string> } | 'malformed' | undefined {
    const segments = path.split('/').filter(Boolean);
    if (segments.some((seg) => decoded(seg) === undefined)) return 'malformed';
    const candidates = this.methods
      .map((m) => ({ m, params: matchPath(m.resourcePath, segments) }))
      .filter((c): c is { m: Method; params: Record<string, string> } => c.params !== undefined);
    const hit = candidates.find((c) => c.m.httpMethod === httpMethod || c.m.httpMethod === 'ANY');
    return hit ? { method: hit.m, params: hit.params } : undefined;
  }

  private takeToken(): boolean {
    const b = this.bucket;
    if (!b) return true;
    const now = Date.now();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 1000) * b.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private async authorize(auth: Authorizer, token: string, methodArn: string) {
    // API Gateway caches the policy per token and evaluates it against each request's method ARN.
    const cacheKey = `${auth.logicalId}\n${token}`;
    let entry = this.cache.get(cacheKey);
    if (!entry || entry.expires <= Date.now()) {
      const fn = this.options.lambdas.get(auth.functionLogicalId);
      if (!fn) throw new Error(`No local Lambda ${auth.functionLogicalId}`);
      const out = await fn.invoke({ type: 'TOKEN', authorizationToken: token, methodArn });
      if (!out.ok) return out.error.errorMessage === 'Unauthorized' ? ('unauthorized' as const) : ('failure' as const);
      const parsed = AuthorizerResult.safeParse(out.payload);
      if (!parsed.success) return 'failure' as const;
      const context = Object.fromEntries(Object.entries(parsed.data.context ?? {}).map(([k, v]) => [k, String(v)]));
      entry = {
        expires: Date.now() + auth.ttlSeconds * 1000,
        principalId: parsed.data.principalId,
        context,
        policy: parsed.data.policyDocument,
      };
      if (auth.ttlSeconds > 0) this.cache.set(cacheKey, entry);
    }
    return { principalId: entry.principalId, context: entry.context, allowed: allows(entry.policy, methodArn) };
  }

  private proxyEvent(
    req: HttpRequest,
    url: URL,
    match: { method: Method; params: Record<string, string> },
    requestId: string,
    authorizer: Record<string, string> | undefined,
  ): APIGatewayProxyEvent {
    const headers = req.headers ?? {};
    const query = [...url.searchParams.keys()];
    const now = new Date();
    return {
      resource: match.method.resourcePath,
      path: url.pathname,
      httpMethod: match.method.httpMethod,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: query.length
        ? Object.fromEntries(query.map((k) => [k, url.searchParams.getAll(k).at(-1) ?? '']))
        : null,
      multiValueQueryStringParameters: query.length
        ? Object.fromEntries(query.map((k) => [k, url.searchParams.getAll(k)]))
        : null,
      pathParameters: Object.keys(match.params).length ? match.params : null,
      stageVariables: null,
      body: req.body ?? null,
      isBase64Encoded: false,
      requestContext: {
        accountId: this.options.accountId,
        apiId: this.apiId,
        authorizer: authorizer ? { ...authorizer, integrationLatency: 0 } : null,
        protocol: 'HTTP/1.1',
        httpMethod: match.method.httpMethod,
        identity: identity(req.sourceIp ?? '127.0.0.1', headerValue(headers, 'user-agent') ?? null),
        path: this.options.mount === 'root' ? url.pathname : `/${this.stage}${url.pathname}`,
        stage: this.stage,
        requestId,
        requestTimeEpoch: now.getTime(),
        resourceId: match.method.resourceId,
        resourcePath: match.method.resourcePath,
      },
    };
  }

  /** `arn:aws:execute-api:<region>:<account>:<api id>`: what source ARNs of this API start with. */
  private arnBase(): string {
    return `arn:aws:execute-api:${this.options.region}:${this.options.accountId}:${this.apiId}`;
  }

  /** Whether a Lambda permission lets API Gateway invoke the function for this source ARN. */
  private mayInvoke(functionLogicalId: string, sourceArn: string): boolean {
    return (this.invokeGrants.get(functionLogicalId) ?? []).some((pattern) => matches(pattern, sourceArn));
  }

  private gatewayResponse(type: string, requestId: string): HttpResponse {
    const fallback = DEFAULT_RESPONSES[type] ?? { status: 500, message: null };
    const custom = this.responses.get(type);
    return {
      statusCode: custom?.statusCode ?? fallback.status,
      headers: {
        'Content-Type': 'application/json',
        ...(custom?.headers ?? {}),
        'x-amzn-RequestId': requestId,
        'x-amzn-ErrorType': errorType(type),
      },
      body: custom?.body ?? JSON.stringify({ message: fallback.message }),
    };
  }
}

const PermissionProps = z.object({
  Action: z.literal('lambda:InvokeFunction'),
  Principal: z.string(),
  FunctionName: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
  SourceArn: z.unknown(),
});

const ProxyResult = z.object({
  statusCode: z.number().int(),
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

const Statement = z.object({
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.union([z.string(), z.array(z.string())]),
});
const PolicyDocument = z.object({ Version: z.string().optional(), Statement: z.array(Statement) });
type PolicyDocument = z.infer<typeof PolicyDocument>;
const AuthorizerResult = z.object({
  principalId: z.string(),
  policyDocument: PolicyDocument,
  context: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

function allows(policy: PolicyDocument, methodArn: string): boolean {
  const matching = policy.Statement.filter((s) => {
    const actions = ([] as string[]).concat(s.Action);
    const resources = ([] as string[]).concat(s.Resource);
    return actions.some((a) => wildcard(a, 'execute-api:Invoke')) && resources.some((r) => wildcard(r, methodArn));
  });
  return matching.some((s) => s.Effect === 'Allow') && !matching.some((s) => s.Effect === 'Deny');
}

function wildcard(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(value);
}

function matchPath(resourcePath: string, segments: string[]): Record<string, string> | undefined {
  const parts = resourcePath.split('/').filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const seg = segments[i] as string;
    const param = /^\{(.+)\}$/.exec(part)?.[1];
    if (param) params[param] = decoded(seg) ?? seg;
    else if (part !== seg) return undefined;
  }
  return params;
}

/** A path segment percent-decoded, or undefined when its encoding is malformed (`%ZZ`, a cut UTF-8 sequence). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * AWS answers a path with malformed percent-encoding 400 before any authorizer or Lambda runs.
 * Which gateway response type it uses (and so its body) is not documented; this stand-in
 * answers the API's own `bad-request` problem.
 */
function malformedPath(requestId: string): HttpResponse {
  const { status, title } = PROBLEMS['bad-request'];
  return {
    statusCode: status,
    headers: {
      'Content-Type': 'application/problem+json',
      'x-amzn-RequestId': requestId,
      'x-amzn-ErrorType': 'BadRequestException',
    },
    body: JSON.stringify({
      type: problemTypeUri('bad-request'),
      title,
      status,
      detail: 'The path has malformed percent-encoding',
    }),
  };
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return Object.entries(headers).find(([k]) => k.toLowerCase() === wanted)?.[1];
}

function errorType(type: string): string {
  return (
    type
      .toLowerCase()
      .split('_')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('') + 'Exception'
  );
}

function identity(sourceIp: string, userAgent: string | null): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}
