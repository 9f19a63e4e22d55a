import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BusinessRefusal, StepFenced, TransientFault, type PurchaseError } from '../../domain/errors.js';
import type { OutboxEvent } from '../../domain/events.js';
import type { ForwardStep, StepRecord } from '../../domain/model.js';
import { keys } from './keys.js';
import { addingEvent, carrying, hasEventsMap } from './outbox.js';

/**
 * The step contract (DESIGN section 4) in one place.
 *
 * A forward step commits ONE TransactWriteItems: its aggregate writes guarded by their business
 * conditions + its step record (put if absent), which carries the step's event
 * (lambdas/shared/dynamodb/outbox.ts). The step record is the step's one decision, shared by every
 * invocation of every execution of the order: COMMITTED, or REFUSED (a business condition failed:
 * recorded, so no later invocation can take the effect the saga is already compensating for), or
 * FENCED / COMPENSATED by a compensation. Whoever writes it first decides; everyone else replays.
 * A compensation undoes exactly what the step record says, once, adding its own event to the
 * record, or fences a step that never committed so a late forward invocation can never commit
 * afterwards.
 *
 * There is no order-is-PENDING check in a step's transaction: a step can only be reached through
 * the steps before it, so a record decided once (a refusal recorded, a compensation's fence)
 * stops every later invocation, and CompleteOrder's record, fenced first by every compensation
 * chain of an unknown failure, decides the order's fate (test/workflow/overlap.test.ts).
 */
type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;
export type TransactItem = TransactItems[number];

export interface ForwardStepSpec {
  orderId: string;
  step: ForwardStep;
  ordersTable: string;
  /** Aggregate writes guarded by the business condition; each should ask for ALL_OLD on failure. */
  writes: TransactItem[];
  /** What the compensation will need to undo exactly this effect. */
  effect: Record<string, string | number>;
  event: OutboxEvent;
  /** Maps a failed condition (index into `writes`, old item) to the typed error, usually a refusal. */
  refusal: (writeIndex: number, oldItem: Record<string, unknown> | undefined) => BusinessRefusal | PurchaseError;
  now: string;
  /**
   * DECLINED records an external refusal (the provider's decline) as a fact, so a duplicate
   * invocation replays the same refusal instead of asking the provider again.
   */
  recordStatus?: 'COMMITTED' | 'DECLINED';
}

export interface StepOutcome {
  step: ForwardStep;
  status: 'COMMITTED' | 'DECLINED';
  effect: Record<string, string | number>;
  /** True when this invocation found the step already committed and changed nothing. */
  replayed: boolean;
}

export async function commitForwardStep(ddb: DynamoDBDocumentClient, spec: ForwardStepSpec): Promise<StepOutcome> {
  const record: StepRecord = {
    orderId: spec.orderId,
    step: spec.step,
    status: spec.recordStatus ?? 'COMMITTED',
    effect: spec.effect,
    committedAt: spec.now,
  };
  const put = recordPut(spec, { ...record, ...carrying(spec.event) });
  const outcome: StepOutcome = {
    step: spec.step,
    status: record.status === 'DECLINED' ? 'DECLINED' : 'COMMITTED',
    effect: spec.effect,
    replayed: false,
  };

  // Nothing but the record (a decline): one conditional put, not a transaction of one.
  if (spec.writes.length === 0) return (await putOrReplay(ddb, spec, put)) ?? outcome;

  const items: TransactItem[] = [...spec.writes, { Put: put }];
  try {
    await ddb.send(new TransactWriteCommand({ TransactItems: items }));
    return outcome;
  } catch (err) {
    const reasons = cancellationReasons(err);
    if (!reasons) throw err;
    // The step record decides first: a committed step replays even if its business condition
    // would now fail (the balance it deducted is, of course, no longer there).
    const existing = failedItem(reasons, spec.writes.length);
    if (existing !== null) return replayOrRefuse(spec, existing as unknown as StepRecord);
    for (let i = 0; i < spec.writes.length; i++) {
      const old = failedItem(reasons, i);
      if (old !== null) return refuse(ddb, spec, i, old ?? undefined);
    }
    throw transientOrUnexpected(err, reasons);
  }
}

/**
 * A business condition failed: record the refusal as the step's decision (put if absent), then
 * throw it. If another invocation decided the step in between (committed it, or recorded the
 * same refusal), its decision is the answer. Other errors (an inconsistency) are not decisions.
 */
async function refuse(
  ddb: DynamoDBDocumentClient,
  spec: ForwardStepSpec,
  write: number,
  old: Record<string, unknown> | undefined,
): Promise<StepOutcome> {
  const error = spec.refusal(write, old);
  if (!(error instanceof BusinessRefusal)) throw error;
  const record: StepRecord = {
    orderId: spec.orderId,
    step: spec.step,
    status: 'REFUSED',
    effect: {},
    refusal: { reason: error.name, write, ...(old ? { old } : {}) },
    refusedAt: spec.now,
  };
  const decided = await putOrReplay(ddb, spec, recordPut(spec, record));
  if (decided) return decided;
  throw error;
}

/** The put of a step record, only if the step has none yet; a failed one returns the record found. */
function recordPut(spec: ForwardStepSpec, attributes: object) {
  return {
    TableName: spec.ordersTable,
    Item: { ...keys.stepRecord(spec.orderId, spec.step), ...attributes },
    ConditionExpression: 'attribute_not_exists(pk)',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** `undefined` when the record was put; otherwise what the record already there says (replayed, or thrown). */
async function putOrReplay(
  ddb: DynamoDBDocumentClient,
  spec: ForwardStepSpec,
  put: ReturnType<typeof recordPut>,
): Promise<StepOutcome | undefined> {
  try {
    await ddb.send(new PutCommand(put));
    return undefined;
  } catch (err) {
    const existing = conditionFailedItem(err);
    if (existing === null) throw err;
    return replayOrRefuse(spec, existing);
  }
}

function replayOrRefuse(spec: ForwardStepSpec, existing: StepRecord): StepOutcome {
  if (existing.status === 'COMMITTED' || existing.status === 'DECLINED') {
    return { step: spec.step, status: existing.status, effect: existing.effect, replayed: true };
  }
  // The same refusal, rebuilt from the fact that decided it.
  if (existing.status === 'REFUSED' && existing.refusal)
    throw spec.refusal(existing.refusal.write, existing.refusal.old);
  throw new StepFenced(spec.orderId, spec.step, existing.status);
}

export interface CompensationSpec {
  orderId: string;
  step: ForwardStep;
  ordersTable: string;
  /** Writes that undo exactly the recorded effect. */
  undo: (record: StepRecord) => TransactItem[];
  event: (record: StepRecord) => OutboxEvent;
  now: string;
  /** Attributes set on the step record however this compensation ends it (fenced or compensated). */
  mark?: Record<string, string>;
}

export type CompensationOutcome =
  | { step: ForwardStep; outcome: 'COMPENSATED'; effect: Record<string, string | number>; replayed: boolean }
  | { step: ForwardStep; outcome: 'FENCED'; replayed: boolean }
  | { step: ForwardStep; outcome: 'NOTHING_TO_UNDO'; recordStatus: string };

/** Bounded: each pass either finishes or lost a race that cannot happen twice. */
const COMPENSATION_PASSES = 3;

export async function compensateStep(
  ddb: DynamoDBDocumentClient,
  spec: CompensationSpec,
): Promise<CompensationOutcome> {
  const key = keys.stepRecord(spec.orderId, spec.step);
  for (let pass = 0; pass < COMPENSATION_PASSES; pass++) {
    const { Item } = await ddb.send(new GetCommand({ TableName: spec.ordersTable, Key: key, ConsistentRead: true }));
    const record = Item as StepRecord | undefined;

    if (!record) {
      // The forward step never committed: fence it, so that a forward invocation still in
      // flight (e.g. a Lambda that timed out but keeps running) can never commit later.
      const fence: StepRecord = {
        ...spec.mark,
        orderId: spec.orderId,
        step: spec.step,
        status: 'FENCED',
        effect: {},
        fencedAt: spec.now,
      };
      try {
        await ddb.send(
          new PutCommand({
            TableName: spec.ordersTable,
            Item: { ...key, ...fence },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return { step: spec.step, outcome: 'FENCED', replayed: false };
      } catch (err) {
        if (isConditionFailed(err)) continue; // the forward step committed in between: undo it
        throw err;
      }
    }

    switch (record.status) {
      case 'FENCED':
        return { step: spec.step, outcome: 'FENCED', replayed: true };
      case 'COMPENSATED':
        return { step: spec.step, outcome: 'COMPENSATED', effect: record.effect, replayed: true };
      case 'DECLINED':
      case 'REFUSED':
        return { step: spec.step, outcome: 'NOTHING_TO_UNDO', recordStatus: record.status };
      case 'COMMITTED':
        break;
    }

    const undo = spec.undo(record);
    const marks = Object.entries(spec.mark ?? {});
    const event = addingEvent(spec.event(record), hasEventsMap(record) ? 'map' : 'new map');
    const items: TransactItem[] = [
      ...undo,
      {
        Update: {
          TableName: spec.ordersTable,
          Key: key,
          UpdateExpression: [
            'SET #status = :compensated, compensatedAt = :now',
            event.set,
            ...marks.map((_, i) => `#mark${i} = :mark${i}`),
          ].join(', '),
          ConditionExpression: '#status = :committed',
          ExpressionAttributeNames: {
            '#status': 'status',
            ...event.names,
            ...Object.fromEntries(marks.map(([name], i) => [`#mark${i}`, name])),
          },
          ExpressionAttributeValues: {
            ':compensated': 'COMPENSATED',
            ':committed': 'COMMITTED',
            ':now': spec.now,
            ...event.values,
            ...Object.fromEntries(marks.map(([, value], i) => [`:mark${i}`, value])),
          },
        },
      },
    ];
    try {
      await ddb.send(new TransactWriteCommand({ TransactItems: items }));
      return { step: spec.step, outcome: 'COMPENSATED', effect: record.effect, replayed: false };
    } catch (err) {
      const reasons = cancellationReasons(err);
      if (!reasons) throw err;
      if (failedItem(reasons, undo.length) !== null) continue; // a concurrent compensation won: re-read
      const broken = undo.findIndex((_, i) => failedItem(reasons, i) !== null);
      if (broken >= 0) {
        // The aggregate no longer holds what the step recorded: an invariant is already broken.
        // Never paper over it; the order will end COMPENSATION_FAILED and alarm.
        throw new CompensationConflict(spec.orderId, spec.step, reasons);
      }
      throw transientOrUnexpected(err, reasons);
    }
  }
  throw new TransientFault(`Compensation of ${spec.step} for order ${spec.orderId} kept racing; retry`);
}

export class CompensationConflict extends Error {
  override readonly name = 'CompensationConflict';
  constructor(orderId: string, step: string, reasons: CancellationReason[]) {
    super(
      `Cannot undo ${step} of order ${orderId}: the aggregate no longer matches the step record (${reasons
        .map((r) => r.Code ?? 'None')
        .join(',')})`,
    );
  }
}

function cancellationReasons(err: unknown): CancellationReason[] | undefined {
  return err instanceof TransactionCanceledException ? (err.CancellationReasons ?? []) : undefined;
}

/**
 * `null` when the item at `index` did not fail its condition; otherwise its old image (or
 * `undefined` when the item did not exist).
 */
function failedItem(reasons: CancellationReason[], index: number): Record<string, unknown> | undefined | null {
  const reason = index >= 0 ? reasons[index] : undefined;
  if (reason?.Code !== 'ConditionalCheckFailed') return null;
  return reason.Item ? unmarshall(reason.Item) : undefined;
}

function transientOrUnexpected(err: unknown, reasons: CancellationReason[]): Error {
  const codes = reasons.map((r) => r.Code ?? 'None');
  if (
    codes.some((c) => c === 'TransactionConflict' || c === 'ThrottlingError' || c === 'ProvisionedThroughputExceeded')
  ) {
    return new TransientFault(`Transaction cancelled (${codes.join(',')}); retry`, { cause: err });
  }
  return new Error(`Transaction cancelled unexpectedly (${codes.join(',')})`, { cause: err });
}

export function isConditionFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * The step record a put-if-absent found (asked for with ALL_OLD), or `null` when `err` is not a
 * failed condition. Records are never deleted, so a failed condition always comes with one.
 */
function conditionFailedItem(err: unknown): StepRecord | null {
  if (!isConditionFailed(err)) return null;
  const item = err instanceof ConditionalCheckFailedException ? err.Item : undefined;
  if (!item)
    throw new Error('A put-if-absent failed its condition without returning the item it found', { cause: err });
  return unmarshall(item) as StepRecord;
}

export async function readStepRecord(
  ddb: DynamoDBDocumentClient,
  ordersTable: string,
  orderId: string,
  step: ForwardStep,
): Promise<StepRecord | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: ordersTable, Key: keys.stepRecord(orderId, step), ConsistentRead: true }),
  );
  return Item as StepRecord | undefined;
}
