import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { FsCursorStore, MemoryCursorStore, NatsCursorStore, type Cursor, type CursorStore } from '../src/index.js';

const cursor = (n: number): Cursor => ({ repo: 'r', branch: 'feature/x', commit: n.toString(16).padStart(64, '0'), seq: n, table: 't.1', savedAt: n });

function cursorStoreContract(name: string, make: () => Promise<{ store: CursorStore; reopen(): Promise<CursorStore>; cleanup(): Promise<void> }>): void {
  describe(`CursorStore contract: ${name}`, () => {
    it('loads what was saved last, per name, also after a reopen', async () => {
      const { store, reopen, cleanup } = await make();
      try {
        expect(await store.load('a')).toBeUndefined();
        await store.save('a', cursor(1));
        await store.save('a.b', cursor(2));
        await store.save('a', cursor(3));
        expect(await store.load('a')).toEqual(cursor(3));
        expect(await store.load('a.b')).toEqual(cursor(2));
        const again = await reopen();
        expect(await again.load('a')).toEqual(cursor(3));
      } finally {
        await cleanup();
      }
    });

    it('rejects unsafe names with INVALID_ARGUMENT', async () => {
      const { store, cleanup } = await make();
      try {
        for (const bad of ['', '../x', '.hidden', 'a/b', 'a b', 'x'.repeat(129)]) {
          await expect(store.save(bad, cursor(1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
          await expect(store.load(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
      } finally {
        await cleanup();
      }
    });
  });
}

const memory = new MemoryCursorStore();
cursorStoreContract('memory', async () => ({ store: memory, reopen: async () => memory, cleanup: async () => undefined }));

cursorStoreContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-cursors-'));
  return { store: new FsCursorStore(dir), reopen: async () => new FsCursorStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FsCursorStore', () => {
  it('reports a corrupt cursor file with CORRUPT_METADATA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-cursors-'));
    try {
      await writeFile(join(dir, 'w.json'), '{"repo":"r"}');
      await expect(new FsCursorStore(dir).load('w')).rejects.toMatchObject({ code: 'CORRUPT_METADATA' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const url = process.env.ARMILLARIA_NATS_URL;
let n = 0;
describe.skipIf(!url)('on nats-server', () => {
  cursorStoreContract('nats', async () => {
    const stream = `CURSORS_TEST_${process.pid}_${++n}_${Date.now()}`;
    const opened: NatsCursorStore[] = [];
    const open = async (): Promise<NatsCursorStore> => {
      const s = await NatsCursorStore.connect({ servers: url!, stream });
      opened.push(s);
      return s;
    };
    return {
      store: await open(),
      reopen: open,
      async cleanup() {
        for (const s of opened) await s.close();
        const nc = await connect({ servers: url! });
        await (await jetstreamManager(nc)).streams.delete(stream);
        await nc.close();
      },
    };
  });
});
