/**
 * Which Parquet encoder the table format uses, by measurement: the catalog's native codec (arrow-rs
 * `parquet` in a napi-rs addon, fed Arrow IPC from Arrow JS) at zstd(1), snappy and no compression, vs
 * DuckDB (`@duckdb/node-api`) `COPY ... TO 'x.parquet'` of the same rows. Prints MB/s of Arrow data
 * (the IPC size of the rows), output size, and whether two encodes give identical bytes.
 *
 *   npx tsx --conditions=@armillaria/source bench/parquet-encoders.bench.ts   (ARMILLARIA_BENCH_ROWS, default 1M)
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bool, Table, TimestampMillisecond, Utf8, makeVector, tableToIPC, vectorFromArray } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetCodec } from '@armillaria/catalog';
import { envInt, mbPerSec, printTable, timeIt } from './bench-util.js';

/**
 * Customer-like rows, identical in JS and in DuckDB SQL (`customersSql`): id = i * idStep, name,
 * email, score, ts (ms), active.
 */
export function customersArrow(rows: number, idStep = 1, version = 0): Table {
  const ids = new BigInt64Array(rows);
  const names: string[] = new Array(rows);
  const emails: string[] = new Array(rows);
  const scores = new Float64Array(rows);
  const ts: number[] = new Array(rows);
  const active: boolean[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const i = r * idStep;
    ids[r] = BigInt(i);
    names[r] = version ? `name-${i}-v${version}` : `name-${i}`;
    emails[r] = `user${i}@example.com`;
    scores[r] = ((i * 7919) % 100000) / 100;
    ts[r] = 1_700_000_000_000 + i * 1000;
    active[r] = i % 3 === 0;
  }
  return new Table({
    id: makeVector(ids),
    name: vectorFromArray(names, new Utf8()),
    email: vectorFromArray(emails, new Utf8()),
    score: makeVector(scores),
    ts: vectorFromArray(ts, new TimestampMillisecond()),
    active: vectorFromArray(active, new Bool()),
  });
}

/** The same rows as `customersArrow(rows, idStep)` in DuckDB SQL. */
export function customersSql(rows: number, idStep = 1): string {
  return `SELECT i AS id, 'name-' || i AS name, 'user' || i || '@example.com' AS email,
    ((i * 7919) % 100000) / 100::DOUBLE AS score, epoch_ms(1700000000000 + i * 1000)::TIMESTAMP_MS AS ts, i % 3 = 0 AS active
    FROM (SELECT range * ${idStep} AS i FROM range(${rows}))`;
}

export interface EncoderResult { encoder: string; ms: number; mbps: number; outMiB: number; deterministic: boolean }

export async function runEncoderBenchmarks(rows = envInt('ARMILLARIA_BENCH_ROWS', 1_000_000)): Promise<EncoderResult[]> {
  const table = customersArrow(rows);
  const ipcBytes = tableToIPC(table, 'stream').byteLength;
  const results: EncoderResult[] = [];
  const chunkRows = 65_536;
  const cutsOf = (size: number) => Uint32Array.from({ length: Math.ceil(rows / size) }, (_, i) => Math.min(rows, (i + 1) * size));
  for (const compression of ['zstd', 'snappy', 'none'] as const) {
    for (const [label, cuts] of [['1 file', cutsOf(rows)], [`${chunkRows}-row chunks`, cutsOf(chunkRows)]] as const) {
      const once = () => parquetCodec.buildChunks([tableToIPC(table, 'stream')], null, cuts, { compression });
      await once(); // warm-up
      const a = await timeIt(once);
      const b = await once();
      const same = a.value.length === b.length && a.value.every((c, i) => Buffer.compare(c.bytes, b[i]!.bytes) === 0);
      const out = a.value.reduce((s, c) => s + c.bytes.byteLength, 0);
      results.push({ encoder: `native arrow-rs ${compression}, ${label}`, ms: a.ms, mbps: mbPerSec(ipcBytes, a.ms), outMiB: out / 2 ** 20, deterministic: same });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-enc-'));
  try {
    const db = await DuckDBInstance.create(':memory:', { threads: '2' });
    const conn = await db.connect();
    await conn.run(`CREATE TABLE customers AS ${customersSql(rows)}`);
    for (const compression of ['zstd', 'snappy']) {
      const copy = (file: string) => conn.run(`COPY customers TO '${file}' (FORMAT parquet, COMPRESSION ${compression})`);
      await copy(join(dir, 'warm.parquet'));
      const t = await timeIt(() => copy(join(dir, `a-${compression}.parquet`)));
      await copy(join(dir, `b-${compression}.parquet`));
      const same = Buffer.compare(await readFile(join(dir, `a-${compression}.parquet`)), await readFile(join(dir, `b-${compression}.parquet`))) === 0;
      const size = (await stat(join(dir, `a-${compression}.parquet`))).size;
      results.push({ encoder: `duckdb COPY ${compression} (from a DuckDB table)`, ms: t.ms, mbps: mbPerSec(ipcBytes, t.ms), outMiB: size / 2 ** 20, deterministic: same });
    }
    conn.disconnectSync();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  printTable(`Parquet encoders, ${rows} customer rows (${(ipcBytes / 2 ** 20).toFixed(1)} MiB as Arrow IPC)`,
    ['encoder', 'ms', 'MB/s (Arrow)', 'output MiB', 'same bytes twice'],
    results.map((r) => [r.encoder, r.ms, r.mbps, r.outMiB, r.deterministic ? 'yes' : 'NO']));
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runEncoderBenchmarks();
}
