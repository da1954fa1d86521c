import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnNode, uniqueName, type NodeProcess } from '@armillaria/testkit';
import { RemoteCatalog } from '../src/index.js';
import { plainRows } from './catalog-helpers.js';

const main = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));

async function start(env: Record<string, string>): Promise<{ proc: NodeProcess; catalog: RemoteCatalog }> {
  const proc = spawnNode(main, { env: { ARMILLARIA_HOST: '127.0.0.1', ARMILLARIA_PORT: '0', ARMILLARIA_LOG_LEVEL: 'info', ...env } });
  const line = await proc.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/, { timeoutMs: 60_000 });
  const port = /:(\d+)/.exec(line.slice(line.indexOf('127.0.0.1')))?.[1];
  return { proc, catalog: new RemoteCatalog({ baseUrl: `http://127.0.0.1:${port}` }) };
}

/** The `armillaria-catalog` bin as a real process: config from env, data kept across restarts. */
describe('catalog bin (embedded mode)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the catalog from ARMILLARIA_DATA_DIR and keeps it across a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-catalog-bin-'));
    const env = { ARMILLARIA_MODE: 'embedded', ARMILLARIA_DATA_DIR: dir };
    let { proc, catalog } = await start(env);
    try {
      await catalog.createRepo('demo');
      await catalog.createTable('demo', 't', { rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }], primaryKey: ['id'] });
      await catalog.createBranch('demo', 'dev');
    } finally {
      await proc.stop();
    }
    ({ proc, catalog } = await start(env));
    try {
      expect(plainRows(await catalog.read('demo', 't', { ref: 'dev' }))).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
      expect((await catalog.listBranches('demo')).map((b) => b.name)).toEqual(['dev', 'main']);
    } finally {
      await proc.stop();
    }
  });
});

const distributed = !!process.env.ARMILLARIA_S3_ENDPOINT && !!process.env.ARMILLARIA_REDIS_URL;
describe.skipIf(!distributed)('catalog bin (distributed mode: MinIO + Redis)', () => {
  it('stores chunks in S3 and refs in Redis', async () => {
    const bucket = uniqueName('catalog-bin').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 60);
    const { proc, catalog } = await start({
      ARMILLARIA_MODE: 'distributed',
      ARMILLARIA_S3_BUCKET: bucket,
      ARMILLARIA_S3_ACCESS_KEY: process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin',
      ARMILLARIA_S3_SECRET_KEY: process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin',
    });
    try {
      const repo = uniqueName('dist').replace(/[^A-Za-z0-9_.-]/g, '-');
      await catalog.createRepo(repo);
      await catalog.createTable(repo, 't', { rows: [{ id: 7, v: 'x' }], primaryKey: ['id'] });
      expect(plainRows(await catalog.read(repo, 't'))).toEqual([{ id: 7, v: 'x' }]);
    } finally {
      await proc.stop();
    }
  });
});
