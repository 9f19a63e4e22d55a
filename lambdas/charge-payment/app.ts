import { StepInput } from '../domain/model.js';
import { paymentProviderFromEnv } from '../payments/factory.js';
import type { PaymentProvider } from '../payments/port.js';
import { chargePayment } from '../saga/payment.js';
import { sagaHandler, type HandlerOverrides } from '../shared/saga-handler.js';

/** Step 5: charge the payment provider. */
export const createHandler = (
  env: NodeJS.ProcessEnv,
  overrides: HandlerOverrides & { provider?: PaymentProvider } = {},
) =>
  sagaHandler({
    name: 'ChargePayment',
    env,
    tables: ['PAYMENTS_TABLE', 'ORDERS_TABLE'],
    input: StepInput,
    overrides,
    extra: (e, ddb) => paymentProviderFromEnv(e, ddb, overrides.provider),
    run: chargePayment,
  });
