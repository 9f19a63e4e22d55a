import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  StartExecutionCommand,
  StartSyncExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/**
 * The purchase workflow as the API sees it. EXPRESS machines are run synchronously
 * (StartSyncExecution answers 200 even when the execution failed: read `status`); STANDARD
 * machines are started with the orderId as execution name — so a retried request can never start
 * a second execution for an order — and then polled for a bounded time.
 */
export type WorkflowType = 'EXPRESS' | 'STANDARD';

export interface WorkflowRun {
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  executionArn: string;
  output?: unknown;
  error?: string;
  cause?: string;
}

export interface Workflow {
  readonly type: WorkflowType;
  /** Runs the purchase of `orderId` and waits up to `waitMs` for its end. */
  run(orderId: string, input: unknown, waitMs: number): Promise<WorkflowRun>;
}

export class StepFunctionsWorkflow implements Workflow {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    readonly type: WorkflowType,
    private readonly pollIntervalMs = 250,
  ) {}

  async run(orderId: string, input: unknown, waitMs: number): Promise<WorkflowRun> {
    const payload = JSON.stringify(input);
    if (this.type === 'EXPRESS') {
      const out = await this.sfn.send(
        new StartSyncExecutionCommand({ stateMachineArn: this.stateMachineArn, name: orderId, input: payload }),
      );
      return toRun(out.executionArn, out.status, out.output, out.error, out.cause);
    }

    let executionArn: string;
    try {
      const started = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: orderId, input: payload }),
      );
      executionArn = started.executionArn ?? '';
    } catch (err) {
      // Named by the orderId: the execution exists because an earlier attempt of this very
      // request started it. Follow that one.
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
      executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${orderId}`;
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const d = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      const run = toRun(executionArn, d.status, d.output, d.error, d.cause);
      if (run.status !== 'RUNNING' || Date.now() + this.pollIntervalMs > deadline) return run;
      await new Promise((r) => setTimeout(r, this.pollIntervalMs));
    }
  }
}

function toRun(
  executionArn: string | undefined,
  status: string | undefined,
  output: string | undefined,
  error: string | undefined,
  cause: string | undefined,
): WorkflowRun {
  return {
    executionArn: executionArn ?? '',
    status: (status ?? 'RUNNING') as WorkflowRun['status'],
    ...(output !== undefined ? { output: JSON.parse(output) as unknown } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}
