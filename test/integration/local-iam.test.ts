import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { STATUS_INDEX } from '../../lambdas/shared/dynamodb/keys.js';
import { asFunction, isAllowed, queryRequestsOf, requestsOf, UnmappedCall, type Statement } from '../../local/iam.js';
import { LOCAL_ACCOUNT, LOCAL_REGION, type FunctionId, type LocalSaga } from '../../local/saga.js';
import { synthTemplate, type CfnTemplate } from '../../local/template.js';
import { call, token } from '../support/api.js';
import { localSaga, purchase, seed, snapshot } from '../support/saga.js';

const WHERE = { region: 'us-east-1', account: '000000000000' };
const table = (name: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`;

describe('Local IAM: requests mapped to what IAM evaluates', () => {
  it('authorises each item of a transaction as its own operation on its own table', () => {
    const body = {
      TransactItems: [
        { Update: { TableName: 'Accounts' } },
        { Put: { TableName: 'Accounts' } },
        { ConditionCheck: { TableName: 'Orders' } },
        { Put: { TableName: 'Orders' } },
        { Delete: { TableName: 'Inventory' } },
      ],
    };
    expect(requestsOf('DynamoDB_20120810.TransactWriteItems', body, WHERE)).toEqual([
      { action: 'dynamodb:UpdateItem', resource: table('Accounts') },
      { action: 'dynamodb:PutItem', resource: table('Accounts') },
      { action: 'dynamodb:ConditionCheckItem', resource: table('Orders') },
      { action: 'dynamodb:PutItem', resource: table('Orders') },
      { action: 'dynamodb:DeleteItem', resource: table('Inventory') },
    ]);
  });

  it('authorises a Query on an index against the index ARN, and Step Functions, secrets and buses by ARN', () => {
    expect(requestsOf('DynamoDB_20120810.Query', { TableName: 'Orders', IndexName: 'byStatus' }, WHERE)).toEqual([
      { action: 'dynamodb:Query', resource: `${table('Orders')}/index/byStatus` },
    ]);
    const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:M';
    expect(requestsOf('AWSStepFunctions.StartSyncExecution', { stateMachineArn: machine }, WHERE)).toEqual([
      { action: 'states:StartSyncExecution', resource: machine },
    ]);
    expect(requestsOf('secretsmanager.GetSecretValue', { SecretId: 'jwt' }, WHERE)).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:jwt' },
    ]);
    expect(requestsOf('AWSEvents.PutEvents', { Entries: [{ EventBusName: 'bus' }, {}] }, WHERE)).toEqual([
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/bus' },
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
    ]);
  });

  it('authorises an SNS Publish on the topic, and on its key when the topic is encrypted', () => {
    const topic = 'arn:aws:sns:us-east-1:000000000000:shop';
    const key = 'arn:aws:kms:us-east-1:000000000000:key/k1';
    const publish = new URLSearchParams({ Action: 'Publish', TopicArn: topic, Message: 'hi' });
    expect(queryRequestsOf('sns', publish)).toEqual([{ action: 'sns:Publish', resource: topic }]);
    expect(queryRequestsOf('sns', publish, new Map([[topic, key]]))).toEqual([
      { action: 'sns:Publish', resource: topic },
      { action: 'kms:GenerateDataKey', resource: key },
      { action: 'kms:Decrypt', resource: key },
    ]);
    expect(() => queryRequestsOf('sns', new URLSearchParams({ Action: 'Subscribe', TopicArn: topic }))).toThrow(
      /sns Subscribe/,
    );
  });

  it('refuses to map a call it does not know, naming it', () => {
    expect(() => requestsOf('AmazonSQS.SendMessage', {}, WHERE)).toThrow(UnmappedCall);
    expect(() => requestsOf('DynamoDB_20120810.DescribeTable', { TableName: 'T' }, WHERE)).toThrow(
      /DynamoDB_20120810.DescribeTable/,
    );
  });

  it('evaluates Allow, explicit Deny and wildcards as IAM does', () => {
    const statements: Statement[] = [
      { Effect: 'Allow', Action: ['dynamodb:Get*', 'dynamodb:PutItem'], Resource: [table('Orders')] },
      { Effect: 'Allow', Action: ['dynamodb:Query'], Resource: [`${table('Orders')}/index/*`] },
      { Effect: 'Deny', Action: ['dynamodb:PutItem'], Resource: ['*'] },
    ];
    expect(isAllowed(statements, { action: 'dynamodb:GetItem', resource: table('Orders') })).toBe(true);
    expect(isAllowed(statements, { action: 'DynamoDB:getitem', resource: table('Orders') })).toBe(true);
    expect(isAllowed(statements, { action: 'dynamodb:GetItem', resource: table('Payments') })).toBe(false);
    expect(isAllowed(statements, { action: 'dynamodb:PutItem', resource: table('Orders') })).toBe(false);
    expect(isAllowed(statements, { action: 'dynamodb:Query', resource: `${table('Orders')}/index/byStatus` })).toBe(
      true,
    );
    expect(isAllowed(statements, { action: 'dynamodb:Query', resource: table('Orders') })).toBe(false);
  });
});

/** The synthesized template with one action taken out of one function's role. */
function withoutGrant(template: CfnTemplate, policyPrefix: string, action: string): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const [, policy] = Object.entries(copy.Resources).find(([id]) => id.startsWith(policyPrefix)) ?? [];
  if (!policy) throw new Error(`No policy ${policyPrefix}`);
  const doc = policy.Properties?.['PolicyDocument'] as { Statement: { Action: string | string[] }[] };
  for (const s of doc.Statement) {
    const actions = ([] as string[]).concat(s.Action).filter((a) => a !== action);
    s.Action = actions.length > 0 ? actions : ['none:None'];
  }
  return copy;
}

describe('Local IAM: a function whose role lacks a grant fails as on AWS', () => {
  let saga: LocalSaga;
  const used: string[] = [];
  beforeAll(async () => {
    saga = await localSaga({
      template: withoutGrant(inject('template'), 'DeductBalanceFunctionServiceRoleDefaultPolicy', 'dynamodb:PutItem'),
      recordGrantUse: (fn, action, resource) => used.push(`${fn} ${action} ${resource.replace(/^.*:table\//, '')}`),
    });
    await seed(saga, {
      items: [{ itemId: 'gem', price: 100, stock: 5 }],
      users: [{ userId: 'u1', balance: 1_000, slots: 5 }],
    });
  });
  afterAll(() => saga.close());

  it('answers AccessDeniedException to DeductBalance without dynamodb:PutItem, and nothing is written', async () => {
    const orderId = `o-${randomUUID()}`;
    const { run } = await purchase(saga, { orderId, userId: 'u1', itemId: 'gem', quantity: 1 });
    const s = await snapshot(saga);
    expect(s.orders.get(orderId)).toMatchObject({ status: 'FAILED', failedStep: 'DeductBalance' });
    expect(s.orders.get(orderId)?.reason).toBe('AccessDeniedException');
    expect(s.balances.get('u1')).toBe(1_000);
    expect(run.status).toBe('SUCCEEDED');
    // Its compensation and the outcome ran under their own (intact) roles, and were recorded.
    expect(used.some((u) => u.startsWith('RefundBalance dynamodb:'))).toBe(true);
    expect(used.some((u) => u.startsWith('MarkOrderFailed dynamodb:UpdateItem'))).toBe(true);
    expect(used.filter((u) => u.startsWith('DeductBalance dynamodb:PutItem'))).toEqual([]);
  });
});

describe('Local IAM: the Lambda service refuses to wire a function whose role cannot do its part', () => {
  it.each([
    [
      "the Publisher's event source mapping, when its role cannot read the Orders stream",
      'PublisherFunctionServiceRoleDefaultPolicy',
      'dynamodb:GetRecords',
      /Cannot access stream .*OrdersTable.*\/stream\/.*does not allow dynamodb:GetRecords on /,
    ],
    [
      "the Publisher's on-failure destination, when its role cannot send to the PublisherDlq",
      'PublisherFunctionServiceRoleDefaultPolicy',
      'sqs:SendMessage',
      /permissions to call SendMessage on SQS .*does not allow sqs:SendMessage on .*PublisherDlq/,
    ],
    [
      "the Transmitter's queue mapping, when its role cannot receive from the TransmissionQueue",
      'TransmitterFunctionServiceRoleDefaultPolicy',
      'sqs:ReceiveMessage',
      /permissions to call ReceiveMessage on SQS .*does not allow sqs:ReceiveMessage on .*TransmissionQueue/,
    ],
    [
      "the Notifier's asynchronous failure destination, when its role cannot send to the NotifierDlq",
      'NotifierFunctionServiceRoleDefaultPolicy',
      'sqs:SendMessage',
      /on-failure destination .*does not allow sqs:SendMessage on .*NotifierDlq/,
    ],
  ])('refuses %s, with AWS exception name', async (_what, policy, action, message) => {
    const started = localSaga({ template: withoutGrant(inject('template'), policy, action), events: {} });
    const err = await started.then(
      async (saga) => {
        await saga.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('InvalidParameterValueException');
    expect((err as Error).message).toMatch(message);
  });
});

describe('Local IAM: the state machine invokes its tasks under its own role', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga({
      template: withoutGrant(inject('template'), 'PurchaseStateMachineRoleDefaultPolicy', 'lambda:InvokeFunction'),
    });
    await seed(saga, {
      items: [{ itemId: 'gem', price: 100, stock: 5 }],
      users: [{ userId: 'u1', balance: 1_000, slots: 5 }],
    });
  });
  afterAll(() => saga.close());

  it('fails every task as Step Functions reports a role that may not invoke it, and no function runs', async () => {
    const orderId = `o-${randomUUID()}`;
    const { run } = await purchase(saga, { orderId, userId: 'u1', itemId: 'gem', quantity: 1 });
    expect(run.status).toBe('FAILED');
    const failures = run.history.flatMap((e) =>
      e.type === 'StateFailed' && 'Error' in e ? [{ error: e.Error, cause: String(e.Cause) }] : [],
    );
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.error).toBe('Lambda.AWSLambdaException');
      expect(f.cause).toMatch(
        /is not authorized to perform: lambda:InvokeFunction on resource: .*Function.*AccessDeniedException/,
      );
    }
    // Nothing ran: the order is left PENDING for the reconciler, the money untouched.
    const s = await snapshot(saga);
    expect(s.orders.get(orderId)?.status).toBe('PENDING');
    expect(s.steps.filter((r) => r['orderId'] === orderId)).toEqual([]);
    expect(s.balances.get('u1')).toBe(1_000);
    expect([...saga.lambdas.values()].every((l) => l.stats.invocations === 0)).toBe(true);
  });
});

/** The synthesized template without the resources whose logical id starts with `prefix`. */
function without(template: CfnTemplate, prefix: string): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const gone = Object.keys(copy.Resources).filter((id) => id.startsWith(prefix));
  if (gone.length === 0) throw new Error(`No resource ${prefix}`);
  for (const id of gone) Reflect.deleteProperty(copy.Resources, id);
  return copy;
}

describe('Local IAM: API Gateway invokes functions only as their Lambda permissions allow', () => {
  let saga: LocalSaga;
  let bearer: string;
  beforeAll(async () => {
    const template = without(
      without(inject('template'), 'PurchaseApiordersPOSTApiPermission'),
      'PurchaseApiitemsitemIdGETApiPermission',
    );
    saga = await localSaga({ template });
    await seed(saga, {
      items: [{ itemId: 'gem', price: 100, stock: 5 }],
      users: [{ userId: 'u1', balance: 1_000, slots: 5 }],
    });
    bearer = await token('u1');
  });
  afterAll(() => saga.close());

  it('answers 500 Internal server error on a route whose permission is gone, and never runs the function', async () => {
    const invocations = () => saga.lambdas.get('Api')?.stats.invocations ?? 0;
    const before = invocations();
    const bought = await call(saga, {
      path: '/orders',
      token: bearer,
      idempotencyKey: randomUUID(),
      body: { itemId: 'gem', quantity: 1 },
    });
    expect(bought.status).toBe(500);
    expect(bought.json).toEqual({ message: 'Internal server error' });
    const item = await call(saga, { method: 'GET', path: '/items/gem', token: bearer });
    expect(item.status).toBe(500);
    expect(invocations()).toBe(before);
    // The routes whose permissions are there still reach it.
    const items = await call(saga, { method: 'GET', path: '/items', token: bearer });
    expect(items.status).toBe(200);
    expect(invocations()).toBe(before + 1);
    expect((await snapshot(saga)).orders.size).toBe(0);
  });
});

describe('Local IAM: API Gateway calls the authorizer only as its Lambda permission allows', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga({ template: without(inject('template'), 'AuthorizerFunctionPurchaseSagaJwtAuthorizer') });
  });
  afterAll(() => saga.close());

  it('answers the authorizer configuration error (500, problem+json) and runs neither function', async () => {
    const answer = await call(saga, { method: 'GET', path: '/items', token: await token('u1') });
    expect(answer.status).toBe(500);
    expect(answer.json).toMatchObject({ status: 500, type: expect.stringMatching(/\/internal$/) as unknown });
    expect(saga.lambdas.get('Authorizer')?.stats.invocations).toBe(0);
    expect(saga.lambdas.get('Api')?.stats.invocations).toBe(0);
  });
});

/** The template with the statements of one resource's policy that allow `service` taken out. */
function withoutServiceAllow(template: CfnTemplate, policyPrefix: string, service: string): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const [, policy] = Object.entries(copy.Resources).find(([id]) => id.startsWith(policyPrefix)) ?? [];
  if (!policy) throw new Error(`No policy ${policyPrefix}`);
  const doc = policy.Properties?.['PolicyDocument'] as { Statement: { Principal?: { Service?: string } }[] };
  const kept = doc.Statement.filter((s) => s.Principal?.Service !== service);
  if (kept.length === doc.Statement.length) throw new Error(`${policyPrefix} allows nothing to ${service}`);
  doc.Statement = kept;
  return copy;
}

describe('Local IAM: EventBridge reaches targets only as their resource policies allow', () => {
  const shop = {
    items: [{ itemId: 'gem', price: 100, stock: 5 }],
    users: [{ userId: 'u1', balance: 1_000, slots: 5 }],
  };

  it("sends the Notifier's events to its dead-letter queue, NO_PERMISSIONS, when its Lambda permission is gone", async () => {
    const saga = await localSaga({
      template: without(inject('template'), 'EventsNotifierRuleAllowEventRule'),
      events: {},
    });
    try {
      await seed(saga, shop);
      await purchase(saga, { orderId: `o-${randomUUID()}`, userId: 'u1', itemId: 'gem', quantity: 1 });
      await saga.events.drain();
      expect(saga.lambdas.get('Notifier')?.stats.invocations).toBe(0);
      const dead = saga.events.queues.messages('NotifierDlq');
      expect(dead.map((m) => (JSON.parse(m.body) as { 'detail-type': string })['detail-type']).sort()).toEqual([
        'ORDER_COMPLETED',
        'PAYMENT_PROCESSED',
      ]);
      for (const m of dead) expect(m.attributes['ERROR_CODE']?.StringValue).toBe('NO_PERMISSIONS');
      // The other target of the same events is unaffected.
      expect(saga.lambdas.get('Transmitter')?.stats.invocations).toBeGreaterThan(0);
    } finally {
      await saga.close();
    }
  });

  it("never puts an event on the transmission queue when the queue's policy does not let the rule in", async () => {
    const saga = await localSaga({
      template: withoutServiceAllow(inject('template'), 'EventsTransmissionQueuePolicy', 'events.amazonaws.com'),
      // The rule retries a refused delivery up to 185 times: AWS seconds as tenths of a millisecond.
      events: { timeScale: 0.0001 },
    });
    try {
      await seed(saga, shop);
      await purchase(saga, { orderId: `o-${randomUUID()}`, userId: 'u1', itemId: 'gem', quantity: 1 });
      await saga.events.drain();
      expect(saga.lambdas.get('Transmitter')?.stats.invocations).toBe(0);
      expect(saga.events.queues.depth('TransmissionQueue')).toBe(0);
      expect(saga.lambdas.get('Notifier')?.stats.invocations).toBeGreaterThan(0);
    } finally {
      await saga.close();
    }
  });
});

describe('Local IAM: calls no grant allows are denied under the synthesized roles', () => {
  let saga: LocalSaga;
  beforeAll(async () => {
    saga = await localSaga();
  });
  afterAll(() => saga.close());

  const as = <T>(fn: FunctionId, work: () => Promise<T>) =>
    asFunction(
      {
        functionId: fn,
        where: { region: LOCAL_REGION, account: LOCAL_ACCOUNT },
        statements: saga.policies.get(fn) ?? [],
      },
      work,
    );
  const refusal = (work: Promise<unknown>) =>
    work.then(
      () => undefined,
      (e: unknown) => e as Error,
    );

  it('denies a function a table it was never granted (the Publisher reading Payments)', async () => {
    const err = await refusal(
      as('Publisher', () => saga.ddb.send(new GetCommand({ TableName: saga.tables.PAYMENTS_TABLE, Key: { pk: 'x' } }))),
    );
    expect(err?.name).toBe('AccessDeniedException');
    expect(err?.message).toMatch(/not authorized to perform: dynamodb:GetItem on resource: .*table\/.*PaymentsTable/);
  });

  it("denies a Query on an index granted only on the base table (the Api on Orders' status index)", async () => {
    const query = (index?: string) =>
      saga.ddb.send(
        new QueryCommand({
          TableName: saga.tables.ORDERS_TABLE,
          ...(index ? { IndexName: index } : {}),
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'ORDER#none' },
        }),
      );
    // The base table it may query (a user's order timeline)...
    await expect(as('Api', () => query())).resolves.toMatchObject({ Items: [] });
    // ...but not the index, whose ARN IAM evaluates instead.
    const err = await refusal(as('Api', () => query(STATUS_INDEX)));
    expect(err?.name).toBe('AccessDeniedException');
    expect(err?.message).toMatch(new RegExp(`dynamodb:Query on resource: .*OrdersTable.*/index/${STATUS_INDEX}`));
  });

  it("denies a PutEvents to another bus than the Publisher's own", async () => {
    const client = new EventBridgeClient({});
    try {
      const err = await refusal(
        as('Publisher', () =>
          client.send(
            new PutEventsCommand({
              Entries: [
                { EventBusName: 'default', Source: 'purchase-saga', DetailType: 'ORDER_CREATED', Detail: '{}' },
              ],
            }),
          ),
        ),
      );
      expect(err?.name).toBe('AccessDeniedException');
      expect(err?.message).toMatch(
        /events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:event-bus\/default/,
      );
    } finally {
      client.destroy();
    }
  });
});

describe('Local IAM: the Notifier publishes to an SNS topic under a customer-managed key', () => {
  const topicArn = `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:shop-notifications-${randomUUID().slice(0, 8)}`;
  const props = {
    notificationTopicArn: topicArn,
    notificationTopicKeyArn: `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:key/0b0f6a1e-1111-4c8e-9f7e-0123456789ab`,
  };
  const shop = {
    items: [{ itemId: 'gem', price: 100, stock: 5 }],
    users: [{ userId: 'u1', balance: 1_000, slots: 5 }],
  };
  let template: CfnTemplate;
  beforeAll(() => {
    template = synthTemplate(props);
  });

  it('publishes each notification once, with its attributes, when the role may use the key', async () => {
    const saga = await localSaga({ stackProps: props, template, events: {} });
    try {
      await seed(saga, shop);
      const orderId = `o-${randomUUID()}`;
      await purchase(saga, { orderId, userId: 'u1', itemId: 'gem', quantity: 1 });
      await saga.events.drain();
      const messages = saga.topic?.messages ?? [];
      expect(messages.map((m) => m.attributes['kind']).sort()).toEqual(['ORDER_COMPLETED', 'PAYMENT_PROCESSED']);
      for (const m of messages) {
        expect(m.attributes).toMatchObject({ orderId, userId: 'u1', eventId: expect.any(String) as unknown });
        expect(m.message.length).toBeGreaterThan(0);
      }
      expect(saga.events.queues.messages('NotifierDlq')).toEqual([]);
    } finally {
      await saga.close();
    }
  });

  it('has every Publish refused with KMSAccessDenied without kms:Decrypt on the key, and dead-letters the events', async () => {
    const saga = await localSaga({
      stackProps: props,
      template: withoutGrant(template, 'NotifierFunctionServiceRoleDefaultPolicy', 'kms:Decrypt'),
      events: {},
    });
    try {
      await seed(saga, shop);
      await purchase(saga, { orderId: `o-${randomUUID()}`, userId: 'u1', itemId: 'gem', quantity: 1 });
      await saga.events.drain();
      expect(saga.topic?.messages).toEqual([]);
      const dead = saga.events.queues.messages('NotifierDlq').map(
        (m) =>
          JSON.parse(m.body) as {
            requestPayload: { 'detail-type': string };
            responsePayload: { errorType: string; errorMessage: string };
          },
      );
      expect(dead.map((r) => r.requestPayload['detail-type']).sort()).toEqual(['ORDER_COMPLETED', 'PAYMENT_PROCESSED']);
      for (const r of dead) {
        expect(r.responsePayload.errorType).toBe('KMSAccessDeniedException');
        expect(r.responsePayload.errorMessage).toMatch(
          /not authorized to perform: kms:Decrypt on resource: arn:aws:kms:/,
        );
      }
    } finally {
      await saga.close();
    }
  });
});
