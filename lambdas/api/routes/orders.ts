import { createHash } from 'node:crypto';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { AmountOutOfRange, ItemNotFound } from '../../domain/errors.js';
import { Id, type Order } from '../../domain/model.js';
import type { Deps } from '../../saga/deps.js';
import { createOrder, executionInput } from '../../saga/orders.js';
import { orderWithTimeline } from '../../saga/queries.js';
import type { Workflow, WorkflowRun } from '../../shared/workflow.js';
import {
  basePath,
  header,
  HttpProblem,
  instancePath,
  json,
  parseBody,
  problem,
  validate,
  type Response,
} from '../http.js';
import { REFUSAL_PROBLEMS, type ProblemType } from '../problems.js';
import { IdempotencyKey, NoQuery, PurchaseBody } from '../schemas.js';
import type { ApiTable, Request, Route } from './types.js';

export interface OrdersDeps {
  data: Deps<ApiTable>;
  workflow: Workflow;
  /** How long POST /orders waits for a STANDARD execution before answering 202. */
  waitMs: number;
  persistenceStore: BasePersistenceLayer;
}

/** Keys and their outcomes are kept a day, as Stripe does. */
const KEY_TTL_SECONDS = 24 * 60 * 60;

/**
 * The orderId is derived from (user, Idempotency-Key): Powertools forgets a key whose call
 * threw, so a client retry after a 5xx lands on the same order and the same execution.
 */
export function orderIdFor(userId: string, key: string): string {
  return `o-${createHash('sha256').update(`${userId}\n${key}`).digest('base64url').slice(0, 32)}`;
}

/** What Powertools stores per key: the response, byte for byte, and who produced it. */
interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  producedBy: string;
}

interface PurchaseRequest {
  /** The idempotency key proper: per user. */
  scope: string;
  /** What a reuse of the key must repeat exactly. */
  payload: PurchaseBody;
  userId: string;
  orderId: string;
  requestId: string;
  /** Not part of the key or of the payload check: a retry may carry another one. */
  correlationId: string;
  instance: string;
  /** Prefix of our paths as the client sees them (the stage), for Location headers. */
  base: string;
}

export function orderRoutes(deps: OrdersDeps): Route[] {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'scope',
    payloadValidationJmesPath: 'payload',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: KEY_TTL_SECONDS,
  });

  const purchaseOnce = makeIdempotent(
    async (req: PurchaseRequest): Promise<StoredResponse> => {
      const response = await purchase(deps, req);
      // 5xx are not remembered: throwing makes Powertools drop the key, so a retry runs again
      // (on the same orderId, so it can only continue the same purchase).
      if (response.statusCode >= 500) throw new UncachedResponse(response);
      return { ...response, producedBy: req.requestId };
    },
    { persistenceStore: deps.persistenceStore, config, keyPrefix: 'api.POST-orders' },
  );

  return [
    {
      method: 'POST',
      resource: '/orders',
      async handle({ event, context, principal, log, correlationId }: Request): Promise<Response> {
        const rawKey = header(event, 'idempotency-key');
        if (rawKey === undefined) throw new HttpProblem('idempotency-key-missing');
        const key = IdempotencyKey.safeParse(rawKey);
        if (!key.success) throw new HttpProblem('idempotency-key-invalid', key.error.issues[0]?.message);
        const orderId = orderIdFor(principal.userId, key.data);
        log.appendKeys({ orderId });
        validate(NoQuery, event.queryStringParameters ?? {});
        const body = parseBody(event, PurchaseBody);

        config.registerLambdaContext(context);
        try {
          const stored = await purchaseOnce({
            scope: `${principal.userId}\n${key.data}`,
            payload: body,
            userId: principal.userId,
            orderId,
            requestId: context.awsRequestId,
            correlationId,
            instance: instancePath(event),
            base: basePath(event),
          });
          const { producedBy, ...response } = stored;
          return producedBy === context.awsRequestId
            ? response
            : { ...response, headers: { ...response.headers, 'Idempotent-Replayed': 'true' } };
        } catch (err) {
          if (err instanceof UncachedResponse) return err.response;
          if (err instanceof Error && err.name === 'IdempotencyValidationError') {
            throw new HttpProblem('idempotency-key-reused', 'The key was first used with a different body');
          }
          if (err instanceof Error && err.name === 'IdempotencyAlreadyInProgressError') {
            throw new HttpProblem(
              'idempotency-key-in-use',
              'Retry after the first request finished',
              {},
              { 'Retry-After': '1' },
            );
          }
          throw err;
        }
      },
    },
    {
      method: 'GET',
      resource: '/orders/{orderId}',
      async handle({ event, principal, params, log }: Request): Promise<Response> {
        const orderId = validate(Id, params['orderId']);
        validate(NoQuery, event.queryStringParameters ?? {});
        log.appendKeys({ orderId });
        const view = await orderWithTimeline(deps.data, orderId);
        // Someone else's order answers exactly like a missing one: never reveal it exists.
        if (!view || (view.userId !== principal.userId && !principal.admin)) {
          throw new HttpProblem('not-found', `No order ${orderId}`);
        }
        return json(200, view);
      },
    },
  ];
}

class UncachedResponse extends Error {
  override readonly name = 'UncachedResponse';
  constructor(readonly response: Response) {
    super(`Uncached ${response.statusCode} response`);
  }
}

async function purchase(deps: OrdersDeps, req: PurchaseRequest): Promise<Response> {
  let order: Order;
  let created: boolean;
  try {
    ({ order, created } = await createOrder(deps.data, {
      orderId: req.orderId,
      userId: req.userId,
      itemId: req.payload.itemId,
      quantity: req.payload.quantity,
      ...(req.payload.couponId ? { couponId: req.payload.couponId } : {}),
    }));
  } catch (err) {
    if (err instanceof ItemNotFound) return problem(new HttpProblem('item-not-found', err.message), req.instance);
    if (err instanceof AmountOutOfRange) return problem(new HttpProblem('amount-too-large', err.message), req.instance);
    throw err;
  }
  // The key was forgotten after a 5xx, but the order it named exists: the body must match it.
  // Not remembered, so a retry with the original body still reaches its order.
  if (!created && !sameRequest(order, req.payload)) {
    throw new UncachedResponse(
      problem(
        new HttpProblem('idempotency-key-reused', `The key already names order ${order.orderId} with another body`),
        req.instance,
      ),
    );
  }
  // A retry of a request whose order already ended (its first answer was a 5xx) needs no run.
  if (order.status === 'PENDING') {
    const run = await deps.workflow.run(order.orderId, executionInput(order, req.correlationId), deps.waitMs);
    const response = fromRun(order.orderId, run, req);
    if (response) return response;
  }
  return outcome(deps, order.orderId, req);
}

function sameRequest(order: Order, body: PurchaseBody): boolean {
  return order.itemId === body.itemId && order.quantity === body.quantity && order.couponId === body.couponId;
}

/** An answer that needs no read: the workflow is still going, or broke. */
function fromRun(orderId: string, run: WorkflowRun, req: PurchaseRequest): Response | undefined {
  if (run.status === 'RUNNING') {
    return json(202, { orderId, status: 'PENDING' }, { Location: `${req.base}/orders/${orderId}`, 'Retry-After': '1' });
  }
  if (run.status === 'SUCCEEDED') return undefined;
  if (run.error === 'CompensationFailed') return undefined;
  // Timed out, aborted or crashed without reaching a terminal order state.
  return problem(
    new HttpProblem(
      'workflow-unavailable',
      `The workflow ended ${run.status}${run.error ? ` (${run.error})` : ''}`,
      { orderId },
      { 'Retry-After': '5' },
    ),
    req.instance,
  );
}

/** The answer is always derived from the order record, the source of truth. */
async function outcome(deps: OrdersDeps, orderId: string, req: PurchaseRequest): Promise<Response> {
  const { instance } = req;
  const view = await orderWithTimeline(deps.data, orderId);
  if (!view) throw new Error(`Order ${orderId} vanished`);
  const location = { Location: `${req.base}/orders/${orderId}` };
  switch (view.status) {
    case 'COMPLETED':
      return json(201, view, location);
    case 'PENDING':
      return json(202, { orderId, status: 'PENDING' }, { ...location, 'Retry-After': '1' });
    case 'FAILED': {
      const details = { orderId, failedStep: view.failedStep, reason: view.reason };
      const known = view.reason
        ? (REFUSAL_PROBLEMS as Readonly<Record<string, ProblemType | undefined>>)[view.reason]
        : undefined;
      return problem(new HttpProblem(known ?? 'purchase-failed', view.reasonDetail, details, location), instance);
    }
    case 'COMPENSATION_FAILED':
      return problem(
        new HttpProblem(
          'purchase-stuck',
          view.reasonDetail,
          { orderId, failedStep: view.failedStep, reason: view.reason },
          location,
        ),
        instance,
      );
  }
}
