import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '@armillaria/core';
import { Int64, Table, vectorFromArray } from 'apache-arrow';
import { MemoryObjectStore, ObjectChunkStore, loadHasher, type PutOptions, type PutResult } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, refNames } from '../src/index.js';
import { DeferredWrites, storeBlobs, sumTallies } from '../src/table-format/chunk-sink.js';
import { codeOf, countingRefs, plainRows } from './catalog-helpers.js';

/**
 * An object store whose puts take `delayMs`, counting what is in flight, and which can fail the puts
 * whose body starts with `failPrefix` (canonical JSON: a manifest starts `{"bytes":`).
 */
class SlowObjectStore extends MemoryObjectStore {
  inFlight = 0;
  maxInFlight = 0;
  gets = 0;
  failPrefix: string | undefined;
  /** When set, puts wait for it (after their delay) before storing. */
  gate: Promise<void> | undefined;
  constructor(private readonly delayMs: number, private readonly events: string[]) {
    super();
  }

  override async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      await this.gate;
      if (this.failPrefix !== undefined && Buffer.from(body.subarray(0, this.failPrefix.length)).toString() === this.failPrefix) {
        throw new BackendUnavailableError(`injected failure writing ${key}`);
      }
      const out = await super.put(key, body, opts);
      this.events.push('stored');
      return out;
    } finally {
      this.inFlight--;
    }
  }

  override async get(key: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array> {
    this.gets++;
    return super.get(key, opts);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function slowCatalog(opts: { targetChunkRows?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-deferred-'));
  const events: string[] = [];
  const objects = new SlowObjectStore(15, events);
  // Stored plain: the failing store picks the manifest by its JSON text.
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher(), compression: 'off' });
  const refs = new FsRefStore({ root: dir });
  // Each compare-and-swap is logged as it starts, in the same list as the stores' completions.
  const catalog = new Catalog({ chunks, refs: countingRefs(refs, (n) => events.push(`cas ${n}`)), format: new ParquetTableFormat({ chunks, ...opts }) });
  cleanups.push(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });
  await catalog.createRepo('r');
  return { catalog, objects, events, refs, chunks };
}

const batch = (i: number) => Array.from({ length: 10 }, (_, j) => ({ id: BigInt(i * 10 + j), v: `row ${i * 10 + j}` }));

describe('a change writes its blobs side by side', () => {
  it('stores the data chunk, manifest page, manifest, tree and commit at once, and moves the branch after all are stored', async () => {
    const { catalog, objects, events } = await slowCatalog();
    await catalog.createTable('r', 'events', { rows: batch(0) });
    // More than 16 chunks: the manifest pages its chunk list, so an append writes a page too.
    for (let i = 1; i <= 17; i++) await catalog.append('r', 'events', batch(i));
    objects.maxInFlight = 0;
    objects.gets = 0;
    events.length = 0;
    // Puts of this append finish no sooner than 200 ms from now: the ones started together overlap even on
    // a loaded machine (with only the 15 ms delay, a busy CI run once saw the data chunk stored before the
    // commit's put started), and a writer storing one blob after another would still show one in flight.
    objects.gate = new Promise((r) => setTimeout(r, 200));

    await catalog.append('r', 'events', batch(18));
    objects.gate = undefined;

    // One round: data chunk + page + manifest + tree + commit in flight together (written in rounds
    // of one, one, one and two before).
    expect(objects.maxInFlight).toBeGreaterThanOrEqual(5);
    const firstCas = events.findIndex((e) => e.startsWith('cas '));
    expect(firstCas).toBeGreaterThan(0);
    expect(events.slice(firstCas).filter((e) => e === 'stored')).toEqual([]);
    expect(events.filter((e) => e.startsWith('cas ')).map((e) => e.split('/')[2])).toEqual(['commits', 'branches']);
    // The manifest and page it edits were the ones this process wrote: nothing is read back.
    expect(objects.gets).toBe(0);
    expect((await catalog.read('r', 'events')).numRows).toBe(190);
  });

  it('fails the change when one blob cannot be stored: the branch stays, no commit is indexed, no write is left running', async () => {
    const { catalog, objects, refs } = await slowCatalog();
    const created = await catalog.createTable('r', 'events', { rows: batch(0) });
    const indexed = (await refs.list(refNames.commitPrefix('r', ''))).length;
    objects.failPrefix = '{"bytes":';

    expect(await codeOf(catalog.append('r', 'events', batch(1)))).toBe('BACKEND_UNAVAILABLE');

    expect(objects.inFlight).toBe(0);
    expect((await catalog.resolve('r', 'main')).hash).toBe(created.commit.hash);
    expect((await refs.list(refNames.commitPrefix('r', ''))).length).toBe(indexed);
    objects.failPrefix = undefined;
    await catalog.append('r', 'events', batch(1));
    expect((await catalog.read('r', 'events')).numRows).toBe(20);
  });

  it('adds a column to a table with a delta: the folded chunks are stored before they are read back', async () => {
    const { catalog } = await slowCatalog({ targetChunkRows: 16 });
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: BigInt(i), v: `row ${i}` }));
    await catalog.createTable('r', 'keyed', { rows, primaryKey: ['id'] });
    await catalog.upsert('r', 'keyed', [{ id: 7n, v: 'seven' }, { id: 150n, v: 'one fifty' }]);
    expect((await catalog.describeTable('r', 'keyed')).pending).toBeDefined();

    await catalog.addColumn('r', 'keyed', { name: 'flag', type: 'bool' });

    const read = plainRows(await catalog.read('r', 'keyed'));
    expect(read).toHaveLength(200);
    expect(read[7]).toEqual({ id: 7, v: 'seven', flag: null });
    expect(read[150]).toEqual({ id: 150, v: 'one fifty', flag: null });
    expect((await catalog.describeTable('r', 'keyed')).pending).toBeUndefined();
  });
});

describe('DeferredWrites', () => {
  it('around() returns once every blob started inside it is stored, and stores a blob given twice once', async () => {
    const events: string[] = [];
    const objects = new SlowObjectStore(10, events);
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const hasher = await loadHasher();
    const a = new TextEncoder().encode('blob a');
    const b = new TextEncoder().encode('blob b');
    const counts = await DeferredWrites.around(async (writes) => {
      const first = await storeBlobs(chunks, hasher, [a], writes);
      const second = await storeBlobs(chunks, hasher, [a, b], writes);
      expect(events).toEqual([]); // started, not finished: nothing waited for them yet
      return [(await first.tally).written, (await second.tally).written];
    });
    expect(counts).toEqual([1, 1]);
    expect(events).toEqual(['stored', 'stored']);
    expect(await chunks.missing([hasher.hash(a), hasher.hash(b)])).toEqual([]);
  });

  it('storeBlobs with writes returns before the store says what it lacks; the tally waits for that', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    /** HEADs wait for the gate: what `missing` asks on S3. */
    class GatedHeads extends MemoryObjectStore {
      override async head(key: string): ReturnType<MemoryObjectStore['head']> {
        await gate;
        return super.head(key);
      }
    }
    const hasher = await loadHasher();
    const chunks = new ObjectChunkStore({ objects: new GatedHeads(), hasher });
    const blob = new TextEncoder().encode('asked in the background');
    const writes = new DeferredWrites();
    const stored = await storeBlobs(chunks, hasher, [blob], writes); // would hang here if it awaited the HEAD
    expect(stored.hashes).toEqual([hasher.hash(blob)]);
    let tallied = false;
    void stored.tally.then(() => (tallied = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(tallied).toBe(false);
    open();
    expect(await stored.tally).toEqual({ written: 1, bytesWritten: blob.byteLength });
    await writes.settle();
    expect(await chunks.missing(stored.hashes)).toEqual([]);
  });

  it('a failed tally nobody awaits (the operation failed first) is no unhandled rejection; awaited, it throws', async () => {
    const failed = Promise.reject(new BackendUnavailableError('HEAD failed'));
    failed.catch(() => undefined); // as storeBlobs marks its tallies
    void sumTallies([failed]); // vitest fails the run on an unhandled rejection
    await new Promise((r) => setTimeout(r, 20));
    await expect(sumTallies([failed])).rejects.toThrow('HEAD failed');
  });

  it('settle() makes what was started readable', async () => {
    const objects = new SlowObjectStore(10, []);
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const hasher = await loadHasher();
    const blob = new TextEncoder().encode('read me back');
    const writes = new DeferredWrites();
    const [h] = (await storeBlobs(chunks, hasher, [blob], writes)).hashes;
    expect(await chunks.has(h!)).toBe(false);
    await writes.settle();
    expect(Buffer.from(await chunks.get(h!)).toString()).toBe('read me back');
  });

  it('around() rethrows the operation error after its writes have settled', async () => {
    const objects = new SlowObjectStore(10, []);
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const hasher = await loadHasher();
    const run = DeferredWrites.around(async (writes) => {
      await storeBlobs(chunks, hasher, [new TextEncoder().encode('x')], writes);
      throw new Error('op failed');
    });
    await expect(run).rejects.toThrow('op failed');
    expect(objects.inFlight).toBe(0);
  });

  it('a format op called on its own returns with its blobs stored; on a deferring view it does not wait', async () => {
    const events: string[] = [];
    const objects = new SlowObjectStore(10, events);
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const format = new ParquetTableFormat({ chunks });
    const rows = new Table({ id: vectorFromArray([1n, 2n, 3n], new Int64()) });
    const own = await format.write(rows);
    expect(objects.inFlight).toBe(0);
    expect(await chunks.has(own.manifest)).toBe(true);

    let open = (): void => undefined;
    objects.gate = new Promise<void>((r) => (open = r));
    const writes = new DeferredWrites();
    const viewed = await format.deferringWrites(writes).append(own.manifest, rows);
    expect(await chunks.has(viewed.manifest)).toBe(false); // its write is held at the gate
    open();
    await writes.settle();
    expect(objects.inFlight).toBe(0);
    expect((await format.read(viewed.manifest)).numRows).toBe(6);
  });
});
