/**
 * `npm run bench:bundles`: the size of each function's bundle, built as the stack builds it
 * (BUNDLE_OPTIONS: esbuild, ESM, minified, node22, the AWS SDK included but for the credential
 * chain's fallbacks, semver replaced by its one function) — what
 * Lambda loads on a cold start. Prints every function's bytes and, for each, the three inputs
 * that weigh most, so a heavy import is found by name. Source maps are left out: Lambda does not load them.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { EDGE_FUNCTIONS, EVENT_FUNCTIONS, RECONCILER_FUNCTION, SAGA_FUNCTIONS } from '../infra/catalog.js';
import { BUNDLE_OPTIONS, REPO_ROOT } from '../infra/function.js';

const functions = [...SAGA_FUNCTIONS, ...EDGE_FUNCTIONS, RECONCILER_FUNCTION, ...EVENT_FUNCTIONS].map((f) => ({
  id: f.id,
  dir: f.dir,
}));

/** Package (or project folder) an input file belongs to. */
function owner(input: string): string {
  const parts = input.split('node_modules/');
  const last = parts.at(-1) ?? input;
  if (parts.length === 1) return last.split('/').slice(0, 2).join('/');
  const segments = last.split('/');
  return segments[0]?.startsWith('@') ? segments.slice(0, 2).join('/') : (segments[0] ?? last);
}

const rows: { id: string; bytes: number; top: string }[] = [];
for (const fn of functions) {
  const result = await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(REPO_ROOT, 'lambdas', fn.dir, 'handler.ts')],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0];
  const bytes = result.outputFiles.reduce((sum, f) => sum + f.contents.byteLength, 0);
  const byOwner = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + bytesInOutput);
  }
  const top = [...byOwner.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, b]) => `${name} ${(b / 1024).toFixed(0)} KB`)
    .join(', ');
  rows.push({ id: fn.id, bytes, top });
}

const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`.padStart(8);
console.log('# function bundles (minified, without source maps)');
for (const r of rows.sort((a, b) => b.bytes - a.bytes)) console.log(`${r.id.padEnd(24)}${kb(r.bytes)}   ${r.top}`);
