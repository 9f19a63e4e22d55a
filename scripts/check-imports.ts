/**
 * Imports point one way, and never in a circle. Part of `npm run lint`.
 *
 * Every TypeScript file the project's tsconfig includes is read; its static imports, re-exports
 * and literal dynamic imports (type-only ones too: a type cycle is still a design cycle) are
 * resolved the way the compiler resolves them. Then:
 * - a file in one top-level folder may import only from the folders its layer allows (the Lambda
 *   code, above all, never reaches into the CDK app, the local stand-in or the tests);
 * - the domain imports no AWS SDK, CDK or Powertools package;
 * - no two files reach each other through imports (strongly connected components of the graph).
 */
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Top-level folder -> the top-level folders its files may import from. */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  lambdas: ['lambdas'],
  infra: ['infra', 'lambdas'],
  local: ['local', 'infra', 'lambdas'],
  bench: ['bench', 'local', 'infra', 'lambdas'],
  scripts: ['scripts', 'test', 'local', 'infra', 'lambdas'],
  test: ['test', 'scripts', 'bench', 'local', 'infra', 'lambdas'],
};

/** Folders whose code is pure: it may import only inside itself and the listed packages. */
export const PURE: Readonly<Record<string, { packages: readonly string[] }>> = {
  'lambdas/domain': { packages: ['zod'] },
};

export interface ImportGraph {
  /** repo-relative file -> repo-relative files it imports */
  edges: Map<string, Set<string>>;
  /** repo-relative file -> bare package specifiers it imports */
  packages: Map<string, Set<string>>;
}

export function readImportGraph(root: string): ImportGraph {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const edges = new Map<string, Set<string>>();
  const packages = new Map<string, Set<string>>();
  const toRel = (file: string) => relative(root, file).split(sep).join('/');
  for (const file of parsed.fileNames) {
    const from = toRel(file);
    const text = ts.sys.readFile(file);
    if (text === undefined) throw new Error(`Cannot read ${file}`);
    const targets = new Set<string>();
    const bare = new Set<string>();
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!specifier.startsWith('.') && !specifier.startsWith('/')) {
        bare.add(specifier);
        continue;
      }
      const resolved = ts.resolveModuleName(specifier, file, parsed.options, ts.sys).resolvedModule;
      if (!resolved) throw new Error(`${from}: cannot resolve '${specifier}'`);
      targets.add(toRel(resolved.resolvedFileName));
    }
    edges.set(from, targets);
    packages.set(from, bare);
  }
  return { edges, packages };
}

const topFolder = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '');
const within = (file: string, folder: string) => file.startsWith(`${folder}/`);
const packageName = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** One line per import that crosses a layer the wrong way or leaves a pure folder. */
export function layerViolations(graph: ImportGraph): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph.edges) {
    const allowed = LAYERS[topFolder(from)];
    for (const to of targets) {
      if (allowed && !allowed.includes(topFolder(to))) {
        found.push(`${from} imports ${to}: ${topFolder(from)}/ may import only from ${allowed.join('/, ')}/`);
      }
    }
    for (const [folder, { packages }] of Object.entries(PURE)) {
      if (!within(from, folder)) continue;
      for (const to of targets) {
        if (!within(to, folder)) found.push(`${from} imports ${to}: ${folder}/ imports only from itself`);
      }
      for (const specifier of graph.packages.get(from) ?? []) {
        const name = packageName(specifier);
        if (!name.startsWith('node:') && !packages.includes(name)) {
          found.push(`${from} imports '${specifier}': ${folder}/ may import only ${packages.join(', ')}`);
        }
      }
    }
  }
  return found.sort();
}

/** The import cycles: each strongly connected component of more than one file (or a self-import). */
export function importCycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative so a deep chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  for (const start of graph.edges.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; children: string[] }[] = [];
    const enter = (node: string) => {
      index.set(node, next);
      low.set(node, next);
      next += 1;
      stack.push(node);
      onStack.add(node);
      work.push({ node, children: [...(graph.edges.get(node) ?? [])] });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (!frame) break;
      const child = frame.children.pop();
      if (child !== undefined) {
        if (!index.has(child)) enter(child);
        else if (onStack.has(child)) low.set(frame.node, Math.min(lowOf(low, frame.node), indexOf(index, child)));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(lowOf(low, parent.node), lowOf(low, frame.node)));
      if (lowOf(low, frame.node) !== indexOf(index, frame.node)) continue;
      const component: string[] = [];
      for (;;) {
        const member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
        if (member === frame.node) break;
      }
      const selfImport = graph.edges.get(frame.node)?.has(frame.node) ?? false;
      if (component.length > 1 || selfImport) cycles.push(component.sort());
    }
  }
  return cycles.sort((x, y) => x.join().localeCompare(y.join()));
}

function lowOf(low: Map<string, number>, node: string): number {
  const value = low.get(node);
  if (value === undefined) throw new Error(`no lowlink for ${node}`);
  return value;
}

function indexOf(index: Map<string, number>, node: string): number {
  const value = index.get(node);
  if (value === undefined) throw new Error(`no index for ${node}`);
  return value;
}

export function importProblems(graph: ImportGraph): string[] {
  return [...layerViolations(graph), ...importCycles(graph).map((c) => `import cycle: ${c.join(' <-> ')}`)];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const graph = readImportGraph(root);
  const problems = importProblems(graph);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import problem(s)`);
    process.exit(1);
  }
  console.log(`imports: ${graph.edges.size} files, every import one way, no cycles`);
}
