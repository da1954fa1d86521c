import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Commit } from '@armillaria/catalog';
import { RecordingChangeBus } from './helpers/recording-change-bus.js';
import { lastJson, runWorker } from './helpers/spawn-worker.js';
import { openStack } from './helpers/stack.js';

/**
 * Jepsen-style bank test: CLIENTS real processes, each with its own coordinator, move money between
 * ACCOUNTS accounts; each transfer updates `accounts` (two balances) and `ledger` (one row) in one
 * transaction. Afterwards every commit of the branch is read back: at every snapshot the total is
 * unchanged and the balances equal the initial ones plus the ledger rows, so no transfer is half
 * applied, lost or applied twice.
 */
const ITERATIONS = Number(process.env.ARMILLARIA_BANK_ITERATIONS ?? 10);
const CLIENTS = 4;
const ACCOUNTS = 5;
const INITIAL = 100;

async function bank(mode: 'embedded' | 'distributed'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-bank-'));
  const prefix = `bank-${randomUUID()}`;
  const busFile = join(dir, 'bus.jsonl');
  const stack = await openStack({ dir, mode, prefix, recoveryIntervalMs: 0 });
  try {
    const { catalog } = stack;
    await catalog.createRepo('bank');
    await catalog.createTable('bank', 'accounts', {
      schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'balance', type: 'int64', nullable: false }] },
      primaryKey: ['id'],
      rows: Array.from({ length: ACCOUNTS }, (_, id) => ({ id, balance: INITIAL })),
    });
    await catalog.createTable('bank', 'ledger', {
      schema: { fields: [{ name: 'id', type: 'utf8', nullable: false }, { name: 'src', type: 'int64' }, { name: 'dst', type: 'int64' }, { name: 'amount', type: 'int64' }] },
      primaryKey: ['id'],
    });
    const seed = await catalog.resolve('bank', 'main');

    const exits = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => runWorker(['bank', dir, mode, prefix, `c${i}`, String(ITERATIONS), String(1000 + i), String(ACCOUNTS), busFile])),
    );
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    const results = exits.map((e) => lastJson<{ client: string; committed: string[]; conflicts: number; aborted: number }>(e));
    const committed = results.flatMap((r) => r.committed);
    process.stderr.write(`[bank ${mode}] ${committed.length} transfers committed, ${results.reduce((n, r) => n + r.conflicts, 0)} conflicts retried, ${results.reduce((n, r) => n + r.aborted, 0)} abandoned\n`);
    expect(committed.length).toBeGreaterThan(0);

    // Every snapshot from the head back to the seed.
    const history: Commit[] = [];
    for (let c = await catalog.resolve('bank', 'main'); c.hash !== seed.hash; c = await catalog.readCommit('bank', c.parents[0] as string)) history.push(c);
    expect(history).toHaveLength(committed.length);
    for (const commit of history) {
      const accounts = (await catalog.read('bank', 'accounts', { ref: commit.hash })).toArray().map((r) => r.toJSON() as { id: bigint; balance: bigint });
      const ledger = (await catalog.read('bank', 'ledger', { ref: commit.hash })).toArray().map((r) => r.toJSON() as { id: string; src: bigint; dst: bigint; amount: bigint });
      const total = accounts.reduce((s, a) => s + a.balance, 0n);
      expect(total, `total at ${commit.hash}`).toBe(BigInt(ACCOUNTS * INITIAL));
      const expected = new Map(Array.from({ length: ACCOUNTS }, (_, id) => [id, BigInt(INITIAL)]));
      for (const row of ledger) {
        expected.set(Number(row.src), (expected.get(Number(row.src)) ?? 0n) - row.amount);
        expected.set(Number(row.dst), (expected.get(Number(row.dst)) ?? 0n) + row.amount);
      }
      for (const a of accounts) expect(a.balance, `account ${a.id} at ${commit.hash}`).toBe(expected.get(Number(a.id)));
      expect(accounts.every((a) => a.balance >= 0n)).toBe(true);
    }
    const finalLedger = (await catalog.read('bank', 'ledger')).toArray().map((r) => (r.toJSON() as { id: string }).id).sort();
    expect(finalLedger).toEqual([...committed].sort());
    expect(new Set(history.map((c) => c.txnId)).size).toBe(history.length);

    // One event per table per commit, each naming its commit.
    const events = new RecordingChangeBus(busFile).delivered;
    expect(events).toHaveLength(2 * history.length);
    for (const commit of history) {
      expect(events.filter((e) => e.commit === commit.hash).map((e) => e.table).sort()).toEqual(['accounts', 'ledger']);
    }
    expect(await stack.log.pending()).toEqual([]);
  } finally {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('bank test', () => {
  it(`embedded: ${CLIENTS} processes x ${ITERATIONS} transfers on FsObjectStore + FsRefStore + FsTxnLog`, () => bank('embedded'), 600_000);
  it.skipIf(!process.env.ARMILLARIA_S3_ENDPOINT || !process.env.ARMILLARIA_REDIS_URL)(
    `distributed: ${CLIENTS} processes x ${ITERATIONS} transfers on MinIO + Redis`,
    () => bank('distributed'),
    600_000,
  );
});
