import { StepInput } from '../domain/model.js';
import { paymentProviderFromEnv } from '../payments/factory.js';
import type { PaymentProvider } from '../payments/port.js';
import { refundPayment } from '../saga/payment.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';
import { compensationRun } from '../shared/saga-metrics.js';

/** Compensation of ChargePayment. */
export const createHandler = (
  env: NodeJS.ProcessEnv,
  overrides: HandlerOverrides & { provider?: PaymentProvider } = {},
) =>
  sagaHandler({
    name: 'RefundPayment',
    env,
    tables: ['PAYMENTS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    extra: (e, ddb) => paymentProviderFromEnv(e, ddb, overrides.provider),
    run: refundPayment,
    metrics: compensationRun('RefundPayment'),
  });
