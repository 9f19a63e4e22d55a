import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenLocal } from './http-server.js';
import { z } from 'zod';
import { PaymentProviderTimeout, PaymentProviderUnavailable } from '../lambdas/domain/errors.js';
import {
  chargeKeyOf,
  PaymentIdempotencyMismatch,
  type ProviderCharge,
  type SimulatedPaymentProvider,
} from '../lambdas/payments/simulated.js';

/**
 * A stand-in payment provider speaking the HTTP protocol of docs/payment-provider.md on top of
 * the simulated provider, so the scripts tests set per order apply to the HTTP adapter too.
 *
 * A simulated timeout (or lost response) is served the way a real one looks to a client: the
 * server holds the request until the client gives up, and answers 504 only if it never does.
 */
export interface PaymentProviderServer {
  url: string;
  /** The last requests received, oldest first (headers lower-cased by node); bounded for long runs. */
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface PaymentProviderServerOptions {
  provider: SimulatedPaymentProvider;
  port?: number;
  /** How long a timed-out request is held before the 504 (clients normally abort long before). */
  holdMs?: number;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_RECORDED = 1_000;

const ChargeBody = z.object({
  amount: z.number().int().min(0),
  currency: z.string().min(1),
  reference: z.string().min(1),
  customer: z.string().min(1),
});
const RefundBody = z.object({ charge: z.string().min(1) });

/** Ends a request with a status and JSON body. */
class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export async function startPaymentProviderServer(
  options: PaymentProviderServerOptions,
): Promise<PaymentProviderServer> {
  const { provider } = options;
  const holdMs = options.holdMs ?? 30_000;
  const requests: RecordedRequest[] = [];
  const releaseHolds = new Set<() => void>();

  /** Waits until the client disconnects, the hold expires or the server stops. */
  const hold = (res: ServerResponse) =>
    new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        releaseHolds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, holdMs);
      releaseHolds.add(release);
      res.once('close', release);
    });

  async function route(req: IncomingMessage, url: URL, body: string): Promise<Answer> {
    const key = header(req.headers, 'idempotency-key');
    if (req.method === 'POST' && url.pathname === '/v1/charges') {
      if (!key) return new Answer(400, { error: 'idempotency_key_required' });
      const input = ChargeBody.safeParse(parseJson(body));
      if (!input.success) return new Answer(400, { error: 'invalid_request', issues: input.error.issues });
      const result = await provider.charge({
        idempotencyKey: key,
        orderId: input.data.reference,
        userId: input.data.customer,
        amount: input.data.amount,
        currency: input.data.currency,
      });
      return result.outcome === 'CAPTURED'
        ? new Answer(200, { id: result.chargeId, status: 'captured', amount: result.amount })
        : new Answer(402, { status: 'declined', declineCode: result.declineCode });
    }
    if (req.method === 'GET' && url.pathname === '/v1/charges') {
      const chargeKey = url.searchParams.get('idempotency_key');
      if (!chargeKey) return new Answer(400, { error: 'idempotency_key_required' });
      const charge = await provider.getCharge(chargeKey);
      return charge ? new Answer(200, view(charge)) : new Answer(404, { error: 'no_such_charge' });
    }
    if (req.method === 'POST' && url.pathname === '/v1/refunds') {
      if (!key) return new Answer(400, { error: 'idempotency_key_required' });
      const input = RefundBody.safeParse(parseJson(body));
      if (!input.success) return new Answer(400, { error: 'invalid_request', issues: input.error.issues });
      const chargeKey = chargeKeyOf(input.data.charge);
      const charge = chargeKey === undefined ? undefined : await provider.getCharge(chargeKey);
      if (!chargeKey || !charge) return new Answer(404, { error: 'no_such_charge' });
      const result = await provider.refund({
        idempotencyKey: key,
        chargeIdempotencyKey: chargeKey,
        orderId: charge.orderId,
      });
      if (result.outcome === 'NO_CHARGE')
        return new Answer(400, { error: 'charge_not_refundable', status: view(charge).status });
      return new Answer(200, {
        id: result.refundId,
        charge: result.chargeId,
        amount: result.amount,
        status: 'succeeded',
      });
    }
    return new Answer(404, { error: 'no_such_route' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let answer: Answer;
    try {
      const body = await readBody(req);
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
      if (requests.length > MAX_RECORDED) requests.shift();
      answer = await route(req, url, body);
    } catch (err) {
      if (err instanceof PaymentProviderTimeout) {
        await hold(res);
        answer = new Answer(504, { error: 'timeout', message: err.message });
      } else if (err instanceof PaymentProviderUnavailable) {
        answer = new Answer(503, { error: 'unavailable', message: err.message });
      } else if (err instanceof PaymentIdempotencyMismatch) {
        answer = new Answer(422, { error: 'idempotency_key_mismatch', fields: err.fields });
      } else if (err instanceof BodyTooLarge) {
        answer = new Answer(413, { error: 'body_too_large' });
      } else {
        console.error('payment provider stand-in: unexpected error', err);
        answer = new Answer(500, { error: 'internal', message: err instanceof Error ? err.message : String(err) });
      }
    }
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
  }

  const listening = await listenLocal('payment provider stand-in', handle, options.port);
  return {
    url: listening.url,
    requests,
    async stop() {
      for (const release of [...releaseHolds]) release();
      await listening.stop();
    },
  };
}

class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

function view(charge: ProviderCharge) {
  return {
    id: charge.chargeId,
    status: charge.status.toLowerCase(),
    amount: charge.amount,
    ...(charge.declineCode === undefined ? {} : { declineCode: charge.declineCode }),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Invalid JSON yields undefined, which the body schema then rejects with a 400. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge(`Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
