import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import type { StepInput } from '../../lambdas/domain/model.js';
import { keys } from '../../lambdas/shared/dynamodb/keys.js';
import { readStepRecord } from '../../lambdas/shared/dynamodb/step-engine.js';
import { createOrder, executionInput } from '../../lambdas/saga/orders.js';
import type { LocalSaga } from '../../local/saga.js';
import { outboxEventsOf } from './bus-events.js';
import { depsOf, newOrderId, type Purchase } from './saga.js';

/**
 * What the step files (test/steps) need to state a step's contract in a few lines each: an
 * order as the API creates it, the step's functions invoked as the state machine invokes them
 * (through the local Lambda runtime, so the role's policies apply), and the order's step record
 * and events as they are stored.
 */

/** A PENDING order, created as the API creates it; its execution input, as every step receives it. */
export async function pendingOrder(saga: LocalSaga, purchase: Omit<Purchase, 'orderId'>): Promise<StepInput> {
  const { order } = await createOrder(depsOf(saga), { orderId: newOrderId(), ...purchase });
  return executionInput(order);
}

export type Outcome = { ok: true; value: Record<string, unknown> } | { ok: false; error: string; message: string };

/** Invoke a saga function with `input`: its answer, or the name of the error it threw. */
export async function invoke(saga: LocalSaga, fn: string, input: unknown): Promise<Outcome> {
  const lambda = saga.lambdas.get(fn);
  if (!lambda) throw new Error(`no function ${fn}`);
  const result = await lambda.invoke(input);
  return result.ok
    ? { ok: true, value: result.payload as Record<string, unknown> }
    : { ok: false, error: result.error.errorType, message: result.error.errorMessage };
}

/** Invoke and expect an answer. */
export async function ok(saga: LocalSaga, fn: string, input: unknown): Promise<Record<string, unknown>> {
  const outcome = await invoke(saga, fn, input);
  if (!outcome.ok) throw new Error(`${fn} failed: ${outcome.error}: ${outcome.message}`);
  return outcome.value;
}

/** Invoke and expect the error named `error`; returns its message. */
export async function refused(saga: LocalSaga, fn: string, input: unknown, error: string): Promise<string> {
  const outcome = await invoke(saga, fn, input);
  expect(outcome, `${fn} should fail with ${error}`).toMatchObject({ ok: false, error });
  return outcome.ok ? '' : outcome.message;
}

export async function stepRecordOf(saga: LocalSaga, order: StepInput, step: string) {
  return readStepRecord(saga.ddb, saga.tables.ORDERS_TABLE, order.orderId, step as never);
}

/** The types of the events the order's items carry, oldest first. */
export async function eventTypesOf(saga: LocalSaga, order: StepInput): Promise<string[]> {
  return (await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, order.orderId)).map((e) => e.type);
}

/** The payload of the order's event of `type`. */
export async function eventPayload(saga: LocalSaga, order: StepInput, type: string) {
  const events = await outboxEventsOf(saga.ddb, saga.tables.ORDERS_TABLE, order.orderId);
  return events.find((e) => e.type === type)?.payload;
}

/** Set the order's status as a finished saga would have, without its step records (CompleteOrder's condition). */
export async function endOrder(saga: LocalSaga, order: StepInput, status: 'FAILED' | 'COMPLETED'): Promise<void> {
  await saga.ddb.send(
    new UpdateCommand({
      TableName: saga.tables.ORDERS_TABLE,
      Key: keys.order(order.orderId),
      UpdateExpression: 'SET #status = :status REMOVE gsi1pk, gsi1sk',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': status },
    }),
  );
}
