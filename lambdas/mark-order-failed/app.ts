import { FailureInput } from '../domain/model.js';
import { markOrderFailed } from '../saga/outcome.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { purchaseFailed } from '../shared/saga-metrics.js';

/** Final state of a compensated saga: the order is FAILED. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'MarkOrderFailed',
    env,
    tables: ['ORDERS_TABLE'],
    input: FailureInput,
    overrides,
    run: markOrderFailed,
    metrics: purchaseFailed,
  });
