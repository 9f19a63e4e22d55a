import { randomUUID } from 'node:crypto';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { startLocalSaga, type LocalSaga, type LocalSagaOptions } from '../../local/saga.js';
import type { ExecutionRecord } from '../../local/stepfunctions.js';
import { grantCoupon, putItem, setSlotCapacity, topUpBalance } from '../../lambdas/saga/admin.js';
import type { Deps } from '../../lambdas/saga/deps.js';
import { createOrder, executionInput } from '../../lambdas/saga/orders.js';
import type { OutboxEvent } from '../../lambdas/domain/events.js';
import type { Order } from '../../lambdas/domain/model.js';
import { stepsFor } from '../../lambdas/domain/steps.js';
import { eventsOf } from '../../lambdas/shared/dynamodb/outbox.js';
import type { TableVar } from '../../lambdas/shared/config.js';
import { scriptPaymentProvider, type PaymentScript } from '../../lambdas/payments/simulated.js';
import { recordGrantUse } from './grant-use.js';

/**
 * A fresh saga on the shared DynamoDB Local: its own tables (unique prefix), the template the
 * global setup synthesized, and retries that wait milliseconds instead of seconds. The events
 * pipeline is off unless asked for (`events: {}`): the consumers write NOTIFICATION_SENT into an
 * order's timeline whenever they get to it, which suites asserting exact timelines do not want.
 */
export async function localSaga(options: Partial<LocalSagaOptions> = {}): Promise<LocalSaga> {
  return startLocalSaga({
    dynamoEndpoint: inject('dynamoEndpoint'),
    template: options.stackProps ? undefined : inject('template'),
    tablePrefix: `t${randomUUID().slice(0, 8)}-`,
    retryIntervalMs: 5,
    events: false,
    recordGrantUse,
    ...options,
  });
}

export function depsOf(saga: LocalSaga): Deps<TableVar> {
  return { ddb: saga.ddb, tables: saga.tables, clock: () => new Date() };
}

export interface ShopSpec {
  items?: { itemId: string; price: number; stock: number }[];
  users?: { userId: string; balance: number; slots: number }[];
  coupons?: { userId: string; couponId: string; discount: number; expiresAt?: string }[];
}

/** Stock the shop through the same admin operations the API uses (balances get ledger entries). */
export async function seed(saga: LocalSaga, spec: ShopSpec): Promise<void> {
  const deps = depsOf(saga);
  await Promise.all([
    ...(spec.items ?? []).map((i) => putItem(deps, { ...i, name: `Item ${i.itemId}` })),
    ...(spec.users ?? []).flatMap((u) => [
      topUpBalance(deps, { userId: u.userId, amount: u.balance, topUpId: `seed-${u.userId}` }),
      setSlotCapacity(deps, { userId: u.userId, capacity: u.slots }),
    ]),
    ...(spec.coupons ?? []).map((c) => grantCoupon(deps, { expiresAt: '2099-01-01T00:00:00.000Z', ...c })),
  ]);
}

export interface Purchase {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
  couponId?: string;
}

/** Create the order (PENDING + ORDER_CREATED) and start the workflow, as the API will. */
export async function startPurchase(saga: LocalSaga, purchase: Purchase) {
  const { order } = await createOrder(depsOf(saga), purchase);
  return { order, execution: saga.stateMachine.start(executionInput(order), order.orderId) };
}

export async function purchase(saga: LocalSaga, p: Purchase): Promise<{ order: Order; run: ExecutionRecord }> {
  const { order, execution } = await startPurchase(saga, p);
  return { order, run: await execution.done };
}

export function scriptProvider(saga: LocalSaga, orderId: string, script: PaymentScript): Promise<void> {
  return scriptPaymentProvider(saga.ddb, saga.tables.PAYMENTS_TABLE, orderId, script);
}

export function newOrderId(): string {
  return `o-${randomUUID()}`;
}

// ---------------------------------------------------------------------------------------------
// Execution history

/** Task states in the order they were entered (a retried state appears once per entry). */
export function tasksEntered(run: ExecutionRecord): string[] {
  return run.history.flatMap((e) =>
    e.type === 'StateEntered' && 'state' in e && e.state.type === 'Task' ? [e.state.name] : [],
  );
}

export function retriesOf(run: ExecutionRecord, state: string): number {
  return run.history.filter((e) => e.type === 'StateRetried' && 'state' in e && e.state.name === state).length;
}

export function failuresOf(run: ExecutionRecord, state: string): string[] {
  return run.history.flatMap((e) =>
    e.type === 'StateFailed' && 'state' in e && e.state.name === state && 'Error' in e ? [e.Error] : [],
  );
}

// ---------------------------------------------------------------------------------------------
// Reading every aggregate

async function scanAll(ddb: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/**
 * Every item of every table of the saga (idempotency and notifications included), by table
 * variable, each table's items in a stable order: two scans are deep-equal exactly when nothing
 * was written in between.
 */
export async function scanTables(saga: LocalSaga): Promise<Record<string, Record<string, unknown>[]>> {
  const tables = await Promise.all(
    Object.entries(saga.tables).map(async ([name, table]) => {
      const items = await scanAll(saga.ddb, table);
      const keyed = items.map((item) => ({ item, order: JSON.stringify(item) }));
      keyed.sort((a, b) => a.order.localeCompare(b.order));
      return [name, keyed.map((k) => k.item)] as const;
    }),
  );
  return Object.fromEntries(tables);
}

type Item = Record<string, unknown>;
const sk = (i: Item) => String(i['sk']);
const num = (v: unknown) => Number(v ?? 0);

export interface Snapshot {
  balances: Map<string, number>;
  ledger: Item[];
  stock: Map<string, number>;
  slots: Map<string, { capacity: number; usedSlots: number; freeSlots: number }>;
  held: Item[];
  reservations: Item[];
  coupons: Item[];
  orders: Map<string, Order>;
  steps: Item[];
  events: OutboxEvent[];
  payments: Item[];
  providerCharges: Item[];
}

export async function snapshot(saga: LocalSaga): Promise<Snapshot> {
  const t = saga.tables;
  const [accounts, catalog, inventory, coupons, orders, payments] = (await Promise.all(
    [t.ACCOUNTS_TABLE, t.CATALOG_TABLE, t.INVENTORY_TABLE, t.COUPONS_TABLE, t.ORDERS_TABLE, t.PAYMENTS_TABLE].map(
      (name) => scanAll(saga.ddb, name),
    ),
  )) as [Item[], Item[], Item[], Item[], Item[], Item[]];
  return {
    balances: new Map(accounts.filter((i) => sk(i) === 'ACCOUNT').map((i) => [String(i['userId']), num(i['balance'])])),
    ledger: accounts.filter((i) => sk(i).startsWith('LEDGER#')),
    stock: new Map(catalog.map((i) => [String(i['itemId']), num(i['stock'])])),
    slots: new Map(
      inventory
        .filter((i) => sk(i) === 'SLOTS')
        .map((i) => [
          String(i['userId']),
          { capacity: num(i['capacity']), usedSlots: num(i['usedSlots']), freeSlots: num(i['freeSlots']) },
        ]),
    ),
    held: inventory.filter((i) => sk(i).startsWith('ITEM#')),
    reservations: inventory.filter((i) => sk(i).startsWith('RESERVATION#')),
    coupons,
    orders: new Map(orders.filter((i) => sk(i) === 'ORDER').map((i) => [String(i['orderId']), i as unknown as Order])),
    steps: orders.filter((i) => sk(i).startsWith('STEP#')),
    events: orders.flatMap((i) => eventsOf(i)),
    payments: payments.filter((i) => sk(i) === 'PAYMENT'),
    providerCharges: payments.filter((i) => String(i['pk']).startsWith('SIMPROVIDER#CHARGE#')),
  };
}

export function eventTypes(s: Snapshot, orderId: string): string[] {
  return s.events
    .filter((e) => e.orderId === orderId)
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
    .map((e) => e.type);
}

export function stepStatuses(s: Snapshot, orderId: string): Record<string, string> {
  return Object.fromEntries(
    s.steps.filter((r) => r['orderId'] === orderId).map((r) => [String(r['step']), String(r['status'])]),
  );
}

/**
 * The invariants of DESIGN section 4, checked once every order has stopped. Returns the list of
 * violations (empty when all hold) so a failing test shows every broken rule at once.
 */
export function invariantViolations(s: Snapshot, shop: ShopSpec): string[] {
  const v: string[] = [];
  const captured = s.providerCharges.filter((c) => c['status'] === 'CAPTURED');

  // Money: wallets + captured payments = everything ever topped up.
  const toppedUp = s.ledger.filter((l) => l['kind'] === 'TOP_UP').reduce((a, l) => a + num(l['amount']), 0);
  const wallets = [...s.balances.values()].reduce((a, b) => a + b, 0);
  const capturedTotal = captured.reduce((a, c) => a + num(c['amount']), 0);
  if (wallets + capturedTotal !== toppedUp)
    v.push(`money: wallets ${wallets} + captured ${capturedTotal} != topped up ${toppedUp}`);

  // Every balance change has a ledger entry; no balance is negative.
  for (const [userId, balance] of s.balances) {
    const sum = s.ledger.filter((l) => l['userId'] === userId).reduce((a, l) => a + num(l['amount']), 0);
    if (sum !== balance) v.push(`ledger: ${userId} balance ${balance} != ledger sum ${sum}`);
    if (balance < 0) v.push(`balance: ${userId} is negative (${balance})`);
  }

  // Stock + granted items is conserved.
  for (const item of shop.items ?? []) {
    const granted = s.held.filter((h) => h['itemId'] === item.itemId).reduce((a, h) => a + num(h['quantity']), 0);
    const stock = s.stock.get(item.itemId) ?? 0;
    if (stock + granted !== item.stock)
      v.push(`stock: ${item.itemId} stock ${stock} + granted ${granted} != ${item.stock}`);
    if (stock < 0) v.push(`stock: ${item.itemId} is negative`);
  }

  // Slots used = items held + live reservations; free = capacity - used.
  for (const [userId, slot] of s.slots) {
    const held = s.held.filter((h) => h['userId'] === userId).reduce((a, h) => a + num(h['quantity']), 0);
    const reserved = s.reservations.filter((r) => r['userId'] === userId).reduce((a, r) => a + num(r['slots']), 0);
    if (slot.usedSlots !== held + reserved)
      v.push(`slots: ${userId} used ${slot.usedSlots} != held ${held} + reserved ${reserved}`);
    if (slot.freeSlots !== slot.capacity - slot.usedSlots)
      v.push(`slots: ${userId} free ${slot.freeSlots} != capacity - used`);
  }
  // Once every order stopped, no reservation is live.
  for (const r of s.reservations) v.push(`slots: reservation of order ${String(r['orderId'])} outlived its order`);

  for (const order of s.orders.values()) {
    const id = order.orderId;
    const charges = s.providerCharges.filter((c) => c['orderId'] === id);
    const capturedForOrder = charges.filter((c) => c['status'] === 'CAPTURED');
    if (charges.length > 1) v.push(`payment: order ${id} has ${charges.length} provider charges`);
    const steps = stepStatuses(s, id);
    switch (order.status) {
      case 'COMPLETED': {
        for (const step of stepsFor(order))
          if (steps[step] !== 'COMMITTED') v.push(`order ${id} COMPLETED but ${step} is ${steps[step] ?? 'missing'}`);
        if (capturedForOrder.length !== 1 || num(capturedForOrder[0]?.['amount']) !== order.totalAmount) {
          v.push(`order ${id} COMPLETED without exactly one capture of ${order.totalAmount}`);
        }
        break;
      }
      case 'FAILED': {
        if (!order.failedStep || !order.reason) v.push(`order ${id} FAILED without failedStep/reason`);
        for (const [step, status] of Object.entries(steps)) {
          if (status === 'COMMITTED') v.push(`order ${id} FAILED but ${step} is still COMMITTED`);
        }
        if (capturedForOrder.length > 0) v.push(`order ${id} FAILED but its payment is captured`);
        break;
      }
      case 'COMPENSATION_FAILED':
        break;
      case 'PENDING':
      default:
        v.push(`order ${id} is still ${order.status}`);
    }
  }

  // A coupon is USED exactly when a completed order used it.
  for (const c of s.coupons) {
    const usedBy = c['usedByOrderId'];
    const order = typeof usedBy === 'string' ? s.orders.get(usedBy) : undefined;
    if (c['status'] === 'USED' && order?.status !== 'COMPLETED')
      v.push(`coupon ${String(c['couponId'])} USED by a non-completed order`);
    if (c['status'] === 'AVAILABLE' && usedBy !== undefined)
      v.push(`coupon ${String(c['couponId'])} AVAILABLE but marked used`);
  }
  return v;
}
