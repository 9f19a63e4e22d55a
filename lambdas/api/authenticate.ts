import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { bearerToken, checkToken, JwtEnv, verifierFromEnv, type VerifierOptions } from '../auth/configured.js';
import { readEnv } from '../shared/config.js';
import { header, HttpProblem } from './http.js';
import { Principal } from './schemas.js';

/**
 * Who is calling. Behind API Gateway's TOKEN authorizer (AWS) the principal is what the
 * authorizer put in the request context, and a request without it is refused. Where the gateway
 * runs no authorizer (the LocalStack profile, `API_AUTH=token`) this Lambda verifies the bearer
 * token itself, with the authorizer's code and configuration, so the same tokens pass and fail.
 * No valid identity: 401 unauthenticated; the keys unreachable: the error goes on (a 500).
 */
export type Authenticate = (event: APIGatewayProxyEvent, log: Logger) => Promise<Principal>;

export const API_AUTH_MODES = ['authorizer', 'token'] as const;
export type ApiAuthMode = (typeof API_AUTH_MODES)[number];

export function authenticator(mode: ApiAuthMode, env: NodeJS.ProcessEnv, options: VerifierOptions): Authenticate {
  switch (mode) {
    case 'authorizer':
      return (event) => {
        const principal = Principal.safeParse(event.requestContext.authorizer ?? {});
        if (!principal.success) throw new HttpProblem('unauthenticated');
        return Promise.resolve(principal.data);
      };
    case 'token': {
      const verifier = verifierFromEnv(readEnv(JwtEnv, env), options);
      return async (event, log) => {
        const token = bearerToken(header(event, 'authorization'));
        if (!token) {
          log.info('token rejected', { reason: 'no_bearer_token' });
          throw new HttpProblem('unauthenticated');
        }
        const verdict = await checkToken(await verifier(), token);
        if (verdict.ok) return { userId: verdict.userId, admin: verdict.admin };
        // As the authorizer does: a reason we know is logged as such; anything else fails closed, loudly.
        if (verdict.reason === 'unexpected') {
          log.error('token verification failed unexpectedly', { error: String(verdict.error) });
        } else {
          log.info('token rejected', { reason: verdict.reason });
        }
        throw new HttpProblem('unauthenticated');
      };
    }
  }
}
