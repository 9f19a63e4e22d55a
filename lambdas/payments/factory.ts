import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { readEnv } from '../shared/config.js';
import { HttpPaymentProvider } from './http.js';
import type { PaymentProvider } from './port.js';
import { SimulatedPaymentProvider } from './simulated.js';

/**
 * Picks the payment adapter from the Lambda environment. The simulated provider is the default
 * so a fresh deploy or `npm start` works with no provider account.
 */
export const PaymentEnv = z.object({
  PAYMENT_PROVIDER: z.enum(['simulated', 'http']).default('simulated'),
  PAYMENTS_TABLE: z.string().min(3).max(255).optional(),
  PAYMENT_PROVIDER_URL: z.url({ protocol: /^https?$/ }).optional(),
  PAYMENT_PROVIDER_TIMEOUT_MS: z.coerce.number().int().positive().max(900_000).default(10_000),
  PAYMENT_PROVIDER_API_KEY: z.string().min(1).optional(),
  PAYMENT_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as KRW')
    .default('KRW'),
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
