// When a stream of small edits folds a keyed table's delta into its base (ski rental), and the sample
// that decides whether an edit's rows are compared with their base rows.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { unchangedSample, UNCHANGED_SAMPLE, UNCHANGED_SAMPLE_CHUNKS } from '../src/table-format/delta-edit.js';
import type { ParquetTableFormat } from '../src/index.js';
import { customer, customersTable, makeFormat, plain, rng, rowsOf } from './table-format-helpers.js';

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);
const BASE_ROWS = 4000;
const ids = Array.from({ length: BASE_ROWS }, (_, i) => BigInt(i * 2));

interface Edit {
  written: number;
  /** Bytes of the delta chunks the edit wrote (not manifests: a fold writes a manifest too). */
  deltaWritten: number;
  deltaRows: number;
  /** Bytes of the version's base chunks after the edit. */
  baseBytes: number;
}

/** `edits` upserts of `per` random keys each (new values), the same for every format given the seed. */
async function editStream(format: ParquetTableFormat, edits: number, per: number): Promise<{ manifest: string; log: Edit[] }> {
  let manifest = (await format.write(customersTable(ids.map((i) => customer(i))), { primaryKey: ['id'] })).manifest;
  const random = rng(42);
  const log: Edit[] = [];
  let deltaBefore = new Set<string>();
  for (let e = 1; e <= edits; e++) {
    const keys = [...new Set(Array.from({ length: per }, () => ids[Math.floor(random() * BASE_ROWS)]!))].sort((a, b) => (a < b ? -1 : 1));
    const r = await format.upsert(manifest, customersTable(keys.map((k) => customer(k, e))));
    manifest = r.manifest;
    const m = await format.readManifest(manifest);
    const baseBytes = m.bytes - (m.delta?.bytes ?? 0);
    const delta = (await format.layout(manifest)).delta?.chunks ?? [];
    const deltaWritten = delta.filter((c) => !deltaBefore.has(c.hash)).reduce((s, c) => s + c.bytes, 0);
    deltaBefore = new Set(delta.map((c) => c.hash));
    log.push({ written: r.bytesWritten, deltaWritten, deltaRows: m.delta?.rows ?? 0, baseBytes });
  }
  return { manifest, log };
}

describe('ParquetTableFormat: when a delta is folded', () => {
  it('opted in, a stream of small scattered upserts folds the delta once rewriting it has cost about the base', async () => {
    const edits = 150;
    const per = 4;
    // Chunks of ~1K rows: as with the default target on large tables, the delta fits one chunk, so every
    // edit rewrites all of it (with small chunks, edits rewrite only the delta chunks their keys fall in).
    const withFolds = (await makeFormat({ targetChunkRows: 1024, deltaRewriteBudget: 1 })).format;
    const without = (await makeFormat({ targetChunkRows: 1024 })).format;
    const rented = await editStream(withFolds, edits, per);
    const kept = await editStream(without, edits, per);

    // By default, folding at deltaMaxFraction only: the delta never folds here (600 changed keys at most, the limit
    // is 800 rows), and every edit rewrites the delta chunks its keys fall in.
    expect(kept.log.every((e) => e.deltaRows > 0)).toBe(true);
    // With a budget of 1: folds (the delta is gone after the edit), each after the edits since the
    // last one had written about the base's bytes of delta chunks.
    const folds = rented.log.flatMap((e, i) => (e.deltaRows === 0 ? [i] : []));
    expect(folds.length).toBeGreaterThanOrEqual(2);
    let from = 0;
    for (const f of folds) {
      const rent = rented.log.slice(from, f).reduce((s, e) => s + e.deltaWritten, 0);
      const base = rented.log[f - 1]!.baseBytes;
      // The rent is estimated from the folding edit alone; it lands within a factor of two of the base.
      expect(rent).toBeGreaterThan(base / 2);
      expect(rent).toBeLessThan(2 * base);
      from = f + 1;
    }
    const total = (s: { log: Edit[] }) => s.log.reduce((n, e) => n + e.written, 0);
    // Between folds an edit rewrites a delta of at most ~sqrt(2 x base bytes x bytes per edit); without
    // them the delta, and what each edit writes, keep growing until deltaMaxFraction.
    const rewrite = (s: { log: Edit[] }) => s.log.filter((e) => e.deltaRows > 0).map((e) => e.deltaWritten);
    expect(Math.max(...rewrite(rented))).toBeLessThan(rewrite(kept).at(-1)!);
    expect(total(rented)).toBeLessThan(total(kept));
    // The same logical table either way.
    expect(rowsOf(await withFolds.read(rented.manifest))).toEqual(rowsOf(await without.read(kept.manifest)));
  });

  it('the fold is the same edit whatever wrote the earlier versions (decided from the manifest and the change)', async () => {
    const a = await editStream((await makeFormat({ targetChunkRows: 64, deltaRewriteBudget: 1 })).format, 60, 4);
    const b = await editStream((await makeFormat({ targetChunkRows: 64, deltaRewriteBudget: 1 })).format, 60, 4);
    expect(b.manifest).toBe(a.manifest);
    expect(b.log).toEqual(a.log);
  });

  it('a fold gives the manifest a full write of the logical rows gives', async () => {
    const s = await editStream((await makeFormat({ targetChunkRows: 64, deltaRewriteBudget: 1 })).format, 150, 4);
    const fold = s.log.findIndex((e) => e.deltaRows === 0);
    expect(fold).toBeGreaterThan(0);
    const { format } = await makeFormat({ targetChunkRows: 64, deltaRewriteBudget: 1 });
    const replay = await editStream(format, fold + 1, 4);
    const rows = rowsOf(await format.read(replay.manifest));
    const fresh = await format.write(customersTable(rows.map((r) => ({ ...r }) as never)), { primaryKey: ['id'] });
    expect(replay.manifest).toBe(fresh.manifest);
    expect(rows.length).toBe(BASE_ROWS);
    expect(rows.filter((r) => (r.name as string).endsWith('-v0')).length).toBeGreaterThan(BASE_ROWS / 2);
    expect(rows.find((r) => r.id === 0n)).toEqual(plain(customer(0n, 0)));
  });

  it('rejects a budget that is not a positive number', async () => {
    for (const bad of [0, -1, Number.NaN]) expect(await code(makeFormat({ deltaRewriteBudget: bad }))).toBe(ErrorCode.InvalidArgument);
    expect(await code(makeFormat({ deltaRewriteBudget: 0.5 }))).toBe('resolved');
    expect(await code(makeFormat({ deltaRewriteBudget: Infinity }))).toBe('resolved');
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
