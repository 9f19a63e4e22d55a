import dagre from '@dagrejs/dagre';
import { SAGA_STEPS } from '../../lambdas/domain/steps.js';

/**
 * The state machine drawn for the local console: every state of the definition as a box, every
 * transition (Next, a Choice's branches and default, a Catch) as an arrow, laid out top to bottom
 * by dagre and written as one SVG. Each state's group carries `data-state` (its name) and
 * `data-kind`, so the page highlights an order's path by adding classes, without drawing again.
 */
export type StateKind = 'step' | 'compensation' | 'outcome' | 'pass' | 'choice' | 'fail' | 'succeed';

interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
}
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
}

export interface GraphState {
  name: string;
  kind: StateKind;
}

/**
 * The part of dagre used here. Its declarations import their siblings without file extensions,
 * which NodeNext resolution does not follow, so its own types arrive unresolved: stated here.
 */
interface LayoutGraph {
  setGraph(label: Record<string, number | string>): void;
  setDefaultEdgeLabel(label: () => object): void;
  setNode(name: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string, label: object, name: string): void;
  graph(): { width?: number; height?: number };
  node(name: string): { x: number; y: number; width: number; height: number };
  edge(edge: { v: string; w: string; name: string }): { points?: { x: number; y: number }[] };
}
const layoutLib = dagre as unknown as {
  graphlib: { Graph: new (options: { multigraph: boolean }) => LayoutGraph };
  layout(graph: LayoutGraph): void;
};

const FORWARD = new Set<string>(SAGA_STEPS.map((s) => s.name));
const COMPENSATIONS = new Set<string>(SAGA_STEPS.map((s) => s.compensation.name));

export function kindOf(name: string, state: AslState): StateKind {
  if (state.Type === 'Task') return FORWARD.has(name) ? 'step' : COMPENSATIONS.has(name) ? 'compensation' : 'outcome';
  if (state.Type === 'Choice') return 'choice';
  if (state.Type === 'Fail') return 'fail';
  if (state.Type === 'Succeed') return 'succeed';
  return 'pass';
}

export function statesOf(definition: AslDefinition): GraphState[] {
  return Object.entries(definition.States).map(([name, state]) => ({ name, kind: kindOf(name, state) }));
}

interface Transition {
  from: string;
  to: string;
  /** A Catch: drawn dashed, labelled with the errors it catches. */
  caught?: string[];
}

function transitionsOf(definition: AslDefinition): Transition[] {
  return Object.entries(definition.States).flatMap(([from, s]): Transition[] => [
    ...(s.Next ? [{ from, to: s.Next }] : []),
    ...(s.Choices ?? []).map((c) => ({ from, to: c.Next })),
    ...(s.Default ? [{ from, to: s.Default }] : []),
    ...(s.Catch ?? []).map((c) => ({ from, to: c.Next, caught: c.ErrorEquals })),
  ]);
}

const FONT_PX = 12;
const LINE_PX = 14;

/** A long name over two lines, split between its words near the middle, so the graph stays narrow. */
export function linesOf(name: string): string[] {
  if (name.length <= 18) return [name];
  const words = name.match(/[A-Z][a-z]*|[a-z]+|[0-9]+/g) ?? [name];
  let best = [name];
  let bestWidth = Infinity;
  for (let i = 1; i < words.length; i++) {
    const lines = [words.slice(0, i).join(''), words.slice(i).join('')];
    const width = Math.max(...lines.map((l) => l.length));
    if (width < bestWidth) [best, bestWidth] = [lines, width];
  }
  return best;
}

/** Box size: wide enough for the name in a 12 px sans-serif; passes and choices are smaller. */
function sizeOf(name: string, kind: StateKind): { width: number; height: number } {
  const small = kind === 'pass' || kind === 'choice';
  const lines = linesOf(name);
  const chars = Math.max(...lines.map((l) => l.length));
  return {
    width: Math.max(70, Math.ceil(chars * (small ? 6.4 : 7.2)) + 18),
    height: (small ? 10 : 18) + lines.length * LINE_PX,
  };
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The SVG of the definition (width and height in px; it scales by its viewBox). */
export function drawStateMachine(definition: AslDefinition): string {
  const g = new layoutLib.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 12, ranksep: 30, edgesep: 6, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const states = statesOf(definition);
  g.setNode('__start', { width: 14, height: 14 });
  for (const s of states) g.setNode(s.name, sizeOf(s.name, s.kind));
  const transitions = transitionsOf(definition);
  g.setEdge('__start', definition.StartAt, {}, 'start');
  transitions.forEach((t, i) => g.setEdge(t.from, t.to, { minlen: 1 }, `t${i}`));
  layoutLib.layout(g);

  const graph = g.graph();
  const width = Math.ceil(graph.width ?? 0);
  const height = Math.ceil(graph.height ?? 0);
  // Through dagre's points with rounded corners: straight to each midpoint, curving at the point.
  const path = (points: { x: number; y: number }[]) => {
    const f = (p: { x: number; y: number }) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    const [first, ...rest] = points;
    if (!first) return '';
    const last = rest.pop();
    let d = `M${f(first)}`;
    for (let i = 0; i < rest.length; i++) {
      const p = rest[i] as { x: number; y: number };
      const next = rest[i + 1] ?? last ?? p;
      d += ` Q${f(p)} ${f({ x: (p.x + next.x) / 2, y: (p.y + next.y) / 2 })}`;
    }
    return last ? `${d} L${f(last)}` : d;
  };

  const edges = [
    { from: '__start', to: definition.StartAt, name: 'start' } as Transition & { name: string },
    ...transitions.map((t, i) => ({ ...t, name: `t${i}` })),
  ].map((t) => {
    const points = g.edge({ v: t.from, w: t.to, name: t.name }).points ?? [];
    const title = t.caught ? `<title>Catch ${esc(t.caught.join(', '))}</title>` : '';
    return (
      `<path class="edge${t.caught ? ' caught' : ''}" data-from="${esc(t.from)}" data-to="${esc(t.to)}" ` +
      `d="${path(points)}" marker-end="url(#arrow)">${title}</path>`
    );
  });

  const start = g.node('__start');
  const nodes = states.map((s) => {
    const n = g.node(s.name);
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    const rx = s.kind === 'pass' || s.kind === 'choice' ? 12 : 5;
    const lines = linesOf(s.name);
    return (
      `<g class="state ${s.kind}" data-state="${esc(s.name)}" data-kind="${s.kind}" id="state-${esc(s.name)}">` +
      `<title>${esc(s.name)} (${s.kind})</title>` +
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${n.width}" height="${n.height}" rx="${rx}"/>` +
      `<text x="${n.x.toFixed(1)}" y="${(n.y + FONT_PX / 3 - ((lines.length - 1) * LINE_PX) / 2).toFixed(1)}" text-anchor="middle">` +
      lines.map((l, i) => `<tspan x="${n.x.toFixed(1)}" dy="${i === 0 ? 0 : LINE_PX}">${esc(l)}</tspan>`).join('') +
      `</text>` +
      // The order of visits and the retries, filled in by the page.
      `<text class="badge" x="${(x + n.width - 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="end"></text>` +
      `</g>`
    );
  });

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="${FONT_PX}" role="img" ` +
    `aria-label="The purchase state machine">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse">` +
    `<path d="M0,0 L10,5 L0,10 z"/></marker></defs>` +
    `<circle class="start" cx="${start.x}" cy="${start.y}" r="6"/>` +
    edges.join('') +
    nodes.join('') +
    `</svg>`
  );
}
