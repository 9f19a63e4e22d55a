import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { $ZodType } from 'zod/v4/core';
import { API_ROUTES } from '../../infra/catalog.js';
import { GATEWAY_PROBLEMS } from '../../infra/gateway-responses.js';
import { PROBLEMS, problemTypeUri, type ProblemType } from '../../lambdas/api/problems.js';
import {
  CreateItemBody,
  GrantCouponBody,
  IdempotencyKey,
  ListItemsQuery,
  PurchaseBody,
  RestockBody,
  SlotCapacityBody,
  TopUpBody,
} from '../../lambdas/api/schemas.js';
import { Id } from '../../lambdas/domain/model.js';

/**
 * docs/openapi.yaml is the HTTP contract: it must list exactly the routes API Gateway and the
 * API Lambda serve, the problem catalogue the Lambda answers with, and request bodies that
 * accept and refuse exactly what the zod schemas do.
 */

// The slice of OpenAPI 3.1 this test reads.
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
}
interface Parameter {
  $ref?: string;
  name: string;
  in: 'header' | 'path' | 'query' | 'cookie';
  required?: boolean;
  schema: Schema;
}
interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface ResponseObject {
  $ref?: string;
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
  'x-problem-types'?: string[];
}
type SecurityRequirement = Record<string, string[]>;
interface Operation {
  operationId?: string;
  security?: SecurityRequirement[];
  parameters?: Parameter[];
  requestBody?: { $ref?: string; required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
}
interface OpenApi {
  openapi: string;
  servers?: { url: string }[];
  security?: SecurityRequirement[];
  paths: Record<string, Record<string, Operation | Parameter[] | string>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string; bearerFormat?: string }> };
  'x-problem-types': Record<string, { status: number; title: string }>;
  'x-gateway-responses': Record<string, string>;
}

const doc = parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as OpenApi;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const TYPE_PREFIX = 'https://purchase-saga.dev/problems/';

/** Follow a local `$ref` (`#/components/...`) to what it names; anything else as it is. */
function deref<T extends { $ref?: string }>(node: T): T {
  let current: T = node;
  for (let hops = 0; current.$ref !== undefined; hops++) {
    if (hops > 10) throw new Error(`$ref loop at ${node.$ref}`);
    const ref = current.$ref;
    if (!ref.startsWith('#/')) throw new Error(`Not a local $ref: ${ref}`);
    let target: unknown = doc;
    for (const part of ref.slice(2).split('/')) {
      target = (target as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
    }
    if (target === undefined) throw new Error(`Unresolved $ref ${ref}`);
    current = target as T;
  }
  return current;
}

/** A schema with its `allOf` parts merged (properties and required), refs resolved. */
function flatten(schema: Schema): Schema {
  const s = deref(schema);
  if (!s.allOf) return s;
  const parts = s.allOf.map(flatten);
  return {
    ...s,
    properties: Object.assign({}, s.properties, ...parts.map((p) => p.properties ?? {})) as Record<string, Schema>,
    required: [...(s.required ?? []), ...parts.flatMap((p) => p.required ?? [])],
  };
}

interface Op {
  method: string;
  path: string;
  key: string;
  op: Operation;
}

const operations: Op[] = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => HTTP_METHODS.includes(method))
    .map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      key: `${method.toUpperCase()} ${path}`,
      op: op as Operation,
    })),
);
const operation = (key: string): Operation => {
  const found = operations.find((o) => o.key === key);
  if (!found) throw new Error(`No operation ${key}`);
  return found.op;
};
const routeKeys = API_ROUTES.map((r) => `${r.method} ${r.path}`);
const params = (op: Operation): Parameter[] => (op.parameters ?? []).map((p) => deref(p));
const responses = (op: Operation): [string, ResponseObject][] =>
  Object.entries(op.responses).map(([status, r]) => [status, deref(r)]);
const examplesOf = (media: MediaType | undefined): unknown[] => [
  ...(media?.example === undefined ? [] : [media.example]),
  ...Object.values(media?.examples ?? {}).map((e) => e.value),
];
const optional = (field: $ZodType): boolean => z.safeParse(field, undefined).success;

type ZodBody = { shape: Record<string, $ZodType> } & $ZodType;
/** Every route with a body, and the zod schema the API Lambda parses it with. */
const BODIES: Record<string, ZodBody> = {
  'POST /orders': PurchaseBody,
  'POST /admin/items': CreateItemBody,
  'POST /admin/items/{itemId}/restock': RestockBody,
  'POST /admin/users/{userId}/top-ups': TopUpBody,
  'POST /admin/users/{userId}/coupons': GrantCouponBody,
  'PUT /admin/users/{userId}/slots': SlotCapacityBody,
};
const IDEMPOTENT_ROUTES = ['POST /orders', 'POST /admin/users/{userId}/top-ups'];

const jsonSchema = (schema: $ZodType): Schema => z.toJSONSchema(schema, { io: 'input' }) as Schema;

describe('Docs: openapi.yaml', () => {
  it('is an OpenAPI 3.1 document whose every $ref resolves', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v);
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(() => deref({ $ref: ref }), ref).not.toThrow();
  });

  it('documents exactly the routes of API_ROUTES, with their path parameters', () => {
    expect(operations.map((o) => o.key).sort()).toEqual([...routeKeys].sort());
    for (const { key, path, op } of operations) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = params(op).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), key).toEqual(templated);
      for (const p of declared) {
        expect(p.required, `${key} ${p.name}`).toBe(true);
        const schema = deref(p.schema);
        expect(schema.pattern, `${key} ${p.name}`).toBe(jsonSchema(Id).pattern);
        expect(schema.maxLength, `${key} ${p.name}`).toBe(jsonSchema(Id).maxLength);
      }
    }
  });

  it('puts every route behind bearerAuth, with the admin role on admin routes', () => {
    expect(doc.components.securitySchemes['bearerAuth']).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    for (const route of API_ROUTES) {
      const op = operation(`${route.method} ${route.path}`);
      expect(op.security ?? doc.security, `${route.method} ${route.path}`).toEqual([
        { bearerAuth: route.admin ? ['admin'] : [] },
      ]);
    }
  });

  it('lists exactly the problem types of PROBLEMS under x-problem-types', () => {
    expect(doc['x-problem-types']).toEqual(PROBLEMS);
    expect(problemTypeUri('internal')).toBe(`${TYPE_PREFIX}internal`);
  });

  it('maps the gateway responses to the problem types infra/gateway-responses.ts installs', () => {
    const expected = Object.fromEntries(GATEWAY_PROBLEMS.map((g) => [g.response, g.type.slice(TYPE_PREFIX.length)]));
    expect(doc['x-gateway-responses']).toEqual(expected);
    for (const g of GATEWAY_PROBLEMS) {
      const slug = expected[g.response] as ProblemType;
      expect(PROBLEMS[slug]).toEqual({ status: g.status, title: g.title });
    }
  });

  it('answers every non-2xx status with problem+json of documented problem types of that status', () => {
    const problemStatuses = new Set<number>(Object.values(PROBLEMS).map((p) => p.status));
    for (const { key, op } of operations) {
      for (const [status, response] of responses(op)) {
        const where = `${key} ${status}`;
        expect(status, where).toMatch(/^[1-5]\d\d$/);
        if (status.startsWith('2')) {
          expect(Object.keys(response.content ?? {}), where).toEqual(['application/json']);
          continue;
        }
        expect(problemStatuses.has(Number(status)), where).toBe(true);
        expect(Object.keys(response.content ?? {}), where).toEqual(['application/problem+json']);
        const schema = flatten(response.content?.['application/problem+json']?.schema ?? {});
        expect(schema.required, where).toEqual(expect.arrayContaining(['type', 'title', 'status']));
        const slugs = response['x-problem-types'] ?? [];
        expect(slugs.length, where).toBeGreaterThan(0);
        for (const slug of slugs) {
          expect(Object.keys(PROBLEMS), where).toContain(slug);
          expect(PROBLEMS[slug as ProblemType].status, `${where} ${slug}`).toBe(Number(status));
        }
      }
    }
  });

  it('documents the answers API Gateway and the API Lambda give on every route', () => {
    // What API Gateway itself may answer on any known route (authorizer, throttling, integration).
    const gatewayOnEveryRoute: Partial<Record<string, ProblemType>> = {
      '401': 'unauthenticated',
      '429': 'too-many-requests',
      '500': 'internal',
      '502': 'bad-gateway',
      '504': 'gateway-timeout',
    };
    for (const route of API_ROUTES) {
      const key = `${route.method} ${route.path}`;
      const op = operation(key);
      const statuses = Object.keys(op.responses);
      expect(statuses, key).toEqual(expect.arrayContaining(Object.keys(gatewayOnEveryRoute)));
      for (const [status, slug] of Object.entries(gatewayOnEveryRoute)) {
        expect(deref(op.responses[status] ?? {})['x-problem-types'], `${key} ${status}`).toContain(slug);
      }
      if (route.admin) expect(statuses, key).toContain('403');
      if (key in BODIES) expect(statuses, key).toEqual(expect.arrayContaining(['400', '413', '415']));
      expect(
        statuses.some((s) => s.startsWith('2')),
        key,
      ).toBe(true);
    }
  });

  it('documents every problem type on some route (method-not-allowed only exists without API Gateway)', () => {
    const documented = new Set(
      operations.flatMap(({ op }) => responses(op).flatMap(([, r]) => r['x-problem-types'] ?? [])),
    );
    const missing = Object.keys(PROBLEMS).filter((slug) => !documented.has(slug));
    expect(missing).toEqual(['method-not-allowed']);
  });

  it('answers 409 slots-in-use when PUT /admin/users/{userId}/slots asks for less than the slots in use', () => {
    const conflict = deref(operation('PUT /admin/users/{userId}/slots').responses['409'] ?? {});
    expect(conflict['x-problem-types']).toEqual(['slots-in-use']);
  });

  it('shows Location and instance paths with the stage prefix the client used on the execute-api URL', () => {
    expect((doc.servers ?? []).map((s) => new URL(s.url.replace(/\{[^}]+\}/g, 'x')).pathname)).toEqual(['/v1']);
    const instances: string[] = [];
    for (const { op } of operations) {
      for (const [, response] of responses(op)) {
        for (const media of Object.values(response.content ?? {})) {
          for (const example of examplesOf(media)) {
            const instance = (example as Record<string, unknown>)['instance'];
            if (instance !== undefined)
              instances.push(typeof instance === 'string' ? instance : JSON.stringify(instance));
          }
        }
      }
    }
    expect(instances.length).toBeGreaterThan(0);
    for (const instance of instances) expect(instance).toMatch(/^\/v1\//);
    const orderLocation = deref<{ $ref?: string; schema?: { example?: string } }>({
      $ref: '#/components/headers/OrderLocation',
    });
    expect(orderLocation.schema?.example).toMatch(/^\/v1\/orders\//);
  });

  it('gives the Problem schema its RFC 9457 members and the purchase and validation extensions', () => {
    const problem = flatten({ $ref: '#/components/schemas/Problem' });
    expect(Object.keys(problem.properties ?? {})).toEqual(
      expect.arrayContaining([
        'type',
        'title',
        'status',
        'detail',
        'instance',
        'orderId',
        'failedStep',
        'reason',
        'errors',
      ]),
    );
  });

  it('describes request bodies with exactly the fields, required set and bounds of the zod schemas', () => {
    expect(
      operations
        .filter((o) => o.op.requestBody !== undefined)
        .map((o) => o.key)
        .sort(),
    ).toEqual(Object.keys(BODIES).sort());
    for (const [key, zodSchema] of Object.entries(BODIES)) {
      const body = deref(operation(key).requestBody ?? { content: {} });
      expect(body.required, key).toBe(true);
      expect(Object.keys(body.content), key).toEqual(['application/json']);
      const media = body.content['application/json'];
      const schema = flatten(media?.schema ?? {});
      const shape = zodSchema.shape;

      expect(schema.type, key).toBe('object');
      expect(schema.additionalProperties, key).toBe(false);
      expect(Object.keys(schema.properties ?? {}).sort(), key).toEqual(Object.keys(shape).sort());
      const required = Object.keys(shape).filter((k) => !optional(shape[k] as $ZodType));
      expect([...(schema.required ?? [])].sort(), key).toEqual(required.sort());

      // Structure: what zod's own JSON Schema says (its `minimum` ignores refinements such as
      // "must be positive", so minimums are checked by behaviour below).
      const generated = jsonSchema(zodSchema).properties ?? {};
      for (const [name, documented] of Object.entries(schema.properties ?? {})) {
        const prop = deref(documented);
        const zodProp = generated[name] ?? {};
        const where = `${key} ${name}`;
        expect(prop.type, where).toBe(zodProp.type);
        expect(prop.maximum, where).toBe(zodProp.maximum);
        expect(prop.maxLength, where).toBe(zodProp.maxLength);
        expect(prop.format, where).toBe(zodProp.format);
        // A documented pattern zod does not generate (name: not blank) is zod's trim().min(1).
        if (zodProp.pattern !== undefined && zodProp.format === undefined)
          expect(prop.pattern, where).toBe(zodProp.pattern);
      }

      // Behaviour: the examples pass, and each documented bound is exactly where zod's is.
      const examples = examplesOf(media);
      expect(examples.length, key).toBeGreaterThan(0);
      for (const example of examples) expect(z.safeParse(zodSchema, example).success, `${key} example`).toBe(true);
      const base = examples[0] as Record<string, unknown>;
      const accepts = (name: string, value: unknown) => z.safeParse(zodSchema, { ...base, [name]: value }).success;
      for (const [name, documented] of Object.entries(schema.properties ?? {})) {
        const prop = deref(documented);
        const where = `${key} ${name}`;
        if (prop.type === 'integer') {
          const { minimum, maximum } = prop;
          if (minimum === undefined || maximum === undefined) throw new Error(`${where}: integer without bounds`);
          expect([accepts(name, minimum), accepts(name, minimum - 1)], `${where} minimum`).toEqual([true, false]);
          expect([accepts(name, maximum), accepts(name, maximum + 1)], `${where} maximum`).toEqual([true, false]);
          expect(accepts(name, minimum + 0.5), `${where} integer`).toBe(false);
        }
        if (prop.type === 'string' && prop.maxLength !== undefined) {
          expect(
            [accepts(name, 'a'.repeat(prop.maxLength)), accepts(name, 'a'.repeat(prop.maxLength + 1))],
            `${where} maxLength`,
          ).toEqual([true, false]);
        }
      }
      expect(z.safeParse(zodSchema, { ...base, unknownField: 1 }).success, `${key} strict`).toBe(false);
    }
  });

  it('describes the GET /items query parameters as ListItemsQuery', () => {
    const query = params(operation('GET /items')).filter((p) => p.in === 'query');
    expect(query.map((p) => p.name).sort()).toEqual(Object.keys(ListItemsQuery.shape).sort());
    const generated = jsonSchema(ListItemsQuery).properties ?? {};
    for (const p of query) {
      expect(p.required ?? false, p.name).toBe(false);
      const schema = deref(p.schema);
      const zodProp = generated[p.name] ?? {};
      for (const bound of ['type', 'minimum', 'maximum', 'maxLength', 'pattern', 'default'] as const) {
        expect(schema[bound], `${p.name} ${bound}`).toEqual(zodProp[bound]);
      }
    }
  });

  it('requires the Idempotency-Key header exactly on POST /orders and the top-up route', () => {
    const keyPattern = jsonSchema(IdempotencyKey).pattern;
    for (const { key, op } of operations) {
      const header = params(op).find((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
      if (!IDEMPOTENT_ROUTES.includes(key)) {
        expect(header, key).toBeUndefined();
        continue;
      }
      expect(header?.name, key).toBe('Idempotency-Key');
      expect(header?.required, key).toBe(true);
      expect(deref(header?.schema ?? {}).pattern, key).toBe(keyPattern);
    }
  });

  it('gives POST /orders examples of a completed order (201), a pending one (202) and an insufficient balance (402)', () => {
    const op = operation('POST /orders');
    const example = (status: string, media: string) =>
      examplesOf(deref(op.responses[status] ?? {}).content?.[media])[0] as Record<string, unknown>;
    expect(example('201', 'application/json')).toMatchObject({
      status: 'COMPLETED',
      steps: expect.any(Array),
      events: expect.any(Array),
    });
    expect(example('202', 'application/json')).toMatchObject({ status: 'PENDING' });
    expect(example('402', 'application/problem+json')).toMatchObject({
      type: problemTypeUri('insufficient-balance'),
      orderId: expect.any(String),
      failedStep: 'DeductBalance',
      reason: 'InsufficientBalance',
    });
  });

  it('keeps every response example consistent with its schema and status', () => {
    for (const { key, op } of operations) {
      for (const [status, response] of responses(op)) {
        for (const [mediaType, media] of Object.entries(response.content ?? {})) {
          const schema = flatten(media.schema ?? {});
          for (const example of examplesOf(media)) {
            const where = `${key} ${status} example`;
            const value = example as Record<string, unknown>;
            expect(Object.keys(value), where).toEqual(expect.arrayContaining(schema.required ?? []));
            for (const field of Object.keys(value))
              expect(Object.keys(schema.properties ?? {}), where).toContain(field);
            if (mediaType !== 'application/problem+json') continue;
            const slug = String(value['type']).slice(TYPE_PREFIX.length) as ProblemType;
            expect(response['x-problem-types'], where).toContain(slug);
            expect(value, where).toMatchObject({
              type: problemTypeUri(slug),
              status: Number(status),
              title: PROBLEMS[slug].title,
            });
          }
        }
      }
    }
  });
});
