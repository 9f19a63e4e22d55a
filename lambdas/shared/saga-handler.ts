import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { InvalidInput } from '../domain/errors.js';
import type { Deps } from '../saga/deps.js';
import { readTables, type TableVar } from './config.js';
import { documentClient } from './dynamodb/client.js';

/** Step results are kept as long as an HTTP idempotency key: a day. */
const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** What tests and the local stand-in may replace; production uses the defaults. */
export interface HandlerOverrides {
  /** Client for the step's own reads and writes (tests wrap it to inject faults). */
  ddb?: DynamoDBDocumentClient;
  /** Client of the Powertools idempotency store. */
  idempotencyClient?: DynamoDBClient;
  clock?: () => Date;
}

export type SagaLambda<O> = (event: unknown, context: Context) => Promise<O>;

/**
 * Builds a saga Lambda: validate the input with its schema, then run the operation wrapped in
 * Powertools `makeIdempotent` keyed on the orderId (prefix = the step name, so steps of the same
 * order never share a record). The conditional step record inside each operation is the second
 * line of defence, for when an idempotency record has expired or was deleted after a crash.
 */
export function sagaHandler<K extends TableVar, S extends z.ZodType<{ orderId: string }>, O, X extends object = object>(options: {
  name: string;
  env: NodeJS.ProcessEnv;
  tables: K[];
  input: S;
  overrides?: HandlerOverrides;
  extra?: (env: NodeJS.ProcessEnv, ddb: DynamoDBDocumentClient) => X;
  run: (deps: Deps<K> & X, input: z.infer<S>) => Promise<O>;
}): SagaLambda<O> {
  const overrides = options.overrides ?? {};
  const tables = readTables(options.tables, options.env);
  const { IDEMPOTENCY_TABLE } = readTables(['IDEMPOTENCY_TABLE'], options.env);
  const ddb = overrides.ddb ?? documentClient();
  const deps = {
    ddb,
    tables,
    clock: overrides.clock ?? (() => new Date()),
    ...(options.extra ? options.extra(options.env, ddb) : ({} as X)),
  } as Deps<K> & X;

  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: IDEMPOTENCY_TABLE,
    awsSdkV3Client: overrides.idempotencyClient ?? new DynamoDBClient({}),
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'orderId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
  });
  const idempotent = makeIdempotent(
    async (input: z.infer<S>, _context: Context): Promise<O> => options.run(deps, input),
    { persistenceStore, config, keyPrefix: options.name },
  );

  return async (event, context) => {
    const parsed = options.input.safeParse(event);
    if (!parsed.success) {
      throw new InvalidInput(`${options.name}: invalid input: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    return idempotent(parsed.data, context);
  };
}
