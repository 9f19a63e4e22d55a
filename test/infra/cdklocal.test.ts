import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EDGE_FUNCTIONS, EVENT_FUNCTIONS, SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { freePort } from '../../local/dynamodb-local.js';
import { REPO_ROOT } from '../../local/template.js';
import { CDK_CONTEXT, localstackEnv, STACK_NAME } from '../../scripts/test-localstack.js';
import { LOCALSTACK_TYPES } from '../support/localstack-types.js';

/**
 * No Docker engine runs on the machines this project is developed on, so LocalStack itself cannot
 * run here. What can run is the runner's tool, cdklocal, with the runner's own environment and
 * context: it synthesizes the LocalStack profile, and against a closed port it gets as far as
 * connecting (aws-cdk-local 3 with aws-cdk >= 2.177 refuses a misconfigured environment first).
 */
const cdklocal = join(REPO_ROOT, 'node_modules', '.bin', 'cdklocal');
const run = promisify(execFile);

/** The runner's environment for an endpoint, on top of a minimal one (nothing of this shell's AWS_*). */
const runnerEnv = (endpoint: string) =>
  localstackEnv({ PATH: process.env['PATH'], HOME: process.env['HOME'], CI: 'true' }, endpoint);

async function output(args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; text: string }> {
  try {
    const { stdout, stderr } = await run(cdklocal, args, { cwd: REPO_ROOT, env, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, text: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, text: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('LocalStack: cdklocal with the runner environment', () => {
  it(
    'synthesizes the LocalStack profile, Lambdas bundled, from resource types LocalStack implements',
    { timeout: 180_000 },
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'cdklocal-'));
      const synth = await output(['synth', '--quiet', '-o', out, ...CDK_CONTEXT], runnerEnv('http://localhost:4566'));
      expect(synth.ok, synth.text).toBe(true);
      const template = JSON.parse(readFileSync(join(out, `${STACK_NAME}.template.json`), 'utf8')) as {
        Resources: Record<string, { Type: string }>;
      };
      const types = Object.values(template.Resources).map((r) => r.Type);
      // Saga, edge (the Api; no authorizer in this profile), reconciler and event functions: every one bundles.
      expect(types.filter((t) => t === 'AWS::Lambda::Function').length).toBe(
        SAGA_FUNCTIONS.length + EDGE_FUNCTIONS.length - 1 + 1 + EVENT_FUNCTIONS.length,
      );
      expect([...new Set(types)].filter((t) => !LOCALSTACK_TYPES.includes(t))).toEqual([]);
      expect(existsSync(join(out, `${STACK_NAME}.assets.json`))).toBe(true);
    },
  );

  it(
    'gets past its environment checks and fails only to connect when nothing listens',
    { timeout: 120_000 },
    async () => {
      const port = await freePort();
      const env = runnerEnv(`http://localhost:${port}`);
      const bootstrap = ['bootstrap', `aws://000000000000/${env['AWS_REGION'] ?? ''}`, '--verbose', ...CDK_CONTEXT];
      const configured = await output(bootstrap, env);
      expect(configured.ok).toBe(false);
      expect(configured.text).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
      expect(configured.text).not.toContain('must be specified');

      // What the earlier runner did: AWS_ENDPOINT_URL alone is refused before any connection.
      const { AWS_ENDPOINT_URL_S3: _s3, ...withoutS3 } = env;
      const misconfigured = await output(bootstrap, withoutS3);
      expect(misconfigured.ok).toBe(false);
      expect(misconfigured.text).toContain(
        "If specifying 'AWS_ENDPOINT_URL' then 'AWS_ENDPOINT_URL_S3' must be specified",
      );
      expect(misconfigured.text).not.toContain('ECONNREFUSED');
    },
  );
});
