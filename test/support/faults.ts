import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../lambdas/shared/dynamodb/client.js';

/**
 * Fault injection at the I/O boundary: a DynamoDB client whose middleware fails, crashes or
 * stalls chosen writes of a step, so the real handler code runs unchanged through the fault.
 *
 * Writes are recognised by what they do to the step record `STEP#<step>` of an order:
 * - `commit`: the forward step's transaction (puts the record COMMITTED), or its put of a
 *   record DECLINED (a payment declined)
 * - `compensate`: the compensation's transaction (updates the record to COMPENSATED) or its
 *   fence (puts the record FENCED)
 * - `create-order`: the API's order creation (puts `ORDER` with ORDER_CREATED); `step` is ignored
 */
export type WriteKind = 'commit' | 'compensate' | 'create-order';

export interface FaultRule {
  orderId: string;
  step: string;
  write: WriteKind;
  /** transient: throw before sending; crash: let it commit, then die before answering; hold: wait for `gate`. */
  fault: 'transient' | 'crash' | 'hold';
  /** How many matching writes to affect (default 1). */
  times?: number;
  gate?: Promise<void>;
}

export interface FaultInjector {
  ddb: DynamoDBDocumentClient;
  /** Arm a rule; returns a function telling how many times it fired (and, for holds, settled). */
  add(rule: FaultRule): (() => number) & { settled: () => number };
}

type Attr = Record<string, unknown> | string | undefined;
const str = (v: Attr): string | undefined =>
  typeof v === 'string' ? v : typeof v?.['S'] === 'string' ? v['S'] : undefined;

interface RawItem {
  Put?: { Item?: Record<string, Attr> };
  Update?: { Key?: Record<string, Attr> };
}

function matches(rule: FaultRule, commandName: string, input: Record<string, unknown>): boolean {
  const pk = `ORDER#${rule.orderId}`;
  const sk = `STEP#${rule.step}`;
  if (commandName === 'TransactWriteItemsCommand') {
    const items = (input['TransactItems'] ?? []) as RawItem[];
    return items.some((i) => {
      if (rule.write === 'commit' && i.Put?.Item) {
        const status = str(i.Put.Item['status']);
        return (
          str(i.Put.Item['pk']) === pk &&
          str(i.Put.Item['sk']) === sk &&
          (status === 'COMMITTED' || status === 'DECLINED')
        );
      }
      if (rule.write === 'compensate' && i.Update?.Key)
        return str(i.Update.Key['pk']) === pk && str(i.Update.Key['sk']) === sk;
      return false;
    });
  }
  if (commandName === 'PutItemCommand') {
    const item = (input['Item'] ?? {}) as Record<string, Attr>;
    if (rule.write === 'create-order') return str(item['pk']) === pk && str(item['sk']) === 'ORDER';
    const status = rule.write === 'commit' ? 'DECLINED' : 'FENCED';
    return str(item['pk']) === pk && str(item['sk']) === sk && str(item['status']) === status;
  }
  return false;
}

export class InjectedFault extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** One client for every function of a saga; tests arm rules for the orders they run. */
export function faultInjector(): FaultInjector {
  const rules: { rule: FaultRule; fired: number; settled: number }[] = [];
  const client = new DynamoDBClient({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const armed = rules.find(
        (r) => r.fired < (r.rule.times ?? 1) && matches(r.rule, String(context.commandName), input),
      );
      if (!armed) return next(args);
      armed.fired++;
      const { rule } = armed;
      switch (rule.fault) {
        case 'transient':
          throw new InjectedFault(
            'ProvisionedThroughputExceededException',
            `Injected throttling of ${rule.step} (${rule.write})`,
          );
        case 'crash': {
          await next(args);
          // The write committed; the process dies before it can answer (Lambda: Runtime.ExitError).
          throw new InjectedFault('Runtime.ExitError', `Injected crash after ${rule.step} (${rule.write}) committed`);
        }
        case 'hold':
          await rule.gate;
          try {
            return await next(args);
          } finally {
            armed.settled++;
          }
      }
    },
    { step: 'initialize', name: 'injectFaults' },
  );
  return {
    ddb: documentClient(client),
    add(rule) {
      const armed = { rule, fired: 0, settled: 0 };
      rules.push(armed);
      return Object.assign(() => armed.fired, { settled: () => armed.settled });
    },
  };
}

/**
 * A client for an event consumer that crashes the write recording a delivery done
 * (DeliveryStore.complete), after the effect: the next `n` such writes throw InjectedCrash.
 */
export function crashingDeliveries(): { ddb: DynamoDBDocumentClient; crashNextCompletions: (n: number) => void } {
  let armed = 0;
  const client = new DynamoDBClient({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { UpdateExpression?: string };
      // The write that records the delivery done (DeliveryStore.complete).
      if (armed > 0 && context.commandName === 'UpdateItemCommand' && input.UpdateExpression?.includes('completedAt')) {
        armed--;
        throw Object.assign(new Error('injected crash before recording the delivery'), { name: 'InjectedCrash' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'crashCompletions' },
  );
  return { ddb: documentClient(client), crashNextCompletions: (n) => (armed += n) };
}
