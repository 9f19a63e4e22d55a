import * as z from 'zod/mini';
import { PaymentProviderTimeout, PaymentProviderUnavailable, PurchaseError } from '../domain/errors.js';
import type { ChargeRequest, ChargeResult, PaymentProvider, RefundRequest, RefundResult } from './port.js';
import { PaymentIdempotencyMismatch } from './simulated.js';

/**
 * The payment provider over HTTP (protocol: docs/payment-provider.md). Only transient faults
 * become PaymentProviderUnavailable / PaymentProviderTimeout, which Step Functions retries with
 * the same idempotency key; anything the provider will refuse again becomes a non-retryable
 * error, so a bug is not retried into a storm.
 */

/** The provider refused the request itself (4xx other than the transient ones). Never retried. */
export class PaymentProviderRejected extends PurchaseError {
  override readonly name = 'PaymentProviderRejected';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const text = z.string().check(z.minLength(1));
const ChargeCaptured = z.object({ id: text, status: z.literal('captured'), amount: z.number() });
const ChargeDeclined = z.object({ status: z.literal('declined'), declineCode: text });
const ChargeView = z.object({
  id: text,
  status: z.enum(['captured', 'refunded', 'declined']),
  amount: z.number(),
});
const MismatchBody = z.object({ fields: z.array(z.string()).check(z.minLength(1)) });
const RefundSucceeded = z.object({
  id: text,
  charge: text,
  amount: z.number(),
  status: z.literal('succeeded'),
});

export interface HttpPaymentProviderOptions {
  baseUrl: string;
  timeoutMs: number;
  apiKey?: string;
  fetch?: typeof fetch;
}

interface Reply {
  status: number;
  text: string;
  what: string;
}

export class HttpPaymentProvider implements PaymentProvider {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpPaymentProviderOptions) {
    // Keep any path prefix of the base URL (new URL('/v1/..', base) would drop it).
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const reply = await this.send('POST', '/v1/charges', request.idempotencyKey, {
      amount: request.amount,
      currency: request.currency,
      reference: request.orderId,
      customer: request.userId,
    });
    if (reply.status === 200 || reply.status === 201) {
      const body = parse(ChargeCaptured, reply);
      return { outcome: 'CAPTURED', chargeId: body.id, amount: body.amount };
    }
    if (reply.status === 402) {
      return { outcome: 'DECLINED', declineCode: parse(ChargeDeclined, reply).declineCode };
    }
    if (reply.status === 422) throw mismatch(request.idempotencyKey, reply);
    throw rejected(reply);
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    // Look the charge up by its idempotency key: it may exist even if its response was lost.
    const query = `?idempotency_key=${encodeURIComponent(request.chargeIdempotencyKey)}`;
    const found = await this.send('GET', `/v1/charges${query}`);
    if (found.status === 404) return { outcome: 'NO_CHARGE' };
    if (found.status !== 200) throw rejected(found);
    const charge = parse(ChargeView, found);
    if (charge.status === 'declined') return { outcome: 'NO_CHARGE' };

    const reply = await this.send('POST', '/v1/refunds', request.idempotencyKey, { charge: charge.id });
    if (reply.status !== 200 && reply.status !== 201) {
      if (reply.status === 422) throw mismatch(request.idempotencyKey, reply);
      throw rejected(reply);
    }
    const refund = parse(RefundSucceeded, reply);
    return { outcome: 'REFUNDED', refundId: refund.id, chargeId: refund.charge, amount: refund.amount };
  }

  /** One request; transport failures and transient statuses are thrown here, the rest is returned. */
  private async send(method: 'GET' | 'POST', path: string, idempotencyKey?: string, body?: unknown): Promise<Reply> {
    const what = `${method} ${path}`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.options.apiKey) headers['Authorization'] = `Bearer ${this.options.apiKey}`;

    let status: number;
    let text: string;
    try {
      // The signal also bounds reading the body: a response that stalls mid-way is a timeout too.
      const response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new PaymentProviderTimeout(`${what}: no answer within ${this.options.timeoutMs} ms`, { cause: err });
      }
      throw new PaymentProviderUnavailable(`${what}: request failed`, { cause: err });
    }

    // 504: a gateway gave up waiting, so like a client timeout the outcome is unknown.
    if (status === 504) throw new PaymentProviderTimeout(`${what}: ${status} ${text.slice(0, 200)}`);
    // 409: the same idempotency key is still in flight; 429: throttled; 5xx: provider fault.
    if (status === 409 || status === 429 || status >= 500) {
      throw new PaymentProviderUnavailable(`${what}: ${status} ${text.slice(0, 200)}`);
    }
    return { status, text, what };
  }
}

/** A body that is not what the protocol promises is a provider fault: retried, never guessed at. */
function parse<T>(schema: z.ZodMiniType<T>, reply: Reply): T {
  let json: unknown;
  try {
    json = JSON.parse(reply.text);
  } catch (err) {
    throw new PaymentProviderUnavailable(`${reply.what}: ${reply.status} with a body that is not JSON`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new PaymentProviderUnavailable(`${reply.what}: ${reply.status} with an unexpected body`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function rejected(reply: Reply): PaymentProviderRejected {
  return new PaymentProviderRejected(reply.status, `${reply.what}: ${reply.status} ${reply.text.slice(0, 200)}`);
}

/** 422: the key was used with other parameters; the same typed error as the simulated adapter. */
function mismatch(idempotencyKey: string, reply: Reply): PaymentIdempotencyMismatch {
  let fields = ['parameters'];
  try {
    fields = MismatchBody.parse(JSON.parse(reply.text)).fields;
  } catch {
    // The status alone says what happened; the field list is only a diagnostic.
  }
  return new PaymentIdempotencyMismatch(idempotencyKey, fields);
}
