import { createServer, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How long a client may take to send a whole request, headers and body: 30 s, as API Gateway
 * gives up on a request after its 29 s integration timeout. Node's default is 300 s for the
 * body, so a client trickling one byte at a time held a connection (and its buffer) for 5 minutes.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Server options of every local HTTP stand-in: a slow request is answered 408 and its connection closed. */
export function boundedRequests(requestTimeoutMs = REQUEST_TIMEOUT_MS): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    // How often Node looks for requests over their time (default 30 s, longer than the bound itself).
    connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
  };
}

/**
 * A local HTTP stand-in on 127.0.0.1 (a free port unless given). A handler that throws is
 * logged under `name` and its connection dropped, as a crashed service would drop it.
 */
export async function listenLocal(
  name: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port?: number,
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer(boundedRequests(requestTimeoutMs), (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A client that timed out or hung up mid-request is gone: nothing failed on this side.
      if (!req.socket.destroyed) console.error(`${name}: failed to answer`, err);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    async stop() {
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeAllConnections();
      await closed;
    },
  };
}
