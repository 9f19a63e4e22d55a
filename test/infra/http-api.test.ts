import { RemovalPolicy } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../infra/catalog.js';
import { GATEWAY_PROBLEMS } from '../../infra/gateway-responses.js';
import { DEFAULT_API_BURST_LIMIT, DEFAULT_API_RATE_LIMIT, HttpApi, type HttpApiProps } from '../../infra/http-api.js';
import { resources, stackWithData } from './parts.js';

/** The HTTP edge alone, in front of a stand-in state machine. */
function httpApi(props: Partial<HttpApiProps> = {}) {
  const { stack, data } = stackWithData();
  const stateMachine = new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Nothing')),
    stateMachineType: sfn.StateMachineType.EXPRESS,
  });
  const part = new HttpApi(stack, {
    tables: data.tables,
    stateMachine,
    workflowType: 'EXPRESS',
    profile: 'aws',
    removalPolicy: RemovalPolicy.RETAIN,
    ...props,
  });
  return { stack, part };
}

const functionIds = (stack: ReturnType<typeof httpApi>['stack']) =>
  resources(stack, 'AWS::Lambda::Function')
    .map(([id]) => id.replace(/Function[0-9A-F]{8}$/, ''))
    .sort();

describe('Stack part: HttpApi', () => {
  const aws = httpApi();

  it('serves exactly API_ROUTES, each behind the TOKEN authorizer and proxied to the Api function', () => {
    const methods = resources(aws.stack, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties ?? {});
    expect(methods).toHaveLength(API_ROUTES.length);
    for (const m of methods) {
      expect(m['AuthorizationType']).toBe('CUSTOM');
      expect(m['Integration']).toMatchObject({ Type: 'AWS_PROXY' });
    }
    expect(resources(aws.stack, 'AWS::ApiGateway::Authorizer')).toHaveLength(1);
    expect(functionIds(aws.stack)).toEqual(['Api', 'Authorizer']);
  });

  it('throttles the stage (50/s, burst 100 by default) and answers API Gateway errors as problem+json', () => {
    const [[, stage] = ['', { Type: '' }]] = resources(aws.stack, 'AWS::ApiGateway::Stage');
    expect(stage.Properties?.['MethodSettings']).toEqual([
      expect.objectContaining({
        ThrottlingRateLimit: DEFAULT_API_RATE_LIMIT,
        ThrottlingBurstLimit: DEFAULT_API_BURST_LIMIT,
        DataTraceEnabled: false,
      }),
    ]);
    const responses = resources(aws.stack, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties ?? {});
    expect(responses).toHaveLength(GATEWAY_PROBLEMS.length);
    for (const r of responses)
      expect(r['ResponseParameters']).toEqual({
        'gatewayresponse.header.Content-Type': "'application/problem+json'",
      });
  });

  it('generates the HS256 secret by default, and none with a JWKS URL', () => {
    expect(resources(aws.stack, 'AWS::SecretsManager::Secret')).toHaveLength(1);
    const jwks = httpApi({
      jwksUrl: 'https://issuer.example/jwks.json',
      jwtIssuer: 'https://issuer.example/',
      jwtAudience: 'shop',
    });
    expect(resources(jwks.stack, 'AWS::SecretsManager::Secret')).toHaveLength(0);
    expect(() => httpApi({ jwksUrl: 'https://issuer.example/jwks.json' })).toThrow(/jwtIssuer and jwtAudience/);
  });

  it('runs no authorizer in the localstack profile: the Api function verifies tokens itself', () => {
    const local = httpApi({ profile: 'localstack' });
    expect(resources(local.stack, 'AWS::ApiGateway::Authorizer')).toHaveLength(0);
    expect(functionIds(local.stack)).toEqual(['Api']);
    const [[, api] = ['', { Type: '' }]] = resources(local.stack, 'AWS::Lambda::Function');
    expect((api.Properties?.['Environment'] as { Variables: Record<string, string> }).Variables).toMatchObject({
      API_AUTH: 'token',
      JWT_ALGORITHM: 'HS256',
    });
  });

  it('reserves concurrency for the Api function only when asked, and only a positive integer', () => {
    const reserved = (stack: ReturnType<typeof httpApi>['stack']) =>
      resources(stack, 'AWS::Lambda::Function').map(([, f]) => f.Properties?.['ReservedConcurrentExecutions']);
    expect(reserved(aws.stack)).toEqual([undefined, undefined]);
    expect(reserved(httpApi({ apiReservedConcurrency: 20 }).stack).sort()).toEqual([20, undefined]);
    expect(() => httpApi({ apiReservedConcurrency: 0 })).toThrow(/positive integer/);
  });
});
