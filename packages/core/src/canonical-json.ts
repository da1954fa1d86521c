import { InvalidArgumentError } from './errors.js';

/**
 * Canonical JSON: object keys sorted, no whitespace, no undefined members. The same value always
 * serialises to the same bytes, so metadata stored as chunks (manifests, trees, commits) has stable hashes.
 * Rejects values JSON cannot represent faithfully (NaN, Infinity, bigint, functions).
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`canonical JSON cannot hold ${value} at ${path}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v === undefined ? null : v, `${path}[${i}]`)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new InvalidArgumentError(`canonical JSON cannot hold a ${typeof value} at ${path}`);
  }
}

const encoder = new TextEncoder();
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

export function parseJsonBytes<T = unknown>(bytes: Uint8Array): T {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;
}
