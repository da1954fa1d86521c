// Deltas of several sorted runs (formatVersion 4): what a stream of small scattered edits writes, that
// runs are decided from the manifest and the change alone, manifest validation; and the sample that
// decides whether an edit's rows are compared with their base rows.
import { describe, expect, it } from 'vitest';
import { canonicalJsonBytes, ErrorCode } from '@armillaria/core';
import { unchangedSample, UNCHANGED_SAMPLE, UNCHANGED_SAMPLE_CHUNKS } from '../src/table-format/delta-edit.js';
import { storeBlobs } from '../src/table-format/chunk-sink.js';
import type { ParquetTableFormat } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, plain, rng, rowsOf } from './table-format-helpers.js';

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);
const BASE_ROWS = 4000;
const ids = Array.from({ length: BASE_ROWS }, (_, i) => BigInt(i * 2));

interface Edit {
  /** Rows and bytes of the delta chunks the edit wrote (not manifests). */
  deltaRowsWritten: number;
  deltaWritten: number;
  runs: number;
  deltaRows: number;
}

/**
 * `edits` edits of `per` random keys each (seeded, the same for every format): mostly upserts with new
 * values, every fifth a delete, every seventh an insert of new (odd) keys.
 */
async function editStream(format: ParquetTableFormat, edits: number, per: number): Promise<{ manifest: string; log: Edit[]; model: Map<bigint, Record<string, unknown>> }> {
  let manifest = (await format.write(customersTable(ids.map((i) => customer(i))), { primaryKey: ['id'] })).manifest;
  const model = new Map(ids.map((i) => [i, plain(customer(i))]));
  const random = rng(42);
  const log: Edit[] = [];
  let deltaBefore = new Set<string>();
  for (let e = 1; e <= edits; e++) {
    const keys = [...new Set(Array.from({ length: per }, () => ids[Math.floor(random() * BASE_ROWS)]!))];
    if (e % 5 === 0) {
      manifest = (await format.deleteKeys(manifest, keysTable(keys))).manifest;
      for (const k of keys) model.delete(k);
    } else if (e % 7 === 0) {
      const fresh = keys.map((k) => k + 1n).filter((k) => !model.has(k));
      manifest = (await format.append(manifest, customersTable(fresh.map((k) => customer(k, e))))).manifest;
      for (const k of fresh) model.set(k, plain(customer(k, e)));
    } else {
      manifest = (await format.upsert(manifest, customersTable(keys.map((k) => customer(k, e))))).manifest;
      for (const k of keys) model.set(k, plain(customer(k, e)));
    }
    const m = await format.readManifest(manifest);
    const delta = (await format.layout(manifest)).delta?.chunks ?? [];
    const fresh = delta.filter((c) => !deltaBefore.has(c.hash));
    deltaBefore = new Set(delta.map((c) => c.hash));
    log.push({
      deltaRowsWritten: fresh.reduce((s, c) => s + c.rows, 0),
      deltaWritten: fresh.reduce((s, c) => s + c.bytes, 0),
      runs: m.delta ? (m.delta.runs?.length ?? 1) : 0,
      deltaRows: m.delta?.rows ?? 0,
    });
  }
  return { manifest, log, model };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('ParquetTableFormat: delta runs', () => {
  it('a stream of small scattered edits writes each changed row a few times, not the whole delta per edit', async () => {
    const edits = 150;
    const per = 4;
    // Chunks of ~1K rows: as with the default target on large tables, a one-run delta fits a chunk or
    // two, so every scattered edit rewrites all of it.
    const runs = (await makeFormat({ targetChunkRows: 1024 })).format;
    const one = (await makeFormat({ targetChunkRows: 1024, maxDeltaRuns: 1 })).format;
    const a = await editStream(runs, edits, per);
    const b = await editStream(one, edits, per);
    const changed = sum(a.log.map(() => per));
    // One run: each edit rewrites the whole delta, so the rows written grow with the square of the edits.
    expect(b.log.every((e) => e.runs <= 1)).toBe(true);
    expect(sum(b.log.map((e) => e.deltaRowsWritten))).toBeGreaterThan(30 * changed);
    // Runs: each row is written about log2(edits) times at most (150 edits: ~7), and at most 8 runs.
    expect(sum(a.log.map((e) => e.deltaRowsWritten))).toBeLessThan(10 * changed);
    expect(Math.max(...a.log.map((e) => e.runs))).toBeGreaterThanOrEqual(3);
    expect(Math.max(...a.log.map((e) => e.runs))).toBeLessThanOrEqual(8);
    // (Measured: 3,197 rows against 43,827. In bytes only 2x: at 4 rows an edit, a run's Parquet footer,
    // ~2 KB, is most of what it writes, the floor of any one-file-per-edit format.)
    expect(sum(a.log.map((e) => e.deltaWritten))).toBeLessThan(sum(b.log.map((e) => e.deltaWritten)) / 1.5);
    // The same logical table either way, and the model's.
    const sorted = [...a.model.values()].sort((x, y) => ((x.id as bigint) < (y.id as bigint) ? -1 : 1));
    expect(rowsOf(await runs.read(a.manifest))).toEqual(sorted);
    expect(rowsOf(await one.read(b.manifest))).toEqual(sorted);
    // Folding a delta of several runs gives the manifest a fresh write of the rows gives.
    const folded = await runs.compact(a.manifest);
    expect(folded.manifest).toBe((await runs.write(customersTable(sorted as never), { primaryKey: ['id'] })).manifest);
  });

  it('the runs are the same whatever wrote the earlier versions (decided from the manifest and the change)', async () => {
    const a = await editStream((await makeFormat({ targetChunkRows: 64 })).format, 60, 4);
    const b = await editStream((await makeFormat({ targetChunkRows: 64, keyCacheBytes: 0 })).format, 60, 4);
    expect(b.manifest).toBe(a.manifest);
    expect(b.log).toEqual(a.log);
  });

  it('refuses malformed runs with CORRUPT_METADATA', async () => {
    const { format, chunks, hasher } = await makeFormat({ targetChunkRows: 64 });
    const s = await editStream(format, 12, 4);
    const m = await format.readManifest(s.manifest);
    expect(m.formatVersion).toBe(4);
    const runs = m.delta!.runs!;
    const store = async (v: unknown) => (await storeBlobs(chunks, hasher, [canonicalJsonBytes(v)])).hashes[0]!;
    const bad = [
      { ...m, formatVersion: 3 },
      { ...m, delta: { ...m.delta, runs: [runs[0]], rows: runs[0]!.rows, deletes: runs[0]!.deletes, bytes: runs[0]!.bytes } },
      { ...m, delta: { ...m.delta, rows: m.delta!.rows + 1 } },
      { ...m, delta: { ...m.delta, runs: [...runs.slice(1), { ...runs[0], rows: runs[0]!.rows + 1 }] } },
      { ...m, delta: { ...m.delta, chunks: [] } },
    ];
    for (const v of bad) await expect(format.read(await store(v))).rejects.toMatchObject({ code: 'CORRUPT_METADATA' });
    expect(rowsOf(await format.read(await store(m)))).toEqual(rowsOf(await format.read(s.manifest)));
  });

  it('rejects a maxDeltaRuns that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(await code(makeFormat({ maxDeltaRuns: bad }))).toBe(ErrorCode.InvalidArgument);
    expect(await code(makeFormat({ maxDeltaRuns: 1 }))).toBe('resolved');
  });
});

describe('unchangedSample', () => {
  it('takes the first found changes in at most two base chunks, at most 64 of them', () => {
    // Changes 0..9 (key order): their base chunks; change 3 was not found.
    const chunkOf = Int32Array.from([0, 0, 1, -1, 1, 2, 2, 3, 3, 3]);
    const found = [0, 1, 2, 4, 5, 6, 7, 8, 9];
    expect(UNCHANGED_SAMPLE_CHUNKS).toBe(2);
    expect(unchangedSample(found, chunkOf)).toEqual([0, 1, 2, 4]);
    // A dense edit: 100 changes in one chunk give the first 64.
    const dense = Array.from({ length: 100 }, (_, i) => i);
    expect(unchangedSample(dense, new Int32Array(100))).toEqual(dense.slice(0, UNCHANGED_SAMPLE));
    expect(unchangedSample([], new Int32Array(0))).toEqual([]);
  });
});
