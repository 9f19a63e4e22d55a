/** A sleep that can be cut short (new work arrived, or the poller is stopping). */
export class Wakeable {
  private wakeUp: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = () => {
        clearTimeout(this.timer);
        this.wakeUp = undefined;
        resolve();
      };
      this.timer = setTimeout(() => this.wakeUp?.(), Math.max(0, ms));
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

/** Timers that `clear()` cancels all at once (a stopping stand-in leaves nothing scheduled). */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.pending.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    this.pending.add(timer);
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}

/** Waits until `done()` holds, checking every few milliseconds; false if the deadline passed first. */
export async function until(done: () => boolean, deadline: number, everyMs = 5): Promise<boolean> {
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}
