import { StepInput } from '../domain/model.js';
import { deductBalance } from '../saga/balance.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';

/** Step 1: deduct the order total from the wallet. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'DeductBalance',
    env,
    tables: ['ACCOUNTS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: deductBalance,
  });
