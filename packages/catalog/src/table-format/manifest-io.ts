import { canonicalJsonBytes, isArmillariaError, isHash, parseJsonBytes } from '@armillaria/core';
import type { Hash } from '@armillaria/core';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { CorruptMetadataError } from '../errors.js';
import { isColumnType } from './column-types.js';
import { storeBlobs } from './chunk-sink.js';
import type { ChunkInfo, Manifest } from './table-format.js';

/** Manifests with more chunks than this page their chunk list. */
export const INLINE_CHUNK_LIMIT = 256;
/** Average chunks per page; pages end where a chunk's hash falls under 2^32 / PAGE_TARGET. */
const PAGE_TARGET = 64;
const PAGE_MIN = 16;
const PAGE_MAX = 256;

type PageRef = NonNullable<Manifest['pages']>[number];

/** One page of a paged manifest: a run of consecutive chunks. */
interface ManifestPage {
  formatVersion: 1;
  kind: 'manifest-page';
  chunks: ChunkInfo[];
}

/**
 * Content-defined page boundaries (by chunk hash, which is random and stable), so inserting or
 * replacing chunks rewrites only the page(s) around them: the manifest is a two-level Merkle tree
 * whose unchanged pages keep their hashes, and `diffChunks` skips pages with equal hashes.
 */
export function pageCuts(chunks: readonly ChunkInfo[]): number[] {
  const cuts: number[] = [];
  let pending = 0;
  const threshold = Math.floor(2 ** 32 / PAGE_TARGET);
  chunks.forEach((c, i) => {
    pending++;
    if (pending >= PAGE_MAX || (pending >= PAGE_MIN && parseInt(c.hash.slice(0, 8), 16) < threshold)) {
      cuts.push(i + 1);
      pending = 0;
    }
  });
  if (pending > 0) cuts.push(chunks.length);
  return cuts;
}

export interface ManifestWrite {
  manifest: Hash;
  written: number;
  bytesWritten: number;
}

/** Stores a manifest (paging its chunk list when large); the same content always gives the same hash. */
export async function writeManifest(
  chunks: ChunkStore,
  hasher: Hasher,
  base: Omit<Manifest, 'chunks' | 'pages' | 'rows' | 'bytes' | 'formatVersion'>,
  list: readonly ChunkInfo[],
): Promise<ManifestWrite> {
  const rows = list.reduce((s, c) => s + c.rows, 0);
  const bytes = list.reduce((s, c) => s + c.bytes, 0);
  const manifest: Manifest = { formatVersion: 1, ...base, rows, bytes };
  let written = 0;
  let bytesWritten = 0;
  if (list.length <= INLINE_CHUNK_LIMIT) {
    manifest.chunks = [...list];
  } else {
    const groups: ChunkInfo[][] = [];
    let start = 0;
    for (const end of pageCuts(list)) {
      groups.push(list.slice(start, end));
      start = end;
    }
    const pages = groups.map((g): ManifestPage => ({ formatVersion: 1, kind: 'manifest-page', chunks: g }));
    const stored = await storeBlobs(chunks, hasher, pages.map((p) => canonicalJsonBytes(p)));
    written += stored.written;
    bytesWritten += stored.bytesWritten;
    manifest.pages = groups.map((g, i): PageRef => {
      const ref: PageRef = { hash: stored.hashes[i]!, rows: g.reduce((s, c) => s + c.rows, 0), chunks: g.length };
      if (g[0]!.firstKey) ref.firstKey = g[0]!.firstKey;
      if (g[g.length - 1]!.lastKey) ref.lastKey = g[g.length - 1]!.lastKey;
      return ref;
    });
  }
  const stored = await storeBlobs(chunks, hasher, [canonicalJsonBytes(manifest)]);
  return { manifest: stored.hashes[0]!, written: written + stored.written, bytesWritten: bytesWritten + stored.bytesWritten };
}

/** Reads and validates manifests and pages; both are immutable, so parsed copies are cached. */
export class ManifestReader {
  private readonly manifests = new Map<Hash, Manifest>();
  private readonly pages = new Map<Hash, ChunkInfo[]>();
  constructor(private readonly chunks: ChunkStore) {}

  async manifest(hash: Hash): Promise<Manifest> {
    const hit = this.manifests.get(hash);
    if (hit) return hit;
    const m = await this.load<Manifest>(hash, 'manifest', validateManifest);
    remember(this.manifests, hash, m, 1024);
    return m;
  }

  async page(ref: PageRef): Promise<ChunkInfo[]> {
    const hit = this.pages.get(ref.hash);
    if (hit) return hit;
    const page = await this.load<ManifestPage>(ref.hash, 'manifest page', validatePage);
    if (page.chunks.length !== ref.chunks || page.chunks.reduce((s, c) => s + c.rows, 0) !== ref.rows) {
      throw new CorruptMetadataError('manifest page', ref.hash, 'its chunk or row count differs from the manifest');
    }
    remember(this.pages, ref.hash, page.chunks, 8192);
    return page.chunks;
  }

  async chunkList(m: Manifest): Promise<ChunkInfo[]> {
    if (m.chunks) return m.chunks;
    const pages = await Promise.all(m.pages!.map((p) => this.page(p)));
    return pages.flat();
  }

  private async load<T>(hash: Hash, what: string, validate: (v: unknown) => string | undefined): Promise<T> {
    let value: unknown;
    try {
      value = parseJsonBytes(await this.chunks.get(hash));
    } catch (err) {
      if (isArmillariaError(err) && err.code !== 'CHUNK_CORRUPT') throw err;
      throw new CorruptMetadataError(what, hash, err instanceof SyntaxError ? 'not JSON' : (err as Error).message);
    }
    const problem = validate(value);
    if (problem) throw new CorruptMetadataError(what, hash, problem);
    return value as T;
  }
}

function remember<T>(map: Map<Hash, T>, key: Hash, value: T, cap: number): void {
  if (map.size >= cap) map.delete(map.keys().next().value as Hash);
  map.set(key, value);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validateChunk(c: unknown, i: number): string | undefined {
  if (!isObject(c)) return `chunk ${i} is not an object`;
  if (!isHash(c.hash)) return `chunk ${i} has no valid hash`;
  if (!isCount(c.rows) || !isCount(c.bytes)) return `chunk ${i} has bad rows or bytes`;
  if (!isObject(c.stats)) return `chunk ${i} has no stats`;
  if ((c.firstKey !== undefined && !Array.isArray(c.firstKey)) || (c.lastKey !== undefined && !Array.isArray(c.lastKey))) return `chunk ${i} has bad keys`;
  return undefined;
}

function validateManifest(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (v.formatVersion !== 1) return `unknown formatVersion ${JSON.stringify(v.formatVersion)}`;
  const schema = v.schema as { fields?: unknown } | undefined;
  if (!isObject(schema) || !Array.isArray(schema.fields) || schema.fields.length === 0) return 'no schema';
  for (const f of schema.fields as unknown[]) {
    if (!isObject(f) || typeof f.name !== 'string' || !isColumnType(f.type) || typeof f.nullable !== 'boolean') return 'bad schema field';
  }
  const names = new Set((schema.fields as Array<{ name: string }>).map((f) => f.name));
  if (v.primaryKey !== undefined && (!Array.isArray(v.primaryKey) || !v.primaryKey.every((k) => names.has(k as string)))) return 'bad primaryKey';
  if (!isCount(v.rows) || !isCount(v.bytes)) return 'bad rows or bytes';
  if (v.targetChunkRows !== undefined && !(isCount(v.targetChunkRows) && v.targetChunkRows >= 2)) return 'bad targetChunkRows';
  if ((v.chunks === undefined) === (v.pages === undefined)) return 'needs exactly one of chunks and pages';
  let rows = 0;
  if (v.chunks !== undefined) {
    if (!Array.isArray(v.chunks)) return 'chunks is not a list';
    for (const [i, c] of v.chunks.entries()) {
      const p = validateChunk(c, i);
      if (p) return p;
      rows += (c as ChunkInfo).rows;
    }
  } else {
    if (!Array.isArray(v.pages)) return 'pages is not a list';
    for (const [i, p] of v.pages.entries()) {
      if (!isObject(p) || !isHash(p.hash) || !isCount(p.rows) || !isCount(p.chunks)) return `page ${i} is malformed`;
      rows += p.rows as number;
    }
  }
  return rows === v.rows ? undefined : `rows ${String(v.rows)} differ from the chunks' sum ${rows}`;
}

function validatePage(v: unknown): string | undefined {
  if (!isObject(v) || v.formatVersion !== 1 || v.kind !== 'manifest-page' || !Array.isArray(v.chunks)) return 'not a manifest page';
  for (const [i, c] of v.chunks.entries()) {
    const p = validateChunk(c, i);
    if (p) return p;
  }
  return undefined;
}
