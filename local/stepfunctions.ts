import './polyfills.js';
import { randomUUID } from 'node:crypto';
import { StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LocalLambda } from './lambda-runtime.js';
import { deniedTo, type Caller } from './iam.js';

/**
 * Runs the deployed definition (substitutions resolved) in aws-local-stepfunctions, with every
 * `arn:aws:states:::lambda:invoke` Task sent to the local Lambda named by its FunctionName, and
 * both directions shaped as AWS shapes them: the result wrapped in {Payload, StatusCode, ...},
 * a function error surfacing as Error = errorType and Cause = the JSON error payload.
 */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export type StateMachineType = 'EXPRESS' | 'STANDARD';

type JsonValue = Parameters<StateMachine['run']>[0];
type EventLogs = ReturnType<StateMachine['run']>['eventLogs'];
/** One event of aws-local-stepfunctions' log (its generator's return type is `any`: not `next()`'s value). */
export type HistoryEvent = EventLogs extends AsyncGenerator<infer E> ? E : never;

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: unknown;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: unknown;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
}

export interface Execution {
  record: ExecutionRecord;
  /** Resolves when the execution stops, whatever its status. */
  done: Promise<ExecutionRecord>;
  abort(): void;
}

/** Error thrown into the interpreter for a Lambda function error, named as AWS names it. */
class LambdaTaskError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

type TaskHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type TaskResult = Awaited<ReturnType<TaskHandler>>;

export interface LocalStateMachineOptions {
  stateMachineArn: string;
  /** STANDARD (the default) dedupes execution names; EXPRESS gives every start its own execution. */
  type?: StateMachineType;
  /** Milliseconds to wait between retries instead of the definition's backoff (tests). */
  retryIntervalMs?: number;
  /** Its role: each task's lambda:InvokeFunction is evaluated against these policies (local/iam.ts). */
  role?: Caller;
}

export class LocalStateMachine {
  /** Every execution started, by executionArn. */
  readonly executions = new Map<string, Execution>();
  readonly stateMachineArn: string;
  readonly type: StateMachineType;
  /** The state machine's name: the last field of its ARN. */
  readonly name: string;
  private readonly machine: StateMachine;
  private readonly taskStates: string[];
  /** The input each execution started with, serialized, to tell an idempotent start from a conflicting one. */
  private readonly inputs = new Map<string, string>();

  constructor(
    private readonly definition: StateMachineDefinition,
    private readonly lambdas: Map<string, LocalLambda>,
    private readonly options: LocalStateMachineOptions,
  ) {
    const arn = /^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:([\w-]{1,80})$/.exec(options.stateMachineArn);
    if (!arn?.[1]) throw new Error(`Not a state machine ARN: ${options.stateMachineArn}`);
    this.stateMachineArn = options.stateMachineArn;
    this.name = arn[1];
    this.type = options.type ?? 'STANDARD';
    this.machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
    this.taskStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name, s]) => {
        if (!('Resource' in s) || s.Resource !== LAMBDA_INVOKE)
          throw new Error(`Task ${name}: only ${LAMBDA_INVOKE} runs locally`);
        return name;
      });
  }

  /**
   * Start an execution, with AWS's name semantics. STANDARD: the name is the execution's identity
   * (`...:execution:<machine>:<name>`); starting it again while it is still RUNNING with the same
   * input returns that execution (idempotent), anything else throws ExecutionAlreadyExists.
   * EXPRESS: names are not deduplicated; every start is a new execution
   * `...:express:<machine>:<name>:<uuid>`.
   */
  start(input: unknown, name: string = randomUUID()): Execution {
    const inputJson = JSON.stringify(input ?? null);
    let executionArn: string;
    if (this.type === 'EXPRESS') {
      executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':express:')}:${name}:${randomUUID()}`;
    } else {
      executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = this.executions.get(executionArn);
      if (existing) {
        if (existing.record.status === 'RUNNING' && this.inputs.get(executionArn) === inputJson) return existing;
        throw new ExecutionAlreadyExists(executionArn);
      }
    }
    const invoke: TaskHandler = (input) => this.invokeLambda(input);
    const handlers = Object.fromEntries(this.taskStates.map((s) => [s, invoke]));
    const retryIntervalOverrides =
      this.options.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(
            Object.keys(this.definition.States).map((s) => [s, this.options.retryIntervalMs as number]),
          );
    const startDate = new Date();
    // A fresh copy for the interpreter and one for the context object: nothing shares the caller's.
    const runInput = () => JSON.parse(inputJson) as JsonValue;
    const run = this.machine.run(runInput(), {
      overrides: { taskResourceLocalHandlers: handlers, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: {
        Execution: { Id: executionArn, Name: name, Input: runInput(), StartTime: startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.name },
      },
    });
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input,
      status: 'RUNNING',
      startDate,
      history: [],
    };
    const collect = (async () => {
      for await (const event of run.eventLogs) record.history.push(event);
    })();
    const done = run.result.then(
      async (output) => {
        await collect;
        return Object.assign(record, { status: 'SUCCEEDED' as const, output, stopDate: new Date() });
      },
      async (err: unknown) => {
        await collect.catch(() => undefined);
        const failed = record.history.find((e) => e.type === 'ExecutionFailed');
        const name = err instanceof Error ? err.name : 'Error';
        const status: ExecutionStatus =
          name === 'ExecutionAbortedError' ? 'ABORTED' : name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
        return Object.assign(record, {
          status,
          stopDate: new Date(),
          ...(failed && 'Error' in failed ? { error: failed.Error, cause: causeText(failed.Cause) } : {}),
          ...(status === 'TIMED_OUT' ? { error: 'States.Timeout' } : {}),
        });
      },
    );
    const execution: Execution = { record, done, abort: run.abort };
    this.executions.set(executionArn, execution);
    this.inputs.set(executionArn, inputJson);
    return execution;
  }

  private async invokeLambda(parameters: unknown): Promise<TaskResult> {
    const { FunctionName, Payload } = (parameters ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const lambda = typeof FunctionName === 'string' ? this.lambdas.get(FunctionName) : undefined;
    if (!lambda)
      throw new LambdaTaskError('Lambda.ResourceNotFoundException', `Function not found: ${String(FunctionName)}`);
    const role = this.options.role;
    if (role && deniedTo(role, [{ action: 'lambda:InvokeFunction', resource: lambda.arn }]).length > 0) {
      // What Step Functions reports when its role may not invoke the task's function.
      throw new LambdaTaskError(
        'Lambda.AWSLambdaException',
        `User: arn:aws:sts::${role.where.account}:assumed-role/${role.functionId}/states is not authorized to perform: lambda:InvokeFunction on resource: ${lambda.arn} because no identity-based policy allows the lambda:InvokeFunction action (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException)`,
      );
    }
    const invocation = await lambda.invoke(Payload);
    if (!invocation.ok) throw new LambdaTaskError(invocation.error.errorType, JSON.stringify(invocation.error));
    return {
      ExecutedVersion: '$LATEST',
      Payload: invocation.payload,
      SdkHttpMetadata: { HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: randomUUID() },
      StatusCode: 200,
    } as TaskResult;
  }
}

export class ExecutionAlreadyExists extends Error {
  override readonly name = 'ExecutionAlreadyExists';
  constructor(arn: string) {
    super(`Execution already exists: ${arn}`);
  }
}

/** An error's cause as Step Functions reports it: a string, JSON when the task gave an object. */
function causeText(cause: unknown): string {
  if (cause === undefined || cause === null) return '';
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}
