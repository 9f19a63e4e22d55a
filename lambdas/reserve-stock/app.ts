import { StepInput } from '../domain/model.js';
import { reserveStock } from '../saga/stock.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';

/** Step 4: reserve item stock. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'ReserveStock',
    env,
    tables: ['CATALOG_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: reserveStock,
  });
