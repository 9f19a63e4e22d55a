import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { asFunction, type Caller } from './iam.js';
import type { FunctionSpec } from './template.js';
import { REPO_ROOT } from './template.js';

/**
 * Runs a Lambda's own code in-process the way the Lambda service would for a synchronous invoke:
 * the payload and the result cross a JSON boundary, the handler gets a Lambda context with a
 * deadline, a thrown error becomes {errorType, errorMessage, trace}, and a handler still running
 * at its timeout is reported as `Sandbox.Timedout` — while it keeps running, as a real
 * invocation that Step Functions stopped waiting for would.
 */
export interface LambdaFunctionErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type Invocation = { ok: true; payload: unknown } | { ok: false; error: LambdaFunctionErrorPayload };

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Each function folder exports `createHandler(env, overrides)` from app.ts; handler.ts calls it with process.env. */
export type HandlerFactory = (env: NodeJS.ProcessEnv, overrides?: Record<string, unknown>) => Handler;

export async function loadHandlerFactory(source: string): Promise<HandlerFactory> {
  const mod: unknown = await import(pathToFileURL(resolve(REPO_ROOT, source, 'app.ts')).href);
  if (!mod || typeof mod !== 'object' || !('createHandler' in mod) || typeof mod.createHandler !== 'function') {
    throw new Error(`${source}/app.ts does not export createHandler`);
  }
  return mod.createHandler as HandlerFactory;
}

export class LocalLambda {
  /** Invocations still running after their caller gave up (timeouts); tests await them. */
  readonly stragglers = new Set<Promise<Invocation>>();
  /** How those late invocations ended, had anyone still been listening. */
  readonly lateOutcomes: Invocation[] = [];
  /** What the Lambda service would bill (invocations, time handlers ran) and what still runs. */
  readonly stats = { invocations: 0, errors: 0, busyMs: 0, inFlight: 0 };

  constructor(
    readonly spec: FunctionSpec,
    readonly arn: string,
    private readonly handler: Handler,
    /** Its role: the SDK calls it makes are evaluated against these policies (local/iam.ts). */
    readonly caller?: Caller,
  ) {}

  async invoke(payload: unknown): Promise<Invocation> {
    const event: unknown = JSON.parse(JSON.stringify(payload ?? null));
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const requestId = randomUUID();
    const context = lambdaContext(this.spec.logicalId, this.arn, requestId, deadline);

    const started = performance.now();
    this.stats.invocations++;
    this.stats.inFlight++;
    const caller = this.caller;
    const run = caller ? asFunction(caller, () => this.handler(event, context)) : this.handler(event, context);
    // Billed until the handler settles, even when the caller stopped waiting (a timeout).
    const settle = (failed: boolean) => {
      this.stats.busyMs += performance.now() - started;
      this.stats.inFlight--;
      if (failed) this.stats.errors++;
    };
    void run.then(
      () => settle(false),
      () => settle(true),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    try {
      const result = await Promise.race([run, timedOut]);
      if (result === 'timeout') {
        const straggler: Promise<Invocation> = run
          .then(
            (p): Invocation => ({ ok: true, payload: p }),
            (err: unknown): Invocation => ({ ok: false, error: toLambdaError(err) }),
          )
          .then((outcome) => {
            this.lateOutcomes.push(outcome);
            this.stragglers.delete(straggler);
            return outcome;
          });
        this.stragglers.add(straggler);
        return {
          ok: false,
          error: {
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`,
            trace: [],
          },
        };
      }
      return { ok: true, payload: result === undefined ? null : JSON.parse(JSON.stringify(result)) };
    } catch (err) {
      return { ok: false, error: toLambdaError(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

export function toLambdaError(err: unknown): LambdaFunctionErrorPayload {
  if (err instanceof Error) {
    return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') };
  }
  return { errorType: 'Error', errorMessage: String(err), trace: [] };
}

function lambdaContext(functionName: string, arn: string, requestId: string, deadline: number): Context {
  const unsupported = () => {
    throw new Error('Callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: arn,
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    /* eslint-disable @typescript-eslint/no-deprecated -- the Context type still requires the legacy callbacks */
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
    /* eslint-enable @typescript-eslint/no-deprecated */
  };
}
