import { StepInput } from '../domain/model.js';
import { reserveInventorySlots } from '../saga/slots.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';

/** Step 3: reserve inventory slots. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'ReserveInventorySlots',
    env,
    tables: ['INVENTORY_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: reserveInventorySlots,
  });
