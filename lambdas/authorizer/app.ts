import type { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayAuthorizerWithContextResult, APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { z } from 'zod';
import {
  createJwtVerifier,
  DEFAULT_ADMIN_CLAIM,
  DEFAULT_ADMIN_VALUE,
  KeySourceUnavailable,
  TokenInvalid,
  type JwtVerifier,
} from '../auth/jwt.js';
import { readEnv } from '../shared/config.js';
import { createObservability } from '../shared/observability.js';

/**
 * API Gateway TOKEN authorizer: `Authorization: Bearer <JWT>` → an IAM policy.
 *
 * - Any problem with the token throws `Error('Unauthorized')`, the one message API Gateway
 *   turns into 401; the reason is logged, never returned.
 * - A problem on our side (the HS256 secret or the JWKS cannot be fetched, bad configuration)
 *   throws another error, which API Gateway answers with 500: the client may retry, and a
 *   valid token is not reported as invalid during an outage.
 * - Success allows `execute-api:Invoke` on every method and path of the stage, because API
 *   Gateway caches the result by token and reuses it for every route.
 */

/** What the `api` Lambda finds in `requestContext.authorizer` (plus `principalId`). */
export interface AuthorizerContext {
  [key: string]: string;
  userId: string;
  admin: 'true' | 'false';
}

export type AuthorizerResult = APIGatewayAuthorizerWithContextResult<AuthorizerContext>;
export type AuthorizerLambda = (event: APIGatewayTokenAuthorizerEvent, context?: Context) => Promise<AuthorizerResult>;

export interface AuthorizerOverrides {
  /** Source of the HS256 secret (default: Secrets Manager `GetSecretValue` of JWT_SECRET_ARN). */
  secret?: () => Promise<string>;
  /** Current time for token validation, for tests. */
  clock?: () => Date;
  /** Structured log sink (default: the Powertools logger). Never receives the token or secret. */
  log?: (entry: LogEntry) => void;
}

export interface LogEntry {
  level: 'INFO' | 'WARN' | 'ERROR';
  message: string;
  [key: string]: unknown;
}

/** Unset and empty are the same thing (CDK/templates often write ''). */
const optionalString = z.preprocess((value) => (value === '' ? undefined : value), z.string().optional());
const withDefault = (fallback: string) =>
  z.preprocess((value) => (value === undefined || value === '' ? fallback : value), z.string().min(1));

export const AuthorizerEnv = z
  .object({
    JWT_ALGORITHM: z.enum(['HS256', 'RS256']),
    JWKS_URL: optionalString,
    JWT_SECRET_ARN: optionalString,
    JWT_ISSUER: optionalString,
    /** One audience, or several separated by commas (a token matching any one is accepted). */
    JWT_AUDIENCE: optionalString,
    ADMIN_CLAIM: withDefault(DEFAULT_ADMIN_CLAIM),
    ADMIN_VALUE: withDefault(DEFAULT_ADMIN_VALUE),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_ALGORITHM === 'RS256' && env.JWKS_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'required when JWT_ALGORITHM is RS256' });
    }
    if (env.JWT_ALGORITHM === 'HS256' && env.JWT_SECRET_ARN === undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET_ARN'], message: 'required when JWT_ALGORITHM is HS256' });
    }
  });
export type AuthorizerEnv = z.infer<typeof AuthorizerEnv>;

/** The message API Gateway maps to 401. Exact, case-sensitive. */
const UNAUTHORIZED = 'Unauthorized';

/** `Bearer <token>`, scheme case-insensitive (RFC 9110 11.1). */
const BEARER = /^Bearer +(\S+) *$/i;

/** The HS256 secret could not be read; nothing about it is cached, the next call tries again. */
export class SecretUnavailable extends Error {
  override readonly name = 'SecretUnavailable';
}

/** `event.methodArn` did not look like an execute-api method ARN. */
export class MethodArnInvalid extends Error {
  override readonly name = 'MethodArnInvalid';
}

/**
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path...>` →
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/*\/*`.
 */
export function stageWildcardArn(methodArn: string): string {
  const parts = methodArn.split(':');
  const [arn, partition, service, region, account, resource] = parts;
  const [apiId, stage] = (resource ?? '').split('/');
  if (
    parts.length !== 6 ||
    arn !== 'arn' ||
    !partition ||
    service !== 'execute-api' ||
    !region ||
    !account ||
    !apiId ||
    !stage
  ) {
    throw new MethodArnInvalid('methodArn is not an execute-api method ARN');
  }
  return `arn:${partition}:execute-api:${region}:${account}:${apiId}/${stage}/*/*`;
}

function secretsManagerSecret(secretId: string, traced: <T>(client: T) => T): () => Promise<string> {
  // `{}`: region, credentials and AWS_ENDPOINT_URL_SECRETS_MANAGER come from the environment.
  const client = traced(new SecretsManagerClient({}));
  return async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (typeof out.SecretString !== 'string') throw new SecretUnavailable('the JWT secret has no SecretString');
    return out.SecretString;
  };
}

/** Entries go to the invocation's Powertools logger, at their level. */
const toLogger =
  (logger: Logger) =>
  ({ level, message, ...attributes }: LogEntry): void => {
    if (level === 'ERROR') logger.error(message, attributes);
    else if (level === 'WARN') logger.warn(message, attributes);
    else logger.info(message, attributes);
  };

export function createHandler(env: NodeJS.ProcessEnv, overrides: AuthorizerOverrides = {}): AuthorizerLambda {
  const config = readEnv(AuthorizerEnv, env);
  const obs = createObservability(env, 'Authorizer');
  const audience = config.JWT_AUDIENCE?.split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const common = {
    ...(config.JWT_ISSUER !== undefined ? { issuer: config.JWT_ISSUER } : {}),
    ...(audience !== undefined && audience.length > 0
      ? { audience: audience.length === 1 ? (audience[0] as string) : audience }
      : {}),
    adminClaim: config.ADMIN_CLAIM,
    adminValue: config.ADMIN_VALUE,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  };

  let verifier: () => Promise<JwtVerifier>;
  if (config.JWT_ALGORITHM === 'RS256') {
    // Built now: a bad JWKS_URL fails the cold start with a clear message.
    const rs256 = createJwtVerifier({ algorithm: 'RS256', jwksUrl: config.JWKS_URL as string, ...common });
    verifier = () => Promise.resolve(rs256);
  } else {
    const secretArn = config.JWT_SECRET_ARN as string;
    const fetchSecret = overrides.secret ?? secretsManagerSecret(secretArn, obs.traced);
    // One fetch per container, shared by concurrent first calls; a failure is forgotten so the
    // next invocation tries again instead of failing until the container is recycled.
    let cached: Promise<JwtVerifier> | undefined;
    verifier = () => {
      cached ??= (async () => {
        let secret: string;
        try {
          secret = await fetchSecret();
        } catch (error) {
          throw error instanceof SecretUnavailable
            ? error
            : new SecretUnavailable(
                `could not read the JWT secret: ${error instanceof Error ? error.name : 'unknown error'}`,
                { cause: error },
              );
        }
        return createJwtVerifier({ algorithm: 'HS256', secret: new TextEncoder().encode(secret), ...common });
      })();
      const pending = cached;
      pending.catch(() => {
        if (cached === pending) cached = undefined;
      });
      return pending;
    };
  }

  // No orderId and no correlation id here (a TOKEN event has neither): the lines carry the Lambda
  // request id, the decision and, once verified, the userId — never the token.
  return (event, context) => obs.invocation(context, {}, ({ log }) => authorize(event, overrides.log ?? toLogger(log)));

  async function authorize(
    // API Gateway's TOKEN event, but nothing stops a direct invocation from sending less.
    event: Partial<APIGatewayTokenAuthorizerEvent> | null | undefined,
    log: (entry: LogEntry) => void,
  ): Promise<AuthorizerResult> {
    const header: unknown = event?.authorizationToken;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match?.[1]) {
      log({ level: 'INFO', message: 'token rejected', reason: 'no_bearer_token' });
      throw new Error(UNAUTHORIZED);
    }

    let verify: JwtVerifier;
    try {
      verify = await verifier();
    } catch (error) {
      log({ level: 'ERROR', message: 'verifier unavailable', error: errorSummary(error) });
      throw error;
    }

    let resource: string;
    try {
      resource = stageWildcardArn(String(event?.methodArn));
    } catch (error) {
      // Fail closed; this would be API Gateway sending something unexpected.
      log({ level: 'ERROR', message: 'token rejected', reason: 'bad_method_arn' });
      throw new Error(UNAUTHORIZED, { cause: error });
    }

    try {
      const { userId, admin } = await verify(match[1]);
      log({ level: 'INFO', message: 'token accepted', userId, admin });
      return {
        principalId: userId,
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resource }],
        },
        context: { userId, admin: admin ? 'true' : 'false' },
      };
    } catch (error) {
      if (error instanceof TokenInvalid) {
        log({ level: 'INFO', message: 'token rejected', reason: error.reason });
        throw new Error(UNAUTHORIZED, { cause: error });
      }
      if (error instanceof KeySourceUnavailable) {
        log({ level: 'ERROR', message: 'key source unavailable', error: errorSummary(error) });
        throw error;
      }
      // Unknown: fail closed, and say so loudly.
      log({ level: 'ERROR', message: 'token verification failed unexpectedly', error: errorSummary(error) });
      throw new Error(UNAUTHORIZED, { cause: error });
    }
  }
}

/** Name and message only: our own errors never carry secrets or tokens. */
function errorSummary(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'unknown', message: String(error) };
}
