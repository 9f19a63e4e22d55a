import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Counts what every DynamoDB call of the system consumes: a client middleware asks each call
 * for `ReturnConsumedCapacity: TOTAL` and adds up what DynamoDB (Local) reports.
 *
 * Two corrections, so the count is what DynamoDB on demand would bill:
 * - Transactions: DynamoDB bills two units per item (developer guide, "Capacity units consumed
 *   by transactions"), but DynamoDB Local reports 2 per *table* touched, however many items.
 *   So a transaction is counted from its request: 2 write units per KB of each item (a Put's
 *   size from its item; an Update, Delete or ConditionCheck as one KB — the items here are small).
 * - A write refused by its condition (or a cancelled transaction) reports nothing but is billed
 *   as if it had been done; it is counted the same way from its request.
 */
export interface CapacityCount {
  calls: number;
  /** Read and write request units as DynamoDB on demand bills them. */
  billedReadUnits: number;
  billedWriteUnits: number;
  /** Writes refused by their condition and cancelled transactions (billed, not done). */
  refusedWrites: number;
  byCommand: Record<string, number>;
}

/** The simulated payment provider keeps its charges in the Payments table; in production they are the provider's. */
export type Bucket = 'system' | 'provider';

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand']);
const WITH_CAPACITY = new Set([
  ...READS,
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
]);

interface Consumed {
  CapacityUnits?: number;
}

const zero = (): CapacityCount => ({
  calls: 0,
  billedReadUnits: 0,
  billedWriteUnits: 0,
  refusedWrites: 0,
  byCommand: {},
});

export interface MeterReading {
  /** Everything the system did, and what each function did (by the label of its client). */
  system: CapacityCount;
  byLabel: Record<string, CapacityCount>;
  provider: CapacityCount;
}

export class DynamoMeter {
  private reading: MeterReading = { system: zero(), byLabel: {}, provider: zero() };

  /** A client whose every call is counted under `label`; hand it to a function instead of its own. */
  client(label: string): DynamoDBClient {
    const client = new DynamoDBClient({});
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const input = args.input as Record<string, unknown>;
        if (!WITH_CAPACITY.has(command)) return next(args);
        input['ReturnConsumedCapacity'] ??= 'TOTAL';
        const r = this.reading;
        const counts = bucketOf(input) === 'provider' ? [r.provider] : [r.system, (r.byLabel[label] ??= zero())];
        const add = (units: number, refused: boolean) => {
          for (const count of counts) {
            count.calls++;
            count.byCommand[command] = (count.byCommand[command] ?? 0) + 1;
            if (refused) count.refusedWrites++;
            if (READS.has(command) || command === 'TransactGetItemsCommand') count.billedReadUnits += units;
            else count.billedWriteUnits += units;
          }
        };
        try {
          const result = await next(args);
          const output = result.output as { ConsumedCapacity?: Consumed | Consumed[] };
          const reported = [output.ConsumedCapacity ?? []].flat().reduce((a, c) => a + (c.CapacityUnits ?? 0), 0);
          add(command.startsWith('Transact') ? transactionUnits(input) : reported, false);
          return result;
        } catch (err) {
          const name = err instanceof Error ? err.name : '';
          const refused = name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
          // Billed as if done; any other failure (throttling, network) is not billed.
          add(refused ? (command.startsWith('Transact') ? transactionUnits(input) : 1) : 0, refused);
          throw err;
        }
      },
      { step: 'initialize', name: 'meterConsumedCapacity' },
    );
    return client;
  }

  /** The counts since the last take, and start again from zero. */
  take(): MeterReading {
    const taken = this.reading;
    this.reading = { system: zero(), byLabel: {}, provider: zero() };
    return taken;
  }
}

/** Two units per item and KB, as DynamoDB bills a transaction. */
function transactionUnits(input: Record<string, unknown>): number {
  const items = (input['TransactItems'] ?? []) as { Put?: { Item?: unknown } }[];
  return items.reduce(
    (a, i) => a + 2 * (i.Put?.Item ? Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(i.Put.Item)) / 1024)) : 1),
    0,
  );
}

/** Calls on the simulated provider's items (`SIMPROVIDER#...` keys) are the provider's cost, not ours. */
function bucketOf(input: Record<string, unknown>): Bucket {
  // Document client commands may reach this step before or after marshalling.
  const key = (input['Key'] ?? input['Item']) as Record<string, unknown> | undefined;
  const pk: unknown = key?.['pk'];
  const value = typeof pk === 'object' && pk !== null && 'S' in pk ? pk.S : pk;
  return typeof value === 'string' && value.startsWith('SIMPROVIDER#') ? 'provider' : 'system';
}
