import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** Helpers for authorizer tests: tokens of every kind, and a JWKS served on 127.0.0.1. */

export const TEST_SECRET = 'test-only-hs256-secret-of-at-least-32-bytes!!';
export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'purchase-saga-test';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A payload with sensible defaults (sub alice, the test issuer and audience, valid for an hour). */
export function payload(overrides: Record<string, unknown> = {}): JWTPayload {
  const iat = nowSeconds();
  const merged: Record<string, unknown> = {
    sub: 'alice',
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    iat,
    exp: iat + 3600,
    ...overrides,
  };
  // An override of `undefined` removes the claim.
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

export function signHs256(claims: JWTPayload, secret: string | Uint8Array = TEST_SECRET): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

export function signRs256(claims: JWTPayload, key: CryptoKey, kid: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key);
}

/** An unsecured JWT (`alg: none`, empty signature). */
export function unsigned(claims: JWTPayload): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

export interface RsaKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function rsaKey(kid: string): Promise<RsaKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicKey, publicJwk };
}

export interface JwksServer {
  url: string;
  /** GET requests served so far. */
  requests: () => number;
  close: () => Promise<void>;
}

/** Serve `{ keys }` at /.well-known/jwks.json on 127.0.0.1 (random port). */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: () => requests,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
