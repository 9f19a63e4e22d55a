import { connect } from 'node:net';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../local/dynamodb-local.js';
import { listenLocal } from '../../local/http-server.js';
import { startLocalSystem, type LocalSystem } from '../../local/system.js';

/**
 * Clients that send a request too slowly, over a real socket: the local HTTP servers answer 408
 * and close the connection once the bound has passed, instead of holding it for Node's 300 s.
 */
interface Exchange {
  answer: string;
  closedAfterMs: number;
}

/** Sends `first`, then nothing more, and reads until the server closes the connection. */
function trickle(url: string, first: string): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    const socket = connect(Number(port), hostname === 'localhost' ? '127.0.0.1' : hostname, () => socket.write(first));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - started }));
    // A server that never closes fails the test here rather than at the suite's timeout.
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after 10 s; got ${JSON.stringify(answer)}`));
    }, 10_000).unref();
  });
}

const SLOW_BODY =
  'POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{"item';
const SLOW_HEADERS = 'GET /items HTTP/1.1\r\nHost: localhost\r\nX-Slow: still-typ';

describe('Local HTTP servers: slow clients', () => {
  let system: LocalSystem;
  beforeAll(async () => {
    system = await startLocalSystem({
      port: await freePort(),
      dynamoEndpoint: inject('dynamoEndpoint'),
      tablePrefix: `slow${Date.now()}-`,
      seed: false,
      reconcileEveryMs: 0,
      requestTimeoutMs: 1_000,
    });
  });
  afterAll(() => (system as LocalSystem | undefined)?.stop()); // unassigned when setup failed

  it.each([
    ['a body that never completes', SLOW_BODY],
    ['headers that never complete', SLOW_HEADERS],
  ])('answers 408 and closes the API connection for %s', async (_, first) => {
    const { answer, closedAfterMs } = await trickle(system.url, first);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeLessThan(5_000);
  });

  it('answers 408 and closes the connection on the other local services (AWS endpoint, payment provider)', async () => {
    const server = await listenLocal(
      'probe',
      async (req, res) => {
        res.end(await text(req));
      },
      undefined,
      1_000,
    );
    try {
      const { answer, closedAfterMs } = await trickle(server.url, SLOW_BODY);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(closedAfterMs).toBeLessThan(5_000);
    } finally {
      await server.stop();
    }
  });
});
