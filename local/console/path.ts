/**
 * An execution's path through the state machine, read from its history in the shape
 * GetExecutionHistory returns (`<Type>StateEntered` with the state's name, `TaskFailed` for each
 * failed attempt, the execution's end): the states in the order they were entered, each with
 * how it ended. The history has no event for a retry or a catch (AWS has none either), so a
 * Task visit with failed attempts was caught when the next state entered is one of its Catch
 * targets, and otherwise retried until an attempt succeeded.
 */
export interface HistoryEvent {
  type?: string;
  stateEnteredEventDetails?: { name?: string };
  taskFailedEventDetails?: { error?: string };
}

export interface Visit {
  /** 1-based position on the path. */
  seq: number;
  state: string;
  /** Attempts the state machine made again after a failure. */
  retries: number;
  /**
   * `done`: it finished and the path went on by its Next (or it ended the execution as defined);
   * `caught`: its last attempt failed and a Catch took over; `failed`: it failed the execution;
   * `running`: not finished yet.
   */
  outcome: 'done' | 'caught' | 'failed' | 'running';
  /** The error of its last failed attempt. */
  error?: string;
}

/** What a path needs of the definition: each state's Catch targets. */
export type CatchTargets = (state: string) => readonly string[];

export function pathOf(events: readonly HistoryEvent[], catchTargets: CatchTargets): Visit[] {
  const visits: (Omit<Visit, 'retries'> & { failures: number })[] = [];
  let ended: 'succeeded' | 'failed' | undefined;
  for (const e of events) {
    const type = e.type ?? '';
    if (type.endsWith('StateEntered')) {
      visits.push({
        seq: visits.length + 1,
        state: e.stateEnteredEventDetails?.name ?? '?',
        failures: 0,
        outcome: 'running',
      });
    } else if (type === 'TaskFailed') {
      const current = visits.at(-1);
      if (current) {
        current.failures += 1;
        current.error = e.taskFailedEventDetails?.error ?? 'Error';
      }
    } else if (type === 'ExecutionSucceeded') {
      ended = 'succeeded';
    } else if (type === 'ExecutionFailed' || type === 'ExecutionTimedOut' || type === 'ExecutionAborted') {
      ended = 'failed';
    }
  }
  return visits.map(({ failures, ...v }, i) => {
    const next = visits[i + 1];
    const last = i === visits.length - 1;
    const caught = failures > 0 && next !== undefined && catchTargets(v.state).includes(next.state);
    const outcome: Visit['outcome'] = caught
      ? 'caught'
      : !last
        ? 'done'
        : ended === 'succeeded'
          ? 'done'
          : ended === 'failed'
            ? 'failed'
            : 'running';
    // A caught or failing visit spent its last failed attempt on that; the others were retried.
    const retries = outcome === 'caught' || outcome === 'failed' ? Math.max(0, failures - 1) : failures;
    return { ...v, outcome, retries };
  });
}
