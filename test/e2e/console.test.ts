import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProviderBehaviour } from '../../local/console/server.js';
import { freePort } from '../../local/dynamodb-local.js';
import { startLocalSystem, type LocalSystem } from '../../local/system.js';
import { ASL_FILE, REPO_ROOT } from '../../local/template.js';
import { recordGrantUse } from '../support/grant-use.js';

/**
 * The local console in a real browser: headless Chromium (Debian's `chromium`, which .ci/run
 * installs; CHROMIUM_PATH points elsewhere) driven by playwright-core, against the system
 * `npm start` runs, buying through the page as a person would. Screenshots go to
 * .local/console/ (look at them), and the declined purchase to docs/console.png (the README's
 * picture) with UPDATE_SCREENSHOTS=1 (`npm run screenshots`).
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, '.local/console');
/** `npm run screenshots` refreshes the README's picture from the declined purchase. */
const README_PICTURE = process.env['UPDATE_SCREENSHOTS'] ? join(REPO_ROOT, 'docs/console.png') : undefined;
const STATES = Object.keys((JSON.parse(readFileSync(ASL_FILE, 'utf8')) as { States: object }).States);

let system: LocalSystem;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  system = await startLocalSystem({
    port: await freePort(),
    dynamoEndpoint: inject('dynamoEndpoint'),
    tablePrefix: `console${Date.now()}-`,
    // The reconciler runs when a test says so; the state machine retries in milliseconds.
    reconcileEveryMs: 0,
    retryIntervalMs: 5,
    recordGrantUse,
  });
  // Root in a container has no user namespaces for Chromium's sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(`${system.url}/console`);
  await page.waitForSelector('#user option', { state: 'attached' });
});

afterAll(async () => {
  // Unassigned when setup failed.
  await (browser as Browser | undefined)?.close();
  await (system as LocalSystem | undefined)?.stop();
});

interface Buy {
  userId: string;
  itemId: string;
  couponId?: string;
  behaviour?: ProviderBehaviour;
}

/** Buy through the form; resolves with the order the API answered with, once it has ended. */
async function buy(b: Buy, until: readonly string[] = ['COMPLETED', 'FAILED']): Promise<string> {
  await page.selectOption('#user', b.userId);
  await page.selectOption('#item', b.itemId);
  await page.fill('#quantity', '1');
  await page.fill('#coupon', b.couponId ?? '');
  await page.selectOption('#behaviour', b.behaviour ?? 'normal');
  await page.click('#buy-button');
  await page.locator('#last-answer', { hasText: /^POST \/orders.*→ \d{3}/ }).waitFor();
  // Every answer of POST /orders names its order (problems too); the page keeps it there.
  const orderId = await page.getAttribute('#last-answer', 'data-order-id');
  if (!orderId) throw new Error(`No order in the answer: ${await page.textContent('#last-answer')}`);
  await ended(orderId, until);
  return orderId;
}

/** Waits until the live list shows the order in one of `statuses`, selected, and its path on the graph. */
async function ended(orderId: string, statuses: readonly string[] = ['COMPLETED', 'FAILED']): Promise<void> {
  const row = `#order-rows tr[data-order-id="${orderId}"]`;
  await page.locator(statuses.map((s) => `${row}[data-status="${s}"]`).join(', ')).waitFor({ timeout: 30_000 });
  await page.locator('#selected-order', { hasText: orderId }).waitFor();
  // One more refresh, so the graph shows the final path of the selected order.
  const before = await page.getAttribute('body', 'data-refreshed');
  await expect.poll(() => page.getAttribute('body', 'data-refreshed'), { timeout: 15_000 }).not.toBe(before);
}

/** The highlighted states of one kind, in the order the path entered them. */
async function visited(kind: string): Promise<string[]> {
  const states = await Promise.all(
    (await page.locator(`g.state.${kind}.visited`).all()).map(async (g) => ({
      name: (await g.getAttribute('data-state')) ?? '',
      seq: Number((await g.getAttribute('data-seq'))?.split(' ')[0]),
    })),
  );
  return states.sort((a, b) => a.seq - b.seq).map((s) => s.name);
}

const balanceOf = async (userId: string) =>
  Number(await page.getAttribute(`tr[data-user="${userId}"] td[data-balance]`, 'data-balance'));
const stockOf = async (itemId: string) =>
  Number(await page.getAttribute(`tr[data-item="${itemId}"] td[data-stock]`, 'data-stock'));
const fact = async (name: string) => page.textContent(`#order-detail dd[data-fact="${name}"]`);

async function shoot(name: string, readme = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
  if (readme && README_PICTURE) await page.screenshot({ path: README_PICTURE, fullPage: true });
}

describe('The local console, in Chromium', () => {
  it('draws every state of the definition, and every transition', async () => {
    const drawn = await Promise.all((await page.locator('g.state').all()).map((g) => g.getAttribute('data-state')));
    expect([...drawn].sort()).toEqual([...STATES].sort());
    // Laid out: every box has a size and a place, and none sits on another.
    const boxes = await Promise.all((await page.locator('g.state rect').all()).map((r) => r.boundingBox()));
    for (const b of boxes) expect((b?.width ?? 0) * (b?.height ?? 0)).toBeGreaterThan(0);
    const overlap = (a: (typeof boxes)[number] | undefined, c: (typeof boxes)[number] | undefined) =>
      !!a && !!c && a.x < c.x + c.width && c.x < a.x + a.width && a.y < c.y + c.height && c.y < a.y + a.height;
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) expect(overlap(boxes[i], boxes[j]), `boxes ${i} and ${j}`).toBe(false);
    expect(await page.locator('path.edge').count()).toBeGreaterThanOrEqual(STATES.length);
  });

  it('shows a purchase made from the page COMPLETED, its six steps highlighted in order', async () => {
    const [balance, stock] = [await balanceOf('alice'), await stockOf('sword')];
    const orderId = await buy({ userId: 'alice', itemId: 'sword', couponId: 'WELCOME' });
    expect(await page.getAttribute(`#order-rows tr[data-order-id="${orderId}"]`, 'data-status')).toBe('COMPLETED');
    expect(await visited('step')).toEqual([
      'DeductBalance',
      'UseCoupon',
      'ReserveInventorySlots',
      'ReserveStock',
      'ChargePayment',
      'CompleteOrder',
    ]);
    expect(await visited('compensation')).toEqual([]);
    expect(await page.locator('g.state.visited.at-caught').count()).toBe(0);
    // The aggregates moved as the seeds say: 3,000 less the 1,000 coupon, one sword out of stock.
    expect(await balanceOf('alice')).toBe(balance - 2_000);
    expect(await stockOf('sword')).toBe(stock - 1);
    await shoot('console-completed.png');
  });

  it('shows a declined payment: the compensations highlighted in reverse order, the order FAILED with its reason', async () => {
    const balance = await balanceOf('bob');
    const orderId = await buy({ userId: 'bob', itemId: 'shield', behaviour: 'decline' });
    expect(await page.getAttribute(`#order-rows tr[data-order-id="${orderId}"]`, 'data-status')).toBe('FAILED');
    expect(await fact('failed at')).toBe('ChargePayment');
    expect(await fact('reason')).toBe('PaymentDeclined');
    expect(await visited('step')).toEqual(['DeductBalance', 'ReserveInventorySlots', 'ReserveStock', 'ChargePayment']);
    expect(await page.getAttribute('g.state[data-state="ChargePayment"]', 'class')).toContain('at-caught');
    expect(await visited('compensation')).toEqual(['RestoreStock', 'ReleaseInventorySlots', 'RefundBalance']);
    expect(await visited('outcome')).toEqual(['MarkOrderFailed']);
    expect(await balanceOf('bob')).toBe(balance);
    await shoot('console-declined.png', true);
  });

  it('counts the retries of a charge that failed once, and the purchase completes', async () => {
    const orderId = await buy({ userId: 'alice', itemId: 'potion', behaviour: 'fail-once' });
    expect(await page.getAttribute(`#order-rows tr[data-order-id="${orderId}"]`, 'data-status')).toBe('COMPLETED');
    expect(await page.textContent('g.state[data-state="ChargePayment"] .badge')).toMatch(/↻1$/);
    expect(await page.textContent('#order-detail ol.path li[data-state="ChargePayment"]')).toContain('retried 1×');
  });

  it('replays the same request with the same Idempotency-Key: no second order, the balance unchanged', async () => {
    const orderId = await buy({ userId: 'alice', itemId: 'potion' });
    const first = (await page.textContent('#last-answer')) ?? '';
    const [orders, balance] = [await page.locator('#order-rows tr').count(), await balanceOf('alice')];
    await page.click('#replay-button');
    await page.locator('#last-answer', { hasText: /^Again: / }).waitFor();
    const again = (await page.textContent('#last-answer')) ?? '';
    // The same status and body, byte for byte, for the same order.
    expect(again.slice('Again: '.length)).toBe(first);
    expect(again).toContain(orderId);
    await ended(orderId);
    expect(await page.locator('#order-rows tr').count()).toBe(orders);
    expect(await balanceOf('alice')).toBe(balance);
  });

  it('leaves an order the saga could not roll back to the reconciler, and shows it finished', async () => {
    const balance = await balanceOf('bob');
    const orderId = await buy({ userId: 'bob', itemId: 'potion', behaviour: 'provider-down' }, ['COMPENSATION_FAILED']);
    // Every charge attempt lost its response; every refund the saga tried failed.
    expect(await page.textContent('#last-answer')).toContain('→ 500');
    expect(await fact('compensation failed')).toBe('RefundPayment');
    expect(await page.getAttribute('g.state[data-state="RefundPayment"]', 'class')).toContain('at-caught');
    // The execution reaches its Fail state just after MarkCompensationFailed wrote the status.
    await page.locator('g.state.visited[data-state="CompensationFailed"]').waitFor();
    expect(await page.textContent('#order-detail')).toMatch(/: 500 CAPTURED/);

    // The schedule's next run: the provider is back, the reconciler refunds and ends the order.
    const run = await system.saga.lambdas.get('Reconciler')?.invoke({});
    expect(run?.ok).toBe(true);
    await ended(orderId);
    expect(await page.getAttribute(`#order-rows tr[data-order-id="${orderId}"]`, 'data-status')).toBe('FAILED');
    expect(await page.textContent('#order-detail')).toMatch(/: 500 REFUNDED, refund /);
    expect(await fact('finished by')).toBe('the reconciler');
    expect(await balanceOf('bob')).toBe(balance);
    await shoot('console-reconciled.png');
  });
});
