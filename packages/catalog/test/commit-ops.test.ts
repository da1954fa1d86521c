// Commit `ops` (per-table change-event ops of transaction commits): stored, read back, validated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, embeddedCatalog, type EmbeddedCatalog } from './catalog-helpers.js';

describe('commit ops', () => {
  let e: EmbeddedCatalog;
  beforeAll(async () => {
    e = await embeddedCatalog();
    await e.catalog.createRepo('r');
    await e.catalog.createTable('r', 't', { rows: [{ id: 1n }], primaryKey: ['id'] });
  });
  afterAll(async () => e?.cleanup());

  it('are stored in the commit and read back; commits without them have none', async () => {
    const head = await e.catalog.resolve('r', 'main');
    const tree = await e.catalog.readTree('r', head.tree);
    const [c] = await e.catalog.commitChain('r', 'main', { baseCommit: head.hash, commits: [{ tree, message: 'job', txnId: 'tx-1', ops: { t: 'upserted' } }] });
    expect((await e.catalog.readCommit('r', c!.hash)).ops).toEqual({ t: 'upserted' });
    expect(head.ops).toBeUndefined();
  });

  it('a bad ops map is INVALID_ARGUMENT and nothing lands', async () => {
    const head = await e.catalog.resolve('r', 'main');
    const tree = await e.catalog.readTree('r', head.tree);
    for (const ops of [['upserted'], { t: 'Upserted!' }, { t: 7 }, 'x']) {
      const code = await codeOf(e.catalog.commitChain('r', 'main', { baseCommit: head.hash, commits: [{ tree, ops: ops as never }] }));
      expect(code, JSON.stringify(ops)).toBe('INVALID_ARGUMENT');
    }
    expect((await e.catalog.resolve('r', 'main')).hash).toBe(head.hash);
  });
});
