import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '@armillaria/core';
import { Float64, Int64, Table, vectorFromArray } from 'apache-arrow';
import type { CatalogApi } from '../src/index.js';
import { codeOf, errorOf, plainRows, uniqueRepo } from './catalog-helpers.js';

export interface CatalogUnderTest {
  catalog: CatalogApi;
  cleanup(): Promise<void>;
}

const schema = {
  fields: [
    { name: 'id', type: 'int64' as const, nullable: false },
    { name: 'name', type: 'utf8' as const },
    { name: 'score', type: 'float64' as const },
  ],
};
const row = (id: number, name: string, score = id * 1.5) => ({ id, name, score });

/** The behaviour of every CatalogApi implementation (embedded `Catalog`, `RemoteCatalog`). */
export function catalogContract(name: string, factory: () => Promise<CatalogUnderTest>): void {
  describe(`Catalog contract: ${name}`, () => {
    let ctx: CatalogUnderTest;
    let c: CatalogApi;
    beforeAll(async () => {
      ctx = await factory();
      c = ctx.catalog;
    });
    afterAll(async () => ctx?.cleanup());

    async function repoWithUsers(base: string): Promise<string> {
      const repo = uniqueRepo(base);
      await c.createRepo(repo);
      await c.createTable(repo, 'users', { schema, primaryKey: ['id'], rows: [row(1, 'ada'), row(2, 'bob'), row(3, 'cy')] });
      return repo;
    }

    it('creates, gets and lists repos; rejects duplicates, bad and unknown names', async () => {
      const repo = uniqueRepo('repos');
      const info = await c.createRepo(repo, { defaultBranch: 'trunk' });
      expect(info).toMatchObject({ name: repo, defaultBranch: 'trunk' });
      expect(await c.getRepo(repo)).toEqual(info);
      expect((await c.listRepos()).map((r) => r.name)).toContain(repo);
      expect(await codeOf(c.createRepo(repo))).toBe('REF_CONFLICT');
      expect(await codeOf(c.createRepo('bad name'))).toBe('INVALID_NAME');
      expect(await codeOf(c.createRepo('../etc'))).toBe('INVALID_NAME');
      expect(await codeOf(c.getRepo(uniqueRepo('missing')))).toBe('REPO_NOT_FOUND');
      expect((await c.listBranches(repo)).map((b) => b.name)).toEqual(['trunk']);
      const root = await c.resolve(repo);
      expect(root.parents).toEqual([]);
      expect(root.generation).toBe(0);
      expect(await c.listTables(repo)).toEqual([]);
    });

    it('creates tables from rows or a schema and reads them back', async () => {
      const repo = await repoWithUsers('tables');
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'ada'), row(2, 'bob'), row(3, 'cy')]);
      const d = await c.describeTable(repo, 'users');
      expect(d).toMatchObject({ table: 'users', version: 1, rows: 3, primaryKey: ['id'], chunks: 1 });
      expect(d.pending).toBeUndefined();
      expect(d.schema.fields.map((f) => [f.name, f.type])).toEqual([['id', 'int64'], ['name', 'utf8'], ['score', 'float64']]);
      await c.createTable(repo, 'events', { schema: { fields: [{ name: 'msg', type: 'utf8' }] } });
      expect((await c.read(repo, 'events')).numRows).toBe(0);
      await c.createTable(repo, 'inferred', { rows: [{ k: 'a', n: 1 }, { k: 'b', n: 2.5 }] });
      expect(plainRows(await c.read(repo, 'inferred'), 'n')).toEqual([{ k: 'a', n: 1 }, { k: 'b', n: 2.5 }]);
      // Whole-number keys given as plain numbers are inferred as int64 (keys cannot be floats).
      await c.createTable(repo, 'keyed', { rows: [{ id: 2, v: 'b' }, { id: 1, v: 'a' }], primaryKey: ['id'] });
      expect((await c.describeTable(repo, 'keyed')).schema.fields.map((f) => f.type)).toEqual(['int64', 'utf8']);
      expect(plainRows(await c.read(repo, 'keyed'))).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
      expect((await c.listTables(repo)).map((t) => [t.table, t.version])).toEqual([['events', 1], ['inferred', 1], ['keyed', 1], ['users', 1]]);
      expect(plainRows(await c.read(repo, 'users', { columns: ['id', 'name'] }))).toEqual([{ id: 1, name: 'ada' }, { id: 2, name: 'bob' }, { id: 3, name: 'cy' }]);

      expect(await codeOf(c.createTable(repo, 'users', { schema }))).toBe('TABLE_EXISTS');
      expect(await codeOf(c.createTable(repo, 'bad/name', { schema }))).toBe('INVALID_NAME');
      expect(await codeOf(c.createTable(repo, 'nothing', {}))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.read(repo, 'ghost'))).toBe('TABLE_NOT_FOUND');
      expect(await codeOf(c.read(repo, 'users', { ref: 'no-such-ref' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.read(repo, 'users', { ref: 'bad ref!' }))).toBe('INVALID_NAME');
      const schemaErr = await errorOf(c.write(repo, 'users', [{ id: 1, nope: 2 }]));
      expect(schemaErr.code).toBe('SCHEMA_MISMATCH');
      // The format names tables by manifest hash; the catalog puts the table's name back.
      expect(schemaErr.message).toMatch(/^table users: /);
      expect(schemaErr.details).toMatchObject({ table: 'users' });
      expect(await codeOf(c.write(repo, 'users', [row(1, 'x')], { branch: 'ghost' }))).toBe('BRANCH_NOT_FOUND');
      const repeated = await errorOf(c.write(repo, 'users', [row(1, 'x'), row(1, 'y')]));
      expect(repeated.code).toBe('DUPLICATE_KEY');
      expect(repeated.details).toEqual({ table: 'users', key: ['1'], reason: 'repeated' });
      expect(repeated.message).toBe('duplicate primary key ["1"]: the rows for users hold it more than once');
    });

    it('restores an earlier table version as a new commit pointing at its manifest; brings back a dropped table; no commit when already there', async () => {
      const repo = await repoWithUsers('restore');
      const v1 = await c.tableVersion(repo, 'users', { version: 1 });
      await c.upsert(repo, 'users', [row(2, 'bobby')]);
      await c.deleteRows(repo, 'users', [{ id: 1 }]);
      const r = await c.restoreTable(repo, 'users', { version: 1, message: 'undo the morning' });
      expect(r).toMatchObject({ table: 'users', version: 4, manifest: v1.manifest, rows: 3 });
      expect(r.commit.message).toBe('undo the morning');
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'ada'), row(2, 'bob'), row(3, 'cy')]);
      // Zero copy: the tree entry names version 1's manifest again.
      expect((await c.tableVersion(repo, 'users', {})).manifest).toBe(v1.manifest);
      const again = await c.restoreTable(repo, 'users', { ref: 'main~3' });
      expect(again.unchanged).toBe(true);
      expect(again.commit.hash).toBe(r.commit.hash);
      // By ref (ancestry) and by time, and the default message names what came back.
      const byRef = await c.restoreTable(repo, 'users', { ref: 'main~1' });
      expect(byRef.commit.message).toMatch(/^restore users to v3 of [0-9a-f]{12}$/);
      expect(plainRows(await c.read(repo, 'users')).map((x) => x.id)).toEqual([2, 3]);
      const byTime = await c.restoreTable(repo, 'users', { asOf: r.commit.time });
      expect(plainRows(await c.read(repo, 'users')).map((x) => x.id)).toEqual([1, 2, 3]);
      expect(byTime.version).toBe(6);
      // A dropped table comes back as a new table (version 1) with its old rows.
      const beforeDrop = await c.resolve(repo, 'main');
      await c.dropTable(repo, 'users');
      const back = await c.restoreTable(repo, 'users', { ref: beforeDrop.hash });
      expect(back.version).toBe(1);
      expect(plainRows(await c.read(repo, 'users')).map((x) => x.id)).toEqual([1, 2, 3]);
      expect(await codeOf(c.restoreTable(repo, 'users', {}))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.restoreTable(repo, 'users', { version: 99 }))).toBe('VERSION_NOT_FOUND');
      expect(await codeOf(c.restoreTable(repo, 'ghost', { version: 1 }))).toBe('TABLE_NOT_FOUND');
      expect(await codeOf(c.restoreTable(repo, 'users', { version: 1, branch: 'nope' }))).toBe('BRANCH_NOT_FOUND');
    });

    it('writes, appends, upserts, deletes and adds columns, each a new table version', async () => {
      const repo = await repoWithUsers('ops');
      const up = await c.upsert(repo, 'users', [row(2, 'bobby'), row(4, 'dee')]);
      expect(up.version).toBe(2);
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'ada'), row(2, 'bobby'), row(3, 'cy'), row(4, 'dee')]);
      const del = await c.deleteRows(repo, 'users', [{ id: 1 }, { id: 99 }]);
      expect(del.version).toBe(3);
      expect(plainRows(await c.read(repo, 'users')).map((r) => r.id)).toEqual([2, 3, 4]);
      await c.write(repo, 'users', [row(10, 'ten')]);
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(10, 'ten')]);
      const exists = await errorOf(c.append(repo, 'users', [row(10, 'again')]));
      expect(exists.code).toBe('DUPLICATE_KEY');
      expect(exists.details).toEqual({ table: 'users', key: ['10'], reason: 'exists' });
      expect(exists.message).toContain('users holds it already (append only inserts new keys; upsert replaces rows by key)');
      await c.append(repo, 'users', [row(11, 'eleven')]);
      const add = await c.addColumn(repo, 'users', { name: 'active', type: 'bool' });
      expect(add.version).toBe(6);
      expect(plainRows(await c.read(repo, 'users'))).toEqual([{ ...row(10, 'ten'), active: null }, { ...row(11, 'eleven'), active: null }]);
      await c.upsert(repo, 'users', [{ ...row(12, 'twelve'), active: true }]);
      expect(plainRows(await c.read(repo, 'users')).at(-1)).toEqual({ ...row(12, 'twelve'), active: true });

      await c.createTable(repo, 'log', { rows: [{ msg: 'a' }] });
      await c.append(repo, 'log', [{ msg: 'b' }]);
      expect((await c.read(repo, 'log')).numRows).toBe(2);
      expect(await codeOf(c.upsert(repo, 'log', [{ msg: 'c' }]))).toBe('PRIMARY_KEY_REQUIRED');
      expect(await codeOf(c.deleteRows(repo, 'log', [{ msg: 'a' }]))).toBe('PRIMARY_KEY_REQUIRED');

      await c.dropTable(repo, 'log');
      expect(await codeOf(c.read(repo, 'log'))).toBe('TABLE_NOT_FOUND');
      expect(await codeOf(c.dropTable(repo, 'log'))).toBe('TABLE_NOT_FOUND');
    });

    it('partial upserts: a row leaving out a column keeps its stored value; null writes null; new keys get null', async () => {
      const repo = await repoWithUsers('partial');
      await c.upsert(repo, 'users', [{ id: 1, score: 99 }, { id: 2, name: 'bobby', score: null }, { id: 4, name: 'dee' }]);
      expect(plainRows(await c.read(repo, 'users'))).toEqual([
        row(1, 'ada', 99), row(2, 'bobby', null as unknown as number), row(3, 'cy'), { id: 4, name: 'dee', score: null },
      ]);
      // Per row: one row gives a name, the next only a score (each keeps the other column).
      await c.upsert(repo, 'users', [{ id: 3, name: 'cyrus' }, { id: 4, score: 6 }]);
      expect(plainRows(await c.read(repo, 'users')).slice(2)).toEqual([row(3, 'cyrus'), { id: 4, name: 'dee', score: 6 }]);
      // An Arrow table lacking a column keeps it for every row.
      await c.upsert(repo, 'users', new Table({ id: vectorFromArray([1n, 3n], new Int64()), score: vectorFromArray([7, 8], new Float64()) }));
      expect(plainRows(await c.read(repo, 'users')).filter((r) => r.id === 1 || r.id === 3)).toEqual([row(1, 'ada', 7), row(3, 'cyrus', 8)]);
      // Rows must hold the key; a new key needs every non-nullable column. Nothing is written.
      const head = (await c.resolve(repo)).hash;
      const noKey = await errorOf(c.upsert(repo, 'users', [{ id: 5, name: 'e' }, { name: 'f' }]));
      expect(noKey.code).toBe('SCHEMA_MISMATCH');
      expect(noKey.message).toContain('row 1 lacks key column "id"');
      expect(await codeOf(c.upsert(repo, 'users', [{ id: 1, nick: 'x' }]))).toBe('SCHEMA_MISMATCH');
      await c.createTable(repo, 'accounts', {
        schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'email', type: 'utf8', nullable: false }, { name: 'plan', type: 'utf8' }] },
        primaryKey: ['id'], rows: [{ id: 1, email: 'a@x', plan: 'free' }],
      });
      const accounts = (await c.resolve(repo)).hash;
      await c.upsert(repo, 'accounts', [{ id: 1, plan: 'pro' }]);
      expect(plainRows(await c.read(repo, 'accounts'))).toEqual([{ id: 1, email: 'a@x', plan: 'pro' }]);
      const newKey = await errorOf(c.upsert(repo, 'accounts', [{ id: 2, plan: 'pro' }]));
      expect(newKey.code).toBe('SCHEMA_MISMATCH');
      expect(newKey.message).toContain('upsert of the new key ["2"] gives no value for column "email", which is not nullable');
      expect(newKey.details).toMatchObject({ table: 'accounts', column: 'email' });
      expect((await c.resolve(repo)).parents).toEqual([accounts]);
      expect(head).not.toBe(accounts);
    });

    it('compacts a table: the same rows in fewer chunks as a new version; already compact commits nothing', async () => {
      const repo = uniqueRepo('compact');
      await c.createRepo(repo);
      await c.createTable(repo, 'log', { rows: [{ msg: 'm0' }] });
      for (let i = 1; i < 6; i++) await c.append(repo, 'log', [{ msg: `m${i}` }]);
      const before = await c.resolve(repo);
      expect((await c.describeTable(repo, 'log')).chunks).toBe(6);
      const rows = plainRows(await c.read(repo, 'log'));
      const r = await c.compactTable(repo, 'log', { message: 'optimize log' });
      expect(r).toMatchObject({ table: 'log', version: 7, rows: 6, chunksWritten: 1 });
      expect(r.unchanged).toBeUndefined();
      expect(r.commit.message).toBe('optimize log');
      expect(plainRows(await c.read(repo, 'log'))).toEqual(rows);
      expect((await c.describeTable(repo, 'log')).chunks).toBe(1);
      const d = await c.diff(repo, before.hash, r.commit.hash, { rows: true });
      expect(d.tables).toHaveLength(1);
      expect(d.tables[0]!.chunks).toMatchObject({ added: [expect.anything()], removed: Array.from({ length: 6 }, () => expect.anything()) });
      expect(d.tables[0]!.rows).toMatchObject({ added: [], removed: [], changed: [] });
      // Time travel still reaches the appended layout, and a second compaction has nothing to do.
      expect(plainRows(await c.read(repo, 'log', { version: 6 }))).toEqual(rows);
      const again = await c.compactTable(repo, 'log');
      expect(again).toMatchObject({ unchanged: true, version: 7, chunksWritten: 0, chunksReused: 1 });
      expect(again.commit.hash).toBe(r.commit.hash);
      expect((await c.resolve(repo)).hash).toBe(r.commit.hash);

      await c.createTable(repo, 'users', { schema, primaryKey: ['id'], rows: [row(1, 'ada')] });
      expect((await c.compactTable(repo, 'users')).unchanged).toBe(true);
      expect(await codeOf(c.compactTable(repo, 'nope'))).toBe('TABLE_NOT_FOUND');
      expect(await codeOf(c.compactTable(repo, 'log', { branch: 'no-such-branch' }))).toBe('BRANCH_NOT_FOUND');
      expect(await codeOf(c.compactTable(uniqueRepo('missing'), 'log'))).toBe('REPO_NOT_FOUND');
    });

    it('time travel by version, tag, commit hash and prefix, and time', async () => {
      const repo = await repoWithUsers('travel');
      const v1 = await c.tableVersion(repo, 'users');
      await sleep(3);
      const second = await c.upsert(repo, 'users', [row(4, 'dee')], { message: 'add dee' });
      await c.createTag(repo, 'release-1');
      await sleep(3);
      await c.deleteRows(repo, 'users', [{ id: 1 }]);

      const ids = async (opts: Parameters<CatalogApi['read']>[2]) => plainRows(await c.read(repo, 'users', opts)).map((r) => r.id);
      expect(await ids({ version: 1 })).toEqual([1, 2, 3]);
      expect(await ids({ version: 2 })).toEqual([1, 2, 3, 4]);
      expect(await ids({ version: 3 })).toEqual([2, 3, 4]);
      expect(await ids({ ref: 'release-1' })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: second.commit.hash })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: second.commit.hash.slice(0, 8) })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: v1.commit })).toEqual([1, 2, 3]);
      expect(await ids({ asOf: new Date(second.commit.time) })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: `main@{${second.commit.time}}` })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: `main@{${new Date(second.commit.time).toISOString()}}` })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: `${second.commit.hash}@{${second.commit.time - 1}}` })).toEqual([1, 2, 3]);
      expect(await ids({ ref: 'release-1', version: 1 })).toEqual([1, 2, 3]);
      expect((await c.tableVersion(repo, 'users', { version: 2 })).commit).toBe(second.commit.hash);

      expect(await codeOf(c.read(repo, 'users', { version: 4 }))).toBe('VERSION_NOT_FOUND');
      expect(await codeOf(c.read(repo, 'users', { version: 0 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.read(repo, 'users', { ref: 'main@{1000}' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.read(repo, 'users', { ref: 'main@{yesterday-ish}' }))).toBe('INVALID_ARGUMENT');
      // Relative times count back from the resolving process's clock: 'now' is the head; a day ago, nothing.
      expect(await ids({ ref: 'main@{now}' })).toEqual([2, 3, 4]);
      expect(await ids({ asOf: '0 seconds ago' })).toEqual([2, 3, 4]);
      expect(await codeOf(c.read(repo, 'users', { ref: 'main@{1.day.ago}' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.read(repo, 'users', { asOf: '2 weeks ago' }))).toBe('REF_NOT_FOUND');
      // Git's ancestry suffixes: first-parent steps back from any ref, through skip pointers.
      expect(await ids({ ref: 'main~0' })).toEqual([2, 3, 4]);
      expect(await ids({ ref: 'main~1' })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: 'main^' })).toEqual([1, 2, 3, 4]);
      expect(await ids({ ref: 'main~2' })).toEqual([1, 2, 3]);
      expect(await ids({ ref: 'main^~1' })).toEqual([1, 2, 3]);
      expect(await ids({ ref: 'release-1~1' })).toEqual([1, 2, 3]);
      expect(await ids({ ref: `${second.commit.hash.slice(0, 10)}^` })).toEqual([1, 2, 3]);
      expect(await ids({ ref: `main@{${second.commit.time}}~1` })).toEqual([1, 2, 3]);
      const head = await c.resolve(repo, 'main');
      expect((await c.resolve(repo, `main~${head.generation}`)).parents).toEqual([]);
      const tooFar = await errorOf(c.resolve(repo, `main~${head.generation + 1}`));
      expect([tooFar.code, tooFar.message]).toEqual(['REF_NOT_FOUND', `main~${head.generation + 1}: commit ${head.hash.slice(0, 12)} has only ${head.generation} first-parent ancestors`]);
      const badRef = await errorOf(c.read(repo, 'users', { ref: 'last tuesday' }));
      expect([badRef.code, badRef.message]).toEqual(['INVALID_NAME', 'invalid ref name "last tuesday": not a branch, tag or commit hash (a time is ISO-8601, e.g. 2026-12-01T10:00Z, or relative, e.g. "3 days ago")']);
      expect(await codeOf(c.read(repo, 'users', { ref: 'ffffff' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.readCommit(repo, 'f'.repeat(64)))).toBe('COMMIT_NOT_FOUND');
      expect(await codeOf(c.readCommit(repo, 'nope'))).toBe('COMMIT_NOT_FOUND');
      const commit = await c.readCommit(repo, second.commit.hash);
      expect(commit).toMatchObject({ hash: second.commit.hash, message: 'add dee', generation: 2 });
      const tree = await c.readTree(repo, commit.tree);
      expect(tree.tables.users).toMatchObject({ version: 2 });
    });

    it('version lookups never cross into an earlier life of a dropped and recreated table', async () => {
      const repo = await repoWithUsers('reborn');
      await c.upsert(repo, 'users', [row(4, 'dee')]);
      await c.dropTable(repo, 'users');
      await c.createTable(repo, 'users', { schema, primaryKey: ['id'], rows: [row(7, 'new')] });
      expect(plainRows(await c.read(repo, 'users', { version: 1 })).map((r) => r.id)).toEqual([7]);
      expect(await codeOf(c.read(repo, 'users', { version: 2 }))).toBe('VERSION_NOT_FOUND');
      expect((await c.log(repo, { table: 'users' })).map((e) => e.tableVersion)).toEqual([1]);
    });

    it('logs a branch and one table', async () => {
      const repo = await repoWithUsers('log');
      await c.createTable(repo, 'other', { rows: [{ x: 1 }] });
      await c.upsert(repo, 'users', [row(5, 'eve')], { message: 'eve', author: 'tester' });
      await c.append(repo, 'other', [{ x: 2 }]);
      const log = await c.log(repo);
      expect(log.map((e) => e.message)).toEqual(['append other', 'eve', 'create table other', 'create table users', `create repo ${repo}`]);
      expect(log[1]?.author).toBe('tester');
      expect((await c.log(repo, { limit: 2 })).length).toBe(2);
      const tableLog = await c.log(repo, { table: 'users' });
      expect(tableLog.map((e) => [e.message, e.tableVersion])).toEqual([['eve', 2], ['create table users', 1]]);
      expect(await codeOf(c.log(repo, { limit: 0 }))).toBe('INVALID_ARGUMENT');
    });

    it('branches: create from any ref, list, isolate writes, delete', async () => {
      const repo = await repoWithUsers('branches');
      const head = await c.resolve(repo);
      const b = await c.createBranch(repo, 'experiment/x');
      expect(b).toEqual({ name: 'experiment/x', commit: head.hash });
      await c.upsert(repo, 'users', [row(9, 'nine')], { branch: 'experiment/x' });
      expect(plainRows(await c.read(repo, 'users')).map((r) => r.id)).toEqual([1, 2, 3]);
      expect(plainRows(await c.read(repo, 'users', { ref: 'experiment/x' })).map((r) => r.id)).toEqual([1, 2, 3, 9]);
      await c.createBranch(repo, 'old', { from: head.parents[0] as string });
      expect(await codeOf(c.read(repo, 'users', { ref: 'old' }))).toBe('TABLE_NOT_FOUND');
      expect((await c.listBranches(repo)).map((x) => x.name)).toEqual(['experiment/x', 'main', 'old']);
      expect((await c.getBranch(repo, 'experiment/x')).commit).not.toBe(head.hash);

      expect(await codeOf(c.createBranch(repo, 'old'))).toBe('BRANCH_EXISTS');
      expect(await codeOf(c.createBranch(repo, 'a b'))).toBe('INVALID_NAME');
      expect(await codeOf(c.createBranch(repo, 'a/../b'))).toBe('INVALID_NAME');
      expect(await codeOf(c.createBranch(repo, 'x', { from: 'nowhere' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.getBranch(repo, 'nowhere'))).toBe('BRANCH_NOT_FOUND');
      expect(await codeOf(c.deleteBranch(repo, 'main'))).toBe('INVALID_ARGUMENT');
      await c.deleteBranch(repo, 'old');
      expect(await codeOf(c.deleteBranch(repo, 'old'))).toBe('BRANCH_NOT_FOUND');
      const reflog = await c.branchReflog(repo, 'old');
      expect(reflog.map((e) => [e.old, e.new])).toEqual([[head.parents[0], null], [null, head.parents[0]]]);
      const xlog = await c.branchReflog(repo, 'experiment/x');
      expect(xlog.length).toBe(2);
      expect(xlog[1]).toMatchObject({ old: null, new: head.hash });
      expect(await c.branchReflog(repo, 'experiment/x', { before: xlog[1]?.time as number })).toEqual([]);
      expect((await c.branchReflog(repo, 'experiment/x', { limit: 1 })).length).toBe(1);
      expect(await codeOf(c.branchReflog(repo, 'bad name'))).toBe('INVALID_NAME');
      expect((await c.listBranches(repo)).map((x) => x.name)).toEqual(['experiment/x', 'main']);
    });

    it('tags: create, list, never move, delete', async () => {
      const repo = await repoWithUsers('tags');
      const t = await c.createTag(repo, 'v1');
      expect(t.commit).toBe((await c.resolve(repo)).hash);
      await c.upsert(repo, 'users', [row(4, 'dee')]);
      expect(await codeOf(c.createTag(repo, 'v1'))).toBe('TAG_EXISTS');
      expect((await c.resolve(repo, 'v1')).hash).toBe(t.commit);
      expect(await c.listTags(repo)).toEqual([{ name: 'v1', commit: t.commit }]);
      expect(await codeOf(c.createTag(repo, 'a/b'))).toBe('INVALID_NAME');
      await c.deleteTag(repo, 'v1');
      expect(await codeOf(c.deleteTag(repo, 'v1'))).toBe('TAG_NOT_FOUND');
      expect(await codeOf(c.resolve(repo, 'v1'))).toBe('REF_NOT_FOUND');
    });

    it('diffs two refs at table and row level', async () => {
      const repo = await repoWithUsers('diff');
      await c.createTag(repo, 'before');
      await c.upsert(repo, 'users', [row(2, 'bobby'), row(4, 'dee')]);
      await c.deleteRows(repo, 'users', [{ id: 1 }]);
      await c.createTable(repo, 'extra', { rows: [{ a: 'x' }] });
      const d = await c.diff(repo, 'before', 'main', { rows: true });
      expect(d.tables.map((t) => [t.table, t.status])).toEqual([['extra', 'added'], ['users', 'modified']]);
      const users = d.tables.find((t) => t.table === 'users');
      expect(users?.chunks.added.length).toBeGreaterThan(0);
      expect(users?.rows?.added).toEqual([row(4, 'dee')]);
      expect(users?.rows?.removed).toEqual([row(1, 'ada')]);
      expect(users?.rows?.changed).toEqual([{ key: [2], before: row(2, 'bob'), after: row(2, 'bobby') }]);
      const onlyUsers = await c.diff(repo, 'before', 'main', { table: 'users' });
      expect(onlyUsers.tables.map((t) => t.table)).toEqual(['users']);
      expect(onlyUsers.tables[0]?.rows).toBeUndefined();
      expect((await c.diff(repo, 'main', 'main')).tables).toEqual([]);
      const back = await c.diff(repo, 'main', 'before');
      expect(back.tables.map((t) => [t.table, t.status])).toEqual([['extra', 'removed'], ['users', 'modified']]);
      expect(await codeOf(c.diff(repo, 'before', 'nope'))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.diff(repo, 'before', 'main', { table: 'ghost' }))).toBe('TABLE_NOT_FOUND');
    });

    it('merges: fast-forward, up-to-date, one-sided tables, disjoint keys', async () => {
      const repo = await repoWithUsers('merge');
      await c.createBranch(repo, 'ff');
      await c.upsert(repo, 'users', [row(4, 'dee')], { branch: 'ff' });
      const ff = await c.merge(repo, { source: 'ff' });
      expect(ff.kind).toBe('fast-forward');
      expect((await c.resolve(repo)).hash).toBe((await c.resolve(repo, 'ff')).hash);
      expect((await c.merge(repo, { source: 'ff' })).kind).toBe('up-to-date');

      await c.createTable(repo, 'side', { rows: [{ s: 'main' }] });
      await c.createBranch(repo, 'feature');
      await c.upsert(repo, 'users', [row(1, 'ADA')]);
      await c.upsert(repo, 'users', [row(2, 'BOB'), row(20, 'twenty')], { branch: 'feature' });
      await c.deleteRows(repo, 'users', [{ id: 3 }], { branch: 'feature' });
      await c.createTable(repo, 'newtab', { rows: [{ n: 1 }], branch: 'feature' });
      await c.write(repo, 'side', [{ s: 'feature' }], { branch: 'feature' });
      const oursHead = await c.resolve(repo);
      const m = await c.merge(repo, { source: 'feature', message: 'merge feature' });
      expect(m.kind).toBe('merge');
      expect(m.commit.parents).toEqual([oursHead.hash, (await c.resolve(repo, 'feature')).hash]);
      expect(m.commit.message).toBe('merge feature');
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'ADA'), row(2, 'BOB'), row(4, 'dee'), row(20, 'twenty')]);
      expect(plainRows(await c.read(repo, 'newtab'), 'n')).toEqual([{ n: 1 }]);
      expect(plainRows(await c.read(repo, 'side'), 's')).toEqual([{ s: 'feature' }]);
      expect((await c.tableVersion(repo, 'users')).version).toBeGreaterThan((await c.tableVersion(repo, 'users', { ref: 'feature' })).version);
      expect((await c.log(repo, { limit: 3 }))[0]?.hash).toBe(m.commit.hash);
      // Versions made on the merged branch stay addressable from the merge (through its second parent).
      const featureUsers = await c.tableVersion(repo, 'users', { ref: 'feature' });
      const viaMerge = await c.tableVersion(repo, 'users', { version: featureUsers.version });
      expect(viaMerge.manifest).toBe(featureUsers.manifest);
      expect(await codeOf(c.merge(repo, { source: 'nope' }))).toBe('REF_NOT_FOUND');
      expect(await codeOf(c.merge(repo, { source: 'feature', into: 'nope' }))).toBe('BRANCH_NOT_FOUND');
      expect(await codeOf(c.merge(repo, { source: 'feature', strategy: 'bogus' as 'fail' }))).toBe('INVALID_ARGUMENT');
    });

    it('merge conflicts on the same key: fail writes nothing; ours and theirs resolve', async () => {
      const repo = await repoWithUsers('conflict');
      await c.createBranch(repo, 'a');
      await c.upsert(repo, 'users', [row(1, 'main-1'), row(2, 'main-2')]);
      await c.upsert(repo, 'users', [row(1, 'a-1'), row(3, 'a-3')], { branch: 'a' });
      await c.deleteRows(repo, 'users', [{ id: 2 }], { branch: 'a' });
      const before = await c.resolve(repo);
      const err = await errorOf(c.merge(repo, { source: 'a' }));
      expect(err.code).toBe('MERGE_CONFLICT');
      const conflicts = (err.details?.conflicts ?? []) as Array<Record<string, unknown>>;
      const byKey = Object.fromEntries(conflicts.map((x) => [JSON.stringify(x.key), x]));
      expect(Object.keys(byKey).sort()).toEqual(['[1]', '[2]']);
      expect(byKey['[1]']).toMatchObject({ table: 'users', kind: 'row', base: row(1, 'ada'), ours: row(1, 'main-1'), theirs: row(1, 'a-1') });
      expect(byKey['[2]']).toMatchObject({ base: row(2, 'bob'), ours: row(2, 'main-2'), theirs: null });
      expect((await c.resolve(repo)).hash).toBe(before.hash);

      await c.createBranch(repo, 'main-copy');
      const ours = await c.merge(repo, { source: 'a', strategy: 'ours' });
      expect(ours.resolved.length).toBe(2);
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'main-1'), row(2, 'main-2'), row(3, 'a-3')]);
      const theirs = await c.merge(repo, { source: 'a', into: 'main-copy', strategy: 'theirs' });
      expect(theirs.kind).toBe('merge');
      expect(plainRows(await c.read(repo, 'users', { ref: 'main-copy' }))).toEqual([row(1, 'a-1'), row(3, 'a-3')]);
    });

    it('merges a row both sides updated cell by cell; a column both changed is the conflict, and strategies resolve only it', async () => {
      const repo = await repoWithUsers('cells');
      await c.createBranch(repo, 'a');
      await c.createBranch(repo, 'b');
      await c.upsert(repo, 'users', [{ id: 1, name: 'ADA' }, { id: 2, score: 30 }]);
      await c.upsert(repo, 'users', [{ id: 1, score: 10 }, { id: 2, score: 30 }], { branch: 'a' });
      const clean = await c.merge(repo, { source: 'a' });
      expect(clean).toMatchObject({ kind: 'merge', resolved: [] });
      expect(plainRows(await c.read(repo, 'users')).slice(0, 2)).toEqual([row(1, 'ADA', 10), row(2, 'bob', 30)]);

      // Both change `score` of key 1 (b also renames it): only `score` conflicts.
      await c.upsert(repo, 'users', [{ id: 1, name: 'ada-b', score: 99 }], { branch: 'b' });
      const before = await c.resolve(repo);
      const err = await errorOf(c.merge(repo, { source: 'b' }));
      expect(err.code).toBe('MERGE_CONFLICT');
      expect(err.details?.conflicts).toEqual([expect.objectContaining({
        table: 'users', kind: 'row', key: [1], columns: ['name', 'score'], reason: 'both sides changed name, score differently',
      })]);
      expect((await c.resolve(repo)).hash).toBe(before.hash);
      await c.upsert(repo, 'users', [{ id: 1, name: 'ada' }]); // ours puts the name back: only score differs now
      await c.createBranch(repo, 'main-copy');
      const again = await errorOf(c.merge(repo, { source: 'b' }));
      expect(again.details?.conflicts).toEqual([expect.objectContaining({ key: [1], columns: ['score'] })]);
      // ours keeps our score and takes their name; theirs takes their score too.
      expect((await c.merge(repo, { source: 'b', strategy: 'ours' })).resolved).toHaveLength(1);
      expect(plainRows(await c.read(repo, 'users'))[0]).toEqual(row(1, 'ada-b', 10));
      await c.merge(repo, { source: 'b', into: 'main-copy', strategy: 'theirs' });
      expect(plainRows(await c.read(repo, 'users', { ref: 'main-copy' }))[0]).toEqual(row(1, 'ada-b', 99));

      // Revert, cell by cell: the columns changed since the reverted commit keep their new values.
      const renamed = await c.upsert(repo, 'users', [{ id: 3, name: 'CY' }]);
      const rescored = await c.upsert(repo, 'users', [{ id: 3, score: 7 }]);
      await c.revert(repo, renamed.commit.hash);
      expect(plainRows(await c.read(repo, 'users'))[2]).toEqual(row(3, 'cy', 7));
      await c.upsert(repo, 'users', [{ id: 3, score: 8 }]);
      const rv = await errorOf(c.revert(repo, rescored.commit.hash));
      expect(rv.code).toBe('MERGE_CONFLICT');
      expect(rv.details?.conflicts).toEqual([expect.objectContaining({ key: [3], columns: ['score'] })]);
    });

    it('merges appends to a table without a key; other edits of it conflict', async () => {
      const repo = uniqueRepo('appendmerge');
      await c.createRepo(repo);
      await c.createTable(repo, 'events', { rows: [{ n: 1 }, { n: 2 }] });
      await c.createBranch(repo, 'side');
      await c.append(repo, 'events', [{ n: 3 }]);
      await c.append(repo, 'events', [{ n: 10 }, { n: 11 }], { branch: 'side' });
      await c.merge(repo, { source: 'side' });
      expect(plainRows(await c.read(repo, 'events'), 'n')).toEqual([1, 2, 3, 10, 11].map((n) => ({ n })));

      await c.createBranch(repo, 'rewrite');
      await c.write(repo, 'events', [{ n: 99 }], { branch: 'rewrite' });
      await c.append(repo, 'events', [{ n: 4 }]);
      const err = await errorOf(c.merge(repo, { source: 'rewrite' }));
      expect(err.code).toBe('MERGE_CONFLICT');
      expect(err.details?.conflicts).toEqual([expect.objectContaining({ table: 'events', kind: 'table' })]);
    });

    it('merge conflicts at table level: dropped on one side, changed on the other', async () => {
      const repo = await repoWithUsers('tconflict');
      await c.createBranch(repo, 'dropper');
      await c.dropTable(repo, 'users', { branch: 'dropper' });
      await c.upsert(repo, 'users', [row(5, 'five')]);
      const err = await errorOf(c.merge(repo, { source: 'dropper' }));
      expect(err.code).toBe('MERGE_CONFLICT');
      expect(err.details?.conflicts).toEqual([expect.objectContaining({ table: 'users', kind: 'table' })]);
      await c.merge(repo, { source: 'dropper', strategy: 'theirs' });
      expect(await codeOf(c.read(repo, 'users'))).toBe('TABLE_NOT_FOUND');
    });

    it('reverts a commit, and refuses when its rows changed since', async () => {
      const repo = await repoWithUsers('revert');
      const bad = await c.upsert(repo, 'users', [row(2, 'oops'), row(8, 'eight')]);
      await c.upsert(repo, 'users', [row(3, 'cyrus')]);
      const r = await c.revert(repo, bad.commit.hash.slice(0, 10));
      expect(r.commit.message).toContain('revert');
      expect(plainRows(await c.read(repo, 'users'))).toEqual([row(1, 'ada'), row(2, 'bob'), row(3, 'cyrus')]);

      const later = await c.upsert(repo, 'users', [row(1, 'ADA')]);
      await c.upsert(repo, 'users', [row(1, 'ADA!')]);
      const head = await c.resolve(repo);
      expect(await codeOf(c.revert(repo, later.commit.hash))).toBe('MERGE_CONFLICT');
      expect((await c.resolve(repo)).hash).toBe(head.hash);

      const created = await c.createTable(repo, 'tmp', { rows: [{ t: 1 }] });
      await c.revert(repo, created.commit.hash);
      expect(await codeOf(c.read(repo, 'tmp'))).toBe('TABLE_NOT_FOUND');
      expect(await codeOf(c.revert(repo, (await c.log(repo)).at(-1)?.hash as string))).toBe('INVALID_ARGUMENT');
    });

    it('commitTree is one compare-and-swap: a stale base is REF_CONFLICT', async () => {
      const repo = await repoWithUsers('cas');
      const base = await c.resolve(repo);
      const tree = await c.readTree(repo, base.tree);
      const users = tree.tables.users as { manifest: string; version: number };
      const next = await c.commitTree(repo, 'main', { baseCommit: base.hash, tree: { tables: { copy: { manifest: users.manifest, version: 1 }, users } }, message: 'copy', txnId: 'txn-1' });
      expect(next).toMatchObject({ parents: [base.hash], txnId: 'txn-1', message: 'copy' });
      expect(plainRows(await c.read(repo, 'copy'))).toEqual(plainRows(await c.read(repo, 'users')));
      const err = await errorOf(c.commitTree(repo, 'main', { baseCommit: base.hash, tree, message: 'stale' }));
      expect(err.code).toBe('REF_CONFLICT');
      expect(err.details).toMatchObject({ expected: base.hash, actual: next.hash });
      expect((await c.resolve(repo)).hash).toBe(next.hash);
      expect(await codeOf(c.commitTree(repo, 'ghost', { baseCommit: base.hash, tree }))).toBe('BRANCH_NOT_FOUND');
      expect(await codeOf(c.commitTree(repo, 'main', { baseCommit: next.hash, tree, mergeParents: ['f'.repeat(64)] }))).toBe('COMMIT_NOT_FOUND');
      expect(await codeOf(c.commitTree(repo, 'main', { baseCommit: 'nope', tree }))).toBe('COMMIT_NOT_FOUND');
      expect(await codeOf(c.commitTree(repo, 'main', { baseCommit: next.hash, tree: { tables: { 'bad name': { manifest: users.manifest, version: 1 } } } }))).toBe('INVALID_NAME');
      expect(await codeOf(c.commitTree(repo, 'main', { baseCommit: next.hash, tree: { tables: { t: { manifest: 'x', version: 1 } } } }))).toBe('INVALID_ARGUMENT');
      const merged = await c.commitTree(repo, 'main', { baseCommit: next.hash, tree, mergeParents: [base.hash], message: 'two parents' });
      expect(merged.parents).toEqual([next.hash, base.hash]);
    });

    it('commitChain lands a chain of commits with one compare-and-swap: all or none', async () => {
      const repo = await repoWithUsers('chain');
      const base = await c.resolve(repo);
      const users = (await c.readTree(repo, base.tree)).tables.users as { manifest: string; version: number };
      const reflogBefore = (await c.branchReflog(repo, 'main')).length;
      const chain = await c.commitChain(repo, 'main', {
        baseCommit: base.hash,
        commits: [
          { tree: { tables: { users, a: { manifest: users.manifest, version: 1 } } }, message: 'one', txnId: 'txn-a' },
          { tree: { tables: { users, a: { manifest: users.manifest, version: 1 }, b: { manifest: users.manifest, version: 1 } } }, message: 'two', author: 'bo', txnId: 'txn-b' },
          { tree: { tables: { users, b: { manifest: users.manifest, version: 2 } } }, message: 'three' },
        ],
      });
      expect(chain.map((x) => x.message)).toEqual(['one', 'two', 'three']);
      expect(chain.map((x) => x.parents)).toEqual([[base.hash], [chain[0]?.hash], [chain[1]?.hash]]);
      expect(chain.map((x) => x.generation)).toEqual([1, 2, 3].map((g) => base.generation + g));
      expect(chain.map((x) => x.txnId)).toEqual(['txn-a', 'txn-b', undefined]);
      expect(chain[1]?.author).toBe('bo');
      expect((await c.resolve(repo)).hash).toBe(chain[2]?.hash);
      // Every commit of the chain is a readable, indexed commit (full hash and prefix).
      for (const x of chain) {
        expect((await c.readCommit(repo, x.hash)).hash).toBe(x.hash);
        expect((await c.resolve(repo, x.hash.slice(0, 12))).hash).toBe(x.hash);
      }
      // Origins: a table new in the chain starts at the commit it was added on; others keep theirs.
      const t1 = await c.readTree(repo, (chain[1] as { tree: string }).tree);
      expect(t1.tables.a?.origin).toBe(base.hash);
      expect(t1.tables.b?.origin).toBe(chain[0]?.hash);
      expect(t1.tables.users?.origin).toBe((await c.readTree(repo, base.tree)).tables.users?.origin);
      expect(await codeOf(c.read(repo, 'a'))).toBe('TABLE_NOT_FOUND');
      expect((await c.tableVersion(repo, 'b')).version).toBe(2);
      // One ref move, one reflog entry, for the whole chain.
      const reflog = await c.branchReflog(repo, 'main');
      expect(reflog.length).toBe(reflogBefore + 1);
      expect(reflog[0]).toMatchObject({ old: base.hash, new: chain[2]?.hash });

      // A stale base: REF_CONFLICT and none of the chain visible.
      const err = await errorOf(c.commitChain(repo, 'main', { baseCommit: base.hash, commits: [{ tree: { tables: {} }, message: 'x' }, { tree: { tables: { users } }, message: 'y' }] }));
      expect(err.code).toBe('REF_CONFLICT');
      expect((await c.resolve(repo)).hash).toBe(chain[2]?.hash);
      expect((await c.log(repo)).map((e) => e.message).slice(0, 3)).toEqual(['three', 'two', 'one']);
      expect((await c.branchReflog(repo, 'main')).length).toBe(reflogBefore + 1);

      // Bad input: nothing written.
      const head = chain[2]?.hash as string;
      expect(await codeOf(c.commitChain(repo, 'main', { baseCommit: head, commits: [] }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.commitChain(repo, 'main', { baseCommit: head, commits: Array.from({ length: 257 }, () => ({ tree: { tables: {} } })) }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.commitChain(repo, 'main', { baseCommit: head, commits: [{ tree: { tables: {} } }, { message: 'no tree' } as never] }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(c.commitChain(repo, 'main', { baseCommit: head, commits: [{ tree: { tables: { users } } }, { tree: { tables: { 'bad name': users } } }] }))).toBe('INVALID_NAME');
      expect(await codeOf(c.commitChain(repo, 'main', { baseCommit: 'nope', commits: [{ tree: { tables: {} } }] }))).toBe('COMMIT_NOT_FOUND');
      expect(await codeOf(c.commitChain(repo, 'ghost', { baseCommit: head, commits: [{ tree: { tables: {} } }] }))).toBe('BRANCH_NOT_FOUND');
      expect((await c.resolve(repo)).hash).toBe(head);

      // beforeSwap: the swap waits for it; if it fails, nothing is swapped.
      let seen: string | undefined;
      const hooked = await c.commitChain(repo, 'main', {
        baseCommit: head, commits: [{ tree: { tables: { users } }, message: 'hooked' }],
        beforeSwap: async () => {
          await sleep(20);
          seen = (await c.resolve(repo)).hash;
        },
      });
      expect(seen).toBe(head);
      expect((await c.resolve(repo)).hash).toBe(hooked[0]?.hash);
      const failed = await c.commitChain(repo, 'main', {
        baseCommit: hooked[0]?.hash as string, commits: [{ tree: { tables: {} }, message: 'never' }],
        beforeSwap: () => Promise.reject(new Error('prepare failed')),
      }).catch((e: unknown) => e);
      expect((failed as Error).message).toBe('prepare failed');
      expect((await c.resolve(repo)).hash).toBe(hooked[0]?.hash);
    });

    it('concurrent writes to different tables rebase; to the same table one wins', async () => {
      const repo = await repoWithUsers('rebase');
      await c.createTable(repo, 'other', { schema, primaryKey: ['id'] });
      const results = await Promise.all([
        ...[1, 2, 3].map((i) => c.upsert(repo, 'users', [row(100 + i, `u${i}`)]).then(() => 'ok', (e: { code?: string }) => e.code)),
        ...[1, 2, 3].map((i) => c.upsert(repo, 'other', [row(i, `o${i}`)]).then(() => 'ok', (e: { code?: string }) => e.code)),
      ]);
      for (const r of results) expect(['ok', 'REF_CONFLICT']).toContain(r);
      const users = plainRows(await c.read(repo, 'users')).filter((r) => Number(r.id) > 100).length;
      const other = plainRows(await c.read(repo, 'other')).length;
      expect(users + other).toBe(results.filter((r) => r === 'ok').length);
      expect(users).toBeGreaterThanOrEqual(1);
      expect(other).toBeGreaterThanOrEqual(1);
    });
  });
}
