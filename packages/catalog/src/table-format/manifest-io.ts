import { canonicalJsonBytes, isArmillariaError, isHash, parseJsonBytes } from '@armillaria/core';
import type { Hash } from '@armillaria/core';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { CorruptMetadataError } from '../errors.js';
import { isColumnType } from './column-types.js';
import { noTally, storeBlobs, sumTallies, type DeferredWrites, type Tally } from './chunk-sink.js';
import type { ChunkInfo, DeltaRef, DeltaRunRef, Manifest, PageRef } from './table-format.js';

/**
 * Manifests with more chunks than this page their chunk list. Small on purpose: an inline list is
 * rewritten whole by every append (~370 bytes per chunk entry), a paged one only in its last page
 * (FORMAT.md, "Manifests").
 */
export const INLINE_CHUNK_LIMIT = 16;
/** Average chunks per page; pages end where a chunk's hash falls under 2^32 / PAGE_TARGET. */
const PAGE_TARGET = 64;
const PAGE_MIN = 16;
const PAGE_MAX = 256;

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
 *
 * `appendTail` (unkeyed tables, which grow at the end): the chunks after the last content-defined
 * boundary, where every append lands, are split by the binary digits of their count, largest first
 * (37 = 32 + 4 + 1). An append then rewrites only the small pages at the end, as a binary counter
 * carries (amortised O(log n) entries, about 6 for a 64-chunk tail), instead of the whole open page
 * (up to 256 entries of ~400 bytes, every append). Still a function of the chunk list alone.
 */
export function pageCuts(chunks: readonly ChunkInfo[], opts: { appendTail?: boolean } = {}): number[] {
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
  if (pending === 0) return cuts;
  if (!opts.appendTail) {
    cuts.push(chunks.length);
    return cuts;
  }
  let at = chunks.length - pending;
  for (let size = 2 ** Math.floor(Math.log2(pending)); size >= 1; size /= 2) {
    if (pending & size) cuts.push((at += size));
  }
  return cuts;
}

export interface ManifestWrite {
  manifest: Hash;
  /** The manifest's and its new pages' tally (see StoreResult.tally). */
  tally: Promise<Tally>;
}

/** The changes a manifest carries on top of its base chunks (see `Manifest.delta`). */
export interface DeltaWrite {
  /** Sorted runs, oldest first, each non-empty (several: formatVersion 4; none: no delta). */
  runs: readonly DeltaRunWrite[];
  /** Logical rows of the table (base overlaid with the delta). */
  rows: number;
  /** The delta chunks carry DELTA_UNCHANGED_COLUMN (formatVersion 3, or 4 with several runs). */
  partial: boolean;
}

/** One sorted run of a delta: its chunks and the tombstones among their rows. */
export interface DeltaRunWrite {
  list: readonly ChunkInfo[];
  deletes: number;
}

/** Where a manifest goes: `reader` caches what was written; `writes` defers the uploads (see DeferredWrites). */
export interface ManifestSink {
  chunks: ChunkStore;
  hasher: Hasher;
  reader?: ManifestReader;
  writes?: DeferredWrites | undefined;
}

/**
 * Stores a manifest (paging its chunk lists when large); the same content always gives the same hash.
 * Without a delta the manifest is format version 1, byte for byte as before deltas existed. The sink's
 * reader caches what was written, so the next edit of this table reads no manifest or page back.
 * `previous`: the version being edited, whose unchanged pages keep their hashes (see `storeList`).
 */
export async function writeManifest(
  sink: ManifestSink,
  base: Omit<Manifest, 'chunks' | 'pages' | 'rows' | 'bytes' | 'formatVersion' | 'delta'>,
  list: readonly ChunkInfo[],
  delta?: DeltaWrite,
  previous?: Partial<Pick<Manifest, 'pages' | 'delta'>>,
): Promise<ManifestWrite> {
  const sum = (xs: readonly ChunkInfo[], k: 'rows' | 'bytes'): number => xs.reduce((s, c) => s + c[k], 0);
  const runs = delta?.runs ?? [];
  if (runs.length > 1 && !delta!.partial) throw new Error('several delta runs need a partial (formatVersion 3) delta');
  const formatVersion = runs.length === 0 ? 1 : runs.length > 1 ? 4 : delta!.partial ? 3 : 2;
  const manifest: Manifest = { formatVersion, ...base, rows: runs.length > 0 ? delta!.rows : sum(list, 'rows'), bytes: sum(list, 'bytes') };
  const baseRef = await storeList(sink, list, base.primaryKey === undefined, previous?.pages);
  Object.assign(manifest, baseRef.ref);
  const tallies = [baseRef.tally];
  if (runs.length > 0) {
    // Pages of any run of the edited version may be reused by any run of this one (a merge of runs keeps
    // the older run's untouched chunks, and a run the edit leaves alone keeps all of its pages).
    const before = [...(previous?.delta?.pages ?? []), ...(previous?.delta?.runs ?? []).flatMap((r) => r.pages ?? [])];
    const refs = await Promise.all(runs.map(async (r): Promise<DeltaRunRef> => {
      const d = await storeList(sink, r.list, false, before);
      tallies.push(d.tally);
      return { rows: sum(r.list, 'rows'), deletes: r.deletes, bytes: sum(r.list, 'bytes'), ...d.ref };
    }));
    const total = (k: 'rows' | 'deletes' | 'bytes'): number => refs.reduce((s, r) => s + r[k], 0);
    const ref: DeltaRef = refs.length === 1 ? refs[0]! : { rows: total('rows'), deletes: total('deletes'), bytes: total('bytes'), runs: refs };
    manifest.delta = ref;
    manifest.bytes += ref.bytes;
  }
  const bytes = canonicalJsonBytes(manifest);
  const stored = await storeBlobs(sink.chunks, sink.hasher, [bytes], sink.writes);
  sink.reader?.adoptManifest(stored.hashes[0]!, bytes);
  tallies.push(stored.tally);
  return { manifest: stored.hashes[0]!, tally: sumTallies(tallies) };
}

/**
 * A chunk list inline (up to INLINE_CHUNK_LIMIT) or as stored pages. A page holding exactly the entries
 * of one of `previous` (the same objects, cached: an edit's unchanged chunks are the entries it read from
 * those pages) keeps that page's hash: only the other pages are serialised, hashed and stored, so an edit
 * costs O(pages changed), not O(table).
 */
async function storeList(sink: ManifestSink, list: readonly ChunkInfo[], appendTail: boolean, previous: readonly PageRef[] = []): Promise<{ ref: { chunks: ChunkInfo[] } | { pages: PageRef[] }; tally: Promise<Tally> }> {
  if (list.length <= INLINE_CHUNK_LIMIT) return { ref: { chunks: [...list] }, tally: noTally() };
  const groups: ChunkInfo[][] = [];
  let start = 0;
  for (const end of pageCuts(list, { appendTail })) {
    groups.push(list.slice(start, end));
    start = end;
  }
  const { reader } = sink;
  const before = new Map<ChunkInfo, { hash: Hash; chunks: readonly ChunkInfo[] }>();
  for (const ref of previous) {
    const chunks = reader?.cachedPage(ref.hash);
    if (chunks?.[0]) before.set(chunks[0], { hash: ref.hash, chunks });
  }
  const hashes = groups.map((g): Hash | undefined => {
    const p = before.get(g[0]!);
    return p && p.chunks.length === g.length && p.chunks.every((c, i) => c === g[i]) ? p.hash : undefined;
  });
  const fresh = groups.filter((_, i) => hashes[i] === undefined);
  const bytes = fresh.map((g) => canonicalJsonBytes({ formatVersion: 1, kind: 'manifest-page', chunks: g } satisfies ManifestPage));
  const stored = await storeBlobs(sink.chunks, sink.hasher, bytes, sink.writes);
  stored.hashes.forEach((h, i) => reader?.adoptPage(h, bytes[i]!));
  let next = 0;
  for (let i = 0; i < groups.length; i++) hashes[i] ??= stored.hashes[next++];
  const refs = groups.map((g, i): PageRef => {
    const ref: PageRef = { hash: hashes[i]!, rows: g.reduce((s, c) => s + c.rows, 0), chunks: g.length };
    if (g[0]!.firstKey) ref.firstKey = g[0]!.firstKey;
    if (g[g.length - 1]!.lastKey) ref.lastKey = g[g.length - 1]!.lastKey;
    return ref;
  });
  return { ref: { pages: refs }, tally: stored.tally };
}

/** Reads and validates manifests and pages; both are immutable, so parsed copies are cached. */
export class ManifestReader {
  private readonly manifests = new Map<Hash, Manifest>();
  private readonly pages = new Map<Hash, ChunkInfo[]>();
  constructor(private readonly chunks: ChunkStore) {}

  /** A page's entries if cached (no I/O). */
  cachedPage(hash: Hash): readonly ChunkInfo[] | undefined {
    return this.pages.get(hash);
  }

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

  /**
   * Caches a manifest this process just stored, parsed from the stored bytes: exactly what reading it
   * back would give (canonical JSON drops what the in-memory object may still carry, e.g. undefined).
   */
  adoptManifest(hash: Hash, bytes: Uint8Array): void {
    if (!this.manifests.has(hash)) remember(this.manifests, hash, parseJsonBytes(bytes) as Manifest, 1024);
  }

  /** As adoptManifest, for a page. */
  adoptPage(hash: Hash, bytes: Uint8Array): void {
    if (!this.pages.has(hash)) remember(this.pages, hash, (parseJsonBytes(bytes) as ManifestPage).chunks, 8192);
  }

  /** The base chunks (not the delta's). */
  async chunkList(m: Manifest): Promise<ChunkInfo[]> {
    return this.listOf(m);
  }

  /** The delta's chunks, empty when the manifest has none (several runs: each run's in turn, oldest first). */
  async deltaList(m: Manifest): Promise<ChunkInfo[]> {
    return (await this.deltaRuns(m)).flat();
  }

  /** The delta's sorted runs, oldest first (none without a delta; one before formatVersion 4). */
  async deltaRuns(m: Manifest): Promise<ChunkInfo[][]> {
    if (!m.delta) return [];
    if (!m.delta.runs) return [await this.listOf(m.delta)];
    return Promise.all(m.delta.runs.map((r) => this.listOf(r)));
  }

  private async listOf(ref: { chunks?: ChunkInfo[]; pages?: PageRef[] }): Promise<ChunkInfo[]> {
    if (ref.chunks) return ref.chunks;
    const pages = await Promise.all(ref.pages!.map((p) => this.page(p)));
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
  if (v.formatVersion !== 1 && v.formatVersion !== 2 && v.formatVersion !== 3 && v.formatVersion !== 4) return `unknown formatVersion ${JSON.stringify(v.formatVersion)}`;
  const schema = v.schema as { fields?: unknown } | undefined;
  if (!isObject(schema) || !Array.isArray(schema.fields) || schema.fields.length === 0) return 'no schema';
  for (const f of schema.fields as unknown[]) {
    if (!isObject(f) || typeof f.name !== 'string' || !isColumnType(f.type) || typeof f.nullable !== 'boolean') return 'bad schema field';
  }
  const names = new Set((schema.fields as Array<{ name: string }>).map((f) => f.name));
  if (v.primaryKey !== undefined && (!Array.isArray(v.primaryKey) || !v.primaryKey.every((k) => names.has(k as string)))) return 'bad primaryKey';
  if (!isCount(v.rows) || !isCount(v.bytes)) return 'bad rows or bytes';
  if (v.targetChunkRows !== undefined && !(isCount(v.targetChunkRows) && v.targetChunkRows >= 2)) return 'bad targetChunkRows';
  const base = listRows(v, '');
  if (typeof base === 'string') return base;
  // Version 2, 3 or 4 exactly when a delta is present: older readers refuse it instead of misreading it.
  if ((v.formatVersion !== 1) !== (v.delta !== undefined)) return 'a delta needs formatVersion 2, 3 or 4 and those a delta';
  if (v.delta === undefined) return base === v.rows ? undefined : `rows ${String(v.rows)} differ from the chunks' sum ${base}`;
  const d = v.delta;
  if (!isObject(d) || !Array.isArray(v.primaryKey)) return 'bad delta';
  // Several runs exactly in version 4 (an older reader would take them for one run, or find no chunks).
  if ((v.formatVersion === 4) !== (d.runs !== undefined)) return 'delta runs need formatVersion 4 and it needs them';
  const runs = d.runs === undefined ? [d] : d.runs;
  if (!Array.isArray(runs) || (d.runs !== undefined && (runs.length < 2 || d.chunks !== undefined || d.pages !== undefined))) return 'bad delta runs';
  let deltaRows = 0;
  let deletes = 0;
  let bytes = 0;
  for (const [i, r] of (runs as unknown[]).entries()) {
    const what = d.runs === undefined ? 'delta ' : `delta run ${i} `;
    if (!isObject(r) || !isCount(r.rows) || !isCount(r.deletes) || !isCount(r.bytes) || r.deletes > r.rows || r.rows === 0) return `bad ${what.trim()}`;
    const listed = listRows(r, what);
    if (typeof listed === 'string') return listed;
    if (listed !== r.rows) return `${what}rows ${String(r.rows)} differ from its chunks' sum ${listed}`;
    deltaRows += r.rows;
    deletes += r.deletes;
    bytes += r.bytes;
  }
  if (d.rows !== deltaRows || d.deletes !== deletes || d.bytes !== bytes) return 'delta totals differ from its runs';
  // Each delta row adds, replaces or (tombstone) removes one row.
  const rows = v.rows as number;
  if (rows < base - d.deletes || rows > base + d.rows - d.deletes) return `rows ${rows} cannot come from ${base} base rows and the delta`;
  return undefined;
}

/** Validates an inline or paged chunk list and returns its row count, or a problem. */
function listRows(v: Record<string, unknown>, what: string): number | string {
  if ((v.chunks === undefined) === (v.pages === undefined)) return `${what}needs exactly one of chunks and pages`;
  let rows = 0;
  if (v.chunks !== undefined) {
    if (!Array.isArray(v.chunks)) return `${what}chunks is not a list`;
    for (const [i, c] of v.chunks.entries()) {
      const p = validateChunk(c, i);
      if (p) return what + p;
      rows += (c as ChunkInfo).rows;
    }
  } else {
    if (!Array.isArray(v.pages)) return `${what}pages is not a list`;
    for (const [i, p] of v.pages.entries()) {
      if (!isObject(p) || !isHash(p.hash) || !isCount(p.rows) || !isCount(p.chunks)) return `${what}page ${i} is malformed`;
      rows += p.rows as number;
    }
  }
  return rows;
}

function validatePage(v: unknown): string | undefined {
  if (!isObject(v) || v.formatVersion !== 1 || v.kind !== 'manifest-page' || !Array.isArray(v.chunks)) return 'not a manifest page';
  for (const [i, c] of v.chunks.entries()) {
    const p = validateChunk(c, i);
    if (p) return p;
  }
  return undefined;
}
