import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@armillaria/core';
import { buildApp, openGatewayDeps } from '@armillaria/query-gateway';
import { tempDir } from '@armillaria/testkit';
import { Armillaria } from '@armillaria/sdk';

const rows = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ id: i, name: `${tag}-${i}`, score: i * 1.5 }));

/** Files under `<dir>/objects` (chunks), newest first. */
async function chunkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, 'objects'), { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

/**
 * gc() and verify() through the SDK. History reachable from a branch is kept (time travel); a deleted
 * branch's commits become garbage once they leave the retention window: a dry run only counts them, a
 * real run deletes them and leaves the live data readable and verifiable.
 */
async function gcStory(arm: Armillaria): Promise<void> {
  await arm.writeTable('t', rows(500, 'old'), { primaryKey: ['id'] });
  await arm.writeTable('t', rows(500, 'new'), { primaryKey: ['id'] });
  const scratch = async (name: string): Promise<void> => {
    await arm.createBranch(name);
    await arm.writeTable('scratch', rows(2000, name), { primaryKey: ['id'], branch: name });
    await arm.deleteBranch(name);
  };
  await scratch('tmp/a');
  const dry = await arm.gc({ dryRun: true, graceMs: 0, retainHistoryMs: 0 });
  expect(dry.dryRun).toBe(true);
  expect(dry.garbage.chunks).toBeGreaterThan(0);
  expect(dry.deleted.chunks).toBe(0);
  const real = await arm.gc({ graceMs: 0, retainHistoryMs: 0 });
  expect(real.deleted.chunks).toBe(dry.garbage.chunks);
  // Overwritten versions are still history of main: time travel keeps working.
  expect((await arm.query('SELECT min(name) AS n FROM t', { versions: { t: 1 } })).rows).toEqual([{ n: 'old-0' }]);
  expect((await arm.query('SELECT count(*) AS n, min(name) AS m FROM t')).rows).toEqual([{ n: 500, m: 'new-0' }]);
  const verified = await arm.verify();
  expect(verified.ok).toBe(true);
  expect(verified.problems).toEqual([]);
  expect(verified.chunks).toBeGreaterThan(0);
  // With the default retention (7 days) a branch deleted just now stays recoverable.
  await scratch('tmp/b');
  const kept = await arm.gc({ graceMs: 0 });
  expect(kept.deleted.chunks).toBe(0);
}

describe('SDK gc() and verify()', () => {
  it('embedded: collects an expired deleted branch, keeps history and live data, and verify finds a flipped byte', async () => {
    const dir = tempDir('sdk-gc');
    const arm = await Armillaria.open(dir.path);
    try {
      await gcStory(arm);
      // A byte flipped in every Parquet data chunk: t's live ones and the scratch table's, which the deleted
      // branch tmp/b left and the retention window keeps (verify reads what GC keeps).
      let flipped = 0;
      for (const file of await chunkFiles(dir.path)) {
        const bytes = await readFile(file);
        if (bytes.length < 100 || bytes.subarray(0, 4).toString() !== 'PAR1') continue;
        bytes[50] = (bytes[50] as number) ^ 0xff;
        await writeFile(file, bytes);
        flipped++;
      }
      const report = await arm.verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toHaveLength(flipped);
      expect(report.problems.every((p) => /corrupt/i.test(p.kind))).toBe(true);
      const needed = new Set(report.problems.flatMap((p) => p.needs.map((n) => n.table)));
      expect(needed).toEqual(new Set(['t', 'scratch']));
    } finally {
      await arm.close();
      await dir.cleanup();
    }
  });

  it('remote: the same through the gateway', async () => {
    const dir = tempDir('sdk-gc-remote');
    const opened = await openGatewayDeps(loadConfig({}, { dataDir: dir.path }), { protectedBranches: {}, limits: {} });
    const app = await buildApp({ ...opened.deps, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const arm = await Armillaria.connect(`http://127.0.0.1:${port}`);
    try {
      await gcStory(arm);
    } finally {
      await arm.close();
      await app.close();
      await opened.close();
      await dir.cleanup();
    }
  });
});
