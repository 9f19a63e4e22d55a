import { StepInput } from '../domain/model.js';
import { refundBalance } from '../saga/balance.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Compensation of DeductBalance. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'RefundBalance',
    env,
    tables: ['ACCOUNTS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: refundBalance,
    metrics: compensationRun('RefundBalance'),
  });
