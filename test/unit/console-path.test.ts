import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { linesOf, statesOf, type AslDefinition } from '../../local/console/graph.js';
import { pathOf, type HistoryEvent } from '../../local/console/path.js';
import { ASL_FILE } from '../../local/template.js';

const definition = JSON.parse(readFileSync(ASL_FILE, 'utf8')) as AslDefinition;
const catchTargets = (state: string) => (definition.States[state]?.Catch ?? []).map((c) => c.Next);
const entered = (name: string, type = 'Task'): HistoryEvent => ({
  type: `${type}StateEntered`,
  stateEnteredEventDetails: { name },
});
const failed = (error: string): HistoryEvent => ({ type: 'TaskFailed', taskFailedEventDetails: { error } });

describe("The console's path through the state machine", () => {
  it('counts a failed attempt that a retry made good as a retry, not as the failure point', () => {
    const path = pathOf(
      [
        entered('ChargePayment'),
        failed('PaymentProviderUnavailable'),
        entered('CompleteOrder'),
        { type: 'ExecutionSucceeded' },
      ],
      catchTargets,
    );
    expect(path).toEqual([
      { seq: 1, state: 'ChargePayment', retries: 1, outcome: 'done', error: 'PaymentProviderUnavailable' },
      { seq: 2, state: 'CompleteOrder', retries: 0, outcome: 'done' },
    ]);
  });

  it('marks the state a Catch took over from, with its error and the retries before it', () => {
    const path = pathOf(
      [
        entered('ReserveStock'),
        failed('Lambda.ServiceException'),
        failed('Lambda.ServiceException'),
        failed('Lambda.ServiceException'),
        entered('ReserveStockFailed', 'Pass'),
        entered('RestoreStock'),
      ],
      catchTargets,
    );
    expect(path.map((v) => [v.state, v.outcome, v.retries])).toEqual([
      ['ReserveStock', 'caught', 2],
      ['ReserveStockFailed', 'done', 0],
      ['RestoreStock', 'running', 0],
    ]);
  });

  it('ends a failed execution on the state it failed in', () => {
    const path = pathOf(
      [entered('MarkCompensationFailed'), entered('CompensationFailed', 'Fail'), { type: 'ExecutionFailed' }],
      catchTargets,
    );
    expect(path.map((v) => v.outcome)).toEqual(['done', 'failed']);
  });

  it('draws every state with its kind, and splits long names between words', () => {
    const kinds = Object.fromEntries(statesOf(definition).map((s) => [s.name, s.kind]));
    expect(kinds).toMatchObject({
      DeductBalance: 'step',
      RefundBalance: 'compensation',
      MarkOrderFailed: 'outcome',
      HasCoupon: 'choice',
      ChargePaymentRefused: 'pass',
      CompensationFailed: 'fail',
    });
    expect(Object.keys(kinds)).toHaveLength(Object.keys(definition.States).length);
    expect(linesOf('ReserveStock')).toEqual(['ReserveStock']);
    expect(linesOf('FenceCompleteOrderCompensationFailed')).toEqual(['FenceCompleteOrder', 'CompensationFailed']);
  });
});
