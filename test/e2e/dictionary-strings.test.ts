/**
 * Strings as Arrow dictionaries (what Arrow IPC and Parquet readers produce) in SDK transactions, in
 * both modes: same rows back, and the new tables keep the Arrow columns' nullability (the SDK used to
 * rebuild such tables with every column nullable to get past the RemoteTxnClient).
 */
import { Dictionary, tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@armillaria/core';
import { buildApp, openGatewayDeps } from '@armillaria/query-gateway';
import { Armillaria } from '@armillaria/sdk';
import { tempDir } from '@armillaria/testkit';

function readerTable(ids: number[], names: string[]) {
  const t = tableFromIPC(tableToIPC(tableFromArrays({ id: Int32Array.from(ids), name: names })));
  expect(t.schema.fields[1]!.type).toBeInstanceOf(Dictionary);
  return t;
}

async function story(arm: Armillaria): Promise<void> {
  const r = await arm.transaction(async (tx) => {
    await tx.writeTable('people', readerTable([1, 2], ['ann', 'bob']), { primaryKey: ['id'] });
    await tx.appendRows('visits', readerTable([1, 1, 2], ['home', 'shop', 'home']));
  });
  expect(r.tables.sort()).toEqual(['people', 'visits']);
  await arm.transaction(async (tx) => {
    await tx.appendRows('visits', readerTable([2], ['park']));
  });
  expect((await arm.query('SELECT p.name, count(*) AS n FROM visits v JOIN people p ON p.id = v.id GROUP BY p.name ORDER BY p.name')).rows)
    .toEqual([{ name: 'ann', n: 2 }, { name: 'bob', n: 2 }]);
  // The typed-array column is non-null in Arrow, and stays so; the dictionary strings are nullable utf8.
  for (const table of ['people', 'visits']) {
    expect((await arm.describeTable(table)).schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([['id', 'int32', false], ['name', 'utf8', true]]);
  }
}

describe('dictionary-encoded strings in SDK transactions', () => {
  it('embedded', async () => {
    const dir = tempDir('dict-embedded');
    const arm = await Armillaria.open(dir.path);
    try {
      await story(arm);
    } finally {
      await arm.close();
      await dir.cleanup();
    }
  });

  it('remote, through the gateway', async () => {
    const dir = tempDir('dict-remote');
    const opened = await openGatewayDeps(loadConfig({}, { dataDir: dir.path }), { protectedBranches: {}, limits: {} });
    const app = await buildApp({ ...opened.deps, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const arm = await Armillaria.connect(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
    try {
      await story(arm);
    } finally {
      await arm.close();
      await app.close();
      await opened.close();
      await dir.cleanup();
    }
  });
});
