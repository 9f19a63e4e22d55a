import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import {
  METRICS_NAMESPACE,
  SAGA_METRICS,
  SERVICE_NAME,
  type MetricDimensions,
  type MetricName,
} from './metric-catalog.js';

export { METRICS_NAMESPACE, SAGA_METRICS, SERVICE_NAME, type MetricName } from './metric-catalog.js';

/**
 * Powertools Logger, Metrics and Tracer for one Lambda, and the per-invocation scope every
 * handler runs in.
 *
 * Invocations never share mutable logging or metrics state: each gets its own child logger
 * (the Lambda context + its keys) and its own metrics buffer. On AWS one execution environment
 * runs one invocation at a time, but the local stand-in runs every handler — and many
 * invocations of each — concurrently in one Node process, where a module-level
 * `appendKeys(...)` followed by an `await` would stamp one order's id on another order's lines.
 */

/** What ties a log line to a purchase: the order and the request (or event, or run) that caused it. */
export type InvocationKeys = {
  orderId?: string;
  correlationId?: string;
};

export interface Invocation {
  /** This invocation's own logger: Lambda context fields plus its keys (add more with `appendKeys`). */
  readonly log: Logger;
  /** Business metrics of this invocation, published once when it ends. */
  readonly metrics: InvocationMetrics;
}

export interface Observability {
  /** The Lambda's logger outside any invocation (start-up). Carries no invocation keys. */
  readonly logger: Logger;
  readonly tracer: Tracer;
  /** An AWS SDK v3 client whose calls are traced in X-Ray when running on Lambda; unchanged elsewhere. */
  traced: <T>(client: T) => T;
  /**
   * Runs one invocation: a child logger with the context and `keys`, a handler subsegment
   * annotated with them (on Lambda), then — whatever happens — its metrics published and its
   * keys dropped. Errors are never caught here.
   */
  invocation<T>(context: Context | undefined, keys: InvocationKeys, run: (inv: Invocation) => Promise<T>): Promise<T>;
}

/**
 * @param env the function's environment (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL,
 *   POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_TRACE_ENABLED); the local stand-in passes the
 *   template's, which is why they are read from here and not left to Powertools' process.env.
 * @param name the handler's name in traces (`## <name>` subsegment).
 */
export function createObservability(env: NodeJS.ProcessEnv, name: string): Observability {
  const serviceName = env['POWERTOOLS_SERVICE_NAME'] || SERVICE_NAME;
  const namespace = env['POWERTOOLS_METRICS_NAMESPACE'] || METRICS_NAMESPACE;
  const logLevel = logLevelOf(env['POWERTOOLS_LOG_LEVEL']);
  const logger = new LambdaLogger({ serviceName, ...(logLevel ? { logLevel } : {}) });

  // X-Ray needs the daemon that Lambda runs beside a function with active tracing. The local
  // stand-in runs every handler inside one ordinary Node process (tests, `npm start`) with no
  // daemon and none of the Lambda runtime's variables: there the Tracer is disabled and SDK
  // clients are left as they are, so nothing tries to send segments or complains about a
  // missing trace context. (Powertools would also notice the missing AWS_EXECUTION_ENV; saying
  // it here keeps the decision in one visible place.) POWERTOOLS_TRACE_ENABLED=false turns it
  // off on AWS too, e.g. on LocalStack.
  const onLambda = Boolean(process.env['AWS_LAMBDA_FUNCTION_NAME']) && Boolean(process.env['AWS_EXECUTION_ENV']);
  const tracer = new Tracer({ serviceName, enabled: onLambda && env['POWERTOOLS_TRACE_ENABLED'] !== 'false' });

  const newMetrics = (log: Logger) => new Metrics({ namespace, serviceName, logger: log });

  return {
    logger,
    tracer,
    traced: (client) => (tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client),
    async invocation(context, keys, run) {
      // Synchronous from addContext to createChild: no other invocation can run in between,
      // so the child copies exactly this invocation's context.
      if (context) logger.addContext(context);
      const log = logger.createChild();
      log.appendKeys(definedKeys(keys));
      const inv: Invocation = { log, metrics: new InvocationMetrics(() => newMetrics(log)) };
      try {
        return await traceHandler(tracer, name, keys, () => run(inv));
      } finally {
        try {
          inv.metrics.publish();
        } catch (err) {
          // A metric that cannot be serialized must not turn a done invocation into a failure.
          log.error('Could not publish metrics', { error: err instanceof Error ? err : String(err) });
        }
        // The child dies with the invocation; clearing its keys also covers Powertools' per-invocation
        // store (Lambda Managed Instances), where temporary keys would otherwise outlive the invocation.
        log.resetKeys();
      }
    },
  };
}

/** Child loggers for a part of an invocation (one order of a batch) with more keys. */
export function childLogger(log: Logger, keys: InvocationKeys & Record<string, string | undefined>): Logger {
  const child = log.createChild();
  child.appendKeys(definedKeys(keys));
  return child;
}

/**
 * Metrics of one invocation, published together at its end: the dimensionless ones in one EMF
 * blob, each dimensioned one as its own single metric (so its dimensions apply to it alone).
 */
export class InvocationMetrics {
  readonly #recorded: { name: MetricName; value: number; dimensions: Record<string, string> }[] = [];

  constructor(private readonly newMetrics: () => Metrics) {}

  add<N extends MetricName>(name: N, value: number, dimensions: MetricDimensions<N>): void {
    this.#recorded.push({ name, value, dimensions });
  }

  count<N extends MetricName>(name: N, dimensions: MetricDimensions<N>): void {
    this.add(name, 1, dimensions);
  }

  publish(): void {
    const recorded = this.#recorded.splice(0);
    // Nothing recorded, nothing written: Powertools would warn about an empty publish.
    if (recorded.length === 0) return;
    const metrics = this.newMetrics();
    let plain = 0;
    for (const { name, value, dimensions } of recorded) {
      const unit = MetricUnit[SAGA_METRICS[name].unit];
      const entries = Object.entries(dimensions);
      if (entries.length === 0) {
        metrics.addMetric(name, unit, value);
        plain++;
        continue;
      }
      const single = metrics.singleMetric();
      for (const [key, dimension] of entries) single.addDimension(key, dimension);
      single.addMetric(name, unit, value); // a single metric is published as it is added
    }
    if (plain > 0) metrics.publishStoredMetrics();
  }
}

/**
 * Powertools decides `cold_start` per Logger instance (the first context a new instance sees is
 * "cold" on an on-demand Lambda), so a fresh child per invocation would claim a cold start every
 * time. Children made by this logger report what their parent just reported instead.
 */
class LambdaLogger extends Logger {
  readonly #inherited: boolean | undefined;
  #reported = false;

  constructor(options: ConstructorOptions = {}, inheritedColdStart?: boolean) {
    super(options);
    this.#inherited = inheritedColdStart;
  }

  override getColdStart(): boolean {
    this.#reported = this.#inherited ?? super.getColdStart();
    return this.#reported;
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new LambdaLogger(options, this.#reported);
  }
}

/** The `## <name>` subsegment Powertools' captureLambdaHandler would make, annotated with the keys (searchable in X-Ray). */
async function traceHandler<T>(tracer: Tracer, name: string, keys: InvocationKeys, run: () => Promise<T>): Promise<T> {
  if (!tracer.isTracingEnabled()) return run();
  const parent = tracer.getSegment();
  if (!parent) return run();
  const segment = parent.addNewSubsegment(`## ${name}`);
  tracer.setSegment(segment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  for (const [key, value] of Object.entries(definedKeys(keys))) tracer.putAnnotation(key, value);
  try {
    return await run();
  } catch (err) {
    tracer.addErrorAsMetadata(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    segment.close();
    tracer.setSegment(parent);
  }
}

function definedKeys(keys: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  );
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;

function logLevelOf(value: string | undefined): LogLevel | undefined {
  const upper = value?.toUpperCase();
  return LOG_LEVELS.find((l) => l === upper);
}
