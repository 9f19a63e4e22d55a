import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { OrderNotFound, OrderStateConflict } from '../domain/errors.js';
import { outboxEvent } from '../domain/events.js';
import type { FailureInput, Order, OrderStatus } from '../domain/model.js';
import { keys, statusIndexKey } from '../shared/dynamodb/keys.js';
import { addingEvent, addingEventTo, hasEventsMap } from '../shared/dynamodb/outbox.js';
import { isConditionFailed } from '../shared/dynamodb/step-engine.js';
import { isoNow, type Deps } from './deps.js';

type OutcomeDeps = Deps<'ORDERS_TABLE'>;

export interface FailureOutcome {
  orderId: string;
  status: Extract<OrderStatus, 'FAILED' | 'COMPENSATION_FAILED'>;
  failedStep: string;
  reason: string;
  replayed: boolean;
}

/** Lambda errors reach the ASL as {Error, Cause}; Cause is the JSON of {errorType, errorMessage, trace}. */
export function errorDetail(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed && typeof parsed.errorMessage === 'string') {
      return parsed.errorMessage.slice(0, 1000);
    }
  } catch {
    // Not JSON: States.* errors carry a plain-text cause; keep it as it is.
  }
  return cause.slice(0, 1000);
}

/** After every compensation ran: the order ends FAILED with the step that failed and why. */
export function markOrderFailed(deps: OutcomeDeps, input: FailureInput): Promise<FailureOutcome> {
  return finish(deps, input, 'FAILED');
}

/** A compensation still failed after its retries: the order needs an operator (and the reconciler). */
export function markCompensationFailed(deps: OutcomeDeps, input: FailureInput): Promise<FailureOutcome> {
  return finish(deps, input, 'COMPENSATION_FAILED');
}

async function finish(
  deps: OutcomeDeps,
  input: FailureInput,
  status: FailureOutcome['status'],
): Promise<FailureOutcome> {
  const now = isoNow(deps);
  const failedStep = input.failure.step;
  const reason = input.failure.error.Error;
  const reasonDetail = errorDetail(input.failure.error.Cause);
  const compensation: Record<string, string> = input.compensation
    ? { compensationStep: input.compensation.step, compensationError: input.compensation.error.Error }
    : {};
  const event =
    status === 'FAILED'
      ? outboxEvent('ORDER_FAILED', input, now, { failedStep, reason, totalAmount: input.totalAmount })
      : outboxEvent('ORDER_COMPENSATION_FAILED', input, now, { failedStep, reason, ...compensation });
  try {
    // One conditional write: the status, and the event that says so, on the order itself.
    await addingEventTo(event, (adding) =>
      deps.ddb.send(
        new UpdateCommand({
          TableName: deps.tables.ORDERS_TABLE,
          Key: keys.order(input.orderId),
          UpdateExpression:
            `SET #status = :status, failedStep = :failedStep, reason = :reason, reasonDetail = :detail, updatedAt = :now, ${adding.set}` +
            (input.compensation ? ', compensationStep = :cstep, compensationError = :cerr' : '') +
            // FAILED leaves the reconciler's index; COMPENSATION_FAILED is retried from now on.
            (status === 'FAILED'
              ? ' REMOVE gsi1pk, gsi1sk'
              : ', gsi1pk = :gpk, gsi1sk = :now, compensationAttempts = :zero'),
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status', ...adding.names },
          ExpressionAttributeValues: {
            ':status': status,
            ':pending': 'PENDING',
            ':failedStep': failedStep,
            ':reason': reason,
            ':detail': reasonDetail ?? reason,
            ':now': now,
            ...adding.values,
            ...(input.compensation
              ? { ':cstep': input.compensation.step, ':cerr': input.compensation.error.Error }
              : {}),
            ...(status === 'COMPENSATION_FAILED'
              ? { ':gpk': statusIndexKey('COMPENSATION_FAILED', input.orderId, now).gsi1pk, ':zero': 0 }
              : {}),
          },
        }),
      ),
    );
    return { orderId: input.orderId, status, failedStep, reason, replayed: false };
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
    // Either a duplicate invocation (already marked: replay) or the order is in another state.
    const order = await getOrder(deps, input.orderId);
    if (order.status === status) {
      return {
        orderId: input.orderId,
        status,
        failedStep: order.failedStep ?? failedStep,
        reason: order.reason ?? reason,
        replayed: true,
      };
    }
    throw new OrderStateConflict(input.orderId, 'PENDING', order.status);
  }
}

export async function getOrder(deps: OutcomeDeps, orderId: string): Promise<Order> {
  const { Item } = await deps.ddb.send(
    new GetCommand({ TableName: deps.tables.ORDERS_TABLE, Key: keys.order(orderId), ConsistentRead: true }),
  );
  if (!Item) throw new OrderNotFound(orderId);
  return Item as Order;
}

/**
 * A COMPENSATION_FAILED order whose compensations all succeeded on a later attempt (by the
 * reconciler): it ends FAILED, with its original failedStep and reason, and ORDER_FAILED.
 */
export async function resolveCompensationFailed(deps: OutcomeDeps, order: Order): Promise<boolean> {
  const now = isoNow(deps);
  const adding = addingEvent(
    outboxEvent('ORDER_FAILED', order, now, {
      failedStep: order.failedStep ?? null,
      reason: order.reason ?? null,
      totalAmount: order.totalAmount,
      resolvedBy: 'reconciler',
    }),
    hasEventsMap(order) ? 'map' : 'new map',
  );
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tables.ORDERS_TABLE,
        Key: keys.order(order.orderId),
        UpdateExpression: `SET #status = :failed, updatedAt = :now, compensationResolvedAt = :now, ${adding.set} REMOVE gsi1pk, gsi1sk`,
        ConditionExpression: '#status = :stuck',
        ExpressionAttributeNames: { '#status': 'status', ...adding.names },
        ExpressionAttributeValues: {
          ':failed': 'FAILED',
          ':stuck': 'COMPENSATION_FAILED',
          ':now': now,
          ...adding.values,
        },
      }),
    );
    return true;
  } catch (err) {
    // Another reconciler run resolved it first.
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

/** A retry of a COMPENSATION_FAILED order failed again: try later, with backoff. False if another run got there first. */
export async function postponeCompensationRetry(
  deps: OutcomeDeps,
  order: Order & { compensationAttempts?: number },
  nextAttemptAt: string,
  error: string,
): Promise<boolean> {
  const attempts = order.compensationAttempts ?? 0;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tables.ORDERS_TABLE,
        Key: keys.order(order.orderId),
        UpdateExpression:
          'SET compensationAttempts = :next, gsi1sk = :at, compensationError = :error, updatedAt = :now',
        // Another reconciler that got here first already postponed it.
        ConditionExpression: '#status = :stuck AND compensationAttempts = :attempts',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':stuck': 'COMPENSATION_FAILED',
          ':attempts': attempts,
          ':next': attempts + 1,
          ':at': nextAttemptAt,
          ':error': error,
          ':now': isoNow(deps),
        },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}
