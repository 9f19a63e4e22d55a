import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { readEnv } from '../shared/config.js';
import { HttpExternalEndpoint } from './http.js';
import type { ExternalEndpoint } from './port.js';
import { RecordingExternalEndpoint } from './recording.js';

/**
 * Picks the transmission adapter from the Lambda environment. Recording is the default so a
 * stack without an external endpoint still forwards (into the Notifications table).
 * EXTERNAL_TIMEOUT_MS is capped well below the delivery lease (60 s), so a claim never expires
 * while its request can still be in flight.
 */
export const TransmissionEnv = z.object({
  TRANSMISSION_MODE: z.enum(['http', 'recording']).default('recording'),
  EXTERNAL_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
  EXTERNAL_TIMEOUT_MS: z.coerce.number().int().positive().max(30_000).default(5_000),
});
export type TransmissionEnv = z.infer<typeof TransmissionEnv>;

export function externalEndpointFromEnv(
  env: NodeJS.ProcessEnv,
  store: { ddb: DynamoDBDocumentClient; table: string; clock: () => Date },
  fetchImpl?: typeof fetch,
): ExternalEndpoint {
  const config = readEnv(TransmissionEnv, env);
  if (config.TRANSMISSION_MODE === 'http') {
    if (!config.EXTERNAL_ENDPOINT_URL) {
      throw new Error('Invalid Lambda environment: EXTERNAL_ENDPOINT_URL is required when TRANSMISSION_MODE=http');
    }
    return new HttpExternalEndpoint({
      url: config.EXTERNAL_ENDPOINT_URL,
      timeoutMs: config.EXTERNAL_TIMEOUT_MS,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  }
  return new RecordingExternalEndpoint(store);
}
