import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/**
 * The benchmark's console. Every Lambda logs JSON lines (and EMF metrics) to stdout/stderr as
 * it would in AWS, where CloudWatch Logs ingests and bills them: here they are counted (bytes)
 * and dropped, so the report stays readable and the count feeds the cost model.
 */
type Write = typeof process.stdout.write;

export class Output {
  swallowedBytes = 0;
  private original: { stdout: Write; stderr: Write } | undefined;

  swallowLambdaOutput(): void {
    if (this.original) return;
    this.original = {
      stdout: process.stdout.write.bind(process.stdout),
      stderr: process.stderr.write.bind(process.stderr),
    };
    const swallow = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.swallowedBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      const callback = rest.find((r): r is () => void => typeof r === 'function');
      callback?.();
      return true;
    }) as Write;
    process.stdout.write = swallow;
    process.stderr.write = swallow;
  }

  restore(): void {
    if (!this.original) return;
    process.stdout.write = this.original.stdout;
    process.stderr.write = this.original.stderr;
    this.original = undefined;
  }

  print(text: string): void {
    (this.original?.stdout ?? process.stdout.write.bind(process.stdout))(`${text}\n`);
  }

  progress(text: string): void {
    (this.original?.stderr ?? process.stderr.write.bind(process.stderr))(`... ${text}\n`);
  }

  machine(): string {
    const cpu = cpus();
    return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
  }
}

/** CPU time (user + system, seconds) a process has used so far, from /proc (Linux); 0 elsewhere. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
