import { StepInput } from '../domain/model.js';
import { fenceCompleteOrder } from '../saga/completion.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Fence of CompleteOrder after an unknown failure. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'FenceCompleteOrder',
    env,
    tables: ['ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: fenceCompleteOrder,
    metrics: compensationRun('FenceCompleteOrder'),
  });
