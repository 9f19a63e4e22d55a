/**
 * The console page: polls the console's read-only views every second, draws the selected
 * order's path on the state machine, and buys through the HTTP API like any client (a
 * development token, an Idempotency-Key per purchase, the same key again for a replay).
 */

import type { Visit } from '../path.js';
import type { OrderSummary, OrderView, ShopView } from '../view-types.js';

interface Purchase {
  userId: string;
  key: string;
  body: { itemId: string; quantity: number; couponId?: string };
}

const POLL_MS = 1000;
let selected: string | undefined;
let lastPurchase: Purchase | undefined;
const tokens = new Map<string, string>();

function $(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing`);
  return found;
}

/** An element with attributes and text children: the page never writes HTML from data. */
function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function tokenFor(userId: string): Promise<string> {
  const known = tokens.get(userId);
  if (known) return known;
  const { token } = await postJson<{ token: string }>('/console/api/token', { userId });
  tokens.set(userId, token);
  return token;
}

// ---- Buying through the HTTP API ---------------------------------------------------------------

async function send(purchase: Purchase, again: boolean): Promise<void> {
  $('last-answer').textContent = 'Sending…';
  delete $('last-answer').dataset['orderId'];
  const res = await fetch('/orders', {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${await tokenFor(purchase.userId)}`,
      'Idempotency-Key': purchase.key,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(purchase.body),
  });
  const text = await res.text();
  $('last-answer').textContent =
    `${again ? 'Again: ' : ''}POST /orders, Idempotency-Key ${purchase.key.slice(0, 8)}… → ${res.status} ` +
    text.slice(0, 240);
  try {
    const body = JSON.parse(text) as { orderId?: unknown };
    if (typeof body.orderId === 'string') {
      selected = body.orderId;
      $('last-answer').dataset['orderId'] = body.orderId;
    }
  } catch {
    // Not JSON: shown above as it came.
  }
  await refresh();
}

async function buy(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  $('last-answer').textContent = 'Sending…';
  const form = new FormData(event.target as HTMLFormElement);
  const field = (name: string) => {
    const value = form.get(name);
    return typeof value === 'string' ? value.trim() : '';
  };
  const couponId = field('couponId');
  const purchase: Purchase = {
    userId: field('userId'),
    key: crypto.randomUUID(),
    body: { itemId: field('itemId'), quantity: Number(field('quantity')), ...(couponId ? { couponId } : {}) },
  };
  // The provider stand-in learns what to do with this purchase's charge before it is made.
  await postJson('/console/api/provider', {
    userId: purchase.userId,
    idempotencyKey: purchase.key,
    behaviour: field('behaviour'),
  });
  lastPurchase = purchase;
  ($('replay-button') as HTMLButtonElement).disabled = false;
  await send(purchase, false);
}

// ---- Drawing ------------------------------------------------------------------------------------

function drawOrders(orders: OrderSummary[]): void {
  const rows = orders.map((o) => {
    const row = el(
      'tr',
      { 'data-order-id': o.orderId, 'data-status': o.status, class: o.orderId === selected ? 'selected' : '' },
      el('td', {}, el('code', {}, o.orderId.slice(0, 12))),
      el('td', {}, o.userId),
      el('td', {}, `${o.quantity} × ${o.itemId}${o.couponId ? ` (${o.couponId})` : ''}`),
      el('td', {}, String(o.totalAmount)),
      el(
        'td',
        { class: `status ${o.status}` },
        o.status,
        ...(o.reason ? [el('div', { class: 'reason' }, o.reason)] : []),
      ),
    );
    row.addEventListener('click', () => {
      selected = o.orderId;
      void refresh();
    });
    return row;
  });
  $('order-rows').replaceChildren(...rows);
}

/** Mark the states and transitions of a path on the drawn state machine. */
function drawPath(path: Visit[]): void {
  for (const g of document.querySelectorAll('g.state')) {
    g.classList.remove('visited', 'at-caught', 'at-failed', 'running');
    g.removeAttribute('data-seq');
    const badge = g.querySelector('.badge');
    if (badge) badge.textContent = '';
  }
  for (const e of document.querySelectorAll('path.edge.taken')) e.classList.remove('taken');
  const byState = new Map<string, Visit[]>();
  for (const v of path) byState.set(v.state, [...(byState.get(v.state) ?? []), v]);
  for (const [state, visits] of byState) {
    const g = document.querySelector(`g.state[data-state="${CSS.escape(state)}"]`);
    if (!g) continue;
    g.classList.add('visited');
    for (const v of visits) {
      if (v.outcome !== 'done') g.classList.add(v.outcome === 'running' ? 'running' : `at-${v.outcome}`);
    }
    g.setAttribute('data-seq', visits.map((v) => v.seq).join(' '));
    const retries = visits.reduce((n, v) => n + v.retries, 0);
    const badge = g.querySelector('.badge');
    if (badge) badge.textContent = visits.map((v) => v.seq).join(',') + (retries ? ` ↻${retries}` : '');
  }
  const edge = (from: string, to: string) =>
    document.querySelector(`path.edge[data-from="${CSS.escape(from)}"][data-to="${CSS.escape(to)}"]`);
  if (path[0]) edge('__start', path[0].state)?.classList.add('taken');
  for (let i = 1; i < path.length; i++) {
    edge(path[i - 1]?.state ?? '', path[i]?.state ?? '')?.classList.add('taken');
  }
}

function list(title: string, items: string[]): HTMLElement[] {
  return [
    el('h3', {}, title),
    items.length ? el('ul', {}, ...items.map((i) => el('li', {}, i))) : el('p', { class: 'muted' }, 'none'),
  ];
}

function drawOrder(view: OrderView | undefined): void {
  $('selected-order').textContent = view ? view.order.orderId : '—';
  if (!view) {
    drawPath([]);
    $('order-detail').replaceChildren(el('p', { class: 'muted' }, 'Pick an order to see its path.'));
    return;
  }
  const { order } = view;
  const execution = view.executions.at(-1);
  drawPath(execution?.path ?? []);
  const facts: [string, string][] = [
    ['status', order.status],
    ['user', order.userId],
    ['item', `${order.quantity} × ${order.itemId}`],
    ['coupon', order.couponId ?? '—'],
    ['total', String(order.totalAmount)],
    ...(order.failedStep ? ([['failed at', order.failedStep]] as [string, string][]) : []),
    ...(order.reason ? ([['reason', order.reason]] as [string, string][]) : []),
    ...(order.compensationStep ? ([['compensation failed', order.compensationStep]] as [string, string][]) : []),
    // The saga gave up on this order: the reconciler retries its compensations until they succeed.
    ...(order.compensationStep && order.status === 'COMPENSATION_FAILED'
      ? ([['reconciler retries', String(order.compensationAttempts ?? 0)]] as [string, string][])
      : []),
    ...(order.compensationStep && order.status !== 'COMPENSATION_FAILED'
      ? ([['finished by', 'the reconciler']] as [string, string][])
      : []),
    ['executions', String(view.executions.length)],
  ];
  const dl = el('dl', {}, ...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, v)]));
  const path = el(
    'ol',
    { class: 'path' },
    ...(execution?.path ?? []).map((v) =>
      el(
        'li',
        { class: v.outcome, 'data-state': v.state },
        v.state +
          (v.retries ? ` (retried ${v.retries}×)` : '') +
          (v.outcome === 'caught' || v.outcome === 'failed' ? ` — ${v.error ?? 'failed'}` : '') +
          (v.outcome === 'running' ? ' — running' : ''),
      ),
    ),
  );
  const charges = view.charges.map(
    (c) =>
      `${c.chargeId}: ${c.amount} ${c.status}` +
      (c.declineCode ? ` (${c.declineCode})` : '') +
      (c.refundId ? `, refund ${c.refundId}` : ''),
  );
  $('order-detail').replaceChildren(
    dl,
    el('h3', {}, `Path of its execution (${execution?.status ?? 'none yet'})`),
    path,
    ...list(
      'Step records',
      view.steps.map((s) => `${s.step}: ${s.status} ${JSON.stringify(s.effect ?? {})}`),
    ),
    ...list(
      'Events',
      view.events.map((e) => `${e.at.slice(11, 23)} ${e.type}`),
    ),
    ...list('Payment provider', charges),
    ...list(
      'Notifications',
      view.notifications.map((n) => `${n.kind}: ${n.subject}`),
    ),
    ...list(
      'Transmissions',
      view.transmissions.map((t) => `${t.type} ${t.eventId.slice(0, 12)}`),
    ),
  );
}

function drawShop(shop: ShopView): void {
  const head = (...names: string[]) => el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n))));
  const users = el(
    'table',
    {},
    head('User', 'Balance', 'Slots', 'Items'),
    el(
      'tbody',
      {},
      ...shop.users.map((u) =>
        el(
          'tr',
          { 'data-user': u.userId },
          el('td', {}, u.userId),
          el('td', { 'data-balance': String(u.balance) }, String(u.balance)),
          el('td', {}, `${u.slots.used}/${u.slots.capacity}`),
          el(
            'td',
            {},
            Object.entries(u.items)
              .map(([i, q]) => `${q} × ${i}`)
              .join(', ') || '—',
          ),
        ),
      ),
    ),
  );
  const items = el(
    'table',
    {},
    head('Item', 'Price', 'Stock'),
    el(
      'tbody',
      {},
      ...shop.items.map((i) =>
        el(
          'tr',
          { 'data-item': i.itemId },
          el('td', {}, i.name),
          el('td', {}, String(i.price)),
          el('td', { 'data-stock': String(i.stock) }, String(i.stock)),
        ),
      ),
    ),
  );
  $('shop-detail').replaceChildren(users, el('h3', {}, 'Items'), items);
  fillSelect(
    'user',
    shop.users.map((u) => u.userId),
  );
  fillSelect(
    'item',
    shop.items.map((i) => i.itemId),
  );
}

/** Options once: a refresh must not reset what the user picked. */
function fillSelect(id: string, values: string[]): void {
  const select = $(id) as HTMLSelectElement;
  if (select.options.length === values.length) return;
  const current = select.value;
  select.replaceChildren(...values.map((v) => el('option', { value: v }, v)));
  if (values.includes(current)) select.value = current;
}

let refreshing = false;
async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    const [orders, shop] = await Promise.all([
      getJson<OrderSummary[]>('/console/api/orders'),
      getJson<ShopView>('/console/api/shop'),
    ]);
    drawOrders(orders);
    drawShop(shop);
    const view = selected
      ? await getJson<OrderView>(`/console/api/orders/${encodeURIComponent(selected)}`).catch(() => undefined)
      : undefined;
    drawOrder(view);
    document.body.dataset['refreshed'] = new Date().toISOString();
  } finally {
    refreshing = false;
  }
}

$('buy').addEventListener('submit', (e) => void buy(e));
$('replay-button').addEventListener('click', () => {
  if (lastPurchase) void send(lastPurchase, true);
});
void refresh();
setInterval(() => void refresh(), POLL_MS);
