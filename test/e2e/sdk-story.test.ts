import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, deleteTestBucket, hasService, spawnNode, tempDir, uniqueName, type NodeProcess, type TempDir } from '@armillaria/testkit';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@armillaria/core';
import { buildApp, openGatewayDeps, type ApiToken } from '@armillaria/query-gateway';
import type { FastifyInstance } from 'fastify';
import {
  Armillaria, ArmillariaError, CatalogNotFoundError, ErrorCode, MergeConflictError, TxnConflictError, type ChangeEvent,
} from '@armillaria/sdk';
import { Table, tableFromArrays } from 'apache-arrow';

/**
 * The seed story through the SDK: write, query, time travel, diff, branch, merge (and a conflict),
 * a cross-table transaction (and an aborted one, and a conflicting one), a subscription that replays
 * then follows live, log, tag. `story` runs it on any `Armillaria`, so every mode is checked alike.
 */
export interface Mode {
  name: string;
  open(): Promise<Armillaria>;
  cleanup(): Promise<void>;
}

const users1 = [
  { id: 1, name: 'ada', score: 90 },
  { id: 2, name: 'bob', score: 70 },
  { id: 3, name: 'cy', score: 50 },
];

async function expectCode(p: Promise<unknown>, code: string): Promise<ArmillariaError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(ArmillariaError);
  expect((err as ArmillariaError).code).toBe(code);
  return err as ArmillariaError;
}

/** Pulls events off an iterator until `n` arrived (no timing: the test timeout bounds it). */
async function take(it: AsyncIterator<ChangeEvent>, n: number): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

export function story(mode: () => Mode): void {
  let m: Mode;
  let arm: Armillaria;
  beforeAll(async () => {
    m = mode();
    arm = await m.open();
  });
  afterAll(async () => {
    await arm?.close();
    await m?.cleanup();
  });

  it('writes a keyed table and queries it with SQL (rows and Arrow)', async () => {
    const w = await arm.writeTable('users', users1, { primaryKey: ['id'] });
    expect(w).toMatchObject({ table: 'users', version: 1, created: true, rows: 3 });
    const r = await arm.query('SELECT AVG(score) AS avg, COUNT(*) AS n FROM users');
    expect(r.rows).toEqual([{ avg: 70, n: 3 }]);
    const t = r.toArrow();
    expect(t).toBeInstanceOf(Table);
    expect(t.numRows).toBe(1);
    expect(t.schema.fields.map((f) => f.name)).toEqual(['avg', 'n']);
    expect(Number(t.getChild('n')?.get(0))).toBe(3);
    await arm.tag('v1.0');
  });

  it('result types: JSON rows and Arrow columns are the same in every mode', async () => {
    const r = await arm.query("SELECT DATE '2026-01-02' AS d, TIMESTAMP '2026-01-02 03:04:05.123' AS ts, 12345678901234::BIGINT AS big, 'x' AS s, 1.5::DOUBLE AS f, true AS b, 7::INTEGER AS i, NULL::VARCHAR AS n");
    expect(r.rows).toEqual([{ d: '2026-01-02', ts: '2026-01-02T03:04:05.123Z', big: 12345678901234, s: 'x', f: 1.5, b: true, i: 7, n: null }]);
    const t = r.toArrow();
    expect(t.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual([
      'd:Date32<DAY>', 'ts:Timestamp<MILLISECOND>', 'big:Int64', 's:Utf8', 'f:Float64', 'b:Bool', 'i:Int32', 'n:Utf8',
    ]);
    expect(t.get(0)?.toJSON()).toEqual({ d: 1767312000000, ts: 1767323045123, big: 12345678901234n, s: 'x', f: 1.5, b: true, i: 7, n: null });
  });

  it('upserts, deletes, appends; each write is a new table version', async () => {
    const u = await arm.upsert('users', [{ id: 2, name: 'bob', score: 80 }, { id: 4, name: 'dee', score: 100 }]);
    expect(u.version).toBe(2);
    const d = await arm.deleteRows('users', [{ id: 3 }]);
    expect(d.version).toBe(3);
    const r = await arm.query('SELECT id, score FROM users ORDER BY id');
    expect(r.rows).toEqual([{ id: 1, score: 90 }, { id: 2, score: 80 }, { id: 4, score: 100 }]);
    await expectCode(arm.appendRows('users', [{ id: 1, name: 'again', score: 1 }]), ErrorCode.DuplicateKey);
    await expectCode(arm.upsert('nope', [{ id: 1 }]), ErrorCode.TableNotFound);
  });

  it('time travel: per-table versions, a tag, a commit and a moment', async () => {
    const v1 = await arm.query('SELECT AVG(score) AS avg FROM users', { versions: { users: 1 } });
    expect(v1.rows).toEqual([{ avg: 70 }]);
    const v2 = await arm.query('SELECT COUNT(*) AS n FROM users', { versions: { users: 2 } });
    expect(v2.rows).toEqual([{ n: 4 }]);
    const tagged = await arm.query('SELECT COUNT(*) AS n FROM users', { asOf: 'v1.0' });
    expect(tagged.rows).toEqual([{ n: 3 }]);
    const log = await arm.log({ table: 'users' });
    expect(log.map((e) => e.tableVersion)).toEqual([3, 2, 1]);
    const atCommit = await arm.query('SELECT COUNT(*) AS n FROM users', { asOf: log[1]!.hash });
    expect(atCommit.rows).toEqual([{ n: 4 }]);
    const atTime = await arm.query('SELECT COUNT(*) AS n FROM users', { asOf: new Date(log[2]!.time) });
    expect(atTime.rows).toEqual([{ n: 3 }]);
    await expectCode(arm.query('SELECT * FROM users', { versions: { users: 9 } }), ErrorCode.VersionNotFound);
  });

  it('diffVersions gives added, removed and changed rows', async () => {
    const d = await arm.diffVersions('users', 1, 3, { keyColumns: ['id'] });
    expect(d.added).toEqual([{ id: 4, name: 'dee', score: 100 }]);
    expect(d.removed).toEqual([{ id: 3, name: 'cy', score: 50 }]);
    expect(d.changed).toEqual([{ key: [2], before: { id: 2, name: 'bob', score: 70 }, after: { id: 2, name: 'bob', score: 80 } }]);
    // By another column: the engine-side diff is bypassed, the answer is computed from both versions.
    const byName = await arm.diffVersions('users', 1, 2, { keyColumns: ['name'] });
    expect(byName.added.map((r) => r.name)).toEqual(['dee']);
    expect(byName.changed.map((c) => c.key)).toEqual([['bob']]);
    await expectCode(arm.diffVersions('users', 0, 2), ErrorCode.InvalidArgument);
  });

  it('branches: isolated writes, checkout, merge into main', async () => {
    await arm.createBranch('experiment/x');
    arm.checkout('experiment/x');
    expect(arm.branch).toBe('experiment/x');
    await arm.writeTable('scores', [{ user: 1, points: 5 }, { user: 2, points: 7 }]);
    await arm.upsert('users', [{ id: 5, name: 'eve', score: 60 }]);
    const onBranch = await arm.query('SELECT SUM(points) AS s FROM scores', { branch: 'experiment/x' });
    expect(onBranch.rows).toEqual([{ s: 12 }]);
    arm.checkout('main');
    await expectCode(arm.query('SELECT * FROM scores'), ErrorCode.TableNotFound);
    expect((await arm.query('SELECT COUNT(*) AS n FROM users')).rows).toEqual([{ n: 3 }]);
    const merged = await arm.mergeBranch('experiment/x', { into: 'main' });
    expect(['fast-forward', 'merge']).toContain(merged.kind);
    expect((await arm.query('SELECT SUM(points) AS s FROM scores')).rows).toEqual([{ s: 12 }]);
    expect((await arm.query('SELECT COUNT(*) AS n FROM users')).rows).toEqual([{ n: 4 }]);
    expect((await arm.listBranches()).map((b) => b.name).sort()).toEqual(['experiment/x', 'main']);
  });

  it('a merge conflict is a typed MergeConflictError and writes nothing', async () => {
    await arm.createBranch('left');
    await arm.createBranch('right');
    await arm.upsert('users', [{ id: 1, name: 'ada', score: 1 }], { branch: 'left' });
    await arm.upsert('users', [{ id: 1, name: 'ada', score: 2 }], { branch: 'right' });
    await arm.mergeBranch('left', { into: 'main' });
    const head = (await arm.log({ limit: 1 }))[0]!.hash;
    const err = await expectCode(arm.mergeBranch('right', { into: 'main' }), ErrorCode.MergeConflict);
    expect(err).toBeInstanceOf(MergeConflictError);
    expect((err.details?.conflicts as unknown[]).length).toBeGreaterThan(0);
    expect((await arm.log({ limit: 1 }))[0]!.hash).toBe(head);
    const theirs = await arm.mergeBranch('right', { into: 'main', strategy: 'theirs' });
    expect(theirs.resolved.length).toBe(1);
    expect((await arm.query('SELECT score FROM users WHERE id = 1')).rows).toEqual([{ score: 2 }]);
  });

  it('reverts a commit (a key changed again since conflicts, nothing written) and drops a table whose history stays readable', async () => {
    await arm.writeTable('ledger', [{ id: 1, amount: 10 }, { id: 2, amount: 20 }], { primaryKey: ['id'] });
    const bad = await arm.upsert('ledger', [{ id: 2, amount: -1 }]);
    const undo = await arm.revert(bad.commit);
    expect(undo.branch).toBe(arm.branch);
    expect((await arm.log({ limit: 1 }))[0]!.hash).toBe(undo.commit);
    expect((await arm.query('SELECT id, amount FROM ledger ORDER BY id')).rows).toEqual([{ id: 1, amount: 10 }, { id: 2, amount: 20 }]);
    const first = await arm.upsert('ledger', [{ id: 1, amount: 11 }]);
    await arm.upsert('ledger', [{ id: 1, amount: 12 }]);
    const head = (await arm.log({ limit: 1 }))[0]!.hash;
    const err = await expectCode(arm.revert(first.commit), ErrorCode.MergeConflict);
    expect((err.details?.conflicts as Array<{ table: string }>).map((c) => c.table)).toEqual(['ledger']);
    expect((await arm.log({ limit: 1 }))[0]!.hash).toBe(head);

    const dropped = await arm.dropTable('ledger');
    expect((await arm.log({ limit: 1 }))[0]!.hash).toBe(dropped.commit);
    await expectCode(arm.query('SELECT * FROM ledger'), ErrorCode.TableNotFound);
    expect((await arm.query('SELECT amount FROM ledger WHERE id = 1', { asOf: head })).rows).toEqual([{ amount: 12 }]);
    await expectCode(arm.dropTable('ledger'), ErrorCode.TableNotFound);

    // restoreTable brings the dropped table back from before the drop, and a version back again after.
    const back = await arm.restoreTable('ledger', { asOf: head });
    expect(back).toMatchObject({ table: 'ledger', version: 1, restored: true, rows: 2 });
    expect((await arm.query('SELECT id, amount FROM ledger ORDER BY id')).rows).toEqual([{ id: 1, amount: 12 }, { id: 2, amount: 20 }]);
    const v2 = await arm.restoreTable('ledger', { asOf: `${head}~1` });
    expect(v2).toMatchObject({ version: 2, restored: true });
    expect((await arm.query('SELECT amount FROM ledger WHERE id = 1')).rows).toEqual([{ amount: 11 }]);
    expect((await arm.restoreTable('ledger', { asOf: `${head}~1` })).restored).toBe(false);
    const sub = arm.subscribe('ledger', { from: 'earliest' })[Symbol.asyncIterator]();
    const ops = (await take(sub, 8)).map((e) => e.op);
    await sub.return?.();
    // A table restored after its drop is created again; a restore of a live table is `restored`.
    expect(ops).toEqual(['created', 'upserted', 'reverted', 'upserted', 'upserted', 'dropped', 'created', 'restored']);
  });

  it('a cross-table transaction commits both tables in one commit; a throwing one leaves nothing', async () => {
    const sub = arm.subscribe('orders', { from: 'earliest' })[Symbol.asyncIterator]();
    const r = await arm.transaction(async (tx) => {
      await tx.writeTable('customers', [{ id: 1, name: 'acme' }, { id: 2, name: 'globex' }], { primaryKey: ['id'] });
      await tx.appendRows('orders', [{ order: 1, customer: 1, total: 10.5 }, { order: 2, customer: 2, total: 4.5 }]);
      expect((await tx.rows('orders')).length).toBe(2);
      return 'ok';
    });
    expect(r.value).toBe('ok');
    expect(r.tables.sort()).toEqual(['customers', 'orders']);
    const log = await arm.log({ limit: 1 });
    expect(log[0]!.hash).toBe(r.commit);
    const j = await arm.query('SELECT c.name, SUM(o.total) AS t FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.name ORDER BY c.name');
    expect(j.rows).toEqual([{ name: 'acme', t: 10.5 }, { name: 'globex', t: 4.5 }]);

    await expect(arm.transaction(async (tx) => {
      await tx.appendRows('orders', [{ order: 3, customer: 1, total: 99 }]);
      await tx.writeTable('customers', [{ id: 3, name: 'initech' }]);
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect((await arm.query('SELECT COUNT(*) AS n FROM orders')).rows).toEqual([{ n: 2 }]);
    expect((await arm.query('SELECT COUNT(*) AS n FROM customers')).rows).toEqual([{ n: 2 }]);

    // The subscription replays (or follows) the transaction's event.
    const first = await take(sub, 1);
    expect(first[0]).toMatchObject({ table: 'orders', commit: r.commit, rowsAdded: 2, commitTables: ['customers', 'orders'] });
    await sub.return?.();
  });

  // A direct write (no transaction) must wake a live subscriber too. Bounded by a short test timeout:
  // when the events of a direct write never reach the bus, nothing arrives and the test fails.
  it('a live subscriber sees a direct write after replaying history', async () => {
    const sub = arm.subscribe('orders', { from: 'earliest' })[Symbol.asyncIterator]();
    expect((await take(sub, 1))[0]).toMatchObject({ table: 'orders', versionAfter: 1 });
    const live = await arm.appendRows('orders', [{ order: 3, customer: 2, total: 1 }]);
    const next = await take(sub, 1);
    expect(next[0]).toMatchObject({ table: 'orders', commit: live.commit, op: 'appended', rowsAdded: 1, versionAfter: 2 });
    await sub.return?.();
  }, 20_000);

  it('concurrent transactions on the same key: the second commit is a TxnConflictError', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let staged!: () => void;
    const firstStaged = new Promise<void>((r) => (staged = r));
    const slow = arm.transaction(async (tx) => {
      try {
        await tx.upsert('customers', [{ id: 1, name: 'acme-slow' }]);
      } finally {
        staged();
      }
      await gate;
    });
    await firstStaged;
    await arm.transaction(async (tx) => {
      await tx.upsert('customers', [{ id: 1, name: 'acme-fast' }]);
    });
    release();
    const err = await expectCode(slow, ErrorCode.TxnConflict);
    expect(err).toBeInstanceOf(TxnConflictError);
    expect((await arm.query('SELECT name FROM customers WHERE id = 1')).rows).toEqual([{ name: 'acme-fast' }]);
  });

  it('subscribe with row-level changes follows a live transaction', async () => {
    // Starting after the current head (not `latest`, which would race with the commit below).
    const head = (await arm.log({ limit: 1 }))[0]!.hash;
    const sub = arm.subscribe(['customers'], { rows: true, from: { commit: head } })[Symbol.asyncIterator]();
    const pending = take(sub, 1);
    await arm.transaction(async (tx) => {
      await tx.upsert('customers', [{ id: 2, name: 'globex2' }]);
    });
    const [ev] = await pending;
    expect(ev?.rows).toEqual([{ kind: 'update', key: [2], before: { id: 2, name: 'globex' }, after: { id: 2, name: 'globex2' } }]);
    await sub.return?.();
  }, 20_000);

  it('typed errors with codes for bad input, identical in every mode', async () => {
    const missing = await expectCode(arm.query('SELECT * FROM nowhere'), ErrorCode.TableNotFound);
    expect(missing).toBeInstanceOf(CatalogNotFoundError);
    await expectCode(arm.query('DELETE FROM users'), ErrorCode.QueryRefused);
    await expectCode(arm.query(''), ErrorCode.InvalidArgument);
    await expectCode(arm.createBranch('main'), ErrorCode.BranchExists);
    await expectCode(arm.tag('v1.0'), ErrorCode.TagExists);
    expect(() => arm.checkout('bad..name')).toThrow(ArmillariaError);
    arm.checkout('no-such-branch');
    try {
      await expectCode(arm.writeTable('users', [{ id: 9, name: 'x', score: 1 }]), ErrorCode.BranchNotFound);
      await expectCode(arm.query('SELECT * FROM users'), ErrorCode.RefNotFound);
    } finally {
      arm.checkout('main');
    }
    await expectCode(arm.mergeBranch('no-such-branch'), ErrorCode.RefNotFound);
  });

  it('rows as Arrow tables: top-level writes and transaction writes', async () => {
    const batch = tableFromArrays({ sku: ['a', 'b', 'c'], qty: Int32Array.from([1, 2, 3]), price: Float64Array.from([1.5, 2.5, 3.5]) });
    const w = await arm.writeTable('stock', batch, { primaryKey: ['sku'] });
    expect(w).toMatchObject({ version: 1, created: true, rows: 3 });
    await arm.transaction(async (tx) => {
      await tx.upsert('stock', tableFromArrays({ sku: ['b'], qty: Int32Array.from([20]), price: Float64Array.from([2.5]) }));
      await tx.appendRows('stock_log', tableFromArrays({ sku: ['b'], delta: Int32Array.from([18]) }));
    });
    const r = await arm.query('SELECT s.sku, s.qty, l.delta FROM stock s LEFT JOIN stock_log l USING (sku) ORDER BY s.sku');
    expect(r.rows).toEqual([{ sku: 'a', qty: 1, delta: null }, { sku: 'b', qty: 20, delta: 18 }, { sku: 'c', qty: 3, delta: null }]);
    const t = await arm.readTable('stock', { version: 1 });
    expect(t.numRows).toBe(3);
    expect(t.getChild('qty')?.toArray()).toEqual(Int32Array.from([1, 2, 3]));
  });

  it('partial upserts: rows give the key and the columns they change, top level and in a transaction', async () => {
    // `stock` holds sku a (qty 1, price 1.5), b (20, 2.5), c (3, 3.5) from the Arrow test above.
    await arm.upsert('stock', [{ sku: 'a', price: 1.75 }, { sku: 'd', qty: 4, price: 4.5 }]);
    await arm.transaction(async (tx) => {
      await tx.upsert('stock', tableFromArrays({ sku: ['c'], qty: Int32Array.from([30]) }));
      expect((await tx.rows('stock')).find((r) => r.sku === 'c')).toEqual({ sku: 'c', qty: 30, price: 3.5 });
    });
    const r = await arm.query('SELECT sku, qty, price FROM stock ORDER BY sku');
    expect(r.rows).toEqual([
      { sku: 'a', qty: 1, price: 1.75 }, { sku: 'b', qty: 20, price: 2.5 }, { sku: 'c', qty: 30, price: 3.5 }, { sku: 'd', qty: 4, price: 4.5 },
    ]);
    // Setting what the table holds changes nothing: no commit, the same version.
    const head = (await arm.log({ limit: 1 }))[0]!.hash;
    const same = await arm.upsert('stock', [{ sku: 'a', price: 1.75 }]);
    expect(same).toMatchObject({ changed: false, commit: head });
    expect((await arm.log({ limit: 1 }))[0]!.hash).toBe(head);
    // No key; a new key without a value for a non-null column (Arrow typed arrays make them non-null).
    await expectCode(arm.upsert('stock', [{ qty: 5 }]), ErrorCode.SchemaMismatch);
    const err = await expectCode(arm.upsert('stock', [{ sku: 'e', qty: 5 }]), ErrorCode.SchemaMismatch);
    expect(err.message).toContain('upsert of the new key ["e"] gives no value for column "price", which is not nullable');
  });

  it('log lists the history; tags list', async () => {
    const log = await arm.log();
    expect(log.length).toBeGreaterThan(8);
    expect(log.at(-1)?.parents).toEqual([]);
    expect((await arm.listTags()).map((t) => t.name)).toEqual(['v1.0']);
  });
}

describe('SDK story, embedded', () => {
  story(() => {
    let dir: TempDir;
    return {
      name: 'embedded',
      open: async () => {
        dir = tempDir('sdk-embedded');
        return Armillaria.open(dir.path);
      },
      cleanup: async () => dir?.cleanup(),
    };
  });

  it('reopens the same directory with the data intact', async () => {
    const dir = tempDir('sdk-reopen');
    try {
      const a = await Armillaria.open(dir.path, { repo: 'shop' });
      await a.writeTable('t', [{ k: 1 }]);
      await a.close();
      await expectCode(a.query('SELECT 1'), ErrorCode.InvalidArgument);
      const b = await Armillaria.open(dir.path, { repo: 'shop' });
      expect((await b.query('SELECT k FROM t')).rows).toEqual([{ k: 1 }]);
      await b.close();
    } finally {
      await dir.cleanup();
    }
  });
});

/** The gateway with every service in-process over a temp dir, listening on a random loopback port. */
async function startGateway(tokens?: ApiToken[]): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = tempDir('sdk-gateway');
  const opened = await openGatewayDeps(loadConfig({}, { dataDir: dir.path }), { protectedBranches: {}, limits: {}, ...(tokens ? { tokens } : {}) });
  const app: FastifyInstance = await buildApp({ ...opened.deps, ...(tokens ? { auth: { tokens } } : {}), logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('gateway has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await app.close();
      await opened.close();
      await dir.cleanup();
    },
  };
}

describe('SDK story, remote (gateway in-process on a loopback port)', () => {
  story(() => {
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    return {
      name: 'remote',
      open: async () => {
        gateway = await startGateway();
        return Armillaria.connect(gateway.url);
      },
      cleanup: async () => gateway?.stop(),
    };
  });
});

describe('SDK remote with tokens', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gateway = await startGateway([
      { token: 'admin-token', repos: { '*': 'admin' } },
      { token: 'reader-token', repos: { shop: 'read' } },
    ]);
  });
  afterAll(() => gateway?.stop());

  it('a wrong token is UNAUTHORIZED, a reader writing is FORBIDDEN, the admin does both', async () => {
    await expectCode(Armillaria.connect(gateway.url, { token: 'nope', repo: 'shop' }), ErrorCode.Unauthorized);
    const admin = await Armillaria.connect(gateway.url, { token: 'admin-token', repo: 'shop' });
    await admin.writeTable('items', [{ id: 1, price: 3 }], { primaryKey: ['id'] });
    const reader = await Armillaria.connect(gateway.url, { token: 'reader-token', repo: 'shop', createRepo: false });
    expect((await reader.query('SELECT price FROM items')).rows).toEqual([{ price: 3 }]);
    await expectCode(reader.appendRows('items', [{ id: 2, price: 4 }]), ErrorCode.Forbidden);
    await admin.close();
    await reader.close();
  });

  it('connect rejects a URL that is not http(s) with INVALID_ARGUMENT', async () => {
    await expectCode(Armillaria.connect('ftp://127.0.0.1:1'), ErrorCode.InvalidArgument);
    await expectCode(Armillaria.connect('not a url'), ErrorCode.InvalidArgument);
  });
});

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Starts a service bin as its own process on a free loopback port; resolves with its base URL. */
async function startService(script: string, env: Record<string, string>, procs: NodeProcess[]): Promise<string> {
  const p = spawnNode(root(script), { env: { ...env, ARMILLARIA_HOST: '127.0.0.1', ARMILLARIA_PORT: '0', ARMILLARIA_LOG_LEVEL: 'info' } });
  procs.push(p);
  const line = await p.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, { timeoutMs: 90_000 });
  return line.replace('Server listening at ', '');
}

const distributed = hasService('s3') && hasService('redis') && hasService('nats');

describe.skipIf(!distributed)('SDK story, remote: every service its own process on MinIO + Redis + NATS', () => {
  story(() => {
    const procs: NodeProcess[] = [];
    let bucket: string | undefined;
    let cache: TempDir | undefined;
    return {
      name: 'distributed',
      open: async () => {
        bucket = await createTestBucket('e2e-sdk');
        cache = tempDir('e2e-gateway-cache');
        const env = {
          ARMILLARIA_MODE: 'distributed', ARMILLARIA_S3_BUCKET: bucket, ARMILLARIA_DATA_DIR: cache.path,
          ARMILLARIA_S3_ACCESS_KEY: process.env.ARMILLARIA_S3_ACCESS_KEY || 'minioadmin', ARMILLARIA_S3_SECRET_KEY: process.env.ARMILLARIA_S3_SECRET_KEY || 'minioadmin',
        };
        const [catalog, chunks, txn] = await Promise.all([
          startService('packages/catalog/src/server/main.ts', env, procs),
          startService('packages/chunk-store/src/server/main.ts', env, procs),
          startService('packages/txn-coordinator/src/server/main.ts', env, procs),
        ]);
        const gateway = await startService('packages/query-gateway/src/server/main.ts', {
          ...env, ARMILLARIA_CATALOG_URL: catalog, ARMILLARIA_CHUNKS_URL: chunks, ARMILLARIA_TXN_URL: txn,
        }, procs);
        // A repo of its own: Redis and NATS are shared by every test of the run.
        return Armillaria.connect(gateway, { repo: uniqueName('e2e') });
      },
      cleanup: async () => {
        await Promise.all(procs.map((p) => p.stop()));
        await cache?.cleanup();
        if (bucket) await deleteTestBucket(bucket);
      },
    };
  });
});
