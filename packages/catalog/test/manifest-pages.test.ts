import { describe, expect, it } from 'vitest';
import { Int64, Table, vectorFromArray } from 'apache-arrow';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { ParquetTableFormat } from '../src/index.js';
import { pageCuts } from '../src/table-format/manifest-io.js';
import type { ChunkInfo } from '../src/table-format/table-format.js';

/** A chunk entry whose hash never ends a page (prefix above 2^32/64), or always may (`cut`). */
const chunk = (i: number, cut = false): ChunkInfo => ({
  hash: (cut ? '00000000' : 'ffffffff') + i.toString(16).padStart(56, '0'),
  rows: 1, bytes: 1, stats: {},
});

describe('manifest page boundaries', () => {
  it('ends pages at content-defined boundaries, and splits an unkeyed table\'s open tail by the binary digits of its length', () => {
    const plain = Array.from({ length: 37 }, (_, i) => chunk(i));
    expect(pageCuts(plain)).toEqual([37]);
    expect(pageCuts(plain, { appendTail: true })).toEqual([32, 36, 37]);
    // A boundary after chunk 20 (at least 16 chunks in): the tail is the 16 after it.
    const withCut = plain.map((c, i) => (i === 20 ? chunk(i, true) : c));
    expect(pageCuts(withCut)).toEqual([21, 37]);
    expect(pageCuts(withCut, { appendTail: true })).toEqual([21, 37]);
    expect(pageCuts(withCut.slice(0, 36), { appendTail: true })).toEqual([21, 29, 33, 35, 36]);
    expect(pageCuts([], { appendTail: true })).toEqual([]);
  });

  it('makes an append to a paged unkeyed table rewrite a few page entries, not the whole open page', async () => {
    const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
    const format = new ParquetTableFormat({ chunks });
    const batch = (i: number) => new Table({ id: vectorFromArray([BigInt(i)], new Int64()) });
    let manifest = (await format.write(batch(0))).manifest;
    let previous = new Set<string>();
    let entriesWritten = 0;
    let appendsPaged = 0;
    for (let i = 1; i <= 150; i++) {
      manifest = (await format.append(manifest, batch(i))).manifest;
      const pages = (await format.readManifest(manifest)).pages;
      if (!pages) continue; // still inline (up to 16 chunks)
      if (previous.size === 0) {
        previous = new Set(pages.map((p) => p.hash)); // the first paged version: every page is new
        continue;
      }
      appendsPaged++;
      // Each append adds exactly one page: the one holding its chunk; every other page is the previous version's.
      const fresh = pages.filter((p) => !previous.has(p.hash));
      expect(fresh).toHaveLength(1);
      entriesWritten += fresh[0]!.chunks;
      previous = new Set(pages.map((p) => p.hash));
    }
    expect((await format.chunks(manifest)).length).toBe(151);
    // The pages the append keeps are not serialised, hashed or looked up again: it asks the store about
    // three blobs (its data chunk, its page, the manifest), whatever the table's size.
    const asked: number[] = [];
    const missing = chunks.missing.bind(chunks);
    chunks.missing = (hashes) => {
      asked.push(hashes.length);
      return missing(hashes);
    };
    expect((await format.readManifest(manifest)).pages!.length).toBeGreaterThan(3);
    manifest = (await format.append(manifest, batch(151))).manifest;
    expect(asked).toEqual([1, 1, 1]);
    expect((await format.read(manifest)).numRows).toBe(152);
    // Rewriting the whole open page cost its length per append: 11,323 entries here (84 per append). The
    // binary tail costs O(log) per append plus one rewrite when a boundary closes it: 587 (4.4 per append).
    expect(appendsPaged).toBe(134);
    expect(entriesWritten).toBeLessThan(appendsPaged * 8);
  });
});
