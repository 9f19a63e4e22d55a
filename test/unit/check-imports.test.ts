import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importProblems, readImportGraph } from '../../scripts/check-imports.js';
import { REPO_ROOT } from '../../local/template.js';

const roots: string[] = [];

/** A throwaway project with the repository's folder names and the given files. */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'imports-'));
  roots.push(root);
  const tsconfig = {
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true },
    include: ['**/*.ts'],
  };
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify(tsconfig));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('Script: check-imports', () => {
  it('finds nothing in this repository', () => {
    const graph = readImportGraph(REPO_ROOT);
    expect(graph.edges.size).toBeGreaterThan(100);
    expect(importProblems(graph)).toEqual([]);
  });

  it('refuses Lambda code importing the CDK app, also for a type only', () => {
    const root = project({
      'infra/catalog.ts': 'export const SOURCE = "s";\nexport type Id = string;\n',
      'lambdas/a/app.ts': "import { SOURCE } from '../../infra/catalog.js';\nexport const x = SOURCE;\n",
      'lambdas/b/app.ts': "import type { Id } from '../../infra/catalog.js';\nexport const y: Id = 'b';\n",
      'infra/stack.ts': "import { x } from '../lambdas/a/app.js';\nexport const z = x;\n",
    });
    expect(importProblems(readImportGraph(root))).toEqual([
      'lambdas/a/app.ts imports infra/catalog.ts: lambdas/ may import only from lambdas/',
      'lambdas/b/app.ts imports infra/catalog.ts: lambdas/ may import only from lambdas/',
    ]);
  });

  it('keeps the domain free of SDK packages and of the rest of the Lambda code', () => {
    const root = project({
      'lambdas/domain/model.ts':
        "import { z } from 'zod';\nimport { readFileSync } from 'node:fs';\n" +
        "import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';\n" +
        "import { KEY } from '../shared/keys.js';\nexport const m = [z, readFileSync, KEY];\nexport type C = DynamoDBClient;\n",
      'lambdas/shared/keys.ts': "export const KEY = 'k';\n",
    });
    expect(importProblems(readImportGraph(root))).toEqual([
      "lambdas/domain/model.ts imports '@aws-sdk/client-dynamodb': lambdas/domain/ may import only zod",
      'lambdas/domain/model.ts imports lambdas/shared/keys.ts: lambdas/domain/ imports only from itself',
    ]);
  });

  it('names each import cycle once, with every file in it', () => {
    const root = project({
      'lambdas/api/app.ts': "import { r } from './routes/orders.js';\nexport type T = string;\nexport const a = r;\n",
      'lambdas/api/routes/orders.ts':
        "import type { T } from '../app.js';\nimport { b } from './admin.js';\nexport const r: T = b;\n",
      'lambdas/api/routes/admin.ts': "import { a } from '../app.js';\nexport const b = String(a);\n",
      'infra/self.ts': "export * from './self.js';\n",
      'infra/ok.ts': "import { r } from '../lambdas/api/routes/orders.js';\nexport const ok = r;\n",
    });
    expect(importProblems(readImportGraph(root))).toEqual([
      'import cycle: infra/self.ts',
      'import cycle: lambdas/api/app.ts <-> lambdas/api/routes/admin.ts <-> lambdas/api/routes/orders.ts',
    ]);
  });
});
