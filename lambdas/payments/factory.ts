import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { readEnv } from '../shared/config.js';
import { HttpPaymentProvider } from './http.js';
import type { PaymentProvider } from './port.js';
import { SimulatedPaymentProvider } from './simulated.js';

/**
 * Picks the payment adapter from the Lambda environment. The simulated provider is the default
 * so a fresh deploy or `npm start` works with no provider account.
 */
export const PaymentEnv = z.object({
  PAYMENT_PROVIDER: z._default(z.enum(['simulated', 'http']), 'simulated'),
  PAYMENTS_TABLE: z.optional(z.string().check(z.minLength(3), z.maxLength(255))),
  PAYMENT_PROVIDER_URL: z.optional(z.url({ protocol: /^https?$/ })),
  PAYMENT_PROVIDER_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive(), z.maximum(900_000)), 10_000),
  PAYMENT_PROVIDER_API_KEY: z.optional(z.string().check(z.minLength(1))),
  PAYMENT_CURRENCY: z._default(z.string().check(z.regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as KRW')), 'KRW'),
});
export type PaymentEnv = z.infer<typeof PaymentEnv>;

export interface PaymentSetup {
  provider: PaymentProvider;
  currency: string;
}

/**
 * The provider from the environment, or `override` (tests pass a scripted or failing one);
 * the currency always comes from the environment.
 */
export function paymentProviderFromEnv(
  env: NodeJS.ProcessEnv,
  ddb: DynamoDBDocumentClient,
  override?: PaymentProvider,
): PaymentSetup {
  const config = readEnv(PaymentEnv, env);
  if (override) return { provider: override, currency: config.PAYMENT_CURRENCY };
  const currency = config.PAYMENT_CURRENCY;
  if (config.PAYMENT_PROVIDER === 'http') {
    if (!config.PAYMENT_PROVIDER_URL) {
      throw new Error('Invalid Lambda environment: PAYMENT_PROVIDER_URL is required when PAYMENT_PROVIDER=http');
    }
    const provider = new HttpPaymentProvider({
      baseUrl: config.PAYMENT_PROVIDER_URL,
      timeoutMs: config.PAYMENT_PROVIDER_TIMEOUT_MS,
      apiKey: config.PAYMENT_PROVIDER_API_KEY,
    });
    return { provider, currency };
  }
  if (!config.PAYMENTS_TABLE) {
    throw new Error('Invalid Lambda environment: PAYMENTS_TABLE is required when PAYMENT_PROVIDER=simulated');
  }
  return { provider: new SimulatedPaymentProvider({ ddb, table: config.PAYMENTS_TABLE }), currency };
}
