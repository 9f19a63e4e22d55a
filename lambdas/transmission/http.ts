import {
  ExternalEndpointTimeout,
  ExternalEndpointUnavailable,
  TransmissionRejected,
  type ExternalEndpoint,
  type Transmission,
  type TransmissionReceipt,
} from './port.js';

/**
 * The external endpoint over HTTP: `POST <url>` with `Idempotency-Key: <eventId>` and the
 * transmission as JSON. 2xx: delivered; 409: the endpoint already has it (delivered);
 * 408, 429, 5xx, a timeout or a network failure: retryable; any other 4xx or a redirect:
 * TransmissionRejected (permanent).
 */
export interface HttpExternalEndpointOptions {
  url: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export class HttpExternalEndpoint implements ExternalEndpoint {
  readonly mode = 'http';
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpExternalEndpointOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async transmit(transmission: Transmission): Promise<TransmissionReceipt> {
    const what = `POST ${this.options.url} (event ${transmission.eventId})`;
    let status: number;
    let text: string;
    try {
      // The signal also bounds reading the body: a response that stalls mid-way is a timeout too.
      const response = await this.fetch(this.options.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'Idempotency-Key': transmission.eventId,
        },
        body: JSON.stringify(transmission),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new ExternalEndpointTimeout(`${what}: no answer within ${this.options.timeoutMs} ms`, { cause: err });
      }
      throw new ExternalEndpointUnavailable(`${what}: request failed`, undefined, { cause: err });
    }

    if (status >= 200 && status < 300) return { outcome: 'ACCEPTED', httpStatus: status };
    if (status === 409) return { outcome: 'ALREADY_RECEIVED', httpStatus: status };
    const detail = `${what}: ${status} ${text.slice(0, 200)}`;
    if (status === 408 || status === 429 || status >= 500) throw new ExternalEndpointUnavailable(detail, status);
    throw new TransmissionRejected(status, detail);
  }
}
