import type { Hash } from '@armillaria/core';

/**
 * Named pointers to commits with compare-and-swap: branches, tags and internal refs.
 * Ref names are slash-separated paths such as `repos/<repo>/branches/<branch>` or
 * `repos/<repo>/tags/<tag>`; each segment matches /^[A-Za-z0-9._-]+$/ (no `..`), anything else is
 * rejected with InvalidNameError (INVALID_NAME) before touching storage.
 *
 * Implementations: FsRefStore (local files: atomic rename + lock file, safe across processes),
 * RedisRefStore (ioredis, Lua CAS), ObjectStoreRefStore (S3 conditional writes: If-Match / If-None-Match).
 * Every implementation passes `test/ref-store.contract.ts`.
 */
export interface RefStore {
  /** The commit a ref points to, or undefined if it does not exist. */
  get(name: string): Promise<Hash | undefined>;

  /**
   * Atomically moves `name` from `expected` to `next`:
   * `expected: null` means "create; must not exist", `next: null` means "delete".
   * Throws RefConflictError (REF_CONFLICT, details {ref, expected, actual}) when the current value is
   * not `expected`. On success appends one entry to the ref's reflog (same atomic step where the
   * backend allows it; otherwise right after, and a crash between the two loses only the log line).
   */
  compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void>;

  /** Every ref whose name starts with `prefix`, sorted by name. */
  list(prefix: string): Promise<RefEntry[]>;

  /**
   * The reflog of one ref, newest first: every value it had, kept after the ref is deleted (for
   * recovery within the retention period). `before` (ms since epoch) skips newer entries; `limit` caps.
   */
  reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]>;

  close(): Promise<void>;
}

export interface RefEntry {
  name: string;
  value: Hash;
}

export interface ReflogMeta {
  message?: string;
  author?: string;
  /** ms since epoch; defaults to now. */
  time?: number;
}

export interface ReflogEntry {
  name: string;
  /** null when the ref was created by this entry. */
  old: Hash | null;
  /** null when the ref was deleted by this entry. */
  new: Hash | null;
  time: number;
  message?: string;
  author?: string;
}
