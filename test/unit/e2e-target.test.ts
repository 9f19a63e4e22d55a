import { describe, expect, it } from 'vitest';
import { localstackApiUrl, targetName } from '../e2e/target.js';

describe('E2E target: LocalStack', () => {
  const outputs = {
    ApiUrl: 'https://a1b2c3.execute-api.localhost.localstack.cloud:4566/v1/',
    ApiId: 'a1b2c3',
    ApiStage: 'v1',
    PaymentsTableName: 'PurchaseSaga-PaymentsTable',
  };

  it('calls the API at its path-style URL under the endpoint, not the rewritten ApiUrl', () => {
    expect(localstackApiUrl(outputs, 'http://localhost:4566')).toBe('http://localhost:4566/_aws/execute-api/a1b2c3/v1');
    expect(localstackApiUrl(outputs, 'http://127.0.0.1:4599/')).toBe(
      'http://127.0.0.1:4599/_aws/execute-api/a1b2c3/v1',
    );
  });

  it('refuses outputs without the API id or stage (a stack deployed by an older version)', () => {
    const { ApiId: _id, ...withoutId } = outputs;
    expect(() => localstackApiUrl(withoutId, 'http://localhost:4566')).toThrow(/ApiId\/ApiStage/);
  });

  it('reads E2E_TARGET, local by default, and refuses anything else', () => {
    expect(targetName({})).toBe('local');
    expect(targetName({ E2E_TARGET: 'localstack' })).toBe('localstack');
    expect(() => targetName({ E2E_TARGET: 'staging' })).toThrow();
  });
});
