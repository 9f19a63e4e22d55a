import { OrderAlreadyCompleted, OrderStateConflict, StepFenced } from '../domain/errors.js';
import type { ForwardStep, Order, StepInput, StepRecord } from '../domain/model.js';
import { SAGA_STEPS, stepsFor, type Compensation } from '../domain/steps.js';
import { readStepRecord } from '../shared/dynamodb/step-engine.js';
import type { TableVar } from '../shared/config.js';
import { refundBalance } from './balance.js';
import { completeOrder, fenceCompleteOrder } from './completion.js';
import { restoreCoupon } from './coupon.js';
import type { Deps } from './deps.js';
import { executionInput } from './orders.js';
import {
  getOrder,
  markCompensationFailed,
  markOrderFailed,
  postponeCompensationRetry,
  resolveCompensationFailed,
} from './outcome.js';
import { chargeRecheckDue, recheckCharge, refundPayment, type PaymentDeps } from './payment.js';
import { releaseInventorySlots } from './slots.js';
import { restoreStock } from './stock.js';

/**
 * The reconciler's decision for one order, from its step records alone — the safety net for
 * executions that died. Every operation it uses is the saga's own (fenced, exactly-once), so it
 * is safe to run concurrently with itself and with a live execution of the same order.
 */
export type ReconcileTables = Exclude<TableVar, 'IDEMPOTENCY_TABLE' | 'NOTIFICATIONS_TABLE'>;
export type ReconcileDeps = Deps<ReconcileTables> & Pick<PaymentDeps, 'provider' | 'currency'>;

export interface ReconcilePolicy {
  /** A PENDING order older than this is stuck (the seeds' 5-minute reservation TTL). */
  pendingTtlSeconds: number;
  /** Backoff of COMPENSATION_FAILED retries: base * 2^attempts, capped. */
  retryBaseSeconds: number;
  retryMaxSeconds: number;
}

export type ReconcileAction =
  'SKIPPED' | 'COMPLETED' | 'FAILED' | 'COMPENSATION_FAILED' | 'RESOLVED' | 'POSTPONED' | 'CHARGE_RECHECKED';

export interface ReconcileOutcome {
  orderId: string;
  action: ReconcileAction;
  detail?: string;
}

/** `force`: an operator asked for this order now — a COMPENSATION_FAILED retry does not wait for its backoff. */
export async function reconcileOrder(
  deps: ReconcileDeps,
  orderId: string,
  policy: ReconcilePolicy,
  force = false,
): Promise<ReconcileOutcome> {
  const order = (await getOrder(deps, orderId)) as Order & { gsi1sk?: string };
  const now = deps.clock();
  if (order.status === 'PENDING') {
    const ageSeconds = (now.getTime() - Date.parse(order.createdAt)) / 1000;
    if (ageSeconds < policy.pendingTtlSeconds) return { orderId, action: 'SKIPPED', detail: 'not stuck yet' };
    return resolveStuckPending(deps, order, policy);
  }
  // RefundPayment found no charge and a ChargePayment may have been in flight: ask the provider
  // again once that invocation has timed out, and refund what it captured.
  if (await chargeRecheckDue(deps, orderId, now)) {
    const refund = await recheckCharge(deps, orderId);
    return {
      orderId,
      action: 'CHARGE_RECHECKED',
      detail:
        refund.outcome === 'REFUNDED'
          ? `refunded ${refund.amount} captured after RefundPayment (charge ${refund.chargeId})`
          : 'no charge',
    };
  }
  if (order.status === 'COMPENSATION_FAILED') {
    if (!force && order.gsi1sk && order.gsi1sk > now.toISOString())
      return { orderId, action: 'SKIPPED', detail: 'retry not due' };
    return retryCompensations(deps, order, policy);
  }
  return { orderId, action: 'SKIPPED', detail: `already ${order.status}` };
}

async function resolveStuckPending(
  deps: ReconcileDeps,
  order: Order,
  policy: ReconcilePolicy,
): Promise<ReconcileOutcome> {
  const input = executionInput(order);
  const steps = stepsFor(order);
  const records = new Map<ForwardStep, StepRecord | undefined>();
  for (const step of steps) {
    records.set(step, await readStepRecord(deps.ddb, deps.tables.ORDERS_TABLE, order.orderId, step));
  }
  const status = (step: ForwardStep) => records.get(step)?.status;

  // Every effect, payment included, committed: finishing the purchase is what the customer paid for.
  if (steps.filter((s) => s !== 'CompleteOrder').every((s) => status(s) === 'COMMITTED')) {
    try {
      await completeOrder(deps, input);
      return { orderId: order.orderId, action: 'COMPLETED', detail: 'every step had committed' };
    } catch (err) {
      // CompleteOrder was fenced (the execution is compensating) or the order just ended: compensate.
      if (!(err instanceof StepFenced) && !(err instanceof OrderStateConflict)) throw err;
    }
  }

  const compensation = await compensateAll(deps, input);
  if (compensation.completed) return { orderId: order.orderId, action: 'SKIPPED', detail: 'completed meanwhile' };
  // A recorded refusal or decline is the real reason, wherever the compensations had got to;
  // otherwise the execution died somewhere after the first step not committed.
  const refusedAt = steps.find((s) => status(s) === 'REFUSED' || status(s) === 'DECLINED');
  const refused = refusedAt && records.get(refusedAt);
  const failure = refused
    ? {
        step: refused.step,
        error: {
          Error: refused.status === 'DECLINED' ? 'PaymentDeclined' : (refused.refusal?.reason ?? 'Refused'),
          Cause: 'The step was refused; the execution died while compensating',
        },
      }
    : {
        step: steps.find((s) => status(s) !== 'COMMITTED') ?? 'CompleteOrder',
        error: {
          Error: 'TIMED_OUT',
          Cause: `PENDING for more than ${policy.pendingTtlSeconds} s without a live execution`,
        },
      };
  if (compensation.error) {
    await markCompensationFailed(deps, {
      ...input,
      failure,
      compensation: { step: compensation.error.step, error: { Error: compensation.error.name } },
    });
    return {
      orderId: order.orderId,
      action: 'COMPENSATION_FAILED',
      detail: `${compensation.error.step}: ${compensation.error.name}`,
    };
  }
  const outcome = await markOrderFailed(deps, { ...input, failure });
  return {
    orderId: order.orderId,
    action: outcome.replayed ? 'SKIPPED' : 'FAILED',
    detail: `${failure.step}: ${failure.error.Error}`,
  };
}

async function retryCompensations(
  deps: ReconcileDeps,
  order: Order,
  policy: ReconcilePolicy,
): Promise<ReconcileOutcome> {
  const compensation = await compensateAll(deps, executionInput(order));
  if (!compensation.error) {
    const resolved = await resolveCompensationFailed(deps, order);
    return resolved
      ? { orderId: order.orderId, action: 'RESOLVED' }
      : { orderId: order.orderId, action: 'SKIPPED', detail: 'resolved by another run' };
  }
  const attempts = order.compensationAttempts ?? 0;
  const delay = Math.min(policy.retryBaseSeconds * 2 ** attempts, policy.retryMaxSeconds);
  const next = new Date(deps.clock().getTime() + delay * 1000).toISOString();
  const postponed = await postponeCompensationRetry(
    deps,
    order,
    next,
    `${compensation.error.step}: ${compensation.error.name}`,
  );
  if (!postponed) return { orderId: order.orderId, action: 'SKIPPED', detail: 'handled by another run' };
  return {
    orderId: order.orderId,
    action: 'POSTPONED',
    detail: `${compensation.error.step} failed again; next attempt ${next}`,
  };
}

/** The operation of each compensation of the step table (the compiler asks for a new step's). */
const COMPENSATE: Record<Compensation, (deps: ReconcileDeps, input: StepInput) => Promise<unknown>> = {
  RefundBalance: refundBalance,
  RestoreCoupon: restoreCoupon,
  ReleaseInventorySlots: releaseInventorySlots,
  RestoreStock: restoreStock,
  RefundPayment: refundPayment,
  FenceCompleteOrder: fenceCompleteOrder,
};

/**
 * Every compensation in reverse order, as the state machine runs them: each undoes what its step
 * recorded or fences a step that never committed. Stops at the first failure.
 */
async function compensateAll(
  deps: ReconcileDeps,
  input: StepInput,
): Promise<{ completed: boolean; error?: { step: string; name: string } }> {
  // The step table's order, reversed; an optional step's compensation only when it could have run.
  const chain = [...SAGA_STEPS]
    .reverse()
    .filter((s) => !('onlyWith' in s) || input[s.onlyWith] !== undefined)
    .map((s) => s.compensation.name);
  for (const step of chain) {
    try {
      await COMPENSATE[step](deps, input);
    } catch (err) {
      if (err instanceof OrderAlreadyCompleted) return { completed: true };
      // Recorded on the order (COMPENSATION_FAILED) and retried with backoff; never dropped.
      return { completed: false, error: { step, name: err instanceof Error ? err.name : 'Error' } };
    }
  }
  return { completed: false };
}
