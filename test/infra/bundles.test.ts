import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  EDGE_FUNCTIONS,
  EVENT_FUNCTIONS,
  RECONCILER_FUNCTION,
  SAGA_FUNCTIONS,
  SOURCE_METADATA,
} from '../../infra/catalog.js';
import { compare, gte } from '../../infra/bundling/semver.js';
import { BUNDLE_OPTIONS, REPO_ROOT } from '../../infra/function.js';

/**
 * Every function bundled as the stack bundles it (BUNDLE_OPTIONS), then loaded by a fresh Node
 * process with the function's environment, as Lambda loads it on a cold start, from a folder with
 * no node_modules above it: a module left out of the bundle (the credential chain's fallbacks)
 * or replaced in it (semver) that the code needs at load fails here instead of on AWS.
 */
// Outside the repository, as on Lambda: no node_modules above a bundle to fall back on.
const OUT = mkdtempSync(join(tmpdir(), 'bundles-'));
const FUNCTIONS = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS];
const run = promisify(execFile);

/** Each function's environment in the template; values CloudFormation resolves become placeholders. */
function environmentOf(dir: string): Record<string, string> {
  const fn = Object.values(inject('template').Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[SOURCE_METADATA] === `lambdas/${dir}`,
  );
  const vars = (fn?.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables;
  if (!vars) throw new Error(`No function for lambdas/${dir} in the template`);
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : `arn:aws:local:us-east-1:000000000000:${k}`]),
  );
}

describe('Function bundles', () => {
  const inputs = new Map<string, string[]>();
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));
  beforeAll(async () => {
    await Promise.all(
      FUNCTIONS.map(async (f) => {
        mkdirSync(join(OUT, f.id), { recursive: true });
        const result = await build({
          ...BUNDLE_OPTIONS,
          entryPoints: [join(REPO_ROOT, 'lambdas', f.dir, 'handler.ts')],
          outfile: join(OUT, f.id, 'index.mjs'),
          metafile: true,
          logLevel: 'silent',
        });
        inputs.set(f.id, Object.keys(result.metafile.inputs));
      }),
    );
  });

  it.each(FUNCTIONS.map((f) => [f.id, f.dir]))(
    'loads %s in a fresh Node process, its handler exported',
    async (id, dir) => {
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          'const m = await import(process.argv[1]); console.log(typeof m.handler);',
          join(OUT, id, 'index.mjs'),
        ],
        {
          // Lambda's own variables too: the Tracer then starts as it does on AWS.
          env: {
            PATH: process.env['PATH'] ?? '',
            AWS_REGION: 'us-east-1',
            AWS_LAMBDA_FUNCTION_NAME: id,
            AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
            ...environmentOf(dir),
          },
        },
      );
      expect(stdout.trim()).toBe('function');
    },
  );

  it('takes semver from infra/bundling in every bundle', () => {
    for (const f of FUNCTIONS) {
      expect(
        (inputs.get(f.id) ?? []).filter((i) => i.includes('node_modules/semver/')),
        f.id,
      ).toEqual([]);
    }
    // The tracing stack that needs it is in the step bundles, and so is the replacement.
    expect(inputs.get('ChargePayment')?.some((i) => i.includes('node_modules/aws-xray-sdk-core/'))).toBe(true);
    expect(inputs.get('ChargePayment')).toContain('infra/bundling/semver.ts');
  });
});

describe("semver's gte, as the bundles have it", () => {
  it.each([
    ['8.0.0', '8.0.0', true],
    ['22.11.0', '8.0.0', true],
    ['7.10.1', '8.0.0', false],
    ['2.1000.0', '2.3.0', true],
    ['10.0.0', '9.99.99', true],
    ['1.2.3', '1.2.3-rc.1', true],
    ['1.2.3-rc.1', '1.2.3', false],
    ['1.2.3-rc.10', '1.2.3-rc.9', true],
    ['1.2.3-alpha', '1.2.3-1', true],
    ['1.2.3-alpha', '1.2.3-alpha.1', false],
    ['v1.2.4', '1.2.3', true],
    ['1.2.3+build.5', '1.2.3', true],
  ])('%s >= %s is %s', (a, b, expected) => {
    expect(gte(a, b)).toBe(expected);
  });

  it('orders both ways and refuses what is not a version, as semver does', () => {
    expect(compare('1.2.3', '1.2.4')).toBe(-1);
    expect(compare('1.2.4', '1.2.3')).toBe(1);
    expect(compare('1.2.3', '1.2.3')).toBe(0);
    expect(() => gte('latest', '1.0.0')).toThrow(/Invalid Version: latest/);
    expect(() => gte('1.2', '1.0.0')).toThrow(TypeError);
  });
});
