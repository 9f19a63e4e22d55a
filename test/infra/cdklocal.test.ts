import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EDGE_FUNCTIONS, EVENT_FUNCTIONS, SAGA_FUNCTIONS } from '../../infra/catalog.js';
import { REPO_ROOT } from '../../local/template.js';

/**
 * LocalStack cannot run on machines without a Docker engine, so `npm run test:localstack` cannot
 * run here; what can be checked is that its standard tool, cdklocal, synthesizes the app.
 */
describe('LocalStack: cdklocal', () => {
  it('synthesizes the stack with cdklocal, Lambdas bundled', { timeout: 180_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'cdklocal-'));
    execFileSync(join(REPO_ROOT, 'node_modules', '.bin', 'cdklocal'), ['synth', '--quiet', '-o', out], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
      env: { ...process.env, CI: 'true' },
    });
    const template = JSON.parse(readFileSync(join(out, 'PurchaseSaga.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    // Saga, edge, reconciler and event functions: every one bundles.
    expect(types.filter((t) => t === 'AWS::Lambda::Function').length).toBe(
      SAGA_FUNCTIONS.length + EDGE_FUNCTIONS.length + 1 + EVENT_FUNCTIONS.length,
    );
    expect(types).toContain('AWS::StepFunctions::StateMachine');
    expect(types).toContain('AWS::ApiGateway::RestApi');
    expect(existsSync(join(out, 'PurchaseSaga.assets.json'))).toBe(true);
  });
});
