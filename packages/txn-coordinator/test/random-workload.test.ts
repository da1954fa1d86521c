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
 * failed with TXN_CONFLICT exactly when a key its ops wrote or deleted was changed by a transaction of its
 * round committed before it (the README's rule: first committer wins; no spurious or missed conflict);
 * one whose ops change nothing against its snapshot commits nothing. ARMILLARIA_TXN_RANDOM_ROUNDS rounds
 * (default 8).
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

      // Commit order from the branch history (oldest first); rounds run one after the other, so it is
      // grouped by round, and every transaction of a round began on the state the rounds before it left.
      const order = (await stack.catalog.log(repo, { limit: 10_000 })).reverse().map((e) => e.txnId).filter((id): id is string => !!id && ops.has(id));
      const roundOf = new Map(rounds.flatMap((ids, r) => ids.map((id) => [id, r] as const)));
      const kv = new Map<number, string>([1, 2, 3, 4].map((id) => [id, `v${id}`]));
      const events: string[] = ['first'];
      const snapshots: Array<Map<number, string>> = [];
      let next = 0;
      for (let r = 0; r < rounds.length; r++) {
        snapshots.push(new Map(kv));
        for (; next < order.length && roundOf.get(order[next]!) === r; next++) {
          for (const op of ops.get(order[next]!) ?? []) {
            if (op.kind === 'upsert') kv.set(op.id, op.v);
            else if (op.kind === 'delete') kv.delete(op.id);
            else events.push(op.msg);
          }
        }
      }
      expect(next).toBe(order.length);
      expect(plain(await stack.catalog.read(repo, 'kv'))).toEqual([...kv].sort(([a], [b]) => a - b).map(([id, v]) => ({ id, v })));
      expect(plain(await stack.catalog.read(repo, 'events')).map((r) => r.msg)).toEqual(events.sort());

      // The README's rule: ours conflicts when a key its ops wrote or deleted is one an earlier commit of
      // its round changed (theirs' row diff: a delete of a key theirs did not see changes nothing).
      const touched = (id: string): Set<number> => new Set((ops.get(id) ?? []).flatMap((op) => (op.kind === 'append' ? [] : [op.id])));
      const changed = (id: string): Set<number> => {
        const snapshot = snapshots[roundOf.get(id)!]!;
        const mine = new Map(snapshot);
        for (const op of ops.get(id) ?? []) {
          if (op.kind === 'upsert') mine.set(op.id, op.v);
          else if (op.kind === 'delete') mine.delete(op.id);
        }
        return new Set([...new Set([...snapshot.keys(), ...mine.keys()])].filter((k) => snapshot.get(k) !== mine.get(k)));
      };
      for (const round of rounds) {
        const committedInOrder = order.filter((id) => round.includes(id));
        for (const id of round) {
          // A transaction whose ops change nothing against its snapshot (deletes of keys it did not see,
          // an upsert then delete of a new key) commits nothing, whatever committed before it.
          if (noops.has(id)) {
            expect(changed(id).size, `no-op txn ${id} ${JSON.stringify(ops.get(id))}`).toBe(0);
            continue;
          }
          const earlier = failed.has(id) ? committedInOrder : committedInOrder.slice(0, committedInOrder.indexOf(id));
          const overlaps = earlier.some((other) => [...touched(id)].some((k) => changed(other).has(k)));
          expect(failed.has(id), `txn ${id}: failed=${failed.has(id)} overlaps=${overlaps} ops=${JSON.stringify(ops.get(id))}`).toBe(overlaps);
        }
      }
      expect(order.length + failed.size + noops.size).toBe(rounds.flat().length);
    }, 300_000);
  }
});
