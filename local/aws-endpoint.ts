import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLocal } from './http-server.js';
import { z } from 'zod';
import type { LocalEventBus } from './eventbridge.js';
import { answerSns, type LocalTopic, type LocalTopicRegistry } from './sns.js';
import {
  ExecutionAlreadyExists,
  type Execution,
  type ExecutionRecord,
  type HistoryEvent,
  type LocalStateMachine,
} from './stepfunctions.js';

/**
 * A local endpoint speaking the AWS JSON protocol for the Step Functions, Secrets Manager and
 * EventBridge operations the handlers use, so they reach these services only through the AWS
 * SDK, pointed here by `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_SECRETS_MANAGER` /
 * `AWS_ENDPOINT_URL_EVENTBRIDGE` — and SNS `Publish` in the query protocol (local/sns.ts, by
 * `AWS_ENDPOINT_URL_SNS`).
 *
 * Wire format, as the SDK's protocol code reads it (@aws-sdk/core AwsJsonRpcProtocol,
 * @smithy/core loadJsonRpcErrorCode):
 * - requests are `POST /` with `X-Amz-Target: <ServiceTarget>.<Operation>` and a JSON body;
 *   Step Functions is awsJson1_0 (`AWSStepFunctions`, `application/x-amz-json-1.0`), Secrets
 *   Manager awsJson1_1 (`secretsmanager`, `application/x-amz-json-1.1`), EventBridge awsJson1_1
 *   (`AWSEvents`, `application/x-amz-json-1.1`); answers carry the same
 *   content type;
 * - an error is a 4xx/5xx with `{"__type": "<Code>", "message": "..."}`; the SDK takes the code
 *   from `__type` first, then a `code` field, then the `x-amzn-ErrorType` header (sent too), and
 *   throws the modeled exception class of that name (`err.name`), or a service exception named
 *   after the code when the model has none (e.g. UnknownOperationException);
 * - timestamps are epoch seconds as JSON numbers (the protocol's default format), with millis.
 */
export type LocalStateMachineRegistry = Map<string /* stateMachineArn */, LocalStateMachine>;

export interface LocalAwsEndpointOptions {
  port?: number;
  stateMachines: LocalStateMachineRegistry;
  /** Secret name -> SecretString. */
  secrets: Map<string, string>;
  /** Custom event buses by name (PutEvents also takes a bus ARN); absent: EventBridge answers no bus. */
  eventBuses?: Map<string, LocalEventBus>;
  /** SNS topics by ARN (Publish, query protocol: local/sns.ts). */
  topics?: LocalTopicRegistry;
  /** Region and account of the secrets' ARNs (the state machines' come from their own ARNs). */
  region?: string;
  account?: string;
}

export interface LocalAwsEndpoint {
  url: string;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Step Functions' limit on an execution's input (256 KiB, UTF-8). */
const MAX_INPUT_BYTES = 256 * 1024;

/** An error answered in the AWS JSON shape. */
class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Request shapes (field names as the SDKs serialize them; unknown fields are ignored, as AWS does)

const arn = z.string().min(1).max(2048);
const StartExecutionRequest = z.object({
  stateMachineArn: arn,
  name: z.string().optional(),
  input: z.string().optional(),
  traceHeader: z.string().max(256).optional(),
});
const StartSyncExecutionRequest = StartExecutionRequest.extend({
  includedData: z.enum(['ALL_DATA', 'METADATA_ONLY']).optional(),
});
const DescribeExecutionRequest = z.object({
  executionArn: arn,
  includedData: z.enum(['ALL_DATA', 'METADATA_ONLY']).optional(),
});
const GetExecutionHistoryRequest = z.object({
  executionArn: arn,
  maxResults: z.number().int().min(0).max(1000).optional(),
  reverseOrder: z.boolean().optional(),
  nextToken: z.string().min(1).max(1024).optional(),
  includeExecutionData: z.boolean().optional(),
});
const StopExecutionRequest = z.object({
  executionArn: arn,
  error: z.string().max(256).optional(),
  cause: z.string().max(32768).optional(),
});
const GetSecretValueRequest = z.object({
  SecretId: z.string().min(1).max(2048),
  VersionId: z.string().min(32).max(64).optional(),
  VersionStage: z.string().min(1).max(256).optional(),
});

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  // The wording AWS uses for a request that violates its model.
  const issues = parsed.error.issues;
  const details = issues
    .map((i) => `Value at '${i.path.join('.')}' failed to satisfy constraint: ${i.message}`)
    .join('; ');
  throw new AwsError(
    'ValidationException',
    `${issues.length} validation error${issues.length === 1 ? '' : 's'} detected: ${details}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Step Functions

const STATE_MACHINE_ARN = /^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[\w-]{1,80}$/;
/** `...:execution:<machine>:<name>` (STANDARD) or `...:express:<machine>:<name>:<uuid>` (EXPRESS). */
const EXECUTION_ARN = /^(arn:aws[\w-]*:states:[\w-]+:\d{12}):(execution|express):([\w-]{1,80}):(.+)$/;
/** AWS execution names: 1-80 characters, none of whitespace, brackets, wildcards, special or control characters. */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what AWS refuses
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function json(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

function executionName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARS.test(name))
    throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
  return name;
}

function executionInput(input: string | undefined): unknown {
  if (input === undefined) return {};
  if (Buffer.byteLength(input, 'utf8') > MAX_INPUT_BYTES) {
    throw new AwsError(
      'InvalidExecutionInput',
      `Invalid State Machine Execution Input: 'input exceeds ${MAX_INPUT_BYTES} bytes'`,
    );
  }
  try {
    return JSON.parse(input) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AwsError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${reason}'`);
  }
}

class StepFunctions {
  constructor(private readonly machines: LocalStateMachineRegistry) {}

  private machine(stateMachineArn: string): LocalStateMachine {
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) throw new AwsError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    const machine = this.machines.get(stateMachineArn);
    if (!machine) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return machine;
  }

  /** The execution of a STANDARD machine; AWS keeps no describable record of EXPRESS executions. */
  private execution(executionArn: string): Execution {
    const m = EXECUTION_ARN.exec(executionArn);
    if (!m) throw new AwsError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    const [, prefix, kind, machineName] = m;
    if (kind === 'express')
      throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: express'`);
    const machine = this.machines.get(`${prefix}:stateMachine:${machineName}`);
    const execution = machine?.executions.get(executionArn);
    if (!execution) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  private start(body: z.infer<typeof StartExecutionRequest>) {
    const machine = this.machine(body.stateMachineArn);
    const name = executionName(body.name);
    const input = executionInput(body.input);
    try {
      return { machine, execution: machine.start(input, name) };
    } catch (err) {
      if (err instanceof ExecutionAlreadyExists) throw new AwsError('ExecutionAlreadyExists', err.message);
      throw err;
    }
  }

  readonly operations: Record<string, (body: unknown) => Promise<unknown>> = {
    StartExecution: async (body) => {
      const { execution } = this.start(parse(StartExecutionRequest, body));
      const { record } = execution;
      return { executionArn: record.executionArn, startDate: epochSeconds(record.startDate) };
    },

    StartSyncExecution: async (body) => {
      const request = parse(StartSyncExecutionRequest, body);
      const machine = this.machine(request.stateMachineArn);
      if (machine.type !== 'EXPRESS') {
        throw new AwsError(
          'StateMachineTypeNotSupported',
          'This operation is not supported by this type of state machine',
        );
      }
      const { execution } = this.start(request);
      const record = await execution.done;
      const status = record.status === 'SUCCEEDED' || record.status === 'TIMED_OUT' ? record.status : 'FAILED';
      const stopDate = record.stopDate ?? new Date();
      const durationMs = stopDate.getTime() - record.startDate.getTime();
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        startDate: epochSeconds(record.startDate),
        stopDate: epochSeconds(stopDate),
        status,
        input: json(record.input),
        inputDetails: { included: true },
        ...(record.status === 'SUCCEEDED' ? { output: json(record.output), outputDetails: { included: true } } : {}),
        ...(record.error !== undefined ? { error: record.error } : {}),
        ...(record.cause !== undefined ? { cause: record.cause } : {}),
        // Express billing: 64 MB, duration rounded up to the next 100 ms.
        billingDetails: {
          billedMemoryUsedInMB: 64,
          billedDurationInMilliseconds: Math.max(100, Math.ceil(durationMs / 100) * 100),
        },
      };
    },

    DescribeExecution: async (body) => {
      const { record } = this.execution(parse(DescribeExecutionRequest, body).executionArn);
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: record.status,
        startDate: epochSeconds(record.startDate),
        ...(record.stopDate ? { stopDate: epochSeconds(record.stopDate) } : {}),
        input: json(record.input),
        inputDetails: { included: true },
        ...(record.status === 'SUCCEEDED' ? { output: json(record.output), outputDetails: { included: true } } : {}),
        ...(record.error !== undefined ? { error: record.error } : {}),
        ...(record.cause !== undefined ? { cause: record.cause } : {}),
      };
    },

    GetExecutionHistory: async (body) => {
      const request = parse(GetExecutionHistoryRequest, body);
      const { record } = this.execution(request.executionArn);
      const events = awsHistory(record, request.includeExecutionData ?? true);
      if (request.reverseOrder) events.reverse();
      const pageSize = request.maxResults || 100;
      const start = request.nextToken === undefined ? 0 : Number(request.nextToken);
      if (!Number.isInteger(start) || start < 0 || start > events.length) {
        throw new AwsError('InvalidToken', `Invalid Token: '${request.nextToken}'`);
      }
      const end = start + pageSize;
      return { events: events.slice(start, end), ...(end < events.length ? { nextToken: String(end) } : {}) };
    },

    StopExecution: async (body) => {
      const request = parse(StopExecutionRequest, body);
      const execution = this.execution(request.executionArn);
      if (execution.record.status === 'RUNNING') {
        execution.abort();
        const record = await execution.done;
        if (request.error !== undefined) record.error = request.error;
        if (request.cause !== undefined) record.cause = request.cause;
        return { stopDate: epochSeconds(record.stopDate ?? new Date()) };
      }
      return { stopDate: epochSeconds(execution.record.stopDate ?? new Date()) };
    },
  };
}

type AwsHistoryEvent = { timestamp: number; type: string; id: number; previousEventId: number } & Record<
  string,
  unknown
>;

/**
 * The local interpreter's event log in the shape of GetExecutionHistory: execution events and
 * `<StateType>StateEntered/Exited` map one to one; a failed Task becomes TaskFailed; retries and
 * catches have no event of their own in AWS (it shows the TaskFailed and the next attempt).
 * The Task's scheduled/started/succeeded events are not reconstructed.
 */
export function awsHistory(record: ExecutionRecord, includeData: boolean): AwsHistoryEvent[] {
  const data = (key: 'input' | 'output', value: unknown) => (includeData ? { [key]: json(value) } : {});
  const out: AwsHistoryEvent[] = [];
  const push = (e: HistoryEvent, type: string, details: Record<string, unknown>) => {
    out.push({ timestamp: e.timestamp / 1000, type, id: out.length + 1, previousEventId: out.length, ...details });
  };
  for (const e of record.history) {
    switch (e.type) {
      case 'ExecutionStarted':
        push(e, 'ExecutionStarted', {
          executionStartedEventDetails: { ...data('input', e.input), inputDetails: { truncated: false } },
        });
        break;
      case 'ExecutionSucceeded':
        push(e, 'ExecutionSucceeded', {
          executionSucceededEventDetails: { ...data('output', e.output), outputDetails: { truncated: false } },
        });
        break;
      case 'ExecutionFailed':
        push(e, 'ExecutionFailed', { executionFailedEventDetails: { error: e.Error, cause: causeText(e.Cause) } });
        break;
      case 'ExecutionAborted':
        push(e, 'ExecutionAborted', {
          executionAbortedEventDetails: {
            ...(record.error !== undefined ? { error: record.error } : {}),
            ...(record.cause !== undefined ? { cause: record.cause } : {}),
          },
        });
        break;
      case 'ExecutionTimeout':
        push(e, 'ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout' } });
        break;
      case 'StateEntered':
        push(e, `${e.state.type}StateEntered`, {
          stateEnteredEventDetails: { name: e.state.name, ...data('input', e.state.input) },
        });
        break;
      case 'StateExited':
        push(e, `${e.state.type}StateExited`, {
          stateExitedEventDetails: { name: e.state.name, ...data('output', e.state.output) },
        });
        break;
      case 'StateFailed':
        if (e.state.type === 'Task') {
          push(e, 'TaskFailed', {
            taskFailedEventDetails: {
              resourceType: 'lambda',
              resource: 'invoke',
              error: e.Error,
              cause: causeText(e.Cause),
            },
          });
        }
        break;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = `mapIteration${e.type.slice('MapIteration'.length)}EventDetails`;
        push(e, e.type, { [key]: { name: e.parentState.name, index: e.index } });
        break;
      }
      // No event of their own in AWS (see above); the definition has no Parallel state.
      case 'StateRetried':
      case 'StateCaught':
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        break;
    }
  }
  return out;
}

function causeText(cause: unknown): string {
  return typeof cause === 'string' ? cause : json(cause);
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager

interface StoredSecret {
  arn: string;
  /** The ARN without the 6-character suffix AWS appends: a partial ARN, which AWS also accepts. */
  partialArn: string;
  name: string;
  versionId: string;
}

class SecretsManager {
  private readonly createdDate = new Date();

  constructor(
    private readonly secrets: Map<string, string>,
    private readonly region: string,
    private readonly account: string,
  ) {}

  /** ARN suffix and version id derived from the name, so both are stable across runs. */
  private describe(name: string): StoredSecret {
    const hash = createHash('sha256').update(name).digest('hex');
    const suffix = Buffer.from(hash, 'hex')
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 6);
    const partialArn = `arn:aws:secretsmanager:${this.region}:${this.account}:secret:${name}`;
    const v = hash.slice(0, 32);
    const versionId = `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20, 32)}`;
    return { arn: `${partialArn}-${suffix}`, partialArn, name, versionId };
  }

  private find(secretId: string): StoredSecret | undefined {
    if (this.secrets.has(secretId)) return this.describe(secretId);
    for (const name of this.secrets.keys()) {
      const secret = this.describe(name);
      if (secretId === secret.arn || secretId === secret.partialArn) return secret;
    }
    return undefined;
  }

  readonly operations: Record<string, (body: unknown) => Promise<unknown>> = {
    GetSecretValue: async (body) => {
      const request = parse(GetSecretValueRequest, body);
      const notFound = (what: string) =>
        new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified ${what}`);
      const secret = this.find(request.SecretId);
      const value = secret && this.secrets.get(secret.name);
      if (!secret || value === undefined) throw notFound('secret.');
      if (request.VersionId !== undefined && request.VersionId !== secret.versionId) {
        throw notFound(`secret value for VersionId: ${request.VersionId}`);
      }
      if (request.VersionStage !== undefined && request.VersionStage !== 'AWSCURRENT') {
        throw notFound(`secret value for staging label: ${request.VersionStage}`);
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: epochSeconds(this.createdDate),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// EventBridge

const PutEventsRequest = z.object({
  Entries: z
    .array(
      z.object({
        Time: z.number().optional(),
        Source: z.string().optional(),
        Resources: z.array(z.string()).optional(),
        DetailType: z.string().optional(),
        Detail: z.string().optional(),
        EventBusName: z.string().min(1).max(1600).optional(),
        TraceHeader: z.string().optional(),
      }),
    )
    .min(1)
    .max(10),
  EndpointId: z.string().optional(),
});
/** PutEvents' limit on the total size of its entries. */
const MAX_PUT_EVENTS_BYTES = 256 * 1024;

type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

class EventBridge {
  constructor(private readonly buses: Map<string, LocalEventBus>) {}

  private bus(nameOrArn: string | undefined): LocalEventBus | undefined {
    const name = nameOrArn ?? 'default';
    const marker = ':event-bus/';
    return this.buses.get(
      name.startsWith('arn:') && name.includes(marker) ? name.slice(name.indexOf(marker) + marker.length) : name,
    );
  }

  private entry(e: z.infer<typeof PutEventsRequest>['Entries'][number]): PutEventsResultEntry {
    const missing = (['Source', 'DetailType', 'Detail'] as const).filter((k) => e[k] === undefined || e[k] === '');
    if (missing.length > 0)
      return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter(s) ${missing.join(', ')} not specified.` };
    let detail: unknown;
    try {
      detail = JSON.parse(e.Detail as string);
    } catch {
      detail = undefined;
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const bus = this.bus(e.EventBusName);
    if (!bus)
      return {
        ErrorCode: 'ResourceNotFoundException',
        ErrorMessage: `Event bus ${e.EventBusName ?? 'default'} does not exist.`,
      };
    const eventId = bus.put({
      source: e.Source as string,
      detailType: e.DetailType as string,
      detail: detail as Record<string, unknown>,
      ...(e.Resources ? { resources: e.Resources } : {}),
      ...(e.Time !== undefined ? { time: new Date(e.Time * 1000) } : {}),
    });
    return { EventId: eventId };
  }

  readonly operations: Record<string, (body: unknown) => Promise<unknown>> = {
    PutEvents: async (body) => {
      const request = parse(PutEventsRequest, body);
      const size = request.Entries.reduce(
        (sum, e) =>
          sum +
          Buffer.byteLength(e.Source ?? '') +
          Buffer.byteLength(e.DetailType ?? '') +
          Buffer.byteLength(e.Detail ?? '') +
          (e.Resources ?? []).reduce((a, r) => a + Buffer.byteLength(r), 0) +
          (e.Time !== undefined ? 14 : 0),
        0,
      );
      if (size > MAX_PUT_EVENTS_BYTES)
        throw new AwsError('ValidationException', 'Total size of the entries in the request is over the limit.');
      const entries = request.Entries.map((e) => this.entry(e));
      return { FailedEntryCount: entries.filter((r) => 'ErrorCode' in r).length, Entries: entries };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The server

interface Service {
  contentType: string;
  operations: Record<string, (body: unknown) => Promise<unknown>>;
}

export async function startLocalAwsEndpoint(options: LocalAwsEndpointOptions): Promise<LocalAwsEndpoint> {
  const services: Record<string, Service> = {
    AWSStepFunctions: {
      contentType: 'application/x-amz-json-1.0',
      operations: new StepFunctions(options.stateMachines).operations,
    },
    secretsmanager: {
      contentType: 'application/x-amz-json-1.1',
      operations: new SecretsManager(options.secrets, options.region ?? 'us-east-1', options.account ?? '000000000000')
        .operations,
    },
    AWSEvents: {
      contentType: 'application/x-amz-json-1.1',
      operations: new EventBridge(options.eventBuses ?? new Map<string, LocalEventBus>()).operations,
    },
  };

  async function answer(req: IncomingMessage): Promise<{ contentType: string; status: number; body: unknown }> {
    const target = headerOf(req, 'x-amz-target') ?? '';
    const dot = target.lastIndexOf('.');
    const service = services[target.slice(0, dot)];
    const requestType = headerOf(req, 'content-type') ?? '';
    const contentType =
      service?.contentType ??
      (/^application\/x-amz-json-1\.[01]$/.test(requestType) ? requestType : 'application/x-amz-json-1.1');
    try {
      // Read the body first whatever the request, so the connection stays usable for the next one.
      const text = await readBody(req);
      const operation = dot > 0 && req.method === 'POST' ? service?.operations[target.slice(dot + 1)] : undefined;
      if (!operation) throw new AwsError('UnknownOperationException', `Unknown operation: '${target}'`);
      let body: unknown;
      try {
        body = text === '' ? {} : (JSON.parse(text) as unknown);
      } catch {
        throw new AwsError('SerializationException', 'The request body is not valid JSON');
      }
      return { contentType, status: 200, body: await operation(body) };
    } catch (err) {
      if (err instanceof AwsError)
        return { contentType, status: err.status, body: { __type: err.code, message: err.message } };
      console.error('local AWS endpoint: unexpected error', err);
      const code = service === services['secretsmanager'] ? 'InternalServiceError' : 'InternalFailure';
      return {
        contentType,
        status: 500,
        body: { __type: code, message: err instanceof Error ? err.message : String(err) },
      };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (
      !headerOf(req, 'x-amz-target') &&
      headerOf(req, 'content-type')?.startsWith('application/x-www-form-urlencoded')
    ) {
      // The query protocol: SNS is the one such service played here.
      const text = await readBody(req).catch(() => '');
      const { status, body } = answerSns(options.topics ?? new Map<string, LocalTopic>(), new URLSearchParams(text));
      if (!res.destroyed && !res.writableEnded)
        res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': randomUUID() }).end(body);
      return;
    }
    const { contentType, status, body } = await answer(req);
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string> = { 'Content-Type': contentType, 'x-amzn-RequestId': randomUUID() };
    if (status >= 400 && body && typeof body === 'object' && '__type' in body)
      headers['x-amzn-ErrorType'] = String(body.__type);
    res.writeHead(status, headers).end(JSON.stringify(body));
  }

  return listenLocal('local AWS endpoint', handle, options.port);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new AwsError('ValidationException', `Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
