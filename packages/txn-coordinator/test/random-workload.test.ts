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

/** What a run of rounds did: each transaction's ops, the rounds, the outcomes, and the commit order. */
interface RoundsRun<O> {
  ops: Map<string, O[]>;
  rounds: string[][];
  failed: Set<string>;
  noops: Set<string>;
  /** Committed transactions, oldest first (from the branch history). */
  order: string[];
  roundOf: Map<string, number>;
}

/**
 * ROUNDS rounds: each opens 2-4 transactions on the same head, stages 1..maxOps ops in each (`stageOp`
 * makes one and sends it to the coordinator), and commits them concurrently; TXN_CONFLICT marks a
 * transaction failed, a commit of no table a no-op.
 */
async function runRounds<O>(repo: string, random: () => number, maxOps: number, stageOp: (txnId: string, round: number, k: number) => Promise<O>): Promise<RoundsRun<O>> {
  const c = stack.coordinator;
  const run: RoundsRun<O> = { ops: new Map(), rounds: [], failed: new Set(), noops: new Set(), order: [], roundOf: new Map() };
  for (let r = 0; r < ROUNDS; r++) {
    const n = 2 + Math.floor(random() * 3);
    const txns = await Promise.all(Array.from({ length: n }, () => c.begin({ repo })));
    run.rounds.push(txns.map((t) => t.id));
    for (const t of txns) {
      const mine: O[] = [];
      for (let k = 1 + Math.floor(random() * maxOps); k > 0; k--) mine.push(await stageOp(t.id, r, k));
      run.ops.set(t.id, mine);
    }
    await Promise.all(txns.map((t) => c.commit(t.id).then((res) => {
      // Writes that cancel out (upsert then delete of a new key) commit nothing.
      if (res.tables.length === 0) run.noops.add(t.id);
    }, (err: unknown) => {
      if (!isArmillariaError(err, ErrorCode.TxnConflict)) throw err;
      run.failed.add(t.id);
    })));
  }
  // Rounds run one after the other, so the order is grouped by round, and every transaction of a round
  // began on the state the rounds before it left.
  run.order = (await stack.catalog.log(repo, { limit: 10_000 })).reverse().map((e) => e.txnId).filter((id): id is string => !!id && run.ops.has(id));
  run.roundOf = new Map(run.rounds.flatMap((ids, r) => ids.map((id) => [id, r] as const)));
  return run;
}

/**
 * First committer wins: a transaction failed exactly when it conflicts with one committed before it in
 * its round; a no-op one (`changesNothing`) committed nothing; every transaction is accounted for.
 */
function expectConflictRule<O>(run: RoundsRun<O>, conflictsWith: (ours: string, theirs: string) => boolean, changesNothing: (id: string) => boolean): void {
  for (const round of run.rounds) {
    const committedInOrder = run.order.filter((id) => round.includes(id));
    for (const id of round) {
      if (run.noops.has(id)) {
        expect(changesNothing(id), `no-op txn ${id} ${JSON.stringify(run.ops.get(id))}`).toBe(true);
        continue;
      }
      const earlier = run.failed.has(id) ? committedInOrder : committedInOrder.slice(0, committedInOrder.indexOf(id));
      const overlaps = earlier.some((other) => conflictsWith(id, other));
      expect(run.failed.has(id), `txn ${id}: failed=${run.failed.has(id)} overlaps=${overlaps} ops=${JSON.stringify(run.ops.get(id))}`).toBe(overlaps);
    }
  }
  expect(run.order.length + run.failed.size + run.noops.size).toBe(run.rounds.flat().length);
}

describe('random workload vs model', () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: ${ROUNDS} rounds`, async () => {
      const random = rng(seed);
      const repo = `rand${seed}`;
      await seedRepo(stack.catalog, repo);
      const c = stack.coordinator;
      const run = await runRounds<Op>(repo, random, 3, async (txnId, r, k) => {
        const x = random();
        const id = 1 + Math.floor(random() * 10);
        const op: Op = x < 0.5 ? { kind: 'upsert', id, v: `r${r}-${txnId.slice(-4)}-${k}` } : x < 0.7 ? { kind: 'delete', id } : { kind: 'append', msg: `r${r}-${txnId.slice(-4)}-${k}` };
        if (op.kind === 'upsert') await c.upsert(txnId, 'kv', [{ id: op.id, v: op.v }]);
        else if (op.kind === 'delete') await c.deleteRows(txnId, 'kv', [{ id: op.id }]);
        else await c.append(txnId, 'events', [{ msg: op.msg }]);
        return op;
      });
      const { ops, rounds, order, roundOf } = run;
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
      // A transaction whose ops change nothing against its snapshot (deletes of keys it did not see, an
      // upsert then delete of a new key) commits nothing, whatever committed before it.
      expectConflictRule(run, (id, other) => [...touched(id)].some((k) => changed(other).has(k)), (id) => changed(id).size === 0);
    }, 300_000);
  }
});

/**
 * The same, with partial upserts (rows giving the key and one column) beside whole rows and deletes, on a
 * table of two non-key columns. The rule checked: ours conflicts with an earlier commit of its round on a
 * key it touched when ours wrote the whole row or deleted it, and theirs changed the row at all; or when
 * ours wrote only columns W of it (partial upserts) and theirs inserted, deleted, or changed a column of W.
 * Replaying a partial upsert sets only its column: the final table must equal the model's.
 */
type CellOp = { kind: 'set'; id: number; col: 'a' | 'b'; v: string } | { kind: 'whole'; id: number; a: string; b: string } | { kind: 'delete'; id: number };
type Row2 = { a: string | null; b: string | null };

function applyCellOp(state: Map<number, Row2>, op: CellOp): void {
  if (op.kind === 'delete') state.delete(op.id);
  else if (op.kind === 'whole') state.set(op.id, { a: op.a, b: op.b });
  else state.set(op.id, { ...(state.get(op.id) ?? { a: null, b: null }), [op.col]: op.v });
}

describe('random workload with partial upserts vs model (per-column conflicts)', () => {
  for (const seed of [3, 4]) {
    it(`seed ${seed}: ${ROUNDS} rounds`, async () => {
      const random = rng(seed);
      const repo = `cells${seed}`;
      await stack.catalog.createRepo(repo);
      const schema = { fields: [{ name: 'id', type: 'int64' as const, nullable: false }, { name: 'a', type: 'utf8' as const }, { name: 'b', type: 'utf8' as const }] };
      const initial = new Map<number, Row2>([1, 2, 3, 4].map((id) => [id, { a: `a${id}`, b: `b${id}` }]));
      await stack.catalog.createTable(repo, 'acct', { schema, primaryKey: ['id'], rows: [...initial].map(([id, r]) => ({ id, ...r })) });
      const c = stack.coordinator;
      const run = await runRounds<CellOp>(repo, random, 2, async (txnId, r, k) => {
        const x = random();
        const id = 1 + Math.floor(random() * 6);
        const v = `r${r}-${txnId.slice(-4)}-${k}`;
        const op: CellOp = x < 0.6 ? { kind: 'set', id, col: random() < 0.5 ? 'a' : 'b', v } : x < 0.85 ? { kind: 'whole', id, a: `${v}a`, b: `${v}b` } : { kind: 'delete', id };
        if (op.kind === 'set') await c.upsert(txnId, 'acct', [{ id: op.id, [op.col]: op.v }]);
        else if (op.kind === 'whole') await c.upsert(txnId, 'acct', [{ id: op.id, a: op.a, b: op.b }]);
        else await c.deleteRows(txnId, 'acct', [{ id: op.id }]);
        return op;
      });
      const { ops, rounds, order, roundOf } = run;
      const state = new Map(initial);
      const snapshots: Array<Map<number, Row2>> = [];
      let next = 0;
      for (let r = 0; r < rounds.length; r++) {
        snapshots.push(new Map(state));
        for (; next < order.length && roundOf.get(order[next]!) === r; next++) for (const op of ops.get(order[next]!) ?? []) applyCellOp(state, op);
      }
      expect(next).toBe(order.length);
      expect(plain(await stack.catalog.read(repo, 'acct'))).toEqual([...state].sort(([x], [y]) => x - y).map(([id, row]) => ({ id, ...row })));

      // What a transaction did to each key against its snapshot: presence change, or the columns whose value changed.
      const effect = (id: string): Map<number, 'presence' | Set<'a' | 'b'>> => {
        const snapshot = snapshots[roundOf.get(id)!]!;
        const mine = new Map(snapshot);
        for (const op of ops.get(id) ?? []) applyCellOp(mine, op);
        const out = new Map<number, 'presence' | Set<'a' | 'b'>>();
        for (const k of new Set([...snapshot.keys(), ...mine.keys()])) {
          const [before, after] = [snapshot.get(k), mine.get(k)];
          if (!before || !after) {
            if (before !== after) out.set(k, 'presence');
            continue;
          }
          const cols = new Set((['a', 'b'] as const).filter((col) => before[col] !== after[col]));
          if (cols.size > 0) out.set(k, cols);
        }
        return out;
      };
      // Per key ours touched: the columns only partial upserts wrote, or 'all' (a whole row or a delete).
      const wrote = (id: string): Map<number, 'all' | Set<'a' | 'b'>> => {
        const out = new Map<number, 'all' | Set<'a' | 'b'>>();
        for (const op of ops.get(id) ?? []) {
          const had = out.get(op.id);
          if (op.kind !== 'set') out.set(op.id, 'all');
          else if (had === undefined) out.set(op.id, new Set([op.col]));
          else if (had !== 'all') had.add(op.col);
        }
        return out;
      };
      const conflictsWith = (ours: string, theirs: string): boolean => {
        const theirEffect = effect(theirs);
        return [...wrote(ours)].some(([k, cols]) => {
          const e = theirEffect.get(k);
          if (e === undefined) return false;
          if (cols === 'all' || e === 'presence') return true;
          return [...cols].some((col) => e.has(col));
        });
      };
      expectConflictRule(run, conflictsWith, (id) => effect(id).size === 0);
    }, 300_000);
  }
});
