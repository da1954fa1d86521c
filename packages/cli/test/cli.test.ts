import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { spawnNode, tempDir, type NodeProcess, type TempDir } from '@armillaria/testkit';
import { tableFromIPC } from 'apache-arrow';
import { buildProgram } from '../src/index.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `armillaria` command as a real child process. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const p = spawnNode(main, { args, env: { ARMILLARIA_URL: undefined, ARMILLARIA_DATA_DIR: undefined, ...env } });
  const exit = await p.exited;
  return { code: exit.code, stdout: p.stdout(), stderr: p.stderr() };
}

async function ok(args: string[], env?: Record<string, string | undefined>): Promise<string> {
  const r = await cli(args, env);
  expect(r.code, `armillaria ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

// Each `cli()` is a child process loading the whole stack (1.4-2.2 s on a 2-core VM under tsx), and a
// test runs up to ~30 of them in sequence: the default 60 s timed out on a fresh machine.
describe('armillaria CLI (child processes, embedded data dir)', { timeout: 180_000 }, () => {
  let dir: TempDir;
  let data: string[];
  beforeAll(async () => {
    dir = tempDir('cli');
    data = ['--data', join(dir.path, 'data')];
    await writeFile(join(dir.path, 'users.csv'), 'id,name,score\n1,ada,90\n2,bob,70\n3,cy,50\n');
    await writeFile(join(dir.path, 'events.jsonl'), '{"user":1,"kind":"login"}\n{"user":2,"kind":"logout"}\n');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const path = join(dir.path, 'big.parquet').replace(/'/g, "''");
    await conn.run(`COPY (SELECT i AS id, i % 7 AS bucket FROM range(250000) t(i)) TO '${path}' (FORMAT parquet)`);
    conn.closeSync();
    db.closeSync();
  });
  afterAll(() => dir?.cleanup());

  it('init, import csv/jsonl/parquet, sql in every format', async () => {
    expect(await ok([...data, 'init'])).toContain('initialised repo default');
    expect(await ok([...data, 'import', join(dir.path, 'users.csv'), '--table', 'users', '--key', 'id'])).toMatch(/imported 3 rows into users/);
    expect(await ok([...data, 'import', join(dir.path, 'events.jsonl'), '--table', 'events'])).toMatch(/imported 2 rows into events/);
    const big = await cli([...data, 'import', join(dir.path, 'big.parquet'), '--table', 'big', '--key', 'id', '--batch-rows', '50000']);
    expect(big.code, big.stderr).toBe(0);
    expect(big.stdout).toMatch(/imported 250000 rows into big \(commit [0-9a-f]{12}, \d+ rows\/s\)/);
    expect(big.stderr).toMatch(/250,000\/250,000 rows \d[\d,]* rows\/s/);

    expect(JSON.parse(await ok([...data, 'sql', 'SELECT AVG(score) AS avg, COUNT(*) AS n FROM users', '--format', 'json']))).toEqual([{ avg: 70, n: 3 }]);
    expect(await ok([...data, 'sql', 'SELECT id, name FROM users ORDER BY id', '--format', 'csv'])).toBe('id,name\n1,ada\n2,bob\n3,cy\n');
    const table = await ok([...data, 'sql', 'SELECT kind FROM events ORDER BY user']);
    expect(table).toContain('login');
    expect(table).toContain('(2 rows)');
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n, SUM(bucket) AS s FROM big', '--format', 'json']))).toEqual([{ n: 250000, s: 749995 }]);
    const arrow = spawnNode(main, { args: [...data, 'sql', 'SELECT id FROM users ORDER BY id', '--format', 'arrow'] });
    const chunks: Buffer[] = [];
    arrow.child.stdout?.removeAllListeners('data');
    arrow.child.stdout?.setEncoding('binary' as BufferEncoding);
    arrow.child.stdout?.on('data', (d: string) => chunks.push(Buffer.from(d, 'binary')));
    expect((await arrow.exited).code).toBe(0);
    const t = tableFromIPC(Buffer.concat(chunks));
    expect(t.numRows).toBe(3);
  });

  it('branch, checkout, write on the branch, merge, log, tag, diff, status', async () => {
    expect(await ok([...data, 'tag', 'v1'])).toMatch(/tagged [0-9a-f]{12} as v1/);
    expect(await ok([...data, 'branch', 'create', 'exp'])).toMatch(/created branch exp/);
    expect(await ok([...data, 'checkout', 'exp'])).toContain('on branch exp');
    await writeFile(join(dir.path, 'more.csv'), 'id,name,score\n4,dee,100\n');
    expect(await ok([...data, 'import', join(dir.path, 'more.csv'), '--table', 'users'])).toMatch(/imported 1 row into/);
    expect(await ok([...data, 'branch', 'list'])).toMatch(/\* exp [0-9a-f]{12}\n {2}main/);
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM users', '--branch', 'main', '--format', 'json']))).toEqual([{ n: 3 }]);
    expect(await ok([...data, 'merge', 'exp', '--into', 'main'])).toMatch(/^(fast-forward|merge): exp into main/);
    expect(await ok([...data, 'checkout', 'main'])).toContain('on branch main');
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM users', '--format', 'json']))).toEqual([{ n: 4 }]);
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM users', '--as-of', 'v1', '--format', 'json']))).toEqual([{ n: 3 }]);
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM users', '--as-of', 'now', '--format', 'json']))).toEqual([{ n: 4 }]);
    const tooEarly = await cli([...data, 'sql', 'SELECT COUNT(*) FROM users', '--as-of', '2 weeks ago']);
    expect(tooEarly.stderr).toMatch(/^error \[REF_NOT_FOUND\]: branch main did not exist at /m);
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM users', '--version', 'users=1', '--format', 'json']))).toEqual([{ n: 3 }]);
    const log = await ok([...data, 'log', '--table', 'users']);
    expect(log.trim().split('\n')).toHaveLength(2);
    expect(log).toContain('[users v2]');
    const diff = JSON.parse(await ok([...data, 'diff', '1', '2', '--table', 'users', '--json']));
    expect(diff.added).toEqual([{ id: 4, name: 'dee', score: 100 }]);
    expect(await ok([...data, 'diff', '1', '2', '--table', 'users'])).toBe('users v1 -> v2: +1 -0 ~0 (by id)\n+ {"id":4,"name":"dee","score":100}\n');
    expect(await ok([...data, 'diff', 'v1', 'main', '--rows'])).toBe('users (modified v1 -> v2): +1 -0 ~0 (by id)\n+ {"id":4,"name":"dee","score":100}\n');
    expect(await ok([...data, 'diff', 'main', 'main', '--rows'])).toBe('no changes between main and main\n');
    expect(await ok([...data, 'diff', 'v1', 'main'])).toMatch(/users +\| modified \| v1 +\| v2/);
    const status = await ok([...data, 'status']);
    expect(status).toContain('on branch main');
    expect(status).toMatch(/users +\| 2 +\| 4 +\| id +\| 1 +\| *\n/);
    expect(await ok([...data, 'branch', 'delete', 'exp'])).toContain('deleted branch exp');
  });

  it('tail replays the changelog', async () => {
    const out = await ok([...data, 'tail', 'users', '--from', 'earliest', '--limit', '2']);
    const events = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.table)).toEqual(['users', 'users']);
    expect(events.map((e) => e.versionAfter)).toEqual([1, 2]);
  });

  it('compact merges small appended chunks, or folds a keyed table\'s pending changes (status shows them), into a new version; the second run commits nothing', async () => {
    expect(await ok([...data, 'import', join(dir.path, 'events.jsonl'), '--table', 'events'])).toMatch(/imported 2 rows into events/);
    expect(await ok([...data, 'compact', 'events'])).toMatch(/^compacted events to v3 at [0-9a-f]{12}: 4 rows, 1 chunks written, 0 kept\n$/);
    expect(await ok([...data, 'compact', 'events'])).toBe('events is already compact (v3, 1 chunks): nothing committed\n');
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n FROM events', '--format', 'json']))).toEqual([{ n: 4 }]);
    const out = await ok([...data, 'tail', 'events', '--from', 'earliest', '--limit', '3']);
    expect(out.trim().split('\n').map((l) => JSON.parse(l).op)).toEqual(['created', 'appended', 'compacted']);
    // A keyed table of several chunks takes a small change as pending merge-on-read rows; compact folds them.
    await writeFile(join(dir.path, 'fix.csv'), 'id,bucket\n250003,99\n250007,99\n');
    expect(await ok([...data, 'import', join(dir.path, 'fix.csv'), '--table', 'big'])).toMatch(/imported 2 rows into big/);
    const status = await ok([...data, 'status']);
    expect(status).toMatch(/big +\| 2 +\| 250002 +\| id +\| 4 +\| 2 *\n/);
    expect(status).toContain('reads merge pending changes in big: `armillaria compact <table>` folds them in');
    const described = await ok([...data, 'describe', 'big']);
    expect(described).toMatch(/^big v2 on main \(commit [0-9a-f]{12}\)\n250002 rows, 4 chunks, [\d.]+ (KiB|MiB); primary key id\n/);
    expect(described).toMatch(/\nid +\| int64 +\| yes +\| 1\nbucket +\| int64 +\| yes +\| *\n/);
    expect(described).toContain('pending changes: 2 rows (0 deletes) kept apart from the base; reads merge them, `armillaria compact big` folds them in');
    expect(JSON.parse(await ok([...data, 'describe', 'big', '--version', '1', '--json']))).toMatchObject({ table: 'big', version: 1, rows: 250000, primaryKey: ['id'] });
    expect((await cli([...data, 'describe', 'nope'])).stderr).toMatch(/^error \[TABLE_NOT_FOUND\]/m);
    expect(await ok([...data, 'compact', 'big'])).toMatch(/^compacted big to v3 at [0-9a-f]{12}: 250002 rows, \d+ chunks written, \d+ kept\n$/);
    expect(await ok([...data, 'status'])).not.toContain('pending changes in');
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT COUNT(*) AS n, SUM(bucket) AS s FROM big WHERE id IN (250003, 250007)', '--format', 'json']))).toEqual([{ n: 2, s: 198 }]);
    const bad = await cli([...data, 'compact', 'nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('TABLE_NOT_FOUND');
  });

  it('import --upsert of the key and some columns changes those and keeps the others', async () => {
    await writeFile(join(dir.path, 'accounts.csv'), 'id,name,city,plan\n1,ada,London,free\n2,bob,Paris,pro\n');
    await writeFile(join(dir.path, 'moves.csv'), 'id,city\n2,Berlin\n3,Oslo\n');
    await ok([...data, 'import', join(dir.path, 'accounts.csv'), '--table', 'accounts', '--key', 'id', '--no-progress']);
    expect(await ok([...data, 'import', join(dir.path, 'moves.csv'), '--table', 'accounts', '--upsert', '--no-progress'])).toMatch(/^upserted 2 rows into accounts/);
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT * FROM accounts ORDER BY id', '--format', 'json']))).toEqual([
      { id: 1, name: 'ada', city: 'London', plan: 'free' },
      { id: 2, name: 'bob', city: 'Berlin', plan: 'pro' },
      { id: 3, name: null, city: 'Oslo', plan: null },
    ]);
  });

  it('import --upsert replaces rows by key, --delete removes the keys a file lists; append of a held key names the table', async () => {
    await writeFile(join(dir.path, 'people.csv'), 'id,city\n1,London\n2,Paris\n3,Berlin\n');
    await writeFile(join(dir.path, 'people-up.csv'), 'id,city\n2,Rome\n4,Oslo\n');
    await writeFile(join(dir.path, 'people-gone.csv'), 'id,city\n1,ignored\n9,absent\n');
    const people = async () => JSON.parse(await ok([...data, 'sql', 'SELECT id, city FROM people ORDER BY id', '--format', 'json']));
    // --upsert creates an absent table given --key.
    expect(await ok([...data, 'import', join(dir.path, 'people.csv'), '--table', 'people', '--key', 'id', '--upsert'])).toMatch(/^upserted 3 rows into people \(commit [0-9a-f]{12}/);
    const held = await cli([...data, 'import', join(dir.path, 'people-up.csv'), '--table', 'people']);
    expect(held.code).toBe(1);
    expect(held.stderr).toContain('error [DUPLICATE_KEY]: duplicate primary key ["2"]: people holds it already (append only inserts new keys; upsert replaces rows by key)');
    expect(await people()).toEqual([{ id: 1, city: 'London' }, { id: 2, city: 'Paris' }, { id: 3, city: 'Berlin' }]);
    expect(await ok([...data, 'import', join(dir.path, 'people-up.csv'), '--table', 'people', '--upsert'])).toMatch(/^upserted 2 rows into people/);
    expect(await people()).toEqual([{ id: 1, city: 'London' }, { id: 2, city: 'Rome' }, { id: 3, city: 'Berlin' }, { id: 4, city: 'Oslo' }]);
    expect(await ok([...data, 'import', join(dir.path, 'people-up.csv'), '--table', 'people', '--upsert'])).toMatch(/^no change: people already holds what people-up.csv says \(head [0-9a-f]{12}, nothing committed\)\n$/);
    // Only the key column counts; an absent key is a no-op.
    const deleted = await ok([...data, 'import', join(dir.path, 'people-gone.csv'), '--table', 'people', '--delete']);
    expect(deleted).toMatch(/^deleted the 2 keys of people-gone.csv from people \(3 rows left; commit [0-9a-f]{12}/);
    const deleteCommit = /commit ([0-9a-f]{12})/.exec(deleted)![1]!;
    expect(await people()).toEqual([{ id: 2, city: 'Rome' }, { id: 3, city: 'Berlin' }, { id: 4, city: 'Oslo' }]);
    const log = await ok([...data, 'log', '--table', 'people']);
    expect(log).toContain('delete the keys in people-gone.csv from people');
    expect(log).toContain('upsert people-up.csv into people');
    const both = await cli([...data, 'import', join(dir.path, 'people-up.csv'), '--table', 'people', '--upsert', '--delete']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('error [INVALID_ARGUMENT]: give at most one of --replace, --upsert and --delete, not --upsert and --delete');
    const unkeyed = await cli([...data, 'import', join(dir.path, 'people-gone.csv'), '--table', 'events', '--delete']);
    expect(unkeyed.code).toBe(1);
    expect(unkeyed.stderr).toContain('error [PRIMARY_KEY_REQUIRED]');
    // A merge conflict shows the key and the columns the sides disagree on, then how to resolve it.
    expect(await ok([...data, 'branch', 'create', 'people-exp'])).toMatch(/created branch people-exp/);
    await writeFile(join(dir.path, 'people-main.csv'), 'id,city\n3,Bonn\n');
    await writeFile(join(dir.path, 'people-exp.csv'), 'id,city\n3,Basel\n');
    await ok([...data, 'import', join(dir.path, 'people-main.csv'), '--table', 'people', '--upsert']);
    await ok([...data, 'import', join(dir.path, 'people-exp.csv'), '--table', 'people', '--upsert', '--branch', 'people-exp']);
    const conflict = await cli([...data, 'merge', 'people-exp']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/people \| \[3\] \| both sides changed city differently \| \{"city":"Berlin"\} \| \{"city":"Bonn"\} +\| \{"city":"Basel"\}/);
    expect(conflict.stderr).toContain("nothing was written; --strategy ours keeps main's side of each conflict, --strategy theirs takes people-exp's");
    expect(conflict.stderr).toMatch(/error \[MERGE_CONFLICT\]/);
    expect(await ok([...data, 'merge', 'people-exp', '--strategy', 'theirs'])).toMatch(/^merge: people-exp into main at [0-9a-f]{12} \(1 conflict resolved by theirs\)/);
    expect((await people()).find((r: { id: number }) => r.id === 3)).toEqual({ id: 3, city: 'Basel' });
    // revert undoes the delete (a new commit); a key changed again since would conflict.
    expect(await ok([...data, 'revert', deleteCommit])).toMatch(/^reverted [0-9a-f]{12} on main at [0-9a-f]{12}\n$/);
    expect(await people()).toEqual([{ id: 1, city: 'London' }, { id: 2, city: 'Rome' }, { id: 3, city: 'Basel' }, { id: 4, city: 'Oslo' }]);
    // What the last commit changed: git's ancestry syntax works wherever a ref does.
    expect(await ok([...data, 'diff', 'main~1', 'main', '--rows'])).toBe('people (modified v5 -> v6): +1 -0 ~0 (by id)\n+ {"id":1,"city":"London"}\n');
    await writeFile(join(dir.path, 'people-up2.csv'), 'id,city\n4,Tromso\n');
    const upCommit = /commit ([0-9a-f]{12})/.exec(await ok([...data, 'import', join(dir.path, 'people-up2.csv'), '--table', 'people', '--upsert']))![1]!;
    await writeFile(join(dir.path, 'people-up2.csv'), 'id,city\n4,Bergen\n');
    await ok([...data, 'import', join(dir.path, 'people-up2.csv'), '--table', 'people', '--upsert']);
    const revertConflict = await cli([...data, 'revert', upCommit]);
    expect(revertConflict.code).toBe(1);
    expect(revertConflict.stderr).toMatch(/people \| \[4\] \|/);
    expect(revertConflict.stderr).toMatch(/error \[MERGE_CONFLICT\]/);
    // restore brings an earlier version back as a new one (here the one before the Bergen upsert).
    expect(await ok([...data, 'restore', 'people', '--as-of', 'main~1'])).toMatch(/^restored people as v\d+ \(4 rows\) on main at [0-9a-f]{12}\n$/);
    expect((await people()).find((r: { id: number }) => r.id === 4)).toEqual({ id: 4, city: 'Tromso' });
    expect(await ok([...data, 'restore', 'people', '--as-of', 'main'])).toMatch(/^people already holds that version/);
    expect((await cli([...data, 'restore', 'people'])).stderr).toContain('error [INVALID_ARGUMENT]: restore takes one of --version and --as-of');
    await ok([...data, 'import', join(dir.path, 'people-up2.csv'), '--table', 'people', '--upsert']);
    // drop commits the table's removal; the commit before still reads it.
    const dropped = await ok([...data, 'drop', 'people']);
    expect(dropped).toMatch(/^dropped people on main at [0-9a-f]{12} \(still readable with --as-of [0-9a-f]{12}\)\n$/);
    const gone = await cli([...data, 'sql', 'SELECT * FROM people']);
    expect(gone.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]/m);
    const readable = /--as-of ([0-9a-f]{12})/.exec(dropped)![1]!;
    expect(JSON.parse(await ok([...data, 'sql', 'SELECT city FROM people WHERE id = 4', '--as-of', readable, '--format', 'json']))).toEqual([{ city: 'Bergen' }]);
  });

  it('bad input: a typed error line and exit 1; usage errors exit non-zero; --help on each command', async () => {
    const missing = await cli([...data, 'sql', 'SELECT * FROM nowhere']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]: /m);
    const refused = await cli([...data, 'sql', 'DROP TABLE users']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error [QUERY_REFUSED]');
    const format = await cli([...data, 'sql', 'SELECT 1', '--format', 'xml']);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('error [INVALID_ARGUMENT]');
    const noBranch = await cli([...data, 'checkout', 'nope']);
    expect(noBranch.code).toBe(1);
    expect(noBranch.stderr).toMatch(/error \[(REF|BRANCH)_NOT_FOUND\]/);
    const usage = await cli([...data, 'import', join(dir.path, 'users.csv')]);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toContain("required option '--table <name>' not specified");
    const help = await cli(['import', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: armillaria import [options] <file>');
    // Every command's help, in-process (the same program main.ts runs).
    for (const cmd of ['init', 'serve', 'import', 'sql', 'branch', 'checkout', 'log', 'diff', 'merge', 'revert', 'drop', 'restore', 'describe', 'tag', 'tail', 'status']) {
      let out = '';
      const program = buildProgram({ out: (t) => void (out += String(t)), err: () => undefined });
      const err = await program.parseAsync(['node', 'armillaria', cmd, '--help']).then(() => undefined, (e: unknown) => e);
      expect((err as { code?: string })?.code, cmd).toBe('commander.helpDisplayed');
      expect(out).toContain(`Usage: armillaria ${cmd}`);
    }
  });

  it('serve + remote commands through ARMILLARIA_URL', async () => {
    let server: NodeProcess | undefined;
    try {
      // The embedded default: no S3 / Redis / NATS from the test harness's environment.
      server = spawnNode(main, {
        args: ['--data', join(dir.path, 'served'), 'serve', '--port', '0'],
        env: { ARMILLARIA_URL: undefined, ARMILLARIA_S3_ENDPOINT: undefined, ARMILLARIA_REDIS_URL: undefined, ARMILLARIA_NATS_URL: undefined, ARMILLARIA_MODE: undefined },
      });
      const line = await server.waitForOutput(/listening on http:\/\/127\.0\.0\.1:\d+/, { timeoutMs: 60_000 });
      const url = line.replace('listening on ', '');
      const env = { ARMILLARIA_URL: url };
      expect(await ok(['init'], env)).toContain('(remote: http://127.0.0.1:');
      expect(await ok(['import', join(dir.path, 'users.csv'), '--table', 'users', '--key', 'id'], env)).toMatch(/imported 3 rows/);
      expect(JSON.parse(await ok(['sql', 'SELECT MAX(score) AS m FROM users', '--format', 'json'], env))).toEqual([{ m: 90 }]);
      const status = await ok(['status'], env);
      expect(status).toMatch(/^remote http:\/\/127\.0\.0\.1:\d+/);
      const refused = await cli(['sql', 'COPY users TO \'/tmp/x.csv\''], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('error [QUERY_REFUSED]');
    } finally {
      const exit = await server?.stop();
      if (exit) expect(exit.code).toBe(0);
    }
  });

  it('gc --dry-run and gc report counts; verify says ok and exits 0, then exits 1 on a flipped byte', async () => {
    expect(await ok([...data, 'gc', '--dry-run', '--grace', '0'])).toMatch(/^dry run: would delete \d+ chunks .*scanned \d+, live \d+/);
    expect(await ok([...data, 'gc'])).toMatch(/^deleted 0 chunks .*; expired 0 reflog entries, forgot 0 deleted refs; \d+ ms\n$/); // default grace: everything is younger than an hour
    expect(await ok([...data, 'verify'])).toMatch(/^ok: \d+ objects, \d+ chunks re-hashed/);
    const bad = await cli([...data, 'gc', '--grace', 'soon']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--grace');
    // Corrupt every Parquet data chunk of the store (some may be unreachable leftovers): verify names them and fails.
    const files = (await readdir(join(dir.path, 'data', 'objects'), { withFileTypes: true, recursive: true })).filter((e) => e.isFile());
    let corrupted = 0;
    for (const f of files) {
      const path = join(f.parentPath, f.name);
      const bytes = await readFile(path);
      if (bytes.subarray(0, 4).toString() !== 'PAR1' || bytes.length < 100) continue;
      bytes[60] = (bytes[60] as number) ^ 0xff;
      await writeFile(path, bytes);
      corrupted++;
    }
    expect(corrupted).toBeGreaterThan(0);
    const broken = await cli([...data, 'verify', '--all']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/corrupt chunk [0-9a-f]{64}: .*needed by/);
    expect(broken.stdout).toMatch(/PROBLEMS: .* [1-9]\d* problems/);
  });

});
