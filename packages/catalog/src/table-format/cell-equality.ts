import { Type, type Data, type Vector } from 'apache-arrow';

/** Whether cell `i` of one column and cell `j` of another hold the same value. */
export type CellEquals = (i: number, j: number) => boolean;

/**
 * Cell equality on the columns' buffers: strings and binary by their bytes, numbers by their bits (NaN
 * equals NaN, -0 differs from 0: what `Object.is` says), booleans by their bit, null only equal to null.
 * No value is materialised: `Vector.get` decodes every string it is asked for (UTF-8 -> JS string) and
 * makes a BigInt of every 64-bit integer, which made comparing an upsert's rows with their base rows
 * most of its time. Columns of several chunks or of other types fall back to `slow` on `get` values.
 */
export function cellEquality(a: Vector, b: Vector, slow: (x: unknown, y: unknown) => boolean): CellEquals {
  const fallback: CellEquals = (i, j) => slow(a.get(i) ?? null, b.get(j) ?? null);
  if (a.data.length !== 1 || b.data.length !== 1 || a.type.typeId !== b.type.typeId) return fallback;
  const da = a.data[0]!;
  const db = b.data[0]!;
  const values = valueEquality(da, db);
  if (!values) return fallback;
  // Validity from the bitmaps directly: Data.getValid dispatches on the type per call (a third of a
  // diff's compare time). No nulls: no bitmap to read.
  const na = da.nullCount > 0 ? da.nullBitmap : undefined;
  const nb = db.nullCount > 0 ? db.nullBitmap : undefined;
  if (!na && !nb) return values;
  const oa = da.offset;
  const ob = db.offset;
  return (i, j) => {
    const va = !na || bit(na, oa + i) === 1;
    const vb = !nb || bit(nb, ob + j) === 1;
    return va && vb ? values(i, j) : va === vb;
  };
}

/** Equality of two valid cells, by type; undefined for a type compared through `get`. */
function valueEquality(da: Data, db: Data): CellEquals | undefined {
  switch (da.typeId) {
    case Type.Utf8:
    case Type.Binary:
      return bytesEquality(da.valueOffsets as Int32Array, da.values as Uint8Array, db.valueOffsets as Int32Array, db.values as Uint8Array);
    case Type.Bool:
      return (i, j) => bit(da.values as Uint8Array, da.offset + i) === bit(db.values as Uint8Array, db.offset + j);
    case Type.Int:
    case Type.Date:
    case Type.Timestamp:
      return wordsEquality(da.values, db.values);
    case Type.Float: {
      const bits = wordsEquality(da.values, db.values);
      const x = da.values as Float64Array | Float32Array;
      const y = db.values as Float64Array | Float32Array;
      if (!bits || !(x instanceof Float64Array || x instanceof Float32Array)) return undefined;
      // Equal bits, or two NaNs of any payload.
      return (i, j) => bits(i, j) || (Number.isNaN(x[i]) && Number.isNaN(y[j]));
    }
    default:
      return undefined;
  }
}

function bit(bitmap: Uint8Array, index: number): number {
  return (bitmap[index >> 3]! >> (index & 7)) & 1;
}

function bytesEquality(oa: Int32Array, va: Uint8Array, ob: Int32Array, vb: Uint8Array): CellEquals {
  return (i, j) => {
    const a0 = oa[i]!;
    const b0 = ob[j]!;
    const n = oa[i + 1]! - a0;
    if (ob[j + 1]! - b0 !== n) return false;
    for (let k = 0; k < n; k++) if (va[a0 + k] !== vb[b0 + k]) return false;
    return true;
  };
}

/** Fixed-width values compared as 32-bit words (or bytes, for narrower or unaligned types): their bits. */
function wordsEquality(a: unknown, b: unknown): CellEquals | undefined {
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return undefined;
  const width = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (width !== (b as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT) return undefined;
  if (width >= 4 && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const x = new Int32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
    const y = new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
    const w = width >> 2;
    if (w === 1) return (i, j) => x[i] === y[j];
    if (w === 2) return (i, j) => x[2 * i] === y[2 * j] && x[2 * i + 1] === y[2 * j + 1];
  }
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return (i, j) => {
    for (let k = 0; k < width; k++) if (x[i * width + k] !== y[j * width + k]) return false;
    return true;
  };
}
