import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { PurchaseSagaStack, type StackProfile } from '../../infra/stack.js';
import { asArray, projectContext, render } from '../support/cfn.js';
import { LOCALSTACK_TYPES } from '../support/localstack-types.js';

/**
 * The `localstack` profile: the same stack with only the resource types LocalStack community
 * 4.14.0 implements. Its list is kept in infra/localstack-resource-types.json, with its source.
 */
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
}
interface CfnTemplate {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}

/** Synthesized with the project's cdk.json context, as cdklocal synthesizes it (bundling skipped). */
function synth(profile: StackProfile): CfnTemplate {
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new PurchaseSagaStack(app, 'PurchaseSaga', { profile });
  return app.synth().getStackByName(stack.stackName).template as CfnTemplate;
}

const byType = (t: CfnTemplate, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const sources = (t: CfnTemplate) =>
  byType(t, 'AWS::Lambda::Function')
    .map(([id]) => id.replace(/Function[0-9A-F]{8}$/, ''))
    .sort();
const envOf = (t: CfnTemplate, fnId: string) => {
  const fn = byType(t, 'AWS::Lambda::Function').find(([id]) => id.startsWith(`${fnId}Function`));
  if (!fn) throw new Error(`no ${fnId} function`);
  return (fn[1].Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
};
/** `action on resource` for every Allow statement of the policies attached to a function's role. */
const grantsOf = (t: CfnTemplate, fnId: string) => {
  const fn = byType(t, 'AWS::Lambda::Function').find(([id]) => id.startsWith(`${fnId}Function`));
  const role = render(fn?.[1].Properties?.['Role']).replace(/^\$\{(\w+)\.Arn\}$/, '$1');
  return byType(t, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties?.['Roles'] as unknown[]).some((r) => render(r) === `\${${role}}`))
    .flatMap(
      ([, p]) =>
        (p.Properties?.['PolicyDocument'] as { Statement: { Action: unknown; Resource: unknown }[] }).Statement,
    )
    .flatMap((s) => asArray(s.Action).flatMap((a) => asArray(s.Resource).map((r) => `${String(a)} on ${render(r)}`)));
};

describe('Infra: the LocalStack profile', () => {
  let aws: CfnTemplate;
  let localstack: CfnTemplate;
  beforeAll(() => {
    aws = synth('aws');
    localstack = synth('localstack');
  });

  it('keeps a list of LocalStack 4.14.0 resource types that lacks exactly what the profile leaves out', () => {
    expect(LOCALSTACK_TYPES.length).toBeGreaterThan(100);
    expect(LOCALSTACK_TYPES).toContain('AWS::ApiGateway::RestApi');
    expect(LOCALSTACK_TYPES).not.toContain('AWS::ApiGateway::Authorizer');
    expect(LOCALSTACK_TYPES).not.toContain('AWS::CloudWatch::Dashboard');
    const missingOnAws = [...new Set(Object.values(aws.Resources).map((r) => r.Type))].filter(
      (type) => !LOCALSTACK_TYPES.includes(type),
    );
    expect(missingOnAws.sort()).toEqual(['AWS::ApiGateway::Authorizer', 'AWS::CloudWatch::Dashboard']);
  });

  it('uses only resource types LocalStack community 4.14.0 has providers for', () => {
    const types = [...new Set(Object.values(localstack.Resources).map((r) => r.Type))];
    expect(types.filter((type) => !LOCALSTACK_TYPES.includes(type))).toEqual([]);
  });

  it('has the same tables, state machine and functions, less the authorizer', () => {
    for (const type of ['AWS::DynamoDB::Table', 'AWS::StepFunctions::StateMachine']) {
      expect(byType(localstack, type).map(([id, r]) => [id, r.Properties])).toEqual(
        byType(aws, type).map(([id, r]) => [id, r.Properties]),
      );
    }
    expect(sources(localstack)).toEqual(sources(aws).filter((id) => id !== 'Authorizer'));
    expect(sources(aws)).toContain('Authorizer');
  });

  it('serves every route without a gateway authorizer, and nothing refers to one', () => {
    const methods = byType(localstack, 'AWS::ApiGateway::Method');
    expect(methods.length).toBeGreaterThan(0);
    for (const [, m] of methods) {
      expect(m.Properties?.['AuthorizationType']).toBe('NONE');
      expect(m.Properties?.['AuthorizerId']).toBeUndefined();
    }
    const text = JSON.stringify(localstack);
    expect(text.match(/JwtAuthorizer\w*|AuthorizerFunction\w*|AuthorizerId|PurchaseFlow\w*|DashboardName/g)).toBeNull();
    // On AWS, every route goes through the TOKEN authorizer.
    for (const [, m] of byType(aws, 'AWS::ApiGateway::Method'))
      expect(m.Properties?.['AuthorizationType']).toBe('CUSTOM');
  });

  it('has the Api Lambda verify tokens with the authorizer configuration, and read the JWT secret', () => {
    const authorizerEnv = envOf(aws, 'Authorizer');
    const apiEnv = envOf(localstack, 'Api');
    expect(apiEnv['API_AUTH']).toBe('token');
    for (const key of Object.keys(authorizerEnv).filter((k) => k.startsWith('JWT_') || k.startsWith('ADMIN_'))) {
      expect(apiEnv[key], key).toEqual(authorizerEnv[key]);
    }
    const secret = byType(localstack, 'AWS::SecretsManager::Secret')[0]?.[0];
    expect(grantsOf(localstack, 'Api')).toContain(`secretsmanager:GetSecretValue on \${${String(secret)}}`);
    // On AWS the Api Lambda trusts the authorizer and cannot read the secret.
    expect(envOf(aws, 'Api')['API_AUTH']).toBeUndefined();
    expect(grantsOf(aws, 'Api').filter((g) => g.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('outputs the API id and stage the path-style URL is built from', () => {
    for (const t of [aws, localstack]) {
      expect(Object.keys(t.Outputs ?? {})).toEqual(expect.arrayContaining(['ApiId', 'ApiStage', 'ApiUrl']));
      expect(render(t.Outputs?.['ApiStage']?.Value)).toMatch(/^\$\{PurchaseApiDeploymentStage\w+\}$/);
    }
  });
});
