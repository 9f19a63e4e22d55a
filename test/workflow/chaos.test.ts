import { describe, expect, it } from 'vitest';
import { chaosSagaOptions, FAULT_KINDS, formatChaosReport, runChaos } from '../support/chaos.js';
import { faultInjector } from '../support/faults.js';
import { localSaga } from '../support/saga.js';

/**
 * The short chaos campaign (the long one is `npm run chaos`): a seeded mix of concurrent
 * purchases, duplicates and faults of every kind, then every invariant of the step contract.
 */
describe('Chaos campaign (short)', () => {
  it('keeps every invariant through a seeded mix of purchases, duplicate requests and faults of every kind', async () => {
    const faults = faultInjector();
    const clock = { offsetMs: 0 };
    const saga = await localSaga(chaosSagaOptions(faults, clock));
    try {
      const started = performance.now();
      const report = await runChaos(saga, faults, clock, { seed: 20261121, purchases: 160, concurrency: 8 });
      console.info(formatChaosReport(report, performance.now() - started));

      expect(report.violations).toEqual([]);
      for (const kind of FAULT_KINDS.filter((k) => k !== 'none'))
        expect(report.faults[kind].fired, `${kind} never fired`).toBeGreaterThan(0);
      expect(report.completed).toBeGreaterThan(0);
      expect(Object.keys(report.failedByReason)).toEqual(
        expect.arrayContaining([
          'InsufficientBalance',
          'InventoryFull',
          'OutOfStock',
          'CouponAlreadyUsed',
          'PaymentDeclined',
          'TIMED_OUT',
        ]),
      );
      expect(report.compensationFailed).toBe(0);
    } finally {
      await saga.close();
    }
  }, 300_000);
});
