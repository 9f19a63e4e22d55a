import { StepInput } from '../domain/model.js';
import { restoreStock } from '../saga/stock.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Compensation of ReserveStock. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'RestoreStock',
    env,
    tables: ['CATALOG_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: restoreStock,
    metrics: compensationRun('RestoreStock'),
  });
