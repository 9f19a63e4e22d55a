import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import {
  createJwtVerifier,
  DEFAULT_ADMIN_CLAIM,
  DEFAULT_ADMIN_VALUE,
  KeySourceUnavailable,
  TokenInvalid,
  type JwtVerifier,
  type TokenInvalidReason,
} from './jwt.js';

/**
 * The JWT verifier as a deployed function builds it from its environment: the TOKEN authorizer
 * on AWS, and the API Lambda itself where API Gateway runs no authorizer (the LocalStack
 * profile). One definition, so both accept exactly the same tokens.
 */

/** Unset and empty are the same thing (CDK/templates often write ''). */
const optionalString = z.preprocess((value) => (value === '' ? undefined : value), z.string().optional());
const withDefault = (fallback: string) =>
  z.preprocess((value) => (value === undefined || value === '' ? fallback : value), z.string().min(1));

export const JwtEnv = z
  .object({
    JWT_ALGORITHM: z.enum(['HS256', 'RS256']),
    JWKS_URL: optionalString,
    JWT_SECRET_ARN: optionalString,
    JWT_ISSUER: optionalString,
    /** One audience, or several separated by commas (a token matching any one is accepted). */
    JWT_AUDIENCE: optionalString,
    ADMIN_CLAIM: withDefault(DEFAULT_ADMIN_CLAIM),
    ADMIN_VALUE: withDefault(DEFAULT_ADMIN_VALUE),
    /** Longest accepted token lifetime (`exp - iat`), seconds; default 24 h. */
    JWT_MAX_LIFETIME_SECONDS: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z.coerce.number().int().positive().optional(),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_ALGORITHM === 'RS256' && env.JWKS_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'required when JWT_ALGORITHM is RS256' });
    }
    if (env.JWT_ALGORITHM === 'HS256' && env.JWT_SECRET_ARN === undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET_ARN'], message: 'required when JWT_ALGORITHM is HS256' });
    }
  });
export type JwtEnv = z.infer<typeof JwtEnv>;

/** `Bearer <token>`, scheme case-insensitive (RFC 9110 11.1). */
const BEARER = /^Bearer +(\S+) *$/i;

/** The token of an `Authorization: Bearer <token>` value, or undefined for anything else. */
export function bearerToken(header: unknown): string | undefined {
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  return match?.[1] || undefined;
}

/** A verified caller, or why its token is refused (`unexpected`: a failure no rule names; fail closed). */
export type Verdict =
  | { ok: true; userId: string; admin: boolean }
  | { ok: false; reason: TokenInvalidReason | 'unexpected'; error: unknown };

/**
 * Verify a token and sort the outcome as every caller answers it: verified, or refused (401) with
 * the reason to log. Only KeySourceUnavailable is thrown: then the keys are at fault, not the token.
 */
export async function checkToken(verify: JwtVerifier, token: string): Promise<Verdict> {
  try {
    const { userId, admin } = await verify(token);
    return { ok: true, userId, admin };
  } catch (error) {
    if (error instanceof KeySourceUnavailable) throw error;
    return { ok: false, reason: error instanceof TokenInvalid ? error.reason : 'unexpected', error };
  }
}

/** The HS256 secret could not be read; nothing about it is cached, the next call tries again. */
export class SecretUnavailable extends Error {
  override readonly name = 'SecretUnavailable';
}

export interface VerifierOptions {
  /** Source of the HS256 secret (default: Secrets Manager `GetSecretValue` of JWT_SECRET_ARN). */
  secret?: () => Promise<string>;
  /** Current time for token validation, for tests. */
  clock?: () => Date;
  /** Wraps the Secrets Manager client (X-Ray on Lambda). */
  traced: <T>(client: T) => T;
}

/**
 * A function that gives the verifier. RS256 builds it at once (a bad JWKS_URL fails the cold
 * start with a clear message); HS256 fetches the secret once per container, shared by concurrent
 * first calls, and forgets a failure so the next call tries again.
 */
export function verifierFromEnv(config: JwtEnv, options: VerifierOptions): () => Promise<JwtVerifier> {
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
    ...(config.JWT_MAX_LIFETIME_SECONDS !== undefined ? { maxLifetimeSeconds: config.JWT_MAX_LIFETIME_SECONDS } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };

  if (config.JWT_ALGORITHM === 'RS256') {
    const rs256 = createJwtVerifier({ algorithm: 'RS256', jwksUrl: config.JWKS_URL as string, ...common });
    return () => Promise.resolve(rs256);
  }
  const fetchSecret = options.secret ?? secretsManagerSecret(config.JWT_SECRET_ARN as string, options.traced);
  let cached: Promise<JwtVerifier> | undefined;
  return () => {
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

function secretsManagerSecret(secretId: string, traced: <T>(client: T) => T): () => Promise<string> {
  // `{}`: region, credentials and AWS_ENDPOINT_URL_SECRETS_MANAGER come from the environment.
  const client = traced(new SecretsManagerClient({}));
  return async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (typeof out.SecretString !== 'string') throw new SecretUnavailable('the JWT secret has no SecretString');
    return out.SecretString;
  };
}
