import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  OrderStateConflict,
  StepFenced,
  TransientFault,
  type BusinessRefusal,
  type PurchaseError,
} from '../../domain/errors.js';
import type { OutboxEvent } from '../../domain/events.js';
import type { ForwardStep, StepRecord } from '../../domain/model.js';
import { keys } from './keys.js';
import { addingEvent, carrying, hasEventsMap } from './outbox.js';

/**
 * The step contract (DESIGN section 4) in one place.
 *
 * A forward step commits ONE TransactWriteItems: its aggregate writes guarded by their business
 * conditions + the order-is-PENDING check + its step record (put if absent), which carries the
 * step's event (lambdas/shared/dynamodb/outbox.ts). A compensation undoes exactly what the step
 * record says, once, adding its own event to the record, or fences a step that never committed
 * so a late forward invocation can never commit afterwards.
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
  /** CompleteOrder moves the order out of PENDING itself, so it skips the separate check. */
  skipOrderCheck?: boolean;
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
  const orderCheck: TransactItem[] = spec.skipOrderCheck
    ? []
    : [
        {
          ConditionCheck: {
            TableName: spec.ordersTable,
            Key: keys.order(spec.orderId),
            ConditionExpression: '#status = :pending',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':pending': 'PENDING' },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ];
  const items: TransactItem[] = [
    ...spec.writes,
    ...orderCheck,
    {
      Put: {
        TableName: spec.ordersTable,
        Item: { ...keys.stepRecord(spec.orderId, spec.step), ...record, ...carrying(spec.event) },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
  const stepIndex = items.length - 1;
  const orderIndex = spec.skipOrderCheck ? -1 : spec.writes.length;

  try {
    await ddb.send(new TransactWriteCommand({ TransactItems: items }));
    return {
      step: spec.step,
      status: record.status === 'DECLINED' ? 'DECLINED' : 'COMMITTED',
      effect: spec.effect,
      replayed: false,
    };
  } catch (err) {
    const reasons = cancellationReasons(err);
    if (!reasons) throw err;
    // The step record decides first: a committed step replays even if its business condition
    // would now fail (the balance it deducted is, of course, no longer there).
    const existing = failedItem(reasons, stepIndex);
    if (existing !== null) return replayOrRefuse(spec, existing as unknown as StepRecord);
    // Then the order: a step of an order that is no longer PENDING has nothing to refuse.
    const order = failedItem(reasons, orderIndex);
    if (order !== null) throw new OrderStateConflict(spec.orderId, 'PENDING', order?.['status'] as string | undefined);
    for (let i = 0; i < spec.writes.length; i++) {
      const old = failedItem(reasons, i);
      if (old !== null) throw spec.refusal(i, old ?? undefined);
    }
    throw transientOrUnexpected(err, reasons);
  }
}

function replayOrRefuse(spec: ForwardStepSpec, existing: StepRecord): StepOutcome {
  if (existing.status === 'COMMITTED' || existing.status === 'DECLINED') {
    return { step: spec.step, status: existing.status, effect: existing.effect, replayed: true };
  }
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
