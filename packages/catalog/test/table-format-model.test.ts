// Seeded random workloads checked against a plain model (a Map of key -> row, or an array of rows).
import { describe, expect, it } from 'vitest';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { ParquetTableFormat } from '../src/index.js';
import type { RowDiff } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, plain, rng, rowsOf, type Customer } from './table-format-helpers.js';

type Model = Map<bigint, Record<string, unknown>>;

function modelDiff(before: Model, after: Model): { added: bigint[]; removed: bigint[]; changed: bigint[] } {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && JSON.stringify(before.get(k)!, big) !== JSON.stringify(after.get(k)!, big));
  return { added: added.sort(cmp), removed: removed.sort(cmp), changed: changed.sort(cmp) };
}
const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

function diffIds(d: RowDiff): { added: bigint[]; removed: bigint[]; changed: bigint[] } {
  return {
    added: d.added.map((r) => r.id as bigint).sort(cmp),
    removed: d.removed.map((r) => r.id as bigint).sort(cmp),
    changed: d.changed.map((c) => c.key[0] as bigint).sort(cmp),
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

type Row = Record<string, unknown> & { id: bigint };

/** Customer rows plus int32 columns added by `addColumn` (in the order they were added). */
function rowsTable(rows: readonly Row[], extra: readonly string[]): Table {
  const t = customersTable(rows as unknown as Customer[]);
  if (extra.length === 0) return t;
  const cols: Record<string, ReturnType<typeof vectorFromArray>> = {};
  for (const f of t.schema.fields) cols[f.name] = t.getChild(f.name)!;
  for (const x of extra) cols[x] = vectorFromArray(rows.map((r) => (r[x] ?? null) as number | null), new Int32());
  return new Table(cols);
}

/** Seeds of the model run (ARMILLARIA_FORMAT_MODEL_SEEDS, default 3: seeds 1..3). */
const MODEL_SEEDS = Number(process.env.ARMILLARIA_FORMAT_MODEL_SEEDS ?? 3);

describe('keyed tables against a model', () => {
  // What the seeds exercised, summed over them (one seed may happen never to fold, say).
  const covered = { withDelta: 0, withPartial: 0, folds: 0, partialUpserts: 0, multiRun: 0, maxRuns: 0 };
  for (let seed = 1; seed <= MODEL_SEEDS; seed++) {
    it(`seed ${seed}: write/append/upsert (whole and partial)/delete/addColumn/compact across the delta threshold match the model`, async () => {
      const rand = rng(seed);
      const { format } = await makeFormat({ targetChunkRows: 16, maxDeltaRuns: Number(process.env.RUNS ?? 8) });
      // The twin keeps no decoded keys between edits: its manifests must still equal the caching format's.
      const twin = await makeFormat({ targetChunkRows: 16, keyCacheBytes: 0, maxDeltaRuns: Number(process.env.RUNS ?? 8) });
      const fresh = await makeFormat({ targetChunkRows: 16 });
      const keySpace = 4000;
      let model = new Map<bigint, Row>();
      const extra: string[] = [];
      const row = (id: bigint, v: number): Row => {
        const r: Row = { ...plain(customer(id, v)), id };
        extra.forEach((x, i) => (r[x] = (Number(id) + v + i) % 5 === 0 ? null : Number(id) * 3 + v));
        return r;
      };
      for (let i = 0; i < 1500; i++) {
        const id = BigInt(Math.floor(rand() * keySpace));
        model.set(id, row(id, 0));
      }
      const sorted = (): Row[] => [...model.values()].sort((a, b) => cmp(a.id, b.id));
      const first = rowsTable(shuffle([...model.values()], rand), extra);
      let version = (await format.write(first, { primaryKey: ['id'] })).manifest;
      expect((await twin.format.write(first, { primaryKey: ['id'] })).manifest).toBe(version);
      let withDelta = 0;
      let withPartial = 0;
      let folds = 0;
      let partials = 0;
      // Versions a few steps back, with their models: diffs across several edits cross delta runs.
      const history: Array<{ manifest: string; model: Model; columns: number }> = [];
      for (let step = 0; step < 40; step++) {
        const before = new Map(model);
        const op = rand();
        const n = 1 + Math.floor(rand() * (rand() < 0.2 ? 300 : 12));
        const picked = new Set<bigint>();
        for (let i = 0; i < n; i++) picked.add(BigInt(Math.floor(rand() * keySpace)));
        // Each op runs on `format` and, identically, on `twin`: same operations => same manifest hash.
        let run: (f: ParquetTableFormat) => Promise<{ manifest: string; rows: number }>;
        let same: Table | undefined;
        if (op < 0.4 && rand() < 0.35) {
          // A partial upsert: the key and some columns, one of them with some rows' cells kept. Kept values
          // come from the version (delta row, its base row, or null for a new key).
          const columns = ['name', 'score', 'ts', 'active', ...extra];
          const given = columns.filter(() => rand() < 0.5);
          const keptColumn = given.length > 0 && rand() < 0.5 ? given[Math.floor(rand() * given.length)]! : undefined;
          const rows = shuffle([...picked].map((id) => row(id, step + 1)), rand);
          const mask = Uint8Array.from(rows, () => (keptColumn && rand() < 0.5 ? 1 : 0));
          const completed = rows.map((r, i) => {
            const old = model.get(r.id);
            const out: Row = { id: r.id };
            for (const c of columns) out[c] = given.includes(c) && !(c === keptColumn && mask[i]) ? r[c] : (old?.[c] ?? null);
            return out;
          });
          const t = rowsTable(rows, extra).select(['id', ...given]);
          run = (f) => f.upsert(version, t, keptColumn ? { kept: { [keptColumn]: mask } } : {});
          // The same as an upsert of the completed rows, to the manifest hash.
          same = rowsTable(completed, extra);
          for (const r of completed) model.set(r.id, r);
          partials++;
        } else if (op < 0.4) {
          // Half the upserts rename existing rows only (the delta keeps their other base values).
          const rename = rand() < 0.5;
          const rows = [...picked].map((id) => (rename && model.has(id) ? { ...model.get(id)!, name: `renamed-${step}` } : row(id, step + 1)));
          const t = rowsTable(shuffle(rows, rand), extra);
          run = (f) => f.upsert(version, t);
          for (const r of rows) model.set(r.id, r);
        } else if (op < 0.7) {
          const t = keysTable([...picked]);
          run = (f) => f.deleteKeys(version, t);
          for (const id of picked) model.delete(id);
        } else if (op < 0.88) {
          const rows = [...picked].filter((id) => !model.has(id)).map((id) => row(id, step + 1));
          const t = rowsTable(rows, extra);
          run = (f) => f.append(version, t);
          for (const r of rows) model.set(r.id, r);
        } else if (op < 0.93) {
          run = (f) => f.compact(version);
        } else if (op < 0.96 && extra.length < 2) {
          const name = `x${extra.length}`;
          extra.push(name);
          run = (f) => f.addColumn(version, { name, type: 'int32' });
          for (const r of model.values()) r[name] = null;
        } else {
          model = new Map([...picked].map((id) => [id, row(id, step + 1)]));
          const t = rowsTable([...model.values()], extra);
          run = (f) => f.write(t, { primaryKey: ['id'] });
        }
        const res = await run(format);
        expect((await run(twin.format)).manifest).toBe(res.manifest);
        if (same) expect((await format.upsert(version, same)).manifest).toBe(res.manifest);
        expect(res.rows).toBe(model.size);
        const m = await format.readManifest(res.manifest);
        expect(m.rows).toBe(model.size);
        if (m.delta) withDelta++;
        if (m.delta?.runs) {
          covered.multiRun++;
          covered.maxRuns = Math.max(covered.maxRuns, m.delta.runs.length);
        }
        else if ((await format.readManifest(version)).delta && op < 0.88) folds++;
        // Column-level updates: delta chunks whose mask column is not all null hold partial rows.
        const lay = await format.layout(res.manifest);
        const mask = lay.delta?.unchangedColumn;
        if (mask && lay.delta!.chunks.some((c) => c.stats[mask]!.nullCount < c.rows)) withPartial++;
        // Merge-on-read gives the model's rows; so does the compacted version, which is byte-identical
        // to the same rows written from scratch (the base is history independent; the delta is not).
        expect(rowsOf(await format.read(res.manifest))).toEqual(sorted());
        const compacted = await format.compact(res.manifest);
        expect(compacted.rows).toBe(model.size);
        expect((await format.readManifest(compacted.manifest)).delta).toBeUndefined();
        const scratch = await fresh.format.write(rowsTable(shuffle(sorted(), rand), extra), { primaryKey: ['id'] });
        expect(compacted.manifest).toBe(scratch.manifest);
        // Projection and pruning: a delta row may move a key in or out of a base chunk's range.
        const lo = 200 + Math.floor(rand() * 400);
        const hi = lo + 150;
        const inRange = (r: Record<string, unknown>) => typeof r.score === 'number' && r.score >= lo && r.score <= hi;
        const pruned = rowsOf(await format.read(res.manifest, { columns: ['score', 'id'], range: { column: 'score', min: lo, max: hi } }));
        expect(pruned.filter(inRange)).toEqual(sorted().filter(inRange).map((r) => ({ score: r.score, id: r.id })));
        // A projection without the key (the merge still orders rows by it).
        expect(rowsOf(await format.read(res.manifest, { columns: ['name'] }))).toEqual(sorted().map((r) => ({ name: r.name })));
        expect(diffIds(await format.diffRows(version, res.manifest))).toEqual(modelDiff(before, model));
        expect(diffIds(await format.diffRows((await format.compact(version)).manifest, res.manifest))).toEqual(modelDiff(before, model));
        expect(diffIds(await format.diffRows(version, compacted.manifest))).toEqual(modelDiff(before, model));
        const back = history.at(-4);
        // (Across an added column the model would see every row change; the diff compares shared columns.)
        if (back && back.columns === extra.length) {
          expect(diffIds(await format.diffRows(back.manifest, res.manifest))).toEqual(modelDiff(back.model, model));
          expect(diffIds(await format.diffRows(res.manifest, back.manifest))).toEqual(modelDiff(model, back.model));
        }
        history.push({ manifest: res.manifest, model: new Map([...model].map(([k, v]) => [k, { ...v }])), columns: extra.length });
        const cd = await format.diffChunks(version, res.manifest);
        const prev = (await format.chunks(version)).map((c) => c.hash);
        const removed = new Set(cd.removed.map((c) => c.hash));
        const kept = prev.filter((h) => !removed.has(h));
        expect([...kept, ...cd.added.map((c) => c.hash)].sort()).toEqual((await format.chunks(res.manifest)).map((c) => c.hash).sort());
        version = res.manifest;
      }
      covered.withDelta += withDelta;
      covered.withPartial += withPartial;
      covered.folds += folds;
      covered.partialUpserts += partials;
      const all = await format.diffRows(null, version);
      expect(all.added.length).toBe(model.size);
      expect((await format.diffRows(version, null)).removed.length).toBe(model.size);
    });
  }

  it('the seeds together cross the delta threshold both ways, with column-level updates', () => {
    expect(covered.withDelta).toBeGreaterThan(5 * MODEL_SEEDS);
    expect(covered.withPartial).toBeGreaterThan(0);
    expect(covered.folds).toBeGreaterThan(0);
    expect(covered.partialUpserts).toBeGreaterThan(0);
    // Deltas of several sorted runs (formatVersion 4), up to the limit of runs.
    expect(covered.multiRun).toBeGreaterThan(MODEL_SEEDS);
    expect(covered.maxRuns).toBeGreaterThanOrEqual(3);
    expect(covered.maxRuns).toBeLessThanOrEqual(8);
  });

  it('orders multi-column string keys by code point and keeps them consistent across edits', async () => {
    const rand = rng(7);
    const { format } = await makeFormat({ targetChunkRows: 8 });
    const regions = ['a', 'b', 'é', '\uffff', '😀', 'ab', ''];
    const model = new Map<string, { region: string; n: number; v: string }>();
    const table = (rows: Array<{ region: string; n: number; v: string }>) => new Table({
      region: vectorFromArray(rows.map((r) => r.region), new Utf8()),
      n: vectorFromArray(rows.map((r) => r.n), new Int32()),
      v: vectorFromArray(rows.map((r) => r.v), new Utf8()),
    });
    const put = (rows: Array<{ region: string; n: number; v: string }>) => rows.forEach((r) => model.set(`${r.region}\u0000${r.n}`, r));
    const gen = (count: number, tag: string) => Array.from({ length: count }, () => ({ region: regions[Math.floor(rand() * regions.length)]!, n: Math.floor(rand() * 200) - 100, v: tag }))
      .filter((r, i, all) => all.findIndex((x) => x.region === r.region && x.n === r.n) === i);
    const first = gen(400, 'w');
    put(first);
    let version = (await format.write(table(first), { primaryKey: ['region', 'n'] })).manifest;
    for (let step = 0; step < 10; step++) {
      const rows = gen(30, `u${step}`);
      version = (await format.upsert(version, table(rows))).manifest;
      put(rows);
      // Deletes and inserts too (through the delta: a few rows of a many-chunk table).
      const gone = gen(8, 'x').filter((r) => model.has(`${r.region}\u0000${r.n}`));
      version = (await format.deleteKeys(version, table(gone))).manifest;
      for (const r of gone) model.delete(`${r.region}\u0000${r.n}`);
      const fresh = gen(8, `i${step}`).filter((r) => !model.has(`${r.region}\u0000${r.n}`));
      version = (await format.append(version, table(fresh))).manifest;
      put(fresh);
    }
    expect((await format.readManifest(version)).delta).toBeDefined();
    const codePoints = (s: string) => [...s].map((c) => c.codePointAt(0)!);
    const cmpStr = (a: string, b: string) => {
      const x = codePoints(a);
      const y = codePoints(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    const expected = [...model.values()].sort((a, b) => cmpStr(a.region, b.region) || a.n - b.n);
    expect(rowsOf(await format.read(version))).toEqual(expected);
    const compacted = (await format.compact(version)).manifest;
    expect(rowsOf(await format.read(compacted))).toEqual(expected);
    expect(compacted).toBe((await (await makeFormat({ targetChunkRows: 8 })).format.write(table(expected), { primaryKey: ['region', 'n'] })).manifest);
    const d = await format.diffRows(compacted, version);
    expect([d.added.length, d.removed.length, d.changed.length]).toEqual([0, 0, 0]);
  });
});

describe('unkeyed tables against a model', () => {
  it('appends keep old chunks; reads and row diffs match the model', async () => {
    const rand = rng(11);
    const { format } = await makeFormat({ targetChunkRows: 50 });
    const model: Customer[] = [];
    let version = (await format.write(customersTable([]))).manifest;
    let next = 0n;
    for (let step = 0; step < 12; step++) {
      const batch = Array.from({ length: Math.floor(rand() * 120) }, () => customer(next++, step));
      const oldChunks = (await format.chunks(version)).map((c) => c.hash);
      const res = await format.append(version, customersTable(batch));
      model.push(...batch);
      const newChunks = (await format.chunks(res.manifest)).map((c) => c.hash);
      expect(newChunks.slice(0, oldChunks.length)).toEqual(oldChunks);
      expect(res.chunksReused).toBe(oldChunks.length);
      expect(rowsOf(await format.read(res.manifest))).toEqual(model.map(plain));
      const d = await format.diffRows(version, res.manifest);
      expect(d.keyColumns).toEqual([]);
      expect(d.added).toEqual(batch.map(plain));
      expect(d.removed).toEqual([]);
      expect(d.changed).toEqual([]);
      version = res.manifest;
    }
    // With key columns given, an unkeyed table diffs by key.
    const changed = model.map((c, i) => (i === 5 ? customer(c.id, 99) : c));
    const rewritten = await format.write(customersTable(changed));
    const byKey = await format.diffRows(version, rewritten.manifest, { keyColumns: ['id'] });
    expect(byKey.changed.map((c) => c.key)).toEqual([[model[5]!.id]]);
    expect(byKey.added).toEqual([]);
  });
});

describe('chunk reuse and manifest paging', () => {
  it('rewrites only the chunks around a change', async () => {
    const rand = rng(5);
    const { format } = await makeFormat({ targetChunkRows: 256 });
    const rows = Array.from({ length: 40_000 }, (_, i) => customer(BigInt(i * 2)));
    const w = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const total = (await format.chunks(w.manifest)).length;
    expect(total).toBeGreaterThan(80);
    // 1% of the rows, in one key range.
    const start = Math.floor(rand() * 39_000);
    const upd = rows.slice(start, start + 400).map((r) => customer(r.id, 1));
    const u = await format.upsert(w.manifest, customersTable(upd));
    expect(u.chunksReused / total).toBeGreaterThan(0.95);
    // A few scattered keys: at most a couple of chunks each (inserts may shift one boundary).
    const few = [customer(7n, 1), customer(20_001n, 1), customer(60_000n, 2)];
    const f = await format.upsert(u.manifest, customersTable(few));
    expect(f.chunksWritten).toBeLessThanOrEqual(6);
    const d = await format.diffChunks(u.manifest, f.manifest);
    expect(d.added.length).toBe(f.chunksWritten);
    expect(d.removed.length).toBeLessThanOrEqual(6);
  });

  it('pages large manifests; a small change rewrites O(1) pages and diffs skip equal pages', async () => {
    // Copy-on-write (no delta), so the change lands in the base pages.
    const { format, chunks, hasher } = await makeFormat({ targetChunkRows: 16, deltaMaxFraction: 0 });
    const rows = Array.from({ length: 8000 }, (_, i) => customer(BigInt(i)));
    const w = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const m = await format.readManifest(w.manifest);
    expect(m.chunks).toBeUndefined();
    expect(m.pages!.length).toBeGreaterThan(2);
    expect(m.pages!.reduce((s, p) => s + p.chunks, 0)).toBeGreaterThan(256);
    expect(rowsOf(await format.read(w.manifest)).length).toBe(8000);
    const u = await format.upsert(w.manifest, customersTable([customer(4321n, 1)]));
    const m2 = await format.readManifest(u.manifest);
    const oldPages = new Set(m.pages!.map((p) => p.hash));
    const newPages = m2.pages!.filter((p) => !oldPages.has(p.hash));
    const kept = new Set(m2.pages!.map((p) => p.hash));
    // Page cuts depend on chunk hashes: the changed chunk may also move a cut, so two old pages can become one.
    const gonePages = m.pages!.filter((p) => !kept.has(p.hash));
    expect(newPages.length).toBeGreaterThanOrEqual(1);
    expect(newPages.length).toBeLessThanOrEqual(2);
    expect(gonePages.length).toBeLessThanOrEqual(2);
    expect(u.chunksWritten).toBeLessThanOrEqual(2);
    const d = await format.diffChunks(w.manifest, u.manifest);
    expect(d.added.length).toBe(u.chunksWritten);
    // A fresh reader (no cache) fetches the two manifests and only the pages that differ.
    let gets = 0;
    const counting = new Proxy(chunks, {
      get: (target, prop, recv) => (prop === 'get' ? (h: string) => (gets++, target.get(h)) : Reflect.get(target, prop, recv)),
    });
    const cold = new ParquetTableFormat({ chunks: counting, hasher, deltaMaxFraction: 0 });
    expect((await cold.diffChunks(w.manifest, u.manifest)).added.map((c) => c.hash)).toEqual(d.added.map((c) => c.hash));
    expect(gets).toBeLessThanOrEqual(2 + newPages.length + gonePages.length);
    expect(gets).toBeLessThan(m.pages!.length);
    const rd = await format.diffRows(w.manifest, u.manifest);
    expect(rd.changed.map((c) => c.key)).toEqual([[4321n]]);
    expect(rd.changed[0]!.after).toEqual(plain(customer(4321n, 1)));
    expect(rd.added).toEqual([]);
    expect(rd.removed).toEqual([]);
  });
});
