import { StepInput } from '../domain/model.js';
import { useCoupon } from '../saga/coupon.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';

/** Step 2: use the coupon (orders with a coupon only). */
export const createHandler = (env: NodeJS.ProcessEnv, overrides: HandlerOverrides = {}) =>
  sagaHandler({
    name: 'UseCoupon',
    env,
    tables: ['COUPONS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    run: useCoupon,
  });
