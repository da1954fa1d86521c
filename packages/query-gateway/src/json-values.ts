/**
 * JS values from DuckDB (`JSDuckDBValueConverter`) made JSON-safe:
 * - bigint: a number when within ±(2^53-1), else its decimal string;
 * - Date: an ISO-8601 string (DATE columns: `YYYY-MM-DD`);
 * - Uint8Array: base64; NaN and ±Infinity: the strings `NaN`, `Infinity`, `-Infinity`;
 * - lists, structs and maps: arrays and objects of the same.
 */
export function jsonValue(v: unknown, dateOnly = false): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'bigint':
      return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    default:
      break;
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return null;
    const iso = v.toISOString();
    return dateOnly ? iso.slice(0, 10) : iso;
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (Array.isArray(v)) return v.map((x) => jsonValue(x));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = jsonValue(x);
    return out;
  }
  return String(v);
}
