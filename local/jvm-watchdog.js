/**
 * Ends DynamoDB Local when the Node process that started it dies, however it dies (`kill -9`
 * included): that process holds this one's stdin open, and the kernel closes the pipe when it
 * goes. Then the JVM gets SIGTERM, and SIGKILL if it is still there 5 s later.
 *
 * Usage: node local/jvm-watchdog.js <jvm pid>. Plain JavaScript, so it starts in milliseconds
 * with nothing but Node.
 */
import process from 'node:process';
import { setInterval } from 'node:timers';

const pid = Number(process.argv[2]);
if (!Number.isInteger(pid) || pid <= 0) {
  process.stderr.write(`jvm-watchdog: no process id in ${JSON.stringify(process.argv.slice(2))}\n`);
  process.exit(2);
}

const alive = () => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const signal = (name) => {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
};

let stopping = false;
function stopJvm() {
  if (stopping) return;
  stopping = true;
  if (!alive()) process.exit(0);
  signal('SIGTERM');
  const deadline = Date.now() + 5_000;
  setInterval(() => {
    if (!alive()) process.exit(0);
    if (Date.now() > deadline) {
      signal('SIGKILL');
      process.exit(0);
    }
  }, 100);
}

process.stdin.on('data', () => undefined);
process.stdin.on('end', stopJvm);
process.stdin.on('error', stopJvm);
