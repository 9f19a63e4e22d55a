import { StepInput } from '../domain/model.js';
import { restoreCoupon } from '../saga/coupon.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Compensation of UseCoupon. */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'RestoreCoupon',
    env,
    tables: ['COUPONS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: restoreCoupon,
    metrics: compensationRun('RestoreCoupon'),
  });
