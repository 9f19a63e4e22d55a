import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SAGA_FUNCTIONS } from '../../infra/catalog.js';
import * as errors from '../../lambdas/domain/errors.js';
import { FORWARD_STEPS } from '../../lambdas/domain/model.js';
import { SAGA_STEPS, STEP_FENCED } from '../../lambdas/domain/steps.js';
import { ASL_FILE } from '../../local/template.js';

/** Structural rules of the one workflow definition, checked on the file CDK deploys. */
interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
  IntervalSeconds?: number;
  BackoffRate?: number;
  JitterStrategy?: string;
}
interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string;
}
interface State {
  Type: string;
  Resource?: string;
  Parameters?: { FunctionName?: string };
  Retry?: Retrier[];
  Catch?: Catcher[];
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  End?: boolean;
}
const asl = JSON.parse(readFileSync(ASL_FILE, 'utf8')) as { StartAt: string; States: Record<string, State> };
const tasks = Object.entries(asl.States).filter(([, s]) => s.Type === 'Task');
const LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'];

/** Every state reachable from `from` (following Next, Default, Choices and Catch). */
function reachable(from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const name = todo.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    const s = asl.States[name];
    if (!s) throw new Error(`Unknown state ${name}`);
    for (const n of [
      s.Next,
      s.Default,
      ...(s.Choices ?? []).map((c) => c.Next),
      ...(s.Catch ?? []).map((c) => c.Next),
    ]) {
      if (n) todo.push(n);
    }
  }
  return seen;
}

describe('Definition: statemachine/purchase.asl.json', () => {
  it('runs the forward steps in the order of the design', () => {
    const order: string[] = [];
    let name: string | undefined = asl.StartAt;
    while (name && name !== 'PurchaseCompleted') {
      const s: State | undefined = asl.States[name];
      if (s?.Type === 'Task') order.push(name);
      name = s?.Type === 'Choice' ? s.Choices?.[0]?.Next : s?.Next;
    }
    expect(order).toEqual([...FORWARD_STEPS]);
  });

  it('invokes exactly the catalog functions, each through lambda:invoke with its substitution', () => {
    expect(tasks.map(([n]) => n).sort()).toEqual(SAGA_FUNCTIONS.map((f) => f.id).sort());
    for (const [name, s] of tasks) {
      expect(s.Resource).toBe('arn:aws:states:::lambda:invoke');
      expect(s.Parameters?.FunctionName).toBe(`\${${name}FunctionArn}`);
    }
  });

  it('retries Lambda service errors and any other transient error with backoff and jitter on every task', () => {
    for (const [name, s] of tasks) {
      const retry = s.Retry ?? [];
      const lambda = retry.find((r) => LAMBDA_ERRORS.every((e) => r.ErrorEquals.includes(e)));
      const all = retry.at(-1);
      expect(lambda, name).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(lambda?.MaxAttempts ?? 0, name).toBeGreaterThanOrEqual(3);
      expect(all, name).toMatchObject({ ErrorEquals: ['States.ALL'], BackoffRate: 2, JitterStrategy: 'FULL' });
    }
  });

  it('never retries a refusal or a fence, and catches exactly the refusals each step can raise, then its fence', () => {
    for (const step of FORWARD_STEPS) {
      const s = asl.States[step] as State;
      const refusals: readonly string[] = errors.REFUSALS[step];
      expect(s.Retry?.[0]).toMatchObject({ MaxAttempts: 0 });
      for (const r of [...refusals, STEP_FENCED]) expect(s.Retry?.[0]?.ErrorEquals).toContain(r);
      expect((s.Catch ?? []).map((c) => [[...c.ErrorEquals].sort(), c.Next])).toEqual([
        ...(refusals.length > 0 ? [[[...refusals].sort(), `${step}Refused`]] : []),
        [[STEP_FENCED], `${step}Fenced`],
        [['States.ALL'], `${step}Failed`],
      ]);
    }
  });

  it('names only refusals that exist as error classes with that literal name', () => {
    const refusals = [
      new errors.InsufficientBalance('u', 1, 0),
      new errors.CouponNotFound('u', 'c'),
      new errors.CouponAlreadyUsed('c', 'o'),
      new errors.CouponExpired('c', '2020-01-01T00:00:00Z'),
      new errors.InventoryFull('u', 1, 0),
      new errors.OutOfStock('i', 1, 0),
      new errors.PaymentDeclined('o', 'card_declined'),
    ];
    for (const e of refusals) {
      expect(e).toBeInstanceOf(errors.BusinessRefusal);
      expect(e.name).toBe(e.constructor.name);
    }
    const named = FORWARD_STEPS.flatMap((step) => [...errors.REFUSALS[step]]);
    expect(named.sort()).toEqual(refusals.map((e) => e.name).sort());
  });

  it('sends a refusal only to the compensations of the steps before it, in reverse order', () => {
    for (const [i, step] of SAGA_STEPS.entries()) {
      if (step.refusals.length === 0) continue;
      const refused = asl.States[`${step.name}Refused`] as State;
      const compensations = [...reachable(refused.Next as string)].filter(
        (n) => asl.States[n]?.Type === 'Task' && n !== 'MarkOrderFailed' && n !== 'MarkCompensationFailed',
      );
      const before = SAGA_STEPS.slice(0, i).map((s) => s.compensation.name);
      expect(compensations.sort(), step.name).toEqual([...before].sort());
    }
  });

  it('sends a step found fenced to the compensations of the steps before it, as a refusal', () => {
    for (const [i, step] of FORWARD_STEPS.entries()) {
      const fenced = asl.States[`${step}Fenced`] as State;
      const compensations = [...reachable(fenced.Next as string)].filter(
        (n) => asl.States[n]?.Type === 'Task' && n !== 'MarkOrderFailed' && n !== 'MarkCompensationFailed',
      );
      const before = SAGA_STEPS.slice(0, i).map((s) => s.compensation.name);
      expect(compensations.sort(), step).toEqual(before.sort());
    }
  });

  it('sends any other failure of a step through every compensation, fencing CompleteOrder first', () => {
    const all = SAGA_FUNCTIONS.filter((f) => f.role === 'compensation').map((f) => f.id);
    for (const step of FORWARD_STEPS) {
      const failed = asl.States[`${step}Failed`] as State;
      expect(failed.Next, step).toBe('FenceCompleteOrder');
      const compensations = [...reachable(failed.Next as string)].filter((n) => all.includes(n));
      expect(compensations.sort(), step).toEqual([...all].sort());
    }
  });

  it('routes every compensation failure to MarkCompensationFailed and a Fail state', () => {
    const compensations = SAGA_FUNCTIONS.filter((f) => f.role === 'compensation').map((f) => f.id);
    for (const name of compensations) {
      const last = asl.States[name]?.Catch?.at(-1);
      expect(last?.ErrorEquals).toEqual(['States.ALL']);
      const handler = asl.States[last?.Next as string];
      expect(handler?.Next).toBe('MarkCompensationFailed');
    }
    expect(asl.States['MarkCompensationFailed']?.Next).toBe('CompensationFailed');
    expect(asl.States['CompensationFailed']?.Type).toBe('Fail');
  });
});
