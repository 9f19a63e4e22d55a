import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayAuthorizerWithContextResult, APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { bearerToken, checkToken, JwtEnv, verifierFromEnv, type Verdict } from '../auth/configured.js';
import type { JwtVerifier } from '../auth/jwt.js';
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

/** The message API Gateway maps to 401. Exact, case-sensitive. */
const UNAUTHORIZED = 'Unauthorized';

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

/** Entries go to the invocation's Powertools logger, at their level. */
const toLogger =
  (logger: Logger) =>
  ({ level, message, ...attributes }: LogEntry): void => {
    if (level === 'ERROR') logger.error(message, attributes);
    else if (level === 'WARN') logger.warn(message, attributes);
    else logger.info(message, attributes);
  };

export function createHandler(env: NodeJS.ProcessEnv, overrides: AuthorizerOverrides = {}): AuthorizerLambda {
  const config = readEnv(JwtEnv, env);
  const obs = createObservability(env, 'Authorizer');
  const verifier = verifierFromEnv(config, {
    traced: obs.traced,
    ...(overrides.secret ? { secret: overrides.secret } : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });

  // No orderId and no correlation id here (a TOKEN event has neither): the lines carry the Lambda
  // request id, the decision and, once verified, the userId — never the token.
  return (event, context) => obs.invocation(context, {}, ({ log }) => authorize(event, overrides.log ?? toLogger(log)));

  async function authorize(
    // API Gateway's TOKEN event, but nothing stops a direct invocation from sending less.
    event: Partial<APIGatewayTokenAuthorizerEvent> | null | undefined,
    log: (entry: LogEntry) => void,
  ): Promise<AuthorizerResult> {
    const token = bearerToken(event?.authorizationToken);
    if (!token) {
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

    let verdict: Verdict;
    try {
      verdict = await checkToken(verify, token);
    } catch (error) {
      log({ level: 'ERROR', message: 'key source unavailable', error: errorSummary(error) });
      throw error;
    }
    if (!verdict.ok) {
      // Unknown: fail closed, and say so loudly.
      if (verdict.reason === 'unexpected') {
        log({ level: 'ERROR', message: 'token verification failed unexpectedly', error: errorSummary(verdict.error) });
      } else {
        log({ level: 'INFO', message: 'token rejected', reason: verdict.reason });
      }
      throw new Error(UNAUTHORIZED, { cause: verdict.error });
    }
    const { userId, admin } = verdict;
    log({ level: 'INFO', message: 'token accepted', userId, admin });
    return {
      principalId: userId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resource }],
      },
      context: { userId, admin: admin ? 'true' : 'false' },
    };
  }
}

/** Name and message only: our own errors never carry secrets or tokens. */
function errorSummary(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'unknown', message: String(error) };
}
