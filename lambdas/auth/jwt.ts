import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { Id } from '../domain/model.js';

/**
 * JWT verification for the API's TOKEN authorizer: the configured algorithm only, the
 * configured issuer and audience, `sub` and `exp` required, and `sub` a safe id because it
 * becomes part of DynamoDB keys (`USER#<sub>`).
 *
 * No AWS SDK here: where the HS256 secret comes from is the authorizer's business.
 */

/** Allowed clock skew between the token issuer and this verifier. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** RFC 7518 3.2: an HS256 key must be at least as long as the hash output (256 bits). */
export const MIN_HS256_SECRET_BYTES = 32;
/** API Gateway limits the whole header to about 10 KB; a real token is far below this. */
export const MAX_TOKEN_LENGTH = 8_192;

export const DEFAULT_ADMIN_CLAIM = 'role';
export const DEFAULT_ADMIN_VALUE = 'admin';
/** Longest lifetime (`exp - iat`) a token may have unless configured otherwise: 24 hours. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 24 * 60 * 60;

interface CommonConfig {
  /** Expected `iss`; when set, a token without it or with another one is rejected. */
  issuer?: string;
  /** Expected `aud` (any one of them); when set, a token without a matching one is rejected. */
  audience?: string | string[];
  /** Name of the claim holding the role(s); a string or an array of strings (`cognito:groups`). */
  adminClaim?: string;
  /** The role value that makes the caller an admin. */
  adminValue?: string;
  /** A token whose `exp - iat` is longer is refused (default DEFAULT_MAX_LIFETIME_SECONDS). */
  maxLifetimeSeconds?: number;
  /** Current time, for tests. */
  clock?: () => Date;
}

export interface Rs256Config extends CommonConfig {
  algorithm: 'RS256';
  jwksUrl: URL | string;
  /** Timeout of one JWKS fetch, ms (default 5,000). */
  jwksTimeoutMs?: number;
}

export interface Hs256Config extends CommonConfig {
  algorithm: 'HS256';
  secret: Uint8Array;
}

export type JwtVerifierConfig = Rs256Config | Hs256Config;

export interface VerifiedToken {
  userId: string;
  admin: boolean;
  claims: JWTPayload;
}

export type JwtVerifier = (token: string) => Promise<VerifiedToken>;

/** Short, client-safe reasons; never jose's own messages. */
export type TokenInvalidReason =
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'bad_signature'
  | 'unknown_key'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_missing'
  | 'claim_mismatch'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'bad_subject';

/** The token is not acceptable. The caller should answer 401 and nothing more. */
export class TokenInvalid extends Error {
  override readonly name = 'TokenInvalid';
  constructor(
    readonly reason: TokenInvalidReason,
    options?: { cause?: unknown },
  ) {
    super(`Token invalid: ${reason}`, options);
  }
}

/** The keys could not be obtained (JWKS unreachable, slow or garbled): not the caller's fault. */
export class KeySourceUnavailable extends Error {
  override readonly name = 'KeySourceUnavailable';
}

/** The verifier was configured wrongly (detected when it is built). */
export class JwtConfigInvalid extends Error {
  override readonly name = 'JwtConfigInvalid';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https only, except loopback and LocalStack, whose endpoints are plain http. */
function parseJwksUrl(value: URL | string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new JwtConfigInvalid(`JWKS URL is not a URL: ${String(value)}`);
  }
  const local =
    LOOPBACK_HOSTS.has(url.hostname) ||
    url.hostname.endsWith('.localhost.localstack.cloud') ||
    url.hostname === 'localhost.localstack.cloud';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new JwtConfigInvalid(`JWKS URL must use https (plain http only for loopback/LocalStack): ${url.href}`);
  }
  return url;
}

/** Compact JWS: three base64url segments (the signature may be empty, as in `alg: none`). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether `claims[name]` grants `value`: equal to it, or an array of strings containing it. */
export function hasRole(claims: JWTPayload, name: string, value: string): boolean {
  const claim: unknown = claims[name];
  if (typeof claim === 'string') return claim === value;
  if (Array.isArray(claim)) return claim.some((entry) => typeof entry === 'string' && entry === value);
  return false;
}

/** Map jose's errors onto ours; anything unexpected about the keys is the key source's fault. */
function translate(error: unknown, algorithm: JwtVerifierConfig['algorithm']): Error {
  if (error instanceof errors.JWTExpired) return new TokenInvalid('expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed')
      return new TokenInvalid('not_yet_valid', { cause: error });
    if (error.reason === 'missing') return new TokenInvalid('claim_missing', { cause: error });
    return new TokenInvalid('claim_mismatch', { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenInvalid('algorithm_not_allowed', { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenInvalid('bad_signature', { cause: error });
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenInvalid('unknown_key', { cause: error });
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return new TokenInvalid('malformed', { cause: error });
  }
  // Left: JWKS fetch failures (timeout, non-200, bad JSON, network), an unusable JWK, or a bug.
  if (algorithm === 'RS256') {
    const detail = error instanceof errors.JOSEError ? error.code : error instanceof Error ? error.name : 'unknown';
    return new KeySourceUnavailable(`JWKS unavailable (${detail})`, { cause: error });
  }
  return new TokenInvalid('malformed', { cause: error });
}

/**
 * Build a verifier. Throws `JwtConfigInvalid` for a bad configuration; the verifier rejects
 * with `TokenInvalid` (answer 401) or `KeySourceUnavailable` (answer 5xx: retry later).
 */
export function createJwtVerifier(config: JwtVerifierConfig): JwtVerifier {
  const adminClaim = config.adminClaim ?? DEFAULT_ADMIN_CLAIM;
  const adminValue = config.adminValue ?? DEFAULT_ADMIN_VALUE;
  if (adminClaim === '' || adminValue === '')
    throw new JwtConfigInvalid('admin claim name and value must not be empty');
  if (config.issuer === '') throw new JwtConfigInvalid('issuer must not be empty when set');
  const maxLifetime = config.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
  if (!Number.isInteger(maxLifetime) || maxLifetime <= 0) {
    throw new JwtConfigInvalid('the maximum token lifetime must be a positive whole number of seconds');
  }
  const audience = config.audience;
  if (
    audience !== undefined &&
    (Array.isArray(audience) ? audience.length === 0 || audience.includes('') : audience === '')
  ) {
    throw new JwtConfigInvalid('audience must not be empty when set');
  }

  const options = (): JWTVerifyOptions => ({
    algorithms: [config.algorithm],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['sub', 'exp', 'iat'],
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(audience !== undefined ? { audience } : {}),
    ...(config.clock ? { currentDate: config.clock() } : {}),
  });

  let verifyJws: (token: string) => Promise<JWTPayload>;
  switch (config.algorithm) {
    case 'RS256': {
      const jwks = createRemoteJWKSet(parseJwksUrl(config.jwksUrl), {
        timeoutDuration: config.jwksTimeoutMs ?? 5_000,
      });
      verifyJws = async (token) => (await jwtVerify(token, jwks, options())).payload;
      break;
    }
    case 'HS256': {
      const secret = config.secret;
      if (!(secret instanceof Uint8Array) || secret.byteLength < MIN_HS256_SECRET_BYTES) {
        throw new JwtConfigInvalid(`HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
      }
      verifyJws = async (token) => (await jwtVerify(token, secret, options())).payload;
      break;
    }
    default:
      // A caller outside the types (plain JavaScript, a cast) gets a clear refusal.
      throw new JwtConfigInvalid(`unsupported algorithm ${String((config as { algorithm: unknown }).algorithm)}`);
  }

  return async (token) => {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new TokenInvalid('malformed');
    }
    let claims: JWTPayload;
    try {
      claims = await verifyJws(token);
    } catch (error) {
      throw translate(error, config.algorithm);
    }
    // jose checks exp and nbf; a token minted for the future, or to live longer than allowed, is refused too.
    const now = Math.floor((config.clock?.() ?? new Date()).getTime() / 1000);
    const { iat, exp } = claims;
    if (iat === undefined || exp === undefined) throw new TokenInvalid('claim_missing');
    if (iat > now + CLOCK_TOLERANCE_SECONDS) throw new TokenInvalid('issued_in_future');
    if (exp - iat > maxLifetime) throw new TokenInvalid('lifetime_too_long');
    const sub = Id.safeParse(claims.sub);
    if (!sub.success) throw new TokenInvalid('bad_subject');
    return { userId: sub.data, admin: hasRole(claims, adminClaim, adminValue), claims };
  };
}
