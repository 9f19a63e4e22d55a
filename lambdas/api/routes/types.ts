import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { TableVar } from '../../shared/config.js';
import type { Response } from '../http.js';
import type { Principal } from '../schemas.js';

/** The API never touches payments; infra/catalog.ts grants it exactly these tables. */
export type ApiTable = Exclude<TableVar, 'PAYMENTS_TABLE' | 'NOTIFICATIONS_TABLE'>;

export interface Request {
  event: APIGatewayProxyEvent;
  context: Context;
  principal: Principal;
  params: Record<string, string>;
  /** This request's logger: `appendKeys({ orderId })` once the route knows the order, for the request line. */
  log: Logger;
  /** Follows the request into the workflow (the execution input) and every step's log lines. */
  correlationId: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT';
  /** The API Gateway resource path, e.g. `/orders/{orderId}`. */
  resource: string;
  admin?: boolean;
  handle(request: Request): Promise<Response>;
}
