import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnNode, type NodeProcess } from '@armillaria/testkit';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat } from '@armillaria/catalog';
import { Changelog, NatsChangeBus, RemoteChangeSubscriber } from '../src/index.js';
import { expectedEvents, ids, schema } from './subscribe.suite.js';
import { take } from './helpers.js';

const main = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));
const url = process.env.ARMILLARIA_NATS_URL;

async function start(env: Record<string, string>): Promise<{ proc: NodeProcess; remote: RemoteChangeSubscriber }> {
  const proc = spawnNode(main, { env: { ARMILLARIA_HOST: '127.0.0.1', ARMILLARIA_PORT: '0', ARMILLARIA_LOG_LEVEL: 'info', ...env } });
  const line = await proc.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/, { timeoutMs: 60_000 });
  const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
  return { proc, remote: new RemoteChangeSubscriber({ baseUrl: `http://127.0.0.1:${port}` }) };
}

/**
 * The `armillaria-changelog` bin as a real process over a data directory and NATS; this test process
 * writes commits into the same directory and publishes them on the same stream, as a writer would.
 */
describe.skipIf(!url)('changelog bin (files + NATS)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('streams replayed and live commits over SSE and resumes a durable subscriber across a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-changelog-bin-'));
    const chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: dir }), hasher: await loadHasher() });
    const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'catalog') }), format: new ParquetTableFormat({ chunks }) });
    const bus = await NatsChangeBus.connect({ servers: url! });
    const writer = new Changelog({ catalog, bus });
    const repo = `binrepo-${process.pid}-${Date.now()}`;
    const env = { ARMILLARIA_MODE: 'embedded', ARMILLARIA_DATA_DIR: dir, ARMILLARIA_NATS_URL: url! };
    const put = async (id: number): Promise<void> => {
      await writer.publishCommit(repo, 'main', (await catalog.upsert(repo, 't', [{ id, v: `v${id}` }])).commit);
    };
    let { proc, remote } = await start(env);
    try {
      await catalog.createRepo(repo);
      await writer.publishCommit(repo, 'main', (await catalog.createTable(repo, 't', { schema, primaryKey: ['id'] })).commit);
      await put(1);
      const it = remote.subscribe({ repo, branch: 'main', from: 'earliest', durableName: `bin-${process.pid}` })[Symbol.asyncIterator]();
      const got = [(await it.next()).value, (await it.next()).value];
      await put(2);
      got.push((await it.next()).value);
      await it.return?.();
      expect(ids(got)).toEqual(ids(await expectedEvents(catalog, repo, 'main', -1)));
      await put(3);
      await proc.stop();
      ({ proc, remote } = await start(env));
      await put(4);
      const resumed = await take(remote.subscribe({ repo, branch: 'main', from: 'earliest', durableName: `bin-${process.pid}` }), 2);
      expect(ids([...got, ...resumed])).toEqual(ids(await expectedEvents(catalog, repo, 'main', -1)));
    } finally {
      await proc.stop();
      await bus.close();
      await catalog.close();
    }
  });
});
