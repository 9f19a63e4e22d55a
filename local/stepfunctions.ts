import './polyfills.js';
import { randomUUID } from 'node:crypto';
import { StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LocalLambda } from './lambda-runtime.js';

/**
 * Runs the deployed definition (substitutions resolved) in aws-local-stepfunctions, with every
 * `arn:aws:states:::lambda:invoke` Task sent to the local Lambda named by its FunctionName, and
 * both directions shaped as AWS shapes them: the result wrapped in {Payload, StatusCode, ...},
 * a function error surfacing as Error = errorType and Cause = the JSON error payload.
 */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export type HistoryEvent = Awaited<ReturnType<ReturnType<StateMachine['run']>['eventLogs']['next']>>['value'] & object;

export interface ExecutionRecord {
  executionArn: string;
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
  /** Milliseconds to wait between retries instead of the definition's backoff (tests). */
  retryIntervalMs?: number;
}

export class LocalStateMachine {
  readonly executions = new Map<string, Execution>();
  private readonly machine: StateMachine;
  private readonly taskStates: string[];

  constructor(
    private readonly definition: StateMachineDefinition,
    private readonly lambdas: Map<string, LocalLambda>,
    private readonly options: LocalStateMachineOptions,
  ) {
    this.machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
    this.taskStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name, s]) => {
        if (!('Resource' in s) || s.Resource !== LAMBDA_INVOKE) throw new Error(`Task ${name}: only ${LAMBDA_INVOKE} runs locally`);
        return name;
      });
  }

  start(input: unknown, name: string = randomUUID()): Execution {
    const executionArn = `${this.options.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (this.executions.has(executionArn)) throw new ExecutionAlreadyExists(executionArn);
    const invoke: TaskHandler = (input) => this.invokeLambda(input);
    const handlers = Object.fromEntries(this.taskStates.map((s) => [s, invoke]));
    const retryIntervalOverrides =
      this.options.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(Object.keys(this.definition.States).map((s) => [s, this.options.retryIntervalMs as number]));
    const startDate = new Date();
    const run = this.machine.run(JSON.parse(JSON.stringify(input)), {
      overrides: { taskResourceLocalHandlers: handlers, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: {
        Execution: { Id: executionArn, Name: name, Input: JSON.parse(JSON.stringify(input)), StartTime: startDate.toISOString() },
        StateMachine: { Id: this.options.stateMachineArn },
      },
    });
    const record: ExecutionRecord = { executionArn, name, input, status: 'RUNNING', startDate, history: [] };
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
          ...(failed && 'Error' in failed ? { error: failed.Error, cause: String(failed.Cause ?? '') } : {}),
          ...(status === 'TIMED_OUT' ? { error: 'States.Timeout' } : {}),
        });
      },
    );
    const execution: Execution = { record, done, abort: run.abort };
    this.executions.set(executionArn, execution);
    return execution;
  }

  private async invokeLambda(parameters: unknown): Promise<TaskResult> {
    const { FunctionName, Payload } = (parameters ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const lambda = typeof FunctionName === 'string' ? this.lambdas.get(FunctionName) : undefined;
    if (!lambda) throw new LambdaTaskError('Lambda.ResourceNotFoundException', `Function not found: ${String(FunctionName)}`);
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
