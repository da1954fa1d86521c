import { InvalidHashError } from './errors.js';

/** BLAKE3-256 as 64 lowercase hex characters: the name of every chunk. */
export type Hash = string;

const HASH_RE = /^[0-9a-f]{64}$/;

export function isHash(value: unknown): value is Hash {
  return typeof value === 'string' && HASH_RE.test(value);
}

/** Rejects anything that is not a hash before it can reach a path or an object key. */
export function assertHash(value: unknown): asserts value is Hash {
  if (!isHash(value)) throw new InvalidHashError(value);
}

/** `objects/<h0h1>/<h2h3>/<hash>`: the key of a chunk in any ObjectStore. */
export function chunkKey(hash: Hash, prefix = 'objects'): string {
  assertHash(hash);
  return `${prefix}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
}

/** Inverse of `chunkKey`; undefined for keys that do not name a chunk. */
export function hashFromChunkKey(key: string): Hash | undefined {
  const h = key.slice(key.lastIndexOf('/') + 1);
  return isHash(h) && key.endsWith(`${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`) ? h : undefined;
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
