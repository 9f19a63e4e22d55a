import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { RECONCILER_FUNCTION } from '../../infra/catalog.js';
import { Reconciler } from '../../infra/reconciler.js';
import { resources, stackWithData } from './parts.js';

/** The reconciler part alone: its function and its schedule. */
describe('Stack part: Reconciler', () => {
  const { stack, data } = stackWithData();
  new Reconciler(stack, {
    tables: data.tables,
    paymentProvider: 'http',
    paymentProviderUrl: 'https://payments.example',
    pendingTtlSeconds: 600,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const [[fnId, fn] = ['', { Type: '' }]] = resources(stack, 'AWS::Lambda::Function');

  it('builds the one reconciler function, with the payment settings and the pending TTL', () => {
    expect(resources(stack, 'AWS::Lambda::Function')).toHaveLength(1);
    expect(fnId.startsWith(`${RECONCILER_FUNCTION.id}Function`)).toBe(true);
    const env = (fn.Properties?.['Environment'] as { Variables: Record<string, string> }).Variables;
    expect(env).toMatchObject({
      PAYMENT_PROVIDER: 'http',
      PAYMENT_PROVIDER_URL: 'https://payments.example',
      PENDING_TTL_SECONDS: '600',
    });
    // A pass over many orders, some of them a charge rechecked at the provider.
    expect(fn.Properties?.['Timeout']).toBe(120);
    expect(fn.Properties?.['ReservedConcurrentExecutions']).toBeUndefined();
  });

  it('runs it every minute, retrying a failed invocation twice', () => {
    const rules = resources(stack, 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const rule = rules[0]?.[1].Properties ?? {};
    expect(rule['ScheduleExpression']).toBe('rate(1 minute)');
    expect(rule['Targets']).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2 },
      }),
    ]);
  });
});
