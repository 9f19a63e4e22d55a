import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SFNClient, type SFNClientConfig } from '@aws-sdk/client-sfn';

/**
 * The AWS clients the handlers use besides DynamoDB. Endpoint, region and credentials come from
 * the standard SDK configuration, so the same code runs in AWS and locally, where
 * `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or `AWS_ENDPOINT_URL` for
 * LocalStack) point them at a local endpoint.
 */

/** Whether the SDK will send this service's requests to a configured endpoint instead of AWS's. */
function customEndpoint(serviceEnvSuffix: string, config: { endpoint?: unknown }, env: NodeJS.ProcessEnv): boolean {
  if (config.endpoint !== undefined) return true;
  if (/^(true|1)$/i.test(env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] ?? '')) return false;
  return Boolean(env[`AWS_ENDPOINT_URL_${serviceEnvSuffix}`] || env['AWS_ENDPOINT_URL']);
}

export function sfnClient(config: SFNClientConfig = {}): SFNClient {
  // StartSyncExecution (like TestState) is modelled with the host prefix `sync-`: on AWS the SDK
  // must send it to sync-states.<region>.amazonaws.com, the only host that serves it. The SDK
  // prepends the prefix to a custom endpoint too, turning http://127.0.0.1:PORT into
  // http://sync-127.0.0.1:PORT, which does not resolve. So drop the prefix only when an endpoint
  // is configured (the local stand-in, LocalStack), never against AWS.
  const local = customEndpoint('SFN', config, process.env);
  return new SFNClient({ ...(local ? { disableHostPrefix: true } : {}), ...config });
}

export function secretsClient(config: SecretsManagerClientConfig = {}): SecretsManagerClient {
  return new SecretsManagerClient(config);
}
