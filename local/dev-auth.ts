import { SignJWT } from 'jose';
import { DEFAULT_MAX_LIFETIME_SECONDS, MIN_HS256_SECRET_BYTES } from '../lambdas/auth/jwt.js';
import { Id } from '../lambdas/domain/model.js';

/**
 * Development-only authentication: the HS256 secret the local stack's authorizer uses, and a
 * minter for tokens it accepts (`npm run token`, tests).
 *
 * DEV_JWT_SECRET is public (it is in this repository): never store it in a deployed account's
 * Secrets Manager. Deployed stacks generate their own secret.
 */
export const DEV_JWT_SECRET = 'purchase-saga-LOCAL-DEVELOPMENT-ONLY-jwt-secret-do-not-deploy';
export const DEV_JWT_SECRET_NAME = 'purchase-saga/dev-jwt-secret';
export const DEV_ISSUER = 'purchase-saga-local';
export const DEV_AUDIENCE = 'purchase-saga';
/** The claim and value the authorizer checks by default (ADMIN_CLAIM / ADMIN_VALUE). */
export const DEV_ADMIN_CLAIM = 'role';
export const DEV_ADMIN_VALUE = 'admin';

export const DEFAULT_TTL_SECONDS = 60 * 60;
/** The verifier's default maximum lifetime: a longer token would be refused. */
export const MAX_TTL_SECONDS = DEFAULT_MAX_LIFETIME_SECONDS;

export interface MintDevTokenOptions {
  userId: string;
  admin?: boolean;
  /** Lifetime in seconds (default 1 hour, at most 24 hours). */
  ttlSeconds?: number;
  /** HS256 secret (default DEV_JWT_SECRET); at least 32 bytes, as the authorizer requires. */
  secret?: string | Uint8Array;
  /** `iss` (default DEV_ISSUER). */
  issuer?: string;
  /** `aud` (default DEV_AUDIENCE). */
  audience?: string;
  /** Issue time (default now). */
  now?: Date;
}

/** Mint an HS256 token the local authorizer accepts: `sub`, `iss`, `aud`, `iat`, `exp`, and `role: admin` when admin. */
export async function mintDevToken(options: MintDevTokenOptions): Promise<string> {
  const userId = Id.safeParse(options.userId);
  if (!userId.success)
    throw new Error(`userId must be 1-128 letters, digits and . _ : @ - (got ${JSON.stringify(options.userId)})`);
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
    throw new Error(`ttlSeconds must be a whole number of seconds between 1 and ${MAX_TTL_SECONDS}`);
  }
  const secret = options.secret ?? DEV_JWT_SECRET;
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.byteLength < MIN_HS256_SECRET_BYTES)
    throw new Error(`the secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`);

  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT(options.admin ? { [DEV_ADMIN_CLAIM]: DEV_ADMIN_VALUE } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId.data)
    .setIssuer(options.issuer ?? DEV_ISSUER)
    .setAudience(options.audience ?? DEV_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key);
}
