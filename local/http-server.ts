import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP stand-in on 127.0.0.1 (a free port unless given). A handler that throws is
 * logged under `name` and its connection dropped, as a crashed service would drop it.
 */
export async function listenLocal(
  name: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port?: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error(`${name}: failed to answer`, err);
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
