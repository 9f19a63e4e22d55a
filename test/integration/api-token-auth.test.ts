import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET, mintDevToken } from '../../local/dev-auth.js';
import type { LocalSaga } from '../../local/saga.js';
import { call } from '../support/api.js';
import { nowSeconds, payload, signHs256, unsigned } from '../support/jwt.js';
import { localSaga, seed, type ShopSpec } from '../support/saga.js';

/**
 * The LocalStack profile's API: API Gateway runs no authorizer, so the Api Lambda verifies the
 * bearer token itself (API_AUTH=token) with the authorizer's code and configuration, and answers
 * what the gateway answers on AWS. On AWS (API_AUTH=authorizer) a token alone never gets in.
 */
const shop: ShopSpec = {
  items: [{ itemId: 'sword', price: 3_000, stock: 10 }],
  users: [{ userId: 'alice', balance: 10_000, slots: 5 }],
};
/** Claims the development key's tokens carry, as `support/jwt`'s payload() builds them. */
const claims = (extra: Record<string, unknown> = {}) => payload({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, ...extra });

describe('API: tokens verified by the Api Lambda (LocalStack profile)', () => {
  let saga: LocalSaga;
  let secretCalls = 0;
  beforeAll(async () => {
    saga = await localSaga({
      stackProps: { profile: 'localstack' },
      overrides: {
        // The first read of the secret fails (Secrets Manager down), later ones succeed.
        Api: {
          jwtSecret: () => {
            secretCalls += 1;
            return secretCalls === 1 ? Promise.reject(new Error('unreachable')) : Promise.resolve(DEV_JWT_SECRET);
          },
        },
      },
    });
    await seed(saga, shop);
  });
  afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

  it('answers 500 while the secret cannot be read, and does not remember the failure', async () => {
    const token = await mintDevToken({ userId: 'alice' });
    const down = await call(saga, { path: '/me', token });
    expect(down.status).toBe(500);
    expect(down.json).toMatchObject({ status: 500, type: expect.stringMatching(/\/internal$/) });
    const up = await call(saga, { path: '/me', token });
    expect(up.status).toBe(200);
    expect(up.json).toMatchObject({ userId: 'alice', balance: 10_000 });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a scheme other than Bearer', 'Basic YWxpY2U6c2VjcmV0'],
    ['a token signed with another key', signHs256(claims(), 'another-secret-that-is-long-enough-to-be-used')],
    ['an unsigned token', Promise.resolve(unsigned(claims()))],
    ['an expired token', signHs256(claims({ iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }), DEV_JWT_SECRET)],
  ])('answers 401 unauthenticated for %s, writing nothing', async (_, pending) => {
    const value = await pending;
    const headers: Record<string, string> =
      value === undefined ? {} : { Authorization: value.startsWith('Basic') ? value : `Bearer ${value}` };
    const res = await call(saga, {
      path: '/orders',
      headers,
      idempotencyKey: randomUUID(),
      body: { itemId: 'sword', quantity: 1 },
    });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status: 401, type: expect.stringMatching(/\/unauthenticated$/) });
    const me = await call(saga, { path: '/me', token: await mintDevToken({ userId: 'alice' }) });
    expect(me.json).toMatchObject({ balance: 10_000, items: [] });
  });

  it('answers 403 on admin routes for users and lets admins through', async () => {
    const body = { itemId: 'shield', name: 'Shield', price: 500, stock: 3 };
    const user = await call(saga, { path: '/admin/items', token: await mintDevToken({ userId: 'alice' }), body });
    expect(user.status).toBe(403);
    expect(user.json).toMatchObject({ type: expect.stringMatching(/\/forbidden$/) });
    const admin = await call(saga, {
      path: '/admin/items',
      token: await mintDevToken({ userId: 'root', admin: true }),
      body,
    });
    expect(admin.status).toBe(201);
  });

  it('buys with a valid token as the principal it names', async () => {
    const res = await call(saga, {
      path: '/orders',
      token: await mintDevToken({ userId: 'alice' }),
      idempotencyKey: randomUUID(),
      body: { itemId: 'sword', quantity: 1 },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ status: 'COMPLETED', userId: 'alice', totalAmount: 3_000 });
  });
});

describe('API: behind the TOKEN authorizer (AWS profile)', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
  });
  afterAll(() => (saga as LocalSaga | undefined)?.close()); // unassigned when setup failed

  it('refuses a request that reaches the Api Lambda with a valid token but no authorizer context', async () => {
    const api = saga.lambdas.get('Api');
    if (!api) throw new Error('no Api function');
    const token = await mintDevToken({ userId: 'alice' });
    const out = await api.invoke({
      resource: '/me',
      path: '/me',
      httpMethod: 'GET',
      headers: { Authorization: `Bearer ${token}` },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { path: '/v1/me', requestId: 'direct-1', httpMethod: 'GET', resourcePath: '/me', stage: 'v1' },
    });
    expect(out.ok).toBe(true);
    expect(out.ok && out.payload).toMatchObject({ statusCode: 401 });
  });
});
