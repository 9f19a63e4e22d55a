import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { safeParse } from 'zod/mini';
import type { $ZodType, output } from 'zod/v4/core';
import { BusinessRefusal, InvalidInput, OrderAlreadyCompleted } from '../domain/errors.js';
import type { Deps } from '../saga/deps.js';
import { readTables, type TableVar } from './config.js';
import { documentClient } from './dynamodb/client.js';
import { createObservability, type InvocationMetrics } from './observability.js';

/** What tests and the local stand-in may replace; production uses the defaults. */
export interface HandlerOverrides {
  /** Client for the step's own reads and writes (tests wrap it to inject faults). */
  ddb?: DynamoDBDocumentClient;
  clock?: () => Date;
}

export type SagaLambda<O> = (event: unknown, context: Context) => Promise<O>;

/**
 * The business metrics of a step's outcome (see saga-metrics.ts). Called only when the step did
 * something in this invocation: a replay (the step record said it was already done) is counted
 * as IdempotentReplay instead, never twice as a purchase.
 */
export type OutcomeMetrics<I, O> = (metrics: InvocationMetrics, input: I, outcome: O, now: Date) => void;

/**
 * Builds a saga Lambda: validate the input with its schema, then run the operation. Idempotency
 * has one line, inside the operation: the conditional step record written in the same
 * transaction as the step's effect. A duplicate invocation — a Step Functions retry, or one
 * that arrives while the first still runs or after it died mid-step — either commits first or
 * finds the record and answers what it says. No lock is held between invocations, so a crashed
 * one never blocks its retry.
 *
 * Each invocation has its own logger (orderId and correlationId from the input on every line):
 * start and end at INFO with the outcome, a refusal at WARN, any other error at ERROR — and
 * rethrown, always. Its business metrics (`metrics`) are published when it ends.
 */
export function sagaHandler<
  K extends TableVar,
  S extends $ZodType<{ orderId: string }>,
  O,
  X extends object = object,
>(options: {
  name: string;
  env: NodeJS.ProcessEnv;
  tables: K[];
  input: S;
  overrides?: HandlerOverrides;
  extra?: (env: NodeJS.ProcessEnv, ddb: DynamoDBDocumentClient) => X;
  run: (deps: Deps<K> & X, input: output<S>) => Promise<O>;
  metrics?: OutcomeMetrics<output<S>, O>;
}): SagaLambda<O> {
  const overrides = options.overrides ?? {};
  const tables = readTables(options.tables, options.env);
  const obs = createObservability(options.env, options.name);
  const ddb = overrides.ddb ?? documentClient(obs.traced(new DynamoDBClient({})));
  const deps = {
    ddb,
    tables,
    clock: overrides.clock ?? (() => new Date()),
    ...(options.extra ? options.extra(options.env, ddb) : ({} as X)),
  } as Deps<K> & X;

  return (event, context) =>
    obs.invocation(context, invocationKeys(event), async ({ log, metrics }) => {
      const parsed = safeParse(options.input, event);
      if (!parsed.success) {
        const error = new InvalidInput(
          `${options.name}: invalid input: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
        log.error('Step input refused', error);
        throw error;
      }
      log.info('Step started', { step: options.name });
      let outcome: O;
      try {
        outcome = await options.run(deps, parsed.data);
      } catch (err) {
        // A refusal is the saga working as designed (the ASL catches it and compensates), and
        // so is the CompleteOrder fence finding the order completed; anything else is an
        // incident. Either way the error goes on to Step Functions.
        if (err instanceof BusinessRefusal || err instanceof OrderAlreadyCompleted)
          log.warn('Step refused', { step: options.name, reason: err.name, detail: err.message });
        else log.error('Step failed', { step: options.name, error: err instanceof Error ? err : String(err) });
        throw err;
      }
      const replayed = isReplay(outcome);
      if (replayed) metrics.count('IdempotentReplay', { source: options.name });
      else options.metrics?.(metrics, parsed.data, outcome, deps.clock());
      log.info('Step finished', { step: options.name, outcome, replayed });
      return outcome;
    });
}

/** The step contract's outcomes say `replayed: true` when the step record showed it was already done. */
function isReplay(outcome: unknown): boolean {
  return typeof outcome === 'object' && outcome !== null && 'replayed' in outcome && outcome.replayed === true;
}

/**
 * Keys read before validation, so even a refused input is logged with its order. The
 * correlationId is the API request's (in the execution input); executions started without one
 * (the reconciler's, older ones) correlate on the orderId.
 */
function invocationKeys(event: unknown): { orderId?: string; correlationId?: string } {
  if (typeof event !== 'object' || event === null) return {};
  const orderId = 'orderId' in event && typeof event.orderId === 'string' ? event.orderId.slice(0, 128) : undefined;
  const correlationId =
    'correlationId' in event && typeof event.correlationId === 'string' ? event.correlationId.slice(0, 128) : orderId;
  return { ...(orderId ? { orderId } : {}), ...(correlationId ? { correlationId } : {}) };
}
