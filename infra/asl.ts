import {
  OUTCOME_FUNCTIONS,
  RETRY,
  SAGA_STEPS,
  STEP_FENCED,
  type SagaStep,
  type StepFunction,
} from '../lambdas/domain/steps.js';

/**
 * The purchase state machine, generated from the step table (lambdas/domain/steps.ts). The
 * result is committed as statemachine/purchase.asl.json — the file CDK deploys, the local stand-in
 * runs and Workflow Studio opens — by `npm run asl`; a test fails when the file is stale.
 *
 * The shape, for steps s1..sn:
 * - forward: s1 -> s2 -> ... -> sn -> PurchaseCompleted; an optional step is entered through a
 *   Choice on its field (`Has<Noun>`).
 * - a refusal of si (the step changed nothing, and its record says so for every other
 *   execution of the order) compensates s(i-1)..s1; any other failure of si compensates every
 *   step from sn down (each undone, or fenced so it never commits): another execution of the
 *   same order may be past si, and fencing sn (CompleteOrder) first means it can no longer
 *   complete the order this execution is undoing. A step found fenced (`StepFenced`: that
 *   chain, or the reconciler's, owns si and everything above) compensates s(i-1)..s1.
 * - compensations run in reverse, each then the previous step's; an optional step's only when
 *   its field is present (`<Noun>ToRestore`); then MarkOrderFailed. A compensation that fails
 *   for good goes to MarkCompensationFailed and the execution fails.
 */

/** EXPRESS executions are capped at 5 minutes; stop before, so the order is left to the reconciler cleanly. */
const EXECUTION_TIMEOUT_SECONDS = 280;

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

type State = Record<string, unknown>;
type Backoff = (typeof RETRY)[keyof typeof RETRY];

const steps: readonly SagaStep[] = SAGA_STEPS;
const [markOrderFailed, markCompensationFailed] = OUTCOME_FUNCTIONS;

/** `couponId` -> `Coupon`, for the Choice states of an optional step. */
const noun = (field: string) => field.charAt(0).toUpperCase() + field.slice(1).replace(/Id$/, '');

/** Where the forward path enters step i (its Choice when optional); past the last: completed. */
function forwardEntry(i: number): string {
  const step = steps[i];
  if (!step) return 'PurchaseCompleted';
  return step.onlyWith ? `Has${noun(step.onlyWith)}` : step.name;
}

/** Where compensating steps i..0 begins (the Choice of an optional step); before the first: the end. */
function compensationEntry(i: number): string {
  const step = steps[i];
  if (!step) return markOrderFailed.name;
  return step.onlyWith ? `${noun(step.onlyWith)}ToRestore` : step.compensation.name;
}

function retry(fn: StepFunction, caughtAtOnce: readonly string[], backoff: Backoff) {
  const strategy = (b: Backoff) => ({
    IntervalSeconds: b.intervalSeconds,
    MaxAttempts: b.maxAttempts,
    BackoffRate: b.backoffRate,
    MaxDelaySeconds: b.maxDelaySeconds,
    JitterStrategy: 'FULL',
  });
  return [
    { ErrorEquals: [...caughtAtOnce, ...fn.fatal], MaxAttempts: 0 },
    { ErrorEquals: LAMBDA_SERVICE_ERRORS, ...strategy(RETRY.lambdaService) },
    { ErrorEquals: ['States.ALL'], ...strategy(backoff) },
  ];
}

function invoke(fn: StepFunction): State {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: `\${${fn.name}FunctionArn}`, 'Payload.$': '$' },
    TimeoutSeconds: fn.timeoutSeconds,
    ...(fn.comment ? { Comment: fn.comment } : {}),
  };
}

const caught = (errors: string[], next: string) => ({ ErrorEquals: errors, ResultPath: '$.caught', Next: next });

function forwardStates(step: SagaStep, i: number): Record<string, State> {
  const states: Record<string, State> = {};
  if (step.onlyWith) {
    states[`Has${noun(step.onlyWith)}`] = {
      Type: 'Choice',
      Choices: [{ Variable: `$.${step.onlyWith}`, IsPresent: true, Next: step.name }],
      Default: forwardEntry(i + 1),
    };
  }
  states[step.name] = {
    ...invoke(step),
    ResultSelector: { 'output.$': '$.Payload' },
    ResultPath: '$.lastResult',
    Retry: retry(step, step.refusals, RETRY.forward),
    Catch: [
      ...(step.refusals.length > 0 ? [caught([...step.refusals], `${step.name}Refused`)] : []),
      caught([STEP_FENCED], `${step.name}Fenced`),
      caught(['States.ALL'], `${step.name}Failed`),
    ],
    Next: forwardEntry(i + 1),
  };
  const failure = (comment: string, next: string): State => ({
    Type: 'Pass',
    Comment: comment,
    Parameters: { step: step.name, 'error.$': '$.caught' },
    ResultPath: '$.failure',
    Next: next,
  });
  if (step.refusals.length > 0) {
    states[`${step.name}Refused`] = failure(
      `A business refusal: ${step.name} made no change, so compensate only the steps before it.`,
      compensationEntry(i - 1),
    );
  }
  states[`${step.name}Fenced`] = failure(
    `${step.name} was fenced by a compensation of this order already under way (another execution's or the reconciler's), which undoes everything from here up: compensate only the steps before it.`,
    compensationEntry(i - 1),
  );
  states[`${step.name}Failed`] = failure(
    `An unknown failure: ${step.name} may have committed, and another execution of this order may be past it, so every step is compensated from the last (undo or fence).`,
    compensationEntry(steps.length - 1),
  );
  return states;
}

function compensationStates(step: SagaStep, i: number): Record<string, State> {
  const { compensation } = step;
  const states: Record<string, State> = {};
  if (step.onlyWith) {
    states[`${noun(step.onlyWith)}ToRestore`] = {
      Type: 'Choice',
      Comment: `${step.name} ran only for orders with a ${noun(step.onlyWith).toLowerCase()}; so does its compensation.`,
      Choices: [{ Variable: `$.${step.onlyWith}`, IsPresent: true, Next: compensation.name }],
      Default: compensationEntry(i - 1),
    };
  }
  states[compensation.name] = {
    ...invoke(compensation),
    ResultSelector: { 'output.$': '$.Payload' },
    ResultPath: '$.lastResult',
    Retry: retry(compensation, [], RETRY.compensation),
    Catch: [
      ...(compensation.completes ? [caught([compensation.completes], 'PurchaseCompleted')] : []),
      caught(['States.ALL'], `${compensation.name}CompensationFailed`),
    ],
    Next: compensationEntry(i - 1),
  };
  states[`${compensation.name}CompensationFailed`] = {
    Type: 'Pass',
    Comment: `${compensation.name} still failed after its retries.`,
    Parameters: { step: compensation.name, 'error.$': '$.caught' },
    ResultPath: '$.compensation',
    Next: markCompensationFailed.name,
  };
  return states;
}

function outcome(fn: StepFunction, end: { End: true } | { Next: string }): State {
  return {
    ...invoke(fn),
    ResultSelector: {
      'orderId.$': '$.Payload.orderId',
      'status.$': '$.Payload.status',
      'failedStep.$': '$.Payload.failedStep',
      'reason.$': '$.Payload.reason',
    },
    Retry: retry(fn, [], RETRY.compensation),
    ...end,
  };
}

export function purchaseDefinition(): Record<string, unknown> {
  const chain = steps.map((s) => (s.onlyWith ? `${s.name} (with a ${noun(s.onlyWith).toLowerCase()})` : s.name));
  return {
    Comment: `Purchase saga: ${chain.join(' -> ')}. A refusal compensates the steps before it in reverse order; an unknown failure compensates (or fences) every step from the last. Then the order is marked FAILED; a compensation that still fails marks it COMPENSATION_FAILED.`,
    StartAt: forwardEntry(0),
    TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
    States: {
      ...Object.assign({}, ...steps.map(forwardStates)),
      PurchaseCompleted: {
        Type: 'Pass',
        Parameters: { 'orderId.$': '$.orderId', status: 'COMPLETED', 'totalAmount.$': '$.totalAmount' },
        End: true,
      },
      ...Object.assign({}, ...steps.map(compensationStates).reverse()),
      [markOrderFailed.name]: outcome(markOrderFailed, { End: true }),
      [markCompensationFailed.name]: outcome(markCompensationFailed, { Next: 'CompensationFailed' }),
      CompensationFailed: {
        Type: 'Fail',
        Error: 'CompensationFailed',
        Cause: 'A compensation failed after its retries; the order is COMPENSATION_FAILED.',
      },
    },
  };
}
