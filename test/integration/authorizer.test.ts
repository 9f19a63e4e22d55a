import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHandler,
  stageWildcardArn,
  type AuthorizerOverrides,
  type LogEntry,
} from '../../lambdas/authorizer/app.js';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET, DEV_JWT_SECRET_NAME, mintDevToken } from '../../local/dev-auth.js';
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

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:purchase-saga/jwt-AbCdEf';
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/orders';
const WILDCARD = 'arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*';

const hsEnv = {
  JWT_ALGORITHM: 'HS256',
  JWT_SECRET_ARN: SECRET_ARN,
  JWT_ISSUER: TEST_ISSUER,
  JWT_AUDIENCE: TEST_AUDIENCE,
};

const event = (authorizationToken: string, methodArn = METHOD_ARN): APIGatewayTokenAuthorizerEvent => ({
  type: 'TOKEN',
  authorizationToken,
  methodArn,
});

/** An HS256 authorizer whose secret comes from a counting stand-in, logging into an array. */
function hsAuthorizer(env: Record<string, string> = {}, overrides: AuthorizerOverrides = {}) {
  const logs: LogEntry[] = [];
  let secretReads = 0;
  const handler = createHandler(
    { ...hsEnv, ...env },
    {
      secret: async () => {
        secretReads += 1;
        return TEST_SECRET;
      },
      log: (entry) => logs.push(entry),
      ...overrides,
    },
  );
  return { handler, logs, secretReads: () => secretReads };
}

async function expectUnauthorized(promise: Promise<unknown>): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toBe('Unauthorized');
}

describe('Authorizer: HS256 tokens', () => {
  it('allows a valid token on every route of the stage, with the user id and admin flag in the context', async () => {
    const { handler } = hsAuthorizer();
    const result = await handler(event(`Bearer ${await signHs256(payload({ sub: 'alice' }))}`));
    expect(result).toEqual({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: WILDCARD }],
      },
      context: { userId: 'alice', admin: 'false' },
    });
  });

  it('marks an admin by the role claim, as a string or in an array', async () => {
    const { handler } = hsAuthorizer();
    const asString = await handler(event(`Bearer ${await signHs256(payload({ role: 'admin' }))}`));
    expect(asString.context).toEqual({ userId: 'alice', admin: 'true' });
    const asArray = await handler(event(`Bearer ${await signHs256(payload({ role: ['user', 'admin'] }))}`));
    expect(asArray.context.admin).toBe('true');
  });

  it('reads the admin role from a configured claim (Cognito groups)', async () => {
    const { handler } = hsAuthorizer({ ADMIN_CLAIM: 'cognito:groups', ADMIN_VALUE: 'shop-admins' });
    const admin = await handler(event(`Bearer ${await signHs256(payload({ 'cognito:groups': ['shop-admins'] }))}`));
    expect(admin.context.admin).toBe('true');
    const user = await handler(
      event(`Bearer ${await signHs256(payload({ role: 'admin', 'cognito:groups': ['staff'] }))}`),
    );
    expect(user.context.admin).toBe('false');
  });

  it('accepts the Bearer scheme in any case', async () => {
    const { handler } = hsAuthorizer();
    const token = await signHs256(payload());
    for (const header of [`bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}`]) {
      await expect(handler(event(header))).resolves.toMatchObject({ principalId: 'alice' });
    }
  });

  it('answers Unauthorized for expired, not-yet-valid, wrongly signed and unsigned tokens', async () => {
    const { handler } = hsAuthorizer();
    const now = nowSeconds();
    const tokens = [
      await signHs256(payload({ iat: now - 7200, exp: now - 3600 })),
      await signHs256(payload({ nbf: now + 3600 })),
      await signHs256(payload(), 'a-different-secret-also-32-bytes-long!!'),
      unsigned(payload({ role: 'admin' })),
    ];
    for (const token of tokens) await expectUnauthorized(handler(event(`Bearer ${token}`)));
  });

  it('answers Unauthorized for a wrong issuer or audience', async () => {
    const { handler } = hsAuthorizer();
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload({ iss: 'https://evil.test' }))}`)));
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload({ aud: 'another-api' }))}`)));
  });

  it('answers Unauthorized for a missing sub or one that is not a safe id', async () => {
    const { handler } = hsAuthorizer();
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload({ sub: undefined }))}`)));
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload({ sub: 'alice#ACCOUNT' }))}`)));
  });

  it('answers Unauthorized for a malformed Authorization header', async () => {
    const { handler } = hsAuthorizer();
    const token = await signHs256(payload());
    for (const header of [
      '',
      ' ',
      token,
      'Bearer',
      'Bearer ',
      `Basic ${token}`,
      `Bearer ${token} extra`,
      `Bearer\t${token}`,
      'Bearer not.a.jwt',
    ]) {
      await expectUnauthorized(handler(event(header)));
    }
    await expectUnauthorized(
      handler({ type: 'TOKEN', methodArn: METHOD_ARN } as unknown as APIGatewayTokenAuthorizerEvent),
    );
  });

  it('logs the reason of a rejection and the user of an acceptance, never the token or the secret', async () => {
    const { handler, logs } = hsAuthorizer();
    const expired = await signHs256(payload({ exp: nowSeconds() - 3600 }));
    const valid = await signHs256(payload());
    await expectUnauthorized(handler(event(`Bearer ${expired}`)));
    await handler(event(`Bearer ${valid}`));
    expect(logs).toEqual([
      { level: 'INFO', message: 'token rejected', reason: 'expired' },
      { level: 'INFO', message: 'token accepted', userId: 'alice', admin: false },
    ]);
    const text = JSON.stringify(logs);
    expect(text).not.toContain(expired.split('.')[2]);
    expect(text).not.toContain(valid.split('.')[2]);
    expect(text).not.toContain(TEST_SECRET);
  });
});

describe('Authorizer: the HS256 secret', () => {
  it('is read once per container, also when the first invocations run concurrently', async () => {
    const { handler, secretReads } = hsAuthorizer();
    const token = await signHs256(payload());
    await Promise.all(Array.from({ length: 10 }, () => handler(event(`Bearer ${token}`))));
    for (let i = 0; i < 10; i += 1) await handler(event(`Bearer ${token}`));
    await expectUnauthorized(handler(event('Bearer nope')));
    expect(secretReads()).toBe(1);
  });

  it('is fetched again on the next invocation when a fetch failed (the failure is not cached)', async () => {
    let calls = 0;
    const logs: LogEntry[] = [];
    const handler = createHandler(hsEnv, {
      secret: async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        return TEST_SECRET;
      },
      log: (entry) => logs.push(entry),
    });
    const token = await signHs256(payload());
    // An outage on our side is a 500 (any error but 'Unauthorized'), not a verdict on the token.
    await expect(handler(event(`Bearer ${token}`))).rejects.toMatchObject({ name: 'SecretUnavailable' });
    await expect(handler(event(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'alice' });
    await handler(event(`Bearer ${token}`));
    expect(calls).toBe(2);
    expect(logs[0]).toMatchObject({ level: 'ERROR', error: { name: 'SecretUnavailable' } });
  });

  it('is read with the AWS SDK from the endpoint in AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
    const requests: { target: string | undefined; body: string }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ target: req.headers['x-amz-target'] as string | undefined, body });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({ ARN: SECRET_ARN, Name: DEV_JWT_SECRET_NAME, SecretString: DEV_JWT_SECRET, VersionId: 'v1' }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      });
      const handler = createHandler(
        { JWT_ALGORITHM: 'HS256', JWT_SECRET_ARN: SECRET_ARN, JWT_ISSUER: DEV_ISSUER, JWT_AUDIENCE: DEV_AUDIENCE },
        { log: () => undefined },
      );
      const token = await mintDevToken({ userId: 'bob' });
      await expect(handler(event(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'bob' });
      await expect(handler(event(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'bob' });
      expect(requests).toHaveLength(1);
      expect(requests[0]?.target).toBe('secretsmanager.GetSecretValue');
      expect(JSON.parse(requests[0]?.body ?? '{}')).toEqual({ SecretId: SECRET_ARN });
    } finally {
      process.env = saved;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('Authorizer: RS256 tokens from a JWKS', () => {
  let key: RsaKey;
  let otherKey: RsaKey;
  let jwks: JwksServer;
  let handler: ReturnType<typeof createHandler>;

  beforeAll(async () => {
    key = await rsaKey('key-1');
    otherKey = await rsaKey('key-2');
    jwks = await startJwksServer([key.publicJwk]);
    handler = createHandler(
      { JWT_ALGORITHM: 'RS256', JWKS_URL: jwks.url, JWT_ISSUER: TEST_ISSUER, JWT_AUDIENCE: TEST_AUDIENCE },
      { log: () => undefined },
    );
  });
  afterAll(async () => {
    await (jwks as JwksServer | undefined)?.close(); // unassigned when setup failed
  });

  it('allows a token signed by a key of the JWKS, fetching the JWKS once', async () => {
    const token = await signRs256(payload({ sub: 'carol', role: 'admin' }), key.privateKey, key.kid);
    await expect(handler(event(`Bearer ${token}`))).resolves.toMatchObject({
      principalId: 'carol',
      context: { userId: 'carol', admin: 'true' },
      policyDocument: { Statement: [{ Effect: 'Allow', Resource: WILDCARD }] },
    });
    await handler(event(`Bearer ${token}`));
    expect(jwks.requests()).toBe(1);
  });

  it('answers Unauthorized for a token signed by another key', async () => {
    await expectUnauthorized(handler(event(`Bearer ${await signRs256(payload(), otherKey.privateKey, otherKey.kid)}`)));
    await expectUnauthorized(handler(event(`Bearer ${await signRs256(payload(), otherKey.privateKey, key.kid)}`)));
  });

  it('answers Unauthorized for an HS256 token (algorithm confusion) and for alg: none', async () => {
    const publicPem = new TextEncoder().encode(await exportSPKI(key.publicKey));
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload({ role: 'admin' }), publicPem)}`)));
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload())}`)));
    await expectUnauthorized(handler(event(`Bearer ${unsigned(payload())}`)));
  });
});

describe('Authorizer: environment and method ARN', () => {
  it('fails fast with a clear message when the environment is incomplete', () => {
    expect(() => createHandler({})).toThrow(/Invalid Lambda environment: JWT_ALGORITHM/);
    expect(() => createHandler({ JWT_ALGORITHM: 'HS256' })).toThrow(
      /JWT_SECRET_ARN: required when JWT_ALGORITHM is HS256/,
    );
    expect(() => createHandler({ JWT_ALGORITHM: 'RS256', JWKS_URL: '' })).toThrow(
      /JWKS_URL: required when JWT_ALGORITHM is RS256/,
    );
    expect(() => createHandler({ JWT_ALGORITHM: 'none' })).toThrow(/JWT_ALGORITHM/);
    expect(() => createHandler({ JWT_ALGORITHM: 'RS256', JWKS_URL: 'http://issuer.example.com/jwks' })).toThrow(
      /https/,
    );
  });

  it('derives the stage wildcard from any method ARN of the API', () => {
    expect(stageWildcardArn('arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/')).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*/*',
    );
    expect(stageWildcardArn('arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/GET/orders/o-1')).toBe(
      'arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/*/*',
    );
    expect(() => stageWildcardArn('arn:aws:lambda:us-east-1:123456789012:function:f')).toThrow();
  });

  it('answers Unauthorized when the method ARN is not one', async () => {
    const { handler } = hsAuthorizer();
    await expectUnauthorized(handler(event(`Bearer ${await signHs256(payload())}`, 'garbage')));
  });
});

describe('Authorizer: development tokens', () => {
  const devAuthorizer = () =>
    createHandler(
      {
        JWT_ALGORITHM: 'HS256',
        JWT_SECRET_ARN: DEV_JWT_SECRET_NAME,
        JWT_ISSUER: DEV_ISSUER,
        JWT_AUDIENCE: DEV_AUDIENCE,
      },
      { secret: async () => DEV_JWT_SECRET, log: () => undefined },
    );

  it('accepts what mintDevToken mints, and rejects it once its ttl has passed', async () => {
    const handler = devAuthorizer();
    await expect(
      handler(event(`Bearer ${await mintDevToken({ userId: 'dave', admin: true })}`)),
    ).resolves.toMatchObject({
      context: { userId: 'dave', admin: 'true' },
    });
    const old = await mintDevToken({ userId: 'dave', ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) });
    await expectUnauthorized(handler(event(`Bearer ${old}`)));
    await expect(mintDevToken({ userId: 'dave#x' })).rejects.toThrow(/userId/);
    await expect(mintDevToken({ userId: 'dave', secret: 'short' })).rejects.toThrow(/32 bytes/);
  });

  it('the token CLI prints only a token, which the authorizer accepts', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/token.ts', '--user', 'alice', '--admin'], {
      cwd: repoRoot,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const result = await devAuthorizer()(event(`Bearer ${stdout.trim()}`));
    expect(result.principalId).toBe('alice');
    expect(result.context).toEqual({ userId: 'alice', admin: 'true' });
  });

  it('the token CLI fails with a usage message on stderr and nothing on stdout', async () => {
    const error: unknown = await promisify(execFile)('npx', ['tsx', 'scripts/token.ts', '--user', 'alice#1'], {
      cwd: repoRoot,
      timeout: 60_000,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 2, stdout: '' });
    expect((error as { stderr: string }).stderr).toContain('--user');
  });
});
