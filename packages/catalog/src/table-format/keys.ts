import type { Table } from 'apache-arrow';
import { SchemaMismatchError } from '../errors.js';
import type { ColumnType } from './table-format.js';
import type { ManifestSchema } from './column-types.js';

/** Column types allowed in a primary key: integers and strings, which have a stable total order. */
const KEY_TYPES: ReadonlySet<ColumnType> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'utf8']);

export type KeyValue = number | bigint | string;

/** One key column of a batch of rows, as a flat array for fast comparison and hashing. */
interface KeyColumn {
  readonly kind: 'num' | 'big' | 'str';
  readonly values: ArrayLike<KeyValue>;
  /**
   * 64-bit integers seen as pairs of 32-bit words (little-endian), for hashing and comparing without
   * BigInt maths: reading a BigInt64Array element allocates a BigInt.
   */
  readonly words?: Int32Array;
  /** uint64 words: the high word compares unsigned. */
  readonly unsigned?: boolean;
}

/** The key columns of one batch of rows. */
export interface KeyVectors {
  readonly length: number;
  readonly cols: readonly KeyColumn[];
}

/** The column types of a (validated) primary key, in key order. */
export function keyTypesOf(schema: ManifestSchema, primaryKey: readonly string[]): ColumnType[] {
  return primaryKey.map((k) => schema.fields.find((f) => f.name === k)!.type);
}

export function validateKey(schema: ManifestSchema, primaryKey: readonly string[]): void {
  if (primaryKey.length === 0) throw new SchemaMismatchError('a primary key needs at least one column');
  for (const k of primaryKey) {
    const f = schema.fields.find((x) => x.name === k);
    if (!f) throw new SchemaMismatchError(`primary key column ${JSON.stringify(k)} is not in the table`, { column: k });
    if (!KEY_TYPES.has(f.type)) throw new SchemaMismatchError(`primary key column ${JSON.stringify(k)} has type ${f.type}; keys must be integers or utf8`, { column: k, type: f.type });
  }
  if (new Set(primaryKey).size !== primaryKey.length) throw new SchemaMismatchError('a primary key names a column twice');
}

export function keyVectors(table: Table, keyColumns: readonly string[], schema: ManifestSchema): KeyVectors {
  const cols = keyColumns.map((name): KeyColumn => {
    const vec = table.getChild(name);
    if (!vec) throw new SchemaMismatchError(`rows lack key column ${JSON.stringify(name)}`, { column: name });
    if (vec.nullCount > 0) throw new SchemaMismatchError(`key column ${JSON.stringify(name)} holds nulls`, { column: name });
    const type = schema.fields.find((f) => f.name === name)!.type;
    const values = vec.toArray() as ArrayLike<KeyValue>;
    if (type === 'utf8') return { kind: 'str', values };
    if (type === 'int64' || type === 'uint64') {
      const big = values as BigInt64Array;
      return { kind: 'big', values, words: new Int32Array(big.buffer, big.byteOffset, big.length * 2), unsigned: type === 'uint64' };
    }
    return { kind: 'num', values };
  });
  return { length: table.numRows, cols };
}

/** Code point order (= UTF-8 byte order, as Parquet stats and DuckDB use), not JS's UTF-16 order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort above U+E000..U+FFFF in code point order.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

export function compareValues(a: KeyValue, b: KeyValue): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares row `i` of `a` with row `j` of `b` (same key columns). */
export function compareRows(a: KeyVectors, i: number, b: KeyVectors, j: number): number {
  for (let c = 0; c < a.cols.length; c++) {
    const ca = a.cols[c]!;
    const cb = b.cols[c]!;
    const d = ca.words !== undefined && cb.words !== undefined ? compareWords(ca.words, i, cb.words, j, ca.unsigned === true) : compareValues(ca.values[i]!, cb.values[j]!);
    if (d !== 0) return d;
  }
  return 0;
}

/** Row `i` of `a` vs row `j` of `b`, 64-bit integers as (low unsigned, high) word pairs. */
function compareWords(a: Int32Array, i: number, b: Int32Array, j: number, unsigned: boolean): number {
  const ha = a[2 * i + 1]!;
  const hb = b[2 * j + 1]!;
  if (ha !== hb) return (unsigned ? ha >>> 0 < hb >>> 0 : ha < hb) ? -1 : 1;
  const la = a[2 * i]! >>> 0;
  const lb = b[2 * j]! >>> 0;
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/**
 * The first row of `run` at or after `from` whose key is >= row `j` of `keys` (run.length if none), for
 * sorted `run`: galloping from `from` then a binary search, so a merge of few sorted keys into a long run
 * costs O(log gap) comparisons per key instead of a scan of the whole run.
 */
export function seekRow(run: KeyVectors, from: number, keys: KeyVectors, j: number): number {
  let lo = from; // every row before lo is < the key
  let step = 1;
  while (lo + step - 1 < run.length && compareRows(run, lo + step - 1, keys, j) < 0) {
    lo += step;
    step *= 2;
  }
  let hi = Math.min(run.length, lo + step - 1);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareRows(run, mid, keys, j) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The keys of rows picked from several key vectors (same key columns), in the given order, as key
 * vectors of their own (64-bit keys keep their word view, for hashing).
 */
export function gatherKeys(from: readonly KeyVectors[], source: ArrayLike<number>, row: ArrayLike<number>): KeyVectors {
  const n = source.length;
  const template = from[0]?.cols ?? [];
  const cols = template.map((t, c): KeyColumn => {
    if (t.kind === 'big') {
      const values = t.unsigned ? new BigUint64Array(n) : new BigInt64Array(n);
      for (let i = 0; i < n; i++) values[i] = from[source[i]!]!.cols[c]!.values[row[i]!] as bigint;
      return { kind: 'big', values, words: new Int32Array(values.buffer, 0, 2 * n), unsigned: t.unsigned === true };
    }
    const values = new Array<KeyValue>(n);
    for (let i = 0; i < n; i++) values[i] = from[source[i]!]!.cols[c]!.values[row[i]!]!;
    return { kind: t.kind, values };
  });
  return { length: n, cols };
}

export function keyAt(v: KeyVectors, i: number): KeyValue[] {
  return v.cols.map((c) => c.values[i]!);
}

export function compareKeys(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (let c = 0; c < a.length; c++) {
    const d = compareValues(a[c]!, b[c]!);
    if (d !== 0) return d;
  }
  return 0;
}

/** JSON-safe key for manifests (bigint as decimal string). */
export function jsonKey(key: readonly KeyValue[]): Array<number | string> {
  return key.map((v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Inverse of `jsonKey`, given the key column types. */
export function keyFromJson(json: readonly unknown[], types: readonly ColumnType[]): KeyValue[] {
  return json.map((v, i) => (types[i] === 'int64' || types[i] === 'uint64' ? BigInt(v as string) : (v as number | string)));
}

/**
 * Whether the rows are in strictly ascending key order, i.e. sorted and free of duplicate keys (what an
 * ingest of ordered data gives). A single 64-bit key is compared on its 32-bit words: reading a
 * BigInt64Array element makes a BigInt, and checking 1M keys that way took ~20 ms of a 330 ms ingest.
 */
export function strictlyAscending(v: KeyVectors): boolean {
  const only = v.cols.length === 1 ? v.cols[0]! : undefined;
  if (only?.kind === 'big') {
    const w = only.words!;
    const unsigned = only.unsigned === true;
    for (let i = 1; i < v.length; i++) {
      // Row r is words [2r] (low, unsigned) and [2r + 1] (high: signed for int64).
      const ha = w[2 * i - 1]!;
      const hb = w[2 * i + 1]!;
      if (ha !== hb) {
        if (unsigned ? ha >>> 0 > hb >>> 0 : ha > hb) return false;
      } else if (w[2 * i - 2]! >>> 0 >= w[2 * i]! >>> 0) {
        return false;
      }
    }
    return true;
  }
  for (let i = 1; i < v.length; i++) if (compareRows(v, i - 1, v, i) >= 0) return false;
  return true;
}

/** The permutation that sorts the rows by key (stable); null when they are already sorted. */
export function sortOrder(v: KeyVectors): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < v.length && sorted; i++) sorted = compareRows(v, i - 1, v, i) <= 0;
  if (sorted) return null;
  const order = new Uint32Array(v.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  if (v.cols.length === 1 && v.cols[0]!.kind !== 'str') {
    const vals = v.cols[0]!.values;
    return order.sort((a, b) => (vals[a]! < vals[b]! ? -1 : vals[a]! > vals[b]! ? 1 : a - b));
  }
  return order.sort((a, b) => compareRows(v, a, v, b) || a - b);
}

/**
 * A 32-bit hash of row `i`'s key (FNV-1a over the key's words or UTF-16 code units, then the murmur3
 * finaliser). Pure integer maths: the same on every run and machine, so chunk boundaries are too.
 */
export function keyHash(v: KeyVectors, i: number): number {
  let h = 0x811c9dc5;
  for (const c of v.cols) {
    if (c.kind === 'str') {
      const s = c.values[i] as string;
      for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
      h = Math.imul(h ^ 0xff, 0x01000193); // terminator: ("ab","c") and ("a","bc") differ
    } else if (c.kind === 'big') {
      h = Math.imul(h ^ c.words![2 * i]!, 0x01000193);
      h = Math.imul(h ^ c.words![2 * i + 1]!, 0x01000193);
    } else {
      h = Math.imul(h ^ (c.values[i] as number), 0x01000193);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
