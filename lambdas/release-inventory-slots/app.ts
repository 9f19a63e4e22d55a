import { StepInput } from '../domain/model.js';
import { releaseInventorySlots } from '../saga/slots.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Compensation of ReserveInventorySlots. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'ReleaseInventorySlots',
    env,
    tables: ['INVENTORY_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: releaseInventorySlots,
    metrics: compensationRun('ReleaseInventorySlots'),
  });
