/**
 * The business metrics the Lambdas publish (CloudWatch Embedded Metric Format, through Powertools
 * Metrics), in one place so the alarms and the dashboard are built from the same names.
 *
 * This module imports nothing: the CDK app can read it without loading Powertools.
 *
 * Every metric is in METRICS_NAMESPACE and also carries the dimension `service` (the
 * POWERTOOLS_SERVICE_NAME, SERVICE_NAME by default): a CloudWatch metric is identified by its
 * full dimension set, so an alarm on `CompensationFailed` names `{ service: 'purchase-saga' }`,
 * and one on `PurchaseFailed` also names `failedStep` and `reason`.
 */
export const METRICS_NAMESPACE = 'PurchaseSaga';
export const SERVICE_NAME = 'purchase-saga';

export const SAGA_METRICS = {
  /** CompleteOrder committed a purchase (not a replay). */
  PurchaseCompleted: { unit: 'Count', dimensions: [] },
  /** MarkOrderFailed ended an order FAILED (not a replay): which step refused or failed, and why. */
  PurchaseFailed: { unit: 'Count', dimensions: ['failedStep', 'reason'] },
  /** A compensation Lambda undid its step or fenced it (not a replay); `step` is the compensation's name. */
  CompensationRun: { unit: 'Count', dimensions: ['step'] },
  /** MarkCompensationFailed: a compensation still failed after its retries (an operator is needed). */
  CompensationFailed: { unit: 'Count', dimensions: [] },
  /** A duplicate answered from what was already done: `source` = `api` or the step's name. */
  IdempotentReplay: { unit: 'Count', dimensions: ['source'] },
  /** Order creation to COMPLETED (CompleteOrder) or FAILED (MarkOrderFailed). */
  PurchaseLatency: { unit: 'Milliseconds', dimensions: [] },
  /** What the reconciler did, per order: a ReconcileAction, or `ERROR`. */
  ReconcilerActions: { unit: 'Count', dimensions: ['action'] },
} as const satisfies Record<string, { unit: 'Count' | 'Milliseconds'; dimensions: readonly string[] }>;

export type MetricName = keyof typeof SAGA_METRICS;
export type MetricDimensions<N extends MetricName> = Record<(typeof SAGA_METRICS)[N]['dimensions'][number], string>;
