import { StepInput } from '../domain/model.js';
import { completeOrder } from '../saga/completion.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { purchaseCompleted } from '../shared/saga-metrics.js';

/** Step 6: grant the item and mark the order COMPLETED. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'CompleteOrder',
    env,
    tables: ['INVENTORY_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: completeOrder,
    metrics: purchaseCompleted,
  });
