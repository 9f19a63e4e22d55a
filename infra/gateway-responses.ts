import { PROBLEMS, problemTypeUri, type ProblemType } from '../lambdas/api/problems.js';

/**
 * Answers API Gateway gives by itself (no Lambda involved), rewritten as problem+json. An
 * unknown route is a 404, not API Gateway's puzzling "403 Missing Authentication Token".
 */
export interface GatewayProblem {
  /** API Gateway's response type (apigw.ResponseType). */
  response: string;
  status: number;
  type: string;
  title: string;
}

const gateway = (response: string, problem: ProblemType): GatewayProblem => ({
  response,
  status: PROBLEMS[problem].status,
  type: problemTypeUri(problem),
  title: PROBLEMS[problem].title,
});

export const GATEWAY_PROBLEMS: GatewayProblem[] = [
  gateway('UNAUTHORIZED', 'unauthenticated'),
  gateway('ACCESS_DENIED', 'forbidden'),
  gateway('MISSING_AUTHENTICATION_TOKEN', 'not-found'),
  gateway('THROTTLED', 'too-many-requests'),
  gateway('REQUEST_TOO_LARGE', 'payload-too-large'),
  gateway('INTEGRATION_TIMEOUT', 'gateway-timeout'),
  gateway('AUTHORIZER_FAILURE', 'internal'),
  gateway('AUTHORIZER_CONFIGURATION_ERROR', 'internal'),
  // A Lambda error or a malformed proxy answer: API Gateway's 502 "Internal server error".
  gateway('INTEGRATION_FAILURE', 'bad-gateway'),
];
