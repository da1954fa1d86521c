import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_POINTS, type FaultPoint } from '../src/index.js';
import { RecordingChangeBus } from './helpers/recording-change-bus.js';
import { runWorker } from './helpers/spawn-worker.js';
import { openStack, type StackOptions } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';

/**
 * Crash test: a worker process runs one two-table transaction, or GROUP of them committed at once (one
 * group commit: a chain of commits, one ref move), with ARMILLARIA_FAULT set and dies by SIGKILL at that
 * step. A restarted coordinator then recovers, and every transaction must be entirely visible (both
 * tables, its commit on the branch, its events exactly once) or not at all.
 */
const ITERATIONS = Number(process.env.ARMILLARIA_CRASH_ITERATIONS ?? 2);
/** Transactions committed at once by the worker in the group runs (one group commit, one ref move). */
const GROUP = 4;
/** Where each fault must leave the transaction once recovery ran. */
const EXPECTED: Record<FaultPoint, 'visible' | 'absent'> = {
  'after-upload': 'absent',
  'after-prepare': 'absent',
  'after-cas': 'visible',
  'after-publish': 'visible',
};

const distributedReady = Boolean(process.env.ARMILLARIA_S3_ENDPOINT && process.env.ARMILLARIA_REDIS_URL);

for (const mode of ['embedded', 'distributed'] as const) describe.skipIf(mode === 'distributed' && !distributedReady)(`crash test (${mode})`, () => {
  let dir: string;
  let busFile: string;
  let n = 0;
  const prefix = `crash-${randomUUID()}`;
  const open = (extra: Partial<StackOptions> = {}) => openStack({ dir, mode, prefix, recoveryIntervalMs: 0, ...extra });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-crash-'));
    busFile = join(dir, 'bus.jsonl');
    const stack = await open();
    await seedRepo(stack.catalog, 'crash');
    await stack.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const fault of FAULT_POINTS) {
    it(`SIGKILL ${fault} (${ITERATIONS} iterations, alone and as a group of ${GROUP}): after recovery the transactions are ${EXPECTED[fault]}`, async () => {
      for (let i = 0; i < ITERATIONS; i++) {
        for (const group of [1, GROUP]) {
          const k = n++;
          const idFile = join(dir, `txn-${k}`);
          const exit = await runWorker(['crash', dir, mode, prefix, String(k), busFile, idFile, String(group)], { ARMILLARIA_FAULT: fault });
          expect(exit.signal, exit.stderr.slice(-2000)).toBe('SIGKILL');
          expect(existsSync(idFile)).toBe(true);
          const txnIds = readFileSync(idFile, 'utf8').split('\n');
          expect(txnIds).toHaveLength(group);

          // Restart: a new coordinator on the same directory recovers (the dead process's records are stale at once).
          const bus = new RecordingChangeBus(busFile);
          const stack = await open({ bus, staleAfterMs: 0 });
          try {
            const report = await stack.coordinator.start();
            expect(report.errors).toEqual([]);
            expect(await stack.log.pending()).toEqual([]);

            const kvRows = plain(await stack.catalog.read('crash', 'kv'));
            const eventRows = plain(await stack.catalog.read('crash', 'events'));
            const history = await stack.catalog.log('crash', { limit: 1000 });
            const reflog = await stack.catalog.branchReflog('crash', 'main', { limit: 1000 });
            const landed: string[] = [];
            for (const [j, txnId] of txnIds.entries()) {
              const kv = kvRows.filter((r) => r.id === 1000 + k * 100 + j);
              const events = eventRows.filter((r) => r.msg === `crash-${k}-${j}`);
              const commits = history.filter((c) => c.txnId === txnId);
              const published = bus.delivered.filter((e) => e.txnId === txnId);
              const record = await stack.log.get(txnId);
              if (EXPECTED[fault] === 'visible') {
                expect(kv).toEqual([{ id: 1000 + k * 100 + j, v: `crash-${k}-${j}` }]);
                expect(events).toHaveLength(1);
                expect(commits).toHaveLength(1);
                expect(published.map((e) => e.table).sort()).toEqual(['events', 'kv']);
                expect(published.every((e) => e.commit === commits[0]?.hash && e.parent === commits[0]?.parents[0])).toBe(true);
                expect(record?.state).toBe('DONE');
                landed.push(commits[0]?.hash as string);
              } else {
                expect(kv).toEqual([]);
                expect(events).toEqual([]);
                expect(commits).toEqual([]);
                expect(published).toEqual([]);
                expect(record?.state ?? 'ABORTED').toBe('ABORTED');
              }
            }
            if (landed.length > 0) {
              // The group landed as one chain: consecutive commits, one ref move (to the last of them).
              const at = history.findIndex((c) => c.hash === landed[0]);
              expect(new Set(history.slice(at - landed.length + 1, at + 1).map((c) => c.hash))).toEqual(new Set(landed));
              expect(reflog.filter((e) => e.new !== null && landed.includes(e.new))).toHaveLength(1);
            }
            // Recovery is idempotent: a second pass changes nothing and publishes nothing again.
            const before = new RecordingChangeBus(busFile).delivered.length;
            await stack.coordinator.recover();
            expect(new RecordingChangeBus(busFile).delivered).toHaveLength(before);
          } finally {
            await stack.close();
          }
        }
      }
      // The branch stays usable: a normal transaction commits after the crashes.
      const stack = await open({ bus: new RecordingChangeBus(busFile) });
      try {
        const t = await stack.coordinator.begin({ repo: 'crash' });
        await stack.coordinator.append(t.id, 'events', [{ msg: `after-${fault}` }]);
        expect((await stack.coordinator.commit(t.id)).published).toBe(true);
      } finally {
        await stack.close();
      }
    }, 600_000);
  }
});
