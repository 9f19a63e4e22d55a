import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StartSyncExecutionCommand,
  StateMachineTypeNotSupported,
  StopExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsClient, sfnClient } from '../../lambdas/shared/aws-clients.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../local/aws-endpoint.js';
import { LocalLambda } from '../../local/lambda-runtime.js';
import { LocalStateMachine, type StateMachineType } from '../../local/stepfunctions.js';

/**
 * The local AWS endpoint, driven by the real SDK clients the handlers use: a tiny state machine
 * whose Task invokes an inline Lambda, run as EXPRESS and as STANDARD, and a secret store.
 */
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const GREET_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Greet`;
const EXPRESS_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:GreetExpress`;
const STANDARD_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:GreetStandard`;
const MISSING_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Missing`;

const definition = {
  StartAt: 'Greet',
  States: {
    Greet: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: GREET_ARN, 'Payload.$': '$' },
      ResultSelector: { 'greeting.$': '$.Payload.greeting' },
      Next: 'Check',
    },
    Check: {
      Type: 'Choice',
      Choices: [{ Variable: '$.greeting', StringEquals: 'reject', Next: 'Rejected' }],
      Default: 'Done',
    },
    Rejected: { Type: 'Fail', Error: 'Greeting.Rejected', Cause: 'rejected by policy' },
    Done: { Type: 'Succeed' },
  },
} as StateMachineDefinition;

class InvalidGreeting extends Error {
  override readonly name = 'InvalidGreeting';
}

/** Executions whose input names a gate stay in the Task until the test opens it. */
const gates = new Map<string, { opened: Promise<void>; open: () => void }>();
function gate(id: string): () => void {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  gates.set(id, { opened, open });
  return open;
}

const greet = new LocalLambda(
  { logicalId: 'Greet', source: 'test/inline', timeoutSeconds: 10, memoryMb: 128, env: {} },
  GREET_ARN,
  async (event) => {
    const { name, gate: gateId } = event as { name?: unknown; gate?: string };
    if (gateId !== undefined) await gates.get(gateId)?.opened;
    if (typeof name !== 'string' || name === '') throw new InvalidGreeting(`Cannot greet ${JSON.stringify(name)}`);
    return { greeting: name === 'reject' ? 'reject' : `hello ${name}` };
  },
);

function machine(stateMachineArn: string, type: StateMachineType): LocalStateMachine {
  return new LocalStateMachine(definition, new Map([[GREET_ARN, greet]]), { stateMachineArn, type });
}

const SECRET_NAME = 'purchase-saga/jwt-signing-key';
const SECRET_VALUE = JSON.stringify({ kid: 'k1', key: 'not-a-real-key' });

let endpoint: LocalAwsEndpoint;
let sfn: SFNClient;
let secrets: SecretsManagerClient;
const ENV_KEYS = [
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_ENDPOINT_URL_SFN',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

function restoreEnv(saved: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) Reflect.deleteProperty(process.env, key);
    else process.env[key] = value;
  }
}

beforeAll(async () => {
  endpoint = await startLocalAwsEndpoint({
    stateMachines: new Map([
      [EXPRESS_ARN, machine(EXPRESS_ARN, 'EXPRESS')],
      [STANDARD_ARN, machine(STANDARD_ARN, 'STANDARD')],
    ]),
    secrets: new Map([[SECRET_NAME, SECRET_VALUE]]),
  });
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SFN: endpoint.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url,
  });
  sfn = sfnClient();
  secrets = secretsClient();
});

afterAll(async () => {
  // Unassigned when setup failed.
  (sfn as SFNClient | undefined)?.destroy();
  (secrets as SecretsManagerClient | undefined)?.destroy();
  for (const { open } of gates.values()) open();
  await (endpoint as LocalAwsEndpoint | undefined)?.stop();
  restoreEnv(savedEnv);
});

/** The rejection of a promise, to assert on the error the SDK threw. */
async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`Rejected with a non-error: ${String(err)}`, { cause: err });
  }
  throw new Error('Expected a rejection');
}

async function describeUntilStopped(executionArn: string): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING' || Date.now() > deadline) return d;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Local AWS endpoint: Step Functions', () => {
  it('runs an EXPRESS machine synchronously: SUCCEEDED with the output as a JSON string', async () => {
    const before = Date.now();
    const out = await sfn.send(
      new StartSyncExecutionCommand({
        stateMachineArn: EXPRESS_ARN,
        name: 'sync-ok',
        input: JSON.stringify({ name: 'ada' }),
      }),
    );
    expect(out.status).toBe('SUCCEEDED');
    expect(JSON.parse(out.output ?? 'null')).toEqual({ greeting: 'hello ada' });
    expect(JSON.parse(out.input ?? 'null')).toEqual({ name: 'ada' });
    expect(out.executionArn).toMatch(
      new RegExp(`^arn:aws:states:${REGION}:${ACCOUNT}:express:GreetExpress:sync-ok:[0-9a-f-]{36}$`),
    );
    expect(out.stateMachineArn).toBe(EXPRESS_ARN);
    expect(out.name).toBe('sync-ok');
    expect(out.error).toBeUndefined();
    // Epoch-second timestamps come back as Dates, to the millisecond.
    expect(out.startDate).toBeInstanceOf(Date);
    expect(out.stopDate).toBeInstanceOf(Date);
    expect(out.startDate?.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(out.stopDate?.getTime()).toBeGreaterThanOrEqual(out.startDate?.getTime() ?? Infinity);
  });

  it('answers FAILED with the Fail state error and cause (HTTP 200, like AWS)', async () => {
    const out = await sfn.send(
      new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: JSON.stringify({ name: 'reject' }) }),
    );
    expect(out).toMatchObject({ status: 'FAILED', error: 'Greeting.Rejected', cause: 'rejected by policy' });
    expect(out.output).toBeUndefined();
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  it('answers FAILED with Error = errorType and the JSON function error as Cause for an uncaught Lambda error', async () => {
    const out = await sfn.send(
      new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: JSON.stringify({ name: '' }) }),
    );
    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('InvalidGreeting');
    expect(JSON.parse(out.cause ?? 'null')).toMatchObject({
      errorType: 'InvalidGreeting',
      errorMessage: 'Cannot greet ""',
    });
  });

  it('refuses StartSyncExecution on a STANDARD machine with StateMachineTypeNotSupported', async () => {
    const err = await failure(
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: STANDARD_ARN, input: '{"name":"ada"}' })),
    );
    expect(err.name).toBe('StateMachineTypeNotSupported');
    expect(err).toBeInstanceOf(StateMachineTypeNotSupported);
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('starts a STANDARD execution and reports it through DescribeExecution until SUCCEEDED', async () => {
    const open = gate('poll');
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: STANDARD_ARN,
        name: 'poll-1',
        input: JSON.stringify({ name: 'bob', gate: 'poll' }),
      }),
    );
    expect(started.executionArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:GreetStandard:poll-1`);
    expect(started.startDate).toBeInstanceOf(Date);
    const executionArn = started.executionArn ?? '';

    const running = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(running).toMatchObject({ status: 'RUNNING', name: 'poll-1', stateMachineArn: STANDARD_ARN });
    expect(running.stopDate).toBeUndefined();
    expect(running.output).toBeUndefined();
    expect(JSON.parse(running.input ?? 'null')).toEqual({ name: 'bob', gate: 'poll' });

    open();
    const done = await describeUntilStopped(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? 'null')).toEqual({ greeting: 'hello bob' });
    expect(done.startDate?.getTime()).toBe(started.startDate?.getTime());
    expect(done.stopDate).toBeInstanceOf(Date);
  });

  it('reports a failed STANDARD execution with its error and cause', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, input: '{"name":"reject"}' }),
    );
    const done = await describeUntilStopped(executionArn ?? '');
    expect(done).toMatchObject({ status: 'FAILED', error: 'Greeting.Rejected', cause: 'rejected by policy' });
    expect(done.output).toBeUndefined();
  });

  it('treats a same-name start as idempotent while RUNNING with the same input, else ExecutionAlreadyExists', async () => {
    const open = gate('dup');
    const input = JSON.stringify({ name: 'cy', gate: 'dup' });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'dup-1', input }));
    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'dup-1', input }));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());

    const otherInput = await failure(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: STANDARD_ARN,
          name: 'dup-1',
          input: JSON.stringify({ name: 'dee', gate: 'dup' }),
        }),
      ),
    );
    expect(otherInput.name).toBe('ExecutionAlreadyExists');

    open();
    expect((await describeUntilStopped(first.executionArn ?? '')).status).toBe('SUCCEEDED');
    const afterEnd = await failure(
      sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'dup-1', input })),
    );
    expect(afterEnd.name).toBe('ExecutionAlreadyExists');
    expect(afterEnd.message).toContain(first.executionArn);
  });

  it('does not dedupe EXPRESS execution names: every start is a new execution', async () => {
    const input = JSON.stringify({ name: 'eve' });
    const [a, b] = await Promise.all([
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, name: 'same', input })),
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, name: 'same', input })),
    ]);
    expect(a.status).toBe('SUCCEEDED');
    expect(b.status).toBe('SUCCEEDED');
    expect(a.executionArn).not.toBe(b.executionArn);
    const prefix = `arn:aws:states:${REGION}:${ACCOUNT}:express:GreetExpress:same:`;
    expect(a.executionArn?.startsWith(prefix)).toBe(true);
    expect(b.executionArn?.startsWith(prefix)).toBe(true);

    const c = await sfn.send(new StartExecutionCommand({ stateMachineArn: EXPRESS_ARN, name: 'same', input }));
    const d = await sfn.send(new StartExecutionCommand({ stateMachineArn: EXPRESS_ARN, name: 'same', input }));
    expect(c.executionArn?.startsWith(prefix)).toBe(true);
    expect(new Set([a.executionArn, b.executionArn, c.executionArn, d.executionArn]).size).toBe(4);
  });

  it('refuses DescribeExecution of an EXPRESS execution, as AWS does', async () => {
    const { executionArn } = await sfn.send(
      new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: '{"name":"fay"}' }),
    );
    const err = await failure(sfn.send(new DescribeExecutionCommand({ executionArn })));
    expect(err.name).toBe('InvalidArn');
  });

  it('answers StateMachineDoesNotExist, ExecutionDoesNotExist and InvalidArn', async () => {
    const noMachine = await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: MISSING_ARN, input: '{}' })));
    expect(noMachine.name).toBe('StateMachineDoesNotExist');
    expect(noMachine.$metadata?.httpStatusCode).toBe(400);
    const noMachineSync = await failure(
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: MISSING_ARN, input: '{}' })),
    );
    expect(noMachineSync.name).toBe('StateMachineDoesNotExist');

    for (const executionArn of [
      `arn:aws:states:${REGION}:${ACCOUNT}:execution:GreetStandard:never-started`,
      `arn:aws:states:${REGION}:${ACCOUNT}:execution:Missing:never-started`,
    ]) {
      expect((await failure(sfn.send(new DescribeExecutionCommand({ executionArn })))).name).toBe(
        'ExecutionDoesNotExist',
      );
      expect((await failure(sfn.send(new GetExecutionHistoryCommand({ executionArn })))).name).toBe(
        'ExecutionDoesNotExist',
      );
    }
    expect((await failure(sfn.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' })))).name).toBe(
      'InvalidArn',
    );
    expect((await failure(sfn.send(new StartExecutionCommand({ stateMachineArn: 'not-an-arn' })))).name).toBe(
      'InvalidArn',
    );
  });

  it('answers InvalidExecutionInput for input that is not JSON and InvalidName for a bad name', async () => {
    const badInput = await failure(
      sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, input: '{"name":' })),
    );
    expect(badInput.name).toBe('InvalidExecutionInput');
    const badSyncInput = await failure(
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: 'nope' })),
    );
    expect(badSyncInput.name).toBe('InvalidExecutionInput');
    const badName = await failure(
      sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'has space', input: '{}' })),
    );
    expect(badName.name).toBe('InvalidName');
    const longName = await failure(
      sfn.send(new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'x'.repeat(81) })),
    );
    expect(longName.name).toBe('InvalidName');
  });

  it('maps the local event log to GetExecutionHistory events', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, name: 'history-1', input: '{"name":"gus"}' }),
    );
    await describeUntilStopped(executionArn ?? '');
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events.map((e) => e.previousEventId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(events.every((e) => e.timestamp instanceof Date)).toBe(true);
    expect(JSON.parse(events[0]?.executionStartedEventDetails?.input ?? 'null')).toEqual({ name: 'gus' });
    expect(events[2]?.stateExitedEventDetails?.name).toBe('Greet');
    expect(JSON.parse(events[7]?.executionSucceededEventDetails?.output ?? 'null')).toEqual({ greeting: 'hello gus' });

    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true }));
    expect(page.events?.map((e) => e.id)).toEqual([8, 7, 6]);
    const next = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true, nextToken: page.nextToken }),
    );
    expect(next.events?.map((e) => e.id)).toEqual([5, 4, 3]);
  });

  it('records a failed Task in the history as TaskFailed then ExecutionFailed', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STANDARD_ARN, input: '{"name":""}' }),
    );
    await describeUntilStopped(executionArn ?? '');
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskFailed',
      'ExecutionFailed',
    ]);
    expect(events[2]?.taskFailedEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
      error: 'InvalidGreeting',
    });
    expect(events[3]?.executionFailedEventDetails?.error).toBe('InvalidGreeting');
  });

  it('stops a RUNNING STANDARD execution: ABORTED with the given error and cause', async () => {
    const open = gate('stop');
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: STANDARD_ARN,
        name: 'stop-1',
        input: '{"name":"hal","gate":"stop"}',
      }),
    );
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'Operator.Cancelled', cause: 'by test' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Operator.Cancelled', cause: 'by test' });
    open();
  });

  it('drops the sync- host prefix only when an endpoint is configured', async () => {
    expect(sfn.config.disableHostPrefix).toBe(true);

    const saved = {
      AWS_ENDPOINT_URL_SFN: process.env['AWS_ENDPOINT_URL_SFN'],
      AWS_ENDPOINT_URL: process.env['AWS_ENDPOINT_URL'],
    };
    delete process.env['AWS_ENDPOINT_URL_SFN'];
    delete process.env['AWS_ENDPOINT_URL'];
    const aws = sfnClient();
    process.env['AWS_ENDPOINT_URL'] = endpoint.url;
    const localStack = sfnClient();
    restoreEnv(saved);
    expect(aws.config.disableHostPrefix).toBe(false);
    expect(localStack.config.disableHostPrefix).toBe(true);
    aws.destroy();
    localStack.destroy();

    // Why: with the prefix, the SDK sends StartSyncExecution to sync-127.0.0.1, which does not resolve.
    const prefixed = new SFNClient({ endpoint: endpoint.url, maxAttempts: 1 });
    const err = await failure(
      prefixed.send(new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: '{"name":"ivy"}' })),
    );
    expect(err).toMatchObject({ hostname: 'sync-127.0.0.1' });
    prefixed.destroy();
  });
});

describe('Local AWS endpoint: Secrets Manager', () => {
  it('returns a secret by name, by full ARN and by partial ARN', async () => {
    const byName = await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_NAME }));
    expect(byName).toMatchObject({ Name: SECRET_NAME, SecretString: SECRET_VALUE, VersionStages: ['AWSCURRENT'] });
    expect(byName.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:purchase-saga/jwt-signing-key-[A-Za-z0-9]{6}$`),
    );
    expect(byName.VersionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(byName.CreatedDate).toBeInstanceOf(Date);

    const byArn = await secrets.send(new GetSecretValueCommand({ SecretId: byName.ARN }));
    expect(byArn).toMatchObject({
      ARN: byName.ARN,
      Name: SECRET_NAME,
      SecretString: SECRET_VALUE,
      VersionId: byName.VersionId,
    });
    const byPartialArn = await secrets.send(new GetSecretValueCommand({ SecretId: byName.ARN?.slice(0, -7) }));
    expect(byPartialArn.SecretString).toBe(SECRET_VALUE);
    const current = await secrets.send(
      new GetSecretValueCommand({ SecretId: SECRET_NAME, VersionStage: 'AWSCURRENT' }),
    );
    expect(current.SecretString).toBe(SECRET_VALUE);
  });

  it('answers ResourceNotFoundException for an unknown secret or version', async () => {
    const unknown = await failure(secrets.send(new GetSecretValueCommand({ SecretId: 'no-such-secret' })));
    expect(unknown.name).toBe('ResourceNotFoundException');
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
    expect(unknown.$metadata?.httpStatusCode).toBe(400);
    const unknownArn = await failure(
      secrets.send(
        new GetSecretValueCommand({
          SecretId: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:no-such-secret-AbCdEf`,
        }),
      ),
    );
    expect(unknownArn.name).toBe('ResourceNotFoundException');
    const stage = await failure(
      secrets.send(new GetSecretValueCommand({ SecretId: SECRET_NAME, VersionStage: 'AWSPREVIOUS' })),
    );
    expect(stage.name).toBe('ResourceNotFoundException');
  });
});

describe('Local AWS endpoint: protocol', () => {
  async function post(target: string, body: string, contentType = 'application/x-amz-json-1.0') {
    const res = await fetch(`${endpoint.url}/`, {
      method: 'POST',
      headers: { 'X-Amz-Target': target, 'Content-Type': contentType },
      body,
    });
    return {
      status: res.status,
      contentType: res.headers.get('content-type'),
      errorType: res.headers.get('x-amzn-errortype'),
      body: await res.json(),
    };
  }

  it('answers an unknown target with 400 UnknownOperationException in the service content type', async () => {
    for (const [target, contentType] of [
      ['AWSStepFunctions.CreateStateMachine', 'application/x-amz-json-1.0'],
      ['secretsmanager.PutSecretValue', 'application/x-amz-json-1.1'],
      ['DynamoDB_20120810.GetItem', 'application/x-amz-json-1.0'],
    ] as const) {
      const res = await post(target, '{}', contentType);
      expect(res).toMatchObject({ status: 400, contentType, errorType: 'UnknownOperationException' });
      expect(res.body).toMatchObject({ __type: 'UnknownOperationException', message: expect.stringContaining(target) });
    }
    const noTarget = await fetch(`${endpoint.url}/`, { method: 'POST', body: '{}' });
    expect(noTarget.status).toBe(400);
    expect(await noTarget.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('validates request bodies: ValidationException for a wrong shape, SerializationException for bad JSON', async () => {
    const missing = await post('AWSStepFunctions.StartExecution', JSON.stringify({ input: '{}' }));
    expect(missing).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
    expect(JSON.stringify(missing.body)).toContain('stateMachineArn');
    const wrongType = await post(
      'secretsmanager.GetSecretValue',
      JSON.stringify({ SecretId: 42 }),
      'application/x-amz-json-1.1',
    );
    expect(wrongType).toMatchObject({
      status: 400,
      contentType: 'application/x-amz-json-1.1',
      body: { __type: 'ValidationException' },
    });
    const notJson = await post('AWSStepFunctions.DescribeExecution', '{nope');
    expect(notJson).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
  });

  it('sends timestamps as epoch seconds (JSON numbers), as the services do', async () => {
    const res = await post(
      'AWSStepFunctions.StartExecution',
      JSON.stringify({ stateMachineArn: STANDARD_ARN, input: '{"name":"jo"}' }),
    );
    expect(res.status).toBe(200);
    const { startDate } = res.body as { startDate: unknown };
    expect(typeof startDate).toBe('number');
    expect(Math.abs((startDate as number) - Date.now() / 1000)).toBeLessThan(60);
  });
});
