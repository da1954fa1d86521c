import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import { openStack, type Stack } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';
import { seededRandom as rng } from '@armillaria/testkit';
/**
 * Seeded random workload against a model. Each round opens several transactions on the same head,
 * stages random upserts/deletes on `kv` and appends on `events`, then commits them concurrently.
 * Checked: (1) the final tables equal the committed transactions applied one by one, in the order of
 * the branch history, to a plain model (rebases lose nothing and invent nothing); (2) a transaction
 * failed with TXN_CONFLICT exactly when its keys overlap a transaction of its round committed before it
 * (first committer wins; no spurious or missed conflict).
 */
const ROUNDS = Number(process.env.ARMILLARIA_TXN_RANDOM_ROUNDS ?? 8);

type Op = { kind: 'upsert'; id: number; v: string } | { kind: 'delete'; id: number } | { kind: 'append'; msg: string };


let dir: string;
let stack: Stack;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-txn-random-'));
  stack = await openStack({ dir, recoveryIntervalMs: 0 });
});
afterAll(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

describe('random workload vs model', () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: ${ROUNDS} rounds`, async () => {
      const random = rng(seed);
      const repo = `rand${seed}`;
      await seedRepo(stack.catalog, repo);
      const c = stack.coordinator;
      const ops = new Map<string, Op[]>();
      const rounds: string[][] = [];
      const failed = new Set<string>();
      const noops = new Set<string>();
      for (let r = 0; r < ROUNDS; r++) {
        const n = 2 + Math.floor(random() * 3);
        const txns = await Promise.all(Array.from({ length: n }, () => c.begin({ repo })));
        rounds.push(txns.map((t) => t.id));
        for (const t of txns) {
          const mine: Op[] = [];
          for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
            const x = random();
            const id = 1 + Math.floor(random() * 10);
            const op: Op = x < 0.5 ? { kind: 'upsert', id, v: `r${r}-${t.id.slice(-4)}-${k}` } : x < 0.7 ? { kind: 'delete', id } : { kind: 'append', msg: `r${r}-${t.id.slice(-4)}-${k}` };
            if (op.kind === 'upsert') await c.upsert(t.id, 'kv', [{ id: op.id, v: op.v }]);
            else if (op.kind === 'delete') await c.deleteRows(t.id, 'kv', [{ id: op.id }]);
            else await c.append(t.id, 'events', [{ msg: op.msg }]);
            mine.push(op);
          }
          ops.set(t.id, mine);
        }
        await Promise.all(txns.map((t) => c.commit(t.id).then((res) => {
          // Writes that cancel out (upsert then delete of a new key) commit nothing.
          if (res.tables.length === 0) noops.add(t.id);
        }, (err: unknown) => {
          if (!isArmillariaError(err, ErrorCode.TxnConflict)) throw err;
          failed.add(t.id);
        })));
      }

      // Commit order from the branch history (oldest first).
      const order = (await stack.catalog.log(repo, { limit: 10_000 })).reverse().map((e) => e.txnId).filter((id): id is string => !!id && ops.has(id));
      const kv = new Map<number, string>([1, 2, 3, 4].map((id) => [id, `v${id}`]));
      const events: string[] = ['first'];
      for (const id of order) {
        for (const op of ops.get(id) ?? []) {
          if (op.kind === 'upsert') kv.set(op.id, op.v);
          else if (op.kind === 'delete') kv.delete(op.id);
          else events.push(op.msg);
        }
      }
      expect(plain(await stack.catalog.read(repo, 'kv'))).toEqual([...kv].sort(([a], [b]) => a - b).map(([id, v]) => ({ id, v })));
      expect(plain(await stack.catalog.read(repo, 'events')).map((r) => r.msg)).toEqual(events.sort());

      const keysOf = (id: string) => new Set((ops.get(id) ?? []).flatMap((op) => (op.kind === 'append' ? [] : [op.id])));
      for (const round of rounds) {
        const committedInOrder = order.filter((id) => round.includes(id));
        for (const id of round) {
          const earlier = failed.has(id) ? committedInOrder : committedInOrder.slice(0, committedInOrder.indexOf(id));
          const overlaps = earlier.some((other) => [...keysOf(id)].some((k) => keysOf(other).has(k)));
          expect(failed.has(id), `txn ${id}: failed=${failed.has(id)} overlaps=${overlaps}`).toBe(overlaps);
        }
      }
      expect(order.length + failed.size + noops.size).toBe(rounds.flat().length);
    }, 300_000);
  }
});
