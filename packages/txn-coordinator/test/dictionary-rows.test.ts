/**
 * Dictionary-encoded string columns (what tableFromArrays, Arrow IPC and Parquet readers hand out for
 * strings) are accepted by every transaction call, in process and over HTTP alike, and stored as utf8.
 */
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dictionary, Field, Int32, Int64, List, Schema, Table, TimestampSecond, Utf8, tableFromArrays, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { tableToRows } from '@armillaria/catalog';
import { RemoteTxnClient, buildApp, type TxnApi } from '../src/index.js';
import { openStack, type Stack } from './helpers/stack.js';

interface Fixture {
  stack: Stack;
  txn: TxnApi;
  cleanup(): Promise<void>;
}

async function open(mode: 'embedded' | 'remote'): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-txn-dict-'));
  const stack = await openStack({ dir });
  const done = async (): Promise<void> => {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  };
  if (mode === 'embedded') return { stack, txn: stack.coordinator, cleanup: done };
  const app = await buildApp({ txn: stack.coordinator });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const txn = new RemoteTxnClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` });
  return { stack, txn, cleanup: async () => { await txn.close(); await app.close(); await done(); } };
}

/** Strings as Dictionary<Int32, Utf8>, the way Arrow readers produce them (checked, not assumed). */
function dictionaryTable(ids: bigint[], names: Array<string | null>): Table {
  const t = tableFromIPC(tableToIPC(tableFromArrays({ id: BigInt64Array.from(ids), name: names as string[] })));
  expect(t.schema.fields[1]!.type).toBeInstanceOf(Dictionary);
  return t;
}

const sortedRows = (t: Table) => (tableToRows(t) as Array<{ id: bigint; name: string | null }>).map((r) => ({ id: Number(r.id), name: r.name })).sort((a, b) => a.id - b.id);

for (const mode of ['embedded', 'remote'] as const) {
  describe(`dictionary strings in transactions (${mode})`, () => {
    it('createTable, append, upsert, write and deleteRows take Dictionary<Utf8> columns; the table stores utf8', async () => {
      const { stack, txn, cleanup } = await open(mode);
      try {
        await stack.catalog.createRepo('r');
        let t = await txn.begin({ repo: 'r' });
        await txn.createTable(t.id, 'people', { rows: dictionaryTable([1n, 2n], ['ann', 'bob']), primaryKey: ['id'] });
        await txn.createTable(t.id, 'log', { rows: dictionaryTable([1n], ['x']) });
        await txn.commit(t.id);

        t = await txn.begin({ repo: 'r' });
        await txn.upsert(t.id, 'people', dictionaryTable([2n, 3n], ['bea', null]));
        await txn.append(t.id, 'log', dictionaryTable([2n, 3n], ['y', 'y']));
        await txn.deleteRows(t.id, 'people', tableFromArrays({ id: BigInt64Array.from([1n]) }));
        // Reads inside the transaction see the staged rows.
        expect(sortedRows(await txn.read(t.id, 'people'))).toEqual([{ id: 2, name: 'bea' }, { id: 3, name: null }]);
        await txn.commit(t.id);

        const described = await stack.catalog.describeTable('r', 'people');
        expect(described.schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([['id', 'int64', false], ['name', 'utf8', true]]);
        expect(sortedRows(await stack.catalog.read('r', 'people'))).toEqual([{ id: 2, name: 'bea' }, { id: 3, name: null }]);
        expect(sortedRows(await stack.catalog.read('r', 'log'))).toEqual([{ id: 1, name: 'x' }, { id: 2, name: 'y' }, { id: 3, name: 'y' }]);

        t = await txn.begin({ repo: 'r' });
        await txn.write(t.id, 'log', dictionaryTable([9n], ['z']));
        await txn.commit(t.id);
        expect(sortedRows(await stack.catalog.read('r', 'log'))).toEqual([{ id: 9, name: 'z' }]);
      } finally {
        await cleanup();
      }
    });

    it('a column type the catalog cannot store is SCHEMA_MISMATCH naming the column, the same in both modes', async () => {
      const { stack, txn, cleanup } = await open(mode);
      try {
        await stack.catalog.createRepo('r');
        const t = await txn.begin({ repo: 'r' });
        const schema = new Schema([new Field('id', new Int64(), false), new Field('at', new TimestampSecond(), true)]);
        const bad = new Table({ id: vectorFromArray([1n], new Int64()), tags: vectorFromArray([['a']], new List(new Field('item', new Utf8(), true))) });
        await expect(txn.createTable(t.id, 'bad', { rows: bad })).rejects.toMatchObject({ code: ErrorCode.SchemaMismatch, message: expect.stringContaining('tags') });
        await expect(txn.createTable(t.id, 'bad', { schema, rows: new Table(schema) })).rejects.toMatchObject({ code: ErrorCode.SchemaMismatch, message: expect.stringContaining('at') });
        // A dictionary of something other than strings is not a string column.
        const intDict = new Table({ id: vectorFromArray([1n], new Int64()), n: vectorFromArray([7], new Dictionary(new Int32(), new Int32())) });
        await expect(txn.createTable(t.id, 'bad', { rows: intDict })).rejects.toMatchObject({ code: ErrorCode.SchemaMismatch, message: expect.stringContaining('n') });
        await txn.abort(t.id);
        await expect(stack.catalog.describeTable('r', 'bad')).rejects.toMatchObject({ code: ErrorCode.TableNotFound });
      } finally {
        await cleanup();
      }
    });
  });
}
