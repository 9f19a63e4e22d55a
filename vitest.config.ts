import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    pool: 'forks',
    // 2 cores: one DynamoDB Local JVM plus two test workers keeps both busy without thrashing.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // The machines here run Node 20 on purpose (the Lambdas run nodejs22.x); the SDK's notice is noise.
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Every Lambda run in-process logs JSON lines and EMF metrics: thousands across the suites,
      // drowning the report. Off unless asked for (POWERTOOLS_LOG_LEVEL=INFO npx vitest ...);
      // suites asserting on them turn them on (test/support/logs.ts).
      POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: process.env['POWERTOOLS_METRICS_DISABLED'] ?? 'true',
    },
  },
});
