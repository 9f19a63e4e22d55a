import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { WILDCARD_ONLY_ACTIONS } from '../../infra/nag-suppressions.js';
import { PurchaseSagaStack, type PurchaseSagaStackProps } from '../../infra/stack.js';
import { asArray, projectContext } from '../support/cfn.js';

/**
 * cdk-nag's AwsSolutions pack on the synthesized stack: no finding may be left unsuppressed,
 * errors or warnings, and every suppression is resource-scoped (infra/nag-suppressions.ts).
 */

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: { cdk_nag?: { rules_to_suppress?: { id: string; reason: string; applies_to?: unknown[] }[] } };
}
interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
}

interface Nagged {
  errors: string[];
  warnings: string[];
  resources: Record<string, Resource>;
  metadata: Record<string, unknown> | undefined;
}

function nag(props: PurchaseSagaStackProps): Nagged {
  const app = new App({
    context: {
      ...projectContext(),
      // No stack is bundled: esbuild never runs.
      'aws:cdk:bundling-stacks': [],
      // The project turns error annotations into a synth failure (a report file); here they are
      // read back as annotations, so a finding fails the test with its rule and resource.
      '@aws-cdk/core:annotationsInValidationReport': false,
    },
  });
  const stack = new PurchaseSagaStack(app, 'NagPurchaseSaga', props);
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  const annotations = Annotations.fromStack(stack);
  const describe = (m: { id: string; entry: { data?: unknown } }) =>
    `${m.id}: ${String(m.entry.data).split('\n')[0] ?? ''}`;
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, Resource>;
    Metadata?: Record<string, unknown>;
  };
  return {
    errors: annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(describe),
    warnings: annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(describe),
    resources: template.Resources,
    metadata: template.Metadata,
  };
}

describe('cdk-nag AwsSolutions', () => {
  const configs: [string, PurchaseSagaStackProps][] = [
    ['default (EXPRESS, HS256)', {}],
    [
      'STANDARD with a JWKS',
      {
        workflowType: 'STANDARD',
        jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
        jwtIssuer: 'https://idp.example.com/',
        jwtAudience: 'purchase-app-client',
        adminClaim: 'cognito:groups',
        alarmEmail: 'oncall@example.com',
        apiReservedConcurrency: 100,
      },
    ],
  ];
  const results = new Map<string, Nagged>();
  beforeAll(() => {
    for (const [name, props] of configs) results.set(name, nag(props));
  });
  const each = (): [string, Nagged][] => [...results.entries()];

  it('leaves no unsuppressed error', () => {
    for (const [name, r] of each()) expect(r.errors, name).toEqual([]);
  });

  it('leaves no unsuppressed warning', () => {
    for (const [name, r] of each()) expect(r.warnings, name).toEqual([]);
  });

  it('suppresses on resources only, never stack-wide, with a reason, and IAM4/IAM5 only for named policies or resources', () => {
    for (const [name, r] of each()) {
      expect(JSON.stringify(r.metadata ?? {}), name).not.toContain('cdk_nag');
      let suppressions = 0;
      for (const [id, res] of Object.entries(r.resources)) {
        for (const rule of res.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
          suppressions++;
          expect(rule.reason.length, `${name} ${id} ${rule.id}`).toBeGreaterThan(80);
          if (rule.id === 'AwsSolutions-IAM4' || rule.id === 'AwsSolutions-IAM5') {
            expect(rule.applies_to?.length, `${name} ${id} ${rule.id} must name what it applies to`).toBeGreaterThan(0);
          }
        }
      }
      expect(suppressions, name).toBeGreaterThan(0);
    }
  });

  it('grants on "*" only the actions that have no resource-level permissions (what the Resource::* suppressions cover)', () => {
    const allowed = new Set<string>(WILDCARD_ONLY_ACTIONS);
    for (const [name, r] of each()) {
      const statements: [string, Statement][] = [];
      for (const [id, res] of Object.entries(r.resources)) {
        if (res.Type === 'AWS::IAM::Policy') {
          for (const st of (res.Properties?.PolicyDocument as { Statement: Statement[] }).Statement)
            statements.push([id, st]);
        }
        if (res.Type === 'AWS::IAM::Role') {
          for (const p of (res.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) {
            for (const st of p.PolicyDocument.Statement) statements.push([id, st]);
          }
        }
      }
      const wildcard = statements.filter(([, st]) => st.Effect === 'Allow' && asArray(st.Resource ?? []).includes('*'));
      expect(wildcard.length, name).toBeGreaterThan(0);
      for (const [id, st] of wildcard) {
        for (const action of asArray(st.Action ?? []))
          expect(allowed.has(action), `${name} ${id}: ${action} on "*"`).toBe(true);
      }
    }
  });
});
