import { randomUUID } from 'node:crypto';
import type { AsyncInvokeSpec } from './event-template.js';
import type { LocalLambda } from './lambda-runtime.js';
import type { LocalQueue } from './sqs.js';
import { Timers } from './wakeable.js';

/**
 * Asynchronous invocation (InvocationType Event), the way EventBridge invokes a Lambda target:
 * the event is accepted at once; a function error is retried by Lambda (MaximumRetryAttempts of
 * the function's EventInvokeConfig, default 2; about 1 minute before the second attempt and 2
 * before the third, scaled down locally) while the event is younger than MaximumEventAgeInSeconds
 * (default 6 h); then the invocation record goes to the OnFailure destination (a queue here), or
 * the event is dropped when there is none.
 */
export interface AsyncInvokerOptions {
  /** Local milliseconds per AWS second (retry delays and event age are scaled by it). */
  msPerSecond: number;
  log?: (message: string, details?: Record<string, unknown>) => void;
}

export interface AsyncFailure {
  functionLogicalId: string;
  payload: unknown;
  errorType: string;
  attempts: number;
}

export class LocalAsyncInvoker {
  private readonly timers = new Timers();
  private running = 0;
  private stopped = false;
  /** Events given up on (with or without a destination), for tests. */
  readonly failures: AsyncFailure[] = [];

  constructor(
    private readonly configs: Map<string /* function logical id */, AsyncInvokeSpec & { onFailure?: LocalQueue }>,
    private readonly options: AsyncInvokerOptions,
  ) {}

  /** Accepts the event (202) and runs it in the background. */
  invoke(lambda: LocalLambda, payload: unknown): void {
    const requestId = randomUUID();
    const acceptedAt = Date.now();
    void this.attempt(lambda, payload, requestId, acceptedAt, 1);
  }

  /** Nothing running and no retry scheduled. */
  idle(): boolean {
    return this.running === 0 && this.timers.size === 0;
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear();
  }

  private async attempt(
    lambda: LocalLambda,
    payload: unknown,
    requestId: string,
    acceptedAt: number,
    attempt: number,
  ): Promise<void> {
    if (this.stopped) return;
    const config = this.configs.get(lambda.spec.logicalId);
    const maxRetries = config?.maximumRetryAttempts ?? 2;
    const maxAgeMs = (config?.maximumEventAgeSeconds ?? 21_600) * this.options.msPerSecond;
    this.running++;
    try {
      const result = await lambda.invoke(payload);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() sets it during the await (TypeScript#9998)
      if (result.ok || this.stopped) return;
      const delayMs = (attempt === 1 ? 60 : 120) * this.options.msPerSecond;
      if (attempt <= maxRetries && Date.now() + delayMs - acceptedAt <= maxAgeMs) {
        this.timers.after(delayMs, () => void this.attempt(lambda, payload, requestId, acceptedAt, attempt + 1));
        return;
      }
      const condition = attempt <= maxRetries ? 'EventAgeExceeded' : 'RetriesExhausted';
      this.failures.push({
        functionLogicalId: lambda.spec.logicalId,
        payload,
        errorType: result.error.errorType,
        attempts: attempt,
      });
      this.options.log?.(`async invocation of ${lambda.spec.logicalId} failed for good (${condition})`, {
        errorType: result.error.errorType,
      });
      config?.onFailure?.send(
        JSON.stringify({
          version: '1.0',
          timestamp: new Date().toISOString(),
          requestContext: {
            requestId,
            functionArn: `${lambda.arn}:$LATEST`,
            condition,
            approximateInvokeCount: attempt,
          },
          requestPayload: payload,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: result.error,
        }),
      );
    } finally {
      this.running--;
    }
  }
}
