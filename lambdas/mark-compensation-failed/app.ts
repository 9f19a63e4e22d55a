import { FailureInput } from '../domain/model.js';
import { markCompensationFailed } from '../saga/outcome.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationFailed } from '../shared/saga-metrics.js';

/** A compensation failed for good: the order is COMPENSATION_FAILED. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'MarkCompensationFailed',
    env,
    tables: ['ORDERS_TABLE'],
    input: FailureInput,
    overrides,
    run: markCompensationFailed,
    metrics: compensationFailed,
  });
