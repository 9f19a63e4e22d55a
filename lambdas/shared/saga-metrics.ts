import type { FailureInput, StepInput } from '../domain/model.js';
import type { FailureOutcome } from '../saga/outcome.js';
import type { CompensationOutcome } from './dynamodb/step-engine.js';
import type { InvocationMetrics } from './observability.js';
import type { OutcomeMetrics } from './saga-handler.js';

/**
 * What each kind of saga Lambda counts when it did something (sagaHandler leaves replays out).
 * Names and dimensions: metric-catalog.ts.
 */

/** CompleteOrder: a purchase completed, and how long it took since the order was created. */
export const purchaseCompleted: OutcomeMetrics<StepInput, unknown> = (metrics, input, _outcome, now) => {
  metrics.count('PurchaseCompleted', {});
  latency(metrics, input, now);
};

/** MarkOrderFailed: a purchase ended FAILED, where and why. */
export const purchaseFailed: OutcomeMetrics<FailureInput, FailureOutcome> = (metrics, input, outcome, now) => {
  metrics.count('PurchaseFailed', { failedStep: outcome.failedStep, reason: outcome.reason });
  latency(metrics, input, now);
};

/** A compensation Lambda (`step` = its name) undid its step or fenced it; NOTHING_TO_UNDO is not a run. */
export const compensationRun =
  (step: string): OutcomeMetrics<StepInput, CompensationOutcome> =>
  (metrics, _input, outcome) => {
    if (outcome.outcome === 'COMPENSATED' || outcome.outcome === 'FENCED') metrics.count('CompensationRun', { step });
  };

/** MarkCompensationFailed: a compensation failed for good. */
export const compensationFailed: OutcomeMetrics<FailureInput, FailureOutcome> = (metrics) => {
  metrics.count('CompensationFailed', {});
};

/** Order creation to its end. Executions started before `createdAt` was in the input have none. */
function latency(metrics: InvocationMetrics, input: StepInput, now: Date): void {
  if (input.createdAt === undefined) return;
  const ms = now.getTime() - Date.parse(input.createdAt);
  if (Number.isFinite(ms) && ms >= 0) metrics.add('PurchaseLatency', ms, {});
}
