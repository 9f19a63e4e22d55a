import { eventsOf } from './event-template.js';
import { LocalEventBus, type PublishedEvent } from './eventbridge.js';
import { LocalAsyncInvoker } from './lambda-async.js';
import type { LocalLambda } from './lambda-runtime.js';
import { LocalQueues, LocalSqsEventSource, type SqsEventSourceStats } from './sqs.js';
import { LocalStreamPoller, type StreamPollerStats } from './stream-poller.js';
import { deniedTo, intrinsicResolver, ServiceRoleRefused, type Request } from './iam.js';
import type { CfnTemplate } from './template.js';
import { until } from './wakeable.js';
import { ResourcePolicies } from './resource-policies.js';

/**
 * The event side of a local stack, from its template: the Orders stream's event source mapping
 * (polling DynamoDB Local's stream), the custom bus with its rules and targets (behind the local
 * AWS endpoint's PutEvents), Lambda's asynchronous invocation, the SQS queues and their event
 * source mappings. AWS durations (visibility timeouts, retry delays, event ages) run scaled down
 * by `timeScale`, so a test waits milliseconds where AWS waits minutes.
 */
export interface LocalEventsOptions {
  /** Local time per AWS time: 0.001 turns a 120 s visibility timeout into 120 ms. Default 0.001. */
  timeScale?: number;
  /** Pause between polls of an idle stream. Default 150 ms. */
  streamPollIntervalMs?: number;
  /** Pause between polls of an idle queue (a new message wakes the poller at once). Default 20 ms. */
  queuePollIntervalMs?: number;
  /** How long `drain()` waits by default before it reports what is still busy. Default 30 s. */
  drainTimeoutMs?: number;
  /** Diagnostics of the local services (failed batches, retries, dead letters). Default: none. */
  log?: (message: string, details?: Record<string, unknown>) => void;
}

export interface LocalEvents {
  /**
   * Resolves when everything in flight has settled: the stream is processed up to the records
   * written before the call (and any the consumers wrote meanwhile), no bus delivery or Lambda
   * retry is pending, and every queue a function consumes is empty (what failed for good is in
   * a dead-letter queue).
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Every event the stack's bus accepted, in order. */
  published(): PublishedEvent[];
  queues: LocalQueues;
  /** Counters of the event source mappings: per stream, and per queue (by the queue's logical id). */
  stats(): { streams: StreamPollerStats[]; queues: Record<string, SqsEventSourceStats> };
  stop(): Promise<void>;
}

export class DrainTimeout extends Error {
  override readonly name = 'DrainTimeout';
}

export class EventsDisabled extends Error {
  override readonly name = 'EventsDisabled';
  constructor() {
    super('The events pipeline of this local stack is off (startLocalSaga({ events: false }))');
  }
}

/** A stack without its events pipeline: any use says so. */
export const DISABLED_EVENTS: LocalEvents = {
  drain: () => Promise.reject(new EventsDisabled()),
  published: () => {
    throw new EventsDisabled();
  },
  get queues(): LocalQueues {
    throw new EventsDisabled();
  },
  stats: () => ({ streams: [], queues: {} }),
  stop: () => Promise.resolve(),
};

export interface LocalEventsContext {
  template: CfnTemplate;
  region: string;
  account: string;
  /** Local name of a resource (tables, buses, queues): the stack prefix + its logical id. */
  nameOf: (logicalId: string) => string;
  /** The stack's functions by logical id. */
  lambdas: Map<string, LocalLambda>;
  /** Where the bus registers itself: the shared local endpoint's PutEvents looks buses up here. */
  buses: Map<string, LocalEventBus>;
  /** Base URL of queue URLs. */
  endpointUrl: string;
  /** A resource's ARN as the functions' policies name it (a table's `StreamArn`, a queue's `Arn`). */
  arnOf: (logicalId: string, attribute: string) => string;
}

export function startLocalEvents(ctx: LocalEventsContext, options: LocalEventsOptions = {}): LocalEvents {
  const spec = eventsOf(ctx.template);
  // Before anything is registered or polled: a refusal leaves nothing behind.
  requireServiceAccess(ctx, spec);
  const msPerSecond = 1000 * (options.timeScale ?? 0.001);
  const log = options.log;
  const lambda = (logicalId: string, what: string): LocalLambda => {
    const fn = ctx.lambdas.get(logicalId);
    if (!fn) throw new Error(`${what}: function ${logicalId} has no local code (is its folder in the local catalog?)`);
    return fn;
  };

  const queues = new LocalQueues(
    spec.queues,
    {
      nameOf: ctx.nameOf,
      arnOf: (name) => `arn:aws:sqs:${ctx.region}:${ctx.account}:${name}`,
      urlOf: (name) => `${ctx.endpointUrl}/${ctx.account}/${name}`,
    },
    msPerSecond,
  );
  const queue = (logicalId: string | undefined, what: string) => {
    if (logicalId === undefined) return undefined;
    const q = queues.byId(logicalId);
    if (!q) throw new Error(`${what}: destination ${logicalId} is not a queue of the template`);
    return q;
  };

  const asyncInvoker = new LocalAsyncInvoker(
    new Map(
      spec.asyncInvoke.map((c) => {
        const onFailure = queue(c.onFailureLogicalId, `async invoke config of ${c.functionLogicalId}`);
        return [c.functionLogicalId, { ...c, ...(onFailure ? { onFailure } : {}) }];
      }),
    ),
    { msPerSecond, ...(log ? { log } : {}) },
  );

  // What EventBridge may do to each target: the functions' Lambda permissions, the queue policies.
  // A queue policy names its queues by Ref (their URL), its statements by ARN: both read as the ARN.
  const policies = new ResourcePolicies(
    ctx.template,
    'events.amazonaws.com',
    intrinsicResolver((logicalId, attribute) => ctx.arnOf(logicalId, attribute === 'Ref' ? 'Arn' : attribute), {
      region: ctx.region,
      account: ctx.account,
    }),
  );

  const buses = spec.buses.map((busId) => {
    const rules = spec.rules
      .filter((r) => r.busLogicalId === busId)
      .map((r) => {
        // A missing target fails only its deliveries (retried, then dead-lettered), as in AWS.
        for (const t of r.targets) if (t.deadLetterLogicalId) queue(t.deadLetterLogicalId, `rule ${r.logicalId}`);
        return {
          ...r,
          arn: ctx.arnOf(r.logicalId, 'Arn'),
        };
      });
    return new LocalEventBus(ctx.nameOf(busId), rules, {
      region: ctx.region,
      account: ctx.account,
      lambdas: ctx.lambdas,
      queues,
      asyncInvoker,
      policies,
      msPerSecond,
      ...(log ? { log } : {}),
    });
  });
  for (const bus of buses) ctx.buses.set(bus.name, bus);

  const sources = spec.queueMappings.map((m) => {
    const q = queue(m.queueLogicalId, m.logicalId);
    if (!q) throw new Error(`${m.logicalId}: no queue`);
    return new LocalSqsEventSource(q, lambda(m.functionLogicalId, m.logicalId), m, {
      region: ctx.region,
      pollIntervalMs: options.queuePollIntervalMs ?? 20,
      ...(log ? { log } : {}),
    });
  });

  const pollers = spec.streamMappings.map((m) => {
    const onFailure = queue(m.onFailureLogicalId, m.logicalId);
    return new LocalStreamPoller({
      tableName: ctx.nameOf(m.tableLogicalId),
      mapping: m,
      lambda: lambda(m.functionLogicalId, m.logicalId),
      ...(onFailure ? { onFailure } : {}),
      region: ctx.region,
      pollIntervalMs: options.streamPollIntervalMs ?? 150,
      retryDelayMs: Math.max(1, 10 * msPerSecond),
      ...(log ? { log } : {}),
    });
  });

  for (const s of sources) s.start();
  for (const p of pollers) p.start();

  const settled = () => buses.every((b) => b.idle()) && asyncInvoker.idle() && sources.every((s) => !s.busy());
  const busy = () =>
    [
      ...buses.filter((b) => !b.idle()).map((b) => `bus ${b.name} (delivery retries pending)`),
      ...(asyncInvoker.idle() ? [] : ['asynchronous Lambda invocations']),
      ...sources.filter((s) => s.busy()).map((s) => `queue ${s.queue.logicalId} (${s.queue.depth().total} messages)`),
    ].join(', ') || 'the stream';

  let stopped = false;
  return {
    queues,
    published: () => buses.flatMap((b) => b.published()),
    stats: () => ({
      streams: pollers.map((p) => ({ ...p.stats })),
      queues: Object.fromEntries(sources.map((s) => [s.queue.logicalId, { ...s.stats }])),
    }),
    async drain(timeoutMs = options.drainTimeoutMs ?? 30_000) {
      const deadline = Date.now() + timeoutMs;
      try {
        for (;;) {
          // The stream up to now, then whatever that set moving; consumers may have written new
          // outbox events (NOTIFICATION_SENT) meanwhile, so look at the stream once more.
          for (const p of pollers) await p.drain(deadline);
          if (!(await until(settled, deadline))) throw new DrainTimeout(`not settled after ${timeoutMs} ms: ${busy()}`);
          let more = 0;
          for (const p of pollers) more += await p.drain(deadline);
          if (more === 0 && settled()) return;
        }
      } catch (err) {
        if (err instanceof DrainTimeout || stopped) throw err;
        throw new DrainTimeout(
          `not drained after ${timeoutMs} ms: ${busy()} (${err instanceof Error ? err.message : String(err)})`,
        );
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const bus of buses) {
        bus.stop();
        if (ctx.buses.get(bus.name) === bus) ctx.buses.delete(bus.name);
      }
      asyncInvoker.stop();
      await Promise.all([...pollers.map((p) => p.stop()), ...sources.map((s) => s.stop())]);
      // Let invocations already running finish, so nothing writes after the stack is closed.
      await until(() => asyncInvoker.idle(), Date.now() + 5_000);
    },
  };
}

/**
 * What AWS checks with a function's role when the Lambda service is wired to it, before
 * anything runs: CreateEventSourceMapping refuses a role that cannot read the stream (its four
 * actions) or the queue (receive, delete, attributes) or send to the mapping's failure
 * destination, and a function's asynchronous failure destination needs SendMessage. The
 * stand-in refuses the same way, at start, with AWS's exception name; what it allows is
 * recorded as used (the least-privilege check of `npm test`).
 */
function requireServiceAccess(ctx: LocalEventsContext, spec: ReturnType<typeof eventsOf>): void {
  const require = (functionLogicalId: string, requests: Request[], refusal: string) => {
    const caller = ctx.lambdas.get(functionLogicalId)?.caller;
    if (!caller) return;
    const denied = deniedTo(caller, requests);
    if (denied.length > 0) {
      throw new ServiceRoleRefused(
        `${refusal} (the role of ${caller.functionId} does not allow ${denied.map((d) => `${d.action} on ${d.resource}`).join(', ')})`,
      );
    }
  };
  const sendTo = (queueLogicalId: string): Request[] => [
    { action: 'sqs:SendMessage', resource: ctx.arnOf(queueLogicalId, 'Arn') },
  ];
  for (const m of spec.streamMappings) {
    const stream = ctx.arnOf(m.tableLogicalId, 'StreamArn');
    require(m.functionLogicalId, [
      ...['DescribeStream', 'GetRecords', 'GetShardIterator'].map((a) => ({
        action: `dynamodb:${a}`,
        resource: stream,
      })),
      { action: 'dynamodb:ListStreams', resource: '*' },
    ], `Cannot access stream ${stream}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`);
    if (m.onFailureLogicalId) {
      require(m.functionLogicalId, sendTo(
        m.onFailureLogicalId,
      ), `The provided execution role does not have permissions to call SendMessage on SQS (${m.logicalId}'s on-failure destination)`);
    }
  }
  for (const m of spec.queueMappings) {
    const queue = ctx.arnOf(m.queueLogicalId, 'Arn');
    require(m.functionLogicalId, ['ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((a) => ({
      action: `sqs:${a}`,
      resource: queue,
    })), `The provided execution role does not have permissions to call ReceiveMessage on SQS (${m.logicalId})`);
  }
  for (const c of spec.asyncInvoke) {
    if (!c.onFailureLogicalId) continue;
    require(c.functionLogicalId, sendTo(
      c.onFailureLogicalId,
    ), `The function's execution role does not have permissions to call SendMessage on its on-failure destination`);
  }
}
