import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmillariaError } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, loadHasher, type Hasher, type ObjectStore } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, jsonSafe, tableToRows, type CatalogOptions, type Commit, type RefStore } from '../src/index.js';
import type { Table } from 'apache-arrow';

/** An ObjectStore that counts writes: proves which operations store data and which do not. */
export class CountingObjectStore extends MemoryObjectStore {
  puts = 0;
  override async put(...args: Parameters<MemoryObjectStore['put']>): ReturnType<MemoryObjectStore['put']> {
    this.puts++;
    return super.put(...args);
  }
}

/** A RefStore wrapper counting compare-and-swaps (and telling `onCas` as each one starts). */
export function countingRefs(inner: RefStore, onCas?: (name: string) => void): RefStore & { cas: string[] } {
  const cas: string[] = [];
  return {
    cas,
    get: (n) => inner.get(n),
    compareAndSwap: async (n, e, x, m) => {
      cas.push(n);
      onCas?.(n);
      return inner.compareAndSwap(n, e, x, m);
    },
    list: (p) => inner.list(p),
    reflog: (n, o) => inner.reflog(n, o),
    reflogValue: (n, b) => inner.reflogValue(n, b),
    expireReflog: (b, o) => inner.expireReflog(b, o),
    close: () => inner.close(),
  };
}

export interface EmbeddedCatalog {
  catalog: Catalog;
  objects: CountingObjectStore;
  refs: RefStore & { cas: string[] };
  cleanup(): Promise<void>;
}

/** The embedded catalog as an application builds it: chunks in an object store, refs in files. */
export async function embeddedCatalog(opts: { objects?: ObjectStore } = {}): Promise<EmbeddedCatalog> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-catalog-'));
  const objects = new CountingObjectStore();
  const chunks = new ObjectChunkStore({ objects: opts.objects ?? objects, hasher: await loadHasher() });
  const refs = countingRefs(new FsRefStore({ root: dir }));
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  return {
    catalog, objects, refs,
    cleanup: async () => {
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Rows as JSON-safe plain objects sorted by `id`, for comparing with a model. */
export function plainRows(table: Table, key = 'id'): Array<Record<string, unknown>> {
  return (jsonSafe(tableToRows(table)) as Array<Record<string, unknown>>).sort((a, b) => Number(a[key]) - Number(b[key]));
}

/** The code of the error a promise rejects with ('no error' if it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof ArmillariaError ? err.code : `untyped: ${String(err)}`;
  }
  return 'no error';
}

export async function errorOf(p: Promise<unknown>): Promise<ArmillariaError> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ArmillariaError)) throw new Error(`expected an ArmillariaError, got ${String(err)}`);
  return err;
}

let seq = 0;
/** A repo name unique within the process, so contract tests can share one catalog. */
export const uniqueRepo = (base: string): string => `${base}-${process.pid}-${++seq}`;

/**
 * A catalog over `objects` (refs in a temp dir) with repo `r` holding the keyed table `t` (one row):
 * `open` makes another catalog over the same stores (nothing cached), `removeRefs` deletes the refs' dir.
 */
export async function catalogWithTable(objects: ObjectStore, opts: Pick<CatalogOptions, 'cacheSize' | 'lineageLimit'> = {}): Promise<{
  catalog: Catalog; open: () => Catalog; created: Commit; manifest: string; removeRefs: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-catalog-'));
  const refs = new FsRefStore({ root: dir });
  const hasher: Hasher = await loadHasher();
  const open = (): Catalog => {
    const chunks = new ObjectChunkStore({ objects, hasher });
    return new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }), ...opts });
  };
  const catalog = open();
  await catalog.createRepo('r');
  const created = await catalog.createTable('r', 't', { rows: [{ id: 1n }], primaryKey: ['id'] });
  return { catalog, open, created: created.commit, manifest: created.manifest as string, removeRefs: () => rm(dir, { recursive: true, force: true }) };
}
