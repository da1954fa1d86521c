/**
 * A column declared non-null (Arrow `nullable: false`, or `nullable: false` in a schema spec) stays
 * non-null in the manifest, on read, after keyed edits (delta and fold) and through the service; a null
 * written into it is SCHEMA_MISMATCH naming the column, and nothing is committed.
 */
import type { AddressInfo } from 'node:net';
import { Field, Int32, Int64, Schema, Table, Utf8, tableFromArrays, vectorFromArray, RecordBatch } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { RemoteCatalog, buildApp, type CatalogApi } from '../src/index.js';
import { embeddedCatalog } from './catalog-helpers.js';

interface Fixture {
  catalog: CatalogApi;
  cleanup(): Promise<void>;
}

async function embedded(): Promise<Fixture> {
  const e = await embeddedCatalog();
  return { catalog: e.catalog, cleanup: () => e.cleanup() };
}

async function remote(): Promise<Fixture> {
  const e = await embeddedCatalog();
  const app = await buildApp({ catalog: e.catalog });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const catalog = new RemoteCatalog({ baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` });
  return { catalog, cleanup: async () => { await catalog.close(); await app.close(); await e.cleanup(); } };
}

const nullability = (schema: Schema): Record<string, boolean> => Object.fromEntries(schema.fields.map((f) => [f.name, f.nullable]));

/** An Arrow table whose field nullability is exactly `schema`'s (Table(columns) would mark all nullable). */
function arrowTable(schema: Schema, columns: Record<string, unknown[]>): Table {
  const vectors = Object.fromEntries(schema.fields.map((f) => [f.name, vectorFromArray(columns[f.name]!, f.type)]));
  return new Table(new Table(vectors).batches.map((b) => new RecordBatch(schema, b.data)));
}

async function expectSchemaMismatch(p: Promise<unknown>, column: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code: ErrorCode.SchemaMismatch, message: expect.stringContaining(column) });
}

for (const [mode, open] of [['embedded', embedded], ['remote', remote]] as const) {
  describe(`non-null columns (${mode})`, () => {
    it('a schema spec with nullable: false survives write, read and describe; a null is refused and nothing commits', async () => {
      const { catalog, cleanup } = await open();
      try {
        await catalog.createRepo('r');
        const spec = { fields: [{ name: 'id', type: 'int64' as const, nullable: false }, { name: 'name', type: 'utf8' as const, nullable: false }, { name: 'note', type: 'utf8' as const }] };
        await catalog.createTable('r', 't', { schema: spec, primaryKey: ['id'], rows: [{ id: 1, name: 'a', note: null }] });
        const described = await catalog.describeTable('r', 't');
        expect(described.schema.fields.map((f) => [f.name, f.nullable])).toEqual([['id', false], ['name', false], ['note', true]]);
        expect(nullability((await catalog.read('r', 't')).schema)).toEqual({ id: false, name: false, note: true });
        const before = (await catalog.tableVersion('r', 't')).version;

        // Plain rows and Arrow tables (whose own field says nullable), on every write path.
        await expectSchemaMismatch(catalog.append('r', 't', [{ id: 2, name: null, note: 'x' }]), 'name');
        // A partial upsert may leave out `name` for a key the table holds, not for a new key, and may not null it.
        await expectSchemaMismatch(catalog.upsert('r', 't', [{ id: 5, note: 'x' }]), 'name');
        await expectSchemaMismatch(catalog.upsert('r', 't', [{ id: 1, name: null }]), 'name');
        const withNull = tableFromArrays({ id: BigInt64Array.from([3n]), name: ['c'], note: ['n'] });
        const nulled = new Table({ id: withNull.getChild('id')!, name: vectorFromArray([null], new Utf8()), note: withNull.getChild('note')! });
        await expectSchemaMismatch(catalog.upsert('r', 't', nulled), 'name');
        await expectSchemaMismatch(catalog.write('r', 't', nulled), 'name');
        expect((await catalog.tableVersion('r', 't')).version).toBe(before);

        // Keyed edits small enough for the merge-on-read delta (tombstones hold nulls internally), then more.
        await catalog.upsert('r', 't', [{ id: 2, name: 'b', note: null }]);
        await catalog.deleteRows('r', 't', [{ id: 1 }]);
        await catalog.upsert('r', 't', Array.from({ length: 300 }, (_, i) => ({ id: 10 + i, name: `n${i}`, note: i % 2 ? null : 'even' })));
        const read = await catalog.read('r', 't');
        expect(nullability(read.schema)).toEqual({ id: false, name: false, note: true });
        expect(read.numRows).toBe(301);
        expect(read.getChild('name')!.nullCount).toBe(0);
        // A nullable column added later is nullable; the others keep their flag.
        await catalog.addColumn('r', 't', { name: 'extra', type: 'int32' });
        expect(nullability((await catalog.read('r', 't')).schema)).toEqual({ id: false, name: false, note: true, extra: true });
      } finally {
        await cleanup();
      }
    });

    it('an Arrow table with non-null fields keeps them; typed-array columns from tableFromArrays are non-null too', async () => {
      const { catalog, cleanup } = await open();
      try {
        await catalog.createRepo('r');
        const schema = new Schema([new Field('k', new Int32(), false), new Field('v', new Utf8(), true)]);
        await catalog.createTable('r', 'a', { rows: arrowTable(schema, { k: [1, 2], v: ['x', null] }) });
        expect(nullability((await catalog.read('r', 'a')).schema)).toEqual({ k: false, v: true });
        expect((await catalog.describeTable('r', 'a')).schema.fields.map((f) => f.nullable)).toEqual([false, true]);
        await catalog.append('r', 'a', [{ k: 3, v: null }]);
        await expectSchemaMismatch(catalog.append('r', 'a', [{ k: null, v: 'y' }]), 'k');
        expect((await catalog.read('r', 'a')).numRows).toBe(3);

        await catalog.createTable('r', 'b', { rows: tableFromArrays({ n: BigInt64Array.from([1n, 2n]) }) });
        expect((await catalog.describeTable('r', 'b')).schema.fields[0]).toMatchObject({ name: 'n', type: 'int64', nullable: false });
        await expectSchemaMismatch(catalog.append('r', 'b', new Table({ n: vectorFromArray([5n, null], new Int64()) })), 'n');
      } finally {
        await cleanup();
      }
    });
  });
}
