import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { CorrelationId } from '../domain/model.js';
import { header } from './http.js';

/** Request and response header carrying the id that follows a purchase through every log line. */
export const CORRELATION_ID_HEADER = 'X-Correlation-Id';

/**
 * The caller's `X-Correlation-Id` when it is valid (1-128 of [A-Za-z0-9._:-]), else API Gateway's
 * request id. An invalid header is not worth refusing a purchase for: it is replaced, and
 * `rejected` says so (the value itself is never logged — it could be anything).
 */
export function correlationIdOf(event: APIGatewayProxyEvent, context: Context): { id: string; rejected?: string } {
  const sent = header(event, CORRELATION_ID_HEADER);
  const fallback = CorrelationId.safeParse(
    // A direct invocation may come without a request context.
    (event.requestContext as APIGatewayProxyEvent['requestContext'] | undefined)?.requestId,
  );
  const id = fallback.success ? fallback.data : context.awsRequestId;
  if (sent === undefined) return { id };
  const parsed = CorrelationId.safeParse(sent);
  return parsed.success ? { id: parsed.data } : { id, rejected: sent };
}
