import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedEnv, errorOf, type Env } from './helpers.js';

/** Every way out of the sandbox is refused with a typed error, and the refusal names what was refused. */
describe('QueryEngine sandbox', () => {
  let env: Env;
  let cached: string;
  beforeAll(async () => {
    env = await embeddedEnv();
    await env.catalog.createRepo('r');
    await env.catalog.createTable('r', 't', { rows: Array.from({ length: 100 }, (_, i) => ({ id: BigInt(i), v: `v${i}` })), primaryKey: ['id'] });
    await env.engine.query('r', 'SELECT count(*) FROM t');
    const files = (await readdir(env.engine.cache.dir)).filter((f) => f.endsWith('.parquet'));
    cached = join(env.engine.cache.dir, files[0]!);
  });
  afterAll(async () => env?.cleanup());

  const refused: Array<[string, string, RegExp]> = [
    ['ATTACH', "ATTACH '/tmp/other.duckdb' AS other", /ATTACH/],
    ['DETACH', 'DETACH other', /DETACH/],
    ['INSTALL', 'INSTALL httpfs', /INSTALL|LOAD|EXTENSION/i],
    ['LOAD', 'LOAD httpfs', /LOAD/],
    ['COPY to a file', "COPY t TO '/tmp/out.csv'", /COPY/],
    ['COPY into the cache dir', 'COPY (SELECT 1) TO \'CACHE/x.parquet\' (FORMAT parquet)', /COPY/],
    ['SET', 'SET threads = 1', /SET/],
    ['RESET', 'RESET threads', /SET|RESET/],
    ['PRAGMA', 'PRAGMA enable_profiling', /PRAGMA/],
    ['INSERT', 'INSERT INTO t VALUES (1000, \'x\')', /INSERT/],
    ['UPDATE', "UPDATE t SET v = 'x'", /UPDATE/],
    ['DELETE', 'DELETE FROM t', /DELETE/],
    ['CREATE', 'CREATE TABLE x AS SELECT 1', /CREATE/],
    ['DROP', 'DROP VIEW t', /DROP/],
    ['ALTER', 'ALTER VIEW t RENAME TO u', /ALTER/],
    ['CALL', 'CALL duckdb_settings()', /CALL/],
    ['EXPORT', "EXPORT DATABASE '/tmp/exp'", /EXPORT/],
    ['two statements', 'SELECT 1; SELECT 2', /one statement/],
    ['a read then a write', 'SELECT 1; DROP VIEW t', /one statement/],
    ['read_csv', "SELECT * FROM read_csv('/etc/passwd')", /read_csv/],
    ['read_parquet of a cached chunk', "SELECT * FROM read_parquet('CACHED')", /read_parquet/],
    ['read_text', "SELECT * FROM read_text('/etc/hostname')", /read_text/],
    ['glob', "SELECT * FROM glob('/*')", /glob/],
    ['a file path as a table', "SELECT * FROM 'CACHED'", /not found/],
    ['a file path in a subquery', "SELECT (SELECT count(*) FROM '/etc/passwd')", /not found/],
    ['a CTE does not hide a path used elsewhere', 'SELECT * FROM (WITH "CACHED" AS (SELECT 1) SELECT * FROM "CACHED"), "CACHED"', /not found/],
    ['qualified names', 'SELECT * FROM temp.main.t', /qualified/],
    ['table functions in general', 'SELECT * FROM duckdb_settings()', /duckdb_settings/],
    ['query_table', "SELECT * FROM query_table('t')", /query_table/],
    ['transactions', 'BEGIN TRANSACTION', /TRANSACTION|read/],
  ];
  for (const [what, sql, message] of refused) {
    it(`refuses ${what}`, async () => {
      const err = await errorOf(env.engine.query('r', sql.replaceAll('CACHED', cached).replaceAll('CACHE', env.engine.cache.dir)));
      expect(['QUERY_REFUSED', 'TABLE_NOT_FOUND']).toContain(err.code);
      if (message.source === 'not found') expect(err.code).toBe('TABLE_NOT_FOUND');
      else expect(err.code).toBe('QUERY_REFUSED');
      expect(err.message).toMatch(message);
    });
  }

  it('file access from expressions is off (external access disabled)', async () => {
    const err = await errorOf(env.engine.query('r', "SELECT getenv('HOME') AS h"));
    expect(err.code).toBe('INVALID_ARGUMENT');
  });

  it('still runs reads: SELECT, WITH, VALUES, set operations, DESCRIBE, SHOW, SUMMARIZE, range()', async () => {
    expect((await env.engine.query('r', 'WITH x AS (SELECT id FROM t WHERE id < 3) SELECT count(*) AS n FROM x')).rows).toEqual([{ n: 3 }]);
    expect((await env.engine.query('r', 'VALUES (1), (2)')).rowCount).toBe(2);
    expect((await env.engine.query('r', 'SELECT 1 AS a UNION ALL SELECT id FROM t WHERE id = 5')).rowCount).toBe(2);
    expect((await env.engine.query('r', 'DESCRIBE t')).rows.map((r) => r.column_name)).toEqual(['id', 'v']);
    expect((await env.engine.query('r', 'SHOW t')).rowCount).toBe(2);
    expect((await env.engine.query('r', 'SUMMARIZE t')).rowCount).toBe(2);
    expect((await env.engine.query('r', 'SELECT count(*) AS n FROM range(10)')).rows).toEqual([{ n: 10 }]);
  });

  it('reused connections keep no other query\'s views: SHOW TABLES lists only what this query reads', async () => {
    await env.catalog.createRepo('other');
    await env.catalog.createTable('other', 'secret_name', { rows: [{ x: 1n }] });
    for (let i = 0; i < 6; i++) await env.engine.query('other', 'SELECT * FROM secret_name');
    for (let i = 0; i < 6; i++) {
      const shown = await env.engine.query('r', 'SHOW TABLES');
      expect(JSON.stringify(shown.rows)).not.toContain('secret_name');
      expect((await errorOf(env.engine.query('r', 'SELECT * FROM secret_name'))).code).toBe('TABLE_NOT_FOUND');
    }
    const both = await Promise.all([env.engine.query('r', 'SELECT count(*) AS n FROM t'), env.engine.query('other', 'SELECT count(*) AS n FROM secret_name')]);
    expect(both.map((b) => b.rows[0]!.n)).toEqual([100, 1]);
  });

  it('interrupts a query past its time limit: QUERY_TIMEOUT, and the engine keeps working', async () => {
    const err = await errorOf(env.engine.query('r', 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b', { timeoutMs: 200 }));
    expect(err.code).toBe('QUERY_TIMEOUT');
    expect((await env.engine.query('r', 'SELECT count(*) AS n FROM t')).rows).toEqual([{ n: 100 }]);
  });

  it('row and byte limits: LIMIT_EXCEEDED', async () => {
    expect((await errorOf(env.engine.query('r', 'SELECT * FROM t', { maxRows: 99 }))).code).toBe('LIMIT_EXCEEDED');
    expect((await env.engine.query('r', 'SELECT * FROM t', { maxRows: 100 })).rowCount).toBe(100);
    expect((await errorOf(env.engine.query('r', 'SELECT * FROM range(100000)', { maxBytes: 10_000 }))).code).toBe('LIMIT_EXCEEDED');
    expect((await errorOf(env.engine.query('r', "SELECT repeat('x', 20000) AS s", { maxBytes: 10_000 }))).code).toBe('LIMIT_EXCEEDED');
  });

  it('per-call limits never exceed the engine limits', async () => {
    const small = await embeddedEnv({ limits: { maxRows: 5 } });
    try {
      await small.catalog.createRepo('r');
      expect((await errorOf(small.engine.query('r', 'SELECT * FROM range(10)', { maxRows: 1000 }))).code).toBe('LIMIT_EXCEEDED');
    } finally {
      await small.cleanup();
    }
  });
});
