import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createJwtVerifier,
  DEFAULT_MAX_LIFETIME_SECONDS,
  hasRole,
  JwtConfigInvalid,
  KeySourceUnavailable,
  TokenInvalid,
  type JwtVerifier,
  type TokenInvalidReason,
} from '../../lambdas/auth/jwt.js';
import {
  nowSeconds,
  payload,
  rsaKey,
  signHs256,
  signRs256,
  startJwksServer,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_SECRET,
  unsigned,
  type JwksServer,
  type RsaKey,
} from '../support/jwt.js';

const secret = new TextEncoder().encode(TEST_SECRET);
const hs256 = (extra: { adminClaim?: string; adminValue?: string } = {}): JwtVerifier =>
  createJwtVerifier({ algorithm: 'HS256', secret, issuer: TEST_ISSUER, audience: TEST_AUDIENCE, ...extra });

/** Assert a rejection with TokenInvalid of that reason, and a message free of jose's wording. */
async function expectInvalid(promise: Promise<unknown>, reason: TokenInvalidReason): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenInvalid);
  expect((error as TokenInvalid).name).toBe('TokenInvalid');
  expect((error as TokenInvalid).reason).toBe(reason);
  expect((error as TokenInvalid).message).toBe(`Token invalid: ${reason}`);
}

describe('Authorizer: JWT verification (HS256)', () => {
  it('accepts a valid token and returns the user id, admin flag and claims', async () => {
    const token = await signHs256(payload({ sub: 'alice@example.com' }));
    const verified = await hs256()(token);
    expect(verified.userId).toBe('alice@example.com');
    expect(verified.admin).toBe(false);
    expect(verified.claims.iss).toBe(TEST_ISSUER);
  });

  it('recognises the admin role as a string claim', async () => {
    expect((await hs256()(await signHs256(payload({ role: 'admin' })))).admin).toBe(true);
    expect((await hs256()(await signHs256(payload({ role: 'administrator' })))).admin).toBe(false);
    expect((await hs256()(await signHs256(payload({ role: 'user' })))).admin).toBe(false);
  });

  it('recognises the admin role in an array claim (Cognito groups), with a configured claim name and value', async () => {
    const verify = hs256({ adminClaim: 'cognito:groups', adminValue: 'shop-admins' });
    expect((await verify(await signHs256(payload({ 'cognito:groups': ['staff', 'shop-admins'] })))).admin).toBe(true);
    expect((await verify(await signHs256(payload({ 'cognito:groups': ['staff'] })))).admin).toBe(false);
    // The default claim no longer counts once another one is configured.
    expect((await verify(await signHs256(payload({ role: 'admin' })))).admin).toBe(false);
  });

  it('ignores role claims of other shapes', () => {
    expect(hasRole({ role: 1 }, 'role', 'admin')).toBe(false);
    expect(hasRole({ role: { admin: true } }, 'role', 'admin')).toBe(false);
    expect(hasRole({ role: [['admin']] }, 'role', 'admin')).toBe(false);
    expect(hasRole({ role: null }, 'role', 'admin')).toBe(false);
    expect(hasRole({}, 'role', 'admin')).toBe(false);
  });

  it('rejects an expired token, but tolerates a few seconds of clock skew', async () => {
    const now = nowSeconds();
    await expectInvalid(hs256()(await signHs256(payload({ iat: now - 3600, exp: now - 60 }))), 'expired');
    await expect(hs256()(await signHs256(payload({ iat: now - 3600, exp: now - 2 })))).resolves.toMatchObject({
      userId: 'alice',
    });
  });

  it('rejects a token that is not yet valid', async () => {
    await expectInvalid(hs256()(await signHs256(payload({ nbf: nowSeconds() + 600 }))), 'not_yet_valid');
  });

  it('rejects a token signed with another secret', async () => {
    await expectInvalid(
      hs256()(await signHs256(payload(), 'another-secret-that-is-also-32-bytes-long!')),
      'bad_signature',
    );
  });

  it('rejects a tampered payload', async () => {
    const [header, , signature] = (await signHs256(payload())).split('.');
    const forged = Buffer.from(JSON.stringify(payload({ sub: 'mallory', role: 'admin' }))).toString('base64url');
    await expectInvalid(hs256()(`${header}.${forged}.${signature}`), 'bad_signature');
  });

  it('rejects alg: none', async () => {
    await expectInvalid(hs256()(unsigned(payload({ role: 'admin' }))), 'algorithm_not_allowed');
  });

  it('rejects a wrong issuer or audience, and a token lacking them when they are configured', async () => {
    await expectInvalid(hs256()(await signHs256(payload({ iss: 'https://evil.test' }))), 'claim_mismatch');
    await expectInvalid(hs256()(await signHs256(payload({ aud: 'another-api' }))), 'claim_mismatch');
    await expectInvalid(hs256()(await signHs256(payload({ iss: undefined }))), 'claim_missing');
    await expectInvalid(hs256()(await signHs256(payload({ aud: undefined }))), 'claim_missing');
  });

  it('accepts any of several configured audiences', async () => {
    const verify = createJwtVerifier({ algorithm: 'HS256', secret, audience: ['a', TEST_AUDIENCE] });
    await expect(verify(await signHs256(payload()))).resolves.toMatchObject({ userId: 'alice' });
  });

  it('requires sub and exp', async () => {
    await expectInvalid(hs256()(await signHs256(payload({ sub: undefined }))), 'claim_missing');
    await expectInvalid(hs256()(await signHs256(payload({ exp: undefined }))), 'claim_missing');
  });

  it('rejects a sub that is not a safe id (it becomes a DynamoDB key part)', async () => {
    for (const sub of ['alice#ACCOUNT', 'USER#bob', '', ' alice', 'a/b', 'x'.repeat(129), '-alice']) {
      await expectInvalid(hs256()(await signHs256(payload({ sub }))), 'bad_subject');
    }
    await expectInvalid(hs256()(await signHs256(payload({ sub: 42 }))), 'bad_subject');
    await expect(hs256()(await signHs256(payload({ sub: 'x'.repeat(128) })))).resolves.toMatchObject({
      userId: 'x'.repeat(128),
    });
  });

  it('rejects things that are not compact JWS', async () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d.e', `${await signHs256(payload())} `, 'x'.repeat(9000)]) {
      await expectInvalid(hs256()(token), 'malformed');
    }
  });

  it('refuses a short HS256 secret and a plain-http JWKS URL on a public host', () => {
    expect(() => createJwtVerifier({ algorithm: 'HS256', secret: new TextEncoder().encode('short') })).toThrow(
      JwtConfigInvalid,
    );
    expect(() => createJwtVerifier({ algorithm: 'RS256', jwksUrl: 'http://issuer.example.com/jwks.json' })).toThrow(
      JwtConfigInvalid,
    );
    expect(() => createJwtVerifier({ algorithm: 'RS256', jwksUrl: 'not a url' })).toThrow(JwtConfigInvalid);
    expect(() =>
      createJwtVerifier({ algorithm: 'RS256', jwksUrl: 'https://issuer.example.com/jwks.json' }),
    ).not.toThrow();
  });
});

describe('Authorizer: JWT verification (RS256 with a JWKS)', () => {
  let key: RsaKey;
  let otherKey: RsaKey;
  let jwks: JwksServer;
  let verify: JwtVerifier;

  beforeAll(async () => {
    key = await rsaKey('key-1');
    otherKey = await rsaKey('key-2');
    jwks = await startJwksServer([key.publicJwk]);
    verify = createJwtVerifier({ algorithm: 'RS256', jwksUrl: jwks.url, issuer: TEST_ISSUER, audience: TEST_AUDIENCE });
  });
  afterAll(async () => {
    await (jwks as JwksServer | undefined)?.close(); // unassigned when setup failed
  });

  it('accepts a token signed by a key of the JWKS', async () => {
    const verified = await verify(await signRs256(payload({ role: 'admin' }), key.privateKey, key.kid));
    expect(verified).toMatchObject({ userId: 'alice', admin: true });
  });

  it('rejects a token signed by another key, whether it claims an unknown kid or the known one', async () => {
    await expectInvalid(verify(await signRs256(payload(), otherKey.privateKey, otherKey.kid)), 'unknown_key');
    await expectInvalid(verify(await signRs256(payload(), otherKey.privateKey, key.kid)), 'bad_signature');
  });

  it('rejects an HS256 token keyed with the public key (algorithm confusion) and alg: none', async () => {
    const pem = new TextEncoder().encode(await exportSPKI(key.publicKey));
    await expectInvalid(verify(await signHs256(payload({ role: 'admin' }), pem)), 'algorithm_not_allowed');
    await expectInvalid(verify(await signHs256(payload(), TEST_SECRET)), 'algorithm_not_allowed');
    await expectInvalid(verify(unsigned(payload())), 'algorithm_not_allowed');
  });

  it('refuses a token issued in the future beyond the clock skew, and accepts one within it', async () => {
    const now = nowSeconds();
    const future = payload({ iat: now + 60, exp: now + 3_600 });
    await expectInvalid(verify(await signRs256(future, key.privateKey, key.kid)), 'issued_in_future');
    const skewed = payload({ iat: now + 3, exp: now + 3_600 });
    await expect(verify(await signRs256(skewed, key.privateKey, key.kid))).resolves.toMatchObject({ userId: 'alice' });
  });

  it('refuses a token living longer than the maximum (24 h by default, configurable) and one without iat', async () => {
    const now = nowSeconds();
    const day = payload({ iat: now - 60, exp: now - 60 + DEFAULT_MAX_LIFETIME_SECONDS });
    await expect(verify(await signRs256(day, key.privateKey, key.kid))).resolves.toMatchObject({ userId: 'alice' });
    const longer = payload({ iat: now - 60, exp: now - 60 + DEFAULT_MAX_LIFETIME_SECONDS + 1 });
    await expectInvalid(verify(await signRs256(longer, key.privateKey, key.kid)), 'lifetime_too_long');
    await expectInvalid(verify(await signRs256(payload({ iat: undefined }), key.privateKey, key.kid)), 'claim_missing');

    const hourly = createJwtVerifier({
      algorithm: 'RS256',
      jwksUrl: jwks.url,
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      maxLifetimeSeconds: 3_600,
    });
    await expectInvalid(hourly(await signRs256(day, key.privateKey, key.kid)), 'lifetime_too_long');
    await expect(hourly(await signRs256(payload(), key.privateKey, key.kid))).resolves.toMatchObject({
      userId: 'alice',
    });
    expect(() => createJwtVerifier({ algorithm: 'RS256', jwksUrl: jwks.url, maxLifetimeSeconds: 0 })).toThrow(
      JwtConfigInvalid,
    );
  });

  it('reports an unreachable JWKS as KeySourceUnavailable, not as a bad token', async () => {
    const down = await startJwksServer([]);
    const url = down.url;
    await down.close();
    const unreachable = createJwtVerifier({ algorithm: 'RS256', jwksUrl: url, jwksTimeoutMs: 2_000 });
    const error: unknown = await unreachable(await signRs256(payload(), key.privateKey, key.kid)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeySourceUnavailable);
    expect((error as Error).name).toBe('KeySourceUnavailable');
  });
});
