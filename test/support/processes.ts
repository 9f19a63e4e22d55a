import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { REPO_ROOT } from '../../local/template.js';

/** What `npm start` prints once the system serves: its URL and a token for alice. */
export const READY = /ready at (http:\/\/localhost:\d+) .*console: \1\/console .*token for alice: (\S+) .*try: curl/;

/**
 * Process ids of the DynamoDB Local JVMs running now in process group `group` (a detached child's
 * pid), so suites running side by side never see each other's JVMs. Zombies are not listed:
 * their arguments are gone.
 */
export function dynamoDbLocalPids(group: number | undefined): Set<number> {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return new Set(
    out
      .split('\n')
      .filter((l) => l.includes('DynamoDBLocal.jar'))
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter(([, pgid]) => group !== undefined && pgid === group)
      .map(([pid]) => pid as number),
  );
}

export function startNpm(env: NodeJS.ProcessEnv, command = 'npm', args = ['start']) {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  // npm, its shell, tsx and the app all write to these pipes: they close when the last of them has gone.
  const drained = Promise.all([once(child.stdout, 'close'), once(child.stderr, 'close')]).then(() => undefined);
  return { child, exited, drained, output: () => output };
}

/** `npm start -- --persist` on `port`, keeping its data in `dataDir`. */
export function startNpmPersisted(port: number, dataDir: string) {
  return startNpm({ ...process.env, PORT: String(port), LOCAL_DATA_DIR: dataDir }, 'npm', ['start', '--', '--persist']);
}

export async function waitFor(
  pattern: RegExp,
  output: () => string,
  exited: Promise<unknown>,
  ms: number,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  const state = { exited: false };
  void exited.then(() => (state.exited = true));
  for (;;) {
    const m = pattern.exec(output());
    if (m) return m;
    if (state.exited || Date.now() > deadline) throw new Error(`No ${String(pattern)} in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function parentOf(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
}

export async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
