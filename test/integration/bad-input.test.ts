import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET, mintDevToken } from '../../local/dev-auth.js';
import type { LocalSaga } from '../../local/saga.js';
import type { ProblemType } from '../../lambdas/api/problems.js';
import { call, token, type ApiAnswer } from '../support/api.js';
import { nowSeconds, payload, rsaKey, signHs256, signRs256, unsigned } from '../support/jwt.js';
import { invariantViolations, localSaga, scanTables, seed, snapshot, type ShopSpec } from '../support/saga.js';

/**
 * A corpus of malformed and hostile requests against the local API Gateway (authorizer, proxy
 * integration, gateway responses, the real API Lambda, DynamoDB Local). Every case must get the
 * exact 4xx docs/openapi.yaml documents, as problem+json, and must write nothing to any table.
 */

// ---------------------------------------------------------------------------------------------
// The contract, read from docs/openapi.yaml (not from the code under test)

const Responses = z.record(
  z.string(),
  z.object({ $ref: z.string().optional(), 'x-problem-types': z.array(z.string()).optional() }),
);
const OpenApi = z.object({
  'x-problem-types': z.record(z.string(), z.object({ status: z.number(), title: z.string() })),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.object({ responses: Responses }),
});
const openapi = OpenApi.parse(parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')));
const problemTypes = openapi['x-problem-types'];
/** The code's catalogue types the table; the statuses and titles asserted come from the docs. */
type Slug = ProblemType;
const problemUri = (slug: string) => `https://purchase-saga.dev/problems/${slug}`;

/** The documented problem slugs of `METHOD path` answering `status`, or undefined when the route is not documented. */
function documentedSlugs(method: string, path: string, status: number): { route: string; slugs: string[] } | undefined {
  const segments = new URL(path, 'http://local').pathname.split('/').filter(Boolean);
  for (const [template, operations] of Object.entries(openapi.paths)) {
    const parts = template.split('/').filter(Boolean);
    const matches = parts.length === segments.length && parts.every((p, i) => /^\{.+\}$/.test(p) || p === segments[i]);
    const op = operations[method.toLowerCase()];
    if (!matches || op === undefined) continue;
    const response = z.object({ responses: Responses }).parse(op).responses[String(status)];
    const resolved = response?.$ref
      ? openapi.components.responses[response.$ref.replace('#/components/responses/', '')]
      : response;
    return { route: `${method} ${template}`, slugs: resolved?.['x-problem-types'] ?? [] };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The shop, and the callers

const shop: ShopSpec = {
  items: [
    { itemId: 'sword', price: 3_000, stock: 100 },
    { itemId: 'shield', price: 2_500, stock: 10 },
  ],
  users: [
    { userId: 'alice', balance: 50_000, slots: 10 },
    { userId: 'bob', balance: 50_000, slots: 10 },
  ],
  coupons: [{ userId: 'alice', couponId: 'WELCOME', discount: 1_000 }],
};

/** A token the local authorizer's key signs, with the dev issuer and audience, and these claims. */
const devSigned = (claims: Record<string, unknown>) =>
  signHs256(payload({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, ...claims }), DEV_JWT_SECRET);
const hourAgo = () => new Date(Date.now() - 3_600_000);

/** Every caller of the corpus; the tokens are minted once, before the cases run. */
const CALLERS = {
  alice: () => token('alice'),
  bob: () => token('bob'),
  admin: () => token('root', true),
  // Never funded, holds nothing: a plain stranger.
  mallory: () => token('mallory'),
  expired: () => mintDevToken({ userId: 'alice', ttlSeconds: 60, now: hourAgo() }),
  expiredAdmin: () => mintDevToken({ userId: 'root', admin: true, ttlSeconds: 60, now: hourAgo() }),
  // nbf an hour ahead: far beyond the 5 s clock tolerance.
  notYetValid: () => devSigned({ sub: 'alice', nbf: nowSeconds() + 3_600 }),
  otherKey: () => signHs256(payload({ sub: 'alice', iss: DEV_ISSUER, aud: DEV_AUDIENCE })),
  forgedAdmin: () =>
    signHs256(
      payload({ sub: 'root', role: 'admin', iss: DEV_ISSUER, aud: DEV_AUDIENCE }),
      'another-secret-of-at-least-thirty-two-bytes',
    ),
  algNoneAdmin: () =>
    Promise.resolve(unsigned(payload({ sub: 'root', role: 'admin', iss: DEV_ISSUER, aud: DEV_AUDIENCE }))),
  // The right key under another HMAC: the deployment accepts HS256 only.
  hs512: () =>
    new SignJWT({ sub: 'alice', iss: DEV_ISSUER, aud: DEV_AUDIENCE })
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(DEV_JWT_SECRET)),
  rs256: async () => {
    const key = await rsaKey('attacker');
    return signRs256(
      payload({ sub: 'root', role: 'admin', iss: DEV_ISSUER, aud: DEV_AUDIENCE }),
      key.privateKey,
      key.kid,
    );
  },
  // alice's genuine token with its payload swapped for an admin one, signature kept.
  tamperedAdmin: async () => {
    const [header, , signature] = (await token('alice')).split('.');
    const claims = Buffer.from(
      JSON.stringify(payload({ sub: 'alice', role: 'admin', iss: DEV_ISSUER, aud: DEV_AUDIENCE })),
    ).toString('base64url');
    return `${String(header)}.${claims}.${String(signature)}`;
  },
  noExp: () => devSigned({ sub: 'alice', exp: undefined }),
  noSub: () => devSigned({ sub: undefined }),
  // `sub` becomes part of DynamoDB keys (USER#<sub>): a key separator must not get through.
  keySeparatorSub: () => devSigned({ sub: 'USER#alice' }),
  numericSub: () => devSigned({ sub: 12345 }),
  // Over the verifier's 8 KiB limit.
  hugeToken: () => devSigned({ sub: 'alice', pad: 'x'.repeat(9_000) }),
  // Validly signed, but none of these is the admin claim (`role` equal to, or an array containing, `admin`).
  roleCase: () => devSigned({ sub: 'mallory', role: 'Admin' }),
  rolePadded: () => devSigned({ sub: 'mallory', role: 'admin ' }),
  roleObject: () => devSigned({ sub: 'mallory', role: { admin: true } }),
  lookalikeClaims: () =>
    devSigned({ sub: 'mallory', admin: true, roles: ['admin'], isAdmin: 'true', 'cognito:groups': ['admin'] }),
} satisfies Record<string, () => Promise<string>>;
type Caller = keyof typeof CALLERS;

// ---------------------------------------------------------------------------------------------
// The corpus

/** A fresh, valid Idempotency-Key per run, for cases about something else. */
const FRESH = Symbol('fresh Idempotency-Key');

interface Case {
  name: string;
  method?: string;
  /** Below the stage. `{bobOrder}` stands for the id of bob's real, completed order. */
  path: string;
  as?: Caller;
  key?: string | typeof FRESH;
  /** Sent as JSON.stringify(body)... */
  body?: unknown;
  /** ...or exactly this text. */
  raw?: string;
  /** Default application/json when there is a body; null sends none. */
  contentType?: string | null;
  headers?: Record<string, string>;
  status: number;
  type: Slug;
  /** Answered by API Gateway itself (type, title and status only) rather than the API Lambda. */
  gateway?: boolean;
  /** Anything else this case must show. */
  check?: (res: ApiAnswer) => void;
}
type Spec = Omit<Case, 'name' | 'status' | 'type'>;

const invalid = (name: string, spec: Spec): Case => ({ name, ...spec, status: 400, type: 'validation-failed' });
const notJson = (name: string, spec: Spec): Case => ({ name, ...spec, status: 400, type: 'bad-request' });
const tooLarge = (name: string, spec: Spec): Case => ({ name, ...spec, status: 413, type: 'payload-too-large' });
const mediaType = (name: string, spec: Spec): Case => ({ name, ...spec, status: 415, type: 'unsupported-media-type' });
const unauthenticated = (name: string, spec: Spec): Case => ({
  name,
  ...spec,
  status: 401,
  type: 'unauthenticated',
  gateway: true,
});
const forbidden = (name: string, spec: Spec): Case => ({ name, ...spec, status: 403, type: 'forbidden' });
// API Gateway has no 405: an unknown path or method is its MISSING_AUTHENTICATION_TOKEN, our 404.
const noRoute = (name: string, spec: Spec): Case => ({ name, ...spec, status: 404, type: 'not-found', gateway: true });
const keyInvalid = (name: string, spec: Spec): Case => ({
  name,
  ...spec,
  status: 400,
  type: 'idempotency-key-invalid',
});

const enc = encodeURIComponent;
const BUY = { path: '/orders', as: 'bob', key: FRESH } as const;
const ITEM = (id: string) => `/items/${enc(id)}`;
const ORDER = (id: string) => `/orders/${enc(id)}`;
const CREATE_ITEM = { path: '/admin/items', as: 'admin' } as const;
const RESTOCK = { path: '/admin/items/sword/restock', as: 'admin' } as const;
const TOP_UP = { path: '/admin/users/alice/top-ups', as: 'admin', key: FRESH } as const;
const COUPON = { path: '/admin/users/alice/coupons', as: 'admin' } as const;
const SLOTS = { method: 'PUT', path: '/admin/users/alice/slots', as: 'admin' } as const;
const item = { itemId: 'bow', name: 'Bow', price: 1_500, stock: 3 };
const coupon = { couponId: 'SPRING', discount: 500, expiresAt: '2099-06-30T23:59:59Z' };

/** A JSON body of exactly `bytes` UTF-8 bytes: `fields` plus an unknown `pad` field. */
function padded(fields: Record<string, unknown>, bytes: number): string {
  const empty = JSON.stringify({ ...fields, pad: '' });
  return JSON.stringify({ ...fields, pad: 'x'.repeat(bytes - Buffer.byteLength(empty)) });
}
const LIMIT = 16 * 1024; // documented: bodies of at most 16 KiB

const hostileIds: [string, string][] = [
  ['an emoji', '🗡️sword'],
  ['a zero-width space', 'sword\u200b'],
  ['a right-to-left override', '\u202edrows'],
  ['a NUL byte', 'sword\u0000'],
  ['Cyrillic homoglyphs', 'ѕwоrd'],
  ['a trailing newline', 'sword\n'],
  ['129 characters', 'a'.repeat(129)],
  ['a DynamoDB key separator', 'ITEM#sword'],
  ['a DynamoDB expression fragment', '#pk = :v OR 1=1'],
  ['SQL injection', "sword' OR '1'='1"],
  ['a NoSQL operator', '{"$ne":null}'],
  ['path traversal', '../../etc/passwd'],
  ['an encoded traversal', '%2e%2e%2fadmin'],
  ['a JSONPath expression', '$.Items[*].pk'],
  ['a JMESPath expression', 'items[?price<`1`].itemId'],
  ['a script tag', '<script>alert(1)</script>'],
  ['CRLF header injection', 'sword\r\nSet-Cookie: admin=1'],
];

const CASES: Case[] = [
  // --- POST /orders: the Idempotency-Key is checked first, so these win over any body problem
  {
    name: 'POST /orders without Idempotency-Key (and a non-JSON body)',
    ...BUY,
    key: undefined,
    raw: '{oops',
    status: 400,
    type: 'idempotency-key-missing',
  },
  {
    name: 'POST /orders without Idempotency-Key (and a text/plain body)',
    ...BUY,
    key: undefined,
    raw: 'hello',
    contentType: 'text/plain',
    status: 400,
    type: 'idempotency-key-missing',
  },
  keyInvalid('POST /orders with an empty Idempotency-Key', {
    ...BUY,
    key: undefined,
    headers: { 'Idempotency-Key': '' },
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a 7-character Idempotency-Key', {
    ...BUY,
    key: 'abcdefg',
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a 129-character Idempotency-Key', {
    ...BUY,
    key: 'k'.repeat(129),
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a 10 000-character Idempotency-Key', {
    ...BUY,
    key: 'k'.repeat(10_000),
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a CRLF in the Idempotency-Key', {
    ...BUY,
    key: 'key-0001\r\nSet-Cookie: admin=1',
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a Cyrillic Idempotency-Key', {
    ...BUY,
    key: 'ключ-идемпотентности',
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with a path-traversal Idempotency-Key', {
    ...BUY,
    key: '../../../../etc/passwd',
    body: { itemId: 'sword', quantity: 1 },
  }),
  keyInvalid('POST /orders with an invalid Idempotency-Key and an invalid body', {
    ...BUY,
    key: "' OR 1=1 --",
    body: { itemId: 'sword', quantity: -1 },
  }),

  // --- POST /orders: wrong types, absurd numbers, hostile ids, forged fields
  invalid('POST /orders with a string quantity', { ...BUY, body: { itemId: 'sword', quantity: '1' } }),
  invalid('POST /orders with an array quantity', { ...BUY, body: { itemId: 'sword', quantity: [1] } }),
  invalid('POST /orders with a NoSQL-operator quantity', { ...BUY, body: { itemId: 'sword', quantity: { $gt: 0 } } }),
  invalid('POST /orders with a null quantity', { ...BUY, body: { itemId: 'sword', quantity: null } }),
  invalid('POST /orders with a boolean quantity', { ...BUY, body: { itemId: 'sword', quantity: true } }),
  invalid('POST /orders with a zero quantity', { ...BUY, body: { itemId: 'sword', quantity: 0 } }),
  invalid('POST /orders with a negative quantity', { ...BUY, body: { itemId: 'sword', quantity: -3 } }),
  invalid('POST /orders with a fractional quantity', { ...BUY, body: { itemId: 'sword', quantity: 0.5 } }),
  invalid('POST /orders with quantity 1001 (one over the maximum)', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1_001 },
  }),
  invalid('POST /orders with quantity 1e308', { ...BUY, raw: '{"itemId":"sword","quantity":1e308}' }),
  invalid('POST /orders with quantity 1e400 (parses to Infinity)', {
    ...BUY,
    raw: '{"itemId":"sword","quantity":1e400}',
  }),
  invalid('POST /orders with quantity MAX_SAFE_INTEGER + 2', {
    ...BUY,
    raw: '{"itemId":"sword","quantity":9007199254740993}',
  }),
  invalid('POST /orders with quantity 1e21', { ...BUY, raw: '{"itemId":"sword","quantity":1e21}' }),
  invalid('POST /orders with a numeric itemId', { ...BUY, body: { itemId: 42, quantity: 1 } }),
  invalid('POST /orders with a NoSQL-operator itemId', { ...BUY, body: { itemId: { $ne: null }, quantity: 1 } }),
  invalid('POST /orders with an empty itemId', { ...BUY, body: { itemId: '', quantity: 1 } }),
  invalid('POST /orders with a null couponId', { ...BUY, body: { itemId: 'sword', quantity: 1, couponId: null } }),
  ...hostileIds.map(([what, id]) =>
    invalid(`POST /orders with an itemId holding ${what}`, { ...BUY, body: { itemId: id, quantity: 1 } }),
  ),
  invalid('POST /orders with a couponId holding a DynamoDB expression fragment', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1, couponId: 'WELCOME OR attribute_exists(pk)' },
  }),
  invalid('POST /orders naming another user in the body', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1, userId: 'alice' },
  }),
  invalid('POST /orders setting its own price and total', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1, unitPrice: 1, totalAmount: 0 },
  }),
  invalid('POST /orders setting its own status', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1, status: 'COMPLETED' },
  }),
  invalid('POST /orders with a missing quantity', { ...BUY, body: { itemId: 'sword' } }),
  invalid('POST /orders with an empty object', { ...BUY, body: {} }),
  invalid('POST /orders with a JSON string body', { ...BUY, body: 'itemId=sword' }),
  invalid('POST /orders with a JSON number body', { ...BUY, raw: '42' }),
  invalid('POST /orders with a JSON null body', { ...BUY, raw: 'null' }),
  invalid('POST /orders with duplicate keys, the last one invalid', {
    ...BUY,
    raw: '{"itemId":"sword","quantity":1,"quantity":-5}',
  }),
  invalid('POST /orders with a __proto__ member (prototype pollution)', {
    ...BUY,
    raw: '{"itemId":"sword","__proto__":{"quantity":1,"polluted":true}}',
  }),
  invalid('POST /orders with a constructor.prototype member (prototype pollution)', {
    ...BUY,
    raw: '{"itemId":"sword","quantity":1,"constructor":{"prototype":{"polluted":true}}}',
  }),
  invalid('POST /orders with a deeply nested unknown field', {
    ...BUY,
    raw: `{"itemId":"sword","quantity":1,"x":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
  }),
  invalid('POST /orders with an unknown query parameter', {
    ...BUY,
    path: '/orders?userId=alice',
    body: { itemId: 'sword', quantity: 1 },
  }),

  // --- POST /orders: not JSON
  notJson('POST /orders with NaN as a bare token', { ...BUY, raw: '{"itemId":"sword","quantity":NaN}' }),
  notJson('POST /orders with Infinity as a bare token', { ...BUY, raw: '{"itemId":"sword","quantity":Infinity}' }),
  notJson('POST /orders with -Infinity as a bare token', { ...BUY, raw: '{"itemId":"sword","quantity":-Infinity}' }),
  notJson('POST /orders with a hexadecimal number', { ...BUY, raw: '{"itemId":"sword","quantity":0x1}' }),
  notJson('POST /orders with a truncated body', { ...BUY, raw: '{"itemId":"sword","quan' }),
  notJson('POST /orders with a trailing comma', { ...BUY, raw: '{"itemId":"sword","quantity":1,}' }),
  notJson('POST /orders with single quotes', { ...BUY, raw: "{'itemId':'sword','quantity':1}" }),
  notJson('POST /orders with a comment', { ...BUY, raw: '{"itemId":"sword",/* free */"quantity":1}' }),
  notJson('POST /orders with an empty body', { ...BUY, raw: '' }),
  notJson('POST /orders with a whitespace-only body', { ...BUY, raw: ' \n\t ' }),

  // --- POST /orders: media type and size
  mediaType('POST /orders as text/plain', {
    ...BUY,
    raw: '{"itemId":"sword","quantity":1}',
    contentType: 'text/plain',
  }),
  mediaType('POST /orders as a form', {
    ...BUY,
    raw: 'itemId=sword&quantity=1',
    contentType: 'application/x-www-form-urlencoded',
  }),
  mediaType('POST /orders as multipart', {
    ...BUY,
    raw: '--b\r\nContent-Disposition: form-data; name="itemId"\r\n\r\nsword\r\n--b--',
    contentType: 'multipart/form-data; boundary=b',
  }),
  mediaType('POST /orders with a list of content types', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1 },
    contentType: 'application/json, text/plain',
  }),
  mediaType('POST /orders with an empty Content-Type', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1 },
    contentType: '',
  }),
  mediaType('POST /orders as XML with an external entity', {
    ...BUY,
    raw: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><order>&e;</order>',
    contentType: 'application/xml',
  }),
  invalid('POST /orders with a body of exactly 16 KiB (the limit is inclusive)', {
    ...BUY,
    raw: padded({ itemId: 'sword', quantity: 1 }, LIMIT),
  }),
  tooLarge('POST /orders with a body one byte over 16 KiB', {
    ...BUY,
    raw: padded({ itemId: 'sword', quantity: 1 }, LIMIT + 1),
  }),
  tooLarge('POST /orders with 16 KiB of characters but more bytes (emoji)', {
    ...BUY,
    body: { itemId: 'sword', quantity: 1, pad: '😀'.repeat(4_100) },
  }),
  {
    name: "POST /orders with a body over API Gateway's 10 MB",
    ...BUY,
    raw: 'x'.repeat(10 * 1024 * 1024 + 1),
    status: 413,
    type: 'payload-too-large',
    gateway: true,
  },

  // --- Authentication: answered by API Gateway's authorizer
  unauthenticated('POST /orders without a token', { ...BUY, as: undefined, body: { itemId: 'sword', quantity: 1 } }),
  unauthenticated('GET /me without a token', { path: '/me' }),
  unauthenticated('GET /me with Basic credentials', {
    path: '/me',
    headers: { Authorization: 'Basic YWxpY2U6cGFzcw==' },
  }),
  unauthenticated('GET /me with an empty Bearer', { path: '/me', headers: { Authorization: 'Bearer ' } }),
  unauthenticated('GET /me with two Bearer tokens', { path: '/me', headers: { Authorization: 'Bearer a.b.c d.e.f' } }),
  unauthenticated('GET /me with a token that is not a JWT', {
    path: '/me',
    headers: { Authorization: "Bearer ' OR 1=1 --" },
  }),
  unauthenticated('GET /me with a CRLF in the Authorization header', {
    path: '/me',
    headers: { Authorization: 'Bearer x.y.z\r\nX-User: root' },
  }),
  unauthenticated('GET /me with an expired token', { path: '/me', as: 'expired' }),
  unauthenticated('GET /me with a not-yet-valid token', { path: '/me', as: 'notYetValid' }),
  unauthenticated('GET /me with a token signed by another key', { path: '/me', as: 'otherKey' }),
  unauthenticated('GET /me with an HS512 token (algorithm not allowed)', { path: '/me', as: 'hs512' }),
  unauthenticated('GET /me with a token without exp', { path: '/me', as: 'noExp' }),
  unauthenticated('GET /me with a token without sub', { path: '/me', as: 'noSub' }),
  unauthenticated('GET /me with a numeric sub', { path: '/me', as: 'numericSub' }),
  unauthenticated('GET /me with a DynamoDB key separator in sub', { path: '/me', as: 'keySeparatorSub' }),
  unauthenticated('GET /me with a token over 8 KiB', { path: '/me', as: 'hugeToken' }),
  unauthenticated('GET /items with an unsigned (alg none) admin token', { path: '/items', as: 'algNoneAdmin' }),
  unauthenticated('POST /admin/items with an unsigned (alg none) admin token', {
    ...CREATE_ITEM,
    as: 'algNoneAdmin',
    body: item,
  }),
  unauthenticated('POST /admin/items with an admin token signed by another key', {
    ...CREATE_ITEM,
    as: 'forgedAdmin',
    body: item,
  }),
  unauthenticated('POST /admin/items with an RS256 admin token (algorithm confusion)', {
    ...CREATE_ITEM,
    as: 'rs256',
    body: item,
  }),
  unauthenticated("POST /admin/items with alice's token turned admin (signature kept)", {
    ...CREATE_ITEM,
    as: 'tamperedAdmin',
    body: item,
  }),
  unauthenticated('PUT /admin/users/{userId}/slots with an expired admin token', {
    ...SLOTS,
    as: 'expiredAdmin',
    body: { capacity: 1_000 },
  }),
  unauthenticated('POST /admin/users/{userId}/top-ups with an expired admin token', {
    ...TOP_UP,
    as: 'expiredAdmin',
    body: { amount: 1_000 },
  }),

  // --- Admin routes for non-admins: 403 from the API Lambda, before the body is looked at
  forbidden('POST /admin/items as a user', { ...CREATE_ITEM, as: 'bob', body: item }),
  forbidden('POST /admin/items as a user, with a bad body', { ...CREATE_ITEM, as: 'bob', raw: '{not json' }),
  forbidden('POST /admin/items with role "Admin"', { ...CREATE_ITEM, as: 'roleCase', body: item }),
  forbidden('POST /admin/items with role "admin " (trailing space)', { ...CREATE_ITEM, as: 'rolePadded', body: item }),
  forbidden('POST /admin/items with an object role claim', { ...CREATE_ITEM, as: 'roleObject', body: item }),
  forbidden('POST /admin/items with admin-looking claims other than role', {
    ...CREATE_ITEM,
    as: 'lookalikeClaims',
    body: item,
  }),
  forbidden('POST /admin/items/{itemId}/restock as a user', { ...RESTOCK, as: 'alice', body: { quantity: 1_000 } }),
  forbidden('POST /admin/users/{userId}/top-ups as the user topping herself up', {
    ...TOP_UP,
    as: 'alice',
    body: { amount: 1_000_000 },
  }),
  forbidden('POST /admin/users/{userId}/top-ups as a user with an admin header', {
    ...TOP_UP,
    as: 'bob',
    headers: { 'X-Admin': 'true', 'X-User-Role': 'admin' },
    body: { amount: 1 },
  }),
  forbidden('POST /admin/users/{userId}/coupons as a user', { ...COUPON, as: 'alice', body: coupon }),
  forbidden('PUT /admin/users/{userId}/slots as a user', { ...SLOTS, as: 'bob', body: { capacity: 10_000 } }),

  // --- GET /orders/{orderId}
  {
    name: "GET /orders/{orderId}: alice reading bob's order",
    path: '/orders/{bobOrder}',
    as: 'alice',
    status: 404,
    type: 'not-found',
    check: leaksNothing,
  },
  {
    name: "GET /orders/{orderId}: a stranger reading bob's order",
    path: '/orders/{bobOrder}',
    as: 'mallory',
    status: 404,
    type: 'not-found',
    check: leaksNothing,
  },
  {
    name: "GET /orders/{orderId}: bob's order with a case-variant admin role",
    path: '/orders/{bobOrder}',
    as: 'roleCase',
    status: 404,
    type: 'not-found',
    check: leaksNothing,
  },
  {
    name: "GET /orders/{orderId}: an event id of bob's order",
    path: '/orders/{bobOrder}:ORDER_CREATED',
    as: 'bob',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'GET /orders/{orderId}: a 128-character id (valid, absent)',
    path: ORDER('o'.repeat(128)),
    as: 'bob',
    status: 404,
    type: 'not-found',
  },
  invalid('GET /orders/{orderId}: a 129-character id', { path: ORDER('o'.repeat(129)), as: 'bob' }),
  invalid("GET /orders/{orderId}: bob's order with a trailing space", { path: '/orders/{bobOrder}%20', as: 'bob' }),
  invalid('GET /orders/{orderId}: a step-record key', { path: ORDER('o-1#STEP#DeductBalance'), as: 'bob' }),
  invalid('GET /orders/{orderId}: a NUL byte', { path: '/orders/o-1%00', as: 'bob' }),
  invalid('GET /orders/{orderId}: SQL injection', { path: ORDER("' OR '1'='1"), as: 'admin' }),
  invalid('GET /orders/{orderId}: an encoded traversal to /me', { path: '/orders/%2e%2e%2fme', as: 'bob' }),
  invalid('GET /orders/{orderId}: an unknown query parameter', { path: '/orders/{bobOrder}?userId=alice', as: 'bob' }),

  // --- GET /items/{itemId}
  ...hostileIds.map(([what, id]) => invalid(`GET /items/{itemId}: ${what}`, { path: ITEM(id), as: 'bob' })),
  invalid('GET /items/{itemId}: a percent-encoded traversal', { path: '/items/%2e%2e%2fadmin%2fitems', as: 'bob' }),
  invalid('GET /items/{itemId}: an encoded slash', { path: '/items/sword%2Fshield', as: 'bob' }),
  invalid('GET /items/{itemId}: an unknown query parameter', { path: '/items/sword?admin=true', as: 'bob' }),
  {
    name: 'GET /items/{itemId}: a 128-character id (valid, absent)',
    path: ITEM('a'.repeat(128)),
    as: 'bob',
    status: 404,
    type: 'item-not-found',
  },

  // --- GET /items
  invalid('GET /items with limit=0', { path: '/items?limit=0', as: 'bob' }),
  invalid('GET /items with a negative limit', { path: '/items?limit=-5', as: 'bob' }),
  invalid('GET /items with a fractional limit', { path: '/items?limit=2.5', as: 'bob' }),
  invalid('GET /items with limit=101', { path: '/items?limit=101', as: 'bob' }),
  invalid('GET /items with limit=1e308', { path: '/items?limit=1e308', as: 'bob' }),
  invalid('GET /items with limit=NaN', { path: '/items?limit=NaN', as: 'bob' }),
  invalid('GET /items with limit=Infinity', { path: '/items?limit=Infinity', as: 'bob' }),
  invalid('GET /items with a word for a limit', { path: '/items?limit=ten', as: 'bob' }),
  invalid('GET /items with an empty limit', { path: '/items?limit=', as: 'bob' }),
  invalid('GET /items with a repeated limit, the last one too big', { path: '/items?limit=5&limit=500', as: 'bob' }),
  invalid('GET /items with a DynamoDB expression as the cursor', {
    path: `/items?cursor=${enc('#pk = :v OR 1=1')}`,
    as: 'bob',
  }),
  invalid('GET /items with a NoSQL operator as the cursor', { path: `/items?cursor=${enc('{"$gt":""}')}`, as: 'bob' }),
  invalid('GET /items with a 129-character cursor', { path: `/items?cursor=${'c'.repeat(129)}`, as: 'bob' }),
  invalid('GET /items with an unknown query parameter', { path: '/items?limit=5&admin=true', as: 'bob' }),
  invalid('GET /items with a __proto__ query parameter', { path: '/items?__proto__[polluted]=1', as: 'bob' }),
  invalid('GET /items with a constructor query parameter', { path: '/items?constructor=x', as: 'bob' }),

  // --- GET /me
  invalid('GET /me asking for another user', { path: '/me?userId=alice', as: 'bob' }),

  // --- POST /admin/items
  invalid('POST /admin/items with a zero price', { ...CREATE_ITEM, body: { ...item, price: 0 } }),
  invalid('POST /admin/items with a negative price', { ...CREATE_ITEM, body: { ...item, price: -1_500 } }),
  invalid('POST /admin/items with a fractional price', { ...CREATE_ITEM, body: { ...item, price: 14.99 } }),
  invalid('POST /admin/items with a string price', { ...CREATE_ITEM, body: { ...item, price: '1500' } }),
  invalid('POST /admin/items with price 1e308', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":1e308,"stock":3}',
  }),
  invalid('POST /admin/items with price MAX_SAFE_INTEGER + 2', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":9007199254740993,"stock":3}',
  }),
  invalid('POST /admin/items with price 10^12 + 1', { ...CREATE_ITEM, body: { ...item, price: 1_000_000_000_001 } }),
  invalid('POST /admin/items with a negative stock', { ...CREATE_ITEM, body: { ...item, stock: -1 } }),
  invalid('POST /admin/items with a fractional stock', { ...CREATE_ITEM, body: { ...item, stock: 2.5 } }),
  invalid('POST /admin/items with stock 1e21', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":1500,"stock":1e21}',
  }),
  invalid('POST /admin/items with a blank name', { ...CREATE_ITEM, body: { ...item, name: ' \t ' } }),
  invalid('POST /admin/items with a 201-character name', { ...CREATE_ITEM, body: { ...item, name: 'n'.repeat(201) } }),
  invalid('POST /admin/items with an array name', { ...CREATE_ITEM, body: { ...item, name: ['Bow'] } }),
  invalid('POST /admin/items with an itemId holding a key separator', {
    ...CREATE_ITEM,
    body: { ...item, itemId: 'ITEM#bow' },
  }),
  invalid('POST /admin/items with an itemId holding an emoji', { ...CREATE_ITEM, body: { ...item, itemId: '🏹' } }),
  invalid('POST /admin/items with an unknown field', { ...CREATE_ITEM, body: { ...item, reserved: 0 } }),
  invalid('POST /admin/items with a __proto__ member', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":1500,"stock":3,"__proto__":{"admin":true}}',
  }),
  invalid('POST /admin/items with a JSON array body', { ...CREATE_ITEM, body: [item] }),
  notJson('POST /admin/items with NaN as a bare token', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":NaN,"stock":3}',
  }),
  notJson('POST /admin/items with a trailing comma', {
    ...CREATE_ITEM,
    raw: '{"itemId":"bow","name":"Bow","price":1500,"stock":3,}',
  }),
  mediaType('POST /admin/items as XML', { ...CREATE_ITEM, raw: '<item id="bow"/>', contentType: 'application/xml' }),
  mediaType('POST /admin/items without a body or Content-Type', { ...CREATE_ITEM, method: 'POST' }),
  tooLarge('POST /admin/items one byte over 16 KiB', { ...CREATE_ITEM, raw: padded(item, LIMIT + 1) }),
  {
    name: 'POST /admin/items re-creating an existing item to reset its price',
    ...CREATE_ITEM,
    body: { itemId: 'sword', name: 'Sword', price: 1, stock: 1_000_000 },
    status: 409,
    type: 'conflict',
  },

  // --- POST /admin/items/{itemId}/restock
  invalid('POST /admin/items/{itemId}/restock with a zero quantity', { ...RESTOCK, body: { quantity: 0 } }),
  invalid('POST /admin/items/{itemId}/restock with a negative quantity', { ...RESTOCK, body: { quantity: -100 } }),
  invalid('POST /admin/items/{itemId}/restock with a fractional quantity', { ...RESTOCK, body: { quantity: 0.5 } }),
  invalid('POST /admin/items/{itemId}/restock with 1 000 001', { ...RESTOCK, body: { quantity: 1_000_001 } }),
  invalid('POST /admin/items/{itemId}/restock with 1e308', { ...RESTOCK, raw: '{"quantity":1e308}' }),
  invalid('POST /admin/items/{itemId}/restock with a string quantity', { ...RESTOCK, body: { quantity: '5' } }),
  invalid('POST /admin/items/{itemId}/restock with an unknown field', { ...RESTOCK, body: { quantity: 5, price: 1 } }),
  invalid('POST /admin/items/{itemId}/restock on a SQL-injection itemId', {
    ...RESTOCK,
    path: `/admin/items/${enc("sword' OR '1'='1")}/restock`,
    body: { quantity: 5 },
  }),
  invalid('POST /admin/items/{itemId}/restock on a DynamoDB expression itemId', {
    ...RESTOCK,
    path: `/admin/items/${enc('x, stock = :q')}/restock`,
    body: { quantity: 5 },
  }),
  invalid('POST /admin/items/{itemId}/restock on a zero-width itemId', {
    ...RESTOCK,
    path: `/admin/items/${enc('\u200bsword')}/restock`,
    body: { quantity: 5 },
  }),
  mediaType('POST /admin/items/{itemId}/restock as text/plain', {
    ...RESTOCK,
    raw: '{"quantity":5}',
    contentType: 'text/plain',
  }),
  notJson('POST /admin/items/{itemId}/restock with Infinity', { ...RESTOCK, raw: '{"quantity":Infinity}' }),
  tooLarge('POST /admin/items/{itemId}/restock one byte over 16 KiB', {
    ...RESTOCK,
    raw: padded({ quantity: 5 }, LIMIT + 1),
  }),
  {
    name: 'POST /admin/items/{itemId}/restock of an unknown item',
    ...RESTOCK,
    path: '/admin/items/ghost/restock',
    body: { quantity: 5 },
    status: 404,
    type: 'item-not-found',
  },

  // --- POST /admin/users/{userId}/top-ups (the Idempotency-Key is checked first here too)
  {
    name: 'POST /admin/users/{userId}/top-ups without Idempotency-Key',
    ...TOP_UP,
    key: undefined,
    body: { amount: 1_000 },
    status: 400,
    type: 'idempotency-key-missing',
  },
  {
    name: 'POST /admin/users/{userId}/top-ups without Idempotency-Key, for a hostile userId',
    ...TOP_UP,
    key: undefined,
    path: `/admin/users/${enc('USER#alice')}/top-ups`,
    body: { amount: 1_000 },
    status: 400,
    type: 'idempotency-key-missing',
  },
  keyInvalid('POST /admin/users/{userId}/top-ups with a spaced Idempotency-Key', {
    ...TOP_UP,
    key: 'top up 0001',
    body: { amount: 1_000 },
  }),
  keyInvalid('POST /admin/users/{userId}/top-ups with an emoji Idempotency-Key', {
    ...TOP_UP,
    key: 'topup-💸-0001',
    body: { amount: 1_000 },
  }),
  keyInvalid('POST /admin/users/{userId}/top-ups with a 129-character Idempotency-Key', {
    ...TOP_UP,
    key: 't'.repeat(129),
    body: { amount: 1_000 },
  }),
  invalid('POST /admin/users/{userId}/top-ups with a zero amount', { ...TOP_UP, body: { amount: 0 } }),
  invalid('POST /admin/users/{userId}/top-ups with a negative amount (a debit)', {
    ...TOP_UP,
    body: { amount: -50_000 },
  }),
  invalid('POST /admin/users/{userId}/top-ups with a fractional amount', { ...TOP_UP, body: { amount: 0.01 } }),
  invalid('POST /admin/users/{userId}/top-ups with 10^12 + 1', { ...TOP_UP, body: { amount: 1_000_000_000_001 } }),
  invalid('POST /admin/users/{userId}/top-ups with 1e308', { ...TOP_UP, raw: '{"amount":1e308}' }),
  invalid('POST /admin/users/{userId}/top-ups with MAX_SAFE_INTEGER + 2', {
    ...TOP_UP,
    raw: '{"amount":9007199254740993}',
  }),
  invalid('POST /admin/users/{userId}/top-ups with 1e21', { ...TOP_UP, raw: '{"amount":1e21}' }),
  invalid('POST /admin/users/{userId}/top-ups with a string amount', { ...TOP_UP, body: { amount: '1000' } }),
  invalid('POST /admin/users/{userId}/top-ups with a null amount', { ...TOP_UP, body: { amount: null } }),
  invalid('POST /admin/users/{userId}/top-ups naming another user in the body', {
    ...TOP_UP,
    body: { amount: 1_000, userId: 'bob' },
  }),
  invalid('POST /admin/users/{userId}/top-ups for a userId with a key separator', {
    ...TOP_UP,
    path: `/admin/users/${enc('alice#LEDGER#x')}/top-ups`,
    body: { amount: 1_000 },
  }),
  invalid('POST /admin/users/{userId}/top-ups for an RTL userId', {
    ...TOP_UP,
    path: `/admin/users/${enc('\u202eecila')}/top-ups`,
    body: { amount: 1_000 },
  }),
  invalid('POST /admin/users/{userId}/top-ups for a 129-character userId', {
    ...TOP_UP,
    path: `/admin/users/${'u'.repeat(129)}/top-ups`,
    body: { amount: 1_000 },
  }),
  notJson('POST /admin/users/{userId}/top-ups with single quotes', { ...TOP_UP, raw: "{'amount': 1000}" }),
  mediaType('POST /admin/users/{userId}/top-ups as a form', {
    ...TOP_UP,
    raw: 'amount=1000',
    contentType: 'application/x-www-form-urlencoded',
  }),
  tooLarge('POST /admin/users/{userId}/top-ups one byte over 16 KiB', {
    ...TOP_UP,
    raw: padded({ amount: 1_000 }, LIMIT + 1),
  }),

  // --- POST /admin/users/{userId}/coupons
  invalid('POST /admin/users/{userId}/coupons with a zero discount', { ...COUPON, body: { ...coupon, discount: 0 } }),
  invalid('POST /admin/users/{userId}/coupons with a negative discount', {
    ...COUPON,
    body: { ...coupon, discount: -500 },
  }),
  invalid('POST /admin/users/{userId}/coupons with a fractional discount', {
    ...COUPON,
    body: { ...coupon, discount: 99.99 },
  }),
  invalid('POST /admin/users/{userId}/coupons with discount 1e21', {
    ...COUPON,
    raw: '{"couponId":"SPRING","discount":1e21,"expiresAt":"2099-06-30T23:59:59Z"}',
  }),
  invalid('POST /admin/users/{userId}/coupons with a word for expiresAt', {
    ...COUPON,
    body: { ...coupon, expiresAt: 'tomorrow' },
  }),
  invalid('POST /admin/users/{userId}/coupons with month 13', {
    ...COUPON,
    body: { ...coupon, expiresAt: '2099-13-01T00:00:00Z' },
  }),
  invalid('POST /admin/users/{userId}/coupons with a date without a time', {
    ...COUPON,
    body: { ...coupon, expiresAt: '2099-06-30' },
  }),
  invalid('POST /admin/users/{userId}/coupons with a time without an offset', {
    ...COUPON,
    body: { ...coupon, expiresAt: '2099-06-30T23:59:59' },
  }),
  invalid('POST /admin/users/{userId}/coupons with a numeric expiresAt', {
    ...COUPON,
    body: { ...coupon, expiresAt: 4_102_444_800 },
  }),
  invalid('POST /admin/users/{userId}/coupons with a couponId holding a key separator', {
    ...COUPON,
    body: { ...coupon, couponId: 'COUPON#SPRING' },
  }),
  invalid('POST /admin/users/{userId}/coupons with a couponId holding a script tag', {
    ...COUPON,
    body: { ...coupon, couponId: '<script>x</script>' },
  }),
  invalid('POST /admin/users/{userId}/coupons setting its own status', {
    ...COUPON,
    body: { ...coupon, status: 'USED' },
  }),
  invalid('POST /admin/users/{userId}/coupons for an emoji userId', {
    ...COUPON,
    path: `/admin/users/${enc('👤')}/coupons`,
    body: coupon,
  }),
  notJson('POST /admin/users/{userId}/coupons with a truncated body', {
    ...COUPON,
    raw: '{"couponId":"SPRING","discount":500,"expiresAt":"2099',
  }),
  mediaType('POST /admin/users/{userId}/coupons as multipart', {
    ...COUPON,
    raw: '--b\r\n\r\nSPRING\r\n--b--',
    contentType: 'multipart/form-data; boundary=b',
  }),
  tooLarge('POST /admin/users/{userId}/coupons one byte over 16 KiB', { ...COUPON, raw: padded(coupon, LIMIT + 1) }),
  {
    name: 'POST /admin/users/{userId}/coupons granting a coupon the user already has',
    ...COUPON,
    body: { couponId: 'WELCOME', discount: 100_000, expiresAt: '2199-01-01T00:00:00Z' },
    status: 409,
    type: 'conflict',
  },

  // --- PUT /admin/users/{userId}/slots
  invalid('PUT /admin/users/{userId}/slots with a negative capacity', { ...SLOTS, body: { capacity: -1 } }),
  invalid('PUT /admin/users/{userId}/slots with a fractional capacity', { ...SLOTS, body: { capacity: 2.5 } }),
  invalid('PUT /admin/users/{userId}/slots with capacity 10 001', { ...SLOTS, body: { capacity: 10_001 } }),
  invalid('PUT /admin/users/{userId}/slots with capacity 1e308', { ...SLOTS, raw: '{"capacity":1e308}' }),
  invalid('PUT /admin/users/{userId}/slots with capacity MAX_SAFE_INTEGER + 2', {
    ...SLOTS,
    raw: '{"capacity":9007199254740993}',
  }),
  invalid('PUT /admin/users/{userId}/slots with a string capacity', { ...SLOTS, body: { capacity: '10' } }),
  invalid('PUT /admin/users/{userId}/slots with a boolean capacity', { ...SLOTS, body: { capacity: true } }),
  invalid('PUT /admin/users/{userId}/slots with a null capacity', { ...SLOTS, body: { capacity: null } }),
  invalid('PUT /admin/users/{userId}/slots setting used and free slots too', {
    ...SLOTS,
    body: { capacity: 10, usedSlots: 0, freeSlots: 10 },
  }),
  invalid('PUT /admin/users/{userId}/slots for a userId holding a JMESPath expression', {
    ...SLOTS,
    path: `/admin/users/${enc('users[?admin].id')}/slots`,
    body: { capacity: 5 },
  }),
  invalid('PUT /admin/users/{userId}/slots for a userId holding a NUL byte', {
    ...SLOTS,
    path: '/admin/users/alice%00/slots',
    body: { capacity: 5 },
  }),
  notJson('PUT /admin/users/{userId}/slots with -Infinity', { ...SLOTS, raw: '{"capacity":-Infinity}' }),
  mediaType('PUT /admin/users/{userId}/slots without a Content-Type', {
    ...SLOTS,
    body: { capacity: 5 },
    contentType: null,
  }),
  tooLarge('PUT /admin/users/{userId}/slots one byte over 16 KiB', {
    ...SLOTS,
    raw: padded({ capacity: 5 }, LIMIT + 1),
  }),
  {
    name: 'PUT /admin/users/{userId}/slots below what bob already holds',
    ...SLOTS,
    path: '/admin/users/bob/slots',
    body: { capacity: 0 },
    status: 409,
    type: 'slots-in-use',
  },

  // --- Wrong methods on existing resources, and unknown routes (even without a token)
  noRoute('GET /orders', { path: '/orders', as: 'bob' }),
  noRoute("DELETE /orders/{orderId} on bob's order", { method: 'DELETE', path: '/orders/{bobOrder}', as: 'bob' }),
  noRoute("PUT /orders/{orderId} on bob's order", {
    method: 'PUT',
    path: '/orders/{bobOrder}',
    as: 'admin',
    body: { status: 'FAILED' },
  }),
  noRoute('PATCH /me', { method: 'PATCH', path: '/me', as: 'bob', body: { balance: 1_000_000 } }),
  noRoute('POST /me', { path: '/me', as: 'bob', body: { balance: 1_000_000 } }),
  noRoute('POST /items', { path: '/items', as: 'admin', body: item }),
  noRoute('DELETE /items/{itemId}', { method: 'DELETE', path: '/items/sword', as: 'admin' }),
  noRoute('OPTIONS /orders', { method: 'OPTIONS', path: '/orders', as: 'bob' }),
  noRoute('HEAD /items', { method: 'HEAD', path: '/items', as: 'bob' }),
  noRoute('GET /admin/items', { path: '/admin/items', as: 'admin' }),
  noRoute('PUT /admin/items/{itemId}/restock', {
    method: 'PUT',
    path: '/admin/items/sword/restock',
    as: 'admin',
    body: { quantity: 5 },
  }),
  noRoute('GET /admin/users/{userId}/top-ups', { path: '/admin/users/alice/top-ups', as: 'admin' }),
  noRoute('DELETE /admin/users/{userId}/coupons', {
    method: 'DELETE',
    path: '/admin/users/alice/coupons',
    as: 'admin',
  }),
  noRoute('POST /admin/users/{userId}/slots (only PUT exists)', {
    path: '/admin/users/alice/slots',
    as: 'admin',
    body: { capacity: 5 },
  }),
  noRoute('GET /admin/users/{userId}/slots', { path: '/admin/users/alice/slots', as: 'admin' }),
  noRoute('GET /wallets', { path: '/wallets', as: 'bob' }),
  noRoute('GET /ORDERS (paths are case-sensitive)', { path: '/ORDERS', as: 'bob' }),
  noRoute('GET /v1/orders (the stage twice)', { path: '/v1/orders', as: 'bob' }),
  noRoute('GET /orders%00', { path: '/orders%00', as: 'bob' }),
  noRoute('GET / (the root)', { path: '/', as: 'bob' }),
  noRoute('GET /admin/users/{userId} (a resource without methods)', { path: '/admin/users/alice', as: 'admin' }),
  noRoute('GET /orders/{orderId}/steps (one segment too many)', { path: '/orders/{bobOrder}/steps', as: 'bob' }),
  noRoute('DELETE /admin/items/{itemId} without a token: 404 before 401', {
    method: 'DELETE',
    path: '/admin/items/sword',
  }),
  noRoute('GET /admin/secrets with a forged admin token: 404 before 401', {
    path: '/admin/secrets',
    as: 'forgedAdmin',
  }),

  // --- A hostile X-Correlation-Id is ignored, never echoed (the request still fails on its body)
  invalid('POST /orders with a CRLF in X-Correlation-Id', {
    ...BUY,
    body: { itemId: 'sword', quantity: 0 },
    headers: { 'X-Correlation-Id': 'abc\r\nSet-Cookie: admin=1' },
    check: (res) => expect(res.headers['x-correlation-id']).toBe(res.headers['x-amzn-requestid']),
  }),
  invalid('POST /orders with a 10 000-character X-Correlation-Id', {
    ...BUY,
    body: { itemId: 'sword', quantity: 0 },
    headers: { 'X-Correlation-Id': 'c'.repeat(10_000) },
    check: (res) => expect(res.headers['x-correlation-id']).toBe(res.headers['x-amzn-requestid']),
  }),
];

/**
 * The stage is throttled (50 requests/s, burst 100) and the corpus is longer than the burst: on a
 * fast machine a case could meet a 429 instead of its own answer. 40 requests/s stays under it.
 */
const MIN_INTERVAL_MS = 1_000 / 40;
let lastRequestAt = 0;
async function paced<T>(send: () => Promise<T>): Promise<T> {
  const wait = lastRequestAt + MIN_INTERVAL_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  lastRequestAt = Date.now();
  return send();
}

/** Someone else's order answers like a missing one: nothing about it shows. */
function leaksNothing(res: ApiAnswer): void {
  expect(res.text).not.toMatch(/sword|COMPLETED|"userId"|bob/);
}

// ---------------------------------------------------------------------------------------------

describe('API: a corpus of malformed and hostile requests', () => {
  let saga: LocalSaga;
  let bobOrder: string;
  const tokens = new Map<Caller, string>();

  beforeAll(async () => {
    saga = await localSaga();
    await seed(saga, shop);
    for (const [caller, mint] of Object.entries(CALLERS) as [Caller, () => Promise<string>][])
      tokens.set(caller, await mint());
    // One real, completed order of bob's, so "another user's order" is a real id.
    const bought = await call(saga, {
      path: '/orders',
      token: tokens.get('bob'),
      idempotencyKey: randomUUID(),
      body: { itemId: 'sword', quantity: 1 },
    });
    expect(bought.status).toBe(201);
    bobOrder = String(bought.json['orderId']);
  });

  afterAll(async () => {
    if (!(saga as LocalSaga | undefined)) return; // unassigned when setup failed
    try {
      expect(invariantViolations(await snapshot(saga), shop)).toEqual([]);
    } finally {
      await saga.close();
    }
  });

  it('holds at least 60 cases, each expecting what docs/openapi.yaml documents', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    const wrong: string[] = [];
    for (const c of CASES) {
      const documented = problemTypes[c.type];
      if (documented?.status !== c.status)
        wrong.push(`${c.name}: ${c.type} is documented as ${String(documented?.status)}, not ${c.status}`);
      const method = c.method ?? (c.body === undefined && c.raw === undefined ? 'GET' : 'POST');
      const route = documentedSlugs(method, c.path.replace('{bobOrder}', 'o-x'), c.status);
      if (!route) {
        // Not a documented operation: API Gateway's own 404.
        if (c.type !== 'not-found' || !c.gateway)
          wrong.push(`${c.name}: ${method} ${c.path} is no documented operation, so 404 not-found from API Gateway`);
      } else if (!route.slugs.includes(c.type)) {
        wrong.push(`${c.name}: ${route.route} documents ${c.status} as [${route.slugs.join(', ')}], not ${c.type}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each(CASES)('$name', async (c) => {
    const path = c.path.replace('{bobOrder}', bobOrder);
    const before = await scanTables(saga);

    const res = await paced(() =>
      call(saga, {
        ...(c.method ? { method: c.method } : {}),
        path,
        ...(c.as ? { token: tokens.get(c.as) } : {}),
        ...(c.key === FRESH ? { idempotencyKey: randomUUID() } : c.key !== undefined ? { idempotencyKey: c.key } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.raw !== undefined ? { rawBody: c.raw } : {}),
        ...(c.contentType !== undefined ? { contentType: c.contentType } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
      }),
    );

    // (1) The documented status and problem type, as RFC 9457 problem+json.
    expect({ status: res.status, type: res.json['type'] }, res.text.slice(0, 500)).toEqual({
      status: c.status,
      type: problemUri(c.type),
    });
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json['status']).toBe(c.status);
    expect(res.json['title']).toBe(problemTypes[c.type]?.title);
    if (c.gateway) {
      // API Gateway's own answers carry only type, title and status.
      expect(Object.keys(res.json).sort()).toEqual(['status', 'title', 'type']);
    } else {
      expect(res.json['instance']).toBe(`/v1${new URL(path, 'http://local').pathname}`);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-correlation-id']).toBeTruthy();
    }
    if (c.type === 'validation-failed') {
      const errors = z
        .array(z.object({ path: z.string(), message: z.string() }))
        .min(1)
        .safeParse(res.json['errors']);
      expect(errors.success, JSON.stringify(res.json['errors'])).toBe(true);
    }
    c.check?.(res);

    // (2) Nothing was written, to any table.
    expect(await scanTables(saga)).toEqual(before);
  });

  it('left the prototype of every object alone', () => {
    const probe: Record<string, unknown> = {};
    expect(probe['polluted']).toBeUndefined();
    expect(probe['admin']).toBeUndefined();
    expect(probe['quantity']).toBeUndefined();
  });
});
