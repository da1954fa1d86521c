// Shared fixtures of the table-format tests: a store, seeded randomness and customer-like rows.
import { Bool, Float64, Int64, Table, TimestampMillisecond, Utf8, vectorFromArray } from 'apache-arrow';
import { loadHasher, MemoryObjectStore, ObjectChunkStore } from '@armillaria/chunk-store';
import { ParquetTableFormat } from '../src/index.js';
import type { ParquetTableFormatOptions } from '../src/index.js';

export interface Customer {
  id: bigint;
  name: string;
  score: number | null;
  ts: number;
  active: boolean;
}

/** Seeded PRNG shared by the test suites (mulberry32, from the testkit). */
export { seededRandom as rng } from '@armillaria/testkit';

export function customer(id: bigint, version = 0): Customer {
  const n = Number(id);
  return {
    id,
    name: `name-${n}-v${version}`,
    score: n % 7 === 0 ? null : (n * 1.25) % 1000,
    ts: 1_700_000_000_000 + n * 1000 + version,
    active: (n + version) % 2 === 0,
  };
}

export function customersTable(rows: readonly Customer[]): Table {
  return new Table({
    id: vectorFromArray(rows.map((r) => r.id), new Int64()),
    name: vectorFromArray(rows.map((r) => r.name), new Utf8()),
    score: vectorFromArray(rows.map((r) => r.score), new Float64()),
    ts: vectorFromArray(rows.map((r) => r.ts), new TimestampMillisecond()),
    active: vectorFromArray(rows.map((r) => r.active), new Bool()),
  });
}

export function keysTable(ids: readonly bigint[]): Table {
  return new Table({ id: vectorFromArray([...ids], new Int64()) });
}

/** Rows of a read as plain objects (what `toArray()` + `toJSON()` gives). */
export function rowsOf(t: Table): Array<Record<string, unknown>> {
  return t.toArray().map((r) => ({ ...(r as { toJSON(): Record<string, unknown> }).toJSON() }));
}

export function plain(c: Customer): Record<string, unknown> {
  return { ...c };
}

export async function makeFormat(opts: Partial<ParquetTableFormatOptions> = {}) {
  const objects = new MemoryObjectStore();
  const hasher = await loadHasher();
  const chunks = new ObjectChunkStore({ objects, hasher });
  const format = new ParquetTableFormat({ chunks, hasher, ...opts });
  return { objects, chunks, hasher, format };
}
