import { isHash, type Hash } from '@armillaria/core';
import { CorruptMetadataError } from '../errors.js';

export const COMMIT_FORMAT_VERSION = 1;

/**
 * One commit as stored (canonical JSON chunk). `generation` is the distance from the root along first
 * parents; `skips` are pointers to ancestors at aligned generations (a deterministic skip list), which
 * make version and time lookups index walks, not history walks.
 */
export interface CommitRecord {
  formatVersion: 1;
  /** First parent = the branch the commit was made on; a merge adds the merged commit second. */
  parents: Hash[];
  /** Hash of the tree chunk. */
  tree: Hash;
  message: string;
  author: string;
  /** ms since epoch; never earlier than the first parent's time, so times are monotone along first parents. */
  time: number;
  txnId?: string;
  /**
   * Per table, the change event op of a transaction commit (`upserted`, `deleted`, ...): the live event's
   * op, stored so events replayed from the catalog say the same. Absent on other commits (their op is
   * read from the tree and the message).
   */
  ops?: Record<string, string>;
  generation: number;
  /**
   * Skip pointers along first parents: `skips[k-1]` is the nearest older ancestor whose generation is a
   * multiple of 2^k (k = 1 .. bit length of generation-1; the last one is the root). Absent below
   * generation 2. They make version and time lookups O(log n) commit reads.
   */
  skips?: Hash[];
}

/** A table's entry in a tree: its current manifest and per-table version number. */
export interface TreeEntry {
  manifest: Hash;
  version: number;
  /**
   * The commit this incarnation of the table was created on top of: tells a table recreated after a
   * drop apart from its earlier life, so version lookups never cross into it.
   */
  origin: Hash;
}

export interface TreeRecord {
  tables: Record<string, TreeEntry>;
}

/** An `ops` value: a plain object of table name -> short op name (`[a-z]+`). */
export function isOpMap(v: unknown): v is Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.values(v).every((op) => typeof op === 'string' && /^[a-z]{1,32}$/.test(op));
}

export function validateCommit(hash: string, value: unknown): CommitRecord {
  const fail = (reason: string): never => {
    throw new CorruptMetadataError('commit', hash, reason);
  };
  if (!value || typeof value !== 'object') return fail('not an object');
  const c = value as Partial<CommitRecord>;
  if (c.formatVersion !== COMMIT_FORMAT_VERSION) fail(`unknown formatVersion ${String(c.formatVersion)}`);
  if (!Array.isArray(c.parents) || !c.parents.every(isHash)) fail('parents must be hashes');
  if (!isHash(c.tree)) fail('tree must be a hash');
  if (typeof c.message !== 'string' || typeof c.author !== 'string') fail('message and author must be strings');
  if (typeof c.time !== 'number' || typeof c.generation !== 'number') fail('time and generation must be numbers');
  if (c.skips !== undefined && (!Array.isArray(c.skips) || !c.skips.every(isHash))) fail('skips must be hashes');
  if (c.ops !== undefined && !isOpMap(c.ops)) fail('ops must map table names to op names');
  return c as CommitRecord;
}

export function validateTree(hash: string, value: unknown): TreeRecord {
  const fail = (reason: string): never => {
    throw new CorruptMetadataError('tree', hash, reason);
  };
  if (!value || typeof value !== 'object') return fail('not an object');
  const tables = (value as { tables?: unknown }).tables;
  if (!tables || typeof tables !== 'object') return fail('tables missing');
  for (const [name, entry] of Object.entries(tables as Record<string, unknown>)) {
    const e = entry as Partial<TreeEntry> | null;
    if (!e || !isHash(e.manifest) || typeof e.version !== 'number' || !isHash(e.origin)) fail(`bad entry for table ${name}`);
  }
  return value as TreeRecord;
}

export function sameEntry(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.manifest === b.manifest && a.version === b.version && a.origin === b.origin;
}
