import { readFileSync, writeFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PurchaseSagaStack, type PurchaseSagaStackProps } from '../../infra/stack.js';
import { projectContext } from '../support/cfn.js';

/**
 * A deployed stack is updated in place: a resource whose logical id changes is replaced, and a
 * replaced table starts empty (the old one is retained, orphaned), a replaced API gets another
 * URL, a replaced state machine takes its running executions with it. So refactoring the CDK
 * code must never rename a resource. This test holds every logical id, with its type, of the
 * configurations users deploy, to the list in logical-ids.json.
 *
 * A deliberate rename or a new resource: re-run with UPDATE_LOGICAL_IDS=1 and say in the commit
 * what it does to a stack already deployed.
 */
const CONFIGURATIONS: Record<string, PurchaseSagaStackProps> = {
  default: {},
  standard: { workflowType: 'STANDARD' },
  localstack: { profile: 'localstack' },
  'jwks, http provider, topic, endpoint, alarm e-mail': {
    jwksUrl: 'https://issuer.example/.well-known/jwks.json',
    jwtIssuer: 'https://issuer.example/',
    jwtAudience: 'purchase-saga',
    paymentProvider: 'http',
    paymentProviderUrl: 'https://payments.example',
    notificationTopicArn: 'arn:aws:sns:eu-west-1:111122223333:shop-notifications',
    notificationTopicKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/0b0f6a1e-1111-4c8e-9f7e-0123456789ab',
    externalEndpointUrl: 'https://partner.example/orders',
    alarmEmail: 'ops@example.com',
  },
};

const FIXTURE = new URL('./logical-ids.json', import.meta.url);

function logicalIds(props: PurchaseSagaStackProps): Record<string, string> {
  const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new PurchaseSagaStack(app, 'PurchaseSaga', props)).toJSON() as {
    Resources: Record<string, { Type: string }>;
  };
  return Object.fromEntries(
    Object.entries(template.Resources)
      .map(([id, r]) => [id, r.Type] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

describe('Stack: logical ids', () => {
  it('keeps every resource of every configuration under its logical id', () => {
    const actual = Object.fromEntries(Object.entries(CONFIGURATIONS).map(([name, props]) => [name, logicalIds(props)]));
    if (process.env['UPDATE_LOGICAL_IDS'] === '1') writeFileSync(FIXTURE, `${JSON.stringify(actual, null, 2)}\n`);
    const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as typeof actual;
    for (const name of Object.keys(CONFIGURATIONS)) expect(actual[name], name).toEqual(expected[name]);
    expect(Object.keys(expected).sort()).toEqual(Object.keys(CONFIGURATIONS).sort());
  });
});
