import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { Response } from '../http.js';
import type { Principal } from '../schemas.js';

export interface Request {
  event: APIGatewayProxyEvent;
  context: Context;
  principal: Principal;
  params: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT';
  /** The API Gateway resource path, e.g. `/orders/{orderId}`. */
  resource: string;
  admin?: boolean;
  handle(request: Request): Promise<Response>;
}
