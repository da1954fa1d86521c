import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../src/index.js';
import { objectStoreContract } from './object-store.contract.js';

objectStoreContract('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'armillaria-fs-store-'));
  const store = new FsObjectStore({ root });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
