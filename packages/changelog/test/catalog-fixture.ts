import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat } from '@armillaria/catalog';

export interface CatalogFixture {
  catalog: Catalog;
  dir: string;
  cleanup(): Promise<void>;
}

/** The embedded catalog as an application builds it: chunks in memory, refs in files. */
export async function embeddedCatalog(): Promise<CatalogFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-changelog-'));
  const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
  const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'refs') }), format: new ParquetTableFormat({ chunks }) });
  return {
    catalog,
    dir,
    cleanup: async () => {
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Seeded PRNG shared by the test suites (mulberry32, from the testkit). */
export { seededRandom as rng } from '@armillaria/testkit';
