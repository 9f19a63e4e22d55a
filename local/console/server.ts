import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { z } from 'zod';
import { orderIdFor } from '../../lambdas/api/routes/orders.js';
import type { PaymentScript } from '../../lambdas/payments/simulated.js';
import { RETRY } from '../../lambdas/domain/steps.js';
import { mintDevToken } from '../dev-auth.js';
import { REPO_ROOT } from '../template.js';
import { drawStateMachine, type AslDefinition } from './graph.js';
import { orderView, recentOrders, shopView, type ConsoleSources } from './views.js';

/**
 * The local console, served by `npm start` under /console (never part of the deployed stack):
 * the state machine drawn, each order's path on it, live lists of orders and of the shop, and a
 * demo to drive. The page buys through the HTTP API like any client, with a development token
 * from here (what `npm run token` mints); the one other thing it can ask is how the payment
 * provider stand-in treats the next purchase's charge — the provider is outside the system, and
 * scripting it is how the tests make it decline or fail too.
 */
export interface ConsoleOptions {
  sources: ConsoleSources;
  definition: AslDefinition;
  /** Tell the payment provider stand-in what to do with one order's charge (its script). */
  scriptProvider: (orderId: string, script: PaymentScript) => Promise<void>;
}

export const CONSOLE_PATH = '/console';
const PAGE_DIR = join(REPO_ROOT, 'local/console/page');

/** What the page may ask the provider to do with the next purchase's charge: its label, its script. */
export const PROVIDER_BEHAVIOURS = {
  normal: { label: 'is accepted', script: {} },
  decline: { label: 'is declined', script: { decline: 'card_declined' } },
  'fail-once': { label: 'fails once (transient)', script: { failCharges: 1 } },
  'lose-response': { label: 'is taken, its response lost', script: { loseChargeResponses: 1 } },
  // Every attempt the state machine makes loses the charge's response, and refunds fail as often
  // as a compensation is tried: the saga cannot finish, the reconciler does.
  'provider-down': {
    label: 'is lost every time, refunds fail: the reconciler finishes',
    script: { loseChargeResponses: RETRY.forward.maxAttempts + 1, failRefunds: RETRY.compensation.maxAttempts + 1 },
  },
} as const satisfies Record<string, { label: string; script: PaymentScript }>;
export type ProviderBehaviour = keyof typeof PROVIDER_BEHAVIOURS;

const Id = z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/);
const TokenRequest = z.strictObject({ userId: Id });
const ProviderRequest = z.strictObject({
  userId: Id,
  idempotencyKey: z.string().min(1).max(255),
  behaviour: z.enum(Object.keys(PROVIDER_BEHAVIOURS) as [ProviderBehaviour]),
});

type Answer = { status: number; type: string; body: string };
const json = (status: number, value: unknown): Answer => ({
  status,
  type: 'application/json',
  body: JSON.stringify(value),
});

export function consoleHandler(options: ConsoleOptions) {
  // Built once: the page is the same for every request.
  const svg = drawStateMachine(options.definition);
  const behaviours = Object.entries(PROVIDER_BEHAVIOURS)
    .map(([value, { label }]) => `<option value="${value}">${label}</option>`)
    .join('');
  const html = readFileSync(join(PAGE_DIR, 'index.html'), 'utf8')
    .replace('<!-- STATE MACHINE -->', svg)
    .replace('<!-- PROVIDER BEHAVIOURS -->', behaviours);
  const css = readFileSync(join(PAGE_DIR, 'console.css'), 'utf8');
  const js = transformSync(readFileSync(join(PAGE_DIR, 'console.ts'), 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
  }).code;

  async function answer(method: string, path: string, body: string | undefined): Promise<Answer> {
    const route = `${method} ${path}`;
    if (route === `GET ${CONSOLE_PATH}` || route === `GET ${CONSOLE_PATH}/`)
      return { status: 200, type: 'text/html; charset=utf-8', body: html };
    if (route === `GET ${CONSOLE_PATH}/console.css`) return { status: 200, type: 'text/css', body: css };
    if (route === `GET ${CONSOLE_PATH}/console.js`) return { status: 200, type: 'text/javascript', body: js };
    if (route === `GET ${CONSOLE_PATH}/api/orders`) return json(200, await recentOrders(options.sources));
    if (route === `GET ${CONSOLE_PATH}/api/shop`) return json(200, await shopView(options.sources));
    const order = new RegExp(`^GET ${CONSOLE_PATH}/api/orders/([^/]+)$`).exec(route);
    if (order?.[1]) {
      const view = await orderView(options.sources, decodeURIComponent(order[1]));
      return view ? json(200, view) : json(404, { message: 'No such order' });
    }
    if (route === `POST ${CONSOLE_PATH}/api/token`) {
      const request = TokenRequest.safeParse(parseJson(body));
      if (!request.success) return json(400, { message: request.error.message });
      return json(200, { token: await mintDevToken({ userId: request.data.userId }) });
    }
    if (route === `POST ${CONSOLE_PATH}/api/provider`) {
      const request = ProviderRequest.safeParse(parseJson(body));
      if (!request.success) return json(400, { message: request.error.message });
      const orderId = orderIdFor(request.data.userId, request.data.idempotencyKey);
      await options.scriptProvider(orderId, PROVIDER_BEHAVIOURS[request.data.behaviour].script);
      return json(200, { orderId });
    }
    return json(404, { message: `No console route ${route}` });
  }

  /** Serves a /console request; false when the path is not the console's. */
  return async (req: IncomingMessage, res: ServerResponse, body: string | undefined): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return false;
    const { status, type, body: out } = await answer(req.method ?? 'GET', path, body);
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(out);
    return true;
  };
}

function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '') as unknown;
  } catch {
    return undefined;
  }
}
